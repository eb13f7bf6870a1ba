// The outer loop (docs/method.md §4): per meta-epoch a meta-batch of tasks, each adapted from the
// meta-parameters by the task learner; the meta-learner turns the adapted parameters into an update.
//
// Random streams: task i of meta-epoch e is drawn, and its batches and drop-path masks are drawn,
// from streams derived from (seed, e, i) alone, so every process that adapts task i sees the same
// task whatever the number of processes. libtorch's global generator (drop-path) is seeded per task.
//
// Spread over ranks: the meta-batch's tasks form `optimizerChains` chains of consecutive tasks
// (default: one per rank), and each rank adapts the tasks of its chains. Along a chain the task
// optimisers' Adam state carries over from task to task, as in the reference code; every chain
// starts from the state the meta-epoch started with, and the next meta-epoch starts from the mean
// of the chains' final states (moments and step counts). With one chain this is the reference
// behaviour exactly; with one process per chain the ranks' states stay equal, so a checkpoint from
// rank 0 holds the whole run. One all-reduce per meta-epoch adds up the meta-learner's sums, the
// chains' Adam moments and (in float64) the per-task metrics and step counts; every rank then
// applies the same meta-update.
import { sampleTask } from "../data/sampler.js";
import type { ClassPool, TaskSpec } from "../data/types.js";
import {
  accumulate,
  copyInto,
  crossEntropy,
  disposeAll,
  manualSeed,
  type ProcessGroup,
  scaleAll,
  tensor,
  zerosLikeAll,
} from "../engine/index.js";
import type { ArchitectureEntropy, ForwardPhase, MetaModel } from "../models/model.js";
import { type TemperatureScaleSettings, temperatureScale } from "../sparsification/temperature.js";
import { toTensors } from "../tasklearner/batch.js";
import type { TaskOptimizers } from "../tasklearner/optimizers.js";
import { adapt, type InnerLoopSettings, predict, predictionPhase } from "../tasklearner/taskLearner.js";
import { peekPhaseTimes, timed } from "../util/phaseTimes.js";
import { deriveSeed, Rng } from "../util/rng.js";
import type { MetaLearner } from "./metaLearner.js";
import { type OuterSchedule, outerStepFactor } from "./schedule.js";

export interface MetaTrainSettings {
  metaBatch: number;
  /** Meta-epochs without architecture adaptation (T stays tMax). */
  warmup: number;
  pruneEvery: number;
  pruneBelow: number;
  task: TaskSpec;
  inner: InnerLoopSettings;
  /** The run's seed, from which every task's random streams are derived. */
  seed: number;
  /** Chains along which the task optimisers' state carries over (default: one per rank). */
  optimizerChains?: number;
  /** The outer step's schedule over `epochs` meta-epochs (default: constant). */
  schedule?: OuterSchedule;
  epochs?: number;
  /** The meta-level annealing of the inner temperatures over the search meta-epochs (default: none). */
  scale?: TemperatureScaleSettings;
}

export interface EpochResult {
  loss: number;
  accuracy: number;
  temperature: number;
  /** The meta-level scale of this meta-epoch's inner temperatures. */
  scale: number;
  warmup: boolean;
  prunedLogits: number;
  entropy: ArchitectureEntropy;
  /** Seconds this rank waited for the others to finish their tasks, and then spent in the all-reduce (0 in one process). */
  waitSeconds: number;
  collectiveSeconds: number;
  /** Spread over ranks: each rank's own figures for its tasks, in rank order. */
  rankTimes?: RankTimes[];
}

const PHASES = ["tasks", "archSteps", "weightSteps", "predictions"] as const;
const RANK_TIME_KEYS = ["seconds", "cpuSeconds", ...PHASES] as const;
/** What one rank's tasks of a meta-epoch cost it: wall and CPU seconds, and wall seconds by phase. */
export type RankTimes = Record<(typeof RANK_TIME_KEYS)[number], number>;

const NO_ENTROPY: ArchitectureEntropy = { normalOps: 0, normalPairs: 0, reduceOps: 0, reducePairs: 0 };

/** The random stream of meta-training task `index` of meta-epoch `epoch` (0-based). */
export function trainTaskRng(seed: number, epoch: number, index: number): Rng {
  return new Rng(deriveSeed(seed, epoch, index));
}

/** Consecutive blocks: block k of `blocks` over `n` items is [floor(k n / blocks), floor((k + 1) n / blocks)). */
function block(n: number, blocks: number, k: number): [number, number] {
  return [Math.floor((k * n) / blocks), Math.floor(((k + 1) * n) / blocks)];
}

