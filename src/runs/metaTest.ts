// Meta-testing within a run: validation during meta-training and the final meta-test, each rank
// adapting its share of the tasks; and what a run records of an evaluation (its metrics line and
// its summary).
import {
  aggregate,
  type EvaluationResult,
  evaluateTasks,
  type PruningResult,
  type TaskResult,
} from "../evaluation/evaluate.js";
import { distribution, meanAndCi95, mostFrequent } from "../evaluation/statistics.js";
import type { ArchitectureEntropy } from "../models/model.js";
import { toDarts, toJson } from "../searchspace/genotype.js";
import type { ProgressReporter } from "../util/progress.js";
import type { RunConfig } from "./config.js";
import { gatherResults, taskShare } from "./distributed.js";
import type { EvalRecord, Summary } from "./format.js";
import type { Ranks } from "./ranks.js";
import { type EvalSplit, evalPool, type Session, testInner } from "./session.js";

/** Independent streams for evaluations, so that evaluating never shifts the training stream (epoch -1: the final meta-test). */
export const evalSeed = (c: RunConfig, epoch: number) => (c.seed * 7919 + (epoch + 1) * 104729 + 17) % 0x7fffffff;

/** An evaluation's results, and the CPU seconds this rank spent adapting and predicting its tasks. */
export type RunEvaluation = EvaluationResult & { cpuSeconds: number };

/** Meta-tests `tasks` tasks, each rank its share; every rank gets all the results. */
export async function runEval(
  session: Session,
  ranks: Ranks,
  split: EvalSplit,
  tasks: number,
  seed: number,
  reporter: ProgressReporter,
  label: string,
  /** The meta-level scale of the temperatures (default: the meta-test's). */
  scale?: number,
): Promise<RunEvaluation> {
  const c = session.config;
  const mine = taskShare(tasks, ranks.rank, ranks.size);
  const results = new Map<number, TaskResult>();
  let sum = 0;
  reporter.start(label, mine.length);
  const cpu0 = process.cpuUsage();
  const spec = { ways: c.ways, shots: c.shots, queries: c.queries };
  await evaluateTasks(
    session.model,
    session.opt,
    evalPool(session, split),
    spec,
    testInner(c, scale),
    mine,
    seed,
    (t, r) => {
      results.set(t, r);
      sum += r.accuracy;
      reporter.update(results.size, { acc: `${((100 * sum) / results.size).toFixed(1)}%` });
    },
  );
  reporter.stop();
  const cpu = process.cpuUsage(cpu0);
  const all = ranks.group
    ? await gatherResults(ranks.group, `the results of the ${label}`, tasks, results)
    : mine.map((t) => results.get(t)!);
  return { ...aggregate(all), cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

/** The metrics line of an evaluation. */
export function evalRecord(epoch: number, split: EvalSplit, r: RunEvaluation, elapsed: number): EvalRecord {
  const { accuracy, ci95, tasks, loss, cpuSeconds } = r;
  return { kind: "eval", epoch, split, accuracy, ci95, tasks, loss, elapsed, cpuSeconds };
}

function pruningSummary(p: PruningResult[]): NonNullable<Summary["pruning"]> {
  const side = (values: number[]) => {
    const { mean, ci95 } = meanAndCi95(values);
    return { accuracy: mean, ci95, values };
  };
  const discreteParams = p.map((r) => r.discreteParams);
  const entropies = p.map((r) => r.entropy).filter((e): e is ArchitectureEntropy => e !== null);
  return {
    oneShot: side(p.map((r) => r.oneShot)),
    discrete: side(p.map((r) => r.discrete)),
    discreteParams: { ...distribution(discreteParams), values: discreteParams },
    ...(entropies.length ? { entropy: meanOverTasks(entropies) } : {}),
  };
}

/** The mean of each entropy over the tasks. */
function meanOverTasks(es: ArchitectureEntropy[]): ArchitectureEntropy {
  const mean = (k: keyof ArchitectureEntropy) => es.reduce((a, e) => a + e[k], 0) / es.length;
  return {
    normalOps: mean("normalOps"),
    normalPairs: mean("normalPairs"),
    reduceOps: mean("reduceOps"),
    reducePairs: mean("reducePairs"),
  };
}

/** A meta-test's summary: accuracy, protocol, the meta-learned and per-task genotypes and sizes. */
export function summarise(session: Session, r: RunEvaluation, epochs: number, wallSeconds: number): Summary {
  const genotype = session.model.genotype();
  const p = distribution(r.params);
  const adapted = r.genotypes.filter((x): x is string => x !== null);
  return {
    accuracy: r.accuracy,
    ci95: r.ci95,
    tasks: r.tasks,
    protocol: session.config.testProtocol,
    genotype: genotype ? toDarts(genotype) : `${session.model.kind} (no cell genotype)`,
    genotypeJson: genotype ? JSON.parse(toJson(genotype)) : null,
    params: { total: session.model.totalParams(), pruned: p.median },
    perTaskParams: { ...p, values: r.params },
    perTaskAccuracy: r.accuracies,
    topGenotypes: mostFrequent(adapted, 5),
    ...(adapted.length ? { distinctGenotypes: new Set(adapted).size } : {}),
    ...(r.pruning ? { pruning: pruningSummary(r.pruning) } : {}),
    epochs,
    wallSeconds,
    testCpuSeconds: r.cpuSeconds,
  };
}
