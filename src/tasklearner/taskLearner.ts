// The task learner (docs/method.md §3), first-order DARTS: per step two batches drawn with
// replacement from the support set; an architecture step on the second batch's loss (gradients
// with respect to alpha and beta only, at the current weights), then a weight step on the first.
import { sampleBatch } from "../data/sampler.js";
import type { Task, TaskSet } from "../data/types.js";
import { crossEntropy, grad, noGrad, type Tensor, tidy } from "../engine/index.js";
import type { ForwardPhase, MetaModel } from "../models/model.js";
import { temperatureAt } from "../sparsification/temperature.js";
import type { Rng } from "../util/rng.js";
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
  /** Forward-pruning threshold for ops and input pairs. */
  threshold: number;
  /** Drop-path probability during the steps (meta-training only); never for predictions. */
  dropPath: number;
}

/** Temperature at inner step s: annealed over the architecture steps, then held at tMin. */
export function innerTemperature(s: number, o: InnerLoopSettings): number {
  if (o.archSteps <= 0) return o.tMax;
  return temperatureAt(Math.min(s, o.archSteps - 1), { tMax: o.tMax, tMin: o.tMin, steps: o.archSteps });
}

/** The phase in which the query set is predicted after adaptation. */
export function predictionPhase(o: InnerLoopSettings): ForwardPhase {
  return { temperature: o.archSteps > 0 ? o.tMin : o.tMax, threshold: o.threshold, dropPath: 0 };
}

/** Yields to the event loop so that finalizers and signals get their turn (native/README.md). */
export const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

function lossOn(model: MetaModel, set: TaskSet, phase: ForwardPhase) {
  const { x, y } = toTensors(set);
  return crossEntropy(model.forward(x, phase), y);
}

/** Adapts the model's weights (and architecture) to the task in place. */
export async function adapt(
  model: MetaModel,
  opt: TaskOptimizers,
  task: Task,
  o: InnerLoopSettings,
  rng: Rng,
): Promise<void> {
  for (let s = 0; s < o.steps; s++) {
    const phase: ForwardPhase = { temperature: innerTemperature(s, o), threshold: o.threshold, dropPath: o.dropPath };
    const adaptArch = s < o.archSteps && opt.arch !== null;
    const weightBatch = sampleBatch(task.support, o.batchSize, rng);
    const archBatch = adaptArch ? sampleBatch(task.support, o.batchSize, rng) : null;
    if (archBatch && opt.arch) {
      const archOpt = opt.arch;
      tidy(() => archOpt.apply(grad(lossOn(model, archBatch, phase), model.arch)));
    }
    tidy(() => opt.weights.apply(grad(lossOn(model, weightBatch, phase), model.weights)));
    await turn();
  }
}

export interface QueryResult {
  loss: number;
  accuracy: number;
}

/** Loss and accuracy on a set, predicted as one batch (batch-norm statistics of that batch). */
export function predict(model: MetaModel, set: TaskSet, phase: ForwardPhase): QueryResult {
  return predictWith(set, (x) => model.forward(x, phase));
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
