// Meta-testing (docs/method.md §6): each test task adapted from the meta-parameters (default 50
// steps adapting the architecture, then 50 weight-only steps), accuracy on its query set, the
// pruned task-specific architecture and its size. Task optimisers restart from their
// meta-trained state before every task. Task t draws from its own random stream, so results do
// not depend on how the tasks are spread over ranks.
import { sampleTask } from "../data/sampler.js";
import type { ClassPool, TaskSpec } from "../data/types.js";
import { Snapshot } from "../engine/index.js";
import type { ArchitectureEntropy, MetaModel } from "../models/model.js";
import { toDarts } from "../searchspace/genotype.js";
import type { TaskOptimizers } from "../tasklearner/optimizers.js";
import {
  adapt,
  type InnerLoopSettings,
  predictionPhase,
  predictQuery,
  predictQueryWith,
} from "../tasklearner/taskLearner.js";
import { Rng } from "../util/rng.js";
import { meanAndCi95 } from "./statistics.js";

export interface TaskResult {
  accuracy: number;
  loss: number;
  /** Weights the adapted, pruned network uses. */
  params: number;
  /** The adapted genotype (DARTS notation), or null for fixed models. */
  genotype: string | null;
  /** Models with a one-shot network: what pruning to the task's genotype costs. */
  pruning?: PruningResult;
}

/** Query accuracy of the adapted one-shot network before and after pruning it to its genotype. */
export interface PruningResult {
  /** The one-shot network at the final temperature with every op and input computed (no forward pruning). */
  oneShot: number;
  /** The discrete network of the task's genotype on the same weights. */
  discrete: number;
  discreteParams: number;
  /** Entropy (nats) of the adapted task's architecture weights at the final temperature. */
  entropy: ArchitectureEntropy | null;
}

export interface EvaluationResult {
  accuracy: number;
  ci95: number;
  loss: number;
  tasks: number;
  accuracies: number[];
  params: number[];
  genotypes: (string | null)[];
  /** Per task, for models with a one-shot network (else null). */
  pruning: PruningResult[] | null;
}

/** The random stream of test task `t` of an evaluation seeded with `seed`. */
export function taskRng(seed: number, t: number): Rng {
  return new Rng((Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(t + 1, 0x85ebca6b)) >>> 1);
}

/** Meta-test settings for a model: no drop-path, and no architecture steps for fixed models. */
export function testSettings(model: MetaModel, inner: InnerLoopSettings): InnerLoopSettings {
  return { ...inner, archSteps: model.arch.length > 0 ? inner.archSteps : 0, dropPath: 0 };
}

/**
 * Runs the given test tasks one after another from the model's current (meta) parameters and
 * optimiser state, restoring both before each task and at the end.
 */
export async function evaluateTasks(
  model: MetaModel,
  opt: TaskOptimizers,
  pool: ClassPool,
  task: TaskSpec,
  inner: InnerLoopSettings,
  taskIndices: readonly number[],
  seed: number,
  onTask?: (t: number, r: TaskResult) => void,
): Promise<TaskResult[]> {
  const settings = testSettings(model, inner);
  const phase = predictionPhase(settings);
  const meta = Snapshot.join([new Snapshot([...model.weights, ...model.arch]), opt.snapshot()]);
  const results: TaskResult[] = [];
  try {
    for (const t of taskIndices) {
      meta.restore();
      const rng = taskRng(seed, t);
      const sample = sampleTask(pool, task, rng);
      await adapt(model, opt, sample, settings, rng);
      const q = predictQuery(model, sample, phase, settings.protocol);
      const genotype = model.arch.length > 0 ? model.genotype() : null;
      const r: TaskResult = {
        accuracy: q.accuracy,
        loss: q.loss,
        params: model.activeParams(phase),
        genotype: genotype ? toDarts(genotype) : null,
      };
      if (genotype && model.forwardDiscrete && model.discreteParams) {
        const discreteForward = model.forwardDiscrete.bind(model);
        r.pruning = {
          oneShot: predictQuery(model, sample, { ...phase, threshold: 0 }, settings.protocol).accuracy,
          discrete: predictQueryWith(sample, (x) => discreteForward(x, genotype), settings.protocol ?? "transductive")
            .accuracy,
          discreteParams: model.discreteParams(genotype),
          entropy: model.architectureEntropy?.(phase.temperature) ?? null,
        };
      }
      results.push(r);
      onTask?.(t, r);
    }
  } finally {
    meta.restore();
    meta.dispose();
  }
  return results;
}

/** Mean accuracy with its 95% interval, and the per-task sizes and genotypes, in task order. */
export function aggregate(results: readonly TaskResult[]): EvaluationResult {
  const accuracies = results.map((r) => r.accuracy);
  const { mean, ci95 } = meanAndCi95(accuracies);
  return {
    accuracy: mean,
    ci95,
    loss: results.reduce((a, r) => a + r.loss, 0) / results.length,
    tasks: results.length,
    accuracies,
    params: results.map((r) => r.params),
    genotypes: results.map((r) => r.genotype),
    pruning: results.every((r) => r.pruning) ? results.map((r) => r.pruning!) : null,
  };
}
