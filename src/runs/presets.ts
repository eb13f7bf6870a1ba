// The paper's four settings (docs/method.md §7) and the built-in quick run. Their type comes from the
// configuration schema (config.ts): a preset must give every setting that has no default there.
import { ConfigError, type PresetValues, type RunConfig, validateConfig } from "./config.js";

const paperCommon = {
  model: "metanas",
  strategy: "metanas",
  metaLearner: "reptile",
  queries: 1,
  trainShots: 15,
  channels: 28,
  cells: 4,
  reductions: [1, 3],
  nodes: 3,
  epochs: 30000,
  warmup: 15000,
  metaBatch: 10,
  innerSteps: 5,
  batchSize: 20,
  weightDecay: 0,
  archWeightDecay: 1e-3,
  tMax: 1,
  trainThreshold: 0.01,
  dropPath: 0.2,
  metaLrWeights: 1.0,
  metaLrArch: 0.6,
  fomamlLrWeights: 1e-3,
  fomamlLrArch: 1e-3,
  pruneEvery: 2500,
  pruneBelow: 0.01,
  testTasks: 5000,
  testSteps: 100,
  testArchSteps: 50,
  testTMin: 0.1,
  testThreshold: 0.05,
  evalEvery: 1000,
  evalTasks: 100,
  seed: 1,
  // One intra-op thread: on small tensors OpenMP threads cost more than they gain (measured 5x slower with 2).
  threads: 1,
  checkpointEvery: 100,
  device: "cpu",
  conv4Channels: 64,
} satisfies Partial<PresetValues>;

const omniglot = {
  ...paperCommon,
  dataset: "omniglot",
  ways: 20,
  lrWeights: 5e-3,
  lrArch: 5e-3,
  tMin: 0.05,
  testBatchSize: 10,
} satisfies Partial<PresetValues>;
const mini = {
  ...paperCommon,
  dataset: "miniimagenet",
  ways: 5,
  lrWeights: 1e-3,
  lrArch: 1e-3,
  tMin: 0.1,
  conv4Channels: 32,
} satisfies Partial<PresetValues>;

const quickCommon = {
  ...paperCommon,
  dataset: "builtin",
  ways: 5,
  shots: 1,
  queries: 5,
  trainShots: 5,
  // A narrower, shallower one-shot network than the paper's (C = 16; reduction, normal,
  // reduction) so that the whole pipeline fits in minutes on two cores. Measured on this preset's
  // tasks (docs/results.md): at equal width the search and Conv4 with MetaNAS's settings meta-learn
  // alike (C = 8: 53.8% vs 51.7%; C = 16: 71.9% vs 73.0%), so the width matters most; C = 8 left
  // meta-training flat.
  channels: 16,
  cells: 3,
  reductions: [0, 2],
  lrWeights: 5e-3,
  // The paper's architecture learning rate: 3e-2 (tried for faster pruning) made the meta-train
  // query accuracy drop from 0.9 to about 0.6 when the search started and cost 3 points at meta-test.
  lrArch: 5e-3,
  // Drop-path at this width keeps the meta-train accuracy down (C = 8: 53.8% with 0.2, 59.5% without).
  dropPath: 0,
  tMin: 0.05,
  // 24 meta-epochs of warm-up, 24 of search: 82% where 12 + 12 gave 72% (C = 16).
  epochs: 48,
  warmup: 24,
  metaBatch: 4,
  innerSteps: 5,
  batchSize: 10,
  pruneEvery: 0,
  testTasks: 40,
  testSteps: 20,
  testArchSteps: 10,
  testBatchSize: 5,
  evalEvery: 8,
  evalTasks: 5,
  checkpointEvery: 4,
  conv4Channels: 32,
} satisfies PresetValues;

// REPTILE as its authors ran it (Nichol et al. 2018, the commands of their code's README): Conv4,
// Adam (beta1 = 0) carried across tasks, batches in shuffled passes over the support set, the outer
// step annealed linearly from 1 to 0, evaluation with 50 steps; on Omniglot their split (1623
// characters pooled, 1200 / 423) and preprocessing (not inverted, nearest resize). docs/reptile.md.
const reptileCommon = {
  ...paperCommon,
  model: "conv4",
  metaLearner: "reptile",
  metaSchedule: "linear",
  metaLrWeights: 1,
  metaLrArch: 0,
  metaBatch: 5,
  warmup: 0,
  queries: 1,
  batchSampling: "shuffled",
  weightDecay: 0,
  dropPath: 0,
  pruneEvery: 0,
  tMin: 0.05,
  lrArch: 1e-3,
  testSteps: 50,
  testArchSteps: 0,
  testTasks: 10000,
  testProtocol: "transductive",
  evalEvery: 2500,
  evalTasks: 100,
  checkpointEvery: 500,
} satisfies Partial<PresetValues>;
const reptileOmniglot = {
  ...reptileCommon,
  dataset: "omniglot",
  omniglotSplit: "reptile",
  omniglotPreprocessing: "reptile",
  conv4Channels: 64,
  conv4Downsampling: "stride",
  trainShots: 10,
} satisfies Partial<PresetValues>;
const reptileOmniglot5 = {
  ...reptileOmniglot,
  ways: 5,
  innerSteps: 5,
  batchSize: 10,
  lrWeights: 1e-3,
  epochs: 100000,
  testBatchSize: 5,
} satisfies Partial<PresetValues>;
const reptileOmniglot20 = {
  ...reptileOmniglot,
  ways: 20,
  innerSteps: 10,
  batchSize: 20,
  lrWeights: 5e-4,
  epochs: 200000,
  testBatchSize: 10,
} satisfies Partial<PresetValues>;
const reptileMini = {
  ...reptileCommon,
  dataset: "miniimagenet",
  conv4Channels: 32,
  conv4Downsampling: "maxpool",
  ways: 5,
  trainShots: 15,
  innerSteps: 8,
  batchSize: 10,
  lrWeights: 1e-3,
  epochs: 100000,
} satisfies Partial<PresetValues>;

