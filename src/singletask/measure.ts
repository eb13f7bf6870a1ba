// The measurement of the paper's appendix Table 3 after a single-task search: the one-shot network's
// accuracy on the held-out images at the search's final temperature, every op and input computed,
// against the discrete network of its genotype (DARTS's pruning: per node the two strongest inputs,
// on each the strongest op) on the same weights. Batch norm uses each evaluation batch's statistics,
// as everywhere in metanas (the search network keeps no running statistics).
import type { ForwardPhase } from "../models/model.js";
import type { SearchModel } from "../models/searchModel.js";
import { toDarts } from "../searchspace/genotype.js";
import { predictWith } from "../tasklearner/taskLearner.js";
import { makeBatch, type SingleTaskData } from "./data.js";

export interface PruningMeasurement {
  /** Held-out accuracy of the one-shot network (final T, no forward pruning). */
  oneShot: number;
  /** Held-out accuracy of the genotype's discrete network on the same weights. */
  discrete: number;
  oneShotLoss: number;
  discreteLoss: number;
  testImages: number;
  temperature: number;
  genotype: string;
  params: {
    oneShot: number;
    /** What forward pruning at the search's threshold and final temperature keeps. */
    forwardPruned: number;
    discrete: number;
  };
}

/** Accuracy and loss of a forward pass over the held-out images, in batches of `batchSize`. */
function heldOut(data: SingleTaskData, batchSize: number, forward: Parameters<typeof predictWith>[1]) {
  let [correct, loss] = [0, 0];
  for (let at = 0; at < data.testImages.length; at += batchSize) {
    const set = makeBatch(data.testImages.slice(at, at + batchSize), data, "none", null);
    const r = predictWith(set, forward);
    correct += r.accuracy * set.count;
    loss += r.loss * set.count;
  }
  const n = Math.max(1, data.testImages.length);
  return { accuracy: correct / n, loss: loss / n };
}

export function measurePruning(
  model: SearchModel,
  data: SingleTaskData,
  o: { temperature: number; threshold: number; evalBatchSize: number },
): PruningMeasurement {
  const dense: ForwardPhase = { temperature: o.temperature, threshold: 0, dropPath: 0 };
  const genotype = model.genotype();
  const oneShot = heldOut(data, o.evalBatchSize, (x) => model.forward(x, dense));
  const discrete = heldOut(data, o.evalBatchSize, (x) => model.forwardDiscrete(x, genotype));
  return {
    oneShot: oneShot.accuracy,
    discrete: discrete.accuracy,
    oneShotLoss: oneShot.loss,
    discreteLoss: discrete.loss,
    testImages: data.testImages.length,
    temperature: o.temperature,
    genotype: toDarts(genotype),
    params: {
      oneShot: model.totalParams(),
      forwardPruned: model.activeParams({ ...dense, threshold: o.threshold }),
      discrete: model.discreteParams(genotype),
    },
  };
}
