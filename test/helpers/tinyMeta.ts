// A toy class pool and a one-shot network small enough to adapt in milliseconds, and the flags of
// a tiny CLI run: shared by the meta-learner, run and distributed tests.
import type { ClassPool } from "../../src/data/types.js";
import type { Tensor } from "../../src/engine/index.js";
import type { MetaTrainSettings } from "../../src/metalearner/metaTrainer.js";
import { SearchModel } from "../../src/models/searchModel.js";
import { flagOf, type RunConfig, type SettingKey } from "../../src/runs/config.js";
import { frozenCopy } from "../../src/tasklearner/archGradient.js";
import { TaskOptimizers } from "../../src/tasklearner/optimizers.js";
import type { InnerLoopSettings } from "../../src/tasklearner/taskLearner.js";
import { Rng } from "../../src/util/rng.js";

/** A tiny pool: class c's images are a constant c / numClasses plus noise. */
export function toyPool(numClasses: number, perClass: number, size = 8): ClassPool {
  const rng = new Rng(5);
  const images = Array.from({ length: numClasses }, (_, c) =>
    Array.from({ length: perClass }, () =>
      Float32Array.from({ length: size * size }, () => c / numClasses + 0.1 * rng.float()),
    ),
  );
  return { numClasses, imageShape: [1, size, size], classSize: () => perClass, image: (c, i) => images[c]![i]! };
}

/** The tiny one-shot network with its task optimisers (and with "initial", the reference code's architecture gradient). */
export function tinySearchModel(archGradient: "live" | "initial" = "live") {
  const build = () =>
    new SearchModel(
      { inputChannels: 1, classes: 3, channels: 2, cells: 2, reductions: [1], nodes: 3, stemMultiplier: 3 },
      "metanas",
    );
  const model = build();
  const source = archGradient === "initial" ? frozenCopy(model, build) : null;
  const settings = { lrWeights: 0.01, lrArch: 0.01, weightDecay: 0, archWeightDecay: 1e-3 };
  const opt = new TaskOptimizers(model, settings, source);
  return { model, opt };
}

export const inner = (o: Partial<InnerLoopSettings> = {}): InnerLoopSettings => ({
  steps: 3,
  archSteps: 3,
  batchSize: 4,
  tMax: 1,
  tMin: 0.05,
  threshold: 0.01,
  dropPath: 0,
  ...o,
});

/** Meta-training settings for the tiny model on the toy pool (3-way tasks, drop-path 0.2). */
export const metaTrain = (o: Partial<MetaTrainSettings> = {}): MetaTrainSettings => ({
  metaBatch: 2,
  warmup: 0,
  pruneEvery: 0,
  pruneBelow: 0.01,
  task: { ways: 3, shots: 2, queries: 1 },
  inner: inner({ dropPath: 0.2 }),
  seed: 1,
  ...o,
});

/** Tensor values, rounded to 6 decimals. */
export const values = (ts: Tensor[]) => ts.map((t) => t.toArray().map((v) => Number(v.toFixed(6))));
/** Tensor values exactly. */
export const exact = (ts: Tensor[]) => ts.map((t) => t.toArray());

/** A run small enough for CI (the built-in dataset, a tiny one-shot network); add epochs and test tasks. */
export const TINY_RUN: Partial<RunConfig> = {
  channels: 2,
  cells: 2,
  reductions: [1],
  ways: 3,
  queries: 2,
  trainShots: 2,
  warmup: 1,
  metaBatch: 2,
  innerSteps: 2,
  batchSize: 4,
  evalEvery: 0,
  testSteps: 2,
  testArchSteps: 1,
  testBatchSize: 3,
};

/** The CLI flags that set these values. */
export const flagsOf = (values: Partial<RunConfig>): string[] =>
  Object.entries(values).flatMap(([k, v]) => [flagOf(k as SettingKey), Array.isArray(v) ? v.join(",") : String(v)]);

/** TINY_RUN as CLI flags; add --epochs and --test-tasks. */
export const TINY_RUN_FLAGS = flagsOf(TINY_RUN);
