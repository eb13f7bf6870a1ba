// Learning curves of a run from metrics.jsonl: query accuracy (meta-train, and meta-test with its
// 95% band), meta-train loss, temperature, and the entropies of the architecture weights, per
// meta-epoch, as small Vega-Lite panels.
import type { TopLevelSpec } from "vega-lite";
import type { MetricsRecord } from "./records.js";
import { binTrainRecords, trainSeriesName } from "./trainBins.js";
import { CHART_FRAME, renderVegaLite } from "./vegaRender.js";

export const CURVE_TITLES = {
  accuracy: "Query accuracy",
  loss: "Query loss",
  temperature: "Temperature",
  entropy: "Entropy of architecture weights",
} as const;

export interface Row {
  epoch: number;
  series: string;
  value: number;
  lo?: number;
  hi?: number;
  /** Extra fields some charts plot by (the run's label, wall-clock seconds). */
  [field: string]: string | number | undefined;
}

const PANEL_WIDTH = 320;
const PANEL_HEIGHT = 180;

export function finite(v: number | null | undefined): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

/** Long-format rows for each panel; points with a missing or non-finite value are left out. */
export function curveRows(logged: MetricsRecord[]): Record<keyof typeof CURVE_TITLES, Row[]> {
  const rows: Record<keyof typeof CURVE_TITLES, Row[]> = { accuracy: [], loss: [], temperature: [], entropy: [] };
  const { records, block } = binTrainRecords(logged);
  const trainSeries = trainSeriesName(block);
  for (const r of records) {
    if (!finite(r.epoch)) continue;
    const epoch = r.epoch;
    if (r.kind === "train") {
      if (finite(r.accuracy)) rows.accuracy.push({ epoch, series: trainSeries, value: r.accuracy });
      if (finite(r.loss)) rows.loss.push({ epoch, series: trainSeries, value: r.loss });
      if (finite(r.temperature)) rows.temperature.push({ epoch, series: "temperature", value: r.temperature });
      const e = r.entropy ?? {};
      const entropies: [string, number | null | undefined][] = [
        ["normal ops", e.normalOps],
        ["normal pairs", e.normalPairs],
        ["reduce ops", e.reduceOps],
        ["reduce pairs", e.reducePairs],
      ];
      for (const [series, v] of entropies) if (finite(v)) rows.entropy.push({ epoch, series, value: v });
    } else {
      const series = `meta-${r.split === "test" ? "test" : r.split}`;
      if (finite(r.accuracy)) {
        const row: Row = { epoch, series, value: r.accuracy };
        if (finite(r.ci95)) {
          row.lo = r.accuracy - r.ci95;
          row.hi = r.accuracy + r.ci95;
        }
        rows.accuracy.push(row);
      }
      if (finite(r.loss)) rows.loss.push({ epoch, series, value: r.loss });
    }
  }
  return rows;
}

/** An axis shared by all panels: the values' range, padded; [0, 1] with none. */
export function epochDomain(values: (number | null | undefined)[]): [number, number] {
  const epochs = values.filter(finite);
  if (epochs.length === 0) return [0, 1];
  const lo = Math.min(...epochs);
  const hi = Math.max(...epochs);
  // A little room at both ends so that the final meta-test point is not cut in half.
  const pad = lo === hi ? 1 : Math.max(0.5, (hi - lo) * 0.02);
  return [lo - pad, hi + pad];
}

function warmupSpan(records: MetricsRecord[]): { a: number; b: number } | null {
  const w = records.filter((r) => r.kind === "train" && r.warmup && finite(r.epoch)).map((r) => r.epoch);
  if (w.length === 0) return null;
  return { a: Math.min(...w), b: Math.max(...w) };
}

// biome-ignore lint/suspicious/noExplicitAny: Vega-Lite's layer types are too deep to spell out here.
export type Layer = any;

