// `npm run bench:engine`: metanas (libtorch through our addon) against Python PyTorch (Debian's
// python3-torch) on the same machine, threads, data and weights.
//   (a) per-call overhead of a tiny op: add of two 1-element tensors, result disposed;
//   (b) one training step (forward, gradients of all weights, Adam) of a conv-heavy block at
//       MetaNAS's sizes: input [20, 28, 28, 28], C = 28, 20 classes.
// The two sides run in alternation (PyTorch is a persistent subprocess), each repetition timing
// `--steps` steps after a warm-up; the figures are medians. The last line of output is one JSON
// object with metanas_ms, pytorch_ms and ratio (= metanas_ms / pytorch_ms).
// Options: --threads N (default 1), --steps N (30), --reps N (5), --calls N (200000),
//          --python PATH (/usr/bin/python3).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { median, option } from "./common.js";
import { startPython } from "./pythonSide.js";

const threads = Number(option("threads", "1"));
const steps = Number(option("steps", "30"));
const reps = Number(option("reps", "5"));
const calls = Number(option("calls", "200000"));
const python = option("python", "/usr/bin/python3");

// OpenMP reads its settings when libtorch loads: spin-waiting threads are ruinous on a busy
// machine (native/README.md), so both sides get OMP_WAIT_POLICY=PASSIVE unless the caller chose.
process.env.OMP_WAIT_POLICY ??= "PASSIVE";
const E = await import("../src/engine/index.js");
const { native } = await import("../src/engine/native.js");
const { CODES } = await import("../src/engine/constants.js");
type Tensor = InstanceType<typeof E.Tensor>;

// ---------------------------------------------------------------- data and weights (shared)
E.setNumThreads(threads);
E.manualSeed(0);
const C = 28;
const scaled = (shape: number[], fanIn: number): Tensor => E.tidy(() => E.randn(shape).mul(Math.sqrt(2 / fanIn)));
const x = E.randn([20, C, 28, 28]);
const y = E.randint(0, 20, [20]);
const weights: Record<string, Tensor> = {
  dw1: scaled([C, 1, 3, 3], 9),
  pw1: scaled([C, C, 1, 1], C),
  w15: scaled([C, C, 1, 5], 5 * C),
  w51: scaled([C, C, 5, 1], 5 * C),
  g2: E.ones([C]),
  b2: E.zeros([C]),
  dwd: scaled([C, 1, 3, 3], 9),
  pw2: scaled([C, C, 1, 1], C),
  fc_w: scaled([20, C], C),
  fc_b: E.zeros([20]),
};
const names = ["dw1", "pw1", "w15", "w51", "g2", "b2", "dwd", "pw2", "fc_w", "fc_b"];
const dir = mkdtempSync(path.join(tmpdir(), "metanas-bench-"));
const dataFile = path.join(dir, "data.safetensors");
E.saveSafetensors(dataFile, { x, y, ...weights });
const params = names.map((n) => weights[n]!.requiresGrad_());
const w = weights as Record<string, Tensor>;
const opt = new E.Adam(params, { lr: 1e-3 });

/** One training step; returns the loss. Mirrors bench/engine_pytorch.py line by line. */
function trainStep(): number {
  return E.tidy(() => {
    let h = x.relu();
    h = E.conv2d(h, w.dw1!, { padding: 1, groups: C });
    h = E.conv2d(h, w.pw1!);
    h = E.batchNorm(h);
    h = h.relu();
    h = E.conv2d(h, w.w15!, { padding: [0, 2] });
    h = E.conv2d(h, w.w51!, { padding: [2, 0] });
    h = E.batchNorm(h, { weight: w.g2!, bias: w.b2! });
    h = E.maxPool2d(h, 3, 1, 1);
    h = E.avgPool2d(h, 3, 1, 1, false);
    let r = E.conv2d(h, w.dwd!, { padding: 2, dilation: 2, groups: C });
    r = E.conv2d(r, w.pw2!);
    h = h.add(E.batchNorm(r));
    const logits = E.linear(E.globalAvgPool(h), w.fc_w!, w.fc_b!);
    const loss = E.crossEntropy(logits, y);
    opt.apply(E.grad(loss, params));
    return loss.item();
  });
}

function metanasSteps(n: number): { ms: number[]; loss: number } {
  const ms: number[] = [];
  let first = Number.NaN;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const loss = trainStep();
    ms.push(performance.now() - t0);
    if (i === 0) first = loss;
  }
  return { ms, loss: first };
}

