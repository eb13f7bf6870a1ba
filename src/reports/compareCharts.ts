// Charts of several runs side by side: final accuracy with its 95% interval, the learning curves
// overlaid (one colour per run, one dash per series), and the per-task pruned sizes.
import type { TopLevelSpec } from "vega-lite";
import { epochDomain, finite, panel, type Row } from "./curves.js";
import type { MetricsRecord } from "./records.js";
import { binTrainRecords } from "./trainBins.js";
import { CHART_FRAME, renderVegaLite } from "./vegaRender.js";

/** A run as the comparison draws it: its label (unique), colour and records. */
export interface ChartRun {
  label: string;
  color: string;
  records: MetricsRecord[];
  /** False for fixed networks: their records' temperature and entropy mean nothing. */
  searchesArchitecture: boolean;
  accuracy: number | null;
  ci95: number | null;
  /** Weights of the whole network, and of each meta-test task's pruned network. */
  totalParams: number | null;
  perTaskParams: number[];
}

/** Tableau 10: distinct, readable on white, colour-blind tolerable for the first few. */
export const RUN_COLORS = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#bab0ac",
];

export const COMPARE_TITLES = {
  accuracy: "Query accuracy by meta-epoch",
  accuracyTime: "Query accuracy by wall-clock time",
  loss: "Query loss",
  temperature: "Temperature",
  entropy: "Entropy of architecture weights",
  final: "Meta-test accuracy (95% CI)",
  params: "Pruned parameters per meta-test task",
} as const;

const evalSeries = (split: string) => `meta-${split === "test" ? "test" : split}`;

/** Long-format rows of every overlaid panel. */
export function compareRows(runs: ChartRun[]) {
  const rows = { accuracy: [] as Row[], loss: [] as Row[], temperature: [] as Row[], entropy: [] as Row[] };
  for (const { label: run, records: logged, searchesArchitecture } of runs) {
    // Long runs' meta-training lines averaged in blocks; the series keeps its name (its dash).
    const { records } = binTrainRecords(logged);
    for (const r of records) {
      if (!finite(r.epoch)) continue;
      const base = { epoch: r.epoch, run, elapsed: r.elapsed };
      if (r.kind === "train") {
        const series = "meta-train query";
        if (finite(r.accuracy)) rows.accuracy.push({ ...base, series, value: r.accuracy });
        if (finite(r.loss)) rows.loss.push({ ...base, series, value: r.loss });
        if (!searchesArchitecture) continue;
        if (finite(r.temperature)) rows.temperature.push({ ...base, series: "temperature", value: r.temperature });
        const e = r.entropy;
        const mean = (a: number | null, b: number | null) =>
          finite(a) && finite(b) ? (a + b) / 2 : finite(a) ? a : finite(b) ? b : null;
        const ops = mean(e.normalOps, e.reduceOps);
        const pairs = mean(e.normalPairs, e.reducePairs);
        if (finite(ops)) rows.entropy.push({ ...base, series: "ops", value: ops });
        if (finite(pairs)) rows.entropy.push({ ...base, series: "input pairs", value: pairs });
      } else {
        const series = evalSeries(r.split);
        if (finite(r.accuracy)) {
          const row: Row = { ...base, series, value: r.accuracy };
          if (finite(r.ci95)) [row.lo, row.hi] = [r.accuracy - r.ci95, r.accuracy + r.ci95];
          rows.accuracy.push(row);
        }
        if (finite(r.loss)) rows.loss.push({ ...base, series, value: r.loss });
      }
    }
  }
  return rows;
}

const SOLID = [1, 0];
/** Meta-training solid, validation dashed, meta-test dotted; op entropy solid, pair entropy dashed. */
const dashes = (series: string[]) => {
  const pattern: Record<string, number[]> = {
    "meta-train query": SOLID,
    "meta-val": [6, 4],
    "meta-test": [2, 2],
    temperature: SOLID,
    ops: SOLID,
    "input pairs": [6, 4],
  };
  return { domain: series, range: series.map((name) => pattern[name] ?? SOLID) };
};

function colors(runs: ChartRun[]) {
  return { domain: runs.map((r) => r.label), range: runs.map((r) => r.color) };
}

/**
 * The overlaid learning curves: accuracy by meta-epoch and by time, loss, and, when a run searches
 * an architecture, temperature and entropy (panels without any line would render at no size).
 */
