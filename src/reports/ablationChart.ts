// The sparsification ablation as a picture: per strategy, the meta-test accuracy of the adapted
// one-shot network and of the discrete network it prunes to, each with its 95% interval.
import type { TopLevelSpec } from "vega-lite";
import type { AblationResult } from "../runs/ablation.js";
import { CHART_FRAME, renderVegaLite } from "./vegaRender.js";

export const ABLATION_TITLE = "Accuracy before and after pruning to the genotype";
const ONE_SHOT = "one-shot network (final T)";
const DISCRETE = "discrete network (genotype)";

export function ablationSpec(r: AblationResult): TopLevelSpec {
  const values = r.rows.flatMap((x) =>
    [
      [ONE_SHOT, x.oneShot],
      [DISCRETE, x.discrete],
    ].map(([network, v]) => {
      const { mean, ci95 } = v as { mean: number; ci95: number };
      const half = Number.isFinite(ci95) ? ci95 : 0;
      return { strategy: x.strategy, network, accuracy: mean, lo: mean - half, hi: mean + half };
    }),
  );
  const x = {
    field: "strategy",
    type: "nominal",
    title: "sparsification strategy",
    sort: null,
    axis: { labelAngle: 0 },
  };
  const color = {
    field: "network",
    type: "nominal",
    title: null,
    sort: [ONE_SHOT, DISCRETE],
    scale: { range: ["#4c78a8", "#e45756"] },
    legend: { orient: "bottom", labelLimit: 400 },
  };
  const xOffset = { field: "network", sort: [ONE_SHOT, DISCRETE] };
  return {
    ...CHART_FRAME,
    title: { text: ABLATION_TITLE, fontSize: 14, anchor: "start" },
    width: 420,
    height: 240,
    data: { values },
    encoding: { x, xOffset, color },
    layer: [
      {
        mark: { type: "bar", opacity: 0.85 },
        encoding: {
          y: { field: "accuracy", type: "quantitative", title: "meta-test accuracy", axis: { format: "%" } },
        },
      },
      {
        mark: { type: "rule", color: "black" },
        encoding: { y: { field: "lo", type: "quantitative" }, y2: { field: "hi" }, color: { value: "black" } },
      },
    ],
  } as TopLevelSpec;
}

export async function renderAblation(r: AblationResult): Promise<string> {
  return renderVegaLite(ablationSpec(r));
}
