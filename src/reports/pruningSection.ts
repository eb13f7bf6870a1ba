// The "Pruning to the genotype" section of the run report and of the compare page: for every
// search, the adapted one-shot network against the discrete network of each task's genotype on the
// same weights (accuracy, the paired change per task), the sizes, and how decided the adapted
// architecture weights are (their entropy at the final temperature).
import { pairedDifference } from "../evaluation/statistics.js";
import { NUM_OPS } from "../searchspace/primitives.js";
import { escapeHtml } from "./escape.js";
import { fmt, fmtAcc, fmtInt, row } from "./htmlParts.js";
import { type PruningBars, type PruningTasks, renderPruningBars, renderPruningTasks } from "./pruningChart.js";
import type { Summary } from "./records.js";
import { inlineSvg } from "./svg.js";

export interface PruningGroup {
  /** The group's name as HTML (a run's swatch and label). */
  labelHtml: string;
  label: string;
  summary: Summary | null;
}

const UNIFORM = Math.log(NUM_OPS).toFixed(3);

type Measured = PruningGroup & { pruning: NonNullable<Summary["pruning"]> };

const measured = (groups: PruningGroup[]): Measured[] =>
  groups.flatMap((g) => (g.summary?.pruning ? [{ ...g, pruning: g.summary.pruning }] : []));

/** Discrete minus one-shot accuracy, per task, as mean and 95% half-width. */
export function pruningChange(p: NonNullable<Summary["pruning"]>): { mean: number; ci95: number } {
  return pairedDifference(p.discrete.values, p.oneShot.values);
}

const points = (v: { mean: number; ci95: number }) =>
  `${v.mean >= 0 ? "+" : ""}${(100 * v.mean).toFixed(1)} ± ${(100 * v.ci95).toFixed(1)}`;

function tableRow(g: Measured): string {
  const { pruning: p, summary } = g;
  const e = p.entropy;
  return row([
    g.labelHtml,
    escapeHtml(fmtAcc(p.oneShot.accuracy, p.oneShot.ci95)),
    escapeHtml(fmtAcc(p.discrete.accuracy, p.discrete.ci95)),
    escapeHtml(points(pruningChange(p))),
    escapeHtml(fmtInt(summary?.params?.total)),
    escapeHtml(fmtInt(summary?.perTaskParams?.median)),
    escapeHtml(fmtInt(p.discreteParams.median)),
    escapeHtml(e ? `${fmt(e.normalOps, 3)} / ${fmt(e.reduceOps, 3)}` : "n/a"),
  ]);
}

/** The groups' bars and per-task points for the charts (only groups with a pruning measurement). */
function pruningChartData(groups: PruningGroup[]): { bars: PruningBars[]; tasks: PruningTasks[] } {
  const m = measured(groups);
  return {
    bars: m.map((g) => ({
      label: g.label,
      oneShot: { mean: g.pruning.oneShot.accuracy, ci95: g.pruning.oneShot.ci95 },
      discrete: { mean: g.pruning.discrete.accuracy, ci95: g.pruning.discrete.ci95 },
    })),
    tasks: m.map((g) => ({ label: g.label, oneShot: g.pruning.oneShot.values, discrete: g.pruning.discrete.values })),
  };
}

/** The pruning charts of the groups with a pruning measurement, or null when none has one. */
export async function pruningCharts(groups: PruningGroup[]): Promise<{ bars: string; tasks: string } | null> {
  const data = pruningChartData(groups);
  if (data.bars.length === 0) return null;
  return { bars: await renderPruningBars(data.bars, "run"), tasks: await renderPruningTasks(data.tasks) };
}

/** The section's HTML; `charts` are the rendered SVGs of pruningChartData (null when none). */
export function pruningSection(groups: PruningGroup[], charts: { bars: string; tasks: string } | null): string {
  const m = measured(groups);
  const out = ["<h2>Pruning to the genotype</h2>"];
  if (m.length === 0) {
    out.push('<p class="missing">No pruning measurement: no finished search, or a summary from an older version.</p>');
    return out.join("\n");
  }
  out.push(
    `<p>Each meta-test task's adapted one-shot network at the final temperature with every op and input computed, against the discrete network of the task's genotype (top-2 inputs, strongest op) on the same weights, on the same query images. Change: discrete minus one-shot, per task, in points. Entropy: the adapted op weights' mean entropy per edge (nats; ${UNIFORM} is uniform over the ${NUM_OPS} ops), normal / reduction cells.</p>`,
    '<table id="pruning">',
    row(
      [
        "run",
        "one-shot (± 95% CI)",
        "discrete (± 95% CI)",
        "change (points)",
        "weights",
        "median after forward pruning",
        "median discrete",
        "op entropy",
      ],
      true,
    ),
    ...m.map(tableRow),
    "</table>",
  );
  if (charts)
    out.push(
      `<div class="figure" id="pruning-bars">${inlineSvg(charts.bars, "pruning-bars")}</div>`,
      `<div class="figure" id="pruning-tasks">${inlineSvg(charts.tasks, "pruning-tasks")}</div>`,
    );
  return out.join("\n");
}
