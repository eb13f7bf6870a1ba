// The comparison page of several runs: the same rules as the run report (self-contained, every
// string escaped), configuration differences highlighted, curves overlaid, cells per search,
// per-task pruned sizes, and its figures as SVG and PNG.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import sharp from "sharp";
import { compareRows } from "../../src/reports/compareCharts.js";
import type { Row } from "../../src/reports/curves.js";
import { COMPARE_TITLES, defaultLabels, readRun, writeComparison } from "../../src/reports/index.js";
import { toDarts } from "../../src/searchspace/genotype.js";
import { runCli } from "../helpers/cliHarness.js";
import { externalRefs, FIXTURE_GENOTYPE, writeFixtureRun } from "../helpers/reportFixture.js";

const root = mkdtempSync(join(tmpdir(), "metanas-compare-"));
after(() => rmSync(root, { recursive: true, force: true }));

let search = "";
let conv4 = "";
let going = "";
before(() => {
  search = writeFixtureRun(join(root, "metanas-run"), {
    epochs: 40,
    config: { model: "metanas", channels: 28 },
    pruning: { oneShot: [1, 0.8, 0.6, 1], discrete: [0.4, 0.8, 0.6, 0.2], discreteParams: [9000, 9500, 10000, 12000] },
  });
  conv4 = writeFixtureRun(join(root, "conv4-run"), {
    epochs: 40,
    genotype: false,
    accuracy: 0.8125,
    config: { model: "conv4", channels: 28, note: "plain" },
  });
  going = writeFixtureRun(join(root, "still-going"), {
    epochs: 12,
    summary: false,
    genotype: false,
    partialLine: true,
  });
});

