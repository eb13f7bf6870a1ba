// A whole run, as named steps: start or resume (start.ts) on the joined ranks (ranks.ts), the
// meta-training loop (one meta-epoch, its metrics, validation when due, a checkpoint when due or
// asked for), then the final meta-test and summary (metaTest.ts). Resumable from the last
// checkpoint, exactly.
//
// Spread over ranks when launched so (runs/distributed.ts): every rank adapts its share of each
// meta-batch and of the test tasks, and all ranks apply the same meta-update. Rank 0 alone reads
// and writes the run directory; the others take the configuration and the meta-state from it.
import { DistributedError } from "../engine/index.js";
import { metaEpoch } from "../metalearner/metaTrainer.js";
import { DiskFullError } from "../util/diskFull.js";
import { takePhaseTimes } from "../util/phaseTimes.js";
import { type ProgressReporter, silentReporter } from "../util/progress.js";
import { saveCheckpoint } from "./checkpoint.js";
import type { RunConfig } from "./config.js";
import { anyRank, type Launch, syncFromRoot } from "./distributed.js";
import { RUN_FILES, type Summary } from "./format.js";
import { evalRecord, evalSeed, runEval, summarise } from "./metaTest.js";
import { prepareAll, type Ranks, withRanks } from "./ranks.js";
import {
  appendMetrics,
  createRunDir,
  RunDirError,
  readSummary,
  runDirState,
  truncateMetrics,
  writeGenotype,
  writeSummary,
} from "./runDir.js";
import { closeSession, type Session, scaleOfEpoch, trainSettings } from "./session.js";
import { prepareEvaluation, prepareRun, type RunStart } from "./start.js";

export type { RunStart } from "./start.js";

export interface RunOptions {
  reporter?: ProgressReporter;
  /** Called with the run directory when the run has finished (e.g. to write the report); rank 0 only. */
  afterRun?: (dir: string) => Promise<void>;
  /** Install SIGINT/SIGTERM handlers that checkpoint and stop (the CLI does; tests may not). */
  handleSignals?: boolean;
  /** Stop (with a checkpoint) after this many meta-epochs of this invocation; for tests of resuming. */
  stopAfter?: number;
  /** Skip the final meta-test. */
  skipFinalTest?: boolean;
  /** The distributed launch this process is part of (launchFromEnv()); absent: one process. */
  launch?: Launch | null;
}

/** What a run ended with: its directory, its summary (rank 0, when it finished) and the configuration it ran with. */
export interface TrainingResult {
  dir: string;
  summary: Summary | null;
  /** The saved configuration with this invocation's changes (--resume may change some settings). */
  config: RunConfig;
  /** A stop signal arrived, perhaps during the final meta-test (which then finished): start nothing more. */
  stopRequested: boolean;
}

/** One process's part of a run while it meta-trains. */
interface Run {
  dir: string;
  c: RunConfig;
  session: Session;
  ranks: Ranks;
  reporter: ProgressReporter;
  /** Meta-epochs done, and the last one a checkpoint holds (null: none yet). */
  epoch: number;
  savedEpoch: number | null;
  /** performance.now() when this invocation's meta-training began. */
  started: number;
}

/** The stop that SIGINT/SIGTERM ask for: the current meta-epoch finishes and is checkpointed; a second signal stops at once. */
function stopSignals(o: RunOptions, reporter: ProgressReporter, dir: string) {
  let requested = false;
  const onSignal = (sig: string) => {
    if (requested) {
      reporter.log(`${sig} again: stopping now; the last checkpoint in ${dir} is intact`);
      process.exit(130);
    }
    requested = true;
    process.exitCode = 130;
    reporter.log(
      `${sig}: finishing this meta-epoch (or the meta-test under way), writing a checkpoint, then stopping (${sig} again to stop at once)`,
    );
  };
  const handlers = { SIGINT: () => onSignal("SIGINT"), SIGTERM: () => onSignal("SIGTERM") };
  if (o.handleSignals) for (const [sig, h] of Object.entries(handlers)) process.on(sig, h);
  return {
    requested: () => requested,
    dispose: () => {
      if (o.handleSignals) for (const [sig, h] of Object.entries(handlers)) process.off(sig, h);
    },
  };
}

