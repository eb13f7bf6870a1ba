// The addon's own kernels (native/src/conv.cc, pool.cc, batchnorm.cc) against PyTorch's ops on the
// same inputs: outputs, and the gradients with respect to every input of sum(output * upstream),
// in float32 and float64, over the shapes the search space uses and odd ones (sizes that do not
// divide by the stride, dilation, ties in max pooling). Skips when Debian's python3-torch is absent.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import * as E from "../../src/engine/index.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const python = "/usr/bin/python3";
const hasTorch = spawnSync(python, ["-c", "import torch"]).status === 0;

type Pair = [number, number];
type Case =
  | { op: "conv2d"; x: number[]; w: number[]; stride: Pair; padding: Pair; dilation: Pair; groups: number }
  | {
      op: "separable_conv2d";
      x: number[];
      w: number[];
      pw: number[];
      stride: Pair;
      padding: Pair;
      dilation: Pair;
      reluFirst: boolean;
    }
  | { op: "max_pool2d"; x: number[]; kernel: Pair; stride: Pair; padding: Pair; ties?: boolean }
  | { op: "avg_pool2d"; x: number[]; kernel: Pair; stride: Pair; padding: Pair; countIncludePad: boolean }
  | { op: "batch_norm"; x: number[]; affine: boolean; relu?: boolean }
  | { op: "batch_norm_accumulate"; x: number[]; acc: boolean; scale: "none" | "one" | "perSample" };

const conv = (
  x: number[],
  w: number[],
  o: Partial<{ stride: Pair; padding: Pair; dilation: Pair; groups: number }> = {},
): Case => ({
  op: "conv2d",
  x,
  w,
  stride: o.stride ?? [1, 1],
  padding: o.padding ?? [0, 0],
  dilation: o.dilation ?? [1, 1],
  groups: o.groups ?? 1,
});

const sep = (x: number[], o: Partial<{ stride: Pair; padding: Pair; dilation: Pair }>, reluFirst: boolean): Case => ({
  op: "separable_conv2d",
  x,
  w: [x[1]!, 1, 3, 3],
  pw: [5, x[1]!, 1, 1],
  stride: o.stride ?? [1, 1],
  padding: o.padding ?? [0, 0],
  dilation: o.dilation ?? [1, 1],
  reluFirst,
});