describe("compare page", () => {
  it("runs side by side: accuracy, highlighted differences, overlaid curves, cells, pruned sizes", async () => {
    const out = join(root, "cmp");
    const r = await writeComparison([search, conv4], out, { labels: ["MetaNAS <b>", "Conv4"] });
    assert.equal(r.html, join(out, "compare.html"));
    assert.deepEqual(r.differences, ["model", "note"]);
    assert.deepEqual(
      r.runs.map((x) => [x.label, x.accuracy]),
      [
        ["MetaNAS <b>", 0.5873],
        ["Conv4", 0.8125],
      ],
    );
    const page = readFileSync(r.html, "utf8");
    // Labels and configuration values from the runs are escaped; nothing loads from elsewhere.
    assert.ok(page.includes("MetaNAS &lt;b&gt;") && !page.includes("MetaNAS <b>"));
    assert.ok(page.includes("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co"));
    assert.equal(page.match(/<script>/g)!.length, 1, "only the page's own script");
    assert.deepEqual(externalRefs(page), []);
    assert.doesNotMatch(page, /<!DOCTYPE svg|<\?xml|<img|<link|src=/);
    const ids = [...page.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]!);
    assert.equal(new Set(ids).size, ids.length, "inlined SVG ids are unique");
    // Final accuracy: both, the better one in bold.
    assert.ok(page.includes("58.73% ± 1.23%") && page.includes("<b>81.25% ± 1.23%</b>"));
    // Differences: the differing rows only, conv4's differing values highlighted; the rest folded away.
    const diff = page.slice(page.indexOf('id="config-diff"'), page.indexOf('id="config-same"'));
    assert.equal(diff.match(/<tr>/g)!.length, 3, "header + model + note");
    assert.match(diff, /<td class="diff genotype">conv4<\/td>/);
    assert.match(diff, /<td class="genotype">metanas<\/td>/);
    assert.match(diff, /<code>model<\/code> <small>--model<\/small>/);
    const same = page.slice(page.indexOf('id="config-same"'));
    assert.ok(same.includes("<code>channels</code>") && same.includes("<code>dataset</code>"));
    // Curves overlaid in one figure, every panel titled.
    for (const title of [COMPARE_TITLES.accuracy, COMPARE_TITLES.accuracyTime, COMPARE_TITLES.loss])
      assert.ok(page.includes(`>${title}</text>`), title);
    // Cells: the search's genotype drawn; conv4 has none.
    assert.ok(page.includes(toDarts(FIXTURE_GENOTYPE).replace(/"/g, "&quot;")));
    assert.ok(page.includes('id="cells-0-normal"><svg') && page.includes('id="cells-0-reduce"><svg'));
    assert.ok(!page.includes('id="cells-1-normal"'));
    assert.ok(page.includes("No cell: conv4 is a fixed hand-designed network."));
    // Pruned sizes: per run min/median/max and the whole network.
    const pruned = page.slice(page.indexOf('id="pruned"'));
    assert.ok(pruned.includes("123,456") && pruned.includes(COMPARE_TITLES.params));
    // Pruning to the genotype: the search's one-shot against discrete accuracy (-35 points per task on
    // average); conv4 has no row.
    const pruning = page.slice(page.indexOf('id="pruning"'), page.indexOf("</table>", page.indexOf('id="pruning"')));
    assert.ok(pruning.includes("85.00% ±") && pruning.includes("50.00% ±") && pruning.includes("-35.0 ±"));
    assert.ok(pruning.includes("MetaNAS &lt;b&gt;") && !pruning.includes("Conv4"));
    assert.ok(page.includes('id="pruning-bars"><svg') && page.includes('id="pruning-tasks"><svg'));
    assert.doesNotMatch(page, /id="missing"/);

    const names = r.figures.map((f) => f.slice(out.length + 1)).sort();
    assert.deepEqual(names, [
      "figures/MetaNAS_b_-normal.png",
      "figures/MetaNAS_b_-normal.svg",
      "figures/MetaNAS_b_-reduce.png",
      "figures/MetaNAS_b_-reduce.svg",
      "figures/accuracy.png",
      "figures/accuracy.svg",
      "figures/curves.png",
      "figures/curves.svg",
      "figures/pruned.png",
      "figures/pruned.svg",
      "figures/pruning-tasks.png",
      "figures/pruning-tasks.svg",
      "figures/pruning.png",
      "figures/pruning.svg",
    ]);
    for (const png of r.figures.filter((f) => f.endsWith(".png"))) {
      const svg = readFileSync(png.replace(/\.png$/, ".svg"), "utf8");
      const w = Number(/<svg[^>]*\swidth="([0-9.]+)"/.exec(svg)![1]);
      const meta = await sharp(readFileSync(png)).metadata();
      assert.deepEqual([meta.format, meta.width], ["png", Math.round(w * 2)], png);
    }
  });

  it("temperature and entropy are drawn for searches only (a fixed network's records carry none that mean anything)", () => {
    const run = (label: string, dir: string, searchesArchitecture: boolean) => ({
      label,
      color: "#000000",
      records: readRun(dir).records,
      searchesArchitecture,
      accuracy: null,
      ci95: null,
      totalParams: null,
      perTaskParams: [],
    });
    const rows = compareRows([run("search", search, true), run("conv4", conv4, false)]);
    const runsIn = (rs: Row[]) => [...new Set(rs.map((x) => x.run))];
    assert.deepEqual(runsIn(rows.temperature), ["search"]);
    assert.deepEqual(runsIn(rows.entropy), ["search"]);
    assert.deepEqual(runsIn(rows.accuracy), ["search", "conv4"]);
    assert.deepEqual([...new Set(rows.entropy.map((x) => x.series))], ["ops", "input pairs"]);
  });

  it("two fixed networks (a found cell and its Conv4 baseline) compare without temperature or entropy panels", async () => {
    const cell = writeFixtureRun(join(root, "fixed-run"), { epochs: 40, config: { model: "fixed", channels: 32 } });
    const r = await writeComparison([cell, conv4], join(root, "cmp-fixed"));
    const curves = readFileSync(join(root, "cmp-fixed", "figures", "curves.svg"), "utf8");
    assert.ok(!curves.includes("Infinity"), "the curves figure has a finite size");
    assert.ok(!curves.includes(COMPARE_TITLES.temperature) && !curves.includes(COMPARE_TITLES.entropy));
    assert.ok(curves.includes(COMPARE_TITLES.accuracy));
    const png = await sharp(join(root, "cmp-fixed", "figures", "curves.png")).metadata();
    assert.ok((png.width ?? 0) > 100 && (png.height ?? 0) > 100);
    assert.ok(existsSync(r.html));
  });

  it("a run still going is compared with what it holds, and says what is missing", async () => {
    const out = join(root, "cmp-going");
    const r = await writeComparison([search, going], out);
    assert.deepEqual(
      r.runs.map((x) => x.label),
      ["metanas-run", "still-going"],
    );
    const page = readFileSync(r.html, "utf8");
    assert.match(page, /id="missing"/);
    assert.ok(page.includes("still-going: no summary.json yet"));
    assert.ok(page.includes("still-going: 1 line(s) of metrics.jsonl skipped"));
    assert.ok(page.includes("no summary.json (going or stopped)"));
  });

  it("labels default to the folder names, numbered where they collide", () => {
    assert.deepEqual(defaultLabels(["a/run", "b/run/", "c/other"]), ["run (1)", "run (2)", "other"]);
  });

  it("refuses bad input with one line, and never writes into a run directory", async () => {
    await assert.rejects(writeComparison([search], join(root, "x")), /at least two run directories, got 1/);
    await assert.rejects(
      writeComparison([search, conv4], join(root, "y"), { labels: ["a"] }),
      /--labels names 1 run\(s\) but 2 run directories/,
    );
    const before = readFileSync(join(search, "metrics.jsonl"));
    await assert.rejects(writeComparison([search, conv4], search), /is a run directory.*choose another --out/);
    assert.deepEqual(readFileSync(join(search, "metrics.jsonl")), before);
    assert.equal(existsSync(join(search, "compare.html")), false);
    await assert.rejects(writeComparison([search, join(root, "nope")], join(root, "z")), /nope does not exist/);
  });

  it("metanas compare --json prints the page, figures, accuracies and differences", async () => {
    const out = join(root, "cli");
    mkdirSync(out);
    const r = await runCli(["compare", search, conv4, "--out", out, "--json"]);
    assert.equal(r.code, 0, r.error ?? "");
    const j = JSON.parse(r.stdout);
    assert.equal(j.html, join(out, "compare.html"));
    assert.deepEqual(j.differences, ["model", "note"]);
    assert.deepEqual(
      j.runs.map((x: { label: string }) => x.label),
      ["metanas-run", "conv4-run"],
    );
  });
});
