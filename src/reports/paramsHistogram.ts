// Histogram of the per-task pruned parameter counts of meta-testing.
import type { TopLevelSpec } from "vega-lite";
import { CHART_FRAME, renderVegaLite } from "./vegaRender.js";

export const HISTOGRAM_TITLE = "Pruned parameters per meta-test task";

/** A bin extent around a single value (all tasks pruned to the same size). */
function around(v: number): [number, number] {
  const d = Math.max(1, Math.abs(v) * 0.05);
  return [v - d, v + d];
}

export function paramsHistogramSpec(values: number[]): TopLevelSpec {
  const data = values.filter((v) => Number.isFinite(v)).map((params) => ({ params }));
  const distinct = new Set(data.map((d) => d.params)).size;
  return {
    ...CHART_FRAME,
    title: { text: HISTOGRAM_TITLE, fontSize: 14, anchor: "start" },
    width: 420,
    height: 180,
    data: { values: data },
    mark: { type: "bar", color: "#4c78a8" },
    encoding: {
      x: {
        field: "params",
        type: "quantitative",
        bin: distinct <= 1 ? { maxbins: 10, extent: around(data[0]?.params ?? 0) } : { maxbins: 30 },
        title: "parameters after pruning",
      },
      y: { aggregate: "count", type: "quantitative", title: "tasks" },
    },
  } as TopLevelSpec;
}

export async function renderParamsHistogram(values: number[]): Promise<string> {
  return renderVegaLite(paramsHistogramSpec(values));
}
