// The self-contained HTML page that compares runs side by side: final accuracy, configuration
// differences (highlighted), overlaid curves, each search's cells, and per-task pruned sizes.
// The same rules as the run report: every string from a run is escaped, every SVG is inlined,
// and a Content-Security-Policy forbids every load.
import { flagOf, isSettingKey, SETTING_KEYS } from "../runs/config.js";
import { toDarts } from "../searchspace/genotype.js";
import { escapeHtml } from "./escape.js";
import { fmtAcc, fmtInt, fmtProtocol, fmtSeconds, page, row } from "./htmlParts.js";
import { pruningSection } from "./pruningSection.js";
import type { RunContents } from "./runReader.js";
import { inlineSvg } from "./svg.js";

export interface ComparedRun {
  label: string;
  color: string;
  run: RunContents;
  /** The run's cells drawn as SVG, when it has a genotype. */
  cells: { normal: string; reduce: string } | null;
}

export interface CompareParts {
  runs: ComparedRun[];
  curves: string;
  final: string;
  params: string;
  /** The pruning charts, when at least one run is a search with a pruning measurement. */
  pruning: { bars: string; tasks: string } | null;
  generatedAt: Date;
}

/** A configuration value as one short line of text. */
function show(v: unknown): string {
  if (v === undefined) return "—";
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

/** The keys of all configurations: the schema's order first, then any others alphabetically. */
function configKeys(runs: ComparedRun[]): string[] {
  const all = new Set(runs.flatMap((r) => Object.keys(r.run.config ?? {})));
  const known = ["preset", ...SETTING_KEYS].filter((k) => all.has(k));
  return [...known, ...[...all].filter((k) => !known.includes(k)).sort()];
}

/** Keys whose value is not the same in every run, and those that are. */
export function configDifferences(runs: ComparedRun[]): { differ: string[]; same: string[] } {
  const differ: string[] = [];
  const same: string[] = [];
  for (const key of configKeys(runs)) {
    const values = runs.map((r) => show(r.run.config?.[key]));
    (values.every((v) => v === values[0]) ? same : differ).push(key);
  }
  return { differ, same };
}

const swatch = (color: string) => `<span class="swatch" style="background:${escapeHtml(color)}"></span>`;
const name = (r: ComparedRun) => `${swatch(r.color)}${escapeHtml(r.label)}`;
const keyCell = (key: string) =>
  isSettingKey(key)
    ? `<code>${escapeHtml(key)}</code> <small>${escapeHtml(flagOf(key))}</small>`
    : `<code>${escapeHtml(key)}</code>`;

function runsSection(runs: ComparedRun[]): string {
  return [
    '<table id="runs">',
    row(["run", "directory", "model", "dataset", "task", "state"], true),
    ...runs.map((r) => {
      const c = r.run.config ?? {};
      const task = c.ways === undefined ? "n/a" : `${show(c.ways)}-way ${show(c.shots)}-shot`;
      const state = r.run.summary ? "finished" : "no summary.json (going or stopped)";
      return row([
        name(r),
        `<code>${escapeHtml(r.run.runDir)}</code>`,
        escapeHtml(show(c.model)),
        escapeHtml(show(c.dataset)),
        escapeHtml(task),
        escapeHtml(state),
      ]);
    }),
    "</table>",
  ].join("\n");
}

function accuracySection(parts: CompareParts): string {
  const best = Math.max(...parts.runs.map((r) => r.run.summary?.accuracy ?? Number.NEGATIVE_INFINITY));
  return [
    "<h2>Final accuracy</h2>",
    '<table id="accuracy">',
    row(
      [
        "run",
        "meta-test accuracy (± 95% CI)",
        "protocol",
        "tasks",
        "meta-epochs",
        "wall time",
        "weights",
        "median pruned",
      ],
      true,
    ),
    ...parts.runs.map((r) => {
      const summary = r.run.summary;
      const acc = escapeHtml(fmtAcc(summary?.accuracy, summary?.ci95));
      return row([
        name(r),
        summary && summary.accuracy === best ? `<b>${acc}</b>` : acc,
        escapeHtml(fmtProtocol(summary)),
        escapeHtml(fmtInt(summary?.tasks)),
        escapeHtml(fmtInt(summary?.epochs)),
        escapeHtml(fmtSeconds(summary?.wallSeconds)),
        escapeHtml(fmtInt(summary?.params?.total)),
        escapeHtml(fmtInt(summary?.params?.pruned)),
      ]);
    }),
    "</table>",
    `<div class="figure" id="final-accuracy">${inlineSvg(parts.final, "final")}</div>`,
  ].join("\n");
}

function configSection(runs: ComparedRun[]): string {
  const { differ, same } = configDifferences(runs);
  const header = row(["setting", ...runs.map(name)], true);
  const out = ["<h2>Configuration differences</h2>"];
  if (differ.length === 0) out.push("<p>The runs have the same configuration.</p>");
  else {
    out.push(
      `<p>${differ.length} setting(s) differ; highlighted: values not equal to the first run's.</p>`,
      '<table id="config-diff">',
      header,
      ...differ.map((key) => {
        const first = show(runs[0]!.run.config?.[key]);
        const cells = runs.map((r, i) => {
          const v = show(r.run.config?.[key]);
          const cls = i > 0 && v !== first ? ' class="diff genotype"' : ' class="genotype"';
          return `<td${cls}>${escapeHtml(v)}</td>`;
        });
        return `<tr><td>${keyCell(key)}</td>${cells.join("")}</tr>`;
      }),
      "</table>",
    );
  }
  if (same.length > 0) {
    out.push(
      `<details id="config-same"><summary>${same.length} setting(s) the same in every run</summary><table>`,
      ...same.map((key) => row([keyCell(key), escapeHtml(show(runs[0]!.run.config?.[key]))])),
      "</table></details>",
    );
  }
  return out.join("\n");
}

function cellsSection(runs: ComparedRun[]): string {
  const out = ["<h2>Cells</h2>"];
  runs.forEach((r, i) => {
    out.push(`<h3>${name(r)}</h3>`);
    if (!r.run.genotype || !r.cells) {
      const model = show(r.run.config?.model);
      out.push(
        `<p>No cell: ${model === "conv4" ? "conv4 is a fixed hand-designed network" : "no genotype written yet"}.</p>`,
      );
      return;
    }
    out.push(
      `<pre class="genotype">${escapeHtml(toDarts(r.run.genotype))}</pre>`,
      '<div class="cells">',
      `<div class="figure" id="cells-${i}-normal">${inlineSvg(r.cells.normal, `run${i}-normal`)}</div>`,
      `<div class="figure" id="cells-${i}-reduce">${inlineSvg(r.cells.reduce, `run${i}-reduce`)}</div>`,
      "</div>",
    );
  });
  return out.join("\n");
}

function prunedSection(parts: CompareParts): string {
  const pct = (v: number | undefined, total: number | undefined) =>
    v !== undefined && total ? `${((100 * v) / total).toFixed(1)}%` : "n/a";
  return [
    "<h2>Per-task pruned sizes</h2>",
    "<p>Weights each meta-test task's network keeps after forward pruning at the meta-test threshold.</p>",
    '<table id="pruned">',
    row(["run", "min", "median", "mean", "max", "whole network", "median kept"], true),
    ...parts.runs.map((r) => {
      const p = r.run.summary?.perTaskParams;
      const total = r.run.summary?.params?.total;
      return row([
        name(r),
        ...[p?.min, p?.median, p?.mean, p?.max, total].map((v) => `<span class="num">${escapeHtml(fmtInt(v))}</span>`),
        escapeHtml(pct(p?.median, total)),
      ]);
    }),
    "</table>",
    `<div class="figure" id="pruned-sizes">${inlineSvg(parts.params, "params")}</div>`,
  ].join("\n");
}

function missingSection(runs: ComparedRun[]): string {
  const notes = runs.flatMap((r) => [
    ...r.run.missing.map((m) => `${r.label}: ${m}`),
    ...(r.run.skippedLines > 0 ? [`${r.label}: ${r.run.skippedLines} line(s) of metrics.jsonl skipped`] : []),
  ]);
  if (notes.length === 0) return "";
  return `<div class="missing" id="missing"><b>Incomplete runs.</b><ul>${notes.map((n) => `<li>${escapeHtml(n)}</li>`).join("")}</ul></div>`;
}

export function buildCompareHtml(parts: CompareParts): string {
  const { runs } = parts;
  return page(
    `metanas comparison: ${runs.map((r) => r.label).join(" vs ")}`,
    `<p>${runs.length} runs compared; page written ${escapeHtml(parts.generatedAt.toISOString())}.</p>
${runsSection(runs)}
${missingSection(runs)}
${accuracySection(parts)}
${configSection(runs)}
<h2>Learning curves</h2>
<p>One colour per run; solid lines: meta-training, dashed: validation, dotted: meta-test (with their 95% bands).</p>
<div class="figure" id="curves">${inlineSvg(parts.curves, "curves")}</div>
${cellsSection(runs)}
${prunedSection(parts)}
${pruningSection(
  runs.map((r) => ({ label: r.label, labelHtml: name(r), summary: r.run.summary })),
  parts.pruning,
)}`,
  );
}
