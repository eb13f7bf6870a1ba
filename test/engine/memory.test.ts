// Tensor lifetimes: a training loop of thousands of steps keeps the live-tensor count and the
// resident memory flat; tidy/keep/dispose semantics; disposed tensors fail cleanly.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import {
  Adam,
  avgPool2d,
  batchNorm,
  conv2d,
  crossEntropy,
  dispose,
  grad,
  keep,
  labels,
  linear,
  liveTensors,
  manualSeed,
  maxPool2d,
  randn,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from "../../src/engine/index.js";

describe("a training loop keeps memory flat", () => {
  test("2000 steps of a small conv net: live count identical after step 100 and at the end, RSS bounded", async () => {
    manualSeed(1);
    const params = {
      w1: randn([8, 3, 3, 3]).mul(0.3),
      b1: zeros([8]),
      g1: randn([8]).mul(0.1).add(1),
      be1: zeros([8]),
      wd: randn([8, 1, 3, 3]).mul(0.3),
      wl: randn([5, 8 * 4 * 4]).mul(0.1),
      bl: zeros([5]),
    };
    const list: Tensor[] = Object.values(params);
    for (const p of list) p.requiresGrad_();
    const opt = new Adam(list, { lr: 1e-3, beta1: 0.5, weightDecay: 1e-4 });
    const x = randn([4, 3, 8, 8]);
    const y = labels([0, 1, 2, 4]);
    const steps = 2000;
    let liveAt100 = -1;
    let rssAt200 = 0;
    let firstLoss = 0;
    let lastLoss = 0;
    for (let step = 1; step <= steps; step++) {
      const loss = tidy(() => {
        let h = conv2d(x, params.w1, { bias: params.b1, padding: 1 });
        h = batchNorm(h, { weight: params.g1, bias: params.be1 }).relu();
        h = conv2d(h, params.wd, { groups: 8, padding: 2, dilation: 2 });
        h = maxPool2d(h, 3, 1, 1);
        h = avgPool2d(h, 2); // [4, 8, 4, 4]
        const logits = linear(h.reshape([4, -1]), params.wl, params.bl);
        const l = crossEntropy(logits, y);
        const grads = grad(l, list);
        opt.apply(grads);
        // a .grad read and a handle that is dropped without dispose: the scope frees both
        params.w1.grad;
        return l.item();
      });
      if (step === 1) firstLoss = loss;
      lastLoss = loss;
      await new Promise(setImmediate);
      if (step === 100) liveAt100 = liveTensors();
      if (step === 200) {
        global.gc?.();
        rssAt200 = process.memoryUsage().rss;
      }
    }
    const liveAtEnd = liveTensors();
    global.gc?.();
    const growth = process.memoryUsage().rss - rssAt200;
    assert.equal(liveAtEnd, liveAt100, "live-tensor count after the last step equals the count after step 100");
    assert.ok(
      growth < 30 * 1024 * 1024,
      `resident memory grew by ${(growth / 1048576).toFixed(1)} MB between step 200 and ${steps}`,
    );
    assert.ok(lastLoss < firstLoss, `training made progress (${firstLoss} -> ${lastLoss})`);
    opt.dispose();
    dispose([list, x, y]);
  });
});

