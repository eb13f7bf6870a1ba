// The Conv4 baseline of a run (--baseline conv4): Conv4 with the run's meta-learner, meta-trained
// and meta-tested on the same tasks in RUN_DIR/baseline-conv4, a run directory of its own.
//
// Same tasks: the data depends on (dataset, data folder, seed) only; meta-training task i of
// meta-epoch e is drawn from a stream of (seed, e, i) alone (metaTrainer.ts trainTaskRng), and
// meta-test task t from a stream of (seed, t) alone (evaluate.ts taskRng, seeded by the run's
// seed), each drawn before the model touches the stream. So the same configuration with model
// conv4 sees the same tasks, whatever the model.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { silentReporter } from "../util/progress.js";
import { CheckpointError } from "./checkpoint.js";
import { adjustableKeys, type RunConfig, validateConfig } from "./config.js";
import { BASELINE_FILES, type Summary } from "./format.js";
import { RunDirError } from "./runDir.js";
import { type RunOptions, runTraining } from "./runner.js";

/** The baseline's run directory inside a run's. */
export function baselineDir(runDir: string): string {
  return path.join(runDir, BASELINE_FILES.conv4);
}

/** The baseline's configuration: the run's, with model conv4 (no genotype) and no baseline of its own. */
export function baselineConfig(c: RunConfig): RunConfig {
  const { genotype: _genotype, ...rest } = c;
  return validateConfig({ ...rest, model: "conv4", baseline: "none" }, "the baseline's configuration");
}

export interface BaselineResult {
  dir: string;
  /** Null when it stopped before finishing (a signal, or `stopAfter`). */
  summary: Summary | null;
}

const pct = (s: Summary) => `${(100 * s.accuracy).toFixed(2)}% ± ${(100 * s.ci95).toFixed(2)}`;

/**
 * Runs the baseline of the run in `runDir` (configuration `c`, as it ran) in one process: reuses a
 * finished one that matches the run's meta-epochs and test tasks, continues a stopped one (or one
 * that must go further: --resume may have raised --epochs or --test-tasks), starts one otherwise.
 * Null when `c` asks for no baseline.
 */
export async function runBaseline(
  runDir: string,
  c: RunConfig,
  o: Omit<RunOptions, "launch" | "skipFinalTest"> = {},
): Promise<BaselineResult | null> {
  if (c.baseline === "none") return null;
  const reporter = o.reporter ?? silentReporter;
  const dir = baselineDir(runDir);
  const wanted = baselineConfig(c);
  const summaryFile = path.join(dir, "summary.json");
  if (existsSync(summaryFile)) {
    const summary = JSON.parse(readFileSync(summaryFile, "utf8")) as Summary;
    if (summary.epochs === wanted.epochs && summary.tasks === wanted.testTasks) {
      reporter.log(`baseline: Conv4 finished earlier in ${dir}: ${pct(summary)} on the same tasks`);
      return { dir, summary };
    }
  }
  const resume = existsSync(path.join(dir, "config.json"));
  reporter.log(
    `baseline: ${resume ? "continuing" : "meta-training"} Conv4 on the same tasks as the ${c.model === "metanas" ? "search" : "run"} (seed ${wanted.seed}, ${wanted.epochs} meta-epochs, ${wanted.testTasks} meta-test tasks) in ${dir}`,
  );
  // What a resumed run may change follows the run's; the rest is the run's already.
  const overrides = Object.fromEntries(adjustableKeys("resume").map((k) => [k, wanted[k]])) as Partial<RunConfig>;
  let r: BaselineResult;
  try {
    r = await runTraining(dir, resume ? { resume: true, overrides } : { config: wanted }, { ...o, launch: null });
  } catch (err) {
    if (err instanceof RunDirError || err instanceof CheckpointError)
      throw new RunDirError(
        `the Conv4 baseline in ${dir} cannot continue (${err.message}): remove that folder to start the baseline afresh`,
      );
    throw err;
  }
  if (r.summary) reporter.log(`baseline: Conv4 reached ${pct(r.summary)} on the same ${r.summary.tasks} test tasks`);
  return { dir: r.dir, summary: r.summary };
}
