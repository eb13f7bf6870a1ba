// Runs a study: several metanas runs on the same tasks (a JSON spec of CLI argument lists), then
// compares their learning curves at equal meta-epochs and at equal training time, and their final
// meta-test accuracies. Every run is an ordinary, resumable run directory under the study's
// folder; a finished run is reused, so rerunning the command completes a stopped study.
//
//   node dist/experiments/study.js experiments/quick-widths.json [--out DIR] [--parallel N]
//
// Writes DIR/study.json, DIR/study.md and DIR/figures/study.{svg,png}.
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { TopLevelSpec } from "vega-lite";
import { writeFigure } from "../src/reports/index.js";
import { CHART_FRAME, renderVegaLite } from "../src/reports/vegaRender.js";
import type { EvalRecord, TrainRecord } from "../src/runs/format.js";
import { readMetrics, readSummary, runDirState } from "../src/runs/runDir.js";
import { writeFileAtomic } from "../src/util/atomicWrite.js";
import { option, runOrResume, slug } from "./common.js";

interface StudySpec {
  title: string;
  /** Arguments every run gets (preset, budget, evaluation settings). */
  common: string[];
  runs: { name: string; args: string[] }[];
}

interface RunCurve {
  name: string;
  dir: string;
  /** Validation (or test) accuracy during training: meta-epoch, training CPU and wall seconds so far. */
  evals: { epoch: number; cpuSeconds: number; wallSeconds: number; accuracy: number; ci95: number }[];
  train: { epoch: number; accuracy: number; cpuSeconds: number }[];
  final: { accuracy: number; ci95: number; tasks: number } | null;
  cpuSecondsPerEpoch: number;
  wallSecondsPerEpoch: number;
  params: number | null;
}

function curve(name: string, dir: string): RunCurve {
  const records = readMetrics(dir);
  const train = records.filter((r): r is TrainRecord => r.kind === "train");
  const cpuAt = new Map<number, number>();
  const wallAt = new Map<number, number>();
  let cpu = 0;
  for (const r of train) {
    cpu += r.cpuSeconds ?? r.seconds;
    cpuAt.set(r.epoch, cpu);
    wallAt.set(r.epoch, r.elapsed);
  }
  const evals = records
    .filter((r): r is EvalRecord => r.kind === "eval")
    .map((r) => ({
      epoch: r.epoch,
      cpuSeconds: cpuAt.get(r.epoch) ?? 0,
      wallSeconds: wallAt.get(r.epoch) ?? 0,
      accuracy: r.accuracy,
      ci95: r.ci95,
      split: r.split,
    }));
  const summary = runDirState(dir) === "finished" ? readSummary(dir) : null;
  const n = Math.max(1, train.length);
  return {
    name,
    dir,
    evals: evals.filter((e) => e.split === "val").map(({ split: _, ...e }) => e),
    train: train.map((r) => ({ epoch: r.epoch, accuracy: r.accuracy, cpuSeconds: cpuAt.get(r.epoch) ?? 0 })),
    final: summary ? { accuracy: summary.accuracy, ci95: summary.ci95, tasks: summary.tasks } : null,
    cpuSecondsPerEpoch: cpu / n,
    wallSecondsPerEpoch: train.reduce((a, r) => a + r.seconds, 0) / n,
    params: summary?.params.total ?? null,
  };
}

/** The last evaluation at or before `seconds` of training CPU time. */
function accuracyAt(c: RunCurve, seconds: number): number | null {
  const before = c.evals.filter((e) => e.cpuSeconds <= seconds + 1e-9);
  return before.length ? before[before.length - 1]!.accuracy : null;
}

function markdown(spec: StudySpec, curves: RunCurve[]): string {
  const budgets = [...new Set(curves.map((c) => c.train.at(-1)?.cpuSeconds ?? 0))]
    .filter((s) => s > 0)
    .sort((a, b) => a - b);
  const pct = (v: number | null) => (v === null ? "–" : `${(100 * v).toFixed(1)}%`);
  const head = [
    "run",
    "meta-test accuracy",
    "weights",
    "CPU s / meta-epoch",
    ...budgets.map((b) => `val. acc. at ${b.toFixed(0)} CPU s`),
  ];
  const lines = [
    `| ${head.join(" | ")} |`,
    `|${head.map(() => "---").join("|")}|`,
    ...curves
      .map((c) =>
        [
          c.name,
          c.final ? `${pct(c.final.accuracy)} ± ${(100 * c.final.ci95).toFixed(1)}` : "–",
          c.params?.toLocaleString("en-US") ?? "–",
          c.cpuSecondsPerEpoch.toFixed(2),
          ...budgets.map((b) => pct(accuracyAt(c, b))),
        ].join(" | "),
      )
      .map((l) => `| ${l} |`),
  ];
  return `# ${spec.title}\n\n${lines.join("\n")}\n\nCommon settings: \`${spec.common.join(" ")}\`. Validation accuracy at a training-CPU budget is the last validation at or before it (– when a run had none by then).\n`;
}

function chart(spec: StudySpec, curves: RunCurve[]): TopLevelSpec {
  const rows = curves.flatMap((c) => c.evals.map((e) => ({ run: c.name, ...e })));
  const color = {
    field: "run",
    type: "nominal",
    title: null,
    sort: curves.map((c) => c.name),
    legend: { orient: "bottom", columns: 3, labelLimit: 300 },
  };
  const y = { field: "accuracy", type: "quantitative", title: "validation accuracy", axis: { format: "%" } };
  const panel = (field: string, title: string, log: boolean) => ({
    width: 340,
    height: 220,
    mark: { type: "line", point: { size: 20 } },
    encoding: { x: { field, type: "quantitative", title, ...(log ? { scale: { type: "log" } } : {}) }, y, color },
  });
  return {
    ...CHART_FRAME,
    title: { text: spec.title, fontSize: 14, anchor: "start" },
    data: { values: rows },
    hconcat: [panel("epoch", "meta-epoch", false), panel("cpuSeconds", "training CPU seconds (log)", true)],
  } as TopLevelSpec;
}

const specFile = process.argv[2];
if (!specFile || specFile.startsWith("--")) {
  console.error("usage: node dist/experiments/study.js SPEC.json [--out DIR] [--parallel N]");
  process.exit(1);
}
const spec = JSON.parse(readFileSync(specFile, "utf8")) as StudySpec;
const out = option("out") ?? path.join("runs", `study-${slug(path.basename(specFile, ".json"))}`);
const parallel = Number(option("parallel") ?? "1");
mkdirSync(out, { recursive: true });
const started = performance.now();
const queue = spec.runs.map((r) => ({ ...r, dir: path.join(out, slug(r.name)) }));
let next = 0;
await Promise.all(
  Array.from({ length: Math.max(1, parallel) }, async () => {
    while (next < queue.length) {
      const r = queue[next++]!;
      await runOrResume([...r.args, ...spec.common], r.dir, `study: ${r.name} -> ${r.dir}`);
    }
  }),
);
const curves = queue.map((r) => curve(r.name, r.dir));
writeFileAtomic(path.join(out, "study.json"), `${JSON.stringify({ spec, curves }, null, 2)}\n`);
writeFileAtomic(path.join(out, "study.md"), markdown(spec, curves));
await writeFigure(path.join(out, "figures"), "study", await renderVegaLite(chart(spec, curves)));
console.log(readFileSync(path.join(out, "study.md"), "utf8"));
console.log(
  `study: ${out} (study.md, study.json, figures/study.png) in ${((performance.now() - started) / 1000).toFixed(0)} s`,
);
