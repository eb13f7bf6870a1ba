// SVG helpers: the size of an SVG, rasterising it to PNG (sharp / librsvg), and preparing it
// for inlining into an HTML page.
import sharp from "sharp";

const UNIT_TO_PX: Record<string, number> = { "": 1, px: 1, pt: 4 / 3, pc: 16, in: 96, cm: 96 / 2.54, mm: 96 / 25.4 };

function rootTag(svg: string): { start: number; end: number; tag: string } {
  const start = svg.search(/<svg[\s>]/);
  if (start < 0) throw new Error("not an SVG document: no <svg> element found");
  const end = svg.indexOf(">", start);
  return { start, end, tag: svg.slice(start, end + 1) };
}

function lengthPx(tag: string, attr: "width" | "height"): number | null {
  const m = new RegExp(`\\s${attr}="\\s*([0-9.]+)\\s*([a-z]*)\\s*"`).exec(tag);
  if (!m) return null;
  const factor = UNIT_TO_PX[m[2]!];
  return factor === undefined ? null : Number(m[1]) * factor;
}

/** The root element's width and height in CSS pixels (pt converted at 96 dpi), from its attributes or viewBox. */
export function svgSize(svg: string): { width: number; height: number } {
  const { tag } = rootTag(svg);
  let width = lengthPx(tag, "width");
  let height = lengthPx(tag, "height");
  if (width === null || height === null) {
    const vb = /\sviewBox="\s*[-0-9.]+[\s,]+[-0-9.]+[\s,]+([0-9.]+)[\s,]+([0-9.]+)\s*"/.exec(tag);
    if (!vb) throw new Error("SVG has neither width/height attributes nor a viewBox: cannot size it");
    width ??= Number(vb[1]);
    height ??= Number(vb[2]);
  }
  return { width, height };
}

/** Rewrites the root's width/height as whole pixels, so that browsers and librsvg agree on the size. */
export function withPixelSize(svg: string): string {
  const { start, end, tag } = rootTag(svg);
  const { width, height } = svgSize(svg);
  const w = Math.round(width);
  const h = Math.round(height);
  let t = tag.replace(/\s(width|height)="[^"]*"/g, "");
  t = t.replace(/^<svg/, `<svg width="${w}" height="${h}"`);
  return svg.slice(0, start) + t + svg.slice(end + 1);
}

/**
 * Rasterises an SVG to PNG. The PNG measures round(width * scale) x round(height * scale) pixels,
 * width and height being the SVG's size in CSS pixels. Text uses the system's fonts (fontconfig).
 */
export async function svgToPng(svg: string, scale = 2): Promise<Buffer> {
  if (!(scale > 0) || !Number.isFinite(scale)) throw new Error(`PNG scale must be a positive number, got ${scale}`);
  const px = withPixelSize(svg);
  const { width, height } = svgSize(px);
  const out = await sharp(Buffer.from(px), { density: 72 * scale })
    .flatten({ background: "#ffffff" })
    .png()
    .toBuffer();
  // librsvg rounds on its own; make the size exactly the documented one.
  const meta = await sharp(out).metadata();
  const w = Math.round(width * scale);
  const h = Math.round(height * scale);
  if (meta.width === w && meta.height === h) return out;
  return sharp(out).resize(w, h, { fit: "fill" }).png().toBuffer();
}

/**
 * An SVG ready to sit inside an HTML page: no XML prolog, DOCTYPE or comments, and every id
 * prefixed so that several inlined SVGs (clip paths, gradients) do not collide.
 */
export function inlineSvg(svg: string, idPrefix: string): string {
  const body = withPixelSize(svg)
    .replace(/<\?xml[^>]*\?>/g, "")
    .replace(/<!DOCTYPE[^>]*>/gi, "")
    .replace(/<!--[\s\S]*?-->/g, "")
    .trim();
  return body
    .replace(/\sid="([^"]+)"/g, ` id="${idPrefix}-$1"`)
    .replace(/url\(#([^)]+)\)/g, `url(#${idPrefix}-$1)`)
    .replace(/(\s(?:xlink:)?href)="#([^"]+)"/g, `$1="#${idPrefix}-$2"`);
}
