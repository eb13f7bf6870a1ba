// A whole run: meta-training with checkpoints, evaluations and metrics, then the final meta-test
// and summary. Resumable from the last checkpoint, exactly.
//
// Spread over ranks when launched so (runs/distributed.ts): every rank adapts its share of each
// meta-batch and of the test tasks, and all ranks apply the same meta-update. Rank 0 alone reads
// and writes the run directory; the others take the configuration and the meta-state from it.
import { sampleTask } from "../data/sampler.js";
import { DistributedError, type ProcessGroup } from "../engine/index.js";
import {
  aggregate,
  type EvaluationResult,
  evaluateTasks,
  type PruningResult,
  type TaskResult,
} from "../evaluation/evaluate.js";
import { distribution, meanAndCi95, mostFrequent } from "../evaluation/statistics.js";
import { metaEpoch } from "../metalearner/metaTrainer.js";
import { selfContained } from "../models/build.js";
import { toDarts, toJson } from "../searchspace/genotype.js";
import { takePhaseTimes } from "../util/phaseTimes.js";
import { type ProgressReporter, silentReporter } from "../util/progress.js";
import { Rng } from "../util/rng.js";
import { type CheckpointState, loadCheckpoint, saveCheckpoint } from "./checkpoint.js";
import { adjustableKeys, ConfigError, flagOf, type RunConfig, type SettingKey, validateConfig } from "./config.js";
import {
  agree,
  anyRank,
  connectPeers,
  fromRoot,
  gatherResults,
  type Launch,
  rendezvous,
  SharedFailure,
  syncFromRoot,
  taskShare,
} from "./distributed.js";
import type { Summary } from "./format.js";
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

/** The processes a run is spread over, as one process sees them. */
interface Ranks {
  group: ProcessGroup | null;
  launch: Launch | null;
  rank: number;
  size: number;
  /** Rank 0: reads and writes the run directory, reports progress. */
  root: boolean;
}

