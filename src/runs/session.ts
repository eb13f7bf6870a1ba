// Everything a run works with, built from its configuration: data, model, task optimisers and
// meta-learner.
import { loadDataset } from "../data/load.js";
import type { ClassPool, FewShotDataset, ImageShape } from "../data/types.js";
import { manualSeed, setDefaultDevice, setNumThreads } from "../engine/index.js";
import { FirstOrderMaml } from "../metalearner/fomaml.js";
import type { MetaLearner } from "../metalearner/metaLearner.js";
import { epochScale, type MetaTrainSettings } from "../metalearner/metaTrainer.js";
import { Reptile } from "../metalearner/reptile.js";
import { buildModel } from "../models/build.js";
import type { MetaModel } from "../models/model.js";
import { frozenCopy } from "../tasklearner/archGradient.js";
import { TaskOptimizers } from "../tasklearner/optimizers.js";
import type { InnerLoopSettings } from "../tasklearner/taskLearner.js";
import type { RunConfig } from "./config.js";

export interface Session {
  config: RunConfig;
  dataset: FewShotDataset;
  model: MetaModel;
  opt: TaskOptimizers;
  learner: MetaLearner;
}

export async function openSession(c: RunConfig, log: (line: string) => void): Promise<Session> {
  setNumThreads(c.threads);
  setDefaultDevice(c.device);
  const images = { imageSize: c.imageSize, imageColour: c.imageColour };
  const dataset = await loadDataset({
    name: c.dataset,
    dir: c.dataDir,
    seed: c.seed,
    split: c.omniglotSplit,
    preprocessing: c.omniglotPreprocessing,
    log,
    ...images,
  } as Parameters<typeof loadDataset>[0]);
  return { config: c, dataset, ...openModel(c, dataset.imageShape) };
}

/** The model, task optimisers and meta-learner of a configuration, for images of this shape (no data). */
export function openModel(c: RunConfig, imageShape: ImageShape): Pick<Session, "model" | "opt" | "learner"> {
  // The network as initialised from the seed, before any checkpoint is loaded into it: the same on
  // every rank and after every resume, which the reference architecture gradient relies on.
  manualSeed(c.seed);
  const model = buildModel(c, imageShape);
  const initial =
    c.archGradient === "initial" && model.arch.length > 0 ? frozenCopy(model, () => buildModel(c, imageShape)) : null;
  const opt = new TaskOptimizers(
    model,
    {
      lrWeights: c.lrWeights,
      lrArch: c.lrArch,
      weightDecay: c.weightDecay,
      archWeightDecay: c.archWeightDecay,
    },
    initial,
  );
  const learner: MetaLearner =
    c.metaLearner === "reptile"
      ? new Reptile(c.metaLrWeights, c.metaLrArch)
      : new FirstOrderMaml(model, c.fomamlLrWeights, c.fomamlLrArch);
  return { model, opt, learner };
}

export function closeSession(session: Session): void {
  session.learner.dispose();
  session.opt.dispose();
  session.model.dispose();
}

export type EvalSplit = "val" | "test";

/** The pool an evaluation draws from; validation falls back to the test classes when there is no val split. */
export function evalPool(session: Session, split: EvalSplit): ClassPool {
  return split === "val" ? (session.dataset.splits.val ?? session.dataset.splits.test) : session.dataset.splits.test;
}

/** The meta-training settings of a run's configuration. */
export function trainSettings(c: RunConfig): MetaTrainSettings {
  return {
    metaBatch: c.metaBatch,
    warmup: c.warmup,
    pruneEvery: c.pruneEvery,
    pruneBelow: c.pruneBelow,
    task: { ways: c.ways, shots: c.trainShots, queries: c.queries },
    inner: trainInner(c),
    seed: c.seed,
    schedule: c.metaSchedule,
    epochs: c.epochs,
    scale: { min: c.tScaleMin, epochs: c.tScaleEpochs, schedule: c.tScaleSchedule, start: c.tScaleStart },
  };
}

/** The meta-level temperature scale of meta-epoch `epoch` (0-based): 1 during the warm-up, then falling (docs/method.md §2). */
export function scaleOfEpoch(c: RunConfig, epoch: number): number {
  return epochScale(epoch, trainSettings(c));
}

/** The scale of the meta-test's temperatures: --test-t-scale, else the scale of the run's last meta-epoch. */
export function testScale(c: RunConfig): number {
  return c.testTScale ?? scaleOfEpoch(c, c.epochs - 1);
}

/** Inner-loop settings of meta-training tasks (docs/method.md §3): the architecture adapts in every step. */
export function trainInner(c: RunConfig): InnerLoopSettings {
  return {
    steps: c.innerSteps,
    archSteps: c.innerSteps,
    batchSize: c.batchSize,
    tMax: c.tMax,
    tMin: c.tMin,
    schedule: c.tSchedule,
    threshold: c.trainThreshold,
    dropPath: c.dropPath,
    sampling: c.batchSampling,
  };
}

/** Inner-loop settings of meta-test tasks (50 + 50 in the paper), their temperatures scaled by `scale`. */
export function testInner(c: RunConfig, scale = testScale(c)): InnerLoopSettings {
  return {
    steps: c.testSteps,
    archSteps: c.testArchSteps,
    batchSize: c.testBatchSize,
    tMax: c.tMax * scale,
    tMin: c.testTMin * scale,
    schedule: c.tSchedule,
    threshold: c.testThreshold,
    dropPath: 0,
    sampling: c.batchSampling,
    protocol: c.testProtocol,
    ...(c.testLrArch !== undefined ? { archLrScale: c.testLrArch / c.lrArch } : {}),
  };
}
