// `npm run bench:metaepoch`: one warm-up and one search meta-epoch at the paper's Omniglot 20-way
// setting (the omniglot-20way-1shot preset: C = 28, 4 cells, meta-batch 10, 5 inner steps,
// batch 20, drop-path 0.2, one thread) on the built-in 28x28 characters, through the same code
// path as `metanas search` (runTraining): the seconds printed here are the `seconds` of the run's
// metrics.jsonl, and the split by phase is its `phases`. Each process is fresh (the allocator's
// behaviour is decided per process); peak memory is the process's maximum resident set.
//   npm run bench:metaepoch -- [--processes 3] [--preset omniglot-20way-1shot] [--epochs 2 --warmup 1]
// The same figures from the CLI:
//   metanas search --preset omniglot-20way-1shot --dataset builtin --epochs 2 --warmup 1 --eval-every 0
// Last line: JSON.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { median, option } from "./common.js";

const o = {
  processes: Number(option("processes", "1")),
  preset: option("preset", "omniglot-20way-1shot"),
  epochs: Number(option("epochs", "2")),
  warmup: Number(option("warmup", "1")),
};

interface EpochFigures {
  epoch: number;
  warmup: boolean;
  seconds: number;
  /** CPU seconds of the process in the epoch: less disturbed than wall time on a shared machine. */
  cpuSeconds: number;
  phases: Record<string, number>;
}
interface ProcessFigures {
  epochs: EpochFigures[];
  max_rss_mb: number;
  kernels: string;
  allocator: string;
}

async function child(): Promise<void> {
  const { buildConfig } = await import("../src/runs/presets.js");
  const { runTraining } = await import("../src/runs/runner.js");
  const { readMetrics } = await import("../src/runs/runDir.js");
  const E = await import("../src/engine/index.js");
  const config = buildConfig(
    o.preset,
    {},
    { dataset: "builtin", epochs: o.epochs, warmup: o.warmup, evalEvery: 0, checkpointEvery: 0 },
  );
  const root = mkdtempSync(path.join(tmpdir(), "metanas-bench-metaepoch-"));
  try {
    const dir = path.join(root, "run");
    await runTraining(dir, { config }, { skipFinalTest: true });
    const epochs = readMetrics(dir)
      .filter((r) => r.kind === "train")
      .map((r) => ({
        epoch: r.epoch,
        warmup: r.warmup,
        seconds: r.seconds,
        cpuSeconds: r.cpuSeconds ?? Number.NaN,
        phases: r.phases ?? {},
      }));
    const figures: ProcessFigures = {
      epochs,
      max_rss_mb: process.resourceUsage().maxRSS / 1024,
      kernels: E.kernelInfo().kernels,
      allocator: E.allocatorInfo().policy,
    };
    console.log(JSON.stringify(figures));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const f = (v: number, d = 1) => v.toFixed(d);
const phaseLine = (p: Record<string, number>, total: number) => {
  const known = Object.values(p).reduce((a, b) => a + b, 0);
  return [...Object.entries(p).map(([k, v]) => `${k} ${f(v)}`), `meta-update and rest ${f(total - known)}`].join(", ");
};

function driver(): void {
  console.log(
    `meta-epochs of the ${o.preset} preset on the built-in 28x28 data: ${o.warmup} warm-up + ${o.epochs - o.warmup} search, in ${o.processes} fresh process(es)`,
  );
  const runs: ProcessFigures[] = [];
  for (let k = 0; k < o.processes; k++) {
    const args = [fileURLToPath(import.meta.url), "--child", ...process.argv.slice(2)];
    const r = spawnSync(process.execPath, args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    if (r.status !== 0) throw new Error(`bench:metaepoch: a benchmark process failed (exit ${r.status})`);
    const lines = r.stdout.trim().split("\n");
    const p = JSON.parse(lines[lines.length - 1]!) as ProcessFigures;
    runs.push(p);
    for (const e of p.epochs)
      console.log(
        `process ${k + 1}, meta-epoch ${e.epoch} (${e.warmup ? "warm-up" : "search"}): ${f(e.seconds)} s, ${f(e.cpuSeconds)} CPU s  [${phaseLine(e.phases, e.seconds)}]`,
      );
    console.log(`process ${k + 1}: peak memory (max RSS) ${f(p.max_rss_mb, 0)} MB`);
  }
  const of = (warmup: boolean, key: "seconds" | "cpuSeconds") =>
    runs.flatMap((r) => r.epochs.filter((e) => e.warmup === warmup).map((e) => e[key]));
  const warm = of(true, "seconds");
  const search = of(false, "seconds");
  const warmCpu = of(true, "cpuSeconds");
  const searchCpu = of(false, "cpuSeconds");
  const rss = runs.map((r) => r.max_rss_mb);
  const list = (v: number[]) => v.map((x) => f(x)).join(", ");
  if (warm.length)
    console.log(
      `warm-up meta-epoch: median ${f(median(warm))} s (${list(warm)}); CPU ${f(median(warmCpu))} s (${list(warmCpu)})`,
    );
  if (search.length)
    console.log(
      `search meta-epoch:  median ${f(median(search))} s (${list(search)}); CPU ${f(median(searchCpu))} s (${list(searchCpu)})`,
    );
  console.log(`peak memory: median ${f(median(rss), 0)} MB (${rss.map((v) => f(v, 0)).join(", ")})`);
  console.log(
    JSON.stringify({
      preset: o.preset,
      warmup_seconds: warm,
      search_seconds: search,
      warmup_median_s: warm.length ? median(warm) : null,
      search_median_s: search.length ? median(search) : null,
      warmup_cpu_seconds: warmCpu,
      search_cpu_seconds: searchCpu,
      warmup_median_cpu_s: warmCpu.length ? median(warmCpu) : null,
      search_median_cpu_s: searchCpu.length ? median(searchCpu) : null,
      max_rss_mb: rss,
      max_rss_median_mb: median(rss),
      epochs: runs.map((r) => r.epochs),
      kernels: runs[0]!.kernels,
      allocator: runs[0]!.allocator,
    }),
  );
}

if (process.argv.includes("--child")) await child();
else driver();
