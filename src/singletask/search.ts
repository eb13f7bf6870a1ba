// The single-task search (docs/single-task.md): DARTS's first-order alternating optimisation on one
// dataset. Each step takes an architecture step on a batch of the architecture half (Adam), then a
// weight step on the next batch of the weight half (SGD with momentum, cosine-decayed rate, clipped
// gradients), under the strategy's sparsification: the temperature annealed from t-max to t-min
// over the search and forward pruning at the threshold, as in meta-training.
import { Adam, clipGradNorm, crossEntropy, grad, MomentumSgd, noGrad, tidy } from "../engine/index.js";
import type { ForwardPhase } from "../models/model.js";
import type { SearchModel } from "../models/searchModel.js";
import { annealsOps } from "../sparsification/strategy.js";
import { type TSchedule, temperatureAt } from "../sparsification/temperature.js";
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
  /** Whether T falls once per step or once per epoch. */
  anneal: AnnealBy;
  /** The shape of the fall from tMax to tMin (docs/method.md §2). */
  tSchedule: TSchedule;
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
export function cosineRate(
  epoch: number,
  settings: Pick<SearchSettings, "epochs" | "lrWeights" | "lrWeightsMin">,
): number {
  const { lrWeights, lrWeightsMin, epochs } = settings;
  return lrWeightsMin + ((lrWeights - lrWeightsMin) * (1 + Math.cos((Math.PI * epoch) / epochs))) / 2;
}

/** The number of weight steps in one epoch: the weight half in batches, the last one possibly short. */
export function stepsPerEpoch(data: SingleTaskData, batchSize: number): number {
  return Math.ceil(data.weightImages.length / batchSize);
}

/** The temperature of step `step` (counted over the whole search) in epoch `epoch`. */
export function searchTemperature(step: number, epoch: number, totalSteps: number, settings: SearchSettings): number {
  const [at, of] = settings.anneal === "step" ? [step, totalSteps] : [epoch, settings.epochs];
  return temperatureAt(at, { tMax: settings.tMax, tMin: settings.tMin, steps: of, schedule: settings.tSchedule });
}

/** The two optimisers of the search; owned by the caller (dispose them). */
export function searchOptimizers(model: SearchModel, settings: SearchSettings): { weights: MomentumSgd; arch: Adam } {
  return {
    weights: new MomentumSgd(model.weights, {
      lr: settings.lrWeights,
      momentum: settings.momentum,
      weightDecay: settings.weightDecay,
    }),
    arch: new Adam(model.arch, {
      lr: settings.lrArch,
      beta1: settings.archBeta1,
      beta2: settings.archBeta2,
      eps: 1e-8,
      weightDecay: settings.archWeightDecay,
    }),
  };
}

/** A search in progress: what every step needs, and the steps taken so far. */
interface SearchRun {
  model: SearchModel;
  data: SingleTaskData;
  settings: SearchSettings;
  rng: Rng;
  o: SearchOptions;
  opt: { weights: MomentumSgd; arch: Adam };
  perEpoch: number;
  total: number;
  step: number;
}

/** One weight step: cross-entropy gradients of the weights only, clipped, then SGD. Returns loss and correct count. */
function weightStep(run: SearchRun, refs: ImageRef[], phase: ForwardPhase) {
  const { model, data, settings, rng } = run;
  return tidy(() => {
    const { x, y } = toTensors(makeBatch(refs, data, settings.augment, rng));
    const logits = model.forward(x, phase);
    const loss = crossEntropy(logits, y);
    const grads = grad(loss, model.weights);
    clipGradNorm(grads, settings.gradClip);
    run.opt.weights.apply(grads);
    const correct = noGrad(() => logits.argmax(1).eq(y).sum().item());
    return { loss: loss.item(), correct };
  });
}

/** One search step at `temperature`: an architecture step on a fresh batch of the architecture half, then a weight step on `refs`. */
function searchStep(run: SearchRun, refs: ImageRef[], temperature: number): { loss: number; correct: number } {
  const { model, data, settings, rng } = run;
  const phase: ForwardPhase = { temperature, threshold: settings.threshold, dropPath: 0 };
  // DARTS draws each architecture batch afresh from the architecture half.
  const archRefs = rng.sample(data.archImages.length, Math.min(settings.batchSize, data.archImages.length));
  const archBatch = makeBatch(
    archRefs.map((k) => data.archImages[k]!),
    data,
    settings.augment,
    rng,
  );
  tidy(() => architectureStep(model, run.opt.arch, toTensors(archBatch), phase));
  return weightStep(run, refs, phase);
}

/** One epoch: the weights' rate for it, the weight half in a fresh order, step after step; null when stopped. */
async function searchEpoch(run: SearchRun, epoch: number): Promise<EpochRecord | null> {
  const { model, data, settings, rng, opt } = run;
  const t0 = performance.now();
  opt.weights.lr = cosineRate(epoch, settings);
  const order = rng.shuffle(data.weightImages);
  let [lossSum, correct, seen, temperature] = [0, 0, 0, settings.tMax];
  for (let b = 0; b < run.perEpoch; b++, run.step++) {
    if (run.o.shouldStop?.()) return null;
    temperature = searchTemperature(run.step, epoch, run.total, settings);
    const refs = order.slice(b * settings.batchSize, (b + 1) * settings.batchSize);
    const r = searchStep(run, refs, temperature);
    [lossSum, correct, seen] = [lossSum + r.loss * refs.length, correct + r.correct, seen + refs.length];
    run.o.onStep?.(run.step + 1, run.total);
    await turn();
  }
  // At the temperature the op weights are computed with: plain DARTS never anneals them.
  const e = model.architectureEntropy(annealsOps(model.strategy) ? temperature : 1);
  return {
    epoch: epoch + 1,
    steps: run.step,
    lr: opt.weights.lr,
    temperature,
    trainLoss: lossSum / seen,
    trainAccuracy: correct / seen,
    opEntropy: (e.normalOps + e.reduceOps) / 2,
    seconds: (performance.now() - t0) / 1000,
  };
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
  settings: SearchSettings,
  rng: Rng,
  o: SearchOptions = {},
): Promise<EpochRecord[] | null> {
  const opt = searchOptimizers(model, settings);
  const perEpoch = stepsPerEpoch(data, settings.batchSize);
  const run: SearchRun = { model, data, settings, rng, o, opt, perEpoch, total: perEpoch * settings.epochs, step: 0 };
  const records: EpochRecord[] = [];
  try {
    for (let epoch = 0; epoch < settings.epochs; epoch++) {
      const record = await searchEpoch(run, epoch);
      if (!record) return null;
      records.push(record);
      o.onEpoch?.(record);
    }
    return records;
  } finally {
    opt.weights.dispose();
    opt.arch.dispose();
  }
}
