// metanas data: download and inspect few-shot datasets.
import { type Command, InvalidArgumentError, Option } from "commander";
import { downloadCifar10 } from "../data/cifar10Download.js";
import { downloadOmniglot } from "../data/download.js";
import { formatSummary, inspectDataset } from "../data/inspect.js";
import { DATASET_NAMES, type DatasetName } from "../data/types.js";
import type { SettingKey } from "../runs/config.js";
import { buildConfig } from "../runs/presets.js";
import { addSettingOptions, aliasOptions, presetOption, settingOption, settingValues } from "./settings.js";

/** The task shape a folder dataset's splits are checked against. */
const TASK_KEYS: SettingKey[] = ["ways", "shots", "trainShots", "queries"];

function nonNegativeInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("must be a non-negative integer");
  return n;
}

type DownloadOptions = Record<string, unknown> & { baseUrl?: string; quiet?: boolean; layout: "python" | "binary" };

/** `metanas data download`: fetches omniglot's or cifar10's files and prints each file's status. */
async function download(dataset: string, o: DownloadOptions): Promise<void> {
  if (dataset !== "omniglot" && dataset !== "cifar10") {
    throw new Error(
      `cannot download ${dataset}: only omniglot and cifar10 can be downloaded (MiniImagenet's images are under ImageNet's terms; the builtin dataset needs no download)`,
    );
  }
  const dir = settingValues(o, ["dataDir"]).dataDir ?? `data/${dataset}`;
  const results =
    dataset === "omniglot"
      ? await downloadOmniglot({ dir, baseUrl: o.baseUrl, quiet: o.quiet })
      : await downloadCifar10({ dir, layout: o.layout, baseUrl: o.baseUrl, quiet: o.quiet });
  for (const r of results) console.log(`${r.status.padEnd(10)} ${r.file}`);
}

type InspectOptions = Record<string, unknown> & {
  rotations: boolean;
  split: "background" | "vinyals";
  valCharacters: number;
  json?: boolean;
};

/** `metanas data inspect`: prints a dataset's classes and images per split (a folder's checked against the task shape). */
async function inspect(o: InspectOptions): Promise<void> {
  const { dataDir, imageSize, imageColour } = settingValues(o, ["dataDir", "imageSize", "imageColour"]);
  const dataset = o.dataset as DatasetName;
  const task = dataset === "folder" ? buildConfig(String(o.preset), {}, settingValues(o, TASK_KEYS)) : undefined;
  const summary = await inspectDataset({
    name: o.dataset as DatasetName,
    dir: dataDir,
    imageSize,
    imageColour,
    task,
    rotations: o.rotations,
    split: o.split,
    valCharacters: o.valCharacters,
  });
  if (o.json) console.log(JSON.stringify(summary));
  else {
    console.log(formatSummary(summary));
    if (task)
      console.log(
        `  (checked against ${task.ways}-way tasks of ${task.trainShots} + ${task.queries} images per class in train, ${task.shots} + ${task.queries} in val and test: --preset, --ways, --train-shots, --shots, --queries)`,
      );
  }
}

/** Adds `data download` with its options. */
function registerDownload(data: Command): void {
  const command = data
    .command("download")
    .description("fetch a dataset's canonical files (MD5-checked; files already present and valid are kept)")
    .argument("<dataset>", "dataset to fetch (omniglot or cifar10)")
    .addOption(
      settingOption("dataDir", { description: "folder to put the files in (default data/<dataset>)" }).helpGroup(
        "Options:",
      ),
    )
    .option(
      "--base-url <URL>",
      "where to fetch from (default: $METANAS_OMNIGLOT_URL or $METANAS_CIFAR10_URL, else the canonical address)",
    )
    .addOption(
      new Option("--layout <LAYOUT>", "cifar10: which distribution (the Python pickles or the binary batches)")
        .choices(["python", "binary"])
        .default("python"),
    )
    .option("--quiet", "no progress output");
  for (const alias of aliasOptions("dataDir")) command.addOption(alias);
  command.action(download);
}

/** Adds `data inspect` with its options. */
function registerInspect(data: Command): void {
  const command = data
    .command("inspect")
    .description("print the number of classes and images per split of a dataset")
    .option("--no-rotations", "omniglot: do not count 90/180/270-degree rotations as further classes")
    .addOption(new Option("--split <SPLIT>", "omniglot split").choices(["background", "vinyals"]).default("background"))
    .option("--val-characters <N>", "omniglot: characters held out of train for validation", nonNegativeInt, 0)
    .option("--json", "print one JSON object")
    .addOption(presetOption("quick").helpGroup("Task (folder: the shape its splits are checked against):"))
    // Every dataset the data layer reads (cifar10 too, which has no few-shot split for `search`).
    .addOption(new Option("--dataset <NAME>", "dataset to inspect").choices([...DATASET_NAMES]).makeOptionMandatory());
  addSettingOptions(command, ["dataDir", "imageSize", "imageColour"], "Options:");
  addSettingOptions(command, TASK_KEYS, "Task (folder: the shape its splits are checked against):");
  command.action(inspect);
}

/** Adds `metanas data` and its subcommands, download and inspect. */
export function register(program: Command): void {
  const data = program.command("data").description("few-shot datasets: download and inspect");
  registerDownload(data);
  registerInspect(data);
}
