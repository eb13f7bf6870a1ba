import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import sharp from "sharp";
import { writeReport } from "../../src/reports/index.js";
import { loadRunGenotype, readRun } from "../../src/reports/runReader.js";
import { toDarts } from "../../src/searchspace/genotype.js";
import { externalRefs, FIXTURE_GENOTYPE, writeFixtureRun } from "../helpers/reportFixture.js";

const root = mkdtempSync(join(tmpdir(), "metanas-report-"));
after(() => rmSync(root, { recursive: true, force: true }));

describe("HTML report", () => {
  it("complete run: page holds genotype, accuracy, cells, curves, histogram, top genotypes; figures decode", async () => {
    const dir = writeFixtureRun(join(root, "complete"));
    const { html, figures } = await writeReport(dir);
    assert.equal(html, join(dir, "report.html"));
    const page = readFileSync(html, "utf8");
    assert.ok(page.includes(toDarts(FIXTURE_GENOTYPE).replace(/"/g, "&quot;")), "DARTS genotype string");
    assert.ok(page.includes("58.73% ± 1.23%"), "final accuracy with its interval");
    assert.ok(page.includes("Query accuracy") && page.includes("Entropy of architecture weights"));
    assert.ok(page.includes('id="cell-normal"><svg') && page.includes('id="cell-reduce"><svg'));
    assert.ok(page.includes("Pruned parameters per meta-test task"));
    assert.equal(page.match(/<tr>/g)!.length >= 2 + 2 + 8, true);
    assert.ok(page.includes("120") && page.includes("60.0%"), "top genotype count and share");
    assert.ok(page.includes("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co"), "config escaped");
    assert.equal(page.match(/<script>/g)!.length, 1, "only the page's own script");
    assert.deepEqual(externalRefs(page), []);
    assert.doesNotMatch(page, /<!DOCTYPE svg|<\?xml|<img|<link|src=/);
    assert.doesNotMatch(page, /id="missing"/);
    // Inlined SVG ids are unique across the page.
    const ids = [...page.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]!);
    assert.equal(new Set(ids).size, ids.length);

    const names = figures.map((f) => f.slice(dir.length + 1)).sort();
    assert.deepEqual(names, [
      "figures/curves.png",
      "figures/curves.svg",
      "figures/normal.png",
      "figures/normal.svg",
      "figures/params.png",
      "figures/params.svg",
      "figures/reduce.png",
      "figures/reduce.svg",
    ]);
    for (const png of figures.filter((f) => f.endsWith(".png"))) {
      const svg = readFileSync(png.replace(/\.png$/, ".svg"), "utf8");
      const w = Number(/<svg[^>]*\swidth="([0-9.]+)"/.exec(svg)![1]);
      const h = Number(/<svg[^>]*\sheight="([0-9.]+)"/.exec(svg)![1]);
      const meta = await sharp(readFileSync(png)).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ["png", Math.round(w * 2), Math.round(h * 2)], png);
    }
  });

  it("a search's report shows what pruning to the genotype costs: both accuracies, the paired change, the sizes, the entropy", async () => {
    // 200 tasks: the one-shot network gets 100% and 80% alternately, the discrete one 60% and 80%,
    // so pruning costs 40 points on half the tasks: -20 points on average, ± 1.96 x 0.2 / sqrt(200).
    const oneShot = Array.from({ length: 200 }, (_, i) => (i % 2 ? 0.8 : 1));
    const discrete = Array.from({ length: 200 }, (_, i) => (i % 2 ? 0.8 : 0.6));
    const discreteParams = Array.from({ length: 200 }, (_, i) => 11000 + (i % 3) * 1000);
    const dir = writeFixtureRun(join(root, "pruning"), { pruning: { oneShot, discrete, discreteParams } });
    const { html, figures } = await writeReport(dir);
    const page = readFileSync(html, "utf8");
    const section = page.slice(
      page.indexOf("<h2>Pruning to the genotype</h2>"),
      page.indexOf("<h2>Configuration</h2>"),
    );
    const table = section.slice(section.indexOf('id="pruning"'), section.indexOf("</table>"));
    assert.ok(table.includes("90.00% ±") && table.includes("70.00% ±"), "one-shot and discrete accuracy");
    assert.match(table, /-20\.0 ± 2\.8/, "the paired change in points with its interval");
    assert.ok(table.includes("123,456") && table.includes("12,000"), "whole network and median discrete size");
    assert.ok(table.includes("1.234 / 1.876"), "op entropy, normal / reduction");
    assert.ok(section.includes('id="pruning-bars"><svg') && section.includes('id="pruning-tasks"><svg'));
    const names = figures.map((f) => f.slice(dir.length + 1));
    for (const f of ["pruning.svg", "pruning.png", "pruning-tasks.svg", "pruning-tasks.png"])
      assert.ok(names.includes(`figures/${f}`), f);
    const ids = [...page.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]!);
    assert.equal(new Set(ids).size, ids.length, "inlined SVG ids are unique");
    // A run without the measurement (a fixed network, an older summary) has no such section.
    const plain = readFileSync((await writeReport(writeFixtureRun(join(root, "plain")))).html, "utf8");
    assert.ok(!plain.includes("Pruning to the genotype"));
  });

  it("run still going: only config.json and a partial metrics.jsonl", async () => {
    const dir = writeFixtureRun(join(root, "going"), {
      epochs: 30,
      summary: false,
      genotype: false,
      partialLine: true,
    });
    const run = readRun(dir);
    assert.equal(run.records.length, 31);
    assert.equal(run.skippedLines, 1);
    assert.equal(run.genotype, null);
    const { html, figures } = await writeReport(dir);
    assert.deepEqual(
      figures.map((f) => f.slice(dir.length + 1)),
      ["figures/curves.svg", "figures/curves.png"],
    );
    const page = readFileSync(html, "utf8");
    assert.match(page, /id="missing"/);
    assert.ok(page.includes("no summary.json yet: run still going or stopped"));
    assert.ok(page.includes("No genotype yet"));
    assert.ok(page.includes("1 line(s) of metrics.jsonl skipped"));
    assert.ok(page.includes("latest meta-train (query)"));
    assert.ok(page.includes("Query accuracy"));
    assert.deepEqual(externalRefs(page), []);
  });

  it("stopped run with an empty folder still renders and lists every missing file", async () => {
    const dir = join(root, "empty");
    mkdirSync(dir);
    const { html } = await writeReport(dir);
    const page = readFileSync(html, "utf8");
    for (const f of ["config.json", "metrics.jsonl", "summary.json", "genotype.json"])
      assert.ok(page.includes(`no ${f}`), f);
    assert.equal(page.match(/>no data yet</g)?.length, 4);
  });

  it("genotype falls back to genotype.txt, then summary.json", () => {
    const dir = writeFixtureRun(join(root, "fallback"));
    rmSync(join(dir, "genotype.json"));
    assert.equal(loadRunGenotype(dir).source, "genotype.txt");
    rmSync(join(dir, "genotype.txt"));
    assert.deepEqual(loadRunGenotype(dir).genotype, FIXTURE_GENOTYPE);
    writeFileSync(join(dir, "genotype.txt"), "Genotype(normal=[[(");
    assert.throws(() => loadRunGenotype(dir), /genotype\.txt.*fix or delete genotype\.txt/);
  });

  it("missing run directory: one clear error line", async () => {
    const missing = join(root, "no-such-run");
    await assert.rejects(writeReport(missing), (err: Error) => {
      assert.equal(
        err.message,
        `run directory ${missing} does not exist: pass the folder a search, train or eval run wrote`,
      );
      return true;
    });
    assert.equal(existsSync(missing), false);
  });
});