const CASES: Case[] = [
  // dense: pointwise, 1x5 and 5x1 (FacConv), the stem's 3x3, strided 1x1 (FactorizedReduce), odd sizes
  conv([3, 6, 9, 9], [5, 6, 1, 1]),
  conv([2, 4, 9, 11], [4, 4, 1, 5], { padding: [0, 2] }),
  conv([2, 4, 9, 11], [4, 4, 5, 1], { padding: [2, 0] }),
  conv([2, 4, 9, 11], [3, 4, 1, 5], { padding: [0, 2], stride: [2, 2] }),
  conv([2, 1, 8, 8], [6, 1, 3, 3], { padding: [1, 1] }),
  conv([2, 3, 9, 7], [2, 3, 1, 1], { stride: [2, 2] }),
  conv([2, 3, 7, 7], [4, 3, 3, 3], { padding: [2, 2], dilation: [2, 2] }),
  // Conv4's stride-2 3x3 (REPTILE's Omniglot model): outputs 14 wide (columns at the phase
  // planes' pitch, one sample per product), 7 and 4 wide (the same, all samples in one product), 2
  // wide (columns gathered through a table, one product); a first layer's 9 column rows for 16
  // output channels (the weight's gradient computed transposed); gathered at stride 1 and dilated; at
  // stride 1, products over groups of 17 and 3 samples (float64: 8, 8 and 4; the columns of all 20
  // would not fit); a plane large enough for one sample per product, written in place
  conv([5, 2, 28, 28], [3, 2, 3, 3], { padding: [1, 1], stride: [2, 2] }),
  conv([3, 4, 14, 14], [5, 4, 3, 3], { padding: [1, 1], stride: [2, 2] }),
  conv([3, 4, 7, 7], [5, 4, 3, 3], { padding: [1, 1], stride: [2, 2] }),
  conv([3, 4, 4, 4], [5, 4, 3, 3], { padding: [1, 1], stride: [2, 2] }),
  conv([3, 1, 12, 12], [16, 1, 3, 3], { padding: [1, 1], stride: [2, 2] }),
  conv([3, 4, 3, 3], [5, 4, 3, 3], { padding: [1, 1] }),
  conv([2, 3, 4, 4], [2, 3, 3, 3], { padding: [2, 2], dilation: [2, 2] }),
  conv([20, 28, 10, 10], [2, 28, 3, 3], { padding: [1, 1] }),
  conv([2, 2, 30, 30], [3, 2, 3, 3], { padding: [1, 1] }),
  // depthwise 3x3: stride 1 and 2, dilation 1 and 2, odd sizes
  conv([2, 5, 9, 9], [5, 1, 3, 3], { padding: [1, 1], groups: 5 }),
  conv([2, 5, 9, 7], [5, 1, 3, 3], { padding: [1, 1], stride: [2, 2], groups: 5 }),
  conv([2, 5, 8, 9], [5, 1, 3, 3], { padding: [2, 2], dilation: [2, 2], groups: 5 }),
  conv([2, 5, 9, 8], [5, 1, 3, 3], { padding: [2, 2], dilation: [2, 2], stride: [2, 2], groups: 5 }),
  conv([2, 3, 6, 6], [3, 1, 5, 5], { padding: [2, 2], groups: 3 }),
  // depthwise then pointwise as one op (DilConv), with and without the ReLU first
  sep([2, 4, 9, 9], { padding: [1, 1] }, true),
  sep([2, 4, 9, 8], { padding: [1, 1], stride: [2, 2] }, false),
  sep([2, 4, 8, 9], { padding: [2, 2], dilation: [2, 2] }, true),
  sep([2, 4, 9, 9], { padding: [2, 2], dilation: [2, 2], stride: [2, 2] }, false),
  // pooling: 3x3 pad 1 at stride 1 and 2, Conv4's 2x2 stride 2, ties
  { op: "max_pool2d", x: [2, 3, 9, 9], kernel: [3, 3], stride: [1, 1], padding: [1, 1] },
  { op: "max_pool2d", x: [2, 3, 9, 8], kernel: [3, 3], stride: [2, 2], padding: [1, 1] },
  { op: "max_pool2d", x: [2, 3, 9, 9], kernel: [2, 2], stride: [2, 2], padding: [0, 0] },
  { op: "max_pool2d", x: [2, 3, 8, 8], kernel: [3, 3], stride: [1, 1], padding: [1, 1], ties: true },
  { op: "max_pool2d", x: [2, 3, 8, 9], kernel: [3, 3], stride: [2, 2], padding: [1, 1], ties: true },
  { op: "avg_pool2d", x: [2, 3, 9, 9], kernel: [3, 3], stride: [1, 1], padding: [1, 1], countIncludePad: false },
  { op: "avg_pool2d", x: [2, 3, 9, 8], kernel: [3, 3], stride: [2, 2], padding: [1, 1], countIncludePad: false },
  { op: "avg_pool2d", x: [2, 3, 9, 9], kernel: [3, 3], stride: [2, 2], padding: [1, 1], countIncludePad: true },
  { op: "avg_pool2d", x: [2, 3, 8, 8], kernel: [2, 2], stride: [2, 2], padding: [0, 0], countIncludePad: false },
  // batch norm: 4-D with and without affine, 2-D affine; then a ReLU in the same op (Conv4's blocks)
  { op: "batch_norm", x: [4, 3, 5, 5], affine: false },
  { op: "batch_norm", x: [4, 3, 5, 5], affine: true },
  { op: "batch_norm", x: [6, 4], affine: true },
  { op: "batch_norm", x: [4, 3, 5, 5], affine: true, relu: true },
  { op: "batch_norm", x: [4, 3, 5, 5], affine: false, relu: true },
  // acc + scale * batch_norm(z): per-sample factors (drop-path) or one, with and without acc
  { op: "batch_norm_accumulate", x: [4, 3, 5, 5], acc: true, scale: "perSample" },
  { op: "batch_norm_accumulate", x: [4, 3, 5, 5], acc: true, scale: "one" },
  { op: "batch_norm_accumulate", x: [4, 3, 5, 5], acc: false, scale: "perSample" },
  { op: "batch_norm_accumulate", x: [4, 3, 5, 5], acc: true, scale: "none" },
];

/** metanas's output for one case, and the inputs gradients are taken for; tensors by name. */
function forward(c: Case, t: Map<string, E.Tensor>, name: string): { y: E.Tensor; inputs: E.Tensor[] } {
  const x = t.get(`${name}.x`)!;
  if (c.op === "conv2d") {
    const w = t.get(`${name}.w`)!;
    return {
      y: E.conv2d(x, w, { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups }),
      inputs: [x, w],
    };
  }
  if (c.op === "separable_conv2d") {
    const dw = t.get(`${name}.w`)!;
    const pw = t.get(`${name}.pw`)!;
    const o = { stride: c.stride, padding: c.padding, dilation: c.dilation, reluFirst: c.reluFirst };
    return { y: E.separableConv2d(x, dw, pw, o), inputs: [x, dw, pw] };
  }
  if (c.op === "max_pool2d") return { y: E.maxPool2d(x, c.kernel, c.stride, c.padding), inputs: [x] };
  if (c.op === "avg_pool2d")
    return { y: E.avgPool2d(x, c.kernel, c.stride, c.padding, c.countIncludePad), inputs: [x] };
  if (c.op === "batch_norm_accumulate") {
    const s = c.scale === "none" ? null : t.get(`${name}.s`)!;
    const a = c.acc ? t.get(`${name}.a`)! : null;
    return { y: E.batchNormAccumulate(a, x, s), inputs: [x, ...(s ? [s] : []), ...(a ? [a] : [])] };
  }
  if (!c.affine) return { y: E.batchNorm(x, { relu: c.relu }), inputs: [x] };
  const w = t.get(`${name}.w`)!;
  const b = t.get(`${name}.b`)!;
  return { y: E.batchNorm(x, { weight: w, bias: b, relu: c.relu }), inputs: [x, w, b] };
}

