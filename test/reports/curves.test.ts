import assert from "node:assert/strict";
import { describe, it } from "node:test";
import sharp from "sharp";
import { CURVE_TITLES, curveRows, renderCurves } from "../../src/reports/curves.js";
import type { MetricsRecord } from "../../src/reports/records.js";
import { parseMetrics } from "../../src/reports/runReader.js";
import { svgSize, svgToPng } from "../../src/reports/svg.js";
import { metricsLines } from "../helpers/reportFixture.js";

function train(epoch: number, v: number | null): MetricsRecord {
  return {
    kind: "train",
    epoch,
    loss: v,
    accuracy: v,
    temperature: v,
    entropy: { normalOps: v, normalPairs: v, reduceOps: v, reducePairs: v },
    warmup: false,
    seconds: 1,
    elapsed: epoch,
  };
}

describe("learning curves", () => {
  it("full run: every panel title, axis title and series is drawn; PNG has the SVG's size", async () => {
    const { records, skipped } = parseMetrics(metricsLines(100, 20).join("\n"));
    assert.equal(skipped, 0);
    assert.equal(records.length, 105);
    const svg = await renderCurves(records);
    assert.match(svg, /^<svg[\s>]/);
    for (const title of Object.values(CURVE_TITLES)) assert.ok(svg.includes(`>${title}</text>`), title);
    for (const s of ["meta-epoch", "meta-train query", "meta-test", "normal ops", "reduce pairs", "warm-up"]) {
      assert.ok(svg.includes(`>${s}</text>`), s);
    }
    assert.doesNotMatch(svg, /no data yet/);
    const { width, height } = svgSize(svg);
    const meta = await sharp(await svgToPng(svg, 2)).metadata();
    assert.equal(meta.width, Math.round(width * 2));
    assert.equal(meta.height, Math.round(height * 2));
  });

  it("one or two records, no evals, NaN and null values: renders without the dropped points", async () => {
    for (const records of [[train(1, 0.5)], [train(1, 0.5), train(2, Number.NaN)], [train(3, null), train(4, 0.2)]]) {
      const svg = await renderCurves(records);
      for (const title of Object.values(CURVE_TITLES)) assert.ok(svg.includes(title), title);
      assert.doesNotMatch(svg, /NaN/);
      await sharp(Buffer.from(svg)).metadata();
    }
    const rows = curveRows([train(1, 0.5), train(2, Number.NaN)]);
    assert.equal(rows.accuracy.length, 1);
    assert.equal(rows.entropy.length, 4);
  });

  it("a long run's meta-training lines are averaged in blocks; evaluations stay as they are", () => {
    // 2,000 meta-epochs: blocks of 4, one point each at the block's last meta-epoch.
    const records: MetricsRecord[] = Array.from({ length: 2000 }, (_, i) => train(i + 1, (i + 1) / 2000));
    records.push({
      kind: "eval",
      epoch: 2000,
      split: "test",
      accuracy: 0.9,
      ci95: 0.01,
      tasks: 100,
      loss: 0.3,
      elapsed: 1,
    });
    const rows = curveRows(records);
    const trainRows = rows.accuracy.filter((r) => r.series.startsWith("meta-train"));
    assert.equal(trainRows.length, 500);
    assert.equal(trainRows[0]!.series, "meta-train, mean of 4");
    assert.deepEqual([trainRows[0]!.epoch, trainRows[0]!.value], [4, (1 + 2 + 3 + 4) / 4 / 2000]);
    assert.equal(rows.entropy.length, 4 * 500);
    assert.deepEqual(
      rows.accuracy.filter((r) => r.series === "meta-test").map((r) => [r.epoch, r.value]),
      [[2000, 0.9]],
    );
    // 500 lines or fewer are drawn as logged.
    assert.equal(curveRows(records.slice(0, 500)).accuracy.length, 500);
  });

  it("a network without an architecture to search gets no temperature or entropy panels", async () => {
    const { records } = parseMetrics(metricsLines(20, 10).join("\n"));
    const svg = await renderCurves(records, false);
    assert.ok(svg.includes(`>${CURVE_TITLES.accuracy}</text>`) && svg.includes(`>${CURVE_TITLES.loss}</text>`));
    assert.ok(!svg.includes(CURVE_TITLES.temperature) && !svg.includes(CURVE_TITLES.entropy));
  });

  it("no records at all: empty panels say so", async () => {
    const svg = await renderCurves([]);
    assert.equal(svg.match(/>no data yet</g)?.length, 4);
    assert.doesNotMatch(svg, /Infinity|NaN/);
  });

  it("metrics parsing tolerates a partial last line, NaN tokens and unknown kinds", () => {
    const text = [
      '{"kind":"train","epoch":1,"loss":NaN,"accuracy":0.1,"temperature":1,"entropy":{"normalOps":1.9},"warmup":true}',
      '{"kind":"eval","epoch":1,"split":"val","accuracy":0.2,"ci95":0.01,"tasks":10,"loss":2}',
      '{"kind":"other","epoch":1}',
      '{"kind":"train","epoch":2,"lo',
    ].join("\n");
    const { records, skipped } = parseMetrics(text);
    assert.equal(records.length, 2);
    assert.equal(skipped, 2);
    assert.equal(records[0]!.kind === "train" && records[0]!.loss, null);
    assert.equal(records[0]!.kind === "train" && records[0]!.entropy.reducePairs, null);
    assert.equal(records[1]!.kind === "eval" && records[1]!.split, "val");
  });
});
