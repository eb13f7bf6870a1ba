import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DataError } from "../../src/data/errors.js";
import { ByteClassPool, RotatedClassPool, rot90 } from "../../src/data/pool.js";
import { sampleBatch, sampleTask } from "../../src/data/sampler.js";
import type { ImageShape } from "../../src/data/types.js";
import { Rng } from "../../src/util/rng.js";

// Image i of class c is filled with (c * 10 + i) / 255, so every drawn image says where it came from.
function codedPool(classes: number, perClass: number, shape: ImageShape = [1, 2, 2]): ByteClassPool {
  const size = shape[0] * shape[1] * shape[2];
  const pixels = new Uint8Array(classes * perClass * size);
  for (let c = 0; c < classes; c++) {
    for (let i = 0; i < perClass; i++)
      pixels.fill(c * 10 + i, (c * perClass + i) * size, (c * perClass + i + 1) * size);
  }
  return new ByteClassPool(
    pixels,
    Array(classes).fill(perClass),
    Array.from({ length: classes }, (_, c) => `class${c}`),
    shape,
  );
}
const code = (images: Float32Array, k: number, size: number) => Math.round(images[k * size] * 255);

describe("sampleTask", () => {
  it("draws n-way k-shot support and q queries per class, grouped by label, from the labelled classes", () => {
    const pool = codedPool(20, 8);
    const task = sampleTask(pool, { ways: 5, shots: 2, queries: 3 }, new Rng(1));
    assert.equal(task.classes.length, 5);
    assert.equal(new Set(task.classes).size, 5);
    assert.equal(task.support.count, 10);
    assert.equal(task.query.count, 15);
    assert.equal(task.support.images.length, 10 * 4);
    assert.deepEqual(task.support.imageShape, [1, 2, 2]);
    assert.deepEqual([...task.support.labels], [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
    assert.deepEqual([...task.query.labels], [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]);
    const seen = new Set<number>();
    for (const set of [task.support, task.query]) {
      for (let k = 0; k < set.count; k++) {
        const v = code(set.images, k, 4);
        assert.equal(Math.floor(v / 10), task.classes[set.labels[k]], "image comes from its label's class");
        assert.ok(!seen.has(v), "no image twice in one task");
        seen.add(v);
      }
    }
  });

  it("is deterministic from the seed and shuffles the class-to-label mapping per task", () => {
    const pool = codedPool(6, 5);
    const spec = { ways: 3, shots: 1, queries: 1 };
    const a = sampleTask(pool, spec, new Rng(7));
    const b = sampleTask(pool, spec, new Rng(7));
    assert.deepEqual(a, b);
    const rng = new Rng(3);
    const firstLabelClass = new Set<number>();
    const orders = new Set<string>();
    for (let t = 0; t < 50; t++) {
      const task = sampleTask(pool, spec, rng);
      firstLabelClass.add(task.classes[0]);
      orders.add(task.classes.join());
    }
    assert.equal(firstLabelClass.size, 6, "every class shows up as label 0");
    // The same set of classes also appears in different label orders.
    const sorted = new Set([...orders].map((o) => o.split(",").sort().join()));
    assert.ok(orders.size > sorted.size, "class sets recur with different label orders");
  });

  it("rejects more ways than classes and more shots+queries than images, naming the numbers", () => {
    const pool = codedPool(4, 5);
    assert.throws(
      () => sampleTask(pool, { ways: 5, shots: 1, queries: 1 }, new Rng(0)),
      (e: Error) => e instanceof DataError && /5-way.*only 4/.test(e.message),
    );
    assert.throws(
      () => sampleTask(pool, { ways: 2, shots: 3, queries: 3 }, new Rng(0)),
      (e: Error) => e instanceof DataError && /need 6 images per class.*only 5/.test(e.message),
    );
    assert.throws(() => sampleTask(pool, { ways: 2, shots: 0, queries: 1 }, new Rng(0)), DataError);
  });
});

describe("sampleBatch", () => {
  it("draws with replacement, keeping each image with its label, deterministically", () => {
    const pool = codedPool(5, 4);
    const task = sampleTask(pool, { ways: 3, shots: 2, queries: 0 }, new Rng(2));
    const batch = sampleBatch(task.support, 40, new Rng(9));
    assert.equal(batch.count, 40);
    assert.equal(batch.images.length, 40 * 4);
    const codes = Array.from({ length: 40 }, (_, k) => code(batch.images, k, 4));
    assert.ok(new Set(codes).size < 40, "a batch larger than the set repeats images");
    for (let k = 0; k < 40; k++) {
      assert.equal(Math.floor(codes[k] / 10), task.classes[batch.labels[k]]);
    }
    assert.deepEqual(sampleBatch(task.support, 40, new Rng(9)), batch);
    assert.throws(() => sampleBatch(task.support, 0, new Rng(0)), DataError);
  });
});

describe("rotations", () => {
  it("rot90 turns counter-clockwise like numpy.rot90", () => {
    const img = Float32Array.from([1, 2, 3, 4]);
    assert.deepEqual([...rot90(img, [1, 2, 2], 1)], [2, 4, 1, 3]);
    assert.deepEqual([...rot90(img, [1, 2, 2], 2)], [4, 3, 2, 1]);
    assert.deepEqual([...rot90(img, [1, 2, 2], 3)], [3, 1, 4, 2]);
  });

  it("RotatedClassPool makes four classes per base class", () => {
    const base = codedPool(3, 2, [1, 3, 3]);
    const rot = new RotatedClassPool(base);
    assert.equal(rot.numClasses, 12);
    assert.equal(rot.classSize(5), 2);
    assert.deepEqual(rot.image(4, 1), base.image(1, 1));
    assert.deepEqual(rot.image(7, 1), rot90(base.image(1, 1), [1, 3, 3], 3));
    assert.equal(rot.className(6), "class1/rot180");
  });
});
