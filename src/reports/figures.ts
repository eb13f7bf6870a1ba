// Writing a figure: the SVG and its PNG next to each other.
import { join } from "node:path";
import { writeFileAtomic } from "../util/atomicWrite.js";
import { svgToPng } from "./svg.js";

/** PNG figures are drawn at twice the SVG's CSS-pixel size. */
export const PNG_SCALE = 2;

/** Writes DIR/NAME.svg and DIR/NAME.png; returns both paths. */
export async function writeFigure(dir: string, name: string, svg: string, scale = PNG_SCALE): Promise<string[]> {
  const svgPath = join(dir, `${name}.svg`);
  const pngPath = join(dir, `${name}.png`);
  writeFileAtomic(svgPath, svg, { makeDir: true });
  writeFileAtomic(pngPath, await svgToPng(svg, scale), { makeDir: true });
  return [svgPath, pngPath];
}
