// A whole run: meta-training with checkpoints, evaluations and metrics, then the final meta-test
// and summary. Resumable from the last checkpoint, exactly.
import { existsSync } from "node:fs";
import path from "node:path";
import { sampleTask } from "../data/sampler.js";
import { type EvaluationResult, evaluate, type PruningResult } from "../evaluation/evaluate.js";
import { distribution, meanAndCi95, mostFrequent } from "../evaluation/statistics.js";
import { metaEpoch } from "../metalearner/metaTrainer.js";
import { selfContained } from "../models/build.js";
import { toDarts, toJson } from "../searchspace/genotype.js";
import { takePhaseTimes } from "../util/phaseTimes.js";
import { type ProgressReporter, silentReporter } from "../util/progress.js";
import { Rng } from "../util/rng.js";
import { CHECKPOINT_FILE, loadCheckpoint, saveCheckpoint } from "./checkpoint.js";
import { adjustableKeys, flagOf, type RunConfig, type SettingKey, validateConfig } from "./config.js";
import type { Summary } from "./format.js";
import { evaluateInWorkers } from "./parallelEval.js";
import {
  appendMetrics,
  assertNewRunDir,
  createRunDir,
  RunDirError,
  readRunConfig,
  truncateMetrics,
  writeGenotype,
  writeSummary,
} from "./runDir.js";
import { closeSession, type EvalSplit, evalPool, openSession, type Session, testInner, trainInner } from "./session.js";

export interface RunOptions {
  reporter?: ProgressReporter;
  /** Called with the run directory when the run has finished (e.g. to write the report). */
  afterRun?: (dir: string) => Promise<void>;
  /** Install SIGINT/SIGTERM handlers that checkpoint and stop (the CLI does; tests may not). */
  handleSignals?: boolean;
  /** Stop (with a checkpoint) after this many meta-epochs of this invocation; for tests of resuming. */
  stopAfter?: number;
  /** Skip the final meta-test. */
  skipFinalTest?: boolean;
}

/** Independent streams for evaluations, so that evaluating never shifts the training stream. */
const evalSeed = (c: RunConfig, epoch: number) => (c.seed * 7919 + (epoch + 1) * 104729 + 17) % 0x7fffffff;

/** Draws one task of each kind the run will need, so that bad settings fail before anything is written. */
function checkTasks(s: Session): void {
  const c = s.config;
  const rng = new Rng(0);
  sampleTask(s.dataset.splits.train, { ways: c.ways, shots: c.trainShots, queries: c.queries }, rng);
  sampleTask(s.dataset.splits.test, { ways: c.ways, shots: c.shots, queries: c.queries }, rng);
  if (s.dataset.splits.val && c.evalEvery > 0)
    sampleTask(s.dataset.splits.val, { ways: c.ways, shots: c.shots, queries: c.queries }, rng);
}

async function runEval(
  s: Session,
  split: EvalSplit,
  tasks: number,
  seed: number,
  reporter: ProgressReporter,
  label: string,
): Promise<EvaluationResult> {
  const c = s.config;
  reporter.start(label, tasks);
  const progress = (done: number, acc: number) => reporter.update(done, { acc: `${(100 * acc).toFixed(1)}%` });
  const r =
    c.workers > 1 && tasks > 1
      ? await evaluateInWorkers(s, split, tasks, seed, c.workers, progress)
      : await evaluate(
          s.model,
          s.opt,
          evalPool(s, split),
          { ways: c.ways, shots: c.shots, queries: c.queries },
          testInner(c),
          tasks,
          seed,
          progress,
        );
  reporter.stop();
  return r;
}

function summarise(s: Session, r: EvaluationResult, epochs: number, wallSeconds: number): Summary {
  const g = s.model.genotype();
  const p = distribution(r.params);
  return {
    accuracy: r.accuracy,
    ci95: r.ci95,
    tasks: r.tasks,
    genotype: g ? toDarts(g) : `${s.model.kind} (no cell genotype)`,
    genotypeJson: g ? JSON.parse(toJson(g)) : null,
    params: { total: s.model.totalParams(), pruned: p.median },
    perTaskParams: { ...p, values: r.params },
    topGenotypes: mostFrequent(
      r.genotypes.filter((x): x is string => x !== null),
      5,
    ),
    ...(r.pruning ? { pruning: pruningSummary(r.pruning) } : {}),
    epochs,
    wallSeconds,
  };
}

