// metanas search | train | eval: meta-architecture search, fixed-architecture meta-training
// (a genotype's network or the Conv4 baseline), and meta-testing a finished run.
import { type Command, Option } from "commander";
import { selfContained } from "../models/build.js";
import { writeReport } from "../reports/index.js";
import { buildConfig, type RunConfig, readConfigFile } from "../runs/config.js";
import type { Summary } from "../runs/format.js";
import { PRESETS } from "../runs/presets.js";
import { defaultRunDir } from "../runs/runDir.js";
import { runEvaluation, runTraining } from "../runs/runner.js";
import { parseGenotype } from "../searchspace/genotype.js";
import { reporterFor } from "../util/progress.js";
import { intOption, listOption, numberOption } from "./options.js";

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
    .option("--json", "print the final result as one JSON line");
  addConfigOptions(cmd);
  cmd.action(async (o: Record<string, unknown>) => {
    const reporter = reporterFor();
    const flags = flagValues(o);
    const options = { reporter, handleSignals: true, afterRun: report };
    if (o.resume) {
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
    .option("--workers <n>", "worker threads for the test tasks (default: the run's workers)")
    .option("--json", "print the final result as one JSON line")
    .action(async (o: { run: string; tasks?: string; workers?: string; json?: boolean }) => {
      const tasks = o.tasks === undefined ? undefined : intOption(o.tasks, "--tasks", 1);
      const workers = o.workers === undefined ? undefined : intOption(o.workers, "--workers", 1);
      const summary = await runEvaluation(o.run, { reporter: reporterFor(), tasks, workers, afterRun: report });
      finish(summary, o.run, Boolean(o.json));
    });
}
