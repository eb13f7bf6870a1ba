// Meta-epoch seconds with 1 and 2 local ranks at the paper's Omniglot 20-way setting (C = 28,
// 4 cells, meta-batch 10, 5 inner steps, batch 20, drop-path 0.2), and per meta-epoch the seconds
// rank 0 waited for the slower rank and then spent in the all-reduce. Rank 0's CPU seconds per
// meta-epoch are printed too: on a machine others are using, wall time also measures their load. Omniglot from --data-dir or
// ../shared/data/omniglot when present, else the built-in data (whose drawings are rendered on
// first use, inside the timed epochs). Each repetition is a fresh `metanas search` per world size
// (one warm-up and one search meta-epoch), alternating; every figure is printed, then the medians;
// last line JSON.
//   npm run bench:distributed -- --repeats 3 [--ranks 1,2] [--channels 28] [--data-dir DIR]
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { TrainRecord } from "../src/runs/format.js";
import { readMetrics } from "../src/runs/runDir.js";
import { median, option } from "./common.js";

const repeats = Number(option("repeats", "3"));
const worlds = option("ranks", "1,2").split(",").map(Number);
const channels = option("channels", "28");

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.resolve(here, "../src/cli/main.js");
const sharedOmniglot = path.resolve(here, "../../../shared/data/omniglot");
const dataDir = option("data-dir", existsSync(sharedOmniglot) ? sharedOmniglot : "");
const data = dataDir ? ["--data-dir", dataDir] : ["--dataset", "builtin"];
const tmp = mkdtempSync(path.join(os.tmpdir(), "metanas-bench-dist-"));

interface Epochs {
  warmup: number[];
  search: number[];
  cpuWarmup: number[];
  cpuSearch: number[];
  waitSearch: number[];
  collectiveWarmup: number[];
  collectiveSearch: number[];
}
const figures = new Map<number, Epochs>(
  worlds.map((w) => [
    w,
    {
      warmup: [],
      search: [],
      cpuWarmup: [],
      cpuSearch: [],
      waitSearch: [],
      collectiveWarmup: [],
      collectiveSearch: [],
    },
  ]),
);
const loads: number[] = [];
console.log(`data: ${dataDir ? `Omniglot in ${dataDir}` : "built-in (rendered on first use)"}`);

try {
  for (let r = 0; r < repeats; r++) {
    for (const world of worlds) {
      const dir = path.join(tmp, `run-${r}-${world}`);
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
        String(world),
        "--json",
      ];
      const run = spawnSync(process.execPath, args, { encoding: "utf8" });
      if (run.status !== 0) throw new Error(`metanas search --nproc ${world} failed:\n${run.stderr}`);
      const train = readMetrics(dir).filter((m): m is TrainRecord => m.kind === "train");
      const [warm, search] = train as [
        TrainRecord & { collectiveSeconds?: number },
        TrainRecord & { collectiveSeconds?: number },
      ];
      const f = figures.get(world)!;
      f.warmup.push(warm.seconds);
      f.search.push(search.seconds);
      f.cpuWarmup.push(warm.cpuSeconds ?? Number.NaN);
      f.cpuSearch.push(search.cpuSeconds ?? Number.NaN);
      f.waitSearch.push(search.waitSeconds ?? 0);
      f.collectiveWarmup.push(warm.collectiveSeconds ?? 0);
      f.collectiveSearch.push(search.collectiveSeconds ?? 0);
      const comm = (e: TrainRecord) =>
        world > 1
          ? ` (waited ${(e.waitSeconds ?? 0).toFixed(2)} s, all-reduce ${(e.collectiveSeconds ?? 0).toFixed(3)} s)`
          : "";
      const load = os.loadavg()[0]!.toFixed(1);
      console.log(
        `repeat ${r + 1} ranks ${world}: warm-up meta-epoch ${warm.seconds.toFixed(1)} s (rank 0 CPU ${warm.cpuSeconds?.toFixed(1)} s)${comm(warm)}, search meta-epoch ${search.seconds.toFixed(1)} s (rank 0 CPU ${search.cpuSeconds?.toFixed(1)} s)${comm(search)}; load average ${load}`,
      );
      loads.push(Number(load));
      rmSync(dir, { recursive: true, force: true });
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

const summary: Record<string, unknown> = {
  data: dataDir ? "omniglot" : "builtin",
  channels: Number(channels),
  repeats,
  cores: os.cpus().length,
  // The machine's 1-minute load average after each run: other work on it slows both sides.
  loadAverages: loads,
};
for (const [world, f] of figures) {
  summary[`ranks${world}`] = {
    warmupSeconds: f.warmup,
    searchSeconds: f.search,
    warmupCpuSeconds: f.cpuWarmup,
    searchCpuSeconds: f.cpuSearch,
    waitSecondsSearch: f.waitSearch,
    collectiveSecondsWarmup: f.collectiveWarmup,
    collectiveSecondsSearch: f.collectiveSearch,
    medianWarmup: median(f.warmup),
    medianSearch: median(f.search),
    medianCpuWarmup: median(f.cpuWarmup),
    medianCpuSearch: median(f.cpuSearch),
    medianCollectiveSearch: median(f.collectiveSearch),
  };
}
if (figures.has(1)) {
  for (const [world, f] of figures) {
    if (world === 1) continue;
    const one = figures.get(1)!;
    const ratio = (a: number[], b: number[]) => median(a) / median(b);
    console.log(
      `ranks ${world} vs 1 (medians): wall time warm-up ${ratio(one.warmup, f.warmup).toFixed(2)}x, search ${ratio(one.search, f.search).toFixed(2)}x faster; rank 0's CPU time per meta-epoch warm-up ${ratio(one.cpuWarmup, f.cpuWarmup).toFixed(2)}x, search ${ratio(one.cpuSearch, f.cpuSearch).toFixed(2)}x smaller`,
    );
    summary[`speedup${world}`] = {
      warmup: ratio(one.warmup, f.warmup),
      search: ratio(one.search, f.search),
      cpuWarmup: ratio(one.cpuWarmup, f.cpuWarmup),
      cpuSearch: ratio(one.cpuSearch, f.cpuSearch),
    };
  }
}
console.log(JSON.stringify(summary));
