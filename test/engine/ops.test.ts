// Forward values of the engine's ops, checked against values computed independently in plain JS.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  avgPool2d,
  batchNorm,
  cat,
  conv2d,
  crossEntropy,
  getRngState,
  globalAvgPool,
  labels,
  linear,
  manualSeed,
  maxPool2d,
  randn,
  setRngState,
  stack,
  type Tensor,
  tensor,
  tidy,
  where,
} from "../../src/engine/index.js";
import {
  assertClose,
  naiveBatchNorm,
  naiveConv2d,
  naivePool2d,
  naiveSoftmaxRows,
  randomValues,
} from "../helpers/engineHelpers.js";

const vals = (t: Tensor) => Array.from(t.data());

describe("elementwise", () => {
  test("binary ops with tensors and scalars, broadcasting", () =>
    tidy(() => {
      const a = tensor([1, -2, 3, 4], [2, 2]);
      const b = tensor([2, 5], [2]);
      assert.deepEqual(vals(a.add(b)), [3, 3, 5, 9]);
      assert.deepEqual(vals(a.sub(b)), [-1, -7, 1, -1]);
      assert.deepEqual(vals(a.mul(b)), [2, -10, 6, 20]);
      assertClose(vals(a.div(b)), [0.5, -0.4, 1.5, 0.8]);
      assert.deepEqual(vals(a.maximum(b)), [2, 5, 3, 5]);
      assert.deepEqual(vals(a.minimum(b)), [1, -2, 2, 4]);
      assert.deepEqual(vals(a.pow(2)), [1, 4, 9, 16]);
      assert.deepEqual(vals(a.add(1)), [2, -1, 4, 5]);
      assert.deepEqual(vals(a.sub(1)), [0, -3, 2, 3]);
      assert.deepEqual(vals(a.rsub(1)), [0, 3, -2, -3]);
      assert.deepEqual(vals(a.mul(-2)), [-2, 4, -6, -8]);
      assert.deepEqual(vals(a.div(4)), [0.25, -0.5, 0.75, 1]);
      assert.deepEqual(vals(a.maximum(0)), [1, 0, 3, 4]);
      assert.deepEqual(vals(a.minimum(0)), [0, -2, 0, 0]);
      assert.deepEqual(vals(a.eq(3)), [0, 0, 1, 0]);
      assert.deepEqual(vals(a.gt(b)), [0, 0, 1, 0]);
      assert.deepEqual(vals(a.lt(b)), [1, 1, 0, 1]);
      assert.deepEqual(vals(a.ge(3)), [0, 0, 1, 1]);
      assert.deepEqual(vals(a.le(1)), [1, 1, 0, 0]);
      assert.equal(a.gt(0).dtype, "bool");
      assert.deepEqual(vals(a.gt(0).logicalNot()), [0, 1, 0, 0]);
    }));

  test("unary ops", () =>
    tidy(() => {
      const xs = [0.5, -1.5, 2, -0.25];
      const x = tensor(xs, [4], "float64");
      assertClose(
        vals(x.neg()),
        xs.map((v) => -v),
        1e-12,
      );
      assertClose(vals(x.exp()), xs.map(Math.exp), 1e-12);
      assertClose(
        vals(x.abs().log()),
        xs.map((v) => Math.log(Math.abs(v))),
        1e-12,
      );
      assertClose(
        vals(x.abs().sqrt()),
        xs.map((v) => Math.sqrt(Math.abs(v))),
        1e-12,
      );
      assertClose(
        vals(x.relu()),
        xs.map((v) => Math.max(0, v)),
        1e-12,
      );
      assertClose(
        vals(x.sigmoid()),
        xs.map((v) => 1 / (1 + Math.exp(-v))),
        1e-12,
      );
      assertClose(vals(x.tanh()), xs.map(Math.tanh), 1e-12);
      assertClose(
        vals(x.square()),
        xs.map((v) => v * v),
        1e-12,
      );
      assert.equal(x.exp().dtype, "float64");
    }));

  test("where picks by condition", () =>
    tidy(() => {
      const a = tensor([1, 2, 3]);
      const b = tensor([10, 20, 30]);
      assert.deepEqual(vals(where(a.gt(1.5), a, b)), [10, 2, 3]);
    }));
});

