// Everything a run works with, built from its configuration: data, model, task optimisers and
// meta-learner.
import { loadDataset } from "../data/load.js";
import type { ClassPool, FewShotDataset, ImageShape } from "../data/types.js";
import { manualSeed, setDefaultDevice, setNumThreads } from "../engine/index.js";
import { FirstOrderMaml } from "../metalearner/fomaml.js";
import type { MetaLearner } from "../metalearner/metaLearner.js";
import type { MetaTrainSettings } from "../metalearner/metaTrainer.js";
import { Reptile } from "../metalearner/reptile.js";
import { buildModel } from "../models/build.js";
import type { MetaModel } from "../models/model.js";
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
  manualSeed(c.seed);
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
  const model = buildModel(c, imageShape);
  const opt = new TaskOptimizers(model, {
    lrWeights: c.lrWeights,
    lrArch: c.lrArch,
    weightDecay: c.weightDecay,
    archWeightDecay: c.archWeightDecay,
  });
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
  };
}

/** Inner-loop settings of meta-training tasks (docs/method.md §3): the architecture adapts in every step. */
export function trainInner(c: RunConfig): InnerLoopSettings {
  return {
    steps: c.innerSteps,
    archSteps: c.innerSteps,
    batchSize: c.batchSize,
    tMax: c.tMax,
    tMin: c.tMin,
    threshold: c.trainThreshold,
    dropPath: c.dropPath,
    sampling: c.batchSampling,
  };
}

/** Inner-loop settings of meta-test tasks: 50 + 50 in the paper. */
export function testInner(c: RunConfig): InnerLoopSettings {
  return {
    steps: c.testSteps,
    archSteps: c.testArchSteps,
    batchSize: c.testBatchSize,
    tMax: c.tMax,
    tMin: c.testTMin,
    threshold: c.testThreshold,
    dropPath: 0,
    sampling: c.batchSampling,
    protocol: c.testProtocol,
  };
}
