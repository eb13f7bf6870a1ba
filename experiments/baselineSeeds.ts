// A search (or, with --command train, a fixed network such as a found cell scaled up) against its
// REPTILE-configured Conv4 baseline (--baseline conv4, budget: the run's own meta-training CPU time)
// over several seeds: per seed both meta-test accuracies, their paired per-task difference on the
// same test tasks, and both runs' meta-training CPU; over the seeds the mean difference ± SEM; and
// both runs' validation curves by meta-training CPU time. Every run is an ordinary run directory
// under DIR/seed-N; rerunning the command continues a stopped one.
//
//   node dist/experiments/baselineSeeds.js --data-dir ../shared/data/omniglot
//     [--preset omniglot-5way-1shot-cpu] [--seeds 1,2,3] [--out runs/baseline-seeds]
//     [--command search|train] [--label NAME] [-- further flags of that command]
//
// Writes DIR/baseline-seeds.json, DIR/baseline-seeds.md and DIR/figures/baseline-seeds.{svg,png}.
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { TopLevelSpec } from "vega-lite";
import { meanAndSem, pairedDifference } from "../src/evaluation/statistics.js";
import { writeFigure } from "../src/reports/index.js";
import { CHART_FRAME, renderVegaLite } from "../src/reports/vegaRender.js";
import { baselineDir } from "../src/runs/baseline.js";
import type { EvalRecord, TrainRecord } from "../src/runs/format.js";
import { readMetrics, readSummary, runDirState } from "../src/runs/runDir.js";
import { writeFileAtomic } from "../src/util/atomicWrite.js";
import { option, runCli, runScript } from "./common.js";

const o = {
  out: option("out", "runs/baseline-seeds"),
  preset: option("preset", "omniglot-5way-1shot-cpu"),
  dataDir: option("data-dir"),
  seeds: option("seeds", "1,2,3").split(",").map(Number),
  command: option("command", "search"),
  label: option("label", "search"),
  extra: process.argv.includes("--") ? process.argv.slice(process.argv.indexOf("--") + 1) : [],
};

interface Side {
  accuracy: number;
  ci95: number;
  tasks: number;
  trainCpuSeconds: number;
  epochs: number;
  /** Validation accuracy by meta-training CPU seconds so far. */
  curve: { cpuSeconds: number; accuracy: number }[];
}

interface SeedResult {
  seed: number;
  /** The search, or the --command train network. */
  run: Side;
  conv4: Side;
  /** The run minus Conv4, per test task (the same tasks), mean and 95% half-width. */
  difference: { mean: number; ci95: number };
}

/** The run of one seed and its baseline, each started, resumed or reused. */
async function runSeed(seed: number, dir: string): Promise<void> {
  const state = runDirState(dir);
  // Given again on resume: the data may live elsewhere now (a copied run).
  const data = o.dataDir ? ["--data-dir", o.dataDir] : [];
  if (state === "stopped") await runCli([o.command, "--resume", dir, ...data], `baseline-seeds: resuming ${dir}`);
  else if (state !== "finished") {
    const args = [o.command, "--preset", o.preset, ...data, "--seed", String(seed), "--baseline", "conv4"];
    await runCli(
      [...args, ...o.extra, "--out", dir],
      `baseline-seeds: seed ${seed}: ${o.label} and its Conv4 baseline in ${dir}`,
    );
  }
  const conv4 = baselineDir(dir);
  const conv4State = runDirState(conv4);
  if (conv4State === "stopped")
    await runCli(["train", "--resume", conv4, ...data], `baseline-seeds: resuming ${conv4}`);
  // Finished without its baseline (stopped before it, or run with --baseline none): --resume adds it.
  else if (conv4State === "new")
    await runCli(
      [o.command, "--resume", dir, ...data, "--baseline", "conv4"],
      `baseline-seeds: adding the baseline to ${dir}`,
    );
}

function side(dir: string): Side {
  const s = readSummary(dir);
  // In file order, each validation at the CPU spent before it (also right for metrics condensed
  // by scripts/condense-metrics.mjs, to within a block).
  let cpu = 0;
  const curve: Side["curve"] = [];
  for (const r of readMetrics(dir)) {
    if (r.kind === "train") cpu += (r as TrainRecord).cpuSeconds ?? (r as TrainRecord).seconds;
    else if (r.kind === "eval" && r.split === "val")
      curve.push({ cpuSeconds: cpu, accuracy: (r as EvalRecord).accuracy });
  }
  return { accuracy: s.accuracy, ci95: s.ci95, tasks: s.tasks, trainCpuSeconds: cpu, epochs: s.epochs, curve };
}

