// Learning curves of a run from metrics.jsonl: query accuracy (meta-train, and meta-test with its
// 95% band), meta-train loss, temperature, and the entropies of the architecture weights, per
// meta-epoch, as small Vega-Lite panels.
import type { TopLevelSpec } from "vega-lite";
import type { MetricsRecord } from "./records.js";
import { CHART_FONT, renderVegaLite } from "./vegaRender.js";

export const CURVE_TITLES = {
  accuracy: "Query accuracy",
  loss: "Query loss",
  temperature: "Temperature",
  entropy: "Entropy of architecture weights",
} as const;

interface Row {
  epoch: number;
  series: string;
  value: number;
  lo?: number;
  hi?: number;
}

const PANEL_WIDTH = 320;
const PANEL_HEIGHT = 180;

function finite(v: number | null | undefined): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

/** Long-format rows for each panel; points with a missing or non-finite value are left out. */
export function curveRows(records: MetricsRecord[]): Record<keyof typeof CURVE_TITLES, Row[]> {
  const rows: Record<keyof typeof CURVE_TITLES, Row[]> = { accuracy: [], loss: [], temperature: [], entropy: [] };
  for (const r of records) {
    if (!finite(r.epoch)) continue;
    const epoch = r.epoch;
    if (r.kind === "train") {
      if (finite(r.accuracy)) rows.accuracy.push({ epoch, series: "meta-train query", value: r.accuracy });
      if (finite(r.loss)) rows.loss.push({ epoch, series: "meta-train query", value: r.loss });
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

/** The epoch axis shared by all panels; padded when only one epoch is known. */
function epochDomain(records: MetricsRecord[]): [number, number] {
  const epochs = records.map((r) => r.epoch).filter(finite);
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
type Layer = any;

function panel(
  title: string,
  yTitle: string,
  rows: Row[],
  domain: [number, number],
  warmup: { a: number; b: number } | null,
  opts: { band?: boolean; unitInterval?: boolean; warmupLabel?: boolean } = {},
): Layer {
  const fewPoints = rows.length <= 60;
  const x = {
    field: "epoch",
    type: "quantitative",
    title: "meta-epoch",
    scale: { domain, nice: false, zero: false },
  };
  const inUnit = opts.unitInterval && rows.every((r) => r.value >= 0 && r.value <= 1);
  const y = {
    field: "value",
    type: "quantitative",
    title: yTitle,
    scale: inUnit || rows.length === 0 ? { domain: [0, 1] } : { zero: false },
  };
  // An empty colour domain gives the legend infinite bounds: no legend without data.
  const color =
    rows.length > 0
      ? { field: "series", type: "nominal", title: null, legend: { orient: "bottom", columns: 2 } }
      : { value: "#4c78a8" };
  const layers: Layer[] = [];
  if (warmup) {
    layers.push({
      data: { values: [warmup] },
      mark: { type: "rect", color: "#999999", opacity: 0.12 },
      encoding: { x: { field: "a", type: "quantitative", scale: { domain, nice: false } }, x2: { field: "b" } },
    });
    if (opts.warmupLabel) {
      layers.push({
        data: { values: [{ mid: (warmup.a + warmup.b) / 2, t: "warm-up" }] },
        mark: { type: "text", fontSize: 11, color: "#666666", baseline: "top", dy: 4 },
        encoding: { x: { field: "mid", type: "quantitative" }, y: { value: 0 }, text: { field: "t" } },
      });
    }
  }
  if (opts.band) {
    const banded = { filter: "isValid(datum.lo) && isValid(datum.hi)" };
    layers.push({
      transform: [banded],
      mark: { type: "area", opacity: 0.2 },
      encoding: { x, y: { field: "lo", type: "quantitative" }, y2: { field: "hi" }, color },
    });
    layers.push({
      transform: [banded],
      mark: { type: "rule", strokeWidth: 1.2 },
      encoding: { x, y: { field: "lo", type: "quantitative" }, y2: { field: "hi" }, color },
    });
  }
  layers.push({
    mark: { type: "line", strokeWidth: 1.8, point: fewPoints ? { size: 18 } : false, clip: true },
    encoding: { x, y, color },
  });
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

/** The Vega-Lite spec of the curves: four panels in a 2 x 2 grid. */
export function curvesSpec(records: MetricsRecord[]): TopLevelSpec {
  const rows = curveRows(records);
  const domain = epochDomain(records);
  const warmup = warmupSpan(records);
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    background: "white",
    padding: 12,
    config: {
      font: CHART_FONT,
      axis: { labelFontSize: 11, titleFontSize: 12, grid: true, gridColor: "#e6e6e6" },
      legend: { labelFontSize: 11, symbolSize: 60 },
      view: { stroke: "#cccccc" },
    },
    concat: [
      panel(CURVE_TITLES.accuracy, "accuracy", rows.accuracy, domain, warmup, { band: true, unitInterval: true }),
      panel(CURVE_TITLES.loss, "cross-entropy", rows.loss, domain, warmup),
      panel(CURVE_TITLES.temperature, "T", rows.temperature, domain, warmup, { warmupLabel: true }),
      panel(CURVE_TITLES.entropy, "entropy (nats)", rows.entropy, domain, warmup),
    ],
    columns: 2,
    spacing: { row: 24, column: 36 },
    resolve: { scale: { color: "independent" } },
  } as TopLevelSpec;
}

/** The curves as one SVG; renders (with "no data yet" panels) even from zero records. */
export async function renderCurves(records: MetricsRecord[]): Promise<string> {
  return renderVegaLite(curvesSpec(records));
}
