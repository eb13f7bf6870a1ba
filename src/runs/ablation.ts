// The sparsification ablation (the paper's appendix Table 3, here at meta-test): the same search
// (budget, tasks, seed) once per strategy, and per test task the accuracy of the adapted one-shot
// network at its final temperature (no forward pruning) against the discrete network its genotype
// prunes it to, on the same weights. Each strategy is an ordinary run directory under the
// ablation's folder, so a stopped ablation resumes where it stopped.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { meanAndCi95, pairedDifference } from "../evaluation/statistics.js";
import { STRATEGIES, type Strategy } from "../sparsification/strategy.js";
import { writeFileAtomic } from "../util/atomicWrite.js";
import { type ProgressReporter, silentReporter } from "../util/progress.js";
import {
  adjustableKeys,
  ConfigError,
  flagOf,
  keysWithRole,
  type RunConfig,
  type SettingKey,
  validateConfig,
} from "./config.js";
import type { Summary } from "./format.js";
import { RunDirError, readSummary, runDirState } from "./runDir.js";
import { runEvaluation, runOrResume } from "./runner.js";

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
  /** The settings of the searches and of this meta-test. */
  config: RunConfig;
  rows: AblationRow[];
  /** "" for the first meta-test; else which meta-test settings differ (as in the file names). */
  variant: string;
}

export interface AblationOptions {
  strategies?: readonly Strategy[];
  reporter?: ProgressReporter;
  handleSignals?: boolean;
  /** Called with each strategy's run directory when its run has finished (e.g. to write its report). */
  afterRun?: (dir: string) => Promise<void>;
}

/** Settings that only meta-testing reads (and how it runs): the same searches serve any of them. */
const EVAL_KEYS = new Set<string>(adjustableKeys("eval"));
/** Where and how a process runs: not a variant of the meta-test. */
const MACHINE = new Set<string>(keysWithRole("machine"));

/** What the searches share: the configuration without its strategy and meta-test settings. */
function trainingSettings(c: RunConfig): Record<string, unknown> {
  return Object.fromEntries(Object.entries(c).filter(([k]) => k !== "strategy" && !EVAL_KEYS.has(k)));
}

/**
 * The ablation's first configuration (its searches were trained with it), written on the first call.
 * A later call may change only meta-test settings: the searches are then meta-tested again.
 */
function ablationBase(dir: string, base: RunConfig): RunConfig {
  const file = path.join(dir, ABLATION_FILES.config);
  if (existsSync(file)) {
    const saved = validateConfig(JSON.parse(readFileSync(file, "utf8")), file);
    if (JSON.stringify(trainingSettings(saved)) !== JSON.stringify(trainingSettings(base)))
      throw new RunDirError(
        `${dir} holds an ablation with other settings: rerun it with the same ones (only meta-test settings may change), or choose another --out`,
      );
    return saved;
  }
  if (existsSync(dir) && (!statSync(dir).isDirectory() || readdirSync(dir).length > 0))
    throw new RunDirError(`${dir} already holds files that are not an ablation: choose another --out`);
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(file, `${JSON.stringify(base, null, 2)}\n`);
  return base;
}

/** The meta-test settings that differ from the ablation's first configuration, as flag-value pairs. */
function evalChanges(saved: RunConfig, c: RunConfig): [SettingKey, unknown][] {
  return (Object.keys(c) as SettingKey[])
    .filter((k) => EVAL_KEYS.has(k) && JSON.stringify(c[k]) !== JSON.stringify(saved[k]))
    .filter((k) => !MACHINE.has(k))
    .map((k) => [k, c[k]]);
}

/** File-name suffix of a variant of the ablation's meta-test ("" for the first one). */
export function variantSuffix(changes: [SettingKey, unknown][]): string {
  return changes.map(([k, v]) => `${flagOf(k).replace(/^--/, "")}-${String(v)}`).join("-");
}

function row(strategy: Strategy, summary: Summary, run: string): AblationRow {
  const p = summary.pruning;
  if (!p) throw new Error(`the ${strategy} run's summary has no pruning measurement (rerun it with this version)`);
  const oneShot = p.oneShot.values;
  const discrete = p.discrete.values;
  const change = pairedDifference(discrete, oneShot);
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
 * ablation.md. A later call with other meta-test settings (e.g. --test-t-min) meta-tests the same
 * searches again and writes ablation-<variant>.json/.md. Returns null when a run was stopped (Ctrl-C): rerunning the command continues it.
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
  const saved = ablationBase(dir, base);
  const changes = evalChanges(saved, base);
  const suffix = variantSuffix(changes);
  const rows: AblationRow[] = [];
  for (const strategy of strategies) {
    const sub = path.join(dir, strategy);
    const variantFile = path.join(sub, `evaluation-${suffix}.json`);
    const state = runDirState(sub);
    let summary: Summary | null;
    if (suffix && existsSync(variantFile)) {
      reporter.log(`ablation: ${strategy} was meta-tested with these settings earlier (${variantFile}); reusing it`);
      summary = readSummary(sub, path.basename(variantFile));
    } else if (suffix && state === "finished") {
      reporter.log(
        `ablation: meta-testing ${strategy} again with ${changes.map(([k, v]) => `${flagOf(k)} ${v}`).join(" ")}`,
      );
      summary = await runEvaluation(sub, {
        reporter,
        overrides: Object.fromEntries(changes) as Partial<RunConfig>,
        file: path.basename(variantFile),
      });
    } else {
      const doing = { finished: "finished earlier; reusing it", stopped: "resuming it", new: "running it" }[state];
      reporter.log(`ablation: strategy ${strategy} in ${sub}: ${doing}`);
      const options = { reporter, handleSignals: o.handleSignals, afterRun: o.afterRun };
      ({ summary } = await runOrResume(sub, { ...saved, strategy }, options));
    }
    if (!summary) return null;
    if (suffix && !existsSync(variantFile)) {
      // Trained just now with the first settings: meta-test it again with the variant's.
      summary = await runEvaluation(sub, {
        reporter,
        overrides: Object.fromEntries(changes) as Partial<RunConfig>,
        file: path.basename(variantFile),
      });
    }
    if (!summary) return null;
    rows.push(row(strategy, summary, strategy));
  }
  const result: AblationResult = { config: { ...saved, ...Object.fromEntries(changes) }, rows, variant: suffix };
  writeFileAtomic(path.join(dir, ablationFile(ABLATION_FILES.json, suffix)), `${JSON.stringify(result, null, 2)}\n`);
  writeFileAtomic(path.join(dir, ablationFile(ABLATION_FILES.markdown, suffix)), ablationMarkdown(result));
  return result;
}

/** ablation.md, or ablation-<variant>.md for a meta-test variant. */
export function ablationFile(name: string, suffix: string): string {
  if (!suffix) return name;
  const ext = path.extname(name);
  return `${name.slice(0, name.length - ext.length)}-${suffix}${ext}`;
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
