// The single-task search (docs/single-task.md): DARTS's first-order alternating optimisation on one
// dataset. Each step takes an architecture step on a batch of the architecture half (Adam), then a
// weight step on the next batch of the weight half (SGD with momentum, cosine-decayed rate, clipped
// gradients), under the strategy's sparsification: the temperature annealed from t-max to t-min
// over the search and forward pruning at the threshold, as in meta-training.
import { Adam, clipGradNorm, crossEntropy, grad, MomentumSgd, noGrad, tidy } from "../engine/index.js";
import type { ForwardPhase } from "../models/model.js";
import type { SearchModel } from "../models/searchModel.js";
import { annealsOps } from "../sparsification/strategy.js";
import { temperatureAt } from "../sparsification/temperature.js";
import { toTensors } from "../tasklearner/batch.js";
import { architectureStep, turn } from "../tasklearner/taskLearner.js";
import type { Rng } from "../util/rng.js";
import { type Augment, type ImageRef, makeBatch, type SingleTaskData } from "./data.js";

export type AnnealBy = "step" | "epoch";

export interface SearchSettings {
  epochs: number;
  batchSize: number;
  /** Weights: SGD rate at the start, cosine-decayed to lrWeightsMin at the end (per epoch, as DARTS). */
  lrWeights: number;
  lrWeightsMin: number;
  momentum: number;
  weightDecay: number;
  /** Global gradient norm the weight gradients are clipped to. */
  gradClip: number;
  /** Architecture: Adam. */
  lrArch: number;
  archBeta1: number;
  archBeta2: number;
  archWeightDecay: number;
  tMax: number;
  tMin: number;
  /** Whether T falls once per step or once per epoch (linearly from tMax to tMin either way). */
  anneal: AnnealBy;
  threshold: number;
  augment: Augment;
}

export interface EpochRecord {
  epoch: number;
  steps: number;
  lr: number;
  /** Temperature of the epoch's last step. */
  temperature: number;
  /** Mean loss and accuracy of the weight steps' batches (augmented, before each step). */
  trainLoss: number;
  trainAccuracy: number;
  /** Mean entropy (nats) of the op weights over normal and reduction cells, as the strategy weighs them then. */
  opEntropy: number;
  seconds: number;
}

/** DARTS's CosineAnnealingLR, stepped per epoch: lr(e) = min + (max - min)(1 + cos(pi e / E)) / 2. */
export function cosineRate(epoch: number, s: Pick<SearchSettings, "epochs" | "lrWeights" | "lrWeightsMin">): number {
  return s.lrWeightsMin + ((s.lrWeights - s.lrWeightsMin) * (1 + Math.cos((Math.PI * epoch) / s.epochs))) / 2;
}

export function stepsPerEpoch(data: SingleTaskData, batchSize: number): number {
  return Math.ceil(data.weightImages.length / batchSize);
}

/** The temperature of step `step` (counted over the whole search) in epoch `epoch`. */
export function searchTemperature(step: number, epoch: number, totalSteps: number, s: SearchSettings): number {
  const [at, of] = s.anneal === "step" ? [step, totalSteps] : [epoch, s.epochs];
  return temperatureAt(at, { tMax: s.tMax, tMin: s.tMin, steps: of });
}

/** The two optimisers of the search; owned by the caller (dispose them). */
export function searchOptimizers(model: SearchModel, s: SearchSettings): { weights: MomentumSgd; arch: Adam } {
  return {
    weights: new MomentumSgd(model.weights, { lr: s.lrWeights, momentum: s.momentum, weightDecay: s.weightDecay }),
    arch: new Adam(model.arch, {
      lr: s.lrArch,
      beta1: s.archBeta1,
      beta2: s.archBeta2,
      eps: 1e-8,
      weightDecay: s.archWeightDecay,
    }),
  };
}

/** One weight step: cross-entropy gradients of the weights only, clipped, then SGD. Returns loss and correct count. */
function weightStep(
  model: SearchModel,
  opt: MomentumSgd,
  refs: ImageRef[],
  data: SingleTaskData,
  s: SearchSettings,
  rng: Rng,
  phase: ForwardPhase,
) {
  return tidy(() => {
    const { x, y } = toTensors(makeBatch(refs, data, s.augment, rng));
    const logits = model.forward(x, phase);
    const loss = crossEntropy(logits, y);
    const grads = grad(loss, model.weights);
    clipGradNorm(grads, s.gradClip);
    opt.apply(grads);
    const correct = noGrad(() => logits.argmax(1).eq(y).sum().item());
    return { loss: loss.item(), correct };
  });
}

export interface SearchOptions {
  onEpoch?: (r: EpochRecord) => void;
  onStep?: (step: number, total: number) => void;
  /** Polled between steps; true stops the search (it returns null). */
  shouldStop?: () => boolean;
}

/** Runs the whole search on the model in place; returns the per-epoch records, or null when stopped. */
export async function searchSingleTask(
  model: SearchModel,
  data: SingleTaskData,
  s: SearchSettings,
  rng: Rng,
  o: SearchOptions = {},
): Promise<EpochRecord[] | null> {
  const opt = searchOptimizers(model, s);
  const perEpoch = stepsPerEpoch(data, s.batchSize);
  const total = perEpoch * s.epochs;
  const records: EpochRecord[] = [];
  try {
    let step = 0;
    for (let epoch = 0; epoch < s.epochs; epoch++) {
      const t0 = performance.now();
      opt.weights.lr = cosineRate(epoch, s);
      const order = rng.shuffle(data.weightImages);
      let [lossSum, correct, seen, temperature] = [0, 0, 0, s.tMax];
      for (let b = 0; b < perEpoch; b++, step++) {
        if (o.shouldStop?.()) return null;
        temperature = searchTemperature(step, epoch, total, s);
        const phase: ForwardPhase = { temperature, threshold: s.threshold, dropPath: 0 };
        // DARTS draws each architecture batch afresh from the architecture half.
        const archRefs = rng.sample(data.archImages.length, Math.min(s.batchSize, data.archImages.length));
        const archBatch = makeBatch(
          archRefs.map((k) => data.archImages[k]!),
          data,
          s.augment,
          rng,
        );
        tidy(() => architectureStep(model, opt.arch, toTensors(archBatch), phase));
        const refs = order.slice(b * s.batchSize, (b + 1) * s.batchSize);
        const r = weightStep(model, opt.weights, refs, data, s, rng, phase);
        [lossSum, correct, seen] = [lossSum + r.loss * refs.length, correct + r.correct, seen + refs.length];
        o.onStep?.(step + 1, total);
        await turn();
      }
      // At the temperature the op weights are computed with: plain DARTS never anneals them.
      const e = model.architectureEntropy(annealsOps(model.strategy) ? temperature : 1);
      const record: EpochRecord = {
        epoch: epoch + 1,
        steps: step,
        lr: opt.weights.lr,
        temperature,
        trainLoss: lossSum / seen,
        trainAccuracy: correct / seen,
        opEntropy: (e.normalOps + e.reduceOps) / 2,
        seconds: (performance.now() - t0) / 1000,
      };
      records.push(record);
      o.onEpoch?.(record);
    }
    return records;
  } finally {
    opt.weights.dispose();
    opt.arch.dispose();
  }
}
