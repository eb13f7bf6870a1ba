// `npm run bench:network`: a network of metanas against an independent PyTorch implementation of
// it (through bench/network_pytorch.py) with the same weights, input, threads and allocator policy.
// --model picks the network:
//   search (default)  the one-shot network (test/pytorch/search_network.py on the PyTorch side)
//                     with the same architecture, temperature, threshold and drop-path;
//   conv4-stride      REPTILE's Omniglot Conv4: stride-2 convolutions, 64 channels, batch 10 of
//                     1x28x28, 5 ways (preset reptile-omniglot-5way-1shot);
//   conv4-maxpool     REPTILE's MiniImagenet Conv4: max-pooling, 32 channels, batch 10 of 3x84x84,
//                     5 ways (preset reptile-miniimagenet-5way-1shot);
// the Conv4 forms against python/metanas_torch.py's Conv4 and torch.optim.Adam(betas=(0, 0.999)).
// Three passes are timed, each side in alternation within one process pair:
//   full     forward, then gradients of all weights and the architecture (no update);
//   arch     the task learner's architecture step (gradients of alpha and beta only, Adam);
//   weights  the task learner's weight step (gradients of the weights only, Adam): for Conv4, one
//            inner step of REPTILE (forward, cross-entropy, gradients, Adam with beta1 = 0).
// The run is repeated in --processes fresh process pairs (the allocator's behaviour is decided
// per process), and the last line is JSON with every process's medians and the median ratios.
// --profile instead runs one process pair with a per-op breakdown (self time per pass) of each
// side, libtorch's operator hooks on both: where the two implementations spend their time.
// Defaults for search: the omniglot-20way-1shot preset (C = 28, 4 cells, batch 20 of 1x28x28,
// 20 ways, T = 1, threshold 0.01, drop-path 0.2), 1 thread. MiniImagenet's pass: --size 84
// --input-channels 3 (--pytorch off times metanas alone). Conv4: kinds full and weights.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { PresetValues } from "../src/runs/config.js";
import { median, option } from "./common.js";
import { type PythonSide, startPython } from "./pythonSide.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const MODELS = {
  search: { preset: "omniglot-20way-1shot", channels: 28, batch: 20, size: 28, inputChannels: 1, ways: 20 },
  "conv4-stride": {
    preset: "reptile-omniglot-5way-1shot",
    channels: 64,
    batch: 10,
    size: 28,
    inputChannels: 1,
    ways: 5,
  },
  "conv4-maxpool": {
    preset: "reptile-miniimagenet-5way-1shot",
    channels: 32,
    batch: 10,
    size: 84,
    inputChannels: 3,
    ways: 5,
  },
} as const;
type ModelName = keyof typeof MODELS;
const modelName = option("model", "search") as ModelName;
if (!(modelName in MODELS)) {
  console.error(`bench:network: unknown --model ${modelName}; use one of ${Object.keys(MODELS).join(", ")}`);
  process.exit(2);
}
const d = MODELS[modelName];
const conv4 = modelName !== "search";
const preset = d.preset;
const o = {
  model: modelName,
  channels: Number(option("channels", String(d.channels))),
  batch: Number(option("batch", String(d.batch))),
  size: Number(option("size", String(d.size))),
  inputChannels: Number(option("input-channels", String(d.inputChannels))),
  ways: Number(option("ways", String(d.ways))),
  threads: Number(option("threads", "1")),
  temperature: Number(option("temperature", "1")),
  threshold: Number(option("threshold", "0.01")),
  dropPath: Number(option("drop-path", conv4 ? "0" : "0.2")),
  reps: Number(option("reps", "3")),
  passes: Number(option("passes", "3")),
  processes: Number(option("processes", "3")),
  kinds: option("kinds", conv4 ? "full,weights" : "full,arch,weights").split(",") as Kind[],
  python: option("python", "/usr/bin/python3"),
  /** --pytorch off: metanas alone (e.g. MiniImagenet's pass, where PyTorch's side needs 12 GB more). */
  pytorch: option("pytorch", "on") !== "off",
  seed: Number(option("seed", "0")),
};
if (conv4 && o.kinds.includes("arch")) {
  console.error("bench:network: Conv4 has no architecture step; use --kinds full,weights");
  process.exit(2);
}
type Kind = "full" | "arch" | "weights";
const profile = process.argv.includes("--profile");
const isChild = process.argv.includes("--child");

