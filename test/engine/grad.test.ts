// Gradients against central finite differences in float64; grad() w.r.t. a subset; noGrad;
// Adam and SGD against plain-JS reimplementations of torch.optim.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  Adam,
  avgPool2d,
  batchNorm,
  batchNormAccumulate,
  cat,
  conv2d,
  crossEntropy,
  grad,
  isGradEnabled,
  labels,
  linear,
  maxPool2d,
  noGrad,
  SGD,
  separableConv2d,
  type Tensor,
  tensor,
  tidy,
} from "../../src/engine/index.js";
import { assertClose, checkGradients, randomValues } from "../helpers/engineHelpers.js";

const input = (shape: number[], seed: number) => ({
  values: randomValues(
    shape.reduce((a, b) => a * b, 1),
    seed,
  ),
  shape,
});

describe("gradients against finite differences (float64)", () => {
  test("conv2d: plain with bias", () =>
    checkGradients(
      ([x, w, b]) => conv2d(x!, w!, { bias: b!, padding: 1 }),
      [input([2, 2, 4, 4], 1), input([3, 2, 3, 3], 2), input([3], 3)],
    ));
  test("conv2d: depthwise (groups = C), stride 2", () =>
    checkGradients(
      ([x, w]) => conv2d(x!, w!, { groups: 3, stride: 2, padding: 1 }),
      [input([2, 3, 5, 5], 4), input([3, 1, 3, 3], 5)],
    ));
  test("conv2d: dilation 2", () =>
    checkGradients(
      ([x, w]) => conv2d(x!, w!, { groups: 2, dilation: 2, padding: 2 }),
      [input([1, 2, 5, 5], 6), input([2, 1, 3, 3], 7)],
    ));
  test("conv2d: 1x5 and 5x1", () =>
    checkGradients(
      ([x, a, b]) => conv2d(conv2d(x!, a!, { padding: [0, 2] }), b!, { padding: [2, 0] }),
      [input([1, 2, 5, 5], 8), input([2, 2, 1, 5], 9), input([2, 2, 5, 1], 10)],
    ));
  test("conv2d: depthwise 3x3 stride 1 (the fused kernel), and dilation 2 with stride 2", () =>
    checkGradients(
      ([x, a, b]) =>
        conv2d(x!, a!, { groups: 2, padding: 1 })
          .sum()
          .add(conv2d(x!, b!, { groups: 2, padding: 2, dilation: 2, stride: 2 }).sum().mul(x!.mean())),
      [input([2, 2, 5, 6], 31), input([2, 1, 3, 3], 32), input([2, 1, 3, 3], 33)],
    ));
  test("conv2d: 1x1 stride 2 and 3x3 dense with dilation", () =>
    checkGradients(
      ([x, a, b]) =>
        conv2d(x!, a!, { stride: 2 })
          .mean()
          .add(conv2d(x!, b!, { padding: 2, dilation: 2 }).square().mean()),
      [input([2, 3, 5, 5], 34), input([2, 3, 1, 1], 35), input([2, 3, 3, 3], 36)],
    ));
  test("separableConv2d with the ReLU first (stride 1) and without (dilation 2, stride 2)", () =>
    checkGradients(
      ([x, d, p]) =>
        separableConv2d(x!, d!, p!, { padding: 1, reluFirst: true })
          .square()
          .mean()
          .add(separableConv2d(x!, d!, p!, { padding: 2, dilation: 2, stride: 2 }).mean()),
      [input([2, 2, 5, 5], 41), input([2, 1, 3, 3], 42), input([3, 2, 1, 1], 43)],
    ));
  test("avgPool2d 3x3 stride 1, count_include_pad both ways", () =>
    checkGradients(
      ([x]) =>
        avgPool2d(x!, 3, 1, 1)
          .square()
          .add(avgPool2d(x!, 3, 1, 1, true)),
      [input([2, 2, 4, 5], 37)],
    ));
  test("maxPool2d 3x3 stride 1 padding 1, and stride 2", () =>
    checkGradients(([x]) => maxPool2d(x!, 3, 1, 1).add(maxPool2d(x!, 2).mean()), [input([2, 2, 4, 4], 11)]));
  test("avgPool2d excluding and including padding", () =>
    checkGradients(([x]) => avgPool2d(x!, 3, 1, 1).add(avgPool2d(x!, 3, 2, 1, true).sum()), [input([2, 2, 5, 5], 12)]));
  test("batchNorm without affine", () =>
    checkGradients(([x]) => batchNorm(x!), [input([3, 2, 2, 2], 13)], { tol: 1e-5 }));
  test("batchNormAccumulate: acc + per-sample factor * batchNorm(z)", () =>
    checkGradients(
      ([z, a, s]) => batchNormAccumulate(a!, z!, s!).square(),
      [input([3, 2, 2, 3], 44), input([3, 2, 2, 3], 45), input([3, 1, 1, 1], 46)],
      { tol: 1e-5 },
    ));
  test("batchNorm with affine on [N, C]", () =>
    checkGradients(
      ([x, w, b]) => batchNorm(x!, { weight: w!, bias: b! }).square(),
      [input([5, 3], 38), input([3], 39), input([3], 40)],
      { tol: 1e-5 },
    ));
  test("batchNorm with affine", () =>
    checkGradients(
      ([x, w, b]) => batchNorm(x!, { weight: w!, bias: b! }),
      [input([3, 2, 2, 2], 14), input([2], 15), input([2], 16)],
      { tol: 1e-5 },
    ));
  test("relu, sigmoid, tanh, exp", () =>
    checkGradients(([x]) => x!.relu().add(x!.sigmoid()).add(x!.tanh()).add(x!.exp()), [input([3, 4], 17)]));
  test("softmax and logSoftmax", () =>
    checkGradients(([x]) => x!.softmax(1).add(x!.logSoftmax(0)), [input([3, 4], 18)]));
  test("crossEntropy (mean) of linear", () =>
    checkGradients(
      ([x, w, b]) => crossEntropy(linear(x!, w!, b!), labels([1, 0, 3])),
      [input([3, 5], 19), input([4, 5], 20), input([4], 21)],
    ));
  test("matmul, mul, div, sum, mean", () =>
    checkGradients(
      ([a, b]) => a!.matmul(b!).mul(a!.sum()).div(b!.square().mean().add(1)),
      [input([2, 3], 22), input([3, 2], 23)],
    ));
  test("cat, slice, pad, reshape, permute", () =>
    checkGradients(
      ([a, b]) =>
        cat([a!.slice(0, 1, 3), b!.pad([1, 1, 0, 0], 0.5), a!.slice(1, 0, 4, 2).reshape([2, 4])], 0)
          .reshape([-1, 8])
          .permute([1, 0]),
      [input([4, 4], 24), input([2, 2], 25)],
    ));
});