function pruningSummary(p: PruningResult[]): NonNullable<Summary["pruning"]> {
  const side = (values: number[]) => {
    const { mean, ci95 } = meanAndCi95(values);
    return { accuracy: mean, ci95, values };
  };
  return {
    oneShot: side(p.map((r) => r.oneShot)),
    discrete: side(p.map((r) => r.discrete)),
    discreteParams: distribution(p.map((r) => r.discreteParams)),
  };
}

/** Meta-trains (search, or weights of a fixed model), then meta-tests. Returns the run directory and summary. */
export async function runTraining(
  dir: string,
  start: { config: RunConfig } | { resume: true; overrides?: Partial<RunConfig> },
  o: RunOptions = {},
): Promise<{ dir: string; summary: Summary | null }> {
  const reporter = o.reporter ?? silentReporter;
  const resume = "resume" in start;
  let c: RunConfig;
  if ("resume" in start) {
    c = resumedConfig(readRunConfig(dir), start.overrides ?? {});
  } else {
    // A genotype given as a file is stored by value, so the run directory stands on its own.
    c = selfContained(start.config);
    assertNewRunDir(dir);
  }
  const s = await openSession(c, (line) => reporter.log(line));
  if (!resume) {
    // Impossible task settings fail here, before the run directory exists.
    try {
      checkTasks(s);
      createRunDir(dir, c);
    } catch (err) {
      closeSession(s);
      throw err;
    }
  }
  let rng = new Rng(c.seed);
  let epoch = 0;
  const started = performance.now();
  let stopRequested = false;
  const onSignal = (sig: string) => {
    if (stopRequested) {
      reporter.log(`${sig} again: stopping now; the last checkpoint in ${dir} is intact`);
      process.exit(130);
    }
    stopRequested = true;
    process.exitCode = 130;
    reporter.log(
      `${sig}: finishing this meta-epoch, writing a checkpoint, then stopping (${sig} again to stop at once)`,
    );
  };
  const handlers = { SIGINT: () => onSignal("SIGINT"), SIGTERM: () => onSignal("SIGTERM") };
  if (o.handleSignals) for (const [sig, h] of Object.entries(handlers)) process.on(sig, h);
  try {
    if (resume) {
      const state = loadCheckpoint(dir, c, s.model, s.opt, s.learner);
      epoch = state.epoch;
      rng = state.rng;
      truncateMetrics(dir, epoch);
      reporter.log(`resuming ${dir} at meta-epoch ${epoch} of ${c.epochs}`);
    }
    const train = {
      metaBatch: c.metaBatch,
      warmup: c.warmup,
      pruneEvery: c.pruneEvery,
      pruneBelow: c.pruneBelow,
      task: { ways: c.ways, shots: c.trainShots, queries: c.queries },
      inner: trainInner(c),
    };
    const checkpoint = () => saveCheckpoint(dir, c, epoch, s.model, s.opt, s.learner, rng);
    let ranThisTime = 0;
    reporter.start("meta-train", c.epochs, epoch);
    while (epoch < c.epochs) {
      const t0 = performance.now();
      takePhaseTimes(); // start the epoch's phase times afresh (evaluations time phases too)
      const cpu0 = process.cpuUsage();
      const r = await metaEpoch(epoch, s.model, s.opt, s.learner, s.dataset.splits.train, train, rng);
      epoch += 1;
      ranThisTime += 1;
      const seconds = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      appendMetrics(dir, {
        kind: "train",
        epoch,
        loss: r.loss,
        accuracy: r.accuracy,
        temperature: r.temperature,
        entropy: r.entropy,
        warmup: r.warmup,
        seconds,
        elapsed: (performance.now() - started) / 1000,
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
        phases: takePhaseTimes(),
      });
      if (r.prunedLogits > 0) reporter.log(`meta-epoch ${epoch}: meta-model pruning removed ${r.prunedLogits} op(s)`);
      reporter.update(epoch, {
        acc: `${(100 * r.accuracy).toFixed(1)}%`,
        loss: r.loss.toFixed(3),
        T: r.temperature.toFixed(2),
      });
      if (c.evalEvery > 0 && epoch % c.evalEvery === 0 && epoch < c.epochs) {
        reporter.stop();
        const ev = await runEval(
          s,
          "val",
          c.evalTasks,
          evalSeed(c, epoch),
          reporter,
          `validation at meta-epoch ${epoch}`,
        );
        appendMetrics(dir, {
          kind: "eval",
          epoch,
          split: "val",
          accuracy: ev.accuracy,
          ci95: ev.ci95,
          tasks: ev.tasks,
          loss: ev.loss,
          elapsed: (performance.now() - started) / 1000,
        });
        const g = s.model.genotype();
        if (g) writeGenotype(dir, g, epoch);
        reporter.log(
          `meta-epoch ${epoch}: validation accuracy ${(100 * ev.accuracy).toFixed(1)}% ± ${(100 * ev.ci95).toFixed(1)} on ${ev.tasks} tasks`,
        );
        reporter.start("meta-train", c.epochs, epoch);
      }
      const stopNow = stopRequested || (o.stopAfter !== undefined && ranThisTime >= o.stopAfter);
      if ((c.checkpointEvery > 0 && epoch % c.checkpointEvery === 0) || stopNow || epoch === c.epochs) checkpoint();
      if (stopNow) {
        reporter.stop();
        reporter.log(
          `stopped at meta-epoch ${epoch}; continue with: metanas ${c.model === "metanas" ? "search" : "train"} --resume ${dir}`,
        );
        return { dir, summary: null };
      }
    }
    reporter.stop();
    if (!existsSync(path.join(dir, CHECKPOINT_FILE))) checkpoint();
    const g = s.model.genotype();
    if (g) writeGenotype(dir, g, epoch);
    if (o.skipFinalTest) return { dir, summary: null };
    const summary = await finalTest(s, dir, epoch, started, reporter);
    await o.afterRun?.(dir);
    return { dir, summary };
  } finally {
    if (o.handleSignals) for (const [sig, h] of Object.entries(handlers)) process.off(sig, h);
    closeSession(s);
  }
}

