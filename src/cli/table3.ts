// metanas table3: the paper's appendix Table 3 as it ran, a single-task DARTS search per
// sparsification strategy and seed, and the accuracy before and after pruning (docs/single-task.md).
import { type Command, InvalidArgumentError, Option } from "commander";
import { defaultRunDir } from "../runs/runDir.js";
import {
  SINGLE_TASK_GROUPS,
  SINGLE_TASK_KEYS,
  SINGLE_TASK_SETTINGS,
  type SingleTaskKey,
  type SingleTaskSetting,
  singleTaskFlag,
} from "../runs/singleTaskConfig.js";
import {
  buildSingleTaskConfig,
  SINGLE_TASK_PRESET_NAMES,
  SINGLE_TASK_PRESETS,
  type SingleTaskPresetName,
} from "../runs/singleTaskPresets.js";
import { runTable3, TABLE3_FILES, table3Markdown } from "../runs/table3.js";
import { reporterFor } from "../util/progress.js";
import { formatValue, parseInteger, parseList, parseNumber, presetInArgs } from "./settings.js";

const PLACEHOLDER = { int: "n", number: "x", list: "a,b", choice: "NAME", names: "a,b", text: "TEXT" } as const;
const PARSERS: Partial<Record<SingleTaskSetting["kind"], (t: string) => unknown>> = {
  int: parseInteger,
  number: parseNumber,
  list: parseList,
  names: (t) => t.split(",").map((name) => name.trim()),
};
const DEFAULT_PRESET = "darts-cifar10";

/** The flag of one single-task setting, with its parser, choices and help group. */
function settingOption(key: SingleTaskKey): Option {
  const setting = SINGLE_TASK_SETTINGS[key] as SingleTaskSetting;
  const option = new Option(
    `${singleTaskFlag(key)} <${setting.placeholder ?? PLACEHOLDER[setting.kind]}>`,
    setting.description,
  );
  const parse = PARSERS[setting.kind];
  if (parse) option.argParser(parse);
  if (setting.kind === "choice" && setting.choices) option.choices([...setting.choices]);
  return option.helpGroup(`${SINGLE_TASK_GROUPS[setting.group]}:`);
}

/** Each setting's --help line ends with its value in the preset the command line names. */
function presetValuesInHelp(cmd: Command): void {
  const byFlag = new Map(SINGLE_TASK_KEYS.map((k) => [singleTaskFlag(k), k]));
  cmd.configureHelp({
    optionDescription(option) {
      const key = option.long ? byFlag.get(option.long) : undefined;
      if (!key) return option.description;
      const name = presetInArgs(process.argv, DEFAULT_PRESET);
      const preset = SINGLE_TASK_PRESETS[name as SingleTaskPresetName] as Record<string, unknown> | undefined;
      return `${option.description} [${preset ? name : "unknown preset"}: ${preset ? formatValue(preset[key]) : "?"}]`;
    },
  });
}

/** --shard k/n as a 0-based index and a count. */
function parseShard(text: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const [k, n] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
  if (!(n >= 1 && k >= 1 && k <= n)) throw new InvalidArgumentError("must be k/n with 1 <= k <= n, e.g. 1/2.");
  return { index: k - 1, count: n };
}

/** `metanas table3`: runs (or continues) the searches, stopping between them on SIGINT/SIGTERM, and prints the table. */
async function table3(o: Record<string, unknown>): Promise<void> {
  const flags = Object.fromEntries(SINGLE_TASK_KEYS.map((k) => [k, o[k]]));
  const config = buildSingleTaskConfig(String(o.preset), o.config as string | undefined, flags);
  const dir = o.out ? String(o.out) : defaultRunDir(`table3-${String(o.preset)}`);
  const reporter = reporterFor();
  reporter.log(`metanas table3: ${JSON.stringify(config)}`);
  reporter.log(`output folder: ${dir}`);
  let stop = false;
  const onSignal = () => {
    stop = true;
  };
  process.once("SIGINT", onSignal).once("SIGTERM", onSignal);
  try {
    const shard = o.shard as { index: number; count: number } | undefined;
    const result = await runTable3(dir, config, { reporter, shouldStop: () => stop, shard });
    if (!result) {
      if (stop) {
        reporter.log(`stopped; the finished searches are kept: rerun the same command with --out ${dir} to continue`);
        process.exitCode = 130;
      }
      return;
    }
    if (o.json) console.log(JSON.stringify({ dir, ...result, config: undefined }));
    else
      console.log(
        `\n${table3Markdown(result)}\noutput folder: ${dir} (${TABLE3_FILES.markdown}, ${TABLE3_FILES.json}, searches/)`,
      );
  } finally {
    process.off("SIGINT", onSignal).off("SIGTERM", onSignal);
  }
}

/** Adds `metanas table3` with its options and every single-task setting's flag. */
export function register(program: Command): void {
  const cmd = program
    .command("table3")
    .description(
      "the paper's appendix Table 3 as it ran: a single-task DARTS search (weights on one half of the training images, architecture on the other) with each sparsification strategy and seed, then the held-out accuracy of the one-shot network against the discrete network of its genotype",
    )
    .addOption(
      new Option("--preset <name>", `settings to start from: ${SINGLE_TASK_PRESET_NAMES.join(", ")}`).default(
        DEFAULT_PRESET,
      ),
    )
    .option("--config <file>", "JSON file of settings (applied over the preset, under the flags)")
    .option(
      "--out <dir>",
      "output folder (default runs/table3-<preset>-<time>); rerun with the same --out to continue, or with more --seeds / --strategies to add searches",
    )
    .option(
      "--shard <k/n>",
      "run only the k-th of every n searches (seeds x strategies), so that n processes share one --out; rerun without it to write the table",
      parseShard,
    )
    .option("--json", "print the table as one JSON line");
  for (const key of SINGLE_TASK_KEYS) cmd.addOption(settingOption(key));
  presetValuesInHelp(cmd);
  cmd.action(table3);
}
