// One task of the user's own: the meta-learned model adapted to a labelled support set exactly as
// meta-testing adapts a test task (evaluate.ts: the same inner-loop settings, steps, temperatures
// and forward pruning, from the meta-trained weights, architecture and task-optimiser state), then
// the class probabilities of query images.
//
// A support set may have fewer classes (k) than the network has outputs (the run's ways): the task
// then uses the first k outputs alone, in adaptation's loss and in the probabilities. Meta-training
// gave every task's classes to the outputs in a random order, so no k outputs are special.
import type { TaskSet } from "../data/types.js";
import { cat, noGrad, type Tensor, tensor, tidy } from "../engine/index.js";
import type { ForwardPhase, MetaModel } from "../models/model.js";
import type { Genotype } from "../searchspace/genotype.js";
import type { TaskOptimizers } from "../tasklearner/optimizers.js";
import { adapt, type InnerLoopSettings, predictionPhase } from "../tasklearner/taskLearner.js";
import type { Rng } from "../util/rng.js";
import { testSettings } from "./evaluate.js";

/**
 * How query images are batched for the forward pass (batch norm normalises by the batch's own
 * statistics): "all", as meta-testing predicts a query set, one batch of every query image; "each",
 * every image alone in a batch with the support images, so its prediction depends on no other query.
 */
export const QUERY_BATCHES = ["all", "each"] as const;
export type QueryBatch = (typeof QUERY_BATCHES)[number];

export interface TaskPrediction {
  /** Per query image, the probability of each support class (label order). */
  probabilities: number[][];
  /** The phase the adapted model predicts in (the meta-test temperature and pruning threshold). */
  phase: ForwardPhase;
  /** The adapted, pruned architecture (models with one), and the weights the prediction uses. */
  genotype: Genotype | null;
  params: number;
  totalParams: number;
}

/** The model seen through its first k outputs (itself when k is all of them). */
export function firstOutputs(model: MetaModel, k: number): MetaModel {
  return {
    kind: model.kind,
    weights: model.weights,
    weightNames: model.weightNames,
    arch: model.arch,
    archNames: model.archNames,
    forward: (x, phase) => {
      const logits = model.forward(x, phase);
      return k === logits.shape[1] ? logits : logits.slice(1, 0, k);
    },
    genotype: () => model.genotype(),
    activeParams: (phase) => model.activeParams(phase),
    totalParams: () => model.totalParams(),
    dispose: () => model.dispose(),
  };
}

/** Class probabilities of every row of x, as plain arrays. */
function probabilities(model: MetaModel, x: Tensor, phase: ForwardPhase, rows?: [number, number]): number[][] {
  const p = tidy(() => noGrad(() => model.forward(x, phase).softmax(1)).toArray());
  const k = p.length / x.shape[0]!;
  const [from, to] = rows ?? [0, x.shape[0]!];
  return Array.from({ length: to - from }, (_, r) => p.slice((from + r) * k, (from + r + 1) * k));
}

/** Query probabilities of the adapted model, batched as asked. */
function classify(model: MetaModel, support: TaskSet, query: TaskSet, phase: ForwardPhase, batch: QueryBatch) {
  const [c, h, w] = query.imageShape;
  const x = (set: TaskSet, from = 0, count = set.count) =>
    tensor(set.images.subarray(from * c * h * w, (from + count) * c * h * w), [count, c, h, w]);
  if (batch === "all") return tidy(() => probabilities(model, x(query), phase));
  const out: number[][] = [];
  for (let i = 0; i < query.count; i++) {
    const rows: [number, number] = [support.count, support.count + 1];
    out.push(...tidy(() => probabilities(model, cat([x(support), x(query, i, 1)]), phase, rows)));
  }
  return out;
}

/**
 * Adapts the model in place to the support set (labels 0..classes-1) from its current (meta)
 * parameters and task-optimiser state, as meta-testing adapts a test task, drawing the inner loop's
 * batches from `rng`; then classifies the query images. The model stays adapted (to save it).
 */
export async function adaptAndPredict(
  model: MetaModel,
  opt: TaskOptimizers,
  support: TaskSet,
  classes: number,
  query: TaskSet,
  inner: InnerLoopSettings,
  rng: Rng,
  batch: QueryBatch = "all",
): Promise<TaskPrediction> {
  const settings = testSettings(model, inner);
  const phase = predictionPhase(settings);
  const task = firstOutputs(model, classes);
  await adapt(task, opt, { support, query, classes: [] }, settings, rng);
  return {
    probabilities: classify(task, support, query, phase, batch),
    phase,
    genotype: model.arch.length > 0 ? model.genotype() : null,
    params: model.activeParams(phase),
    totalParams: model.totalParams(),
  };
}