/** The command that continues a run, launched as it was. */
function resumeHint(r: Pick<Run, "c" | "dir" | "ranks">): string {
  const sameWay = r.ranks.group ? `, launched the same way (${r.ranks.size} ranks)` : "";
  return `metanas ${r.c.model === "metanas" ? "search" : "train"} --resume ${r.dir}${sameWay}`;
}

/** Start or resume: prepare on every rank, create the run directory, and agree on the meta-state to go on from. */
async function startOrResume(dir: string, start: RunStart, ranks: Ranks, reporter: ProgressReporter): Promise<Run> {
  const resume = "resume" in start;
  const { c, session, checkpoint } = await prepareAll(ranks, () =>
    prepareRun(dir, start, ranks, (l) => reporter.log(l)),
  );
  const run: Run = { dir, c, session, ranks, reporter, epoch: checkpoint?.epoch ?? 0, savedEpoch: null, started: 0 };
  try {
    if (ranks.root && !resume) createRunDir(dir, c);
    const world = checkpoint?.world ?? ranks.size;
    if (ranks.group)
      run.epoch = (await syncFromRoot(ranks.group, session, "sending the meta-state", { epoch: run.epoch, world }))
        .epoch!;
    if (resume) {
      run.savedEpoch = run.epoch;
      if (ranks.root) truncateMetrics(dir, run.epoch);
      reporter.log(`resuming ${dir} at meta-epoch ${run.epoch} of ${c.epochs}`);
      if (world !== ranks.size)
        reporter.log(
          `this run was meta-trained by ${world} rank(s) and continues with ${ranks.size}: it goes on from the same meta-state, but the task optimisers' chains are split differently from here on, so the result differs slightly from continuing with ${world}`,
        );
    }
    return run;
  } catch (err) {
    closeSession(session);
    throw err;
  }
}

/** One meta-epoch, its metrics line (rank 0) and the progress bar. */
async function trainEpoch(run: Run): Promise<void> {
  const { session, ranks } = run;
  const t0 = performance.now();
  takePhaseTimes(); // start the epoch's phase times afresh (evaluations time phases too)
  const cpu0 = process.cpuUsage();
  const r = await metaEpoch(
    run.epoch,
    session.model,
    session.opt,
    session.learner,
    session.dataset.splits.train,
    trainSettings(run.c),
    ranks.group,
  );
  const cpu = process.cpuUsage(cpu0);
  run.epoch += 1;
  if (ranks.root)
    appendMetrics(run.dir, {
      kind: "train",
      epoch: run.epoch,
      loss: r.loss,
      accuracy: r.accuracy,
      temperature: r.temperature,
      ...(r.scale !== 1 ? { scale: r.scale } : {}),
      entropy: r.entropy,
      warmup: r.warmup,
      seconds: (performance.now() - t0) / 1000,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      elapsed: (performance.now() - run.started) / 1000,
      phases: takePhaseTimes(),
      ...(ranks.group
        ? {
            ranks: ranks.size,
            waitSeconds: r.waitSeconds,
            collectiveSeconds: r.collectiveSeconds,
            rankTimes: r.rankTimes,
          }
        : {}),
    });
  if (r.prunedLogits > 0)
    run.reporter.log(`meta-epoch ${run.epoch}: meta-model pruning removed ${r.prunedLogits} op(s)`);
  run.reporter.update(run.epoch, {
    acc: `${(100 * r.accuracy).toFixed(1)}%`,
    loss: r.loss.toFixed(3),
    T: r.temperature.toFixed(2),
  });
}

