// The Conv4 baseline of a run (--baseline conv4): Conv4 meta-trained as REPTILE's authors ran it
// (their published hyperparameters for the run's task: presets reptile-*), and meta-tested on the
// same tasks in RUN_DIR/baseline-conv4, a run directory of its own.
//
// Same tasks: the data depends on (dataset, data folder, split, preprocessing, seed) only, and
// meta-test task t is drawn from a stream of (seed, t) alone (evaluate.ts taskRng), before the
// model touches the stream; so the baseline keeps the run's data and task settings and takes
// REPTILE's for everything it learns with.
//
// Budget (--baseline-budget): a number of meta-iterations, or "cpu": as many as fit in the run's own
// meta-training CPU seconds, at Conv4's CPU cost per meta-iteration measured on a short calibration.
// The number is measured once and recorded in RUN_DIR/baseline-budget.json (and the baseline's
// config), so a rerun or a resumed baseline is identical.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { metaEpoch } from "../metalearner/metaTrainer.js";
import { writeFileAtomic } from "../util/atomicWrite.js";
import { silentReporter } from "../util/progress.js";
import { CheckpointError } from "./checkpoint.js";
import { adjustableKeys, type RunConfig, type SettingKey, validateConfig } from "./config.js";
import { BASELINE_FILES, type Summary } from "./format.js";
import { PRESETS, reptilePresetFor } from "./presets.js";
import { RunDirError, readMetrics, readSummary, runDirState } from "./runDir.js";
import { type RunOptions, runTraining, type TrainingResult } from "./runner.js";
import { closeSession, openSession, trainInner } from "./session.js";

/** The baseline's run directory inside a run's. */
export function baselineDir(runDir: string): string {
  return path.join(runDir, BASELINE_FILES.conv4);
}

/** What REPTILE's presets set about the network and how it learns; the rest (data, tasks, seed, resources) stays the run's. */
const REPTILE_KEYS = [
  "model",
  "conv4Channels",
  "conv4Downsampling",
  "trainShots",
  "innerSteps",
  "batchSize",
  "batchSampling",
  "lrWeights",
  "weightDecay",
  "dropPath",
  "metaLearner",
  "metaBatch",
  "metaLrWeights",
  "metaSchedule",
  "warmup",
  "testSteps",
  "testArchSteps",
  "testBatchSize",
] as const satisfies readonly SettingKey[];

/** The baseline's configuration: the run's data and tasks, REPTILE's hyperparameters for them, `epochs` meta-iterations. */
export function baselineConfig(c: RunConfig, epochs: number): RunConfig {
  const { genotype: _genotype, ...rest } = c;
  const reptile: Partial<RunConfig> = PRESETS[reptilePresetFor(c)];
  const values = Object.fromEntries(REPTILE_KEYS.map((k) => [k, reptile[k]]));
  // As many validations as the run had.
  const evalEvery = c.evalEvery > 0 ? Math.max(1, Math.round((epochs * c.evalEvery) / c.epochs)) : 0;
  const checkpointEvery = Math.max(1, Math.round(epochs / 20));
  return validateConfig(
    { ...rest, ...values, epochs, evalEvery, checkpointEvery, baseline: "none", preset: reptilePresetFor(c) },
    "the baseline's configuration",
  );
}

/** How the baseline's meta-iterations were set, recorded in its budget.json. */
export interface BaselineBudget {
  budget: "cpu" | "iterations";
  epochs: number;
  /** budget cpu: the run's meta-training CPU seconds, and Conv4's measured CPU seconds per meta-iteration. */
  runCpuSeconds?: number;
  cpuPerIteration?: number;
  calibrationIterations?: number;
}

export const BUDGET_FILE = BASELINE_FILES.budget;
const CALIBRATION_ITERATIONS = 30;

/** The run's meta-training CPU seconds (all ranks: rank 0's seconds times the ranks). */
function runCpuSeconds(runDir: string): number {
  return readMetrics(runDir)
    .flatMap((r) => (r.kind === "train" ? [(r.cpuSeconds ?? r.seconds) * (r.ranks ?? 1)] : []))
    .reduce((a, b) => a + b, 0);
}

/** Conv4's CPU seconds per meta-iteration under `c`, over a few meta-iterations in this process. */
async function cpuPerIteration(c: RunConfig): Promise<number> {
  const session = await openSession(c, () => {});
  try {
    const settings = {
      metaBatch: c.metaBatch,
      warmup: 0,
      pruneEvery: 0,
      pruneBelow: c.pruneBelow,
      task: { ways: c.ways, shots: c.trainShots, queries: c.queries },
      inner: trainInner(c),
      seed: c.seed,
    };
    await metaEpoch(0, session.model, session.opt, session.learner, session.dataset.splits.train, settings); // warm caches
    const cpu0 = process.cpuUsage();
    for (let e = 1; e <= CALIBRATION_ITERATIONS; e++)
      await metaEpoch(e, session.model, session.opt, session.learner, session.dataset.splits.train, settings);
    const cpu = process.cpuUsage(cpu0);
    return (cpu.user + cpu.system) / 1e6 / CALIBRATION_ITERATIONS;
  } finally {
    closeSession(session);
  }
}