export function compareCurvesSpec(runs: ChartRun[]): TopLevelSpec {
  const rows = compareRows(runs);
  const records = runs.flatMap((r) => r.records);
  const epochs = epochDomain(records.map((r) => r.epoch));
  const elapsed = records.map((r) => r.elapsed).filter((t) => finite(t) && t > 0);
  // Log scale: a baseline can finish in seconds where a search takes hours.
  const seconds: [number, number] =
    elapsed.length === 0 ? [1, 10] : [Math.min(...elapsed) / 1.2, Math.max(...elapsed) * 1.2];
  const common = { color: "run", dash: "series", colors: colors(runs) };
  const present = (rs: Row[]) => [...new Set(rs.map((r) => r.series))];
  const accuracy = { ...common, dashes: dashes(present(rows.accuracy)), band: true, unitInterval: true };
  const time = { ...accuracy, logX: true, x: { field: "elapsed", title: "wall-clock seconds (log scale)" } };
  return {
    ...CHART_FRAME,
    concat: [
      panel(COMPARE_TITLES.accuracy, "accuracy", rows.accuracy, epochs, null, accuracy),
      panel(COMPARE_TITLES.accuracyTime, "accuracy", rows.accuracy, seconds, null, time),
      panel(COMPARE_TITLES.loss, "cross-entropy", rows.loss, epochs, null, {
        ...common,
        dashes: dashes(present(rows.loss)),
      }),
      ...(runs.some((r) => r.searchesArchitecture)
        ? [
            panel(COMPARE_TITLES.temperature, "T", rows.temperature, epochs, null, {
              ...common,
              dashes: dashes(present(rows.temperature)),
            }),
            panel(COMPARE_TITLES.entropy, "entropy (nats)", rows.entropy, epochs, null, {
              ...common,
              dashes: dashes(present(rows.entropy)),
            }),
          ]
        : []),
    ],
    columns: 2,
    spacing: { row: 24, column: 36 },
    resolve: { scale: { color: "shared", strokeDash: "independent" } },
  } as TopLevelSpec;
}

/** Each run's final meta-test accuracy as a point with its 95% interval. */
export function finalAccuracySpec(runs: ChartRun[]): TopLevelSpec {
  const data = runs
    .filter((r) => finite(r.accuracy))
    .map((r) => {
      const ci = finite(r.ci95) ? r.ci95 : 0;
      return { run: r.label, accuracy: r.accuracy!, lo: r.accuracy! - ci, hi: r.accuracy! + ci };
    });
  const y = { field: "run", type: "nominal", title: null, sort: runs.map((r) => r.label) };
  const color = { field: "run", type: "nominal", legend: null, scale: colors(runs) };
  const x = { type: "quantitative", title: "meta-test accuracy", scale: { domain: [0, 1] }, axis: { format: "%" } };
  return {
    ...CHART_FRAME,
    title: { text: COMPARE_TITLES.final, fontSize: 14, anchor: "start" },
    width: 420,
    height: { step: 28 },
    data: { values: data },
    layer: [
      { mark: { type: "rule", strokeWidth: 2 }, encoding: { y, x: { ...x, field: "lo" }, x2: { field: "hi" }, color } },
      { mark: { type: "point", filled: true, size: 70 }, encoding: { y, x: { ...x, field: "accuracy" }, color } },
      ...(data.length === 0
        ? [
            {
              data: { values: [{ t: "no finished run" }] },
              mark: { type: "text", color: "#888888" },
              encoding: { text: { field: "t" } },
            },
          ]
        : []),
    ],
  } as TopLevelSpec;
}

/** Per run, the spread of the meta-test tasks' pruned sizes (min to max box plot) and the full size (tick). */
export function prunedSizesSpec(runs: ChartRun[]): TopLevelSpec {
  const values = runs.flatMap((r) => r.perTaskParams.filter(finite).map((params) => ({ run: r.label, params })));
  const totals = runs.filter((r) => finite(r.totalParams)).map((r) => ({ run: r.label, params: r.totalParams! }));
  const y = { field: "run", type: "nominal", title: null, sort: runs.map((r) => r.label) };
  const x = { field: "params", type: "quantitative", title: "weights", scale: { zero: false } };
  return {
    ...CHART_FRAME,
    title: { text: COMPARE_TITLES.params, fontSize: 14, anchor: "start" },
    width: 420,
    height: { step: 32 },
    layer: [
      {
        data: { values },
        mark: { type: "boxplot", extent: "min-max", size: 16 },
        encoding: { y, x, color: { field: "run", type: "nominal", legend: null, scale: colors(runs) } },
      },
      {
        data: { values: totals },
        mark: { type: "tick", color: "#222222", thickness: 2, size: 24 },
        encoding: { y, x },
      },
      {
        data: { values: [{ t: "| whole network" }] },
        mark: { type: "text", align: "right", baseline: "top", dy: 4, color: "#222222", fontSize: 11 },
        encoding: { x: { value: 420 }, y: { value: 0 }, text: { field: "t" } },
      },
    ],
  } as TopLevelSpec;
}

export async function renderCompareCharts(
  runs: ChartRun[],
): Promise<{ curves: string; final: string; params: string }> {
  return {
    curves: await renderVegaLite(compareCurvesSpec(runs)),
    final: await renderVegaLite(finalAccuracySpec(runs)),
    params: await renderVegaLite(prunedSizesSpec(runs)),
  };
}