describe("reductions", () => {
  const xs = randomValues(24, 1);
  const at = (i: number, j: number, k: number) => xs[(i * 3 + j) * 4 + k]!;
  test("sum and mean over axes, keepDim", () =>
    tidy(() => {
      const x = tensor(xs, [2, 3, 4], "float64");
      assertClose([x.sum().item()], [xs.reduce((a, b) => a + b, 0)], 1e-12);
      assertClose([x.mean().item()], [xs.reduce((a, b) => a + b, 0) / 24], 1e-12);
      const s1: number[] = [];
      for (let i = 0; i < 2; i++) for (let k = 0; k < 4; k++) s1.push(at(i, 0, k) + at(i, 1, k) + at(i, 2, k));
      const r = x.sum(1);
      assert.deepEqual(r.shape, [2, 4]);
      assertClose(vals(r), s1, 1e-12);
      const m02: number[] = [];
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let i = 0; i < 2; i++) for (let k = 0; k < 4; k++) s += at(i, j, k);
        m02.push(s / 8);
      }
      const m = x.mean([0, 2], true);
      assert.deepEqual(m.shape, [1, 3, 1]);
      assertClose(vals(m), m02, 1e-12);
    }));

  test("max, maxAlong, argmax, topk", () =>
    tidy(() => {
      const x = tensor([3, 9, 1, 7, -1, -5, 8, 2], [2, 4]);
      assert.equal(x.max().item(), 9);
      const { values, indices } = x.maxAlong(1);
      assert.deepEqual(vals(values), [9, 8]);
      assert.deepEqual(vals(indices), [1, 2]);
      assert.equal(indices.dtype, "int64");
      assert.deepEqual(vals(x.argmax(0)), [0, 0, 1, 0]);
      assert.deepEqual(x.argmax(1, true).shape, [2, 1]);
      const top = x.topk(2, 1);
      assert.deepEqual(vals(top.values), [9, 7, 8, 2]);
      assert.deepEqual(vals(top.indices), [1, 3, 2, 3]);
      const low = x.topk(1, 1, false);
      assert.deepEqual(vals(low.values), [1, -5]);
      assert.deepEqual(vals(low.indices), [2, 1]);
    }));
});

describe("linear algebra", () => {
  test("matmul and linear", () =>
    tidy(() => {
      const a = randomValues(6, 2);
      const b = randomValues(12, 3);
      const ref: number[] = [];
      for (let i = 0; i < 2; i++)
        for (let j = 0; j < 4; j++) {
          let s = 0;
          for (let k = 0; k < 3; k++) s += a[i * 3 + k]! * b[k * 4 + j]!;
          ref.push(s);
        }
      const p = tensor(a, [2, 3], "float64").matmul(tensor(b, [3, 4], "float64"));
      assert.deepEqual(p.shape, [2, 4]);
      assertClose(vals(p), ref, 1e-12);
      // linear: x [2,3] @ W[4,3]^T + bias[4]
      const w = randomValues(12, 4);
      const bias = [0.1, -0.2, 0.3, -0.4];
      const lref: number[] = [];
      for (let i = 0; i < 2; i++)
        for (let o = 0; o < 4; o++) {
          let s = bias[o]!;
          for (let k = 0; k < 3; k++) s += a[i * 3 + k]! * w[o * 3 + k]!;
          lref.push(s);
        }
      const x = tensor(a, [2, 3], "float64");
      const W = tensor(w, [4, 3], "float64");
      assertClose(vals(linear(x, W, tensor(bias, [4], "float64"))), lref, 1e-12);
      assertClose(
        vals(linear(x, W)),
        lref.map((v, i) => v - bias[i % 4]!),
        1e-12,
      );
    }));
});