interface KindResult {
  metanas_ms: number;
  pytorch_ms: number;
  ratio: number;
  /** The same from each process's CPU time, which a busy machine disturbs less than wall time. */
  metanas_cpu_ms: number;
  pytorch_cpu_ms: number;
  cpu_ratio: number;
  /** Per-repetition medians of each side. */
  metanas_reps: number[];
  pytorch_reps: number[];
  metanas_forward_ms?: number;
  pytorch_forward_ms?: number;
}
interface ProcessResult {
  kinds: Partial<Record<Kind, KindResult>>;
  loss_metanas: number;
  loss_pytorch: number;
  max_rss_mb_metanas: number;
  max_rss_mb_pytorch: number;
  allocator: string;
  allocator_pytorch: string;
}

/** Stands in for the PyTorch side with --pytorch off: every figure NaN. */
function absentPython(): PythonSide {
  return {
    async ask<T>(cmd: object | null): Promise<T> {
      const passes = (cmd as { passes?: number } | null)?.passes ?? 0;
      const nan = Array.from({ length: passes }, () => Number.NaN);
      return {
        allocator: "none",
        loss: Number.NaN,
        ms: nan,
        cpu_ms: nan,
        forward_ms: nan,
        ops: [],
        max_rss_kb: Number.NaN,
      } as T;
    },
    async close() {},
  };
}

