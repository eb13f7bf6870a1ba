// metanas ablation: the sparsification ablation (plain DARTS, annealed ops, MetaNAS) at one budget.
import path from "node:path";
import type { Command } from "commander";
import { renderAblation } from "../reports/ablationChart.js";
import { writeFigure, writeReport } from "../reports/index.js";
import { ABLATION_FILES, ablationMarkdown, runAblation } from "../runs/ablation.js";
import { buildConfig, readConfigFile } from "../runs/config.js";
import { PRESETS } from "../runs/presets.js";
import { defaultRunDir } from "../runs/runDir.js";
import { STRATEGIES, type Strategy } from "../sparsification/strategy.js";
import { reporterFor } from "../util/progress.js";
import { addConfigOptions, flagValues } from "./run.js";

function strategiesOption(v: string): Strategy[] {
  const list = v.split(",").map((s) => s.trim());
  for (const s of list)
    if (!(STRATEGIES as readonly string[]).includes(s))
      throw new Error(`--strategies: unknown strategy "${s}"; use some of ${STRATEGIES.join(",")}`);
  return list as Strategy[];
}

export function register(program: Command): void {
  const cmd = program
    .command("ablation")
    .description(
      "the sparsification ablation: one search per strategy (darts, anneal-ops, metanas) at the same budget, tasks and seed; per test task the adapted one-shot network against the discrete network of its genotype",
    )
    .option("--preset <name>", `settings to start from: ${Object.keys(PRESETS).join(", ")}`, "quick")
    .option("--config <file>", "JSON file of settings (applied over the preset, under the flags)")
    .option(
      "--out <dir>",
      "ablation directory (default runs/ablation-<preset>-<time>); rerun with the same --out to continue",
    )
    .option("--strategies <list>", `strategies to compare, in order (default ${STRATEGIES.join(",")})`)
    .option("--json", "print the table as one JSON line");
  addConfigOptions(cmd);
  cmd.action(async (o: Record<string, unknown>) => {
    const reporter = reporterFor();
    const fileValues = o.config ? readConfigFile(String(o.config)) : {};
    const config = buildConfig(String(o.preset), { model: "metanas", ...fileValues }, flagValues(o));
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
    await writeFigure(path.join(dir, "figures"), "ablation", await renderAblation(result));
    if (o.json) {
      console.log(
        JSON.stringify({ dir, rows: result.rows.map(({ oneShotAccuracies, discreteAccuracies, ...r }) => r) }),
      );
      return;
    }
    console.log(`\n${ablationMarkdown(result)}`);
    console.log(
      `ablation directory: ${dir} (${ABLATION_FILES.markdown}, ${ABLATION_FILES.json}, figures/ablation.png)`,
    );
  });
}