/** Validation every --eval-every meta-epochs (not after the last: the final meta-test follows). */
async function validateIfDue(run: Run): Promise<void> {
  const { c, session, epoch, reporter } = run;
  if (!(c.evalEvery > 0 && epoch % c.evalEvery === 0 && epoch < c.epochs)) return;
  reporter.stop();
  const ev = await runEval(
    session,
    run.ranks,
    "val",
    c.evalTasks,
    evalSeed(c, epoch),
    reporter,
    `validation at meta-epoch ${epoch}`,
    scaleOfEpoch(c, epoch - 1), // at the scale meta-training has reached
  );
  if (run.ranks.root) {
    appendMetrics(run.dir, evalRecord(epoch, "val", ev, (performance.now() - run.started) / 1000));
    const genotype = session.model.genotype();
    if (genotype) writeGenotype(run.dir, genotype, epoch);
  }
  reporter.log(
    `meta-epoch ${epoch}: validation accuracy ${(100 * ev.accuracy).toFixed(1)}% ± ${(100 * ev.ci95).toFixed(1)} on ${ev.tasks} tasks`,
  );
  reporter.start("meta-train", c.epochs, epoch);
}

/** Writes a checkpoint of what every rank runs with (rank 0's meta-state, sent to the others first). */
async function checkpoint(run: Run): Promise<void> {
  const { group, root, size } = run.ranks;
  if (group) await syncFromRoot(group, run.session, `the checkpoint at meta-epoch ${run.epoch}`);
  if (root) saveCheckpoint(run.dir, run.c, run.epoch, run.session.model, run.session.opt, run.session.learner, size);
  run.savedEpoch = run.epoch;
}

/** Meta-trains to --epochs; returns false when stopped early (a signal, or stopAfter), after a checkpoint. */
async function metaTrain(run: Run, o: RunOptions, stopRequested: () => boolean): Promise<boolean> {
  const { c, ranks, reporter } = run;
  let ranThisTime = 0;
  run.started = performance.now();
  reporter.start("meta-train", c.epochs, run.epoch);
  while (run.epoch < c.epochs) {
    await trainEpoch(run);
    ranThisTime += 1;
    await validateIfDue(run);
    let stopNow = stopRequested() || (o.stopAfter !== undefined && ranThisTime >= o.stopAfter);
    // A signal may reach one rank only: all stop together.
    if (ranks.group) stopNow = await anyRank(ranks.group, stopNow, `the stop check of meta-epoch ${run.epoch}`);
    if ((c.checkpointEvery > 0 && run.epoch % c.checkpointEvery === 0) || stopNow || run.epoch === c.epochs)
      await checkpoint(run);
    if (stopNow) {
      reporter.stop();
      reporter.log(`stopped at meta-epoch ${run.epoch}; continue with: ${resumeHint(run)}`);
      return false;
    }
  }
  reporter.stop();
  // A resumed run that had nothing left to do already has its checkpoint; a new one with 0 epochs needs one.
  if (ranThisTime === 0 && run.savedEpoch === null) await checkpoint(run);
  return true;
}

/**
 * A meta-training failure that the run outlives (a lost rank, a full disk), said by rank 0 with
 * what is left of it: the last checkpoint, and how to continue from it.
 */
function withResumeHint(err: unknown, run: Run): unknown {
  const disk = err instanceof DiskFullError;
  if (!((err instanceof DistributedError || disk) && run.ranks.root)) return err;
  const at =
    run.savedEpoch === null
      ? `no checkpoint was written in ${run.dir} yet${disk ? ": free some space, then start the run again with another --out" : ""}`
      : `the checkpoint in ${run.dir} (meta-epoch ${run.savedEpoch}) is intact: ${disk ? "free some space, then " : ""}continue with ${resumeHint(run)}`;
  return disk ? new RunDirError(`${err.message}; ${at}`) : new DistributedError(`${err.message}; ${at}`);
}

/** The final meta-test: the genotype, the test record and the summary (rank 0). */
async function finalTest(run: Run): Promise<Summary | null> {
  const { c, session, ranks, dir } = run;
  const r = await runEval(session, ranks, "test", c.testTasks, evalSeed(c, -1), run.reporter, "meta-test");
  await ranks.group?.barrier("the end of the run");
  if (!ranks.root) return null;
  const summary = summarise(session, r, run.epoch, (performance.now() - run.started) / 1000);
  appendMetrics(dir, evalRecord(run.epoch, "test", r, summary.wallSeconds));
  writeSummary(dir, summary);
  return summary;
}

