import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import sharp from "sharp";
import { fromJson, toDarts } from "../../src/searchspace/genotype.js";
import { FIXTURE_GENOTYPE, writeFixtureRun } from "../helpers/reportFixture.js";

const exec = promisify(execFile);
const CLI = resolve("dist/src/cli/main.js");
const root = mkdtempSync(join(tmpdir(), "metanas-report-cli-"));
let run = "";
before(() => {
  run = writeFixtureRun(join(root, "run"), { epochs: 40 });
});
after(() => rmSync(root, { recursive: true, force: true }));

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [CLI, ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("CLI: genotype and report", () => {
  it("genotype --format darts and json print the genotype", async () => {
    const darts = await cli("genotype", run, "--format", "darts");
    assert.equal(darts.code, 0, darts.stderr);
    assert.equal(darts.stdout.trim(), toDarts(FIXTURE_GENOTYPE));
    const json = await cli("genotype", run, "--format", "json");
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(fromJson(json.stdout), FIXTURE_GENOTYPE);
  });

  it("genotype --format svg and png write the cells into RUN_DIR/figures or --out", async () => {
    const svg = await cli("genotype", run, "--format", "svg");
    assert.equal(svg.code, 0, svg.stderr);
    assert.deepEqual(svg.stdout.trim().split("\n"), [join(run, "figures/normal.svg"), join(run, "figures/reduce.svg")]);
    assert.ok(readFileSync(join(run, "figures/reduce.svg"), "utf8").includes("avg_pool_3x3"));
    const out = join(root, "cell.png");
    const png = await cli("genotype", run, "--format", "png", "--cell", "normal", "--out", out);
    assert.equal(png.code, 0, png.stderr);
    assert.equal(png.stdout.trim(), out);
    const meta = await sharp(readFileSync(out)).metadata();
    const w = Number(/<svg[^>]*\swidth="([0-9.]+)"/.exec(readFileSync(join(run, "figures/normal.svg"), "utf8"))![1]);
    assert.equal(meta.width, Math.round(w * 2));
  });

  it("bad input fails with one line naming the problem and the fix", async () => {
    const bad = await cli("genotype", run, "--format", "gif");
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr.trim(), 'metanas: unknown --format "gif": use one of darts, json, svg, png');
    const both = await cli("genotype", run, "--format", "svg", "--out", join(root, "x.svg"));
    assert.equal(both.code, 1);
    assert.match(both.stderr, /^metanas: --out names one file .*add --cell normal or --cell reduce\n$/);
    const missing = await cli("genotype", join(root, "nope"));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^metanas: run directory .*nope does not exist: pass the folder/);
    const noGenotype = writeFixtureRun(join(root, "young"), { epochs: 3, genotype: false, summary: false });
    const none = await cli("genotype", noGenotype);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^metanas: no genotype in .*young: neither genotype\.json nor genotype\.txt exists yet/);
    const noRun = await cli("report", join(root, "nope"));
    assert.equal(noRun.code, 1);
    assert.equal(noRun.stderr.split("\n").filter(Boolean).length, 1);
  });

  it("report RUN_DIR writes report.html and prints its path", async () => {
    const r = await cli("report", run);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), join(run, "report.html"));
    assert.ok(existsSync(join(run, "figures/curves.png")));
    assert.ok(readFileSync(join(run, "report.html"), "utf8").includes("58.73%"));
  });
});
