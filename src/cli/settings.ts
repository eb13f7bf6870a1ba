// Command-line flags made from the configuration schema (runs/config.ts SETTINGS): one flag per
// setting, parsed by its kind, grouped in --help with its description and its value in the chosen
// preset. Nothing here lists settings: a setting added to the schema appears on every command.
import { type Command, InvalidArgumentError, Option } from "commander";
import {
  flagOf,
  type RunConfig,
  SETTING_GROUPS,
  SETTING_KEYS,
  SETTINGS,
  type Setting,
  type SettingKey,
  validateConfig,
} from "../runs/config.js";
import { isPresetName, PRESET_NAMES, PRESETS } from "../runs/presets.js";

const PLACEHOLDER = { int: "n", number: "x", list: "a,b", choice: "NAME", text: "TEXT" } as const;

export function parseInteger(text: string): number {
  const v = Number(text);
  if (text.trim() === "" || !Number.isInteger(v)) throw new InvalidArgumentError("must be an integer.");
  return v;
}
export function parseNumber(text: string): number {
  const v = Number(text);
  if (text.trim() === "" || !Number.isFinite(v)) throw new InvalidArgumentError("must be a number.");
  return v;
}
export function parseList(text: string): number[] {
  if (text.trim() === "") return [];
  return text.split(",").map((t) => {
    const v = Number(t.trim());
    if (t.trim() === "" || !Number.isInteger(v))
      throw new InvalidArgumentError("must be integers separated by commas.");
    return v;
  });
}
const PARSERS: Partial<Record<Setting["kind"], (text: string) => unknown>> = {
  int: parseInteger,
  number: parseNumber,
  list: parseList,
};

function setting(key: SettingKey): Setting {
  return SETTINGS[key] as Setting;
}

/** A setting's value as the command line spells it. */
export function formatValue(v: unknown): string {
  if (v === undefined || v === null) return "unset";
  if (Array.isArray(v)) return v.length === 0 ? '""' : v.join(",");
  return String(v);
}

/** The option of one setting (its flag, placeholder, description, parser and group heading). */
export function settingOption(key: SettingKey, o: { description?: string; default?: string } = {}): Option {
  const definition = setting(key);
  const option = new Option(
    `${flagOf(key)} <${definition.placeholder ?? PLACEHOLDER[definition.kind]}>`,
    o.description ?? definition.description,
  );
  const parse = PARSERS[definition.kind];
  if (parse) option.argParser(parse);
  if (definition.kind === "choice" && definition.choices) option.choices([...definition.choices]);
  if (o.default !== undefined) option.default(o.default);
  return option.helpGroup(`${SETTING_GROUPS[definition.group]}:`);
}

/** --preset NAME: the settings to start from, the same on every command that takes it. */
export function presetOption(defaultPreset: string): Option {
  return new Option("--preset <name>", `settings to start from: ${PRESET_NAMES.join(", ")}`).default(defaultPreset);
}

/** --config FILE: a JSON object of settings. */
export function configFileOption(): Option {
  return new Option("--config <file>", "JSON file of settings (applied over the preset, under the flags)");
}

/** The older spellings of a setting's flag: hidden options read back by settingValues. */
export function aliasOptions(key: SettingKey): Option[] {
  return (setting(key).aliases ?? []).map((alias) => {
    const base = settingOption(key);
    const option = new Option(`${alias} <${base.flags.split("<")[1]!.replace(">", "")}>`).hideHelp();
    if (base.parseArg) option.argParser(base.parseArg);
    if (base.argChoices) option.choices(base.argChoices);
    return option;
  });
}

const camel = (flag: string) => flag.replace(/^--/, "").replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * Adds one option per key (all settings when none are given), with their older spellings hidden;
 * under their settings group in --help unless `group` names another heading.
 */
export function addSettingOptions(cmd: Command, keys: readonly SettingKey[] = SETTING_KEYS, group?: string): Command {
  for (const key of keys) {
    const option = settingOption(key);
    cmd.addOption(group ? option.helpGroup(group) : option);
    for (const alias of aliasOptions(key)) cmd.addOption(alias);
  }
  return cmd;
}

/** The setting values given on the command line (by their flag or an older spelling). */
export function settingValues(
  opts: Record<string, unknown>,
  keys: readonly SettingKey[] = SETTING_KEYS,
): Partial<RunConfig> {
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const aliases = (setting(key).aliases ?? []).map(camel);
    // An older spelling first: the flag itself may hold a default.
    const v = [...aliases, key].map((name) => opts[name]).find((x) => x !== undefined);
    if (v !== undefined) out[key] = v;
  }
  return out as Partial<RunConfig>;
}

/** The preset a command line names (--preset NAME or --preset=NAME), wherever it stands. */
export function presetInArgs(args: readonly string[], fallback: string): string {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--preset" && i + 1 < args.length) return args[i + 1]!;
    if (args[i]!.startsWith("--preset=")) return args[i]!.slice("--preset=".length);
  }
  return fallback;
}

/** A preset's values with the schema's defaults filled in. */
export function presetConfig(name: string): RunConfig | null {
  if (!isPresetName(name)) return null;
  return validateConfig({ ...PRESETS[name], preset: name });
}

function rootOf(cmd: Command): Command {
  let c = cmd;
  while (c.parent) c = c.parent;
  return c;
}

/**
 * --help of a command with setting options: each setting's description ends with its value in the
 * preset named on the command line (or the command's default preset); `shown` overrides values.
 */
export function helpWithPresetValues(
  cmd: Command,
  defaultPreset: string,
  shown: Partial<Record<SettingKey, string>> = {},
): Command {
  const flagToKey = new Map(SETTING_KEYS.map((k) => [flagOf(k), k]));
  cmd.configureHelp({
    optionDescription(option) {
      const key = option.long ? flagToKey.get(option.long) : undefined;
      if (!key) {
        const d = option.defaultValue;
        return d === undefined || typeof d === "boolean" ? option.description : `${option.description} (default: ${d})`;
      }
      const preset = presetInArgs((rootOf(cmd) as unknown as { rawArgs?: string[] }).rawArgs ?? [], defaultPreset);
      const config = presetConfig(preset);
      const value = shown[key] ?? (config ? formatValue(config[key]) : "?");
      return `${option.description} [${isPresetName(preset) ? preset : "unknown preset"}: ${value}]`;
    },
  });
  cmd.addHelpText(
    "after",
    [
      "",
      "Values in [brackets] are the preset's; --preset NAME --help shows another preset's.",
      'A --config FILE (JSON, as `metanas config --json` prints under "config") applies',
      "over the preset, and flags over both.",
    ].join("\n"),
  );
  return cmd;
}
