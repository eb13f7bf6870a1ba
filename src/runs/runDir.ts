// Reading and writing a run directory (layout in format.ts). Every file is written atomically.
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { type Genotype, toDarts, toJson } from "../searchspace/genotype.js";
import { writeFileAtomic } from "../util/atomicWrite.js";
import { asDiskFull } from "../util/diskFull.js";
import { type RunConfig, validateConfig } from "./config.js";
import type { MetricsRecord, Summary } from "./format.js";

export class RunDirError extends Error {}

export function defaultRunDir(preset: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  return path.join("runs", `${preset}-${stamp}`);
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
  writeFileAtomic(path.join(dir, "config.json"), `${JSON.stringify(config, null, 2)}\n`);
}

export function readRunConfig(dir: string): RunConfig {
  const file = path.join(dir, "config.json");
  if (!existsSync(dir)) throw new RunDirError(`run directory ${dir} does not exist: check the path`);
  if (!existsSync(file)) throw new RunDirError(`${dir} is not a metanas run (no config.json)`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    throw new RunDirError(`${file} is not valid JSON: the run directory is damaged`);
  }
  return validateConfig(raw, file);
}

export function appendMetrics(dir: string, record: MetricsRecord): void {
  const file = path.join(dir, "metrics.jsonl");
  try {
    appendFileSync(file, `${JSON.stringify(record)}\n`);
  } catch (err) {
    // A partial line may remain: readMetrics skips it, and a resume rewrites the file without it.
    throw asDiskFull(err, file);
  }
}

/** Records of metrics.jsonl; a partial last line (a run killed mid-write) is skipped. */
export function readMetrics(dir: string): MetricsRecord[] {
  const file = path.join(dir, "metrics.jsonl");
  if (!existsSync(file)) return [];
  const out: MetricsRecord[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as MetricsRecord);
    } catch {
      // partial line
    }
  }
  return out;
}

/** Drops records past the checkpoint's epoch, so a resumed run's metrics continue without duplicates. */
export function truncateMetrics(dir: string, epoch: number): void {
  const kept = readMetrics(dir).filter((r) => r.epoch <= epoch && !(r.kind === "eval" && r.split === "test"));
  writeFileAtomic(path.join(dir, "metrics.jsonl"), kept.map((r) => `${JSON.stringify(r)}\n`).join(""));
}

/** The latest genotype, and a copy per evaluation epoch. */
export function writeGenotype(dir: string, genotype: Genotype, epoch?: number): void {
  const json = `${JSON.stringify(JSON.parse(toJson(genotype)), null, 1)}\n`;
  const darts = `${toDarts(genotype)}\n`;
  writeFileAtomic(path.join(dir, "genotype.json"), json);
  writeFileAtomic(path.join(dir, "genotype.txt"), darts);
  if (epoch !== undefined) {
    const sub = path.join(dir, "genotypes");
    mkdirSync(sub, { recursive: true });
    const name = `epoch-${String(epoch).padStart(6, "0")}`;
    writeFileAtomic(path.join(sub, `${name}.json`), json);
    writeFileAtomic(path.join(sub, `${name}.txt`), darts);
  }
}

export function writeSummary(dir: string, summary: Summary, file = "summary.json"): void {
  writeFileAtomic(path.join(dir, file), `${JSON.stringify(summary, null, 2)}\n`);
}