for (const dtype of ["float64", "float32"] as const) {
  test(`own kernels match PyTorch's ops (${dtype}): outputs and gradients`, {
    skip: hasTorch ? false : `skipped: ${python} with torch (Debian's python3-torch) is absent`,
  }, () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "metanas-kernels-"));
    const previous = E.getDefaultFloatDType();
    E.setDefaultFloatDType(dtype);
    try {
      E.manualSeed(5);
      const inputs = new Map<string, E.Tensor>();
      const meta: object[] = [];
      CASES.forEach((c, k) => {
        const name = `case${k}`;
        // Values from {0, 1, 2} make equal maxima inside windows: the tie rule decides the gradient.
        const x = c.op === "max_pool2d" && c.ties ? E.tidy(() => E.randint(0, 3, c.x).to(dtype)) : E.randn(c.x);
        inputs.set(`${name}.x`, x.requiresGrad_());
        if (c.op === "conv2d" || c.op === "separable_conv2d") inputs.set(`${name}.w`, E.randn(c.w).requiresGrad_());
        if (c.op === "separable_conv2d") inputs.set(`${name}.pw`, E.randn(c.pw).requiresGrad_());
        if (c.op === "batch_norm_accumulate") {
          if (c.acc) inputs.set(`${name}.a`, E.randn(c.x).requiresGrad_());
          // a drop-path-like factor: some samples zeroed, the others scaled
          if (c.scale === "perSample")
            inputs.set(`${name}.s`, E.tensor([0, 1.25, 0.5, 1.25], [4, 1, 1, 1], dtype).requiresGrad_());
          if (c.scale === "one") inputs.set(`${name}.s`, E.tensor([0.3], [1], dtype).requiresGrad_());
        }
        if (c.op === "batch_norm" && c.affine) {
          inputs.set(`${name}.w`, E.randn([c.x[1]!]).requiresGrad_());
          inputs.set(`${name}.b`, E.randn([c.x[1]!]).requiresGrad_());
        }
        const { op, ...params } = c;
        meta.push({ name, op, params });
      });
      const results = new Map<string, E.Tensor>();
      CASES.forEach((c, k) => {
        const name = `case${k}`;
        const { y, inputs: wrt } = forward(c, inputs, name);
        const g = E.randn(y.shape); // the upstream gradient
        inputs.set(`${name}.g`, g);
        results.set(`${name}.y`, y);
        const names =
          c.op === "separable_conv2d"
            ? ["x", "w", "pw"]
            : c.op === "batch_norm_accumulate"
              ? ["x", ...(c.scale === "none" ? [] : ["s"]), ...(c.acc ? ["a"] : [])]
              : ["x", "w", "b"];
        E.grad(y.mul(g).sum(), wrt).forEach((d, i) => results.set(`${name}.grad_${names[i]}`, d!));
      });
      const inFile = path.join(dir, "in.safetensors");
      const outFile = path.join(dir, "out.safetensors");
      E.saveSafetensors(inFile, inputs, { cases: JSON.stringify(meta) });
      const r = spawnSync(python, [path.join(root, "test/pytorch/kernels.py"), inFile, outFile], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      const theirs = E.loadSafetensors(outFile).tensors;
      const tol = dtype === "float64" ? 1e-10 : 2e-5;
      for (const [n, expected] of theirs) {
        const got = results.get(n);
        assert.ok(got, `metanas produced no ${n}`);
        assert.deepEqual(got.shape, expected.shape, `${n}: shape`);
        const a = got.data();
        const b = expected.data();
        let scale = 1;
        for (const v of b) scale = Math.max(scale, Math.abs(v));
        for (let i = 0; i < a.length; i++)
          assert.ok(
            Math.abs(a[i]! - b[i]!) <= tol * scale,
            `${n} (${JSON.stringify(meta[Number(n.slice(4, n.indexOf(".")))])})[${i}]: ${a[i]} vs ${b[i]}`,
          );
      }
      E.dispose([...inputs.values(), ...results.values(), ...theirs.values()]);
    } finally {
      E.setDefaultFloatDType(previous);
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
