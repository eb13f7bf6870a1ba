// metanas data: download and inspect few-shot datasets.
import { type Command, InvalidArgumentError, Option } from "commander";
import { downloadOmniglot } from "../data/download.js";
import { formatSummary, inspectDataset } from "../data/inspect.js";
import { DATASET_NAMES } from "../data/load.js";
import type { DatasetName } from "../data/types.js";

function nonNegativeInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("must be a non-negative integer");
  return n;
}

export function register(program: Command): void {
  const data = program.command("data").description("few-shot datasets: download and inspect");

  data
    .command("download")
    .description("fetch a dataset's canonical files (MD5-checked; files already present and valid are kept)")
    .argument("<dataset>", "dataset to fetch (omniglot)")
    .option("--dir <DIR>", "folder to put the files in", "data/omniglot")
    .option(
      "--base-url <URL>",
      "where to fetch from (default: $METANAS_OMNIGLOT_URL, else the canonical GitHub address)",
    )
    .option("--quiet", "no progress output")
    .action(async (dataset: string, o: { dir: string; baseUrl?: string; quiet?: boolean }) => {
      if (dataset !== "omniglot") {
        throw new Error(
          `cannot download ${dataset}: only omniglot is downloadable (MiniImagenet's images are under ImageNet's terms; use --dataset builtin for no data at all)`,
        );
      }
      const results = await downloadOmniglot({ dir: o.dir, baseUrl: o.baseUrl, quiet: o.quiet });
      for (const r of results) console.log(`${r.status.padEnd(10)} ${r.file}`);
    });

  data
    .command("inspect")
    .description("print the number of classes and images per split of a dataset")
    .addOption(new Option("--dataset <NAME>", "dataset").choices([...DATASET_NAMES]).makeOptionMandatory())
    .option("--dir <DIR>", "dataset folder (omniglot: the zips or their folders; miniimagenet: the CSVs and images/)")
    .option("--no-rotations", "omniglot: do not count 90/180/270-degree rotations as further classes")
    .addOption(new Option("--split <SPLIT>", "omniglot split").choices(["background", "vinyals"]).default("background"))
    .option("--val-characters <N>", "omniglot: characters held out of train for validation", nonNegativeInt, 0)
    .option("--json", "print one JSON object")
    .action(
      async (o: {
        dataset: DatasetName;
        dir?: string;
        rotations: boolean;
        split: "background" | "vinyals";
        valCharacters: number;
        json?: boolean;
      }) => {
        const summary = await inspectDataset({
          name: o.dataset,
          dir: o.dir,
          rotations: o.rotations,
          split: o.split,
          valCharacters: o.valCharacters,
        });
        console.log(o.json ? JSON.stringify(summary) : formatSummary(summary));
      },
    );
}