// Real Omniglot, 5-way 1-shot, at a budget two CPU cores finish in under an hour (--nproc 2):
// the quick preset's network and tasks with eight times its meta-epochs, a larger meta-test, and
// Conv4 meta-trained on the same tasks for the report (docs/results.md).
const omniglotCpuC16 = {
  ...quickCommon,
  dataset: "omniglot",
  epochs: 400,
  warmup: 200,
  testTasks: 100,
  evalEvery: 50,
  evalTasks: 20,
  checkpointEvery: 25,
  baseline: "conv4",
} satisfies Partial<PresetValues>;

export const PRESETS = {
  "omniglot-20way-1shot": { ...omniglot, shots: 1 },
  "omniglot-20way-5shot": { ...omniglot, shots: 5 },
  "miniimagenet-5way-1shot": { ...mini, shots: 1, testBatchSize: 5 },
  "miniimagenet-5way-5shot": { ...mini, shots: 5, testBatchSize: 15 },
  // The README's main command: the whole pipeline on the built-in dataset in minutes on 2 cores.
  quick: quickCommon,
  // Real Omniglot, 5-way 1-shot, with pruning free (docs/results.md, "Pruning free in
  // meta-learning"): C = 32 and 5 cells (reductions at 1 and 3), the inner temperatures scaled
  // down to 0.02 over the first 50 search meta-epochs and held there, and the paper's 50 + 50 test
  // steps from 0.001 of the inner temperatures, so that the tasks start from the sharp
  // meta-learned cell. About an hour of one core, then Conv4 on the same tasks for the report.
  "omniglot-5way-1shot-cpu": {
    ...omniglotCpuC16,
    channels: 32,
    cells: 5,
    reductions: [1, 3],
    warmup: 100,
    tScaleMin: 0.02,
    tScaleEpochs: 50,
    testSteps: 100,
    testArchSteps: 50,
    testTScale: 0.001,
    evalEvery: 100,
    evalTasks: 10,
  },
  // The same before the study: the quick preset's network with its soft schedule, eight times its
  // meta-epochs, 20 test steps (docs/results.md: its one-shot networks 86-90%, their cells 24-43%).
  "omniglot-5way-1shot-cpu-c16": omniglotCpuC16,
  // REPTILE's published settings, one per row of its tables (docs/reptile.md).
  "reptile-omniglot-5way-1shot": { ...reptileOmniglot5, shots: 1 },
  "reptile-omniglot-5way-5shot": { ...reptileOmniglot5, shots: 5 },
  "reptile-omniglot-20way-1shot": { ...reptileOmniglot20, shots: 1 },
  "reptile-omniglot-20way-5shot": { ...reptileOmniglot20, shots: 5 },
  "reptile-miniimagenet-5way-1shot": { ...reptileMini, shots: 1, testBatchSize: 5 },
  "reptile-miniimagenet-5way-5shot": { ...reptileMini, shots: 5, testBatchSize: 15 },
} satisfies Record<string, PresetValues>;

export type PresetName = keyof typeof PRESETS;

/**
 * The REPTILE preset of a task: MiniImagenet's for miniimagenet, else Omniglot's (the built-in
 * characters and folders of 28x28 images are closest to it), 20-way for 20 ways or more, and
 * 5-shot for more than one shot.
 */
export function reptilePresetFor(task: { dataset: string; ways: number; shots: number }): PresetName {
  const shots = task.shots > 1 ? "5shot" : "1shot";
  if (task.dataset === "miniimagenet") return `reptile-miniimagenet-5way-${shots}`;
  return `reptile-omniglot-${task.ways >= 20 ? "20way" : "5way"}-${shots}`;
}

export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

export function isPresetName(name: string): name is PresetName {
  return Object.hasOwn(PRESETS, name);
}

/** A run's configuration: preset <- config file <- flags, validated as a whole. */
export function buildConfig(
  preset: string,
  fileValues: Record<string, unknown>,
  flags: Record<string, unknown>,
): RunConfig {
  if (!isPresetName(preset))
    throw new ConfigError(`unknown --preset "${preset}": use one of ${PRESET_NAMES.join(", ")}`);
  const merged = {
    ...PRESETS[preset],
    ...fileValues,
    ...Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)),
    preset,
  };
  return validateConfig(merged, "configuration", true);
}
