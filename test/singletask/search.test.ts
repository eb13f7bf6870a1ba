// The single-task search (metanas table3) on the built-in characters: a tiny search learns, the
// discrete network of each strategy's genotype is that genotype's fixed network on the same weights,
// the schedules are DARTS's, and a Table 3 run aggregates over seeds, resumes, and refuses a folder
// of other settings.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import * as E from "../../src/engine/index.js";
import { SearchModel } from "../../src/models/searchModel.js";
import { RunDirError } from "../../src/runs/runDir.js";
import type { SingleTaskConfig } from "../../src/runs/singleTaskConfig.js";
import { buildSingleTaskConfig } from "../../src/runs/singleTaskPresets.js";
import {
  loadSingleTaskData,
  networkOf,
  runSearch,
  runTable3,
  type SearchResult,
  searchFile,
  searchSettings,
} from "../../src/runs/table3.js";
import { FixedNetwork } from "../../src/searchspace/fixedNetwork.js";
import { parseGenotype } from "../../src/searchspace/genotype.js";
import { makeBatch } from "../../src/singletask/data.js";
import { measurePruning } from "../../src/singletask/measure.js";
import { cosineRate, searchSingleTask, searchTemperature } from "../../src/singletask/search.js";
import { predictWith } from "../../src/tasklearner/taskLearner.js";
import { Rng } from "../../src/util/rng.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const cli = path.join(root, "dist/src/cli/main.js");
const tmp = mkdtempSync(path.join(os.tmpdir(), "metanas-table3-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Five built-in characters, 8 images of each train the weights, 7 the architecture, 5 are held out. */
const TINY = {
  dataset: "builtin",
  classes: 5,
  testPerClass: 5,
  batchSize: 16,
  channels: 6,
  cells: 2,
  reductions: [1],
  nodes: 2,
  seeds: [1],
  evalBatchSize: 25,
} as const;
const tiny = (o: Partial<Record<keyof SingleTaskConfig, unknown>> = {}) =>
  buildSingleTaskConfig("table3-omniglot-cpu", undefined, { ...TINY, ...o });
const noLog = () => {};

describe("single-task search", () => {
  it("a tiny search learns: held-out accuracy far above chance, T annealed, op weights sharpened", async () => {
    const c = tiny({ strategies: ["metanas"], epochs: 20, lrWeights: 0.1 });
    const data = await loadSingleTaskData(c, noLog);
    assert.deepEqual([data.weightImages.length, data.archImages.length, data.testImages.length], [40, 35, 25]);
    const r = (await runSearch(c, data, "metanas", 1)) as SearchResult;
    const [first, last] = [r.epochs[0]!, r.epochs.at(-1)!];
    // Chance is 20% on five classes.
    assert.ok(r.measurement.oneShot >= 0.6, `one-shot held-out accuracy ${r.measurement.oneShot}`);
    assert.ok(last.trainAccuracy > first.trainAccuracy + 0.3, `${first.trainAccuracy} -> ${last.trainAccuracy}`);
    assert.equal(last.temperature, c.tMin);
    assert.ok(last.opEntropy < first.opEntropy - 0.3, `op entropy ${first.opEntropy} -> ${last.opEntropy}`);
    assert.ok(Math.abs(last.lr - cosineRate(19, c)) < 1e-12 && last.lr < first.lr);
  });

  for (const strategy of ["darts", "anneal-ops", "metanas"] as const) {
    it(`${strategy}: the measured discrete network is the genotype's fixed network on the same weights (DARTS's network: C doubles at reductions, 4 nodes)`, async () => {
      const c = tiny({ epochs: 2, cells: 3, reductions: [1, 2], nodes: 4, channels: 4, lrArch: 3e-2 });
      const data = await loadSingleTaskData(c, noLog);
      E.manualSeed(3);
      const model = new SearchModel(networkOf(c, data), strategy);
      await searchSingleTask(model, data, searchSettings(c), new Rng(3));
      const m = measurePruning(model, data, { temperature: c.tMin, threshold: c.trainThreshold, evalBatchSize: 25 });
      const genotype = model.genotype();
      assert.deepEqual(parseGenotype(m.genotype), genotype);
      assert.ok(
        genotype.normal.every((node) => node.length === 2),
        "two inputs per node",
      );
      const fixed = new FixedNetwork(networkOf(c, data), genotype);
      fixed.copyFromSearch(model.net);
      const set = makeBatch(data.testImages, data, "none", null);
      const x = E.tensor(set.images, [set.count, ...set.imageShape]);
      const [a, b] = E.tidy(() =>
        E.noGrad(() => [model.forwardDiscrete(x, genotype).toArray(), fixed.forward(x).toArray()]),
      );
      const maxDiff = Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
      assert.ok(maxDiff < 1e-4, `max logit difference ${maxDiff}`);
      // The table's "discrete" figure is that fixed network's held-out accuracy.
      assert.equal(predictWith(set, (t) => fixed.forward(t)).accuracy, m.discrete);
      x.dispose();
      fixed.dispose();
      model.dispose();
    });
  }

  it("temperature and learning-rate schedules: linear T per step or per epoch, DARTS's cosine rate", () => {
    const preset = buildSingleTaskConfig("darts-cifar10", undefined, {});
    const s = { ...preset, threshold: 0.01, tMin: 0.05, tSchedule: "linear" as const };
    assert.equal(searchTemperature(0, 0, 100, { ...s, anneal: "step" }), 1);
    assert.ok(Math.abs(searchTemperature(50, 0, 101, { ...s, anneal: "step" }) - (1 + 0.05) / 2) < 1e-12);
    assert.equal(searchTemperature(99, 0, 100, { ...s, anneal: "step" }), 0.05);
    // Per epoch: every step of an epoch has the same T.
    assert.equal(
      searchTemperature(3, 1, 500, { ...s, anneal: "epoch" }),
      searchTemperature(9, 1, 500, { ...s, anneal: "epoch" }),
    );
    assert.equal(searchTemperature(0, 49, 500, { ...s, anneal: "epoch" }), 0.05);
    // The presets' geometric fall: the same factor every step, t-min at the last step.
    const g = { ...preset, threshold: 0.01, anneal: "step" as const };
    assert.equal(g.tSchedule, "geometric");
    assert.ok(Math.abs(searchTemperature(50, 0, 101, g) - Math.sqrt(g.tMax * g.tMin)) < 1e-12);
    assert.ok(
      Math.abs(searchTemperature(2, 0, 101, g) / searchTemperature(1, 0, 101, g) - g.tMin ** (1 / 100)) < 1e-12,
    );
    assert.equal(searchTemperature(100, 0, 101, g), g.tMin);
    assert.equal(cosineRate(0, s), 0.025);
    assert.ok(Math.abs(cosineRate(25, s) - (0.025 + 0.001) / 2) < 1e-12);
    assert.ok(Math.abs(cosineRate(50, s) - 0.001) < 1e-12);
  });
});

describe("metanas table3 run", () => {
  const c = tiny({ epochs: 1, seeds: [1, 2] });

  it("one search per strategy and seed; mean ± SEM over seeds; a rerun reuses every search", async () => {
    const dir = path.join(tmp, "run");
    const r = await runTable3(dir, c);
    assert.ok(r);
    assert.deepEqual(
      r.rows.map((x) => x.strategy),
      ["darts", "anneal-ops", "metanas"],
    );
    for (const row of r.rows) {
      const runs = [1, 2].map(
        (s) => JSON.parse(readFileSync(searchFile(dir, row.strategy, s), "utf8")) as SearchResult,
      );
      const acc = runs.map((x) => x.measurement.oneShot);
      assert.ok(Math.abs(row.oneShot.mean - (acc[0]! + acc[1]!) / 2) < 1e-12);
      // SEM of two values: |a - b| / 2.
      assert.ok(Math.abs(row.oneShot.sem - Math.abs(acc[0]! - acc[1]!) / 2) < 1e-12);
      assert.ok(Math.abs(row.change.mean - (row.discrete.mean - row.oneShot.mean)) < 1e-12);
      assert.ok(row.params.discrete < row.params.oneShot / 2);
    }
    // Same seed, other strategy: the same initial weights and batches, so plain DARTS and annealed
    // ops differ only by the annealing (and their searches are not identical).
    assert.notDeepEqual(r.rows[0]!.genotypes, [], "genotypes recorded");
    const md = readFileSync(path.join(dir, "table3.md"), "utf8");
    assert.equal(md.split("\n").filter((l) => /^\| (darts|anneal-ops|metanas) \| \d/.test(l)).length, 3);
    assert.match(md, /mean ± SEM over 2 seeds \(1, 2\)/);
    const file = searchFile(dir, "metanas", 2);
    const at = statSync(file).mtimeMs;
    const again = await runTable3(dir, c);
    assert.deepEqual(again?.rows, r.rows);
    assert.equal(statSync(file).mtimeMs, at, "nothing searched again");
    // Other search settings in the same folder are refused; more seeds would be added.
    await assert.rejects(
      runTable3(dir, { ...c, epochs: 2 }),
      (e: Error) => e instanceof RunDirError && /other settings/.test(e.message),
    );
  });

  it("two shards share one folder; the table appears once every search is there", async () => {
    const dir = path.join(tmp, "shards");
    const one = { ...c, seeds: [1], strategies: ["darts", "metanas"] as SingleTaskConfig["strategies"] };
    assert.equal(await runTable3(dir, one, { shard: { index: 0, count: 2 } }), null);
    assert.ok(existsSync(searchFile(dir, "darts", 1)) && !existsSync(searchFile(dir, "metanas", 1)));
    const r = await runTable3(dir, one, { shard: { index: 1, count: 2 } });
    assert.deepEqual(
      r?.rows.map((x) => x.seeds),
      [[1], [1]],
    );
  });
});

describe("metanas table3 command line", () => {
  const metanas = (args: string[]) => spawnSync(process.execPath, [cli, "table3", ...args], { encoding: "utf8" });

  it("--help lists DARTS's defaults as the darts-cifar10 preset's values", () => {
    const r = metanas(["--help"]);
    assert.equal(r.status, 0);
    for (const want of [
      /--lr-weights <x>.*\[darts-cifar10: 0\.025\]/,
      /--momentum <x>.*\[darts-cifar10: 0\.9\]/,
      /--grad-clip <x>.*\[darts-cifar10: 5\]/,
      /--lr-arch <x>.*\[darts-cifar10: 0\.0003\]/,
      /--reductions <a,b>.*\[darts-cifar10: 2,5\]/,
    ])
      assert.match(r.stdout.replace(/\n\s+/g, " "), want);
  });

  it("bad input: one line naming the flag, and no output folder", () => {
    const out = path.join(tmp, "never");
    for (const [args, want] of [
      [["--preset", "nope"], /unknown --preset "nope": use one of darts-cifar10, table3-omniglot-cpu/],
      [["--t-min", "2", "--out", out], /tMin \(--t-min\): t-min \(2\) must not exceed t-max \(1\)/],
      [
        ["--data-dir", path.join(tmp, "no-cifar"), "--out", out],
        /no CIFAR-10 batches in .*metanas data download cifar10 --data-dir/,
      ],
      [["--shard", "3/2"], /--shard.*must be k\/n/],
    ] as const) {
      const r = metanas([...args]);
      assert.equal(r.status, 1, r.stderr);
      assert.equal(
        r.stderr
          .trim()
          .split("\n")
          .filter((l) => l.startsWith("metanas:")).length,
        1,
        r.stderr,
      );
      assert.match(r.stderr, want);
    }
    assert.ok(!existsSync(out));
  });
});
