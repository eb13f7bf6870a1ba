// metanas search | train | eval: meta-architecture search, fixed-architecture meta-training
// (a genotype's network or the Conv4 baseline), and meta-testing a finished run.
import path from "node:path";
import { type Command, InvalidArgumentError, Option } from "commander";
import { selfContained } from "../models/build.js";
import { MODEL_KINDS } from "../models/model.js";
import { COMPARE_FILE, writeReport } from "../reports/index.js";
import { type BaselineResult, runBaseline } from "../runs/baseline.js";
import { adjustableKeys, flagOf, type RunConfig, readConfigFile } from "../runs/config.js";
import { launchFromEnv } from "../runs/distributed.js";
import { BASELINE_FILES, type Summary } from "../runs/format.js";
import { buildConfig, isPresetName, PRESETS } from "../runs/presets.js";
import { defaultRunDir, readRunConfig, readSummary, runDirState } from "../runs/runDir.js";
import { runEvaluation, runTraining, type TrainingResult } from "../runs/runner.js";
import { adjustedConfig } from "../runs/start.js";
import { parseGenotype } from "../searchspace/genotype.js";
import { type ProgressReporter, reporterFor, silentReporter } from "../util/progress.js";
import { launchLocal } from "./launch.js";
import { addSettingOptions, configFileOption, helpWithPresetValues, presetOption, settingValues } from "./settings.js";

/** --nproc N: ranks to start on this machine. */
function nprocOption(): Option {
  return new Option(
    "--nproc <n>",
    "ranks to start on this machine, one process and one libtorch thread each (default 1; docs/distributed.md)",
  ).argParser((text) => {
    const n = Number(text);
    if (text.trim() === "" || !Number.isInteger(n) || n < 1) throw new InvalidArgumentError("must be an integer >= 1.");
    return n;
  });
}

/** Starts `nproc` local ranks of this command when asked to, and leaves with their exit code. */
async function launchIfAsked(nproc: unknown, config: () => RunConfig, training: boolean): Promise<boolean> {
  const n = typeof nproc === "number" ? nproc : 1;
  if (n === 1) return false;
  const code = await launchLocal({ nproc: n, config: config(), training }, (line) => console.error(line));
  process.exitCode = code;
  return true;
}

/** How this process takes part: alone, or as one rank of a launch (only rank 0 reports). */
function participation() {
  const launch = launchFromEnv();
  return { launch, reporter: launch && launch.rank !== 0 ? silentReporter : reporterFor() };
}

/** The found cells, node by node, from the summary's genotype. */
function printCells(summary: Summary): void {
  if (!summary.genotypeJson) return;
  const genotype = parseGenotype(JSON.stringify(summary.genotypeJson));
  const name = (i: number) => (i === 0 ? "c_{k-2}" : i === 1 ? "c_{k-1}" : `node ${i - 2}`);
  for (const kind of ["normal", "reduce"] as const) {
    console.log(`${kind === "normal" ? "normal cell" : "reduction cell"}:`);
    genotype[kind].forEach((node, j) =>
      console.log(`  node ${j} = ${node.map(([op, i]) => `${op}(${name(i)})`).join(" + ")}`),
    );
  }
}

const percent = (summary: Summary) => `${(100 * summary.accuracy).toFixed(2)}% ± ${(100 * summary.ci95).toFixed(2)}`;

/** Prints a finished run's result (and its baseline's): one JSON line with --json, else a few lines for people. */
function finish(summary: Summary | null, dir: string, json: boolean, baseline: BaselineResult | null = null): void {
  if (!summary) return;
  const b = baseline?.summary;
  const line = {
    accuracy: summary.accuracy,
    ci95: summary.ci95,
    tasks: summary.tasks,
    genotype: summary.genotype,
    params: summary.params,
    protocol: summary.protocol ?? "transductive",
    run: dir,
    ...(baseline
      ? {
          baseline: {
            model: "conv4",
            accuracy: b?.accuracy ?? null,
            ci95: b?.ci95 ?? null,
            tasks: b?.tasks ?? null,
            params: b?.params.total ?? null,
            run: baseline.dir,
          },
        }
      : {}),
  };
  if (json) {
    console.log(JSON.stringify(line));
    return;
  }
  console.log(
    `\nfew-shot accuracy: ${percent(summary)} (95% CI, ${summary.tasks} test tasks, ${summary.protocol ?? "transductive"})`,
  );
  if (baseline)
    console.log(
      b
        ? `Conv4 on the same tasks: ${percent(b)} (95% CI, ${b.tasks} test tasks; ${b.params.total.toLocaleString("en-US")} weights; ${path.join(dir, BASELINE_FILES.comparison, COMPARE_FILE)})`
        : `Conv4 on the same tasks: stopped before finishing; continue it with metanas train --resume ${baseline.dir}, then metanas report ${dir}`,
    );
  console.log(
    `per-task pruned weights: median ${summary.perTaskParams.median.toLocaleString("en-US")} of ${summary.params.total.toLocaleString("en-US")}`,
  );
  printCells(summary);
  console.log(`genotype: ${summary.genotype}`);
  console.log(`run directory: ${dir} (report.html, figures/, summary.json)`);
}

