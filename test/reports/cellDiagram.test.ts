import assert from "node:assert/strict";
import { describe, it } from "node:test";
import sharp from "sharp";
import { cellDot, OP_COLORS, renderCell } from "../../src/reports/cellDiagram.js";
import { dotString } from "../../src/reports/escape.js";
import { svgSize, svgToPng } from "../../src/reports/svg.js";
import { OP_NAMES } from "../../src/searchspace/primitives.js";
import { FIXTURE_GENOTYPE } from "../helpers/reportFixture.js";

function rootAttr(svg: string, name: string): number {
  const root = /<svg[^>]*>/.exec(svg)![0];
  const m = new RegExp(`\\s${name}="([0-9.]+)(px)?"`).exec(root);
  assert.ok(m, `root <svg> has a plain-pixel ${name} attribute: ${root}`);
  return Number(m[1]);
}

/** The text content of every <text> element, XML character references decoded. */
function textsOf(svg: string): string[] {
  const decode = (s: string) =>
    s
      .replace(/&#(\d+);/g, (_, d) => String.fromCharCode(Number(d)))
      .replace(/&lt;/g, "<")
      .replace(/&gt;/g, ">")
      .replace(/&quot;/g, '"')
      .replace(/&amp;/g, "&");
  return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => decode(m[1]!));
}

describe("cell diagrams", () => {
  for (const kind of ["normal", "reduce"] as const) {
    it(`${kind} cell: a well-formed SVG naming every op and both inputs`, async () => {
      const svg = await renderCell(FIXTURE_GENOTYPE, kind);
      assert.match(svg, /^(<\?xml[^>]*>\s*)?(<!DOCTYPE[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*<svg[\s>]/);
      assert.ok(svg.trimEnd().endsWith("</svg>"));
      // librsvg refuses malformed XML, so rasterising proves the SVG parses.
      const meta = await sharp(Buffer.from(svg)).metadata();
      assert.equal(meta.format, "svg");
      const texts = textsOf(svg);
      const cell = FIXTURE_GENOTYPE[kind];
      // 2 inputs + nodes + output + one label per edge + the title.
      assert.equal(texts.length, 2 + cell.length + 1 + cell.flat().length + 1);
      for (const [op] of cell.flat()) assert.ok(texts.includes(op), `op ${op} is drawn`);
      assert.equal(texts.filter((t) => (OP_NAMES as readonly string[]).includes(t)).length, cell.flat().length);
      for (const label of ["c_{k-2}", "c_{k-1}", "c_{k}", "0", "1", "2"]) assert.ok(texts.includes(label), label);
      assert.ok(texts.includes(kind === "normal" ? "normal cell" : "reduction cell"));
    });
  }

  it("DOT: LR layout, every intermediate node feeds the output, labels quoted", () => {
    const dot = cellDot(FIXTURE_GENOTYPE, "normal");
    assert.match(dot, /^digraph cell \{/);
    assert.match(dot, /rankdir=LR/);
    for (const n of ["n0", "n1", "n2"]) assert.match(dot, new RegExp(`${n} -> out`));
    assert.match(dot, /in0 -> n0 \[label="sep_conv_3x3"/);
    assert.match(dot, /n1 -> n2 \[label="max_pool_3x3"/);
    // Each edge and its label share the op's colour, so crossing edges stay readable.
    assert.ok(dot.includes(`fontcolor="${OP_COLORS.dil_conv_3x3}", color="${OP_COLORS.dil_conv_3x3}"`));
    assert.equal(new Set(Object.values(OP_COLORS)).size, OP_NAMES.length);
    assert.equal(dotString('a"b\\c\nd'), '"a\\"b\\\\c\\nd"');
  });

  it("PNG decodes at the SVG's size times the scale", async () => {
    const svg = await renderCell(FIXTURE_GENOTYPE, "reduce");
    const w = rootAttr(svg, "width");
    const h = rootAttr(svg, "height");
    assert.deepEqual(svgSize(svg), { width: w, height: h });
    for (const scale of [1, 2]) {
      const png = await svgToPng(svg, scale);
      const meta = await sharp(png).metadata();
      assert.equal(meta.format, "png");
      assert.equal(meta.width, Math.round(w * scale));
      assert.equal(meta.height, Math.round(h * scale));
    }
  });

  it("PNG of a pt-sized SVG is converted at 96 dpi", async () => {
    const svg =
      '<svg xmlns="http://www.w3.org/2000/svg" width="75pt" height="30pt" viewBox="0 0 75 30"><rect width="75" height="30" fill="red"/></svg>';
    const meta = await sharp(await svgToPng(svg, 2)).metadata();
    assert.equal(meta.width, 200);
    assert.equal(meta.height, 80);
    await assert.rejects(svgToPng(svg, 0), /scale must be a positive number/);
  });
});
