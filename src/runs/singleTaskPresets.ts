// Presets of the single-task search (docs/single-task.md). darts-cifar10 is the paper's appendix
// Table 3 as it ran: DARTS's search with Liu et al.'s default hyperparameters on CIFAR-10.
import { readConfigFile } from "./config.js";
import {
  type SingleTaskConfig,
  SingleTaskConfigError,
  type SingleTaskKey,
  type SingleTaskPresetValues,
  validateSingleTaskConfig,
} from "./singleTaskConfig.js";

const dartsSearch = {
  strategies: ["darts", "anneal-ops", "metanas"],
  seeds: [1, 2, 3],
  epochs: 50,
  batchSize: 64,
  lrWeights: 0.025,
  lrWeightsMin: 0.001,
  momentum: 0.9,
  weightDecay: 3e-4,
  gradClip: 5,
  lrArch: 3e-4,
  archBeta1: 0.5,
  archBeta2: 0.999,
  archWeightDecay: 1e-3,
  tMax: 1,
  // The paper states no schedule for Table 3. Measured on table3-omniglot-cpu (docs/results.md):
  // falling linearly to 0.05 the cells were still soft at the end (MetaNAS 85.4 -> 12.3), and
  // linearly to 0.001 they became discrete only in the last steps, when the weights' rate was
  // spent (43.4 -> 43.4); geometrically to 0.001 they are discrete from about 80% of the search
  // on, and the weights have the rest of it to follow the discrete cell.
  tMin: 0.001,
  anneal: "step",
  tSchedule: "geometric",
  trainThreshold: 0.01,
  evalBatchSize: 500,
  threads: 1,
  device: "cpu",
} satisfies Partial<SingleTaskPresetValues>;

export const SINGLE_TASK_PRESETS = {
  /** Liu et al.'s search: 8 cells, C = 16 doubling at the reductions (cells 2 and 5), 4 nodes, 50 epochs. */
  "darts-cifar10": {
    ...dartsSearch,
    dataset: "cifar10",
    classes: 0,
    testPerClass: 0,
    trainPerClass: 0,
    testPerClassMax: 0,
    trainPortion: 0.5,
    augment: "crop-flip",
    channels: 16,
    cells: 8,
    reductions: [2, 5],
    nodes: 4,
    widthAtReductions: "double",
  },
  /**
   * Table 3's protocol at a budget two CPU cores finish in about two hours (3 seeds x 3 strategies,
   * docs/single-task.md): 200 Omniglot characters as classes, 15 images each to train on (8 for the
   * weights, 7 for the architecture) and 5 held out; MetaNAS's 3-node cells, C = 8 doubling at the
   * reductions; 25 epochs of batch 32 (1,250 steps). DARTS's optimisers, except that the architecture
   * rate is ten times DARTS's: its 19,550 steps let Adam move a logit by up to about 6, these 1,250
   * only by 0.4 at 3e-4.
   */
  "table3-omniglot-cpu": {
    ...dartsSearch,
    dataset: "omniglot",
    classes: 200,
    testPerClass: 5,
    trainPerClass: 0,
    testPerClassMax: 0,
    trainPortion: 0.5,
    augment: "none",
    channels: 8,
    cells: 5,
    reductions: [1, 3],
    nodes: 3,
    widthAtReductions: "double",
    epochs: 25,
    batchSize: 32,
    lrArch: 3e-3,
  },
} as const satisfies Record<string, SingleTaskPresetValues>;

export type SingleTaskPresetName = keyof typeof SINGLE_TASK_PRESETS;

export const SINGLE_TASK_PRESET_NAMES = Object.keys(SINGLE_TASK_PRESETS) as SingleTaskPresetName[];

/** preset <- config file <- flags, validated as a whole. */
export function buildSingleTaskConfig(
  preset: string,
  file: string | undefined,
  flags: Partial<Record<SingleTaskKey, unknown>>,
): SingleTaskConfig {
  if (!Object.hasOwn(SINGLE_TASK_PRESETS, preset))
    throw new SingleTaskConfigError(`unknown --preset "${preset}": use one of ${SINGLE_TASK_PRESET_NAMES.join(", ")}`);
  const fileValues = file ? readConfigFile(file) : {};
  const given = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined));
  return validateSingleTaskConfig(
    { ...SINGLE_TASK_PRESETS[preset as SingleTaskPresetName], ...fileValues, ...given, preset },
    "configuration",
  );
}