/** The task indices of each chain a rank adapts: chains are consecutive tasks, ranks take consecutive chains. */
export function chainsOfRank(metaBatch: number, chains: number, rank: number, size: number): number[][] {
  if (!(Number.isInteger(chains) && chains >= size && chains <= metaBatch))
    throw new Error(
      `the meta-batch of ${metaBatch} tasks cannot be spread as ${chains} optimiser chain(s) over ${size} rank(s): every rank needs a chain and every chain a task`,
    );
  const [first, last] = block(chains, size, rank);
  return Array.from({ length: last - first }, (_, k) => {
    const [a, b] = block(metaBatch, chains, first + k);
    return Array.from({ length: b - a }, (_, j) => a + j);
  });
}

/** What one meta-epoch needs to adapt its tasks, fixed for the whole meta-epoch. */
interface EpochPlan {
  epoch: number;
  settings: MetaTrainSettings;
  /** The inner loop of this meta-epoch (no architecture steps during warm-up). */
  inner: InnerLoopSettings;
  phase: ForwardPhase;
  /** Per task: query loss and accuracy (0 for other ranks' tasks, so a sum over ranks is exact). */
  perTask: Float64Array;
  /** The task optimisers' step counts, summed over this rank's chains. */
  stepSum: number[];
}

/** Adapts task `i` from the meta-parameters, records its query loss and accuracy, and hands it to the meta-learner. */
async function adaptTask(
  plan: EpochPlan,
  i: number,
  model: MetaModel,
  opt: TaskOptimizers,
  learner: MetaLearner,
  pool: ClassPool,
) {
  const rng = trainTaskRng(plan.settings.seed, plan.epoch, i);
  manualSeed(rng.seed());
  const task = timed("tasks", () => sampleTask(pool, plan.settings.task, rng));
  await adapt(model, opt, task, plan.inner, rng);
  const q = predict(model, task.query, plan.phase);
  plan.perTask[2 * i] = q.loss;
  plan.perTask[2 * i + 1] = q.accuracy;
  learner.afterTask(model, () => {
    const { x, y } = toTensors(task.query);
    return crossEntropy(model.forward(x, plan.phase), y);
  });
}

/** Adapts this rank's chains of tasks; with several chains, each starts from the meta-epoch's optimiser state and their final states are summed. */
async function adaptChains(
  plan: EpochPlan,
  mine: number[][],
  model: MetaModel,
  opt: TaskOptimizers,
  learner: MetaLearner,
  pool: ClassPool,
) {
  const start = mine.length > 1 ? opt.snapshot() : null;
  const stateSum = mine.length > 1 ? zerosLikeAll(opt.moments()) : null;
  try {
    for (const [k, chain] of mine.entries()) {
      if (k > 0) start?.restore();
      for (const i of chain) await adaptTask(plan, i, model, opt, learner, pool);
      if (stateSum) accumulate(stateSum, opt.moments());
      opt.steps.forEach((v, j) => (plan.stepSum[j]! += v));
    }
    if (stateSum) copyInto(opt.moments(), stateSum);
  } finally {
    start?.dispose();
    if (stateSum) disposeAll(stateSum);
  }
}

/** Sums the meta-learner's accumulators, the optimiser moments, the per-task metrics, step counts and per-rank times over the ranks; returns the seconds spent waiting and reducing, and every rank's times. */
async function allReduceEpoch(
  plan: EpochPlan,
  group: ProcessGroup,
  opt: TaskOptimizers,
  learner: MetaLearner,
  own: RankTimes,
): Promise<{ waitSeconds: number; collectiveSeconds: number; rankTimes: RankTimes[] }> {
  const metaBatch = plan.settings.metaBatch;
  // Each rank fills its own block of the per-rank times, zeros elsewhere, so the sum holds every rank's.
  const k = RANK_TIME_KEYS.length;
  const times = new Float64Array(k * group.size);
  RANK_TIME_KEYS.forEach((key, j) => (times[k * group.rank + j] = own[key]));
  const numbers = tensor(
    Float64Array.from([...plan.perTask, ...plan.stepSum, ...times]),
    [2 * metaBatch + 2 + times.length],
    "float64",
  );
  try {
    const label = `the all-reduce of meta-epoch ${plan.epoch + 1}`;
    // The barrier takes the wait for the slowest rank, so that the all-reduce's own time shows apart.
    const t0 = performance.now();
    await group.barrier(label);
    const t1 = performance.now();
    await group.allReduceSum([...learner.accumulators(), ...opt.moments()], label);
    await group.allReduceSum([numbers], label);
    const waitSeconds = (t1 - t0) / 1000;
    const collectiveSeconds = (performance.now() - t1) / 1000;
    const summed = numbers.data();
    plan.perTask.set(summed.subarray(0, 2 * metaBatch));
    plan.stepSum.splice(0, 2, summed[2 * metaBatch]!, summed[2 * metaBatch + 1]!);
    const base = 2 * metaBatch + 2;
    const rankTimes = Array.from(
      { length: group.size },
      (_, r) => Object.fromEntries(RANK_TIME_KEYS.map((key, j) => [key, summed[base + k * r + j]!])) as RankTimes,
    );
    return { waitSeconds, collectiveSeconds, rankTimes };
  } finally {
    numbers.dispose();
  }
}

