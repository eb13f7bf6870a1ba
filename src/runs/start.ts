// Starting a run or resuming one: the configuration (new, or the saved one with what --resume or
// eval may change), the session, and rank 0's checkpoint; everything that can fail before anything
// is written.
import { sampleTask } from "../data/sampler.js";
import { selfContained } from "../models/build.js";
import { Rng } from "../util/rng.js";
import { type CheckpointState, loadCheckpoint } from "./checkpoint.js";
import { adjustableKeys, ConfigError, flagOf, type RunConfig, type SettingKey, validateConfig } from "./config.js";
import { fromRoot, SharedFailure } from "./distributed.js";
import { message, type Prepared, type Ranks } from "./ranks.js";
import { assertNewRunDir, RunDirError, readRunConfig } from "./runDir.js";
import { closeSession, openSession, type Session } from "./session.js";

/** How a run begins: a new configuration, or the run directory's own with some settings changed. */
export type RunStart = { config: RunConfig } | { resume: true; overrides?: Partial<RunConfig> };

/** Draws one task of each kind the run will need, so that bad settings fail before anything is written. */
function checkTasks(session: Session): void {
  const c = session.config;
  const rng = new Rng(0);
  sampleTask(session.dataset.splits.train, { ways: c.ways, shots: c.trainShots, queries: c.queries }, rng);
  sampleTask(session.dataset.splits.test, { ways: c.ways, shots: c.shots, queries: c.queries }, rng);
  if (session.dataset.splits.val && c.evalEvery > 0)
    sampleTask(session.dataset.splits.val, { ways: c.ways, shots: c.shots, queries: c.queries }, rng);
}

/** A run's saved configuration: rank 0 reads it, the other ranks (maybe on machines without the run directory) get it from rank 0. */
export async function savedConfig(dir: string, ranks: Ranks): Promise<RunConfig> {
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

/** The session of `c`, and rank 0's checkpoint when `read` asks for one; the session is closed if that fails. */
async function sessionWith(
  c: RunConfig,
  log: (line: string) => void,
  read: ((session: Session) => CheckpointState | null) | null,
): Promise<Prepared<CheckpointState>> {
  const session = await openSession(c, log);
  try {
    return { c, session, checkpoint: read ? read(session) : null };
  } catch (err) {
    closeSession(session);
    throw err;
  }
}

/** Configuration, data and model of a new or resumed run, and (rank 0) the run directory's checkpoint. */
export async function prepareRun(
  dir: string,
  start: RunStart,
  ranks: Ranks,
  log: (line: string) => void,
): Promise<Prepared<CheckpointState>> {
  const c =
    "resume" in start
      ? adjustedConfig(await savedConfig(dir, ranks), start.overrides ?? {}, "resume")
      : selfContained(start.config); // a genotype given as a file is stored by value
  if (!("resume" in start) && ranks.root) assertNewRunDir(dir);
  if (ranks.size > c.metaBatch)
    throw new ConfigError(
      `${ranks.size} ranks exceed the meta-batch (${c.metaBatch} tasks): at most ${c.metaBatch} ranks get work; start ${c.metaBatch} or fewer`,
    );
  const read = (session: Session) => {
    if (!("resume" in start)) {
      checkTasks(session); // impossible task settings fail here, before the run directory exists
      return null;
    }
    return ranks.root ? loadCheckpoint(dir, c, session.model, session.opt, session.learner, { resume: true }) : null;
  };
  return sessionWith(c, log, read);
}

/** Configuration (with eval's changes), data and model of a finished or stopped run to meta-test again. */
export async function prepareEvaluation(
  dir: string,
  overrides: Partial<RunConfig>,
  ranks: Ranks,
  log: (line: string) => void,
): Promise<Prepared<CheckpointState>> {
  const c = adjustedConfig(await savedConfig(dir, ranks), overrides, "eval");
  return sessionWith(c, log, (session) =>
    ranks.root ? loadCheckpoint(dir, c, session.model, session.opt, session.learner) : null,
  );
}
