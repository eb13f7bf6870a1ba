// The sparsification ablation end to end on a tiny search, and the determinism of a whole run:
// the same command with the same seed gives the same summary.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type AblationResult, runAblation } from "../../src/runs/ablation.js";
import type { RunConfig } from "../../src/runs/config.js";
import type { Summary } from "../../src/runs/format.js";
import { buildConfig } from "../../src/runs/presets.js";
import { flagsOf, TINY_RUN } from "../helpers/tinyMeta.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const cli = path.join(root, "dist/src/cli/main.js");
const tmp = mkdtempSync(path.join(os.tmpdir(), "metanas-ablation-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const tiny: Partial<RunConfig> = { ...TINY_RUN, channels: 4, epochs: 2, testTasks: 4, testSteps: 3, testArchSteps: 2 };
const tinyFlags = flagsOf(tiny);

describe("sparsification ablation", () => {
  it("one search per strategy; per task the one-shot network against its genotype's discrete network", async () => {
    const dir = path.join(tmp, "ablation");
    const base = buildConfig("quick", {}, tiny);
    const r = await runAblation(dir, base);
    assert.ok(r);
    assert.deepEqual(
      r.rows.map((x) => x.strategy),
      ["darts", "anneal-ops", "metanas"],
    );
    for (const x of r.rows) {
      assert.equal(x.tasks, 4);
      assert.equal(x.oneShotAccuracies.length, 4);
      assert.equal(x.discreteAccuracies.length, 4);
      // The paired change is the difference of the two means.
      assert.ok(Math.abs(x.change.mean - (x.discrete.mean - x.oneShot.mean)) < 1e-12);
      // The discrete network keeps one op on each of two inputs per node: far fewer weights.
      assert.ok(x.params.discrete > 0 && x.params.discrete < x.params.oneShot / 2, JSON.stringify(x.params));
      const summary = JSON.parse(readFileSync(path.join(dir, x.run, "summary.json"), "utf8")) as Summary;
      assert.equal(summary.genotype, x.genotype);
      // Each task's adapted op weights: a mean entropy between one-hot (0) and uniform (ln 7).
      const e = summary.pruning?.entropy;
      assert.ok(e, "summary.pruning.entropy");
      for (const v of [e.normalOps, e.reduceOps]) assert.ok(v >= 0 && v <= Math.log(7) + 1e-9, JSON.stringify(e));
      assert.ok(e.normalPairs >= 0 && e.reducePairs >= 0, JSON.stringify(e));
      assert.equal(summary.pruning?.discreteParams.values?.length, 4);
    }
    const md = readFileSync(path.join(dir, "ablation.md"), "utf8");
    assert.equal(md.split("\n").filter((l) => /^\| (darts|anneal-ops|metanas) \|/.test(l)).length, 3);
    const saved = JSON.parse(readFileSync(path.join(dir, "ablation.json"), "utf8")) as AblationResult;
    assert.equal(saved.rows.length, 3);
    // A second call reuses the finished runs and gives the same table.
    const again = await runAblation(dir, base);
    assert.deepEqual(again?.rows, r.rows);
    // Other meta-test settings: the same searches are meta-tested again, nothing is retrained.
    const checkpoint = path.join(dir, "metanas", "checkpoint.safetensors");
    const trainedAt = statSync(checkpoint).mtimeMs;
    const variant = await runAblation(dir, { ...base, testTMin: 0.02 });
    assert.equal(variant?.variant, "test-t-min-0.02");
    assert.equal(variant?.config.testTMin, 0.02);
    assert.equal(variant?.rows.length, 3);
    assert.equal(statSync(checkpoint).mtimeMs, trainedAt);
    assert.ok(existsSync(path.join(dir, "ablation-test-t-min-0.02.md")));
    assert.ok(existsSync(path.join(dir, "metanas", "evaluation-test-t-min-0.02.json")));
    // The first table is still there, unchanged.
    assert.deepEqual(
      (JSON.parse(readFileSync(path.join(dir, "ablation.json"), "utf8")) as AblationResult).rows,
      r.rows,
    );
    // Other training settings in the same folder are refused.
    await assert.rejects(runAblation(dir, { ...base, channels: 6 }), /holds an ablation with other settings/);
  });

  it("the CLI writes the table and the figure", () => {
    const dir = path.join(tmp, "cli-ablation");
    const r = spawnSync(
      process.execPath,
      [cli, "ablation", "--preset", "quick", ...tinyFlags, "--strategies", "darts,metanas", "--out", dir, "--json"],
      { encoding: "utf8" },
    );
    assert.equal(r.status, 0, r.stderr);
    const line = JSON.parse(r.stdout.trim().split("\n").pop()!);
    assert.deepEqual(
      line.rows.map((x: { strategy: string }) => x.strategy),
      ["darts", "metanas"],
    );
    assert.ok(existsSync(path.join(dir, "figures", "ablation.png")));
    assert.ok(readFileSync(path.join(dir, "figures", "ablation.svg"), "utf8").includes("before and after pruning"));
  });
});

describe("determinism", () => {
  it("the same search command twice gives the same summary.json (but for the wall time)", () => {
    const summaries = ["a", "b"].map((name) => {
      const dir = path.join(tmp, `same-${name}`);
      const r = spawnSync(
        process.execPath,
        [cli, "search", "--preset", "quick", ...tinyFlags, "--out", dir, "--json"],
        {
          encoding: "utf8",
        },
      );
      assert.equal(r.status, 0, r.stderr);
      const {
        wallSeconds: _,
        testCpuSeconds: __,
        ...rest
      } = JSON.parse(readFileSync(path.join(dir, "summary.json"), "utf8")) as Summary;
      return rest;
    });
    assert.deepEqual(summaries[0], summaries[1]);
  });
});