/** The baseline's budget: recorded in `dir` when it was set before, else set now from `c.baselineBudget`. */
async function budgetFor(runDir: string, c: RunConfig): Promise<BaselineBudget> {
  const file = path.join(runDir, BUDGET_FILE);
  if (existsSync(file)) {
    const recorded = JSON.parse(readFileSync(file, "utf8")) as BaselineBudget;
    const asked = c.baselineBudget === "cpu" ? "cpu" : "iterations";
    if (recorded.budget === asked && (asked === "cpu" || recorded.epochs === Number(c.baselineBudget))) return recorded;
  }
  let budget: BaselineBudget;
  if (c.baselineBudget !== "cpu") budget = { budget: "iterations", epochs: Number(c.baselineBudget) };
  else {
    const total = runCpuSeconds(runDir);
    const perIteration = await cpuPerIteration(baselineConfig(c, 1));
    budget = {
      budget: "cpu",
      epochs: Math.max(1, Math.floor(total / perIteration)),
      runCpuSeconds: total,
      cpuPerIteration: perIteration,
      calibrationIterations: CALIBRATION_ITERATIONS,
    };
  }
  writeFileAtomic(file, `${JSON.stringify(budget, null, 2)}\n`);
  return budget;
}

export interface BaselineResult {
  dir: string;
  /** Null when it stopped before finishing (a signal, or `stopAfter`). */
  summary: Summary | null;
  budget: BaselineBudget;
}

const pct = (summary: Summary) => `${(100 * summary.accuracy).toFixed(2)}% ± ${(100 * summary.ci95).toFixed(2)}`;

function describeBudget(b: BaselineBudget): string {
  return b.budget === "cpu"
    ? `${b.epochs} meta-iterations: the run's ${b.runCpuSeconds?.toFixed(0)} CPU seconds of meta-training at ${b.cpuPerIteration?.toFixed(3)} CPU s per Conv4 meta-iteration`
    : `${b.epochs} meta-iterations, as asked`;
}

/**
 * Runs the baseline of the run in `runDir` (configuration `c`, as it ran) in one process: reuses a
 * finished one that matches its budget and the run's test tasks, continues a stopped one, starts
 * one otherwise. Null when `c` asks for no baseline.
 */
export async function runBaseline(
  runDir: string,
  c: RunConfig,
  o: Omit<RunOptions, "launch" | "skipFinalTest"> = {},
): Promise<BaselineResult | null> {
  if (c.baseline === "none") return null;
  const reporter = o.reporter ?? silentReporter;
  const dir = baselineDir(runDir);
  const budget = await budgetFor(runDir, c);
  const wanted = baselineConfig(c, budget.epochs);
  let state = runDirState(dir);
  if (state === "finished") {
    const summary = readSummary(dir);
    if (summary.epochs === wanted.epochs && summary.tasks === wanted.testTasks) {
      reporter.log(`baseline: Conv4 finished earlier in ${dir}: ${pct(summary)} on the same tasks`);
      return { dir, summary, budget };
    }
    state = "stopped"; // --resume raised the run's test tasks: go on from the baseline's checkpoint
  }
  reporter.log(
    `baseline: ${state === "stopped" ? "continuing" : "meta-training"} Conv4 as REPTILE's ${wanted.preset} on the same tasks as the ${c.model === "metanas" ? "search" : "run"} (seed ${wanted.seed}, ${describeBudget(budget)}, ${wanted.testTasks} meta-test tasks) in ${dir}`,
  );
  // What a resumed run may change follows the run's; the rest is the run's already.
  const overrides = Object.fromEntries(adjustableKeys("resume").map((k) => [k, wanted[k]])) as Partial<RunConfig>;
  let r: TrainingResult;
  try {
    r = await runTraining(dir, state === "stopped" ? { resume: true, overrides } : { config: wanted }, {
      ...o,
      launch: null,
    });
  } catch (err) {
    if (err instanceof RunDirError || err instanceof CheckpointError)
      throw new RunDirError(
        `the Conv4 baseline in ${dir} cannot continue (${err.message}): remove that folder to start the baseline afresh`,
      );
    throw err;
  }
  if (r.summary) reporter.log(`baseline: Conv4 reached ${pct(r.summary)} on the same ${r.summary.tasks} test tasks`);
  return { dir: r.dir, summary: r.summary, budget };
}