describe("grad() and noGrad", () => {
  test("grad w.r.t. a subset leaves the other leaf's .grad null and returns null for unused inputs", () =>
    tidy(() => {
      const a = tensor([1, 2, 3], [3], "float64").requiresGrad_();
      const b = tensor([4, 5, 6], [3], "float64").requiresGrad_();
      const unused = tensor([7], [1], "float64").requiresGrad_();
      const out = a.mul(b).sum();
      const [ga, gu] = grad(out, [a, unused]);
      assert.ok(ga);
      assert.deepEqual(Array.from(ga.data()), [4, 5, 6]);
      assert.equal(gu, null);
      assert.equal(a.grad, null, "grad() must not accumulate into .grad");
      assert.equal(b.grad, null, "the leaf not asked for keeps .grad null");
    }));
  test("retainGraph allows a second grad through the same graph; without it the second call throws", () =>
    tidy(() => {
      const a = tensor([1, 2], [2], "float64").requiresGrad_();
      const out = a.square().sum();
      const [g1] = grad(out, [a], { retainGraph: true });
      const [g2] = grad(out, [a]);
      assert.deepEqual(Array.from(g1!.data()), [2, 4]);
      assert.deepEqual(Array.from(g2!.data()), [2, 4]);
      assert.throws(() => grad(out, [a]), /libtorch: .*(backward through the graph a second time|freed)/);
    }));
  test("createGraph gives second-order gradients", () =>
    tidy(() => {
      const a = tensor([1, 2], [2], "float64").requiresGrad_();
      const [g] = grad(a.pow(3).sum(), [a], { createGraph: true });
      const [gg] = grad(g!.sum(), [a]);
      assert.deepEqual(Array.from(gg!.data()), [6, 12]);
    }));
  test("backward accumulates into .grad; zeroGrad clears it", () =>
    tidy(() => {
      const a = tensor([1, 2], [2], "float64").requiresGrad_();
      a.mul(3).sum().backward();
      a.mul(2).sum().backward();
      assert.deepEqual(Array.from(a.grad!.data()), [5, 5]);
      a.zeroGrad();
      assert.equal(a.grad, null);
    }));
  test("noGrad: results inside do not require grad; the mode is restored, also after a throw", () =>
    tidy(() => {
      const a = tensor([1, 2], [2]).requiresGrad_();
      assert.equal(a.mul(2).requiresGrad, true);
      const inside = noGrad(() => {
        assert.equal(isGradEnabled(), false);
        return a.mul(2).add(1);
      });
      assert.equal(inside.requiresGrad, false);
      assert.equal(isGradEnabled(), true);
      assert.throws(() =>
        noGrad(() => {
          throw new Error("boom");
        }),
      );
      assert.equal(isGradEnabled(), true);
      assert.equal(a.mul(2).requiresGrad, true);
      const nested = noGrad(() => noGrad(() => a.exp()));
      assert.equal(nested.requiresGrad, false);
      assert.equal(isGradEnabled(), true);
    }));
  test("detach cuts the graph", () =>
    tidy(() => {
      const a = tensor([1, 2], [2]).requiresGrad_();
      assert.equal(a.mul(2).detach().requiresGrad, false);
    }));
});

