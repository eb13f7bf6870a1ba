// The self-contained HTML report page of a run: configuration, final accuracy, cells, curves,
// and the meta-test statistics of the task-specific architectures. No network is needed to view
// it: SVGs are inlined, CSS and the one script are inline, a Content-Security-Policy forbids loads.
import { toDarts } from "../searchspace/genotype.js";
import { type BaselineParts, baselineSection } from "./baseline.js";
import { escapeHtml } from "./escape.js";
import { fmt, fmtAcc, fmtInt, fmtProtocol, fmtSeconds, page, row } from "./htmlParts.js";
import { pruningSection } from "./pruningSection.js";
import type { RunContents } from "./runReader.js";
import { inlineSvg } from "./svg.js";

export { LOADED_TITLE } from "./htmlParts.js";

export interface ReportParts {
  run: RunContents;
  cells: { normal: string; reduce: string } | null;
  curves: string;
  histogram: string | null;
  /** The pruning charts (one-shot against discrete accuracy), for searches with a pruning measurement. */
  pruning?: { bars: string; tasks: string } | null;
  /** The run against its Conv4 baseline (--baseline conv4); absent or null without one. */
  baseline?: BaselineParts | null;
  generatedAt: Date;
}

/** The summary's table (accuracy, protocol, tasks, meta-epochs, time, parameters), or a note that there is none yet. */
function summaryTable(summary: RunContents["summary"]): string[] {
  if (!summary) {
    return ['<p class="missing">No summary yet: run still going or stopped. The latest logged values follow.</p>'];
  }
  const headings = [
    "meta-test accuracy (± 95% CI)",
    "protocol",
    "tasks",
    "meta-epochs",
    "wall time",
    "parameters",
    "pruned parameters",
  ];
  return [
    "<table>",
    row(headings, true),
    row([
      `<b>${escapeHtml(fmtAcc(summary.accuracy, summary.ci95))}</b>`,
      escapeHtml(fmtProtocol(summary)),
      escapeHtml(fmtInt(summary.tasks)),
      escapeHtml(fmtInt(summary.epochs)),
      escapeHtml(fmtSeconds(summary.wallSeconds)),
      escapeHtml(fmtInt(summary.params?.total)),
      escapeHtml(fmtInt(summary.params?.pruned)),
    ]),
    "</table>",
  ];
}

/** The latest meta-train record and the last ten evaluations, as a table (none without records). */
function latestRecordsTable(run: RunContents): string[] {
  const evals = run.records.filter((r) => r.kind === "eval");
  const trains = run.records.filter((r) => r.kind === "train");
  const lastTrain = trains[trains.length - 1];
  if (evals.length === 0 && !lastTrain) return [];
  const out: string[] = ["<table>", row(["record", "meta-epoch", "accuracy", "tasks", "loss"], true)];
  if (lastTrain) {
    out.push(
      row([
        "latest meta-train (query)",
        escapeHtml(fmtInt(lastTrain.epoch)),
        escapeHtml(fmtAcc(lastTrain.accuracy)),
        "",
        escapeHtml(fmt(lastTrain.loss)),
      ]),
    );
  }
  for (const e of evals.slice(-10)) {
    out.push(
      row([
        escapeHtml(`meta-${e.split}`),
        escapeHtml(fmtInt(e.epoch)),
        escapeHtml(fmtAcc(e.accuracy, e.ci95)),
        escapeHtml(fmtInt(e.tasks)),
        escapeHtml(fmt(e.loss)),
      ]),
    );
  }
  out.push("</table>");
  return out;
}

/** The report's "Final accuracy" section: the summary, then the latest logged values. */
function accuracySection(run: RunContents): string {
  return ["<h2>Final accuracy</h2>", ...summaryTable(run.summary), ...latestRecordsTable(run)].join("\n");
}

