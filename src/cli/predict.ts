// metanas predict: a run's meta-learned model (a run directory, or a shipped model by name: metanas
// models) adapted to the user's labelled support images (as meta-testing adapts a task), then the
// class of every query image.
import { type Command, Option } from "commander";
import { QUERY_BATCHES, type QueryBatch } from "../evaluation/predict.js";
import { adjustableKeys, type SettingKey } from "../runs/config.js";
import { type PredictResult, predictRun } from "../runs/predict.js";
import { resolveModel } from "../runs/readyModels.js";
import { toDarts } from "../searchspace/genotype.js";
import { writeFileAtomic } from "../util/atomicWrite.js";
import { addSettingOptions, settingOption, settingValues } from "./settings.js";

/** What a re-evaluation may change, bar the data (predict reads none) and the number of test tasks. */
const KEYS: SettingKey[] = adjustableKeys("eval").filter((k) => k !== "dataDir" && k !== "testTasks");

const percent = (p: number) => `${(100 * p).toFixed(1)}%`;
const fmt = (n: number) => n.toLocaleString("en-US");

function printText(r: PredictResult): void {
  const c = r.config;
  // Temperature and pruning mean something only for a model with an architecture to adapt.
  const arch = r.genotype
    ? ` (the first ${Math.min(c.testArchSteps, c.testSteps)} also adapt the architecture), predicting at T = ${r.phase.temperature}`
    : "";
  console.log(
    `support: ${r.classes.length} classes, ${r.supportImages} images; adapted in ${c.testSteps} steps${arch}`,
  );
  if (r.genotype) {
    console.log(`task architecture (pruned at threshold ${r.phase.threshold}): ${toDarts(r.genotype)}`);
    console.log(`task network: ${fmt(r.params)} of ${fmt(r.totalParams)} weights`);
  }
  const width = Math.max(...r.images.map((f) => f.length));
  r.images.forEach((f, i) => {
    const k = r.predicted[i]!;
    console.log(`${f.padEnd(width)}  ${r.classes[k]}  ${percent(r.probabilities[i]![k]!)}`);
  });
}

function jsonLines(r: PredictResult): string[] {
  const task = r.genotype ? { genotype: toDarts(r.genotype), weights: r.params, totalWeights: r.totalParams } : {};
  return r.images.map((f, i) => {
    const k = r.predicted[i]!;
    const probabilities = Object.fromEntries(r.classes.map((name, j) => [name, r.probabilities[i]![j]]));
    return JSON.stringify({
      image: f,
      class: r.classes[k],
      probability: r.probabilities[i]![k],
      probabilities,
      ...task,
    });
  });
}

const csvField = (v: string | number) => {
  const text = String(v);
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
};

function csv(r: PredictResult): string {
  const rows = [["image", "class", "probability", ...r.classes]];
  r.images.forEach((f, i) => {
    const k = r.predicted[i]!;
    const p = r.probabilities[i]!;
    rows.push([f, r.classes[k]!, String(p[k]), ...p.map(String)]);
  });
  return rows.map((row) => `${row.map(csvField).join(",")}\n`).join("");
}

export function register(program: Command): void {
  const cmd = program
    .command("predict")
    .description(
      "adapt a run's meta-learned model (or a shipped one: metanas models) to labelled support images (as meta-testing adapts), then classify query images",
    )
    .argument("<MODEL>", "a run directory written by search or train, or a shipped model's name (metanas models)")
    .requiredOption("--support <DIR>", "labelled images: one sub-folder per class (its name is the class name)")
    .requiredOption("--query <PATH...>", "images to classify: files, or folders of images")
    .addOption(
      new Option(
        "--query-batch <HOW>",
        "all: the query images as one batch (transductive); each: every image with the support images alone [default: as the run's --test-protocol]",
      ).choices([...QUERY_BATCHES]),
    )
    .option("--json", "one JSON object per query image")
    .option("--out <FILE>", "also write the predictions as CSV")
    .option("--save <DIR>", "write the adapted task network (safetensors, genotype; python/metanas_torch.py loads it)")
    .addOption(settingOption("seed", { description: "seed of the adaptation's batch draws [default: the run's]" }));
  addSettingOptions(cmd, KEYS);
  cmd.configureHelp({
    optionDescription: (option) =>
      option.helpGroupHeading && option.long !== "--seed"
        ? `${option.description} [default: the run's value]`
        : option.description,
  });
  cmd.action(async (model: string, o: Record<string, unknown>) => {
    const r = await predictRun(resolveModel(model), {
      support: String(o.support),
      query: o.query as string[],
      overrides: settingValues(o, KEYS),
      seed: o.seed as number | undefined,
      batch: o.queryBatch as QueryBatch,
      save: o.save as string | undefined,
    });
    if (o.json) for (const line of jsonLines(r)) console.log(line);
    else printText(r);
    if (o.out) writeFileAtomic(String(o.out), csv(r));
    if (o.save && !o.json) console.log(`adapted task network: ${o.save} (python/metanas_torch.py load_run reads it)`);
  });
}