describe("convolution", () => {
  const cases: {
    name: string;
    xs: [number, number, number, number];
    ws: [number, number, number, number];
    o: Parameters<typeof naiveConv2d>[4];
  }[] = [
    { name: "plain 3x3", xs: [2, 3, 6, 5], ws: [4, 3, 3, 3], o: {} },
    {
      name: "stride 2, padding 1, bias",
      xs: [2, 3, 7, 7],
      ws: [4, 3, 3, 3],
      o: { stride: [2, 2], padding: [1, 1], bias: [0.5, -1, 2, 0] },
    },
    { name: "dilation 2, padding 2", xs: [1, 2, 8, 8], ws: [3, 2, 3, 3], o: { padding: [2, 2], dilation: [2, 2] } },
    { name: "groups 2", xs: [2, 4, 5, 5], ws: [6, 2, 3, 3], o: { groups: 2, padding: [1, 1] } },
    {
      name: "depthwise (groups = C), stride 2",
      xs: [2, 3, 6, 6],
      ws: [3, 1, 3, 3],
      o: { groups: 3, stride: [2, 2], padding: [1, 1] },
    },
    { name: "1x5 with padding [0, 2]", xs: [1, 2, 5, 6], ws: [2, 2, 1, 5], o: { padding: [0, 2] } },
    {
      name: "5x1 with padding [2, 0], stride [1, 2]",
      xs: [1, 2, 6, 5],
      ws: [2, 2, 5, 1],
      o: { padding: [2, 0], stride: [1, 2] },
    },
  ];
  for (const c of cases) {
    test(`conv2d ${c.name} matches a naive loop`, () =>
      tidy(() => {
        const x = randomValues(
          c.xs.reduce((a, b) => a * b),
          10,
        );
        const w = randomValues(
          c.ws.reduce((a, b) => a * b),
          11,
        );
        const ref = naiveConv2d(x, c.xs, w, c.ws, c.o);
        const y = conv2d(tensor(x, c.xs), tensor(w, c.ws), {
          bias: c.o?.bias ? tensor(c.o.bias) : null,
          stride: c.o?.stride,
          padding: c.o?.padding,
          dilation: c.o?.dilation,
          groups: c.o?.groups,
        });
        assert.deepEqual(y.shape, ref.shape);
        assertClose(vals(y), ref.out, 1e-5);
      }));
  }
});

describe("pooling", () => {
  test("avgPool2d excludes padding from the count by default: a corner window divides by 4", () =>
    tidy(() => {
      const x = tensor(
        Array.from({ length: 16 }, (_, i) => i + 1),
        [1, 1, 4, 4],
      );
      const y = avgPool2d(x, 3, 1, 1);
      assert.deepEqual(y.shape, [1, 1, 4, 4]);
      // top-left window holds 1, 2, 5, 6 only: (1+2+5+6)/4 = 3.5 (a count of 9 would give 1.556)
      assert.equal(y.data()[0], 3.5);
      const withPad = avgPool2d(x, 3, 1, 1, true);
      assertClose([withPad.data()[0]!], [14 / 9]);
      const xs = Array.from(x.data());
      assertClose(vals(y), naivePool2d("avg", xs, [1, 1, 4, 4], 3, 1, 1).out);
      assertClose(vals(withPad), naivePool2d("avg", xs, [1, 1, 4, 4], 3, 1, 1, true).out);
    }));

  test("avgPool2d and maxPool2d on random data, stride 2", () =>
    tidy(() => {
      const xs = randomValues(2 * 3 * 7 * 7, 5);
      const x = tensor(xs, [2, 3, 7, 7]);
      const a = avgPool2d(x, 3, 2, 1);
      const ar = naivePool2d("avg", xs, [2, 3, 7, 7], 3, 2, 1);
      assert.deepEqual(a.shape, ar.shape);
      assertClose(vals(a), ar.out);
      const m = maxPool2d(x, 3, 2, 1);
      const mr = naivePool2d("max", xs, [2, 3, 7, 7], 3, 2, 1);
      assert.deepEqual(m.shape, mr.shape);
      assertClose(vals(m), mr.out);
      const m2 = maxPool2d(x, 2);
      assert.deepEqual(m2.shape, [2, 3, 3, 3]);
      assertClose(vals(m2), naivePool2d("max", xs, [2, 3, 7, 7], 2, 2, 0).out);
    }));

  test("maxPool2d of an all-negative window returns the largest negative, not the zero padding", () =>
    tidy(() => {
      const xs = [-5, -3, -7, -2, -9, -4, -8, -6, -1];
      const y = maxPool2d(tensor(xs, [1, 1, 3, 3]), 3, 1, 1);
      assert.deepEqual(vals(y), naivePool2d("max", xs, [1, 1, 3, 3], 3, 1, 1).out);
      assert.equal(y.data()[0], -2); // window of -5, -3, -2, -9: padding must not count as 0
      assert.ok(vals(y).every((v) => v < 0));
    }));

  test("globalAvgPool averages H and W", () =>
    tidy(() => {
      const xs = randomValues(2 * 3 * 4 * 5, 6);
      const y = globalAvgPool(tensor(xs, [2, 3, 4, 5], "float64"));
      assert.deepEqual(y.shape, [2, 3]);
      const ref: number[] = [];
      for (let i = 0; i < 6; i++) ref.push(xs.slice(i * 20, i * 20 + 20).reduce((a, b) => a + b, 0) / 20);
      assertClose(vals(y), ref, 1e-12);
    }));
});