async function joinRanks(launch: Launch | null | undefined): Promise<Ranks> {
  if (!launch) return { group: null, launch: null, rank: 0, size: 1, root: true };
  const group = await rendezvous(launch);
  return { group, launch, rank: launch.rank, size: launch.size, root: launch.rank === 0 };
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

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

/** What the ranks must have alike besides the configuration: the data they sample from. */
function dataShape(s: Session): string {
  const { train, val, test } = s.dataset.splits;
  return JSON.stringify([s.dataset.imageShape, train.numClasses, val?.numClasses ?? 0, test.numClasses]);
}

/** Meta-tests `tasks` tasks, each rank its share; every rank gets all the results. */
async function runEval(
  s: Session,
  ranks: Ranks,
  split: EvalSplit,
  tasks: number,
  seed: number,
  reporter: ProgressReporter,
  label: string,
): Promise<EvaluationResult> {
  const c = s.config;
  const mine = taskShare(tasks, ranks.rank, ranks.size);
  const results = new Map<number, TaskResult>();
  let sum = 0;
  reporter.start(label, mine.length);
  const spec = { ways: c.ways, shots: c.shots, queries: c.queries };
  await evaluateTasks(s.model, s.opt, evalPool(s, split), spec, testInner(c), mine, seed, (t, r) => {
    results.set(t, r);
    sum += r.accuracy;
    reporter.update(results.size, { acc: `${((100 * sum) / results.size).toFixed(1)}%` });
  });
  reporter.stop();
  const all = ranks.group
    ? await gatherResults(ranks.group, `the results of the ${label}`, tasks, results)
    : mine.map((t) => results.get(t)!);
  return aggregate(all);
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
    perTaskAccuracy: r.accuracies,
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

/** A run's saved configuration: rank 0 reads it, the other ranks (maybe on machines without the run directory) get it from rank 0. */
async function savedConfig(dir: string, ranks: Ranks): Promise<RunConfig> {
  if (!ranks.group) return readRunConfig(dir);
  let text: string | null = null;
  if (ranks.root) {
    try {
      text = JSON.stringify({ config: readRunConfig(dir) });
    } catch (err) {
      text = JSON.stringify({ problem: message(err) });
    }
  }
  const got = JSON.parse(await fromRoot(ranks.group, "sending the run's configuration", text)) as {
    config?: unknown;
    problem?: string;
  };
  // Every rank stops here alike (rank 0 with its own message), before the configuration check.
  if (got.problem !== undefined) throw new SharedFailure(got.problem);
  return validateConfig(got.config, "the run's configuration from rank 0");
}

interface Prepared {
  c: RunConfig;
  s: Session;
  checkpoint: CheckpointState | null;
}

/** Configuration, data and model, and (rank 0) the run directory's checkpoint: what can fail before anything is written. */
async function prepare(
  dir: string,
  start: { config: RunConfig } | { resume: true; overrides?: Partial<RunConfig> },
  ranks: Ranks,
  log: (line: string) => void,
): Promise<Prepared> {
  let c: RunConfig;
  if ("resume" in start) {
    c = resumedConfig(await savedConfig(dir, ranks), start.overrides ?? {});
  } else {
    // A genotype given as a file is stored by value, so the run directory stands on its own.
    c = selfContained(start.config);
    if (ranks.root) assertNewRunDir(dir);
  }
  if (ranks.size > c.metaBatch)
    throw new ConfigError(
      `${ranks.size} ranks exceed the meta-batch (${c.metaBatch} tasks): at most ${c.metaBatch} ranks get work; start ${c.metaBatch} or fewer`,
    );
  const s = await openSession(c, log);
  try {
    let checkpoint: CheckpointState | null = null;
    if ("resume" in start) {
      if (ranks.root) checkpoint = loadCheckpoint(dir, c, s.model, s.opt, s.learner, { resume: true });
    } else {
      // Impossible task settings fail here, before the run directory exists.
      checkTasks(s);
    }
    return { c, s, checkpoint };
  } catch (err) {
    closeSession(s);
    throw err;
  }
}

/**
 * Prepares on every rank, then the ranks agree (same configuration and data, nobody failed) and
 * connect to each other. In one process, a failure simply throws.
 */
async function prepareAll(ranks: Ranks, prepareHere: () => Promise<Prepared>): Promise<Prepared> {
  const { group, launch } = ranks;
  if (!group || !launch) return prepareHere();
  let p: Prepared;
  try {
    p = await prepareHere();
  } catch (err) {
    // Tell the other ranks why this one cannot start: all stop with the same message. (A failure
    // every rank has seen already, or a broken rendezvous, has nothing to tell.)
    if (err instanceof SharedFailure || err instanceof DistributedError) throw err;
    await agree(group, null, null, message(err));
    throw err;
  }
  try {
    await agree(group, p.c, dataShape(p.s), null);
    await connectPeers(group, launch);
  } catch (err) {
    closeSession(p.s);
    throw err;
  }
  return p;
}

/** What a run ended with: its directory, its summary (rank 0, when it finished) and the configuration it ran with. */
export interface TrainingResult {
  dir: string;
  summary: Summary | null;
  /** The saved configuration with this invocation's changes (--resume may change some settings). */
  config: RunConfig;
}

/** Meta-trains (search, or weights of a fixed model), then meta-tests. Returns the run directory and summary (rank 0). */
export async function runTraining(
  dir: string,
  start: { config: RunConfig } | { resume: true; overrides?: Partial<RunConfig> },
  o: RunOptions = {},
): Promise<TrainingResult> {
  const reporter = o.reporter ?? silentReporter;
  const resume = "resume" in start;
  const ranks = await joinRanks(o.launch);
  const { group, root } = ranks;
  let s: Session | null = null;
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
  let savedEpoch: number | null = null;
  try {
    const prepared = await prepareAll(ranks, () => prepare(dir, start, ranks, (line) => reporter.log(line)));
    const c = prepared.c;
    s = prepared.s;
    if (root && !resume) createRunDir(dir, c);
    let epoch = prepared.checkpoint?.epoch ?? 0;
    const checkpointWorld = prepared.checkpoint?.world ?? ranks.size;
    if (group) {
      const numbers = await syncFromRoot(group, s, "sending the meta-state", { epoch, world: checkpointWorld });
      epoch = numbers.epoch!;
    }
    if (resume) {
      savedEpoch = epoch;
      if (root) truncateMetrics(dir, epoch);
      reporter.log(`resuming ${dir} at meta-epoch ${epoch} of ${c.epochs}`);
      if (checkpointWorld !== ranks.size)
        reporter.log(
          `this run was meta-trained by ${checkpointWorld} rank(s) and continues with ${ranks.size}: it goes on from the same meta-state, but the task optimisers' chains are split differently from here on, so the result differs slightly from continuing with ${checkpointWorld}`,
        );
    }
    const started = performance.now();
    const train = {
      metaBatch: c.metaBatch,
      warmup: c.warmup,
      pruneEvery: c.pruneEvery,
      pruneBelow: c.pruneBelow,
      task: { ways: c.ways, shots: c.trainShots, queries: c.queries },
      inner: trainInner(c),
      seed: c.seed,
    };
    const session = s;
    const checkpoint = async () => {
      // What rank 0 saves is what every rank runs with.
      if (group) await syncFromRoot(group, session, `the checkpoint at meta-epoch ${epoch}`);
      if (root) saveCheckpoint(dir, c, epoch, session.model, session.opt, session.learner, ranks.size);
      savedEpoch = epoch;
    };
    const sameWay = group ? `, launched the same way (${ranks.size} ranks)` : "";
    let ranThisTime = 0;
    try {
      reporter.start("meta-train", c.epochs, epoch);
      while (epoch < c.epochs) {
        const t0 = performance.now();
        takePhaseTimes(); // start the epoch's phase times afresh (evaluations time phases too)
        const cpu0 = process.cpuUsage();
        const r = await metaEpoch(epoch, s.model, s.opt, s.learner, s.dataset.splits.train, train, group);
        const cpu = process.cpuUsage(cpu0);
        epoch += 1;
        ranThisTime += 1;
        const seconds = (performance.now() - t0) / 1000;
        if (root)
          appendMetrics(dir, {
            kind: "train",
            epoch,
            loss: r.loss,
            accuracy: r.accuracy,
            temperature: r.temperature,
            entropy: r.entropy,
            warmup: r.warmup,
            seconds,
            cpuSeconds: (cpu.user + cpu.system) / 1e6,
            elapsed: (performance.now() - started) / 1000,
            phases: takePhaseTimes(),
            ...(group ? { ranks: ranks.size, waitSeconds: r.waitSeconds, collectiveSeconds: r.collectiveSeconds } : {}),
          });
        if (r.prunedLogits > 0) reporter.log(`meta-epoch ${epoch}: meta-model pruning removed ${r.prunedLogits} op(s)`);
        reporter.update(epoch, {
          acc: `${(100 * r.accuracy).toFixed(1)}%`,
          loss: r.loss.toFixed(3),
          T: r.temperature.toFixed(2),
        });
        if (c.evalEvery > 0 && epoch % c.evalEvery === 0 && epoch < c.epochs) {
          reporter.stop();
          const label = `validation at meta-epoch ${epoch}`;
          const ev = await runEval(s, ranks, "val", c.evalTasks, evalSeed(c, epoch), reporter, label);
          if (root) {
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
          }
          reporter.log(
            `meta-epoch ${epoch}: validation accuracy ${(100 * ev.accuracy).toFixed(1)}% ± ${(100 * ev.ci95).toFixed(1)} on ${ev.tasks} tasks`,
          );
          reporter.start("meta-train", c.epochs, epoch);
        }
        let stopNow = stopRequested || (o.stopAfter !== undefined && ranThisTime >= o.stopAfter);
        // A signal may reach one rank only: all stop together.
        if (group) stopNow = await anyRank(group, stopNow, `the stop check of meta-epoch ${epoch}`);
        if ((c.checkpointEvery > 0 && epoch % c.checkpointEvery === 0) || stopNow || epoch === c.epochs)
          await checkpoint();
        if (stopNow) {
          reporter.stop();
          reporter.log(
            `stopped at meta-epoch ${epoch}; continue with: metanas ${c.model === "metanas" ? "search" : "train"} --resume ${dir}${sameWay}`,
          );
          await group?.barrier("the end of the run");
          return { dir, summary: null, config: c };
        }
      }
    } catch (err) {
      if (err instanceof DistributedError && root) {
        const saved = savedEpoch === null ? "" : ` (meta-epoch ${savedEpoch})`;
        const at =
          savedEpoch === null
            ? `no checkpoint was written in ${dir} yet`
            : `the checkpoint in ${dir}${saved} is intact: continue with metanas ${c.model === "metanas" ? "search" : "train"} --resume ${dir}${sameWay}`;
        throw new DistributedError(`${err.message}; ${at}`);
      }
      throw err;
    }
    reporter.stop();
    if (!resume && ranThisTime === 0) await checkpoint();
    const g = s.model.genotype();
    if (g && root) writeGenotype(dir, g, epoch);
    if (o.skipFinalTest) {
      await group?.barrier("the end of the run");
      return { dir, summary: null, config: c };
    }
    const r = await runEval(s, ranks, "test", c.testTasks, evalSeed(c, -1), reporter, "meta-test");
    await group?.barrier("the end of the run");
    if (!root) return { dir, summary: null, config: c };
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
    writeSummary(dir, summary);
    group?.destroy();
    await o.afterRun?.(dir);
    return { dir, summary, config: c };
  } finally {
    if (o.handleSignals) for (const [sig, h] of Object.entries(handlers)) process.off(sig, h);
    group?.destroy();
    if (s) closeSession(s);
  }
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
  const reporter = o.reporter ?? silentReporter;
  const ranks = await joinRanks(o.launch);
  const { group, root } = ranks;
  let s: Session | null = null;
  try {
    const prepared = await prepareAll(ranks, async () => {
      const c = adjustedConfig(await savedConfig(dir, ranks), o.overrides ?? {}, "eval");
      const session = await openSession(c, (line) => reporter.log(line));
      try {
        const checkpoint = root ? loadCheckpoint(dir, c, session.model, session.opt, session.learner) : null;
        return { c, s: session, checkpoint };
      } catch (err) {
        closeSession(session);
        throw err;
      }
    });
    s = prepared.s;
    let epoch = prepared.checkpoint?.epoch ?? 0;
    if (group) epoch = (await syncFromRoot(group, s, "sending the meta-state", { epoch })).epoch!;
    const started = performance.now();
    const c = prepared.c;
    const r = await runEval(s, ranks, "test", c.testTasks, evalSeed(c, -1), reporter, "meta-test");
    await group?.barrier("the end of the evaluation");
    if (!root) return null;
    const summary = summarise(s, r, epoch, (performance.now() - started) / 1000);
    writeSummary(dir, summary, o.file ?? "evaluation.json");
    group?.destroy();
    await o.afterRun?.(dir);
    return summary;
  } finally {
    group?.destroy();
    if (s) closeSession(s);
  }
}

/**
 * The saved configuration with the settings that may change on --resume or eval replaced (the
 * schema marks them: how long a run goes and how it reports, not what it learns).
 */
export function adjustedConfig(saved: RunConfig, overrides: Partial<RunConfig>, when: "resume" | "eval"): RunConfig {
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
