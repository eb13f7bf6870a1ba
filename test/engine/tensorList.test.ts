import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as E from "../../src/engine/index.js";
import { deriveSeed, Rng } from "../../src/util/rng.js";

describe("tensor lists and snapshots", () => {
  it("a snapshot restores its tensors and what it was told to, joins others, and frees its copies", () => {
    const live = E.liveTensors();
    const a = E.keep(E.tensor([1, 2, 3], [3]));
    const b = E.keep(E.tensor([4], [1]));
    let step = 5;
    const snapA = new E.Snapshot([a], () => {
      step = 5;
    });
    const both = E.Snapshot.join([snapA, new E.Snapshot([b]), null]);
    E.noGrad(() => {
      a.fill_(0);
      b.fill_(9);
    });
    step = 7;
    both.restore();
    assert.deepEqual([a.toArray(), b.toArray(), step], [[1, 2, 3], [4], 5]);
    E.accumulate([a], [a], 2);
    assert.deepEqual(a.toArray(), [3, 6, 9]);
    E.scaleAll([a], 1 / 3);
    assert.deepEqual(a.toArray(), [1, 2, 3]);
    both.dispose();
    assert.ok(both.isDisposed && snapA.isDisposed);
    assert.throws(() => both.restore(), /Snapshot used after dispose/);
    E.disposeAll([a, b]);
    assert.equal(E.liveTensors(), live, "the snapshot's copies are freed");
  });

  it("derived seeds depend on every part and nothing else", () => {
    assert.equal(deriveSeed(1, 2, 3), deriveSeed(1, 2, 3));
    const seeds = new Set<number>();
    for (let e = 0; e < 50; e++) for (let i = 0; i < 10; i++) seeds.add(deriveSeed(1, e, i));
    assert.equal(seeds.size, 500, "no two (epoch, task) pairs share a stream");
    assert.notEqual(deriveSeed(1, 2, 3), deriveSeed(1, 3, 2));
    assert.notEqual(deriveSeed(1, 0, 0), deriveSeed(1, 2 ** 32, 0), "parts above 32 bits count");
    assert.ok(deriveSeed(7, 7, 7) >= 0 && deriveSeed(7, 7, 7) < 2 ** 31);
    assert.notEqual(new Rng(deriveSeed(1, 0, 0)).int(1000000), new Rng(deriveSeed(1, 0, 1)).int(1000000));
    assert.throws(() => deriveSeed(1, -1), /non-negative integers/);
  });
});