/** The report's "Cells" section: the genotype in DARTS notation and the two cell drawings. */
function cellsSection(parts: ReportParts): string {
  const { run, cells } = parts;
  const out: string[] = ["<h2>Cells</h2>"];
  if (!run.genotype || !cells) {
    out.push('<p class="missing">No genotype yet: the search has not written one.</p>');
    return out.join("\n");
  }
  out.push(
    `<p>Genotype (from ${escapeHtml(run.genotypeSource ?? "?")}):</p>`,
    `<pre class="genotype" id="genotype">${escapeHtml(toDarts(run.genotype))}</pre>`,
    '<div class="cells">',
    `<div class="figure" id="cell-normal">${inlineSvg(cells.normal, "normal")}</div>`,
    `<div class="figure" id="cell-reduce">${inlineSvg(cells.reduce, "reduce")}</div>`,
    "</div>",
  );
  return out.join("\n");
}

/** The report's meta-test section: pruned parameters per task, their histogram, the most frequent task-specific genotypes. */
function metaTestSection(parts: ReportParts): string {
  const summary = parts.run.summary;
  const out: string[] = ["<h2>Meta-testing: task-specific architectures</h2>"];
  if (!summary) {
    out.push('<p class="missing">No summary yet: run still going or stopped.</p>');
    return out.join("\n");
  }
  const p = summary.perTaskParams;
  if (p) {
    out.push(
      "<table>",
      row(["pruned parameters per task", "min", "median", "mean", "max"], true),
      row(["", fmtInt(p.min), fmtInt(p.median), fmtInt(p.mean), fmtInt(p.max)].map(escapeHtml)),
      "</table>",
    );
  }
  if (parts.histogram)
    out.push(`<div class="figure" id="params-histogram">${inlineSvg(parts.histogram, "hist")}</div>`);
  else out.push("<p>No per-task parameter counts in summary.json.</p>");
  const top = summary.topGenotypes ?? [];
  if (top.length > 0) {
    const total = top.reduce((a, entry) => a + (Number.isFinite(entry.count) ? entry.count : 0), 0);
    const tasks = Number.isFinite(summary.tasks) && summary.tasks > 0 ? summary.tasks : total;
    out.push(
      "<h3>Most frequent task-specific genotypes</h3>",
      '<table id="top-genotypes">',
      row(["#", "tasks", "share", "genotype"], true),
      ...top.map((entry, i) =>
        row([
          String(i + 1),
          escapeHtml(fmtInt(entry.count)),
          escapeHtml(tasks > 0 ? `${((100 * entry.count) / tasks).toFixed(1)}%` : "n/a"),
          `<code class="genotype">${escapeHtml(String(entry.genotype))}</code>`,
        ]),
      ),
      "</table>",
    );
  } else {
    out.push("<p>No task-specific genotypes in summary.json.</p>");
  }
  return out.join("\n");
}

/** The whole page. Every string from the run is escaped; every SVG is inlined. */
export function buildReportHtml(parts: ReportParts): string {
  const { run } = parts;
  const name = run.runDir.replace(/\/+$/, "").split("/").pop() || run.runDir;
  const missing =
    run.missing.length > 0 || run.skippedLines > 0
      ? `<div class="missing" id="missing"><b>Incomplete run.</b><ul>${[
          ...run.missing,
          ...(run.skippedLines > 0
            ? [`${run.skippedLines} line(s) of metrics.jsonl skipped (unparsable or partial, e.g. still being written)`]
            : []),
        ]
          .map((m) => `<li>${escapeHtml(m)}</li>`)
          .join("")}</ul></div>`
      : "";
  const trains = run.records.filter((r) => r.kind === "train").length;
  const evals = run.records.length - trains;
  return page(
    `metanas report: ${name}`,
    `<p>Run directory <code>${escapeHtml(run.runDir)}</code>; report written ${escapeHtml(parts.generatedAt.toISOString())};
${trains} meta-training and ${evals} evaluation records.</p>
${missing}
${accuracySection(run)}
${parts.baseline ? baselineSection(run, parts.baseline) : ""}
${cellsSection(parts)}
<h2>Learning curves</h2>
<div class="figure" id="curves">${inlineSvg(parts.curves, "curves")}</div>
${metaTestSection(parts)}
${run.summary?.pruning ? pruningSection([{ label: name, labelHtml: escapeHtml(name), summary: run.summary }], parts.pruning ?? null) : ""}
<h2>Configuration</h2>
${run.config ? `<pre id="config">${escapeHtml(JSON.stringify(run.config, null, 2))}</pre>` : '<p class="missing">No config.json.</p>'}`,
  );
}
