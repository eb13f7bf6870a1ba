// Pictures of a run: cell diagrams, learning curves, and the HTML report page; and the page that
// compares several runs.
import { join } from "node:path";
import { writeFileAtomic } from "../util/atomicWrite.js";
import { prepareBaseline } from "./baseline.js";
import { renderCell } from "./cellDiagram.js";
import { renderCurves } from "./curves.js";
import { writeFigure } from "./figures.js";
import { buildReportHtml } from "./htmlReport.js";
import { renderParamsHistogram } from "./paramsHistogram.js";
import { pruningCharts } from "./pruningSection.js";
import { RUN_FILES } from "./records.js";
import { readRun } from "./runReader.js";

export { BASELINE_LABEL, type BaselineParts, runLabel, trainCpuSeconds } from "./baseline.js";
export { type CellKind, cellDot, renderCell } from "./cellDiagram.js";
export { COMPARE_FILE, type Comparison, defaultLabels, writeComparison } from "./compare.js";
export { COMPARE_TITLES } from "./compareCharts.js";
export { CURVE_TITLES, curvesSpec, renderCurves } from "./curves.js";
export { PNG_SCALE, writeFigure } from "./figures.js";
export { buildReportHtml, LOADED_TITLE } from "./htmlReport.js";
export { renderParamsHistogram } from "./paramsHistogram.js";
export type { EvalRecord, MetricsRecord, Summary, TrainRecord } from "./records.js";
export { loadRunGenotype, parseMetrics, type RunContents, readRun } from "./runReader.js";
export { svgSize, svgToPng } from "./svg.js";

/**
 * Writes RUN_DIR/report.html and RUN_DIR/figures/{normal,reduce,curves,params,pruning,pruning-tasks}.{svg,png} from what
 * the run directory holds (a run may still be going or have stopped). A run with a Conv4 baseline
 * (RUN_DIR/baseline-conv4) also gets RUN_DIR/baseline-comparison/compare.html and
 * figures/baseline.{svg,png} once both have finished. Throws when RUN_DIR is absent.
 */
export async function writeReport(runDir: string): Promise<{ html: string; figures: string[] }> {
  const run = readRun(runDir);
  const figDir = join(runDir, RUN_FILES.figures);
  const figures: string[] = [];

  let cells: { normal: string; reduce: string } | null = null;
  if (run.genotype) {
    cells = { normal: await renderCell(run.genotype, "normal"), reduce: await renderCell(run.genotype, "reduce") };
    figures.push(...(await writeFigure(figDir, "normal", cells.normal)));
    figures.push(...(await writeFigure(figDir, "reduce", cells.reduce)));
  }
  const curves = await renderCurves(run.records, (run.config?.model ?? "metanas") === "metanas");
  figures.push(...(await writeFigure(figDir, "curves", curves)));

  const values = run.summary?.perTaskParams?.values;
  let histogram: string | null = null;
  if (Array.isArray(values) && values.some((v) => Number.isFinite(v))) {
    histogram = await renderParamsHistogram(values);
    figures.push(...(await writeFigure(figDir, "params", histogram)));
  }

  const label = runDir.replace(/\/+$/, "").split("/").pop() || runDir;
  const pruning = await pruningCharts([{ label, labelHtml: "", summary: run.summary }]);
  if (pruning) {
    figures.push(...(await writeFigure(figDir, "pruning", pruning.bars)));
    figures.push(...(await writeFigure(figDir, "pruning-tasks", pruning.tasks)));
  }

  const baseline = await prepareBaseline(run);
  if (baseline) figures.push(...baseline.figures);

  const html = join(runDir, RUN_FILES.report);
  const parts = { run, cells, curves, histogram, pruning, baseline: baseline?.parts ?? null, generatedAt: new Date() };
  writeFileAtomic(html, buildReportHtml(parts), { makeDir: true });
  return { html, figures };
}
