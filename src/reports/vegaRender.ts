// Renders a Vega-Lite spec to SVG in Node: compile to Vega, run a headless view (no canvas).
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

/** Text metrics are estimated without a canvas; sans-serif matches what librsvg and browsers pick. */
export const CHART_FONT = "DejaVu Sans, Verdana, Arial, sans-serif";

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