function metanasOverhead(n: number): { tensor: number; native: number } {
  const a = E.ones([1]);
  const b = E.ones([1]);
  let t0 = performance.now();
  for (let i = 0; i < n; i++) a.add(b).dispose();
  const tensorUs = ((performance.now() - t0) * 1000) / n;
  const ai = a.id;
  const bi = b.id;
  const add = CODES.binaryOps.add;
  t0 = performance.now();
  for (let i = 0; i < n; i++) native.dispose(native.binary(ai, bi, add));
  const nativeUs = ((performance.now() - t0) * 1000) / n;
  a.dispose();
  b.dispose();
  return { tensor: tensorUs, native: nativeUs };
}

// ---------------------------------------------------------------- the PyTorch side
const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../bench/engine_pytorch.py");
const py = startPython(python, script, [dataFile, String(threads)]);
const ask = <T>(cmd: object | null) => py.ask<T>(cmd);
const hello = await ask<{ torch: string; threads: number; allocator: string }>(null);

// ---------------------------------------------------------------- run, alternating sides
const warmup = 5;
const mWarm = metanasSteps(warmup);
const pWarm = await ask<{ ms: number[]; loss: number }>({ cmd: "step", steps: warmup });
const mRep: number[] = [];
const pRep: number[] = [];
const lossPairs: [number, number][] = [[mWarm.loss, pWarm.loss]];
for (let r = 0; r < reps; r++) {
  // alternate which side goes first, to spread slow phases of a noisy machine over both
  const runM = async () => {
    const m = metanasSteps(steps);
    mRep.push(median(m.ms));
    return m.loss;
  };
  const runP = async () => {
    const p = await ask<{ ms: number[]; loss: number }>({ cmd: "step", steps });
    pRep.push(median(p.ms));
    return p.loss;
  };
  if (r % 2 === 0) lossPairs.push([await runM(), await runP()]);
  else {
    const pl = await runP();
    lossPairs.push([await runM(), pl]);
  }
  await new Promise(setImmediate);
}
const mOver: { tensor: number; native: number }[] = [];
const pOver: number[] = [];
for (let r = 0; r < reps; r++) {
  mOver.push(metanasOverhead(calls));
  pOver.push((await ask<{ us: number }>({ cmd: "overhead", calls })).us);
}
await py.close();
rmSync(dir, { recursive: true, force: true });

const metanasMs = median(mRep);
const pytorchMs = median(pRep);
const ratio = metanasMs / pytorchMs;
const ovT = median(mOver.map((o) => o.tensor));
const ovN = median(mOver.map((o) => o.native));
const ovP = median(pOver);
const maxLossDiff = Math.max(...lossPairs.map(([a, b]) => Math.abs(a - b)));

const f = (v: number, d = 2) => v.toFixed(d).padStart(9);
console.log(`metanas engine benchmark: libtorch ${E.libtorchVersion()} via addon vs Python torch ${hello.torch}`);
console.log(`threads ${threads} (PyTorch reports ${hello.threads}), OMP_WAIT_POLICY=${process.env.OMP_WAIT_POLICY}`);
console.log(`allocator policy: metanas ${E.allocatorInfo().policy}, PyTorch ${hello.allocator}`);
console.log(`training step: ${reps} repetitions x ${steps} steps after ${warmup} warm-up steps; per-step medians`);
console.log("");
console.log("                                     metanas   pytorch     ratio");
console.log(`training step (ms, median)         ${f(metanasMs)} ${f(pytorchMs)} ${f(ratio, 3)}`);
console.log(
  `  per repetition (ms)              ${mRep.map((v) => v.toFixed(2)).join(" ")} | ${pRep.map((v) => v.toFixed(2)).join(" ")}`,
);
console.log(`tiny op: 1-element add (us/call)   ${f(ovT)} ${f(ovP)} ${f(ovT / ovP, 3)}`);
console.log(`  raw addon call, no Tensor object ${f(ovN)}`);
console.log(
  `loss at the start of each repetition (metanas | pytorch): ${lossPairs.map(([a, b]) => `${a.toFixed(5)}|${b.toFixed(5)}`).join("  ")}`,
);
console.log(`largest loss difference between the sides: ${maxLossDiff.toExponential(2)}`);
console.log(
  JSON.stringify({
    metanas_ms: +metanasMs.toFixed(3),
    pytorch_ms: +pytorchMs.toFixed(3),
    ratio: +ratio.toFixed(4),
    overhead_us_metanas: +ovT.toFixed(3),
    overhead_us_metanas_native: +ovN.toFixed(3),
    overhead_us_pytorch: +ovP.toFixed(3),
    overhead_ratio: +(ovT / ovP).toFixed(3),
    threads,
    allocator: E.allocatorInfo().policy,
    allocator_pytorch: hello.allocator,
    steps,
    reps,
    max_loss_diff: +maxLossDiff.toExponential(3),
  }),
);
