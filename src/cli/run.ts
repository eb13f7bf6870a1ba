// metanas search | train | eval: meta-architecture search, fixed-architecture meta-training
// (a genotype's network or the Conv4 baseline), and meta-testing a finished run.
import { type Command, Option } from "commander";
import { selfContained } from "../models/build.js";
import { writeReport } from "../reports/index.js";
import { buildConfig, type RunConfig, readConfigFile } from "../runs/config.js";
import { launchFromEnv } from "../runs/distributed.js";
import type { Summary } from "../runs/format.js";
import { PRESETS } from "../runs/presets.js";
import { defaultRunDir, readRunConfig } from "../runs/runDir.js";
import { runEvaluation, runTraining } from "../runs/runner.js";
import { parseGenotype } from "../searchspace/genotype.js";
import { reporterFor, silentReporter } from "../util/progress.js";
import { launchLocal } from "./launch.js";
import { intOption, listOption, numberOption } from "./options.js";

const NPROC_HELP = "ranks to start on this machine, one process and one libtorch thread each (default 1)";

/** Starts `nproc` local ranks of this command when asked to, and leaves with their exit code. */
async function launchIfAsked(nproc: unknown, config: () => RunConfig, training: boolean): Promise<boolean> {
  const n = nproc === undefined ? 1 : intOption(String(nproc), "--nproc", 1);
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

const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const SAMPLE = PRESETS.quick as Record<string, unknown>;
const CONFIG_KEYS = [...Object.keys(SAMPLE), "dataDir", "genotype"].filter(
  (k, i, a) => a.indexOf(k) === i && k !== "preset",
);

/** One --flag per configuration key (--ways, --inner-steps, --t-min, ...). */
export function addConfigOptions(cmd: Command): Command {
  for (const key of CONFIG_KEYS) {
    const sample = SAMPLE[key];
    const kind = Array.isArray(sample) ? "list" : typeof sample === "number" ? "number" : "text";
    cmd.addOption(
      new Option(
        `--${kebab(key)} <${kind === "list" ? "a,b" : kind === "number" ? "n" : "value"}>`,
        `override ${key}`,
      ).hideHelp(
        !["ways", "shots", "epochs", "channels", "dataDir", "seed", "threads", "dataset", "genotype", "model"].includes(
          key,
        ),
      ),
    );
  }
  return cmd;
}

export function flagValues(o: Record<string, unknown>): Partial<RunConfig> {
  const out: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) {
    const v = o[key];
    if (v === undefined) continue;
    const sample = SAMPLE[key];
    const flag = `--${kebab(key)}`;
    out[key] = Array.isArray(sample)
      ? listOption(String(v), flag)
      : typeof sample === "number"
        ? numberOption(String(v), flag)
        : v;
  }
  return out as Partial<RunConfig>;
}

function printCells(summary: Summary): void {
  if (!summary.genotypeJson) return;
  const g = parseGenotype(JSON.stringify(summary.genotypeJson));
  const name = (i: number) => (i === 0 ? "c_{k-2}" : i === 1 ? "c_{k-1}" : `node ${i - 2}`);
  for (const kind of ["normal", "reduce"] as const) {
    console.log(`${kind === "normal" ? "normal cell" : "reduction cell"}:`);
    g[kind].forEach((node, j) =>
      console.log(`  node ${j} = ${node.map(([op, i]) => `${op}(${name(i)})`).join(" + ")}`),
    );
  }
}

