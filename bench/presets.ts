// What one meta-epoch costs at each preset: one warm-up and one search meta-epoch (weights only,
// then weights and architecture) with the preset's network, meta-batch, inner steps and batch
// size, on generated images of the preset's dataset shape, in this process with the preset's
// threads; wall-clock and CPU seconds. Presets whose meta-training is the same (1-shot and 5-shot differ only in meta-testing)
// are measured once. Last line JSON.
//   npm run bench:presets -- [--preset NAME[,NAME...]] [--meta-batch N]
// --meta-batch N measures N tasks of each meta-epoch and scales to the preset's meta-batch (tasks
// are adapted one after another, so each costs the same); the output says when it did.
import type { ImageShape } from "../src/data/types.js";
import * as E from "../src/engine/index.js";
import { type MetaTrainSettings, metaEpoch } from "../src/metalearner/metaTrainer.js";
import { Reptile } from "../src/metalearner/reptile.js";
import { buildModel } from "../src/models/build.js";
import { keysWithRole, type RunConfig } from "../src/runs/config.js";
import { buildConfig, PRESET_NAMES } from "../src/runs/presets.js";
import { trainInner } from "../src/runs/session.js";
import { TaskOptimizers } from "../src/tasklearner/optimizers.js";
import { generatedPool, option } from "./common.js";

const SHAPES: Record<RunConfig["dataset"], ImageShape> = {
  omniglot: [1, 28, 28],
  builtin: [1, 28, 28],
  miniimagenet: [3, 84, 84],
  folder: [1, 28, 28],
};
/** Settings that only meta-testing, evaluation or bookkeeping read (shots: meta-test tasks only). */
const NOT_META_TRAINING = new Set<string>(["preset", "shots", ...keysWithRole("evaluation", "bookkeeping")]);

interface Measured {
  /** Wall-clock seconds of a warm-up and a search meta-epoch. */
  warmup_s: number;
  search_s: number;
  /** CPU seconds this process used in them: close to the wall-clock time on an idle core, and less
   * sensitive to other processes on a shared machine. */
  warmup_cpu_s: number;
  search_cpu_s: number;
  measured_tasks: number;
  meta_batch: number;
  weights: number;
}

async function measure(c: RunConfig, measuredTasks: number): Promise<Measured> {
  E.setNumThreads(c.threads);
  E.manualSeed(c.seed);
  const shape = SHAPES[c.dataset];
  const pool = generatedPool(shape, Math.max(c.ways, 20), c.trainShots + c.queries, c.seed);
  const model = buildModel(c, shape);
  const opt = new TaskOptimizers(model, {
    lrWeights: c.lrWeights,
    lrArch: c.lrArch,
    weightDecay: c.weightDecay,
    archWeightDecay: c.archWeightDecay,
  });
  const learner = new Reptile(c.metaLrWeights, c.metaLrArch);
  const settings: MetaTrainSettings = {
    metaBatch: measuredTasks,
    warmup: 1,
    pruneEvery: 0,
    pruneBelow: c.pruneBelow,
    task: { ways: c.ways, shots: c.trainShots, queries: c.queries },
    inner: trainInner(c),
    seed: c.seed,
  };
  const scale = c.metaBatch / measuredTasks;
  const wall: number[] = [];
  const cpu: number[] = [];
  const weights = model.totalParams();
  try {
    for (const epoch of [0, 1]) {
      const [t0, c0] = [performance.now(), process.cpuUsage()];
      await metaEpoch(epoch, model, opt, learner, pool, settings);
      const used = process.cpuUsage(c0);
      wall.push(((performance.now() - t0) / 1000) * scale);
      cpu.push(((used.user + used.system) / 1e6) * scale);
    }
  } finally {
    learner.dispose();
    opt.dispose();
    model.dispose();
  }
  return {
    warmup_s: wall[0]!,
    search_s: wall[1]!,
    warmup_cpu_s: cpu[0]!,
    search_cpu_s: cpu[1]!,
    measured_tasks: measuredTasks,
    meta_batch: c.metaBatch,
    weights,
  };
}

const presets = (option("preset") ?? PRESET_NAMES.join(",")).split(",");
const metaBatchArg = option("meta-batch");
const results: Record<string, Measured & { same_as?: string }> = {};
const done = new Map<string, string>();
for (const name of presets) {
  const c = buildConfig(name, {}, {});
  const key = JSON.stringify(Object.entries(c).filter(([k]) => !NOT_META_TRAINING.has(k)));
  const same = done.get(key);
  if (same) {
    results[name] = { ...results[same]!, same_as: same };
    console.log(`${name}: meta-trains as ${same} does (1-shot and 5-shot differ only in meta-testing)`);
    continue;
  }
  const tasks = Math.min(c.metaBatch, metaBatchArg ? Number(metaBatchArg) : c.metaBatch);
  const r = await measure(c, tasks);
  results[name] = r;
  done.set(key, name);
  const scaled = tasks < c.metaBatch ? ` (measured on ${tasks} of its ${c.metaBatch} tasks, scaled)` : "";
  console.log(
    `${name}: warm-up meta-epoch ${r.warmup_s.toFixed(1)} s (CPU ${r.warmup_cpu_s.toFixed(1)} s), search meta-epoch ${r.search_s.toFixed(1)} s (CPU ${r.search_cpu_s.toFixed(1)} s)${scaled}; ` +
      `${c.model} C = ${c.channels}, ${c.cells} cells, ${c.ways}-way, meta-batch ${c.metaBatch}, ${c.innerSteps} steps of batch ${c.batchSize}, ${SHAPES[c.dataset].join("x")} images, ${c.threads} thread(s)`,
  );
}
console.log(JSON.stringify({ presets: results }));
