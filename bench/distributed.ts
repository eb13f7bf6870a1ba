// How well ranks use the cores, at the paper's Omniglot 20-way setting (C = 28, 4 cells,
// meta-batch 10, 5 inner steps, batch 20, drop-path 0.2). Per repetition, alternating, each a fresh
// `metanas search` of one warm-up and one search meta-epoch:
//   "1":    one process alone;
//   "2":    --nproc 2 (each rank adapts half of the meta-batch);
//   "pair": two independent single-process runs started together, what the same cores give
//           without ranks.
// The efficiency of 2 ranks is their throughput against the pair's, from the same benchmark run:
// (2 x metaBatch tasks / the pair's mean meta-epoch) vs (metaBatch tasks / the 2-rank meta-epoch),
// i.e. mean(pair) / (2 x ranks-2). Per rank (metrics.jsonl `rankTimes`) and per pair process,
// the seconds per task of architecture and weight steps show where time goes. Omniglot from
// --data-dir or ../shared/data/omniglot when present, else the built-in data (rendered on first
// use, inside the timed epochs). Every figure is printed, then the medians; last line JSON.
//   npm run bench:distributed -- --repeats 3 [--modes 1,2,pair] [--channels 28] [--data-dir DIR]
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { TrainRecord } from "../src/runs/format.js";
import { readMetrics } from "../src/runs/runDir.js";
import { median, option } from "./common.js";

type Mode = "1" | "2" | "pair";
const repeats = Number(option("repeats", "3"));
const modes = option("modes", "1,2,pair").split(",") as Mode[];
for (const m of modes) if (!["1", "2", "pair"].includes(m)) throw new Error(`--modes: unknown mode ${m} (1, 2, pair)`);
const channels = option("channels", "28");
const META_BATCH = 10; // the preset's

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.resolve(here, "../src/cli/main.js");
const sharedOmniglot = path.resolve(here, "../../../shared/data/omniglot");
const dataDir = option("data-dir", existsSync(sharedOmniglot) ? sharedOmniglot : "");
const data = dataDir ? ["--data-dir", dataDir] : ["--dataset", "builtin"];
const tmp = mkdtempSync(path.join(os.tmpdir(), "metanas-bench-dist-"));

/** One process's (or rank's) view of the search meta-epoch, per task. */
interface PerTask {
  archSteps: number;
  weightSteps: number;
}
interface Sample {
  warmup: number;
  search: number;
  cpuSearch: number;
  waitSearch: number;
  collectiveSearch: number;
  perTask: PerTask[];
}
const samples = new Map<Mode, Sample[]>(modes.map((m) => [m, []]));
const loads: number[] = [];

function search(dir: string, nproc: number): Promise<void> {
  const args = [
    cli,
    "search",
    "--preset",
    "omniglot-20way-1shot",
    ...data,
    "--channels",
    channels,
    "--epochs",
    "2",
    "--warmup",
    "1",
    "--eval-every",
    "0",
    "--test-tasks",
    "1",
    "--test-steps",
    "1",
    "--test-arch-steps",
    "1",
    "--out",
    dir,
    "--nproc",
    String(nproc),
    "--json",
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`metanas search --nproc ${nproc} failed:\n${stderr}`)),
    );
  });
}

function epochs(dir: string): [TrainRecord, TrainRecord] {
  return readMetrics(dir).filter((m): m is TrainRecord => m.kind === "train") as [TrainRecord, TrainRecord];
}

/** The search meta-epoch's architecture and weight seconds per task, per rank (or for the one process). */
function perTask(e: TrainRecord, tasksEach: number): PerTask[] {
  const views = e.rankTimes ?? [{ archSteps: e.phases?.archSteps ?? 0, weightSteps: e.phases?.weightSteps ?? 0 }];
  return views.map((v) => ({ archSteps: v.archSteps / tasksEach, weightSteps: v.weightSteps / tasksEach }));
}

function sampleOf(dir: string, ranks: number): Sample {
  const [warm, s] = epochs(dir);
  return {
    warmup: warm.seconds,
    search: s.seconds,
    cpuSearch: s.cpuSeconds ?? Number.NaN,
    waitSearch: s.waitSeconds ?? 0,
    collectiveSearch: s.collectiveSeconds ?? 0,
    perTask: perTask(s, META_BATCH / ranks),
  };
}

const fmt = (p: PerTask[]) =>
  p.map((v) => `arch ${v.archSteps.toFixed(2)} s + weights ${v.weightSteps.toFixed(2)} s`).join(" | ");

