import assert from "node:assert/strict";
import { describe, it } from "node:test";
import sharp from "sharp";
import { BUILTIN_CLASSES, type BuiltinClassPool, builtinCharacters, loadBuiltin } from "../../src/data/builtin.js";
import { renderContactSheet } from "../../src/data/contactSheet.js";
import { loadDataset } from "../../src/data/load.js";
import { sampleTask } from "../../src/data/sampler.js";
import { Rng } from "../../src/util/rng.js";

const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
const differs = (a: Float32Array, b: Float32Array) => a.some((v, k) => v !== b[k]);

describe("built-in dataset", () => {
  it("has a fixed set of disjoint train/val/test classes", async () => {
    const ds = await loadDataset({ name: "builtin", seed: 1 });
    const { train, val, test } = ds.splits;
    assert.equal(builtinCharacters().length, BUILTIN_CLASSES);
    assert.deepEqual([train.numClasses, val!.numClasses, test.numClasses], [1050, 150, 300]);
    const names = (p: typeof train) => Array.from({ length: p.numClasses }, (_, c) => p.className!(c));
    const [a, b, c] = [names(train), names(val!), names(test)];
    assert.equal(new Set([...a, ...b, ...c]).size, 1500, "no character in two splits");
    // The class set does not depend on the seed.
    assert.deepEqual(names(loadBuiltin({ seed: 2 }).splits.test), c);
  });

  it("renders 28x28 bright-on-dark drawings that differ within a class and repeat for a seed", () => {
    const a = loadBuiltin({ seed: 5 }).splits.train;
    const b = loadBuiltin({ seed: 5 }).splits.train;
    const other = loadBuiltin({ seed: 6 }).splits.train;
    assert.equal(a.classSize(3), 20);
    const img = a.image(3, 0);
    assert.equal(img.length, 28 * 28);
    assert.ok(img.every((v) => v >= 0 && v <= 1));
    assert.ok(Math.max(...img) === 1, "strokes reach full brightness");
    assert.ok(mean(img) > 0.03 && mean(img) < 0.45, `mostly dark background, mean ${mean(img)}`);
    assert.deepEqual(b.image(3, 0), img, "same seed, same pixels");
    assert.ok(differs(other.image(3, 0), img), "another seed, another drawing");
    for (let i = 1; i < 20; i++) assert.ok(differs(a.image(3, i), img), `drawing ${i} differs from drawing 0`);
    // Drawings of one class are closer to each other than to another class's (they are the same character).
    const dist = (x: Float32Array, y: Float32Array) => x.reduce((s, v, k) => s + (v - y[k]) ** 2, 0);
    let same = 0;
    let diff = 0;
    for (let i = 1; i < 20; i++) {
      same += dist(a.image(3, 0), a.image(3, i));
      diff += dist(a.image(3, 0), a.image(40, i));
    }
    assert.ok(same < diff, `within-class distance ${same} < between-class ${diff}`);
  });

  it("renders fast enough to be lazy (well under 1 ms per drawing)", () => {
    const pool = loadBuiltin({ seed: 11 }).splits.train as BuiltinClassPool;
    const t0 = performance.now();
    for (let c = 0; c < 50; c++) pool.bytes(c, 0);
    const ms = (performance.now() - t0) / (50 * 20);
    assert.ok(ms < 1, `${ms.toFixed(3)} ms per drawing`);
  });

  it("feeds the task sampler and makes a contact sheet", async () => {
    const pool = loadBuiltin({ seed: 0 }).splits.val!;
    const task = sampleTask(pool, { ways: 5, shots: 1, queries: 15 }, new Rng(0));
    assert.equal(task.query.images.length, 75 * 784);
    const png = await renderContactSheet(pool, { classes: [0, 1, 2], perClass: 4, scale: 2 });
    const meta = await sharp(png).metadata();
    assert.equal(meta.format, "png");
    assert.deepEqual([meta.width, meta.height], [2 * (4 * 30 + 2), 2 * (3 * 30 + 2)]);
  });
});
