// metanas config: the fully resolved configuration (preset <- --config file <- flags), every
// setting with its flag, value and description, grouped as in --help; --json for tools.
import type { Command } from "commander";
import {
  flagOf,
  type RunConfig,
  readConfigFile,
  SETTING_GROUPS,
  SETTING_KEYS,
  SETTINGS,
  type SettingGroup,
} from "../runs/config.js";
import { buildConfig } from "../runs/presets.js";
import {
  addSettingOptions,
  configFileOption,
  formatValue,
  helpWithPresetValues,
  presetConfig,
  presetOption,
  settingValues,
} from "./settings.js";

/** One row per setting, in the schema's order. */
export function describeConfig(config: RunConfig) {
  const preset = config.preset ? presetConfig(config.preset) : null;
  return SETTING_KEYS.map((key) => ({
    key,
    flag: flagOf(key),
    group: SETTINGS[key].group as SettingGroup,
    value: config[key] ?? null,
    /** True where the value is not the preset's (a --config file or a flag set it). */
    changed: preset !== null && JSON.stringify(config[key]) !== JSON.stringify(preset[key]),
    description: SETTINGS[key].description,
  }));
}

export function formatConfig(config: RunConfig): string {
  const rows = describeConfig(config);
  const terms = rows.map(
    (r) => `${r.flag} ${r.value === null ? "(unset)" : formatValue(r.value)}${r.changed ? " *" : ""}`,
  );
  const width = Math.max(...terms.map((t) => t.length)) + 2;
  const lines = [
    `configuration from preset ${config.preset}${rows.some((r) => r.changed) ? " (* changed from the preset)" : ""}`,
  ];
  for (const group of Object.keys(SETTING_GROUPS) as SettingGroup[]) {
    lines.push("", `${SETTING_GROUPS[group]}:`);
    rows.forEach((r, i) => {
      if (r.group === group) lines.push(`  ${terms[i]!.padEnd(width)}${r.description}`);
    });
  }
  return lines.join("\n");
}

export function register(program: Command): void {
  const cmd = program
    .command("config")
    .description("print the resolved configuration of search/train: every setting, its flag, value and description")
    .addOption(presetOption("quick"))
    .addOption(configFileOption())
    .option("--json", "print one JSON object: preset, config (usable as a --config file) and settings");
  addSettingOptions(cmd);
  helpWithPresetValues(cmd, "quick");
  cmd.action((o: Record<string, unknown>) => {
    const fileValues = o.config ? readConfigFile(String(o.config)) : {};
    const config = buildConfig(String(o.preset), fileValues, settingValues(o));
    if (!o.json) {
      console.log(formatConfig(config));
      return;
    }
    const { preset, ...values } = config;
    console.log(JSON.stringify({ preset, config: values, settings: describeConfig(config) }));
  });
}
