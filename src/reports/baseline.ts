// A run against its Conv4 baseline (--baseline conv4, meta-trained on the same tasks in
// RUN_DIR/baseline-conv4): the comparison page RUN_DIR/baseline-comparison/compare.html, and the
// report's section "Against Conv4 (same tasks)".
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BASELINE_FILES } from "../runs/format.js";
import { COMPARE_FILE, writeComparison } from "./compare.js";
import { type ChartRun, finalAccuracySpec, RUN_COLORS } from "./compareCharts.js";
import { escapeHtml } from "./escape.js";
import { writeFigure } from "./figures.js";
import { fmtAcc, fmtInt, fmtProtocol, fmtSeconds, row } from "./htmlParts.js";
import { RUN_FILES } from "./records.js";
import { type RunContents, readRun } from "./runReader.js";
import { inlineSvg } from "./svg.js";
import { renderVegaLite } from "./vegaRender.js";

export const BASELINE_LABEL = "Conv4";

/** What the report shows of the baseline. */
export interface BaselineParts {
  /** The run's name in the section and the comparison page. */
  label: string;
  /** The baseline's run directory as read, or null when it has not started. */
  baseline: RunContents | null;
  /** Both meta-test accuracies with their 95% intervals (SVG), once both runs have finished. */
  figure: string | null;
  /** The comparison page, relative to the run directory. */
  comparePage: string | null;
}

/** The run's name next to Conv4: a search is MetaNAS, a --genotype network a cell network. */
export function runLabel(config: Record<string, unknown> | null): string {
  return config?.model === "fixed" ? "Cell network" : "MetaNAS";
}

/** CPU seconds of meta-training (metrics.jsonl's train records), or null when none were logged. */
export function trainCpuSeconds(run: RunContents): number | null {
  const values = run.records.flatMap((r) => (r.kind === "train" && r.cpuSeconds !== undefined ? [r.cpuSeconds] : []));
  return values.length === 0 ? null : values.reduce((a, b) => a + b, 0);
}

function chartRun(run: RunContents, label: string, color: string): ChartRun {
  return {
    label,
    color,
    records: run.records,
    searchesArchitecture: (run.config?.model ?? "metanas") === "metanas",
    accuracy: run.summary?.accuracy ?? null,
    ci95: run.summary?.ci95 ?? null,
    totalParams: run.summary?.params?.total ?? null,
    perTaskParams: run.summary?.perTaskParams?.values ?? [],
  };
}

/**
 * For a run with a baseline (asked for in its configuration, or present): once both have finished,
 * writes the comparison page and RUN_DIR/figures/baseline.svg|png. Null for a run without one.
 */
export async function prepareBaseline(run: RunContents): Promise<{ parts: BaselineParts; figures: string[] } | null> {
  const dir = join(run.runDir, BASELINE_FILES.conv4);
  if (!existsSync(dir) && run.config?.baseline !== "conv4") return null;
  const baseline = existsSync(dir) ? readRun(dir) : null;
  const label = runLabel(run.config);
  const parts: BaselineParts = { label, baseline, figure: null, comparePage: null };
  const figures: string[] = [];
  if (baseline?.summary && run.summary) {
    const out = join(run.runDir, BASELINE_FILES.comparison);
    const cmp = await writeComparison([run.runDir, dir], out, { labels: [label, BASELINE_LABEL] });
    figures.push(...cmp.figures);
    parts.comparePage = `${BASELINE_FILES.comparison}/${COMPARE_FILE}`;
    const runs = [chartRun(run, label, RUN_COLORS[0]!), chartRun(baseline, BASELINE_LABEL, RUN_COLORS[1]!)];
    parts.figure = await renderVegaLite(finalAccuracySpec(runs));
    figures.push(...(await writeFigure(join(run.runDir, RUN_FILES.figures), "baseline", parts.figure)));
  }
  return { parts, figures };
}

/** The weights a network uses: per-task pruned median of the whole for a search, the whole otherwise. */
function weights(run: RunContents): string {
  const summary = run.summary;
  const total = summary?.params?.total;
  const median = summary?.perTaskParams?.median;
  if (run.config?.model === "metanas" && typeof median === "number")
    return `${fmtInt(median)} per task (median, pruned) of ${fmtInt(total)}`;
  return fmtInt(total);
}

