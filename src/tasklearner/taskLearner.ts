// The task learner (docs/method.md §3), first-order DARTS: per step two batches drawn with
// replacement from the support set; an architecture step on the second batch's loss (gradients
// with respect to alpha and beta only, at the current weights), then a weight step on the first.
import { type BatchSampling, batchDrawer, gather } from "../data/sampler.js";
import type { Task, TaskSet } from "../data/types.js";
import { type Adam, crossEntropy, grad, noGrad, type Tensor, tidy } from "../engine/index.js";
import type { ForwardPhase, MetaModel } from "../models/model.js";
import { type TSchedule, temperatureAt } from "../sparsification/temperature.js";
import { timed } from "../util/phaseTimes.js";
import type { Rng } from "../util/rng.js";
import { architectureGradient, type GradientSource } from "./archGradient.js";
import { toTensors } from "./batch.js";
import type { TaskOptimizers } from "./optimizers.js";

export interface InnerLoopSettings {
  /** Gradient steps on the task. */
  steps: number;
  /** The first archSteps of them also adapt the architecture (0: weights only, T stays tMax). */
  archSteps: number;
  batchSize: number;
  tMax: number;
  tMin: number;
  /** The shape of T's fall over the architecture steps (default linear). */
  schedule?: TSchedule;
  /** Forward-pruning threshold for ops and input pairs. */
  threshold: number;
  /** Drop-path probability during the steps (meta-training only); never for predictions. */
  dropPath: number;
  /** How the steps' batches are drawn from the support set (default: with replacement). */
  sampling?: BatchSampling;
  /** How the query set is predicted after adaptation (default: transductive). */
  protocol?: Protocol;
  /** The architecture optimiser's learning rate times this (default 1): the meta-test's own rate. */
  archLrScale?: number;
}

/** Temperature at inner step `step`: annealed over the architecture steps, then held at tMin. */
export function innerTemperature(step: number, o: InnerLoopSettings): number {
  if (o.archSteps <= 0) return o.tMax;
  return temperatureAt(Math.min(step, o.archSteps - 1), {
    tMax: o.tMax,
    tMin: o.tMin,
    steps: o.archSteps,
    schedule: o.schedule,
  });
}

/** The phase in which the query set is predicted after adaptation. */
export function predictionPhase(o: InnerLoopSettings): ForwardPhase {
  return { temperature: o.archSteps > 0 ? o.tMin : o.tMax, threshold: o.threshold, dropPath: 0 };
}

/** Yields to the event loop so that finalizers and signals get their turn (native/README.md). */
export const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface Batch {
  x: Tensor;
  y: Tensor;
}

/**
 * One architecture step: gradients of the batch's loss with respect to alpha and beta only, taken
 * on the model itself or on a frozen source (archGradient.ts: no drop-path there), applied to the model's.
 */
export function architectureStep(
  model: MetaModel,
  archOpt: Adam,
  batch: Batch,
  phase: ForwardPhase,
  source: GradientSource | null = null,
  lrScale = 1,
): void {
  const on = source ?? model;
  const at = source ? { ...phase, dropPath: 0 } : phase;
  tidy(() => archOpt.apply(architectureGradient(on, batch.x, batch.y, at), lrScale));
}

/** One weight step: gradients of the batch's loss with respect to the weights only. */
export function weightStep(model: MetaModel, weightsOpt: Adam, batch: Batch, phase: ForwardPhase): void {
  tidy(() => weightsOpt.apply(grad(crossEntropy(model.forward(batch.x, phase), batch.y), model.weights)));
}

/** Adapts the model's weights (and architecture) to the task in place. */
export async function adapt(
  model: MetaModel,
  opt: TaskOptimizers,
  task: Task,
  o: InnerLoopSettings,
  rng: Rng,
): Promise<void> {
  const sampling = o.sampling ?? "replacement";
  const nextWeightBatch = batchDrawer(task.support, o.batchSize, rng, sampling);
  const nextArchBatch = batchDrawer(task.support, o.batchSize, rng, sampling);
  for (let step = 0; step < o.steps; step++) {
    const phase: ForwardPhase = {
      temperature: innerTemperature(step, o),
      threshold: o.threshold,
      dropPath: o.dropPath,
    };
    const adaptArch = step < o.archSteps && opt.arch !== null;
    const weightBatch = nextWeightBatch();
    const archBatch = adaptArch ? nextArchBatch() : null;
    if (archBatch && opt.arch) {
      const archOpt = opt.arch;
      timed("archSteps", () =>
        tidy(() => architectureStep(model, archOpt, toTensors(archBatch), phase, opt.archSource, o.archLrScale)),
      );
    }
    timed("weightSteps", () => tidy(() => weightStep(model, opt.weights, toTensors(weightBatch), phase)));
    await turn();
  }
}

export interface QueryResult {
  loss: number;
  accuracy: number;
}

/** Loss and accuracy on a set, predicted as one batch (batch-norm statistics of that batch). */
export function predict(model: MetaModel, set: TaskSet, phase: ForwardPhase): QueryResult {
  return timed("predictions", () => predictWith(set, (x) => model.forward(x, phase)));
}

/**
 * REPTILE's two evaluation protocols. Transductive: the query set predicted as one batch, so
 * batch norm's statistics see every query image. Non-transductive: each query image predicted in
 * one batch with the support set alone (its row of that batch), so no query image can inform
 * another's prediction.
 */
export const PROTOCOLS = ["transductive", "non-transductive"] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** The query set's loss and accuracy after adaptation, under a protocol. */
export function predictQuery(
  model: MetaModel,
  task: Task,
  phase: ForwardPhase,
  protocol: Protocol = "transductive",
): QueryResult {
  return timed("predictions", () => predictQueryWith(task, (x) => model.forward(x, phase), protocol));
}

/** The query set's loss and accuracy of any forward pass, under a protocol. */
export function predictQueryWith(task: Task, forward: (x: Tensor) => Tensor, protocol: Protocol): QueryResult {
  return protocol === "transductive" ? predictWith(task.query, forward) : predictEachWith(task, forward);
}

/** Loss and accuracy of any forward pass on a task's query set, each query image batched with the support set alone. */
export function predictEachWith(task: Task, forward: (x: Tensor) => Tensor): QueryResult {
  const { support, query } = task;
  let loss = 0;
  let correct = 0;
  const n = support.count;
  const images = new Float32Array(support.images.length + support.images.length / n);
  images.set(support.images);
  for (let j = 0; j < query.count; j++) {
    const one = gather(query, [j]);
    images.set(one.images, support.images.length);
    const batch: TaskSet = {
      images,
      labels: Int32Array.from([...support.labels, one.labels[0]!]),
      count: n + 1,
      imageShape: query.imageShape,
    };
    tidy(() =>
      noGrad(() => {
        const { x, y } = toTensors(batch);
        const last = forward(x).slice(0, n, n + 1);
        loss += crossEntropy(last, y.slice(0, n, n + 1)).item();
        correct += last.argmax(1).item() === one.labels[0] ? 1 : 0;
      }),
    );
  }
  return { loss: loss / query.count, accuracy: correct / query.count };
}

/** Loss and accuracy of any forward pass on a set, predicted as one batch. */
export function predictWith(set: TaskSet, forward: (x: Tensor) => Tensor): QueryResult {
  return tidy(() =>
    noGrad(() => {
      const { x, y } = toTensors(set);
      const logits = forward(x);
      const loss = crossEntropy(logits, y).item();
      const correct = logits.argmax(1).eq(y).sum().item();
      return { loss, accuracy: correct / set.count };
    }),
  );
}
