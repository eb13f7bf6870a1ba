// metanas compare: several run directories side by side in one self-contained HTML page, with the
// page's figures as SVG and PNG next to it.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../util/atomicWrite.js";
import { renderCell } from "./cellDiagram.js";
import { type ChartRun, RUN_COLORS, renderCompareCharts } from "./compareCharts.js";
import { buildCompareHtml, type ComparedRun, configDifferences } from "./compareHtml.js";
import { writeFigure } from "./figures.js";
import { pruningCharts } from "./pruningSection.js";
import { RUN_FILES } from "./records.js";
import { readRun } from "./runReader.js";

export const COMPARE_FILE = "compare.html";

export interface CompareOptions {
  /** Names for the runs in the page (default: each directory's last part, made unique). */
  labels?: string[];
}

export interface Comparison {
  html: string;
  figures: string[];
  runs: { label: string; dir: string; accuracy: number | null; ci95: number | null; tasks: number | null }[];
  /** Configuration keys whose value differs between the runs. */
  differences: string[];
}

/** Each directory's last part, with a number added where two would be the same. */
export function defaultLabels(dirs: string[]): string[] {
  const base = dirs.map((d) => d.replace(/\/+$/, "").split("/").pop() || d);
  return base.map((b, i) => (base.filter((x) => x === b).length > 1 ? `${b} (${i + 1})` : b));
}

const fileSafe = (text: string) => text.replace(/[^A-Za-z0-9._-]+/g, "_");

/** Refuses to write the comparison into a run directory (its figures/ would be overwritten). */
function assertNotRunDir(outDir: string): void {
  if ([RUN_FILES.config, RUN_FILES.metrics].some((f) => existsSync(join(outDir, f))))
    throw new Error(`${outDir} is a run directory; the comparison would overwrite its figures: choose another --out`);
}

/** Writes OUT_DIR/compare.html and OUT_DIR/figures/*.svg|png comparing the runs in `dirs`. */
export async function writeComparison(dirs: string[], outDir: string, o: CompareOptions = {}): Promise<Comparison> {
  if (dirs.length < 2) throw new Error(`compare needs at least two run directories, got ${dirs.length}`);
  const labels = o.labels ?? defaultLabels(dirs);
  if (labels.length !== dirs.length)
    throw new Error(`--labels names ${labels.length} run(s) but ${dirs.length} run directories were given`);
  if (new Set(labels).size !== labels.length) throw new Error(`--labels must be different from each other`);
  assertNotRunDir(outDir);
  const contents = dirs.map((d) => readRun(d));
  const figDir = join(outDir, RUN_FILES.figures);
  const figures: string[] = [];

  const runs: ComparedRun[] = [];
  for (const [i, run] of contents.entries()) {
    const label = labels[i]!;
    const cells = run.genotype
      ? { normal: await renderCell(run.genotype, "normal"), reduce: await renderCell(run.genotype, "reduce") }
      : null;
    if (cells) {
      figures.push(...(await writeFigure(figDir, `${fileSafe(label)}-normal`, cells.normal)));
      figures.push(...(await writeFigure(figDir, `${fileSafe(label)}-reduce`, cells.reduce)));
    }
    runs.push({ label, color: RUN_COLORS[i % RUN_COLORS.length]!, run, cells });
  }
  const chartRuns: ChartRun[] = runs.map((r) => ({
    label: r.label,
    color: r.color,
    records: r.run.records,
    searchesArchitecture: (r.run.config?.model ?? "metanas") === "metanas",
    accuracy: r.run.summary?.accuracy ?? null,
    ci95: r.run.summary?.ci95 ?? null,
    totalParams: r.run.summary?.params?.total ?? null,
    perTaskParams: r.run.summary?.perTaskParams?.values ?? [],
  }));
  const charts = await renderCompareCharts(chartRuns);
  figures.push(...(await writeFigure(figDir, "accuracy", charts.final)));
  figures.push(...(await writeFigure(figDir, "curves", charts.curves)));
  figures.push(...(await writeFigure(figDir, "pruned", charts.params)));
  const pruning = await pruningCharts(runs.map((r) => ({ label: r.label, labelHtml: "", summary: r.run.summary })));
  if (pruning) {
    figures.push(...(await writeFigure(figDir, "pruning", pruning.bars)));
    figures.push(...(await writeFigure(figDir, "pruning-tasks", pruning.tasks)));
  }

  const html = join(outDir, COMPARE_FILE);
  writeFileAtomic(html, buildCompareHtml({ runs, ...charts, pruning, generatedAt: new Date() }), { makeDir: true });
  return {
    html,
    figures,
    runs: runs.map((r) => ({
      label: r.label,
      dir: r.run.runDir,
      accuracy: r.run.summary?.accuracy ?? null,
      ci95: r.run.summary?.ci95 ?? null,
      tasks: r.run.summary?.tasks ?? null,
    })),
    differences: configDifferences(runs).differ,
  };
}
