// Renders a Vega-Lite spec to SVG in Node: compile to Vega, run a headless view (no canvas).
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

/** Text metrics are estimated without a canvas; sans-serif matches what librsvg and browsers pick. */
export const CHART_FONT = "DejaVu Sans, Verdana, Arial, sans-serif";

/** The look every chart shares. */
export const CHART_CONFIG = {
  font: CHART_FONT,
  axis: { labelFontSize: 11, titleFontSize: 12, grid: true, gridColor: "#e6e6e6" },
  legend: { labelFontSize: 11, symbolSize: 60 },
  view: { stroke: "#cccccc" },
};

/** What every chart's top-level spec starts with. */
export const CHART_FRAME = {
  $schema: "https://vega.github.io/schema/vega-lite/v5.json",
  background: "white",
  padding: 12,
  config: CHART_CONFIG,
};

export async function renderVegaLite(spec: TopLevelSpec): Promise<string> {
  const vgSpec = compile(spec).spec;
  // All data is inline; a loader that refuses everything keeps rendering offline and deterministic.
  const loader = vega.loader();
  loader.load = async (uri: string) => {
    throw new Error(`charts read inline data only, not ${uri}`);
  };
  const view = new vega.View(vega.parse(vgSpec), { renderer: "none", loader });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
