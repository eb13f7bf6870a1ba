// Meta-testing (SPEC section 6): each test task adapted from the meta-parameters (default 50
// steps adapting the architecture, then 50 weight-only steps), accuracy on its query set, the
// pruned task-specific architecture and its size. Task optimisers restart from their
// meta-trained state before every task.
import { sampleTask } from "../data/sampler.js";
import type { ClassPool, TaskSpec } from "../data/types.js";
import { cloneAll, copyInto, disposeAll } from "../metalearner/parameters.js";
import type { MetaModel } from "../models/model.js";
import { toDarts } from "../searchspace/genotype.js";
import { disposeSnapshot, type TaskOptimizers } from "../tasklearner/optimizers.js";
import { adapt, type InnerLoopSettings, predict, predictionPhase } from "../tasklearner/taskLearner.js";
import type { Rng } from "../util/rng.js";
import { meanAndCi95 } from "./statistics.js";

export interface EvaluationResult {
  accuracy: number;
  ci95: number;
  loss: number;
  tasks: number;
  accuracies: number[];
  /** Per task: weights the adapted, pruned network uses. */
  params: number[];
  /** Per task: the adapted genotype (DARTS notation), or null for fixed models. */
  genotypes: (string | null)[];
}

export async function evaluate(
  model: MetaModel,
  opt: TaskOptimizers,
  pool: ClassPool,
  task: TaskSpec,
  inner: InnerLoopSettings,
  numTasks: number,
  rng: Rng,
  onTask?: (done: number, meanAccuracy: number) => void,
): Promise<EvaluationResult> {
  const settings: InnerLoopSettings = { ...inner, archSteps: model.arch.length > 0 ? inner.archSteps : 0, dropPath: 0 };
  const phase = predictionPhase(settings);
  const metaW = cloneAll(model.weights);
  const metaA = cloneAll(model.arch);
  const optState = opt.snapshot();
  const accuracies: number[] = [];
  const losses: number[] = [];
  const params: number[] = [];
  const genotypes: (string | null)[] = [];
  try {
    for (let t = 0; t < numTasks; t++) {
      copyInto(model.weights, metaW);
      copyInto(model.arch, metaA);
      opt.restore(optState);
      const sample = sampleTask(pool, task, rng);
      await adapt(model, opt, sample, settings, rng);
      const q = predict(model, sample.query, phase);
      accuracies.push(q.accuracy);
      losses.push(q.loss);
      params.push(model.activeParams(phase));
      const g = model.arch.length > 0 ? model.genotype() : null;
      genotypes.push(g ? toDarts(g) : null);
      onTask?.(t + 1, accuracies.reduce((a, b) => a + b, 0) / accuracies.length);
    }
  } finally {
    copyInto(model.weights, metaW);
    copyInto(model.arch, metaA);
    opt.restore(optState);
    disposeAll([...metaW, ...metaA]);
    disposeSnapshot(optState);
  }
  const { mean, ci95 } = meanAndCi95(accuracies);
  return {
    accuracy: mean,
    ci95,
    loss: losses.reduce((a, b) => a + b, 0) / losses.length,
    tasks: numTasks,
    accuracies,
    params,
    genotypes,
  };
}
