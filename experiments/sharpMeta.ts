// The study of issue "sharp architectures" item 4: under which settings the discrete per-task
// networks of a meta-learned search match its one-shot networks. Runs every configuration of a spec
// for each of its seeds as an ordinary run directory (a finished run is reused, a stopped one
// resumed, so rerunning the command completes a stopped study), then tabulates every run and every
// configuration: one-shot and discrete accuracy on the same test tasks, their paired difference,
// meta-training CPU, op entropies at the end, per-task sizes and how many distinct genotypes the
// test tasks adapted to.
//
//   node dist/experiments/sharpMeta.js SPEC.json --data-dir DIR [--out DIR] [--seeds 1,2,3] [--only NAME|NAME...] [--table-only]
//
// Writes OUT/sharp-meta.md and OUT/sharp-meta.json.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { distribution, meanAndSem, pairedDifference } from "../src/evaluation/statistics.js";
import type { TrainRecord } from "../src/runs/format.js";
import { readMetrics, readSummary, runDirState } from "../src/runs/runDir.js";
import { writeFileAtomic } from "../src/util/atomicWrite.js";
import { option, runOrResume, runScript, slug } from "./common.js";
import { meetsTarget, n, type ProbeRow, pct, pm, probeSummary, probeTable, pts, readProbes } from "./metaTestProbes.js";

interface Spec {
  title: string;
  /** Arguments every run gets (the command, preset, meta-test settings). */
  common: string[];
  seeds: number[];
  configs: { name: string; args: string[] }[];
}

interface RunRow {
  config: string;
  seed: number;
  dir: string;
  oneShot: number;
  discrete: number;
  /** Discrete minus one-shot over the same tasks: mean and 95% interval. */
  change: { mean: number; ci95: number };
  /** Accuracy as the meta-test reports it (forward pruning at the test threshold). */
  accuracy: number;
  metaTrainCpu: number;
  searchCpu: number;
  /** The meta-learned op entropy (nats) at the last meta-epoch, and the adapted tasks' at the meta-test. */
  metaEntropy: { normal: number; reduce: number };
  taskEntropy: { normal: number; reduce: number } | null;
  discreteParams: number;
  forwardPrunedParams: number;
  totalParams: number;
  distinctGenotypes: number | null;
  tasks: number;
  /** Rank 0's CPU seconds per meta-test task (adaptation and both evaluations); absent in older runs. */
  testCpuPerTask: number | null;
}

function row(config: string, seed: number, dir: string): RunRow | null {
  if (runDirState(dir) !== "finished" || !existsSync(path.join(dir, "summary.json"))) return null;
  const s = readSummary(dir);
  const p = s.pruning;
  if (!p) return null;
  const train = readMetrics(dir).filter((r): r is TrainRecord => r.kind === "train");
  const cpu = (rs: TrainRecord[]) => rs.reduce((a, r) => a + (r.cpuSeconds ?? r.seconds), 0);
  const last = train.at(-1);
  return {
    config,
    seed,
    dir,
    oneShot: p.oneShot.accuracy,
    discrete: p.discrete.accuracy,
    change: pairedDifference(p.discrete.values, p.oneShot.values),
    accuracy: s.accuracy,
    metaTrainCpu: cpu(train),
    searchCpu: cpu(train.filter((r) => !r.warmup)),
    metaEntropy: { normal: last?.entropy.normalOps ?? Number.NaN, reduce: last?.entropy.reduceOps ?? Number.NaN },
    taskEntropy: p.entropy ? { normal: p.entropy.normalOps, reduce: p.entropy.reduceOps } : null,
    discreteParams: p.discreteParams.median,
    forwardPrunedParams: s.perTaskParams.median,
    totalParams: s.params.total,
    distinctGenotypes: s.distinctGenotypes ?? null,
    tasks: s.tasks,
    testCpuPerTask: s.testCpuSeconds !== undefined ? s.testCpuSeconds / s.tasks : null,
  };
}

function runTable(rows: RunRow[]): string[] {
  return [
    "| configuration | seed | one-shot (%) | discrete (%) | change (points, 95% CI) | meta-training CPU s (search) | meta-learned op entropy, normal / reduce | adapted op entropy | median weights: forward-pruned / discrete (of total) | distinct genotypes | meta-test CPU s per task |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.config} | ${r.seed} | ${pct(r.oneShot)} | ${pct(r.discrete)} | ${pts(r.change.mean)} ± ${(100 * r.change.ci95).toFixed(1)} | ${n(r.metaTrainCpu)} (${n(r.searchCpu)}) | ${r.metaEntropy.normal.toFixed(2)} / ${r.metaEntropy.reduce.toFixed(2)} | ${r.taskEntropy ? `${r.taskEntropy.normal.toFixed(2)} / ${r.taskEntropy.reduce.toFixed(2)}` : "–"} | ${n(r.forwardPrunedParams)} / ${n(r.discreteParams)} (${n(r.totalParams)}) | ${r.distinctGenotypes ?? "–"} of ${r.tasks} | ${r.testCpuPerTask?.toFixed(2) ?? "–"} |`,
    ),
  ];
}