function finish(summary: Summary | null, dir: string, json: boolean): void {
  if (!summary) return;
  const line = {
    accuracy: summary.accuracy,
    ci95: summary.ci95,
    tasks: summary.tasks,
    genotype: summary.genotype,
    params: summary.params,
    run: dir,
  };
  if (json) {
    console.log(JSON.stringify(line));
    return;
  }
  console.log(
    `\nfew-shot accuracy: ${(100 * summary.accuracy).toFixed(2)}% ± ${(100 * summary.ci95).toFixed(2)} (95% CI, ${summary.tasks} test tasks)`,
  );
  console.log(
    `per-task pruned weights: median ${summary.perTaskParams.median.toLocaleString("en-US")} of ${summary.params.total.toLocaleString("en-US")}`,
  );
  printCells(summary);
  console.log(`genotype: ${summary.genotype}`);
  console.log(`run directory: ${dir} (report.html, figures/, summary.json)`);
}

async function report(dir: string): Promise<void> {
  await writeReport(dir);
}

function trainingCommand(
  program: Command,
  name: "search" | "train",
  description: string,
  defaults: Partial<RunConfig>,
) {
  const cmd = program
    .command(name)
    .description(description)
    .option("--preset <name>", `settings to start from: ${Object.keys(PRESETS).join(", ")}`, "quick")
    .option("--config <file>", "JSON file of settings (applied over the preset, under the flags)")
    .option("--out <dir>", "run directory (default runs/<preset>-<time>)")
    .option("--resume <dir>", "continue the run in <dir> from its last checkpoint")
    .option("--json", "print the final result as one JSON line")
    .option("--nproc <n>", NPROC_HELP);
  addConfigOptions(cmd);
  cmd.action(async (o: Record<string, unknown>) => {
    const flags = flagValues(o);
    if (o.resume) {
      if (await launchIfAsked(o.nproc, () => readRunConfig(String(o.resume)), true)) return;
      const { launch, reporter } = participation();
      const options = { reporter, handleSignals: true, afterRun: report, launch };
      const r = await runTraining(String(o.resume), { resume: true, overrides: flags }, options);
      finish(r.summary, r.dir, Boolean(o.json));
      return;
    }
    const fileValues = o.config ? readConfigFile(String(o.config)) : {};
    const modelDefaults: Partial<RunConfig> = { ...defaults };
    if (name === "train") {
      const model =
        flags.model ??
        (fileValues.model as string | undefined) ??
        (flags.genotype || fileValues.genotype ? "fixed" : undefined);
      if (!model)
        throw new Error("train needs an architecture: --genotype FILE (a found cell) or --model conv4 (the baseline)");
      if (model === "metanas")
        throw new Error("train meta-trains a fixed architecture; for architecture search use `metanas search`");
      modelDefaults.model = model as RunConfig["model"];
    }
    // Reads a genotype file now, so that a bad one fails before anything is printed or written.
    const config = selfContained(buildConfig(String(o.preset), { ...modelDefaults, ...fileValues }, flags));
    if (await launchIfAsked(o.nproc, () => config, true)) return;
    const { launch, reporter } = participation();
    const options = { reporter, handleSignals: true, afterRun: report, launch };
    const dir = o.out ? String(o.out) : defaultRunDir(String(o.preset));
    reporter.log(`metanas ${name}: ${JSON.stringify(config)}`);
    reporter.log(`run directory: ${dir}`);
    const r = await runTraining(dir, { config }, options);
    finish(r.summary, r.dir, Boolean(o.json));
  });
}

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
  program
    .command("eval")
    .description("meta-test the latest checkpoint of a run again")
    .requiredOption("--run <dir>", "run directory")
    .option("--tasks <n>", "number of test tasks (default: the run's testTasks)")
    .option("--json", "print the final result as one JSON line")
    .option("--nproc <n>", NPROC_HELP)
    .action(async (o: { run: string; tasks?: string; json?: boolean; nproc?: string }) => {
      const tasks = o.tasks === undefined ? undefined : intOption(o.tasks, "--tasks", 1);
      if (await launchIfAsked(o.nproc, () => readRunConfig(o.run), false)) return;
      const { launch, reporter } = participation();
      const summary = await runEvaluation(o.run, { reporter, tasks, afterRun: report, launch });
      finish(summary, o.run, Boolean(o.json));
    });
}
