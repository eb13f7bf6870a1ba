// What pruning to the genotype costs against the meta-learning budget (issue: "the budget at which
// pruning becomes free"): one search, continued with --resume to more and more search meta-epochs,
// meta-tested at each point (by default with 50 test steps that all adapt the architecture; the
// paper's "50 + 50" is 100 steps of which the first 50 do: --test-steps 100). At each point: the
// adapted one-shot networks' accuracy, the discrete networks' accuracy on the same weights and
// tasks, the paired change, the per-task forward-pruned and discrete sizes, and the adapted op
// weights' entropy. Each point's summary is kept as DIR/at-<points>.json; rerunning the command
// continues where it stopped (a stopped search resumes from its checkpoint).
//
//   node dist/experiments/pruningGap.js --data-dir ../shared/data/omniglot [--out runs/pruning-gap]
//     [--preset omniglot-5way-1shot-cpu-c16] [--seed 7] [--points 200,800,3200] [--nproc N]
//     [--test-steps 50 --test-arch-steps 50] [--test-tasks N] [--test-t-mins 0.02,0.005]
// --test-t-mins meta-tests each point again with those final temperatures (metanas eval), before
// the search goes on. --table-only runs nothing: it tabulates the points measured so far (for
// example while the experiment runs in another process). The table and figure are also rewritten
// after every point.
//
// Writes DIR/pruning-gap.json, DIR/pruning-gap.md and DIR/figures/pruning-gap.{svg,png}.
import { copyFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { TopLevelSpec } from "vega-lite";
import { meanAndCi95, pairedDifference } from "../src/evaluation/statistics.js";
import type { ArchitectureEntropy } from "../src/models/model.js";
import { writeFigure } from "../src/reports/index.js";
import { CHART_FRAME, renderVegaLite } from "../src/reports/vegaRender.js";
import type { Summary, TrainRecord } from "../src/runs/format.js";
import { buildConfig } from "../src/runs/presets.js";
import { readMetrics, readSummary, runDirState } from "../src/runs/runDir.js";
import { writeFileAtomic } from "../src/util/atomicWrite.js";
import { option, runCli, runScript } from "./common.js";

const o = {
  out: option("out", "runs/pruning-gap"),
  preset: option("preset", "omniglot-5way-1shot-cpu-c16"),
  dataDir: option("data-dir"),
  seed: option("seed", "7"),
  points: option("points", "200,800,3200").split(",").map(Number),
  nproc: option("nproc"),
  testSteps: option("test-steps", "50"),
  testArchSteps: option("test-arch-steps", "50"),
  testTasks: option("test-tasks"),
  /** Further meta-test temperatures to meta-test each point with again (`metanas eval --test-t-min`). */
  testTMins: (option("test-t-mins") ?? "").split(",").filter(Boolean).map(Number),
  tableOnly: process.argv.includes("--table-only"),
};

/** One point of the curve: the search after `searchEpochs` search meta-epochs (after the warm-up). */
interface GapPoint {
  searchEpochs: number;
  /** The meta-test's final temperature: the run's own, or one of --test-t-mins. */
  testTMin: number;
  epochs: number;
  /** Meta-training CPU seconds up to this point (all ranks' share of rank 0's records). */
  trainCpuSeconds: number;
  tasks: number;
  accuracy: number;
  oneShot: { mean: number; ci95: number };
  discrete: { mean: number; ci95: number };
  /** Discrete minus one-shot, per task. */
  change: { mean: number; ci95: number };
  params: { whole: number; forwardPrunedMedian: number; discreteMedian: number };
  entropy: ArchitectureEntropy | null;
}

// The points measure pruning, not the search against Conv4: no baseline after each (the CPU preset asks for one).
const NO_BASELINE = ["--baseline", "none"];

/** Brings the search to `epochs` meta-epochs: starts it, resumes it if stopped, or continues a finished one. */
async function searchTo(run: string, epochs: number): Promise<void> {
  const state = runDirState(run);
  const nproc = o.nproc ? ["--nproc", o.nproc] : [];
  // Given again on resume: the data may live elsewhere now (a copied run).
  const data = o.dataDir ? ["--data-dir", o.dataDir] : [];
  if (state === "finished" && readSummary(run).epochs === epochs) return;
  if (state === "stopped" || state === "finished") {
    await runCli(
      ["search", "--resume", run, "--epochs", String(epochs), ...data, ...NO_BASELINE, ...nproc],
      `pruning-gap: continuing ${run} to ${epochs} meta-epochs`,
    );
    return;
  }
  const args = ["search", "--preset", o.preset, ...data, "--seed", o.seed, "--epochs", String(epochs), ...NO_BASELINE];
  const test = ["--test-steps", o.testSteps, "--test-arch-steps", o.testArchSteps];
  if (o.testTasks) test.push("--test-tasks", o.testTasks);
  await runCli([...args, ...test, ...nproc, "--out", run], `pruning-gap: starting ${run} (${epochs} meta-epochs)`);
}

function pointOf(file: string, searchEpochs: number, testTMin: number, trainCpuSeconds: number): GapPoint {
  const s = JSON.parse(readFileSync(file, "utf8")) as Summary;
  const p = s.pruning;
  if (!p) throw new Error(`${file} has no pruning measurement: the search must be a MetaNAS search of this version`);
  const interval = (values: number[]) => meanAndCi95(values);
  return {
    searchEpochs,
    testTMin,
    epochs: s.epochs,
    trainCpuSeconds,
    tasks: s.tasks,
    accuracy: s.accuracy,
    oneShot: interval(p.oneShot.values),
    discrete: interval(p.discrete.values),
    change: pairedDifference(p.discrete.values, p.oneShot.values),
    params: {
      whole: s.params.total,
      forwardPrunedMedian: s.perTaskParams.median,
      discreteMedian: p.discreteParams.median,
    },
    entropy: p.entropy ?? null,
  };
}

/** Meta-training CPU seconds of the run's first `epochs` meta-epochs (rank 0's records). */
function trainCpuUpTo(run: string, epochs: number): number {
  return readMetrics(run)
    .filter((r): r is TrainRecord => r.kind === "train" && r.epoch <= epochs)
    .reduce((a, r) => a + (r.cpuSeconds ?? r.seconds), 0);
}

function markdown(points: GapPoint[], warmup: number): string {
  const pct = (v: { mean: number; ci95: number }) => `${(100 * v.mean).toFixed(1)}% ± ${(100 * v.ci95).toFixed(1)}`;
  const pts = (v: { mean: number; ci95: number }) =>
    `${v.mean >= 0 ? "+" : ""}${(100 * v.mean).toFixed(1)} ± ${(100 * v.ci95).toFixed(1)}`;
  const int = (v: number) => Math.round(v).toLocaleString("en-US");
  const head =
    "| search meta-epochs | meta-training CPU | meta-test final T | tasks | one-shot | discrete | change (points) | weights: whole / forward-pruned / discrete (medians) | op entropy, normal / reduce |";
  const rows = points.map(
    (p) =>
      `| ${p.searchEpochs} (+${warmup} warm-up) | ${(p.trainCpuSeconds / 3600).toFixed(2)} h | ${p.testTMin} | ${p.tasks} | ${pct(p.oneShot)} | ${pct(p.discrete)} | ${pts(p.change)} | ${int(p.params.whole)} / ${int(p.params.forwardPrunedMedian)} / ${int(p.params.discreteMedian)} | ${p.entropy ? `${p.entropy.normalOps.toFixed(3)} / ${p.entropy.reduceOps.toFixed(3)}` : "n/a"} |`,
  );
  return `# Pruning to the genotype against the search budget\n\nPreset \`${o.preset}\`, seed ${o.seed}, meta-tested with ${o.testSteps} + ${o.testArchSteps} steps.\n\n${head}\n|---|---|---|---|---|---|---|---|---|\n${rows.join("\n")}\n`;
}

function chart(all: GapPoint[]): TopLevelSpec {
  const points = all.filter((p) => p.testTMin === ownTMin);
  const values = points.flatMap((p) =>
    (
      [
        ["one-shot network (final T)", p.oneShot],
        ["discrete network (genotype)", p.discrete],
      ] as const
    ).map(([network, v]) => ({
      searchEpochs: p.searchEpochs,
      network,
      ...v,
      lo: v.mean - v.ci95,
      hi: v.mean + v.ci95,
    })),
  );
  const x = { field: "searchEpochs", type: "quantitative", title: "search meta-epochs (log)", scale: { type: "log" } };
  const color = { field: "network", type: "nominal", title: null, legend: { orient: "bottom", labelLimit: 300 } };
  return {
    ...CHART_FRAME,
    title: {
      text: `Accuracy before and after pruning, by search budget (final T ${ownTMin})`,
      fontSize: 14,
      anchor: "start",
    },
    width: 380,
    height: 240,
    data: { values },
    encoding: { x, color },
    layer: [
      {
        mark: { type: "line", point: true },
        encoding: { y: { field: "mean", type: "quantitative", title: "meta-test accuracy", axis: { format: "%" } } },
      },
      { mark: { type: "rule" }, encoding: { y: { field: "lo", type: "quantitative" }, y2: { field: "hi" } } },
    ],
  } as TopLevelSpec;
}

/** The point's meta-test again at each further temperature (before the search goes on). */
async function otherTemperatures(searchEpochs: number, epochs: number): Promise<GapPoint[]> {
  const out: GapPoint[] = [];
  for (const t of o.testTMins) {
    const file = path.join(o.out, `at-${searchEpochs}-t-min-${t}.json`);
    if (!existsSync(file)) {
      if (runDirState(run) !== "finished" || readSummary(run).epochs !== epochs)
        throw new Error(
          `pruning-gap: ${run} has gone past ${epochs} meta-epochs, so final T ${t} can no longer be added at that point: use another --out, or leave ${t} out of --test-t-mins`,
        );
      const args = ["eval", run, "--test-t-min", String(t), ...(o.dataDir ? ["--data-dir", o.dataDir] : [])];
      await runCli(args, `pruning-gap: meta-testing ${run} at ${epochs} meta-epochs with final T ${t}`);
      copyFileSync(path.join(run, "evaluation.json"), file);
    }
    out.push(pointOf(file, searchEpochs, t, trainCpuUpTo(run, epochs)));
  }
  return out;
}

const base = buildConfig(o.preset, {}, {});
const warmup = base.warmup;
const ownTMin = base.testTMin;
const run = path.join(o.out, "search");

/** The points measured so far, from their files alone (--table-only): nothing is run. */
function measuredPoints(): GapPoint[] {
  const points: GapPoint[] = [];
  for (const searchEpochs of [...o.points].sort((a, b) => a - b)) {
    const epochs = warmup + searchEpochs;
    const temperatures: [string, number][] = [
      [`at-${searchEpochs}.json`, ownTMin],
      ...o.testTMins.map((t): [string, number] => [`at-${searchEpochs}-t-min-${t}.json`, t]),
    ];
    for (const [name, t] of temperatures)
      if (existsSync(path.join(o.out, name)))
        points.push(pointOf(path.join(o.out, name), searchEpochs, t, trainCpuUpTo(run, epochs)));
  }
  return points;
}

/** pruning-gap.json, .md and the figure, of the points so far. */
async function writeOutputs(points: GapPoint[]): Promise<void> {
  writeFileAtomic(
    path.join(o.out, "pruning-gap.json"),
    `${JSON.stringify({ settings: o, warmup, points }, null, 2)}\n`,
  );
  writeFileAtomic(path.join(o.out, "pruning-gap.md"), markdown(points, warmup));
  await writeFigure(path.join(o.out, "figures"), "pruning-gap", await renderVegaLite(chart(points)));
}

runScript(async () => {
  mkdirSync(o.out, { recursive: true });
  const points: GapPoint[] = o.tableOnly ? measuredPoints() : [];
  for (const searchEpochs of o.tableOnly ? [] : [...o.points].sort((a, b) => a - b)) {
    const file = path.join(o.out, `at-${searchEpochs}.json`);
    const epochs = warmup + searchEpochs;
    if (!existsSync(file)) {
      await searchTo(run, epochs);
      copyFileSync(path.join(run, "summary.json"), file);
    }
    points.push(pointOf(file, searchEpochs, ownTMin, trainCpuUpTo(run, epochs)));
    points.push(...(await otherTemperatures(searchEpochs, epochs)));
    await writeOutputs(points);
  }
  if (points.length === 0) throw new Error(`pruning-gap: no point measured yet in ${o.out}`);
  await writeOutputs(points);
  console.log(readFileSync(path.join(o.out, "pruning-gap.md"), "utf8"));
});
