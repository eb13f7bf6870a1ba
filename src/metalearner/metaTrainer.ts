// The outer loop (docs/method.md §4): per meta-epoch a meta-batch of tasks, each adapted from the
// meta-parameters by the task learner; the meta-learner turns the adapted parameters into an update.
import { sampleTask } from "../data/sampler.js";
import type { ClassPool, TaskSpec } from "../data/types.js";
import { crossEntropy } from "../engine/index.js";
import type { MetaModel } from "../models/model.js";
import { SearchModel } from "../models/searchModel.js";
import { meanEntropy, pruneOpLogits } from "../sparsification/metaPruning.js";
import { toTensors } from "../tasklearner/batch.js";
import type { TaskOptimizers } from "../tasklearner/optimizers.js";
import { adapt, type InnerLoopSettings, predict, predictionPhase } from "../tasklearner/taskLearner.js";
import { timed } from "../util/phaseTimes.js";
import type { Rng } from "../util/rng.js";
import type { MetaLearner } from "./metaLearner.js";

export interface MetaTrainSettings {
  metaBatch: number;
  /** Meta-epochs without architecture adaptation (T stays tMax). */
  warmup: number;
  pruneEvery: number;
  pruneBelow: number;
  task: TaskSpec;
  inner: InnerLoopSettings;
}

export interface EpochResult {
  loss: number;
  accuracy: number;
  temperature: number;
  warmup: boolean;
  prunedLogits: number;
  entropy: { normalOps: number; normalPairs: number; reduceOps: number; reducePairs: number };
}

/** Mean entropies of the meta-architecture's op and pair weights at temperature T. */
export function architectureEntropy(model: MetaModel, temperature: number): EpochResult["entropy"] {
  if (!(model instanceof SearchModel)) return { normalOps: 0, normalPairs: 0, reduceOps: 0, reducePairs: 0 };
  const a = model.architecture;
  const rows = (t: { data(): ArrayLike<number>; shape: number[] }) => {
    const d = Array.from(t.data());
    const k = t.shape[t.shape.length - 1]!;
    return Array.from({ length: d.length / k }, (_, r) => d.slice(r * k, (r + 1) * k));
  };
  return {
    normalOps: meanEntropy(rows(a.alpha.normal), temperature),
    normalPairs: meanEntropy(
      a.beta.normal.map((b) => Array.from(b.data())),
      temperature,
    ),
    reduceOps: meanEntropy(rows(a.alpha.reduce), temperature),
    reducePairs: meanEntropy(
      a.beta.reduce.map((b) => Array.from(b.data())),
      temperature,
    ),
  };
}

/** One meta-epoch (0-based `epoch`), updating the model's meta-parameters in place. */
export async function metaEpoch(
  epoch: number,
  model: MetaModel,
  opt: TaskOptimizers,
  learner: MetaLearner,
  pool: ClassPool,
  s: MetaTrainSettings,
  rng: Rng,
): Promise<EpochResult> {
  const warmup = epoch < s.warmup;
  const inner: InnerLoopSettings = { ...s.inner, archSteps: warmup || model.arch.length === 0 ? 0 : s.inner.steps };
  const phase = predictionPhase(inner);
  let loss = 0;
  let accuracy = 0;
  learner.begin(model);
  for (let i = 0; i < s.metaBatch; i++) {
    const task = timed("tasks", () => sampleTask(pool, s.task, rng));
    await adapt(model, opt, task, inner, rng);
    const q = predict(model, task.query, phase);
    loss += q.loss / s.metaBatch;
    accuracy += q.accuracy / s.metaBatch;
    learner.afterTask(model, () => {
      const { x, y } = toTensors(task.query);
      return crossEntropy(model.forward(x, phase), y);
    });
  }
  learner.end(model);
  let prunedLogits = 0;
  if (s.pruneEvery > 0 && !warmup && (epoch + 1) % s.pruneEvery === 0 && model instanceof SearchModel) {
    for (const kind of ["normal", "reduce"] as const)
      prunedLogits += pruneOpLogits(model.architecture.alpha[kind], s.inner.tMin, s.pruneBelow);
  }
  return {
    loss,
    accuracy,
    temperature: phase.temperature,
    warmup,
    prunedLogits,
    entropy: architectureEntropy(model, phase.temperature),
  };
}