/** This rank's times since `t0` and `cpu0`, by phase from the run's phase totals. */
function ownTimes(t0: number, cpu0: NodeJS.CpuUsage): RankTimes {
  const cpu = process.cpuUsage(cpu0);
  const p = peekPhaseTimes();
  const phases = Object.fromEntries(PHASES.map((k) => [k, p[k] ?? 0])) as Record<(typeof PHASES)[number], number>;
  return { seconds: (performance.now() - t0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6, ...phases };
}

/** The mean query loss and accuracy over the meta-batch's tasks. */
function meanOverTasks(perTask: Float64Array, metaBatch: number): { loss: number; accuracy: number } {
  let loss = 0;
  let accuracy = 0;
  for (let i = 0; i < metaBatch; i++) {
    loss += perTask[2 * i]! / metaBatch;
    accuracy += perTask[2 * i + 1]! / metaBatch;
  }
  return { loss, accuracy };
}

/** The meta-level scale of meta-epoch `epoch` (0-based): 1 in the warm-up, then as `settings.scale` says. */
export function epochScale(epoch: number, settings: MetaTrainSettings): number {
  if (!settings.scale || epoch < settings.warmup) return 1;
  return temperatureScale(epoch - settings.warmup, (settings.epochs ?? 0) - settings.warmup, settings.scale);
}

/** One meta-epoch (0-based `epoch`), updating the model's meta-parameters in place on every rank. */
export async function metaEpoch(
  epoch: number,
  model: MetaModel,
  opt: TaskOptimizers,
  learner: MetaLearner,
  pool: ClassPool,
  settings: MetaTrainSettings,
  group: ProcessGroup | null = null,
): Promise<EpochResult> {
  const size = group?.size ?? 1;
  const chains = settings.optimizerChains ?? size;
  const mine = chainsOfRank(settings.metaBatch, chains, group?.rank ?? 0, size);
  const warmup = epoch < settings.warmup;
  const archSteps = warmup || model.arch.length === 0 ? 0 : settings.inner.steps;
  const scale = epochScale(epoch, settings);
  const { tMax, tMin } = settings.inner;
  const inner: InnerLoopSettings = { ...settings.inner, archSteps, tMax: tMax * scale, tMin: tMin * scale };
  const phase = predictionPhase(inner);
  const plan: EpochPlan = {
    epoch,
    settings,
    inner,
    phase,
    perTask: new Float64Array(2 * settings.metaBatch),
    stepSum: [0, 0],
  };
  learner.begin(model);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await adaptChains(plan, mine, model, opt, learner, pool);
  const times = group
    ? await allReduceEpoch(plan, group, opt, learner, ownTimes(t0, cpu0))
    : { waitSeconds: 0, collectiveSeconds: 0 };
  if (chains > 1) {
    // The next meta-epoch starts from the mean of the chains' final states.
    scaleAll(opt.moments(), 1 / chains);
    opt.steps = [plan.stepSum[0]! / chains, plan.stepSum[1]! / chains];
  }
  learner.end(model, settings.metaBatch, outerStepFactor(settings.schedule ?? "constant", epoch, settings.epochs ?? 0));
  const prune = settings.pruneEvery > 0 && !warmup && (epoch + 1) % settings.pruneEvery === 0;
  return {
    ...meanOverTasks(plan.perTask, settings.metaBatch),
    temperature: phase.temperature,
    scale,
    warmup,
    prunedLogits: prune ? (model.pruneOps?.(inner.tMin, settings.pruneBelow) ?? 0) : 0,
    entropy: model.architectureEntropy?.(phase.temperature) ?? NO_ENTROPY,
    ...times,
  };
}