describe("tidy, keep and dispose", () => {
  test("tidy returns its result alive and frees everything else it created", () => {
    const before = liveTensors();
    const out = tidy(() => {
      const a = tensor([1, 2, 3]);
      const b = a.mul(2);
      b.add(1); // dropped
      return b.sub(1);
    });
    assert.equal(liveTensors(), before + 1);
    assert.deepEqual(Array.from(out.data()), [1, 3, 5]);
    out.dispose();
    assert.equal(liveTensors(), before);
  });

  test("tidy keeps tensors inside returned arrays, maps and plain objects", () => {
    const before = liveTensors();
    const r = tidy(() => {
      const t = tensor([1]);
      t.add(1);
      return { list: [t.mul(2), t.mul(3)], map: new Map([["k", t.mul(4)]]), n: 7 };
    });
    assert.equal(liveTensors(), before + 3);
    assert.equal(r.map.get("k")!.item(), 4);
    dispose(r);
    assert.equal(liveTensors(), before);
  });

  test("nested tidy: the inner result survives the inner scope and is freed by the outer", () => {
    const before = liveTensors();
    let inner: Tensor | undefined;
    const outer = tidy(() => {
      inner = tidy(() => tensor([1, 2]).add(1));
      assert.equal(liveTensors(), before + 1);
      const t = inner.mul(2);
      return t.sum();
    });
    assert.equal(inner!.isDisposed, true, "the outer scope freed the inner scope's result");
    assert.equal(outer.item(), 10);
    assert.equal(liveTensors(), before + 1);
    outer.dispose();
    assert.equal(liveTensors(), before);
  });

  test("keep() lets a tensor outlive its scope; tensors created outside are untouched", () => {
    const outside = tensor([5]);
    const before = liveTensors();
    let kept: Tensor | undefined;
    tidy(() => {
      kept = keep(outside.add(1));
      outside.mul(2);
    });
    assert.equal(liveTensors(), before + 1);
    assert.equal(outside.isDisposed, false);
    assert.equal(kept!.item(), 6);
    dispose([kept, outside]);
  });

  test("tidy frees what it created when fn throws", () => {
    const before = liveTensors();
    assert.throws(
      () =>
        tidy(() => {
          tensor([1, 2]).add(1);
          throw new Error("fails inside");
        }),
      /fails inside/,
    );
    assert.equal(liveTensors(), before);
    // a libtorch error inside a scope: same
    assert.throws(() => tidy(() => tensor([1, 2]).add(tensor([1, 2, 3]))), /libtorch/);
    assert.equal(liveTensors(), before);
  });

  test("tidy refuses an async function and frees what it created before the first await", () => {
    const before = liveTensors();
    assert.throws(
      () =>
        tidy((async () => {
          tensor([1]);
          await Promise.resolve();
        }) as unknown as () => Tensor),
      /synchronous/,
    );
    assert.equal(liveTensors(), before);
  });

  test("dispose() twice is harmless; a disposed tensor throws a clear JS error", () => {
    const before = liveTensors();
    const t = tensor([1, 2]);
    t.dispose();
    t.dispose();
    assert.equal(liveTensors(), before);
    assert.throws(() => t.add(1), /disposed/);
    assert.throws(() => t.data(), /disposed/);
    assert.throws(() => t.item(), /disposed/);
    const u = tensor([1]);
    assert.throws(() => u.add(t), /disposed/);
    u.dispose();
    // an id freed (and reusable) does not let a stale handle reach another tensor
    const fresh = tensor([9]);
    assert.throws(() => t.add(1), /disposed/);
    fresh.dispose();
    assert.equal(liveTensors(), before);
  });

  test(".grad returns a new handle each time; each must be disposed", () => {
    const p = tensor([1, 2]).requiresGrad_();
    p.mul(2).sum().backward();
    const before = liveTensors();
    const g1 = p.grad!;
    const g2 = p.grad!;
    assert.notEqual(g1, g2);
    assert.equal(liveTensors(), before + 2);
    g1.dispose();
    assert.deepEqual(Array.from(g2.data()), [2, 2], "disposing one handle leaves the gradient alive");
    g2.dispose();
    assert.equal(liveTensors(), before);
    tidy(() => {
      p.grad;
      p.grad;
    });
    assert.equal(liveTensors(), before);
    p.dispose();
  });

  test("grad() results and optimiser moments are counted and freed", () => {
    const before = liveTensors();
    const w = tensor([1, 2]).requiresGrad_();
    const opt = new Adam([w], { lr: 0.1 });
    assert.equal(liveTensors(), before + 3);
    tidy(() => opt.apply(grad(w.square().sum(), [w])));
    assert.equal(liveTensors(), before + 3);
    opt.dispose();
    w.dispose();
    assert.equal(liveTensors(), before);
  });
});

describe("finalizers as a safety net", () => {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  /** Collects garbage and turns the event loop until the live count reaches want (or gives up). */
  async function settle(want: number): Promise<number> {
    for (let i = 0; i < 100 && liveTensors() !== want; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 5));
    }
    return liveTensors();
  }
  /** Collects the garbage earlier tests left, so that counts start from a stable base. */
  async function baseline(): Promise<number> {
    for (let i = 0; i < 10; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 5));
    }
    return liveTensors();
  }
  test("tensors dropped outside any scope, returned by a top-level tidy, or kept, are freed by GC", async () => {
    const before = await baseline();
    (() => {
      tensor([1, 2]);
      tidy(() => tensor([3]).add(1));
      tidy(() => {
        keep(tensor([4]));
      });
    })();
    assert.equal(liveTensors(), before + 3);
    assert.equal(await settle(before), before);
  });
  test("a tensor disposed by its scope is not freed a second time by a finalizer (its id may be reused)", async () => {
    const before = await baseline();
    (() => {
      for (let i = 0; i < 50; i++) tidy(() => tensor([i]).add(1));
    })();
    assert.equal(liveTensors(), before + 50);
    assert.equal(await settle(before), before);
    (() => {
      for (let i = 0; i < 20; i++) tidy(() => void tensor([i]).mul(2));
    })();
    const survivors = Array.from({ length: 20 }, (_, i) => tensor([i])); // reuse freed ids
    const live = liveTensors();
    for (let i = 0; i < 10; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(liveTensors(), live);
    assert.deepEqual(
      survivors.map((t) => t.item()),
      Array.from({ length: 20 }, (_, i) => i),
    );
    dispose(survivors);
  });
});