describe("batch norm", () => {
  const shape = [4, 3, 2, 3];
  const xs = randomValues(72, 7).map((v, i) => v * (1 + (i % 3)) + 0.5);
  test("without affine, default eps 1e-5, biased variance", () =>
    tidy(() => {
      const y = batchNorm(tensor(xs, shape, "float64"));
      assertClose(vals(y), naiveBatchNorm(xs, shape, 1e-5), 1e-10);
      // an unbiased variance or a missing eps would give different numbers: check eps matters
      const big = batchNorm(tensor(xs, shape, "float64"), { eps: 0.5 });
      assertClose(vals(big), naiveBatchNorm(xs, shape, 0.5), 1e-10);
    }));
  test("with affine weight and bias", () =>
    tidy(() => {
      const w = [1.5, -0.5, 2];
      const b = [0.1, 0.2, -0.3];
      const y = batchNorm(tensor(xs, shape, "float64"), {
        weight: tensor(w, [3], "float64"),
        bias: tensor(b, [3], "float64"),
      });
      assertClose(vals(y), naiveBatchNorm(xs, shape, 1e-5, w, b), 1e-10);
    }));
  test("2-D input [N, C]", () =>
    tidy(() => {
      const v = randomValues(12, 8);
      assertClose(vals(batchNorm(tensor(v, [4, 3], "float64"))), naiveBatchNorm(v, [4, 3], 1e-5), 1e-10);
    }));
});

describe("softmax and cross-entropy", () => {
  const xs = randomValues(12, 9).map((v) => v * 3);
  test("softmax and logSoftmax along the last dim and dim 0", () =>
    tidy(() => {
      const x = tensor(xs, [3, 4], "float64");
      assertClose(vals(x.softmax(1)), naiveSoftmaxRows(xs, 4), 1e-12);
      assertClose(vals(x.logSoftmax(-1)), naiveSoftmaxRows(xs, 4, true), 1e-12);
      const t = x.transpose(0, 1).contiguous();
      assertClose(vals(x.softmax(0).transpose(0, 1).contiguous()), naiveSoftmaxRows(vals(t), 3), 1e-12);
    }));
  test("crossEntropy mean, sum and none", () =>
    tidy(() => {
      const ys = [3, 0, 2];
      const logp = naiveSoftmaxRows(xs, 4, true);
      const per = ys.map((y, i) => -logp[i * 4 + y]!);
      const x = tensor(xs, [3, 4], "float64");
      const l = labels(ys);
      assert.equal(l.dtype, "int64");
      assertClose([crossEntropy(x, l).item()], [per.reduce((a, b) => a + b) / 3], 1e-12);
      assertClose([crossEntropy(x, l, "sum").item()], [per.reduce((a, b) => a + b)], 1e-12);
      assertClose(vals(crossEntropy(x, l, "none")), per, 1e-12);
    }));
});

