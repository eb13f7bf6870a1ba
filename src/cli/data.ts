// metanas data: download and inspect few-shot datasets.
import { type Command, InvalidArgumentError, Option } from "commander";
import { downloadOmniglot } from "../data/download.js";
import { formatSummary, inspectDataset } from "../data/inspect.js";
import type { DatasetName } from "../data/types.js";
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

export function register(program: Command): void {
  const data = program.command("data").description("few-shot datasets: download and inspect");

  const download = data
    .command("download")
    .description("fetch a dataset's canonical files (MD5-checked; files already present and valid are kept)")
    .argument("<dataset>", "dataset to fetch (omniglot)")
    .addOption(
      settingOption("dataDir", { description: "folder to put the files in", default: "data/omniglot" }).helpGroup(
        "Options:",
      ),
    )
    .option(
      "--base-url <URL>",
      "where to fetch from (default: $METANAS_OMNIGLOT_URL, else the canonical GitHub address)",
    )
    .option("--quiet", "no progress output");
  for (const alias of aliasOptions("dataDir")) download.addOption(alias);
  download.action(async (dataset: string, o: Record<string, unknown> & { baseUrl?: string; quiet?: boolean }) => {
    if (dataset !== "omniglot") {
      throw new Error(
        `cannot download ${dataset}: only omniglot can be downloaded (MiniImagenet's images are under ImageNet's terms; the builtin dataset needs no download)`,
      );
    }
    const dir = settingValues(o, ["dataDir"]).dataDir!;
    const results = await downloadOmniglot({ dir, baseUrl: o.baseUrl, quiet: o.quiet });
    for (const r of results) console.log(`${r.status.padEnd(10)} ${r.file}`);
  });

  const inspect = data
    .command("inspect")
    .description("print the number of classes and images per split of a dataset")
    .option("--no-rotations", "omniglot: do not count 90/180/270-degree rotations as further classes")
    .addOption(new Option("--split <SPLIT>", "omniglot split").choices(["background", "vinyals"]).default("background"))
    .option("--val-characters <N>", "omniglot: characters held out of train for validation", nonNegativeInt, 0)
    .option("--json", "print one JSON object")
    .addOption(presetOption("quick").helpGroup("Task (folder: the shape its splits are checked against):"));
  addSettingOptions(inspect, ["dataset", "dataDir", "imageSize", "imageColour"], "Options:");
  addSettingOptions(inspect, TASK_KEYS, "Task (folder: the shape its splits are checked against):");
  inspect.options.find((opt) => opt.long === "--dataset")!.makeOptionMandatory();
  inspect.action(
    async (
      o: Record<string, unknown> & {
        rotations: boolean;
        split: "background" | "vinyals";
        valCharacters: number;
        json?: boolean;
      },
    ) => {
      const { dataset, dataDir, imageSize, imageColour } = settingValues(o, [
        "dataset",
        "dataDir",
        "imageSize",
        "imageColour",
      ]);
      const task = dataset === "folder" ? buildConfig(String(o.preset), {}, settingValues(o, TASK_KEYS)) : undefined;
      const summary = await inspectDataset({
        name: dataset as DatasetName,
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
    },
  );
}