/** Writes the run's report (report.html and figures/). */
async function report(dir: string): Promise<void> {
  await writeReport(dir);
}

/**
 * --baseline conv4: once the run has been meta-tested (rank 0, after the other ranks have left),
 * Conv4 on the same tasks in RUN_DIR/baseline-conv4, in this process alone; then the run's report
 * again, with the comparison.
 */
async function baselineAfter(r: TrainingResult, reporter: ProgressReporter): Promise<BaselineResult | null> {
  if (!r.summary || r.config.baseline === "none") return null;
  if (r.stopRequested) {
    reporter.log(
      `asked to stop: the Conv4 baseline was not started; add it later with metanas ${r.config.model === "metanas" ? "search" : "train"} --resume ${r.dir} (the meta-test runs again first)`,
    );
    return null;
  }
  const b = await runBaseline(r.dir, r.config, { reporter, handleSignals: true, afterRun: report });
  await report(r.dir);
  return b;
}

/** The model a preset names when it is a fixed one (the REPTILE presets: conv4), else undefined. */
function presetModel(preset: string): RunConfig["model"] | undefined {
  const model = isPresetName(preset) ? PRESETS[preset].model : undefined;
  return model === "metanas" ? undefined : model;
}

/** The model `train` meta-trains: --model, the config file's, fixed when a genotype is given, else the preset's; none and metanas are refused. */
function trainModel(flags: Partial<RunConfig>, fileValues: Partial<RunConfig>, preset: string): RunConfig["model"] {
  const model =
    flags.model ??
    (fileValues.model as string | undefined) ??
    (flags.genotype || fileValues.genotype ? "fixed" : undefined) ??
    presetModel(preset);
  if (!model)
    throw new Error("train needs an architecture: --genotype FILE (a found cell) or --model conv4 (the baseline)");
  if (model === "metanas")
    throw new Error("train meta-trains a fixed architecture; for architecture search use `metanas search`");
  return model as RunConfig["model"];
}

/** Settings that leave a finished run's meta-test as it was: where --resume changes only these, the run's summary stands. */
const BASELINE_ONLY = new Set<string>(["baseline", "baselineBudget", "dataDir", "threads", "device"]);

/**
 * A finished run whose --resume changes nothing but its baseline (e.g. --baseline conv4 added
 * later): its summary, with the adjusted configuration, instead of meta-testing it again (which
 * needs its checkpoint; the baseline needs only the run's configuration, metrics and per-task
 * accuracies). Null otherwise.
 */
function finishedRunForBaseline(dir: string, flags: Partial<RunConfig>): TrainingResult | null {
  if (runDirState(dir) !== "finished") return null;
  const given = Object.entries(flags).filter(([, v]) => v !== undefined);
  if (given.length === 0 || given.some(([k]) => !BASELINE_ONLY.has(k))) return null;
  const config = adjustedConfig(readRunConfig(dir), flags, "resume");
  return { dir, summary: readSummary(dir), config, stopRequested: false };
}

/** Continues the run in --resume's directory (on --nproc ranks when asked), then prints its result. */
async function resumeRun(o: Record<string, unknown>, flags: Partial<RunConfig>): Promise<void> {
  const dir = String(o.resume);
  const finished = finishedRunForBaseline(dir, flags);
  if (!finished && (await launchIfAsked(o.nproc, () => readRunConfig(dir), true))) return;
  const { launch, reporter } = participation();
  const options = { reporter, handleSignals: true, afterRun: report, launch };
  const r = finished ?? (await runTraining(dir, { resume: true, overrides: flags }, options));
  finish(r.summary, r.dir, Boolean(o.json), await baselineAfter(r, reporter));
}