/** How the baseline's meta-iterations were set, from RUN_DIR/baseline-budget.json. */
function budgetText(runDir: string, epochs: unknown): string {
  const file = join(runDir, BASELINE_FILES.budget);
  const b = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Record<string, number | string>) : null;
  if (b?.budget === "cpu")
    return `Budget: ${fmtInt(Number(b.epochs))} meta-iterations, as many as the run's ${fmtSeconds(Number(b.runCpuSeconds))} of meta-training CPU time buy at Conv4's measured ${Number(b.cpuPerIteration).toFixed(3)} CPU seconds per meta-iteration.`;
  return `Budget: ${fmtInt(Number(epochs))} meta-iterations${b ? ", as asked (--baseline-budget)" : ""}.`;
}

/** The section "Against Conv4 (same tasks)". */
export function baselineSection(run: RunContents, p: BaselineParts): string {
  const out: string[] = ['<h2 id="baseline">Against Conv4 (same tasks)</h2>'];
  const b = p.baseline;
  const dir = join(run.runDir, BASELINE_FILES.conv4);
  if (!b) {
    out.push(
      `<p class="missing">The Conv4 baseline has not started: it is meta-trained in <code>${escapeHtml(dir)}</code> once this run has been meta-tested.</p>`,
    );
    return out.join("\n");
  }
  if (!b.summary) {
    out.push(
      `<p class="missing">The Conv4 baseline in <code>${escapeHtml(dir)}</code> has not finished: continue it with <code>metanas train --resume ${escapeHtml(dir)}</code>, then <code>metanas report ${escapeHtml(run.runDir)}</code>.</p>`,
    );
    return out.join("\n");
  }
  const c = b.config ?? {};
  out.push(
    `<p>Conv4 meta-trained as REPTILE's authors ran it (the hyperparameters of the preset <code>${escapeHtml(String(c.preset ?? "?"))}</code>: ${escapeHtml(String(c.conv4Channels))} channels, ${escapeHtml(String(c.conv4Downsampling ?? "maxpool"))} downsampling, outer step ${escapeHtml(String(c.metaSchedule ?? "constant"))}), on the same data and seed (${escapeHtml(String(c.seed))}), and meta-tested on the same ${escapeHtml(fmtInt(b.summary.tasks))} tasks (its run directory: <code>${escapeHtml(dir)}</code>). ${escapeHtml(budgetText(run.runDir, c.epochs))}</p>`,
    '<table id="baseline-table">',
    row(
      ["", "meta-test accuracy (± 95% CI)", "protocol", "tasks", "wall time", "meta-training CPU time", "weights"],
      true,
    ),
    ...[
      { label: p.label, x: run },
      { label: BASELINE_LABEL, x: b },
    ].map(({ label, x }) =>
      row([
        escapeHtml(label),
        `<b>${escapeHtml(fmtAcc(x.summary?.accuracy, x.summary?.ci95))}</b>`,
        escapeHtml(fmtProtocol(x.summary)),
        escapeHtml(fmtInt(x.summary?.tasks)),
        escapeHtml(fmtSeconds(x.summary?.wallSeconds)),
        escapeHtml(fmtSeconds(trainCpuSeconds(x))),
        escapeHtml(weights(x)),
      ]),
    ),
    "</table>",
  );
  if (run.summary && Number.isFinite(run.summary.accuracy) && Number.isFinite(b.summary.accuracy)) {
    const d = 100 * (run.summary.accuracy - b.summary.accuracy);
    out.push(
      `<p id="baseline-difference">${escapeHtml(p.label)} − Conv4: <b>${d >= 0 ? "+" : "−"}${Math.abs(d).toFixed(2)} points</b> on the same tasks.</p>`,
    );
  }
  if (p.figure) out.push(`<div class="figure" id="baseline-accuracy">${inlineSvg(p.figure, "baseline")}</div>`);
  if (p.comparePage)
    out.push(
      `<p>Curves, settings and sizes side by side: <a id="baseline-compare" href="${escapeHtml(p.comparePage)}">${escapeHtml(p.comparePage)}</a>.</p>`,
    );
  return out.join("\n");
}
