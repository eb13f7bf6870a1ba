// Tolerant reading of a run directory that may be complete, still going, or stopped.
// Missing files are listed rather than fatal; a metrics line that does not parse (usually the
// last one, half written) is skipped and counted.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseMetricsLines } from "../runs/runDir.js";
import { type Genotype, parseGenotype } from "../searchspace/genotype.js";
import { type EvalRecord, type MetricsRecord, RUN_FILES, type Summary, type TrainRecord } from "./records.js";

export interface RunContents {
  runDir: string;
  config: Record<string, unknown> | null;
  records: MetricsRecord[];
  /** Lines of metrics.jsonl that did not parse or were not train/eval records. */
  skippedLines: number;
  summary: Summary | null;
  genotype: Genotype | null;
  /** Where the genotype came from, e.g. "genotype.json". */
  genotypeSource: string | null;
  /** One line per missing or unreadable file, saying what it means. */
  missing: string[];
}

/** Throws one clear line when the directory itself is absent. */
export function assertRunDir(runDir: string): void {
  if (!existsSync(runDir)) {
    throw new Error(`run directory ${runDir} does not exist: pass the folder a search, train or eval run wrote`);
  }
  if (!statSync(runDir).isDirectory()) {
    throw new Error(`${runDir} is not a directory: pass the run folder, not a file inside it`);
  }
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/** Accepts one parsed metrics line, or null when it is not a usable record. */
export function toRecord(raw: unknown): MetricsRecord | null {
  if (typeof raw !== "object" || raw === null) return null;
  const r = raw as Record<string, unknown>;
  const epoch = num(r.epoch);
  if (epoch === null) return null;
  if (r.kind === "train") {
    const e = (typeof r.entropy === "object" && r.entropy !== null ? r.entropy : {}) as Record<string, unknown>;
    const rec: TrainRecord = {
      kind: "train",
      epoch,
      loss: num(r.loss),
      accuracy: num(r.accuracy),
      temperature: num(r.temperature),
      entropy: {
        normalOps: num(e.normalOps),
        normalPairs: num(e.normalPairs),
        reduceOps: num(e.reduceOps),
        reducePairs: num(e.reducePairs),
      },
      warmup: r.warmup === true,
      seconds: num(r.seconds) ?? 0,
      elapsed: num(r.elapsed) ?? 0,
    };
    const cpuSeconds = num(r.cpuSeconds);
    if (cpuSeconds !== null) rec.cpuSeconds = cpuSeconds;
    return rec;
  }
  if (r.kind === "eval") {
    const rec: EvalRecord = {
      kind: "eval",
      epoch,
      split: typeof r.split === "string" ? r.split : "test",
      accuracy: num(r.accuracy),
      ci95: num(r.ci95),
      tasks: num(r.tasks) ?? 0,
      loss: num(r.loss),
      elapsed: num(r.elapsed) ?? 0,
    };
    return rec;
  }
  return null;
}

/** Parses metrics.jsonl text; JSON has no NaN, so writers may emit null (or the bare token NaN). */
export function parseMetrics(text: string): { records: MetricsRecord[]; skipped: number } {
  const { values, skipped } = parseMetricsLines(text);
  const records = values.map(toRecord).filter((r): r is MetricsRecord => r !== null);
  return { records, skipped: skipped + values.length - records.length };
}

function parseJsonObject(text: string | null): Record<string, unknown> | null {
  if (text === null) return null;
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function tryGenotype(text: string | null, source: string): Genotype | null {
  if (text === null || text.trim() === "") return null;
  try {
    return parseGenotype(text, source);
  } catch {
    return null;
  }
}

/**
 * The genotype of a run: genotype.json, then genotype.txt, then summary.json's genotypeJson and
 * genotype fields. Returns null (with the reason in `missing`) when none is readable.
 */
function readGenotype(
  runDir: string,
  summary: Summary | null,
  missing: string[],
): { genotype: Genotype | null; source: string | null } {
  const candidates: [string, () => string | null][] = [
    [RUN_FILES.genotypeJson, () => readText(join(runDir, RUN_FILES.genotypeJson))],
    [RUN_FILES.genotypeTxt, () => readText(join(runDir, RUN_FILES.genotypeTxt))],
    [
      `${RUN_FILES.summary} (genotypeJson)`,
      () => {
        const json = summary?.genotypeJson;
        return json === undefined ? null : typeof json === "string" ? json : JSON.stringify(json);
      },
    ],
    [`${RUN_FILES.summary} (genotype)`, () => summary?.genotype ?? null],
  ];
  const unreadable: string[] = [];
  for (const [source, read] of candidates) {
    const text = read();
    if (text === null) continue;
    const genotype = tryGenotype(text, source);
    if (genotype) return { genotype, source };
    unreadable.push(source);
  }
  missing.push(
    unreadable.length > 0
      ? `genotype unreadable in ${unreadable.join(", ")}: the file may be half written; rerun the report later`
      : `no ${RUN_FILES.genotypeJson} or ${RUN_FILES.genotypeTxt} yet: the search has not written a genotype`,
  );
  return { genotype: null, source: null };
}

function toSummary(obj: Record<string, unknown> | null): Summary | null {
  if (!obj) return null;
  if (num(obj.accuracy) === null && typeof obj.genotype !== "string") return null;
  return obj as unknown as Summary;
}

/** Reads whatever the run directory holds. Throws only when the directory itself is missing. */
export function readRun(runDir: string): RunContents {
  assertRunDir(runDir);
  const missing: string[] = [];

  const configText = readText(join(runDir, RUN_FILES.config));
  const config = parseJsonObject(configText);
  if (configText === null) missing.push(`no ${RUN_FILES.config}: the run's configuration is unknown`);
  else if (config === null) missing.push(`${RUN_FILES.config} is not a JSON object: it may be half written`);

  const metricsText = readText(join(runDir, RUN_FILES.metrics));
  const { records, skipped } = metricsText === null ? { records: [], skipped: 0 } : parseMetrics(metricsText);
  if (metricsText === null) missing.push(`no ${RUN_FILES.metrics}: no meta-epoch has been logged yet`);

  const summaryText = readText(join(runDir, RUN_FILES.summary));
  const summary = toSummary(parseJsonObject(summaryText));
  if (summaryText === null) missing.push(`no ${RUN_FILES.summary} yet: run still going or stopped`);
  else if (summary === null) missing.push(`${RUN_FILES.summary} is unreadable: it may be half written`);

  // Conv4 has no cells: no genotype is expected, and none missing.
  const { genotype, source } =
    config?.model === "conv4" ? { genotype: null, source: null } : readGenotype(runDir, summary, missing);
  return { runDir, config, records, skippedLines: skipped, summary, genotype, genotypeSource: source, missing };
}

/**
 * The genotype of a run for the `genotype` command: genotype.json, else genotype.txt, else
 * summary.json. Throws one clear line when there is none or it does not parse.
 */
export function loadRunGenotype(runDir: string): { genotype: Genotype; source: string } {
  assertRunDir(runDir);
  for (const file of [RUN_FILES.genotypeJson, RUN_FILES.genotypeTxt]) {
    const text = readText(join(runDir, file));
    if (text === null || text.trim() === "") continue;
    try {
      return { genotype: parseGenotype(text, join(runDir, file)), source: file };
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new Error(`${why}; fix or delete ${file} (the search rewrites it at its next checkpoint)`);
    }
  }
  const run = readRun(runDir);
  if (run.summary && run.genotype) return { genotype: run.genotype, source: run.genotypeSource ?? RUN_FILES.summary };
  throw new Error(
    `no genotype in ${runDir}: neither ${RUN_FILES.genotypeJson} nor ${RUN_FILES.genotypeTxt} exists yet; wait for the search to write one, or pass the folder of a finished run`,
  );
}