describe("shape ops", () => {
  const xs = Array.from({ length: 24 }, (_, i) => i);
  test("reshape, permute, transpose, contiguous", () =>
    tidy(() => {
      const x = tensor(xs, [2, 3, 4]);
      assert.deepEqual(x.reshape([4, 6]).shape, [4, 6]);
      assert.deepEqual(vals(x.reshape([6, 4])), xs);
      const p = x.permute([2, 0, 1]);
      assert.deepEqual(p.shape, [4, 2, 3]);
      const ref: number[] = [];
      for (let k = 0; k < 4; k++)
        for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) ref.push(xs[(i * 3 + j) * 4 + k]!);
      assert.deepEqual(vals(p), ref); // data() of a non-contiguous view is row-major in the view's order
      assert.deepEqual(vals(p.contiguous()), ref);
      const t = tensor(xs.slice(0, 6), [2, 3]).transpose(0, 1);
      assert.deepEqual(t.shape, [3, 2]);
      assert.deepEqual(vals(t), [0, 3, 1, 4, 2, 5]);
    }));
  test("slice with start, end and step", () =>
    tidy(() => {
      const x = tensor(xs, [4, 6]);
      const s = x.slice(1, 1, 5, 2);
      assert.deepEqual(s.shape, [4, 2]);
      assert.deepEqual(vals(s), [1, 3, 7, 9, 13, 15, 19, 21]);
      assert.deepEqual(vals(x.slice(0, 2, 3)), [12, 13, 14, 15, 16, 17]);
    }));
  test("pad: last dim first, constant value", () =>
    tidy(() => {
      const x = tensor([1, 2, 3, 4], [1, 2, 2]);
      const p = x.pad([1, 0, 0, 1], -1);
      assert.deepEqual(p.shape, [1, 3, 3]);
      assert.deepEqual(vals(p), [-1, 1, 2, -1, 3, 4, -1, -1, -1]);
    }));
  test("cat and stack", () =>
    tidy(() => {
      const a = tensor([1, 2, 3, 4], [2, 2]);
      const b = tensor([5, 6], [1, 2]);
      const c0 = cat([a, b], 0);
      assert.deepEqual(c0.shape, [3, 2]);
      assert.deepEqual(vals(c0), [1, 2, 3, 4, 5, 6]);
      const c1 = cat([a, a.mul(10)], 1);
      assert.deepEqual(vals(c1), [1, 2, 10, 20, 3, 4, 30, 40]);
      const s = stack([a, a.add(1)], 1);
      assert.deepEqual(s.shape, [2, 2, 2]);
      assert.deepEqual(vals(s), [1, 2, 2, 3, 3, 4, 4, 5]);
    }));
  test("indexSelect, flip, rot90, clone, to(dtype)", () =>
    tidy(() => {
      const x = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
      assert.deepEqual(vals(x.indexSelect(1, labels([2, 0]))), [3, 1, 6, 4]);
      assert.deepEqual(vals(x.flip([1])), [3, 2, 1, 6, 5, 4]);
      const r = x.rot90(1, [0, 1]);
      assert.deepEqual(r.shape, [3, 2]);
      assert.deepEqual(vals(r), [3, 6, 2, 5, 1, 4]); // torch.rot90([[1,2,3],[4,5,6]]) = [[3,6],[2,5],[1,4]]
      const c = x.clone();
      c.fill_(0);
      assert.deepEqual(vals(x), [1, 2, 3, 4, 5, 6]);
      assert.equal(x.to("float64").dtype, "float64");
      assert.deepEqual(vals(tensor([1.7, -1.7]).to("int64")), [1, -1]);
    }));
  test("in-place copy_, addScaled_, mul_, fill_", () =>
    tidy(() => {
      const x = tensor([1, 2, 3]);
      x.addScaled_(tensor([1, 1, 1]), 0.5);
      assert.deepEqual(vals(x), [1.5, 2.5, 3.5]);
      x.mul_(2);
      assert.deepEqual(vals(x), [3, 5, 7]);
      x.copy_(tensor([9, 8, 7]));
      assert.deepEqual(vals(x), [9, 8, 7]);
      x.fill_(4);
      assert.deepEqual(vals(x), [4, 4, 4]);
    }));
});

describe("random generator", () => {
  test("manualSeed(0); randn([2, 3]) equals PyTorch's torch.manual_seed(0); torch.randn(2, 3)", () =>
    tidy(() => {
      // Reference values printed by Debian's python3-torch 1.13.1.
      manualSeed(0);
      assertClose(vals(randn([2, 3])), [1.541, -0.2934, -2.1788, 0.5684, -1.0845, -1.3986], 1e-4);
    }));
  test("getRngState / setRngState replay the same draws", () =>
    tidy(() => {
      manualSeed(123);
      randn([5]);
      const state = getRngState();
      assert.equal(state.dtype, "uint8");
      const first = vals(randn([7]));
      const second = vals(randn([3]));
      assert.notDeepEqual(first.slice(0, 3), second);
      setRngState(state);
      assert.deepEqual(vals(randn([7])), first);
      assert.deepEqual(vals(randn([3])), second);
    }));
});