/** Meta-trains (search, or weights of a fixed model), then meta-tests. Returns the run directory and summary (rank 0). */
export async function runTraining(dir: string, start: RunStart, o: RunOptions = {}): Promise<TrainingResult> {
  // The ranks are left before afterRun, which only rank 0 does (a baseline, a report).
  const result = await withRanks(o.launch, (ranks) => trainAmongRanks(dir, start, ranks, o));
  if (result.summary) await o.afterRun?.(dir);
  return result;
}

/** Start or resume, meta-train, write the genotype, meta-test: a run's steps on one rank. */
async function trainAmongRanks(dir: string, start: RunStart, ranks: Ranks, o: RunOptions): Promise<TrainingResult> {
  const reporter = o.reporter ?? silentReporter;
  const stop = stopSignals(o, reporter, dir);
  let run: Run | null = null;
  try {
    run = await startOrResume(dir, start, ranks, reporter);
    const started = run;
    const finished = await metaTrain(started, o, stop.requested).catch((err: unknown) => {
      throw withResumeHint(err, started);
    });
    const genotype = finished ? started.session.model.genotype() : null;
    if (genotype && ranks.root) writeGenotype(dir, genotype, started.epoch);
    let summary: Summary | null = null;
    if (finished && !o.skipFinalTest) summary = await finalTest(started);
    else await ranks.group?.barrier("the end of the run");
    return { dir, summary, config: run.c, stopRequested: stop.requested() };
  } finally {
    stop.dispose();
    if (run) closeSession(run.session);
  }
}

/**
 * A run directory brought to its end in this process: a finished run's summary is read, a stopped
 * one resumed (with `overrides` of what --resume may change), and a new one started with `config`.
 */
export async function runOrResume(
  dir: string,
  config: RunConfig,
  o: RunOptions & { overrides?: Partial<RunConfig> } = {},
): Promise<TrainingResult & { state: ReturnType<typeof runDirState> }> {
  const state = runDirState(dir);
  if (state === "finished") return { dir, summary: readSummary(dir), config, state, stopRequested: false };
  const start: RunStart = state === "stopped" ? { resume: true, overrides: o.overrides } : { config };
  return { ...(await runTraining(dir, start, { ...o, launch: null })), state };
}

/**
 * Meta-tests a run's latest checkpoint again (e.g. with more tasks, or other meta-test settings);
 * rank 0 writes evaluation.json (or `file`). `overrides` may set what a re-evaluation may change
 * (testTasks, testSteps, testTMin, threads, ...).
 */
export async function runEvaluation(
  dir: string,
  o: RunOptions & { overrides?: Partial<RunConfig>; file?: string } = {},
): Promise<Summary | null> {
  const summary = await withRanks(o.launch, (ranks) => evaluateAmongRanks(dir, ranks, o));
  if (summary) await o.afterRun?.(dir);
  return summary;
}

/** Loads the checkpoint, meta-tests it, and writes the summary (rank 0, which returns it). */
async function evaluateAmongRanks(
  dir: string,
  ranks: Ranks,
  o: RunOptions & { overrides?: Partial<RunConfig>; file?: string },
): Promise<Summary | null> {
  const reporter = o.reporter ?? silentReporter;
  let session: Session | null = null;
  try {
    const prepared = await prepareAll(ranks, () =>
      prepareEvaluation(dir, o.overrides ?? {}, ranks, (line) => reporter.log(line)),
    );
    session = prepared.session;
    const c = prepared.c;
    let epoch = prepared.checkpoint?.epoch ?? 0;
    if (ranks.group) epoch = (await syncFromRoot(ranks.group, session, "sending the meta-state", { epoch })).epoch!;
    const started = performance.now();
    const r = await runEval(session, ranks, "test", c.testTasks, evalSeed(c, -1), reporter, "meta-test");
    await ranks.group?.barrier("the end of the evaluation");
    if (!ranks.root) return null;
    const summary = summarise(session, r, epoch, (performance.now() - started) / 1000);
    writeSummary(dir, summary, o.file ?? RUN_FILES.evaluation);
    return summary;
  } finally {
    if (session) closeSession(session);
  }
}