/** Starts a new run of `search` or `train` from the preset, the config file and the flags (on --nproc ranks when asked), then prints its result. */
async function startRun(
  o: Record<string, unknown>,
  flags: Partial<RunConfig>,
  name: "search" | "train",
  defaults: Partial<RunConfig>,
): Promise<void> {
  const fileValues = o.config ? readConfigFile(String(o.config)) : {};
  const modelDefaults: Partial<RunConfig> = { ...defaults };
  if (name === "train") modelDefaults.model = trainModel(flags, fileValues, String(o.preset));
  // Reads a genotype file now, so that a bad one fails before anything is printed or written.
  const config = selfContained(buildConfig(String(o.preset), { ...modelDefaults, ...fileValues }, flags));
  if (await launchIfAsked(o.nproc, () => config, true)) return;
  const { launch, reporter } = participation();
  const options = { reporter, handleSignals: true, afterRun: report, launch };
  const dir = o.out ? String(o.out) : defaultRunDir(String(o.preset));
  reporter.log(`metanas ${name}: ${JSON.stringify(config)}`);
  reporter.log(`run directory: ${dir}`);
  const r = await runTraining(dir, { config }, options);
  finish(r.summary, r.dir, Boolean(o.json), await baselineAfter(r, reporter));
}

/** Adds `search` or `train`: a new run, or --resume of one, with every setting's flag. */
function trainingCommand(
  program: Command,
  name: "search" | "train",
  description: string,
  defaults: Partial<RunConfig>,
) {
  const cmd = program
    .command(name)
    .description(description)
    .addOption(presetOption("quick"))
    .addOption(configFileOption())
    .option("--out <dir>", "run directory (default runs/<preset>-<time>)")
    .option(
      "--resume <dir>",
      `continue the run in <dir> from its last checkpoint (may change: ${adjustableKeys("resume").map(flagOf).join(" ")})`,
    )
    .option("--json", "print the final result as one JSON line")
    .addOption(nprocOption());
  addSettingOptions(cmd);
  const models = MODEL_KINDS.filter((m) => m !== "metanas").join(" or ");
  helpWithPresetValues(cmd, "quick", name === "train" ? { model: `${models}; fixed when --genotype is given` } : {});
  cmd.action(async (o: Record<string, unknown>) => {
    const flags = settingValues(o);
    if (o.resume) await resumeRun(o, flags);
    else await startRun(o, flags, name, defaults);
  });
}

/** Adds `search`, `train` and `eval`. */
export function register(program: Command): void {
  trainingCommand(program, "search", "meta-learn an architecture and its weights (MetaNAS), then meta-test", {
    model: "metanas",
  });
  trainingCommand(
    program,
    "train",
    "meta-train a fixed architecture with REPTILE: a genotype's network (--genotype FILE) or the Conv4 baseline (--model conv4)",
    {},
  );
  const evalKeys = adjustableKeys("eval");
  const evalCmd = program
    .command("eval")
    .description("meta-test the latest checkpoint of a run again (writes RUN_DIR/evaluation.json)")
    .argument("[RUN_DIR]", "a run directory written by search or train")
    .option("--run <dir>", "the run directory (the same as RUN_DIR)")
    .option("--json", "print the final result as one JSON line")
    .addOption(nprocOption());
  addSettingOptions(evalCmd, evalKeys);
  evalCmd.configureHelp({
    optionDescription: (option) =>
      option.helpGroupHeading ? `${option.description} [default: the run's value]` : option.description,
  });
  evalCmd.action(async (runDir: string | undefined, o: Record<string, unknown>) => {
    const dir = runDir ?? (o.run as string | undefined);
    if (!dir) throw new Error("eval needs the run directory: metanas eval RUN_DIR");
    const overrides = settingValues(o, evalKeys);
    if (await launchIfAsked(o.nproc, () => ({ ...readRunConfig(dir), ...overrides }), false)) return;
    const { launch, reporter } = participation();
    const summary = await runEvaluation(dir, { reporter, overrides, afterRun: report, launch });
    finish(summary, dir, Boolean(o.json));
  });
}