// ---------------------------------------------------------------- one process pair
async function child(): Promise<void> {
  // OpenMP reads its settings when libtorch loads (LIBTORCH-NOTES): both sides get PASSIVE.
  process.env.OMP_WAIT_POLICY ??= "PASSIVE";
  const E = await import("../src/engine/index.js");
  const { SearchModel } = await import("../src/models/searchModel.js");
  const { Conv4Model } = await import("../src/models/conv4.js");
  const { PRESETS } = await import("../src/runs/presets.js");
  const { TaskOptimizers } = await import("../src/tasklearner/optimizers.js");
  const { architectureStep, weightStep } = await import("../src/tasklearner/taskLearner.js");
  const p: PresetValues = PRESETS[preset];
  const lrWeights = p.lrWeights ?? Number.NaN;

  E.setNumThreads(o.threads);
  E.manualSeed(o.seed);
  const downsampling = modelName === "conv4-stride" ? "stride" : "maxpool";
  const conv4Model = conv4
    ? new Conv4Model({
        inputShape: [o.inputChannels, o.size, o.size],
        classes: o.ways,
        channels: o.channels,
        downsampling,
      })
    : null;
  const searchModel = conv4
    ? null
    : new SearchModel(
        {
          inputChannels: o.inputChannels,
          classes: o.ways,
          channels: o.channels,
          cells: p.cells!,
          reductions: [...p.reductions!],
          nodes: p.nodes!,
          stemMultiplier: 3,
        },
        "metanas",
      );
  const model = (conv4Model ?? searchModel)!;
  const opt = new TaskOptimizers(model, {
    lrWeights,
    lrArch: p.lrArch ?? Number.NaN,
    weightDecay: p.weightDecay ?? 0,
    archWeightDecay: p.archWeightDecay ?? 0,
  });
  const batch = {
    x: E.rand([o.batch, o.inputChannels, o.size, o.size]),
    y: E.labels(Array.from({ length: o.batch }, (_, i) => i % o.ways)),
  };
  const phase = { temperature: o.temperature, threshold: o.threshold, dropPath: o.dropPath };
  const dir = mkdtempSync(path.join(tmpdir(), "metanas-bench-network-"));
  const file = path.join(dir, "network.safetensors");
  const named = conv4Model
    ? conv4Model.net.namedParameters()
    : [...searchModel!.net.namedParameters(), ...searchModel!.architecture.namedParameters()];
  const config = conv4Model
    ? { model: "conv4", downsampling, channels: o.channels, ways: o.ways, lrWeights, weightDecay: p.weightDecay ?? 0 }
    : {
        cells: p.cells,
        reductions: p.reductions,
        nodes: p.nodes,
        temperature: o.temperature,
        threshold: o.threshold,
        dropPath: o.dropPath,
        lrArch: p.lrArch,
        lrWeights,
        archWeightDecay: p.archWeightDecay,
      };
  E.saveSafetensors(file, new Map([...named, ["input", batch.x], ["labels", batch.y]]), {
    config: JSON.stringify(config),
  });
  const py = o.pytorch
    ? startPython(o.python, path.resolve(here, "../../bench/network_pytorch.py"), [file, String(o.threads)])
    : absentPython();
  const hello = await py.ask<{ allocator: string }>(null);
  rmSync(dir, { recursive: true, force: true });

  const turn = () => new Promise((resolve) => setImmediate(resolve));
  const all = [...model.weights, ...model.arch];
  const cpuNow = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  /** One metanas pass; returns [wall ms, CPU ms, forward wall ms (full pass only)]. */
  const onePass = (kind: Kind): [number, number, number] => {
    const t0 = performance.now();
    const c0 = cpuNow();
    let t1 = Number.NaN;
    if (kind === "full") {
      E.tidy(() => {
        const loss = E.crossEntropy(model.forward(batch.x, phase), batch.y);
        loss.item();
        t1 = performance.now() - t0;
        E.grad(loss, all);
      });
    } else if (kind === "arch") architectureStep(model, opt.arch!, batch, phase);
    else weightStep(model, opt.weights, batch, phase);
    return [performance.now() - t0, cpuNow() - c0, t1];
  };
  const metanasPasses = async (kind: Kind, n: number) => {
    const ms: number[] = [];
    const cpu: number[] = [];
    const fwd: number[] = [];
    for (let i = 0; i < n; i++) {
      const [t, c, f] = onePass(kind);
      ms.push(t);
      cpu.push(c);
      fwd.push(f);
      await turn();
    }
    return { ms, cpu_ms: cpu, forward_ms: fwd };
  };
  const pytorchPasses = (kind: Kind, n: number) =>
    py.ask<{ ms: number[]; cpu_ms: number[]; forward_ms: number[] }>({ cmd: "time", kind, passes: n });

  const lossMetanas = E.tidy(() =>
    E.noGrad(() => E.crossEntropy(model.forward(batch.x, { ...phase, dropPath: 0 }), batch.y).item()),
  );
  const lossPytorch = (await py.ask<{ loss: number }>({ cmd: "check" })).loss;

  if (profile) {
    const tables: Record<string, unknown> = {};
    for (const kind of o.kinds) {
      await metanasPasses(kind, 1);
      await pytorchPasses(kind, 1);
      const ms: number[] = [];
      const { ops } = E.profileOps(() => {
        for (let i = 0; i < o.passes; i++) ms.push(onePass(kind)[0]);
      });
      const theirs = await py.ask<{ ops: typeof ops; ms: number[] }>({ cmd: "profile", kind, passes: o.passes });
      tables[kind] = { metanas: { ops, ms }, pytorch: theirs };
    }
    console.log(
      JSON.stringify({ profile: tables, passes: o.passes, loss_metanas: lossMetanas, loss_pytorch: lossPytorch }),
    );
    await py.close();
    return;
  }

  // Warm-up: one pass of each kind on each side.
  for (const kind of o.kinds) {
    await metanasPasses(kind, 1);
    await pytorchPasses(kind, 1);
  }
  const kinds: ProcessResult["kinds"] = {};
  for (const kind of o.kinds) {
    const mReps: number[] = [];
    const pReps: number[] = [];
    const mCpu: number[] = [];
    const pCpu: number[] = [];
    const mFwd: number[] = [];
    const pFwd: number[] = [];
    for (let r = 0; r < o.reps; r++) {
      // Alternate which side goes first, to spread slow phases of a noisy machine over both.
      const runM = async () => {
        const m = await metanasPasses(kind, o.passes);
        mReps.push(median(m.ms));
        mCpu.push(median(m.cpu_ms));
        if (kind === "full") mFwd.push(median(m.forward_ms));
      };
      const runP = async () => {
        const q = await pytorchPasses(kind, o.passes);
        pReps.push(median(q.ms));
        pCpu.push(median(q.cpu_ms));
        if (kind === "full") pFwd.push(median(q.forward_ms));
      };
      if (r % 2 === 0) {
        await runM();
        await runP();
      } else {
        await runP();
        await runM();
      }
    }
    const m = median(mReps);
    const q = median(pReps);
    kinds[kind] = {
      metanas_ms: m,
      pytorch_ms: q,
      ratio: m / q,
      metanas_cpu_ms: median(mCpu),
      pytorch_cpu_ms: median(pCpu),
      cpu_ratio: median(mCpu) / median(pCpu),
      metanas_reps: mReps,
      pytorch_reps: pReps,
      ...(kind === "full" ? { metanas_forward_ms: median(mFwd), pytorch_forward_ms: median(pFwd) } : {}),
    };
  }
  const pyMem = await py.ask<{ max_rss_kb: number }>({ cmd: "memory" });
  await py.close();
  const result: ProcessResult = {
    kinds,
    loss_metanas: lossMetanas,
    loss_pytorch: lossPytorch,
    max_rss_mb_metanas: process.resourceUsage().maxRSS / 1024,
    max_rss_mb_pytorch: pyMem.max_rss_kb / 1024,
    allocator: E.allocatorInfo().policy,
    allocator_pytorch: hello.allocator,
  };
  console.log(JSON.stringify(result));
}

