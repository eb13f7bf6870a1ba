// Reading and writing a run directory (its layout and file names: format.ts). Every file but the
// appended metrics is written atomically.
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { type Genotype, toDarts, toJson } from "../searchspace/genotype.js";
import { writeFileAtomic } from "../util/atomicWrite.js";
import { asDiskFull } from "../util/diskFull.js";
import { type RunConfig, validateConfig } from "./config.js";
import { type MetricsRecord, RUN_FILES, type Summary } from "./format.js";

export class RunDirError extends Error {}

export function defaultRunDir(preset: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  return path.join("runs", `${preset}-${stamp}`);
}

/** Where a run directory stands: finished (a summary), stopped (a configuration, no summary), or new. */
export function runDirState(dir: string): "finished" | "stopped" | "new" {
  if (existsSync(path.join(dir, RUN_FILES.summary))) return "finished";
  return existsSync(path.join(dir, RUN_FILES.config)) ? "stopped" : "new";
}

/** Refuses a directory that already holds files (a run to resume, or something else). */
export function assertNewRunDir(dir: string): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory())
      throw new RunDirError(`${dir} exists and is not a directory: choose another --out`);
    if (readdirSync(dir).length > 0) {
      throw new RunDirError(
        `${dir} already holds files: continue that run with --resume ${dir}, or choose another --out`,
      );
    }
  }
}

/** Creates a fresh run directory with its config.json; refuses one that already holds a run. */
export function createRunDir(dir: string, config: RunConfig): void {
  assertNewRunDir(dir);
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(path.join(dir, RUN_FILES.config), `${JSON.stringify(config, null, 2)}\n`);
}

export function readRunConfig(dir: string): RunConfig {
  const file = path.join(dir, RUN_FILES.config);
  if (!existsSync(dir)) throw new RunDirError(`run directory ${dir} does not exist: check the path`);
  if (!existsSync(file)) throw new RunDirError(`${dir} is not a metanas run (no ${RUN_FILES.config})`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    throw new RunDirError(`${file} is not valid JSON: the run directory is damaged`);
  }
  return validateConfig(raw, file);
}

export function appendMetrics(dir: string, record: MetricsRecord): void {
  const file = path.join(dir, RUN_FILES.metrics);
  try {
    appendFileSync(file, `${JSON.stringify(record)}\n`);
  } catch (err) {
    // A partial line may remain: readMetrics skips it, and a resume rewrites the file without it.
    throw asDiskFull(err, file);
  }
}

/**
 * The JSON values of metrics.jsonl's lines. A line that does not parse (a partial last line of a
 * run killed mid-write) is skipped and counted; NaN and Infinity become null.
 */
export function parseMetricsLines(text: string): { values: unknown[]; skipped: number } {
  const values: unknown[] = [];
  let skipped = 0;
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      values.push(JSON.parse(line.replace(/:\s*-?(NaN|Infinity)\b/g, ": null")));
    } catch {
      skipped++;
    }
  }
  return { values, skipped };
}

/** Records of metrics.jsonl (none when there is no file yet). */
export function readMetrics(dir: string): MetricsRecord[] {
  const file = path.join(dir, RUN_FILES.metrics);
  if (!existsSync(file)) return [];
  return parseMetricsLines(readFileSync(file, "utf8")).values as MetricsRecord[];
}

/** Drops records past the checkpoint's epoch, so a resumed run's metrics continue without duplicates. */
export function truncateMetrics(dir: string, epoch: number): void {
  const kept = readMetrics(dir).filter((r) => r.epoch <= epoch && !(r.kind === "eval" && r.split === "test"));
  writeFileAtomic(path.join(dir, RUN_FILES.metrics), kept.map((r) => `${JSON.stringify(r)}\n`).join(""));
}

/** The latest genotype, and a copy per evaluation epoch. */
export function writeGenotype(dir: string, genotype: Genotype, epoch?: number): void {
  const json = `${JSON.stringify(JSON.parse(toJson(genotype)), null, 1)}\n`;
  const darts = `${toDarts(genotype)}\n`;
  writeFileAtomic(path.join(dir, RUN_FILES.genotypeJson), json);
  writeFileAtomic(path.join(dir, RUN_FILES.genotypeTxt), darts);
  if (epoch !== undefined) {
    const sub = path.join(dir, RUN_FILES.genotypes);
    mkdirSync(sub, { recursive: true });
    const name = `epoch-${String(epoch).padStart(6, "0")}`;
    writeFileAtomic(path.join(sub, `${name}.json`), json);
    writeFileAtomic(path.join(sub, `${name}.txt`), darts);
  }
}

export function writeSummary(dir: string, summary: Summary, file: string = RUN_FILES.summary): void {
  writeFileAtomic(path.join(dir, file), `${JSON.stringify(summary, null, 2)}\n`);
}

/** A finished run's summary (or another summary file of it, e.g. a later evaluation's). */
export function readSummary(dir: string, file: string = RUN_FILES.summary): Summary {
  return JSON.parse(readFileSync(path.join(dir, file), "utf8")) as Summary;
}
