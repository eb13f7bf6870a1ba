// The sparsification ablation (the paper's appendix Table 3, here at meta-test): the same search
// (budget, tasks, seed) once per strategy, and per test task the accuracy of the adapted one-shot
// network at its final temperature (no forward pruning) against the discrete network its genotype
// prunes it to, on the same weights. Each strategy is an ordinary run directory under the
// ablation's folder, so a stopped ablation resumes where it stopped.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { meanAndCi95 } from "../evaluation/statistics.js";
import { STRATEGIES, type Strategy } from "../sparsification/strategy.js";
import { writeFileAtomic } from "../util/atomicWrite.js";
import { type ProgressReporter, silentReporter } from "../util/progress.js";
import { ConfigError, type RunConfig, validateConfig } from "./config.js";
import type { Summary } from "./format.js";
import { RunDirError } from "./runDir.js";
import { runTraining } from "./runner.js";

export const ABLATION_FILES = {
  config: "ablation-config.json",
  json: "ablation.json",
  markdown: "ablation.md",
} as const;

export interface Interval {
  mean: number;
  ci95: number;
}

export interface AblationRow {
  strategy: Strategy;
  tasks: number;
  /** The adapted one-shot network at the final temperature, every op and input computed. */
  oneShot: Interval;
  /** The discrete network of each task's genotype, same weights. */
  discrete: Interval;
  /** Paired per-task change, discrete minus one-shot. */
  change: Interval;
  oneShotAccuracies: number[];
  discreteAccuracies: number[];
  /** Weights of the one-shot network, and the median over tasks of the discrete networks'. */
  params: { oneShot: number; discrete: number };
  /** The meta-learned genotype (DARTS notation). */
  genotype: string;
  /** The strategy's run directory, relative to the ablation's. */
  run: string;
  wallSeconds: number;
}

export interface AblationResult {
  config: RunConfig;
  rows: AblationRow[];
}

export interface AblationOptions {
  strategies?: readonly Strategy[];
  reporter?: ProgressReporter;
  handleSignals?: boolean;
  /** Called with each strategy's run directory when its run has finished (e.g. to write its report). */
  afterRun?: (dir: string) => Promise<void>;
}

/** The settings every strategy shares: the base configuration without its strategy. */
function sharedSettings(c: RunConfig): Omit<RunConfig, "strategy"> {
  const { strategy: _, ...rest } = c;
  return rest;
}

function checkAblationDir(dir: string, base: RunConfig): void {
  const file = path.join(dir, ABLATION_FILES.config);
  if (existsSync(file)) {
    // Validated, so that settings retired since (workers) do not count as a difference.
    const saved = validateConfig(JSON.parse(readFileSync(file, "utf8")), file);
    if (JSON.stringify(sharedSettings(saved)) !== JSON.stringify(sharedSettings(base)))
      throw new RunDirError(
        `${dir} holds an ablation with other settings: rerun it with the same ones to continue it, or choose another --out`,
      );
    return;
  }
  if (existsSync(dir) && (!statSync(dir).isDirectory() || readdirSync(dir).length > 0))
    throw new RunDirError(`${dir} already holds files that are not an ablation: choose another --out`);
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(file, `${JSON.stringify(base, null, 2)}\n`);
}

function row(strategy: Strategy, summary: Summary, run: string): AblationRow {
  const p = summary.pruning;
  if (!p) throw new Error(`the ${strategy} run's summary has no pruning measurement (rerun it with this version)`);
  const oneShot = p.oneShot.values;
  const discrete = p.discrete.values;
  const change = meanAndCi95(discrete.map((d, i) => d - oneShot[i]!));
  const interval = (v: number[]) => {
    const { mean, ci95 } = meanAndCi95(v);
    return { mean, ci95 };
  };
  return {
    strategy,
    tasks: summary.tasks,
    oneShot: interval(oneShot),
    discrete: interval(discrete),
    change,
    oneShotAccuracies: oneShot,
    discreteAccuracies: discrete,
    params: { oneShot: summary.params.total, discrete: p.discreteParams.median },
    genotype: summary.genotype,
    run,
    wallSeconds: summary.wallSeconds,
  };
}

/**
 * Runs (or resumes, or reuses) one search per strategy under `dir`, then writes ablation.json and
 * ablation.md. Returns null when a run was stopped (Ctrl-C): rerunning the command continues it.
 */
export async function runAblation(
  dir: string,
  base: RunConfig,
  o: AblationOptions = {},
): Promise<AblationResult | null> {
  const reporter = o.reporter ?? silentReporter;
  if (base.model !== "metanas")
    throw new ConfigError(`the ablation compares architecture searches: use --model metanas, not ${base.model}`);
  const strategies = o.strategies ?? STRATEGIES;
  checkAblationDir(dir, base);
  const rows: AblationRow[] = [];
  for (const strategy of strategies) {
    const sub = path.join(dir, strategy);
    const summaryFile = path.join(sub, "summary.json");
    let summary: Summary | null;
    if (existsSync(summaryFile)) {
      reporter.log(`ablation: ${strategy} finished earlier (${sub}); reusing it`);
      summary = JSON.parse(readFileSync(summaryFile, "utf8")) as Summary;
    } else {
      const resume = existsSync(path.join(sub, "config.json"));
      reporter.log(`ablation: ${resume ? "resuming" : "running"} strategy ${strategy} in ${sub}`);
      const start = resume ? { resume: true as const } : { config: { ...base, strategy } };
      ({ summary } = await runTraining(sub, start, {
        reporter,
        handleSignals: o.handleSignals,
        afterRun: o.afterRun,
      }));
    }
    if (!summary) return null;
    rows.push(row(strategy, summary, strategy));
  }
  const result = { config: base, rows };
  writeFileAtomic(path.join(dir, ABLATION_FILES.json), `${JSON.stringify(result, null, 2)}\n`);
  writeFileAtomic(path.join(dir, ABLATION_FILES.markdown), ablationMarkdown(result));
  return result;
}

const pct = (v: Interval) => `${(100 * v.mean).toFixed(1)}% ± ${(100 * v.ci95).toFixed(1)}`;
const points = (v: Interval) =>
  `${v.mean >= 0 ? "+" : "−"}${Math.abs(100 * v.mean).toFixed(1)} ± ${(100 * v.ci95).toFixed(1)}`;

/** The table as Markdown, with the settings it was measured at. */
export function ablationMarkdown(r: AblationResult): string {
  const c = r.config;
  const lines = [
    "| strategy | one-shot network (final T, no pruning) | discrete network (genotype) | change (points) | weights: one-shot → discrete |",
    "|---|---|---|---|---|",
    ...r.rows.map(
      (x) =>
        `| ${x.strategy} | ${pct(x.oneShot)} | ${pct(x.discrete)} | ${points(x.change)} | ${x.params.oneShot.toLocaleString("en-US")} → ${x.params.discrete.toLocaleString("en-US")} |`,
    ),
  ];
  const tasks = r.rows[0]?.tasks ?? 0;
  const setting = `${c.dataset} ${c.ways}-way ${c.shots}-shot, C = ${c.channels}, ${c.cells} cells, ${c.epochs} meta-epochs (${c.warmup} warm-up), meta-batch ${c.metaBatch}, seed ${c.seed}; meta-test on ${tasks} tasks (${c.testSteps} steps, ${c.testArchSteps} adapting the architecture, final T = ${c.testTMin}); mean and 95% CI over the same tasks`;
  return `${lines.join("\n")}\n\n${setting}.\n`;
}