function configTable(spec: Spec, rows: RunRow[]): string[] {
  const lines = [
    "| configuration | seeds | one-shot (%) | discrete (%) | change (points) | meets the target |",
    "|---|---|---|---|---|---|",
  ];
  for (const c of spec.configs) {
    const rs = rows.filter((r) => r.config === c.name);
    if (!rs.length) continue;
    const one = meanAndSem(rs.map((r) => r.oneShot));
    const dis = meanAndSem(rs.map((r) => r.discrete));
    const ch = meanAndSem(rs.map((r) => r.discrete - r.oneShot));
    const meets = rs.every(meetsTarget);
    lines.push(
      `| ${c.name} | ${rs.map((r) => r.seed).join(", ")} | ${pm(one, pct)} | ${pm(dis, pct)} | ${pm(ch, pts)} | ${meets ? (rs.length >= 3 ? "yes" : "so far") : "no"} |`,
    );
  }
  return lines;
}

function probeSection(probes: ProbeRow[]): string[] {
  if (!probes.length) return [];
  return [
    "## Meta-test probes",
    "",
    "`metanas eval RUN` of finished runs (on a copy) with other meta-test flags, on the same test tasks; kept in `meta-test-probes/`. Runs without a seed in their name are seed 1.",
    "",
    ...probeSummary(probes),
    "",
    "Mean ± SEM over seeds; distinct genotypes per seed. Each probe:",
    "",
    ...probeTable(probes),
    "",
  ];
}

function markdown(spec: Spec, rows: RunRow[], probes: ProbeRow[]): string {
  const args = spec.configs.map((c) => `- ${c.name}: \`${c.args.join(" ")}\``);
  return [
    `# ${spec.title}`,
    "",
    ...configTable(spec, rows),
    "",
    "Mean ± SEM over seeds. Target: discrete within 2 points of one-shot and at least 85%, on every seed.",
    "",
    ...runTable(rows),
    "",
    `Every run: \`${spec.common.join(" ")}\` and its configuration's flags:`,
    "",
    ...args,
    "",
    "One-shot: the adapted one-shot network at the meta-test's final temperature, every op computed; discrete: the network of each task's genotype on the same weights; both on the same test tasks. Meta-training CPU: the run's meta-epochs (in brackets those after the warm-up). Op entropies in nats (uniform over 7 ops: 1.95): the meta-learned op weights at the last meta-epoch's final temperature, and the adapted tasks' at the meta-test's. Meta-test CPU per task: rank 0's CPU seconds for the whole meta-test (each task's adaptation, its one-shot and discrete evaluations) over the tasks, on a shared machine; absent for runs meta-tested before it was recorded.",
    "",
    ...probeSection(probes),
  ].join("\n");
}

runScript(async () => {
  const specFile = process.argv[2];
  if (!specFile || specFile.startsWith("--"))
    throw new Error(
      "usage: node dist/experiments/sharpMeta.js SPEC.json --data-dir DIR [--out DIR] [--seeds 1,2,3] [--only NAME|NAME...] [--table-only]",
    );
  const spec = JSON.parse(readFileSync(specFile, "utf8")) as Spec;
  const out = option("out") ?? path.join("runs", `sharp-meta-${slug(path.basename(specFile, ".json"))}`);
  const seeds = (option("seeds") ?? spec.seeds.join(",")).split(",").map(Number);
  // Names hold commas: several are separated by "|".
  const only = option("only")?.split("|");
  const tableOnly = process.argv.includes("--table-only");
  const dataDir = option("data-dir");
  if (!tableOnly && !dataDir) throw new Error("sharp-meta: give --data-dir DIR (the Omniglot zips)");
  mkdirSync(out, { recursive: true });
  const dirOf = (config: string, seed: number) => path.join(out, `${slug(config)}-seed${seed}`);
  if (!tableOnly)
    for (const seed of seeds)
      for (const c of spec.configs) {
        if (only && !only.includes(c.name)) continue;
        const dir = dirOf(c.name, seed);
        const args = [...c.args, ...spec.common, "--seed", String(seed)];
        await runOrResume(args, dir, `sharp-meta: ${c.name}, seed ${seed} -> ${dir}`, ["--data-dir", dataDir!]);
      }
  const rows = spec.configs.flatMap((c) =>
    spec.seeds.flatMap((seed) => {
      const r = row(c.name, seed, dirOf(c.name, seed));
      return r ? [r] : [];
    }),
  );
  const probes = readProbes(path.join(out, "meta-test-probes"));
  writeFileAtomic(path.join(out, "sharp-meta.json"), `${JSON.stringify({ spec, rows, probes }, null, 2)}\n`);
  writeFileAtomic(path.join(out, "sharp-meta.md"), markdown(spec, rows, probes));
  console.log(readFileSync(path.join(out, "sharp-meta.md"), "utf8"));
  const medians = distribution(rows.map((r) => r.searchCpu)).median;
  console.log(`sharp-meta: ${rows.length} finished runs in ${out} (median search CPU ${n(medians)} s)`);
});