async function measure(mode: Mode, r: number): Promise<void> {
  const dir = (k: number) => path.join(tmp, `run-${r}-${mode}-${k}`);
  if (mode === "pair") {
    await Promise.all([search(dir(0), 1), search(dir(1), 1)]);
    const [a, b] = [sampleOf(dir(0), 1), sampleOf(dir(1), 1)];
    samples.get(mode)!.push({
      warmup: (a.warmup + b.warmup) / 2,
      search: (a.search + b.search) / 2,
      cpuSearch: (a.cpuSearch + b.cpuSearch) / 2,
      waitSearch: 0,
      collectiveSearch: 0,
      perTask: [...a.perTask, ...b.perTask],
    });
    console.log(
      `repeat ${r + 1} pair: search meta-epoch ${a.search.toFixed(1)} s and ${b.search.toFixed(1)} s (CPU ${a.cpuSearch.toFixed(1)}, ${b.cpuSearch.toFixed(1)}); per task ${fmt([...a.perTask, ...b.perTask])}`,
    );
  } else {
    const ranks = Number(mode);
    await search(dir(0), ranks);
    const s = sampleOf(dir(0), ranks);
    samples.get(mode)!.push(s);
    const comm =
      ranks > 1 ? `, waited ${s.waitSearch.toFixed(2)} s, all-reduce ${s.collectiveSearch.toFixed(3)} s` : "";
    console.log(
      `repeat ${r + 1} ranks ${ranks}: warm-up meta-epoch ${s.warmup.toFixed(1)} s, search meta-epoch ${s.search.toFixed(1)} s (rank 0 CPU ${s.cpuSearch.toFixed(1)} s${comm}); per task ${fmt(s.perTask)}`,
    );
  }
  loads.push(Number(os.loadavg()[0]!.toFixed(1)));
  for (let k = 0; k < 2; k++) rmSync(dir(k), { recursive: true, force: true });
}

console.log(`data: ${dataDir ? `Omniglot in ${dataDir}` : "built-in (rendered on first use)"}`);
try {
  for (let r = 0; r < repeats; r++) for (const mode of modes) await measure(mode, r);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

const summary: Record<string, unknown> = {
  data: dataDir ? "omniglot" : "builtin",
  channels: Number(channels),
  repeats,
  cores: os.cpus().length,
  // The machine's 1-minute load average after each run: other work on it slows every side.
  loadAverages: loads,
};
const pick = (mode: Mode, f: (s: Sample) => number) => (samples.get(mode) ?? []).map(f);
for (const mode of modes) {
  const perTaskAll = samples.get(mode)!.flatMap((s) => s.perTask);
  summary[mode === "pair" ? "pair" : `ranks${mode}`] = {
    warmupSeconds: pick(mode, (s) => s.warmup),
    searchSeconds: pick(mode, (s) => s.search),
    searchCpuSeconds: pick(mode, (s) => s.cpuSearch),
    waitSecondsSearch: pick(mode, (s) => s.waitSearch),
    collectiveSecondsSearch: pick(mode, (s) => s.collectiveSearch),
    medianWarmup: median(pick(mode, (s) => s.warmup)),
    medianSearch: median(pick(mode, (s) => s.search)),
    medianArchStepsPerTask: median(perTaskAll.map((p) => p.archSteps)),
    medianWeightStepsPerTask: median(perTaskAll.map((p) => p.weightSteps)),
  };
}
if (samples.has("2") && samples.has("pair")) {
  const ratio = (k: "warmup" | "search") => median(pick("pair", (s) => s[k])) / (2 * median(pick("2", (s) => s[k])));
  const efficiency = { warmup: ratio("warmup"), search: ratio("search") };
  console.log(
    `2 ranks against two independent processes at once (medians): efficiency ${efficiency.search.toFixed(2)} in the search meta-epoch, ${efficiency.warmup.toFixed(2)} in the warm-up`,
  );
  summary.efficiency2 = efficiency;
}
if (samples.has("1") && samples.has("2")) {
  const speedup = (k: "warmup" | "search") => median(pick("1", (s) => s[k])) / median(pick("2", (s) => s[k]));
  summary.speedup2 = { warmup: speedup("warmup"), search: speedup("search") };
  console.log(
    `2 ranks against 1 process (medians): ${speedup("search").toFixed(2)}x faster search meta-epoch, ${speedup("warmup").toFixed(2)}x warm-up`,
  );
}
console.log(JSON.stringify(summary));