export interface PanelOptions {
  /** A 95% band from each row's lo to hi. */
  band?: boolean;
  /** A y axis from 0 to 1 when every value lies in it. */
  unitInterval?: boolean;
  warmupLabel?: boolean;
  /** The x field and its title (default: epoch, "meta-epoch"). */
  x?: { field: string; title: string };
  /** The field that picks a line's colour (default series), and one that picks its dash. */
  color?: string;
  dash?: string;
  /** Fixed colours for the colour field's values (so that a run has one colour in every panel). */
  colors?: { domain: string[]; range: string[] };
  /** Fixed dash patterns for the dash field's values. */
  dashes?: { domain: string[]; range: number[][] };
  /** A logarithmic x axis (for wall-clock times that differ by orders of magnitude). */
  logX?: boolean;
}

/** The x encoding: epochs (or opts.x) on a fixed domain, linear or logarithmic. */
function xEncoding(domain: [number, number], opts: PanelOptions) {
  return {
    field: opts.x?.field ?? "epoch",
    type: "quantitative",
    title: opts.x?.title ?? "meta-epoch",
    scale: opts.logX ? { type: "log", domain, nice: false } : { domain, nice: false, zero: false },
  };
}

/** The y encoding: [0, 1] for accuracies that lie in it (and for no data), else fitted to the values. */
function yEncoding(yTitle: string, rows: Row[], opts: PanelOptions) {
  const inUnit = opts.unitInterval && rows.every((r) => r.value >= 0 && r.value <= 1);
  return {
    field: "value",
    type: "quantitative",
    title: yTitle,
    scale: inUnit || rows.length === 0 ? { domain: [0, 1] } : { zero: false },
  };
}

/** The colour encoding: by series (or opts.color) with a legend below, or one fixed colour without data. */
function colorEncoding(rows: Row[], opts: PanelOptions) {
  // An empty colour domain gives the legend infinite bounds: no legend without data.
  if (rows.length === 0) return { value: "#4c78a8" };
  return {
    field: opts.color ?? "series",
    type: "nominal",
    title: null,
    legend: {
      orient: "bottom",
      columns: 2,
      labelLimit: 400,
      ...(opts.dash ? { symbolType: "square", symbolOpacity: 1 } : {}),
    },
    ...(opts.colors ? { scale: opts.colors } : {}),
  };
}

/** The dash encoding (a strokeDash by opts.dash, with a legend of strokes), or none. */
function dashEncoding(opts: PanelOptions) {
  if (!opts.dash) return {};
  return {
    strokeDash: {
      field: opts.dash,
      type: "nominal",
      title: null,
      legend: {
        orient: "bottom",
        columns: 3,
        symbolType: "stroke",
        symbolStrokeWidth: 2,
        symbolStrokeColor: "#444444",
      },
      ...(opts.dashes ? { scale: opts.dashes } : {}),
    },
  };
}

/** The warm-up span shaded grey, and labelled when asked. */
function warmupLayers(warmup: { a: number; b: number }, domain: [number, number], label: boolean): Layer[] {
  const layers: Layer[] = [
    {
      data: { values: [warmup] },
      mark: { type: "rect", color: "#999999", opacity: 0.12 },
      encoding: { x: { field: "a", type: "quantitative", scale: { domain, nice: false } }, x2: { field: "b" } },
    },
  ];
  if (label) {
    layers.push({
      data: { values: [{ mid: (warmup.a + warmup.b) / 2, t: "warm-up" }] },
      mark: { type: "text", fontSize: 11, color: "#666666", baseline: "top", dy: 4 },
      encoding: { x: { field: "mid", type: "quantitative" }, y: { value: 0 }, text: { field: "t" } },
    });
  }
  return layers;
}

/** The 95% band of the rows that have one: a shaded area and a rule from lo to hi. */
function bandLayers(x: Layer, color: Layer): Layer[] {
  const banded = { filter: "isValid(datum.lo) && isValid(datum.hi)" };
  return [
    {
      transform: [banded],
      mark: { type: "area", opacity: 0.2 },
      encoding: { x, y: { field: "lo", type: "quantitative" }, y2: { field: "hi" }, color },
    },
    {
      transform: [banded],
      mark: { type: "rule", strokeWidth: 1.2 },
      encoding: { x, y: { field: "lo", type: "quantitative" }, y2: { field: "hi" }, color },
    },
  ];
}