// ---------------------------------------------------------------- the driver
function runChild(extra: string[]): string {
  const args = [fileURLToPath(import.meta.url), "--child", ...process.argv.slice(2), ...extra];
  const r = spawnSync(process.execPath, args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  if (r.status !== 0) throw new Error(`bench:network: a benchmark process failed (exit ${r.status})`);
  const lines = r.stdout.trim().split("\n");
  return lines[lines.length - 1]!;
}

// NaN figures (no PyTorch side) come back from JSON as null.
const f = (v: number | null, d = 1) => (v ?? Number.NaN).toFixed(d);

interface ProfileRow {
  name: string;
  selfUs: number;
  calls: number;
}
function printProfile(kind: string, mine: ProfileRow[], theirs: ProfileRow[], ms: [number[], number[]]): object {
  const perPass = (rows: ProfileRow[]) =>
    new Map(rows.map((r) => [r.name, { ms: r.selfUs / 1000 / o.passes, calls: r.calls / o.passes }]));
  const a = perPass(mine);
  const b = perPass(theirs);
  const names = [...new Set([...a.keys(), ...b.keys()])];
  const rows = names
    .map((name) => ({ name, metanas: a.get(name) ?? { ms: 0, calls: 0 }, pytorch: b.get(name) ?? { ms: 0, calls: 0 } }))
    .sort((x, y) => Math.max(y.metanas.ms, y.pytorch.ms) - Math.max(x.metanas.ms, x.pytorch.ms));
  const sumA = [...a.values()].reduce((s, v) => s + v.ms, 0);
  const sumB = [...b.values()].reduce((s, v) => s + v.ms, 0);
  const passA = median(ms[0]);
  const passB = median(ms[1]);
  console.log(`\n${kind} pass, self time per pass (ms) and calls per pass, ${o.passes} profiled passes`);
  console.log(
    `${"op".padEnd(44)} ${"metanas".padStart(9)} ${"calls".padStart(6)} ${"pytorch".padStart(9)} ${"calls".padStart(6)}`,
  );
  for (const r of rows.filter((r) => Math.max(r.metanas.ms, r.pytorch.ms) >= 1)) {
    console.log(
      `${r.name.slice(0, 44).padEnd(44)} ${f(r.metanas.ms).padStart(9)} ${f(r.metanas.calls, 0).padStart(6)} ${f(r.pytorch.ms).padStart(9)} ${f(r.pytorch.calls, 0).padStart(6)}`,
    );
  }
  console.log(`${"sum of op self times".padEnd(44)} ${f(sumA).padStart(9)} ${"".padStart(6)} ${f(sumB).padStart(9)}`);
  console.log(
    `${"pass (profiled, median)".padEnd(44)} ${f(passA).padStart(9)} ${"".padStart(6)} ${f(passB).padStart(9)}`,
  );
  console.log(
    `${"outside ops (JS or Python, binding)".padEnd(44)} ${f(passA - sumA).padStart(9)} ${"".padStart(6)} ${f(passB - sumB).padStart(9)}`,
  );
  return {
    pass_ms: { metanas: passA, pytorch: passB },
    ops: rows.map((r) => ({
      name: r.name,
      metanas_ms: r.metanas.ms,
      pytorch_ms: r.pytorch.ms,
      metanas_calls: r.metanas.calls,
      pytorch_calls: r.pytorch.calls,
    })),
  };
}

async function driver(): Promise<void> {
  const setting = `${o.model}, C = ${o.channels}, batch ${o.batch} of ${o.inputChannels}x${o.size}x${o.size}, ${o.ways} ways, T = ${o.temperature}, threshold ${o.threshold}, drop-path ${o.dropPath}, ${o.threads} thread(s)`;
  console.log(`${conv4 ? "Conv4" : "one-shot network"} (${preset} preset): ${setting}`);
  if (profile) {
    const r = JSON.parse(runChild([])) as {
      profile: Record<
        string,
        { metanas: { ops: ProfileRow[]; ms: number[] }; pytorch: { ops: ProfileRow[]; ms: number[] } }
      >;
      loss_metanas: number;
      loss_pytorch: number;
    };
    const out: Record<string, object> = {};
    for (const [kind, t] of Object.entries(r.profile))
      out[kind] = printProfile(kind, t.metanas.ops, t.pytorch.ops, [t.metanas.ms, t.pytorch.ms]);
    console.log(`\nloss without drop-path: metanas ${r.loss_metanas}, pytorch ${r.loss_pytorch}`);
    console.log(JSON.stringify({ profile: out, passes: o.passes, setting }));
    return;
  }
  const results: ProcessResult[] = [];
  for (let k = 0; k < o.processes; k++) {
    const r = JSON.parse(runChild([])) as ProcessResult;
    results.push(r);
    const parts = o.kinds.map((kind) => {
      const x = r.kinds[kind]!;
      return `${kind} ${f(x.metanas_ms)} vs ${f(x.pytorch_ms)} ms (${f(x.ratio, 3)}; CPU ${f(x.cpu_ratio, 3)})`;
    });
    console.log(
      `process pair ${k + 1}: ${parts.join(", ")}; peak RSS ${f(r.max_rss_mb_metanas, 0)} vs ${f(r.max_rss_mb_pytorch, 0)} MB`,
    );
  }
  const summary: Record<string, object> = {};
  for (const kind of o.kinds) {
    const rs = results.map((r) => r.kinds[kind]!);
    summary[kind] = {
      ratio: median(rs.map((x) => x.ratio)),
      ratios: rs.map((x) => +f(x.ratio, 4)),
      cpu_ratio: median(rs.map((x) => x.cpu_ratio)),
      cpu_ratios: rs.map((x) => +f(x.cpu_ratio, 4)),
      metanas_cpu_ms: median(rs.map((x) => x.metanas_cpu_ms)),
      pytorch_cpu_ms: median(rs.map((x) => x.pytorch_cpu_ms)),
      metanas_ms: median(rs.map((x) => x.metanas_ms)),
      pytorch_ms: median(rs.map((x) => x.pytorch_ms)),
      metanas_ms_per_process: rs.map((x) => +f(x.metanas_ms)),
      pytorch_ms_per_process: rs.map((x) => +f(x.pytorch_ms)),
      ...(kind === "full"
        ? {
            metanas_forward_ms: median(rs.map((x) => x.metanas_forward_ms!)),
            pytorch_forward_ms: median(rs.map((x) => x.pytorch_forward_ms!)),
          }
        : {}),
    };
    const s = summary[kind] as { ratio: number; metanas_ms: number; pytorch_ms: number };
    console.log(
      `${kind.padEnd(8)} median over ${o.processes} process pairs: metanas ${f(s.metanas_ms)} ms, PyTorch ${f(s.pytorch_ms)} ms, ratio ${f(s.ratio, 3)}`,
    );
  }
  const losses = results.map((r) => Math.abs(r.loss_metanas - r.loss_pytorch));
  console.log(`loss without drop-path, metanas vs PyTorch: ${results[0]!.loss_metanas} vs ${results[0]!.loss_pytorch}`);
  console.log(
    JSON.stringify({
      ...summary,
      setting: { ...o, python: undefined },
      max_loss_diff: Math.max(...losses),
      max_rss_mb_metanas: Math.max(...results.map((r) => r.max_rss_mb_metanas)),
      max_rss_mb_pytorch: Math.max(...results.map((r) => r.max_rss_mb_pytorch)),
      allocator: results[0]!.allocator,
      allocator_pytorch: results[0]!.allocator_pytorch,
    }),
  );
}

await (isChild ? child() : driver());