// ---------------------------------------------------------------- optimisers

/** torch.optim.Adam (1.13, amsgrad off, maximize off), one parameter vector, in plain JS. */
function jsAdam(
  p: number[],
  grads: number[][],
  o: { lr: number; beta1: number; beta2: number; eps: number; wd: number },
): number[] {
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  let step = 0;
  for (const g0 of grads) {
    step++;
    const g = g0.map((gi, i) => gi + o.wd * p[i]!);
    for (let i = 0; i < p.length; i++) {
      m[i] = o.beta1 * m[i]! + (1 - o.beta1) * g[i]!;
      v[i] = o.beta2 * v[i]! + (1 - o.beta2) * g[i]! * g[i]!;
      const bc1 = 1 - o.beta1 ** step;
      const bc2 = 1 - o.beta2 ** step;
      const denom = Math.sqrt(v[i]!) / Math.sqrt(bc2) + o.eps;
      p[i] = p[i]! - (o.lr / bc1) * (m[i]! / denom);
    }
  }
  return p;
}

describe("optimisers", () => {
  const p0 = randomValues(6, 30);
  const gradsSeq = Array.from({ length: 5 }, (_, k) => randomValues(6, 40 + k).map((v) => v * (k + 1)));
  for (const beta1 of [0, 0.9]) {
    for (const wd of [0, 1e-3]) {
      test(`Adam (beta1 ${beta1}, weight decay ${wd}) matches torch.optim.Adam's formula over 5 steps`, () =>
        tidy(() => {
          const p = tensor(p0, [2, 3], "float64");
          const other = tensor([1, 2], [2], "float64");
          const opt = new Adam([p, other], { lr: 0.01, beta1, weightDecay: wd });
          for (const g of gradsSeq) tidy(() => opt.apply([tensor(g, [2, 3], "float64"), null]));
          const ref = jsAdam([...p0], gradsSeq, { lr: 0.01, beta1, beta2: 0.999, eps: 1e-8, wd });
          assertClose(Array.from(p.data()), ref, 1e-12);
          assert.deepEqual(Array.from(other.data()), [1, 2], "a null gradient leaves the parameter alone");
          assert.equal(opt.step, 5);
          opt.dispose();
        }));
    }
  }
  test("Adam in float32 on a real loss decreases it", () =>
    tidy(() => {
      const w = tensor(randomValues(8, 50), [2, 4]).requiresGrad_();
      const x = tensor(randomValues(12, 51), [3, 4]);
      const y = labels([0, 1, 1]);
      const opt = new Adam([w], { lr: 0.1 });
      const lossOf = () => crossEntropy(x.matmul(w.transpose(0, 1)), y);
      const before = lossOf().item();
      for (let i = 0; i < 20; i++) tidy(() => opt.apply(grad(lossOf(), [w])));
      assert.ok(lossOf().item() < before * 0.85); // 0.49 -> 0.37 after 20 steps when written
      opt.dispose();
    }));
  test("Adam loadState copies moments and the step count", () =>
    tidy(() => {
      const a = tensor([1, 2], [2], "float64");
      const b = tensor([1, 2], [2], "float64");
      const oa = new Adam([a], { lr: 0.1 });
      const ob = new Adam([b], { lr: 0.1 });
      tidy(() => oa.apply([tensor([0.5, -1], [2], "float64")]));
      b.copy_(a);
      ob.loadState(oa.state());
      assert.equal(ob.step, 1);
      tidy(() => oa.apply([tensor([0.3, 0.2], [2], "float64")]));
      tidy(() => ob.apply([tensor([0.3, 0.2], [2], "float64")]));
      assert.deepEqual(Array.from(a.data()), Array.from(b.data()));
      oa.dispose();
      ob.dispose();
    }));
  for (const wd of [0, 1e-2]) {
    test(`SGD (weight decay ${wd}) matches p -= lr * (g + wd * p)`, () =>
      tidy(() => {
        const p = tensor(p0, [6], "float64");
        const opt = new SGD([p], 0.1, wd);
        const ref = [...p0];
        for (const g of gradsSeq) {
          tidy(() => opt.apply([tensor(g, [6], "float64")]));
          for (let i = 0; i < 6; i++) ref[i] = ref[i]! - 0.1 * (g[i]! + wd * ref[i]!);
        }
        assertClose(Array.from(p.data()), ref, 1e-12);
      }));
  }
  test("optimisers reject a gradient list of the wrong length", () =>
    tidy(() => {
      const p = tensor([1], [1]);
      const opt = new Adam([p], { lr: 1 });
      assert.throws(() => opt.apply([]), /1 parameters/);
      assert.throws(() => new SGD([p], 1).apply([null, null]), /2 gradients/);
      opt.dispose();
    }));
});

export type { Tensor };
