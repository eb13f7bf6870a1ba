// metanas ablation: the sparsification ablation (plain DARTS, annealed ops, MetaNAS) at one budget.
import path from "node:path";
import type { Command } from "commander";
import { writeFigure, writeReport } from "../reports/index.js";
import { renderPruningBars } from "../reports/pruningChart.js";
import { ABLATION_FILES, ablationFile, ablationMarkdown, runAblation } from "../runs/ablation.js";
import { readConfigFile } from "../runs/config.js";
import { buildConfig } from "../runs/presets.js";
import { defaultRunDir } from "../runs/runDir.js";
import { STRATEGIES, type Strategy } from "../sparsification/strategy.js";
import { reporterFor } from "../util/progress.js";
import { addSettingOptions, configFileOption, helpWithPresetValues, presetOption, settingValues } from "./settings.js";

/** The strategies a --strategies list names, refusing an unknown one. */
function strategiesOption(v: string): Strategy[] {
  const list = v.split(",").map((strategy) => strategy.trim());
  for (const strategy of list)
    if (!(STRATEGIES as readonly string[]).includes(strategy))
      throw new Error(`--strategies: unknown strategy "${strategy}"; use some of ${STRATEGIES.join(",")}`);
  return list as Strategy[];
}

/** `metanas ablation`: runs (or continues) the ablation, then writes its figure and prints its table. */
async function ablation(o: Record<string, unknown>): Promise<void> {
  const reporter = reporterFor();
  const fileValues = o.config ? readConfigFile(String(o.config)) : {};
  const config = buildConfig(String(o.preset), { model: "metanas", ...fileValues }, settingValues(o));
  if (config.baseline !== "none")
    throw new Error(
      "the ablation compares sparsification strategies; leave --baseline out (it goes with metanas search)",
    );
  const strategies = o.strategies ? strategiesOption(String(o.strategies)) : undefined;
  const dir = o.out ? String(o.out) : defaultRunDir(`ablation-${String(o.preset)}`);
  reporter.log(`metanas ablation: ${JSON.stringify(config)}`);
  reporter.log(`ablation directory: ${dir}`);
  const result = await runAblation(dir, config, {
    strategies,
    reporter,
    handleSignals: true,
    afterRun: async (d) => {
      await writeReport(d);
    },
  });
  if (!result) {
    reporter.log(`ablation stopped; continue it with the same command and --out ${dir}`);
    return;
  }
  const name = (file: string) => ablationFile(file, result.variant);
  await writeFigure(
    path.join(dir, "figures"),
    name("ablation"),
    await renderPruningBars(
      result.rows.map((r) => ({ label: r.strategy, ...r })),
      "sparsification strategy",
    ),
  );
  if (o.json) {
    console.log(
      JSON.stringify({
        dir,
        variant: result.variant,
        rows: result.rows.map(({ oneShotAccuracies, discreteAccuracies, ...r }) => r),
      }),
    );
    return;
  }
  console.log(`\n${ablationMarkdown(result)}`);
  console.log(
    `ablation directory: ${dir} (${name(ABLATION_FILES.markdown)}, ${name(ABLATION_FILES.json)}, figures/${name("ablation")}.png)`,
  );
}

/** Adds `metanas ablation` with its options and every setting's flag. */
export function register(program: Command): void {
  const cmd = program
    .command("ablation")
    .description(
      "the sparsification ablation: one search per strategy (darts, anneal-ops, metanas) at the same budget, tasks and seed; per test task the adapted one-shot network against the discrete network of its genotype",
    )
    .addOption(presetOption("quick"))
    .addOption(configFileOption())
    .option(
      "--out <dir>",
      "ablation directory (default runs/ablation-<preset>-<time>); rerun with the same --out to continue it, or with other meta-test settings (--test-t-min ...) to meta-test the same searches again",
    )
    .option("--strategies <list>", `strategies to compare, in order (default ${STRATEGIES.join(",")})`)
    .option("--json", "print the table as one JSON line");
  addSettingOptions(cmd);
  helpWithPresetValues(cmd, "quick");
  cmd.action(ablation);
}