/** The lines themselves, with points where there are few (or, dashed, at the evaluations). */
function lineLayers(rows: Row[], x: Layer, y: Layer, color: Layer, opts: PanelOptions): Layer[] {
  const fewPoints = rows.length <= 60;
  if (!opts.dash) {
    return [
      {
        mark: { type: "line", strokeWidth: 1.8, point: fewPoints ? { size: 18 } : false, clip: true },
        encoding: { x, y, color },
      },
    ];
  }
  // Points in their own layer, so that the dash legend draws strokes; with many points, only the
  // evaluations' (a meta-test is often a single point).
  return [
    { mark: { type: "line", strokeWidth: 1.8, clip: true }, encoding: { x, y, color, ...dashEncoding(opts) } },
    {
      ...(fewPoints ? {} : { transform: [{ filter: "isValid(datum.lo)" }] }),
      mark: { type: "point", filled: true, size: 18, clip: true },
      encoding: { x, y, color },
    },
  ];
}

/** One panel of line charts over rows, optionally with a shaded warm-up span. */
export function panel(
  title: string,
  yTitle: string,
  rows: Row[],
  domain: [number, number],
  warmup: { a: number; b: number } | null,
  opts: PanelOptions = {},
): Layer {
  const x = xEncoding(domain, opts);
  const color = colorEncoding(rows, opts);
  const layers: Layer[] = [
    ...(warmup ? warmupLayers(warmup, domain, opts.warmupLabel === true) : []),
    ...(opts.band ? bandLayers(x, color) : []),
    ...lineLayers(rows, x, yEncoding(yTitle, rows, opts), color, opts),
  ];
  if (rows.length === 0) {
    layers.push({
      data: { values: [{ t: "no data yet" }] },
      mark: { type: "text", fontSize: 13, color: "#888888" },
      encoding: { text: { field: "t" } },
    });
  }
  return {
    title: { text: title, fontSize: 14, anchor: "start" },
    width: PANEL_WIDTH,
    height: PANEL_HEIGHT,
    data: { values: rows },
    layer: layers,
  };
}

/**
 * The Vega-Lite spec of the curves: four panels in a 2 x 2 grid; for a network without an
 * architecture to search (searchesArchitecture false) the temperature and entropy panels, which
 * would hold nothing that means anything, are left out.
 */
export function curvesSpec(records: MetricsRecord[], searchesArchitecture = true): TopLevelSpec {
  const rows = curveRows(records);
  const domain = epochDomain(records.map((r) => r.epoch));
  const warmup = warmupSpan(records);
  return {
    ...CHART_FRAME,
    concat: [
      panel(CURVE_TITLES.accuracy, "accuracy", rows.accuracy, domain, warmup, {
        band: true,
        unitInterval: true,
        warmupLabel: !searchesArchitecture,
      }),
      panel(CURVE_TITLES.loss, "cross-entropy", rows.loss, domain, warmup),
      ...(searchesArchitecture
        ? [
            panel(CURVE_TITLES.temperature, "T", rows.temperature, domain, warmup, { warmupLabel: true }),
            panel(CURVE_TITLES.entropy, "entropy (nats)", rows.entropy, domain, warmup),
          ]
        : []),
    ],
    columns: 2,
    spacing: { row: 24, column: 36 },
    resolve: { scale: { color: "independent" } },
  } as TopLevelSpec;
}

/** The curves as one SVG; renders (with "no data yet" panels) even from zero records. */
export async function renderCurves(records: MetricsRecord[], searchesArchitecture = true): Promise<string> {
  return renderVegaLite(curvesSpec(records, searchesArchitecture));
}