async function finalTest(
  s: Session,
  dir: string,
  epoch: number,
  started: number,
  reporter: ProgressReporter,
  tasks?: number,
  file?: string,
): Promise<Summary> {
  const c = s.config;
  const r = await runEval(s, "test", tasks ?? c.testTasks, evalSeed(c, -1), reporter, "meta-test");
  const summary = summarise(s, r, epoch, (performance.now() - started) / 1000);
  appendMetrics(dir, {
    kind: "eval",
    epoch,
    split: "test",
    accuracy: r.accuracy,
    ci95: r.ci95,
    tasks: r.tasks,
    loss: r.loss,
    elapsed: summary.wallSeconds,
  });
  writeSummary(dir, summary, file);
  return summary;
}

/**
 * Meta-tests a run's latest checkpoint again (e.g. with more tasks, or other meta-test settings);
 * writes evaluation.json (or `file`). `overrides` may set what a re-evaluation may change
 * (testTasks, testSteps, testTMin, workers, threads, ...).
 */
export async function runEvaluation(
  dir: string,
  o: RunOptions & { overrides?: Partial<RunConfig>; file?: string } = {},
): Promise<Summary> {
  const reporter = o.reporter ?? silentReporter;
  const c = adjustedConfig(readRunConfig(dir), o.overrides ?? {}, "eval");
  const s = await openSession(c, (line) => reporter.log(line));
  try {
    const state = loadCheckpoint(dir, c, s.model, s.opt, s.learner);
    const started = performance.now();
    const r = await runEval(s, "test", c.testTasks, evalSeed(c, -1), reporter, "meta-test");
    const summary = summarise(s, r, state.epoch, (performance.now() - started) / 1000);
    writeSummary(dir, summary, o.file ?? "evaluation.json");
    await o.afterRun?.(dir);
    return summary;
  } finally {
    closeSession(s);
  }
}

/**
 * The saved configuration with the settings that may change on --resume or eval replaced (the
 * schema marks them: how long a run goes and how it reports, not what it learns).
 */
function adjustedConfig(saved: RunConfig, overrides: Partial<RunConfig>, when: "resume" | "eval"): RunConfig {
  const allowed = new Set<string>(adjustableKeys(when));
  const changed = Object.entries(overrides).filter(
    ([k, v]) => v !== undefined && JSON.stringify(v) !== JSON.stringify((saved as Record<string, unknown>)[k]),
  );
  const refused = changed.filter(([k]) => !allowed.has(k)).map(([k]) => flagOf(k as SettingKey));
  if (refused.length > 0) {
    const may = [...allowed].map((k) => flagOf(k as SettingKey)).join(", ");
    throw new RunDirError(
      when === "resume"
        ? `a resumed run keeps its configuration; ${refused.join(", ")} cannot change (only ${may} can): start a new run to change them`
        : `eval meta-tests the run as it was trained; ${refused.join(", ")} cannot change (only ${may} can)`,
    );
  }
  return validateConfig(
    { ...saved, ...Object.fromEntries(changed) },
    when === "resume" ? "resumed configuration" : "evaluation settings",
    true,
  );
}

function resumedConfig(saved: RunConfig, overrides: Partial<RunConfig>): RunConfig {
  return adjustedConfig(saved, overrides, "resume");
}
