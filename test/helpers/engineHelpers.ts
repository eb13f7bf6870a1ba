// Shared helpers for the engine tests: a seeded JS random source, closeness assertions, naive
// reference implementations in plain JS, and a central finite-difference gradient checker.
import assert from "node:assert/strict";
import { grad, noGrad, type Tensor, tensor, tidy } from "../../src/engine/index.js";

/** mulberry32: deterministic test data independent of libtorch's generator. */
export function jsRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
/** n values uniform in [-1, 1). */
export function randomValues(n: number, seed: number): number[] {
  const r = jsRandom(seed);
  return Array.from({ length: n }, () => r() * 2 - 1);
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5, what = "values"): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} != ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const bound = tol * Math.max(1, Math.abs(e));
    if (!(Math.abs(a - e) <= bound) && !(a === e)) {
      assert.fail(`${what}[${i}]: got ${a}, expected ${e} (tolerance ${bound})`);
    }
  }
}

const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

// ---------------------------------------------------------------- naive references (NCHW, row-major)
export interface ConvRef {
  stride?: [number, number];
  padding?: [number, number];
  dilation?: [number, number];
  groups?: number;
  bias?: number[];
}
export function naiveConv2d(
  x: number[],
  xs: [number, number, number, number],
  w: number[],
  ws: [number, number, number, number],
  o: ConvRef = {},
): { out: number[]; shape: [number, number, number, number] } {
  const [N, C, H, W] = xs;
  const [O, Cg, KH, KW] = ws;
  const [sh, sw] = o.stride ?? [1, 1];
  const [ph, pw] = o.padding ?? [0, 0];
  const [dh, dw] = o.dilation ?? [1, 1];
  const g = o.groups ?? 1;
  const OH = Math.floor((H + 2 * ph - dh * (KH - 1) - 1) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - dw * (KW - 1) - 1) / sw) + 1;
  const outPerGroup = O / g;
  const out = new Array<number>(N * O * OH * OW).fill(0);
  for (let n = 0; n < N; n++)
    for (let oc = 0; oc < O; oc++) {
      const grp = Math.floor(oc / outPerGroup);
      for (let oy = 0; oy < OH; oy++)
        for (let ox = 0; ox < OW; ox++) {
          let s = o.bias ? o.bias[oc]! : 0;
          for (let ci = 0; ci < Cg; ci++) {
            const c = grp * Cg + ci;
            for (let ky = 0; ky < KH; ky++)
              for (let kx = 0; kx < KW; kx++) {
                const iy = oy * sh - ph + ky * dh;
                const ix = ox * sw - pw + kx * dw;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                s += x[((n * C + c) * H + iy) * W + ix]! * w[((oc * Cg + ci) * KH + ky) * KW + kx]!;
              }
          }
          out[((n * O + oc) * OH + oy) * OW + ox] = s;
        }
    }
  return { out, shape: [N, O, OH, OW] };
}

export function naivePool2d(
  kind: "max" | "avg",
  x: number[],
  xs: [number, number, number, number],
  k: number,
  s: number,
  p: number,
  countIncludePad = false,
): { out: number[]; shape: [number, number, number, number] } {
  const [N, C, H, W] = xs;
  const OH = Math.floor((H + 2 * p - k) / s) + 1;
  const OW = Math.floor((W + 2 * p - k) / s) + 1;
  const out: number[] = [];
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let oy = 0; oy < OH; oy++)
        for (let ox = 0; ox < OW; ox++) {
          let best = Number.NEGATIVE_INFINITY;
          let sum = 0;
          let count = 0;
          for (let ky = 0; ky < k; ky++)
            for (let kx = 0; kx < k; kx++) {
              const iy = oy * s - p + ky;
              const ix = ox * s - p + kx;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
              const v = x[((n * C + c) * H + iy) * W + ix]!;
              best = Math.max(best, v);
              sum += v;
              count++;
            }
          out.push(kind === "max" ? best : sum / (countIncludePad ? k * k : count));
        }
  return { out, shape: [N, C, OH, OW] };
}

/** Batch norm with batch statistics (biased variance), per channel over N, H, W. */
export function naiveBatchNorm(
  x: number[],
  xs: readonly number[],
  eps: number,
  weight?: number[],
  bias?: number[],
): number[] {
  const [N, C] = xs as [number, number];
  const inner = numel(xs.slice(2));
  const out = new Array<number>(x.length);
  for (let c = 0; c < C; c++) {
    let mean = 0;
    for (let n = 0; n < N; n++) for (let i = 0; i < inner; i++) mean += x[(n * C + c) * inner + i]!;
    mean /= N * inner;
    let v = 0;
    for (let n = 0; n < N; n++) for (let i = 0; i < inner; i++) v += (x[(n * C + c) * inner + i]! - mean) ** 2;
    v /= N * inner;
    for (let n = 0; n < N; n++)
      for (let i = 0; i < inner; i++) {
        const j = (n * C + c) * inner + i;
        out[j] = ((x[j]! - mean) / Math.sqrt(v + eps)) * (weight ? weight[c]! : 1) + (bias ? bias[c]! : 0);
      }
  }
  return out;
}

/** Softmax of each row of a [rows, cols] matrix. */
export function naiveSoftmaxRows(x: number[], cols: number, log = false): number[] {
  const out: number[] = [];
  for (let r = 0; r < x.length / cols; r++) {
    const row = x.slice(r * cols, (r + 1) * cols);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
    for (const v of row) out.push(log ? v - lse : Math.exp(v - lse));
  }
  return out;
}

// ---------------------------------------------------------------- finite differences
export interface GradInput {
  values: number[];
  shape: number[];
}

/**
 * Checks grad(f(inputs)) against central differences in float64. f must return a tensor; it is
 * reduced to a scalar by a fixed random weighting so that every output element matters.
 */
export function checkGradients(
  f: (xs: Tensor[]) => Tensor,
  inputs: GradInput[],
  o: { h?: number; tol?: number; seed?: number } = {},
): void {
  const h = o.h ?? 1e-6;
  const tol = o.tol ?? 1e-6;
  const seed = o.seed ?? 99;
  const loss = (xs: Tensor[]): Tensor => {
    const y = f(xs);
    const w = tensor(randomValues(numel(y.shape), seed), y.shape, "float64");
    return y.mul(w).sum();
  };
  const analytic = tidy(() => {
    const xs = inputs.map((i) => tensor(i.values, i.shape, "float64").requiresGrad_());
    const gs = grad(loss(xs), xs);
    return gs.map((g, k) => (g ? Array.from(g.data()) : new Array<number>(inputs[k]!.values.length).fill(0)));
  });
  const evalAt = (vals: number[][]): number =>
    tidy(() => noGrad(() => loss(vals.map((v, k) => tensor(v, inputs[k]!.shape, "float64"))).item()));
  inputs.forEach((input, k) => {
    const numeric: number[] = [];
    for (let i = 0; i < input.values.length; i++) {
      const plus = inputs.map((x) => [...x.values]);
      const minus = inputs.map((x) => [...x.values]);
      plus[k]![i]! += h;
      minus[k]![i]! -= h;
      numeric.push((evalAt(plus) - evalAt(minus)) / (2 * h));
    }
    assertClose(analytic[k]!, numeric, tol, `gradient of input ${k}`);
  });
}