function seedResult(seed: number, dir: string): SeedResult {
  const a = readSummary(dir).perTaskAccuracy ?? [];
  const b = readSummary(baselineDir(dir)).perTaskAccuracy ?? [];
  if (a.length === 0 || a.length !== b.length) throw new Error(`${dir}: the two runs' per-task accuracies do not pair`);
  return {
    seed,
    run: side(dir),
    conv4: side(baselineDir(dir)),
    difference: pairedDifference(a, b),
  };
}

function markdown(results: SeedResult[]): string {
  const pct = (v: number, ci: number) => `${(100 * v).toFixed(1)}% ± ${(100 * ci).toFixed(1)}`;
  const pts = (v: number, ci: number) => `${v >= 0 ? "+" : ""}${(100 * v).toFixed(1)} ± ${(100 * ci).toFixed(1)}`;
  const rows = results.map(
    (r) =>
      `| ${r.seed} | ${pct(r.run.accuracy, r.run.ci95)} | ${pct(r.conv4.accuracy, r.conv4.ci95)} | ${pts(r.difference.mean, r.difference.ci95)} | ${r.run.trainCpuSeconds.toFixed(0)} s / ${r.conv4.trainCpuSeconds.toFixed(0)} s | ${r.run.epochs} / ${r.conv4.epochs} |`,
  );
  const d = meanAndSem(results.map((r) => r.difference.mean));
  return [
    `# ${o.preset}: ${o.label} against REPTILE-configured Conv4 at equal meta-training CPU`,
    "",
    `${results[0]?.run.tasks ?? 0} test tasks per seed, the same for both runs. Difference: ${o.label} minus Conv4 per task, mean ± 95% interval.`,
    "",
    `| seed | ${o.label} | Conv4 (REPTILE) | difference (points) | meta-training CPU: ${o.label} / Conv4 | meta-epochs: ${o.label} / Conv4 |`,
    "|---|---|---|---|---|---|",
    ...rows,
    "",
    results.length > 1
      ? `Over ${results.length} seeds: ${o.label} minus Conv4 ${pts(d.mean, d.sem)} points (mean ± SEM of the per-seed differences).`
      : "One seed: no spread over seeds yet.",
    "",
  ].join("\n");
}

/** Each seed's dash, in the order of the seeds, and its name for the legend. */
const DASHES = [
  { dash: [1, 0], name: "solid" },
  { dash: [6, 3], name: "dashed" },
  { dash: [2, 2], name: "dotted" },
  { dash: [8, 2, 2, 2], name: "dash-dot" },
  { dash: [12, 4], name: "long dashes" },
];
const DASH_LABEL = `datum.label + ' (' + ${JSON.stringify(DASHES.map((d) => d.name))}[indexof(domain('strokeDash'), datum.value) % ${DASHES.length}] + ')'`;

function chart(results: SeedResult[]): TopLevelSpec {
  const values = results.flatMap((r) =>
    (
      [
        [o.label, r.run],
        ["Conv4 (REPTILE)", r.conv4],
      ] as const
    ).flatMap(([run, s]) => s.curve.map((p) => ({ run, seed: `seed ${r.seed}`, ...p }))),
  );
  return {
    ...CHART_FRAME,
    title: { text: "Validation accuracy by meta-training CPU time", fontSize: 14, anchor: "start" },
    width: 420,
    height: 240,
    data: { values },
    mark: { type: "line", point: { size: 16 } },
    encoding: {
      x: { field: "cpuSeconds", type: "quantitative", title: "meta-training CPU seconds" },
      y: {
        field: "accuracy",
        type: "quantitative",
        title: "validation accuracy",
        axis: { format: "%" },
        scale: { zero: false },
      },
      color: { field: "run", type: "nominal", title: null, legend: { orient: "bottom" } },
      // The legend's symbols are the points, not the dashes: it names each seed's dash in words.
      strokeDash: {
        field: "seed",
        type: "nominal",
        title: null,
        scale: { range: DASHES.map((d) => d.dash) },
        legend: { orient: "right", labelExpr: DASH_LABEL },
      },
    },
  } as TopLevelSpec;
}

runScript(async () => {
  if (o.command !== "search" && o.command !== "train")
    throw new Error(`baseline-seeds: --command ${o.command} is not a command that meta-trains: use search or train`);
  mkdirSync(o.out, { recursive: true });
  const results: SeedResult[] = [];
  for (const seed of o.seeds) {
    const dir = path.join(o.out, `seed-${seed}`);
    await runSeed(seed, dir);
    results.push(seedResult(seed, dir));
  }
  writeFileAtomic(path.join(o.out, "baseline-seeds.json"), `${JSON.stringify({ settings: o, results }, null, 2)}\n`);
  writeFileAtomic(path.join(o.out, "baseline-seeds.md"), markdown(results));
  await writeFigure(path.join(o.out, "figures"), "baseline-seeds", await renderVegaLite(chart(results)));
  console.log(readFileSync(path.join(o.out, "baseline-seeds.md"), "utf8"));
});
