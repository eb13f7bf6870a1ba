// `npm run bench:metaepoch`: what one meta-epoch costs at a preset. Each preset runs a warm-up
// meta-epoch (weights only) and a search meta-epoch (weights and architecture) with its own
// network, meta-learner, meta-batch, inner steps and batch size, through the function `metanas
// search` calls every meta-epoch (metaEpoch with the run's settings), on generated images of the
// preset's input shape (a pass's cost does not depend on their content). Each process is fresh: the
// allocator's behaviour is decided per process. Peak memory is the process's maximum resident set.
//   npm run bench:metaepoch -- [--preset NAME[,NAME...] | --preset all] [--processes 3] [--meta-batch N]
// Default: the omniglot-20way-1shot preset, one process. Presets that meta-train alike (1-shot and
// 5-shot differ only in meta-testing) are measured once. --meta-batch N measures N of the preset's
// tasks and scales to its meta-batch (tasks are adapted one after another, so each costs the same).
// The same figures from the CLI are a search run's `seconds`, `cpuSeconds` and `phases` in metrics.jsonl:
//   metanas search --preset omniglot-20way-1shot --dataset builtin --epochs 2 --warmup 1 --eval-every 0
// Last line: JSON.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { median, option } from "./common.js";

interface EpochFigures {
  warmup: boolean;
  seconds: number;
  /** CPU seconds of the process in the epoch: less disturbed than wall time on a shared machine. */
  cpuSeconds: number;
  phases: Record<string, number>;
}
interface ProcessFigures {
  epochs: EpochFigures[];
  measured_tasks: number;
  meta_batch: number;
  max_rss_mb: number;
  kernels: string;
  allocator: string;
  describe: string;
}

/** In a fresh process: a warm-up and a search meta-epoch of one preset; prints ProcessFigures. */
async function child(preset: string): Promise<void> {
  const { buildConfig } = await import("../src/runs/presets.js");
  const { openModel, trainSettings } = await import("../src/runs/session.js");
  const { metaEpoch } = await import("../src/metalearner/metaTrainer.js");
  const { knownImageShape } = await import("../src/data/shapes.js");
  const { takePhaseTimes } = await import("../src/util/phaseTimes.js");
  const { generatedPool } = await import("./common.js");
  const E = await import("../src/engine/index.js");
  const c = buildConfig(preset, {}, {});
  E.setNumThreads(c.threads);
  E.manualSeed(c.seed);
  const shape = knownImageShape(c.dataset) ?? [1, 28, 28];
  const tasks = Math.min(c.metaBatch, Number(option("meta-batch", String(c.metaBatch))));
  const scale = c.metaBatch / tasks;
  const pool = generatedPool(shape, Math.max(c.ways, 20), c.trainShots + c.queries, c.seed);
  const { model, opt, learner } = openModel(c, shape);
  const settings = { ...trainSettings(c), metaBatch: tasks, warmup: 1 };
  const epochs: EpochFigures[] = [];
  try {
    for (const epoch of [0, 1]) {
      takePhaseTimes();
      const [t0, c0] = [performance.now(), process.cpuUsage()];
      await metaEpoch(epoch, model, opt, learner, pool, settings);
      const used = process.cpuUsage(c0);
      const phases = Object.fromEntries(Object.entries(takePhaseTimes()).map(([k, v]) => [k, v * scale]));
      const seconds = ((performance.now() - t0) / 1000) * scale;
      epochs.push({ warmup: epoch === 0, seconds, cpuSeconds: ((used.user + used.system) / 1e6) * scale, phases });
    }
  } finally {
    learner.dispose();
    opt.dispose();
    model.dispose();
  }
  const describe = `${c.model} (${c.metaLearner}) C = ${c.channels}, ${c.cells} cells, ${c.ways}-way, meta-batch ${c.metaBatch}, ${c.innerSteps} steps of batch ${c.batchSize}, ${shape.join("x")} images, ${c.threads} thread(s)`;
  const figures: ProcessFigures = {
    epochs,
    measured_tasks: tasks,
    meta_batch: c.metaBatch,
    max_rss_mb: process.resourceUsage().maxRSS / 1024,
    kernels: E.kernelInfo().kernels,
    allocator: E.allocatorInfo().policy,
    describe,
  };
  console.log(JSON.stringify(figures));
}

const f = (v: number, d = 1) => v.toFixed(d);
const list = (v: number[]) => v.map((x) => f(x)).join(", ");
const phaseLine = (p: Record<string, number>, total: number) => {
  const known = Object.values(p).reduce((a, b) => a + b, 0);
  return [...Object.entries(p).map(([k, v]) => `${k} ${f(v)}`), `meta-update and rest ${f(total - known)}`].join(", ");
};

/** One preset in `processes` fresh processes, printed as it goes. */
function measurePreset(preset: string, processes: number): ProcessFigures[] {
  const runs: ProcessFigures[] = [];
  for (let k = 0; k < processes; k++) {
    const args = [fileURLToPath(import.meta.url), "--child", preset, ...process.argv.slice(2)];
    const r = spawnSync(process.execPath, args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    if (r.status !== 0) throw new Error(`bench:metaepoch: a benchmark process of ${preset} failed (exit ${r.status})`);
    const lines = r.stdout.trim().split("\n");
    const p = JSON.parse(lines[lines.length - 1]!) as ProcessFigures;
    runs.push(p);
    if (k === 0) console.log(`${preset}: ${p.describe}`);
    const scaled = p.measured_tasks < p.meta_batch ? ` (${p.measured_tasks} of ${p.meta_batch} tasks, scaled)` : "";
    for (const e of p.epochs)
      console.log(
        `  process ${k + 1}, ${e.warmup ? "warm-up" : "search"} meta-epoch: ${f(e.seconds)} s, ${f(e.cpuSeconds)} CPU s${scaled}  [${phaseLine(e.phases, e.seconds)}]`,
      );
    console.log(`  process ${k + 1}: peak memory (max RSS) ${f(p.max_rss_mb, 0)} MB`);
  }
  return runs;
}

/** Medians and every figure of one preset's processes. */
function summarise(runs: ProcessFigures[]) {
  const of = (warmup: boolean, key: "seconds" | "cpuSeconds") =>
    runs.flatMap((r) => r.epochs.filter((e) => e.warmup === warmup).map((e) => e[key]));
  const out = {
    warmup_seconds: of(true, "seconds"),
    search_seconds: of(false, "seconds"),
    warmup_cpu_seconds: of(true, "cpuSeconds"),
    search_cpu_seconds: of(false, "cpuSeconds"),
    max_rss_mb: runs.map((r) => r.max_rss_mb),
    measured_tasks: runs[0]!.measured_tasks,
    meta_batch: runs[0]!.meta_batch,
    phases: runs.map((r) => r.epochs.map((e) => e.phases)),
  };
  console.log(
    `  warm-up: median ${f(median(out.warmup_seconds))} s (${list(out.warmup_seconds)}); CPU ${f(median(out.warmup_cpu_seconds))} s (${list(out.warmup_cpu_seconds)})`,
  );
  console.log(
    `  search:  median ${f(median(out.search_seconds))} s (${list(out.search_seconds)}); CPU ${f(median(out.search_cpu_seconds))} s (${list(out.search_cpu_seconds)})`,
  );
  return {
    ...out,
    warmup_median_s: median(out.warmup_seconds),
    search_median_s: median(out.search_seconds),
    warmup_median_cpu_s: median(out.warmup_cpu_seconds),
    search_median_cpu_s: median(out.search_cpu_seconds),
    max_rss_median_mb: median(out.max_rss_mb),
  };
}

async function driver(): Promise<void> {
  const { buildConfig, PRESET_NAMES } = await import("../src/runs/presets.js");
  const { keysWithRole } = await import("../src/runs/config.js");
  const asked = option("preset", "omniglot-20way-1shot");
  const presets = asked === "all" ? [...PRESET_NAMES] : asked.split(",");
  const processes = Number(option("processes", "1"));
  // Settings that only meta-testing, evaluation or bookkeeping read (shots: meta-test tasks only).
  const notMetaTraining = new Set<string>(["preset", "shots", ...keysWithRole("evaluation", "bookkeeping")]);
  const trainingKey = (name: string) =>
    JSON.stringify(Object.entries(buildConfig(name, {}, {})).filter(([k]) => !notMetaTraining.has(k)));
  const results: Record<string, object> = {};
  const done = new Map<string, string>();
  let machine: Pick<ProcessFigures, "kernels" | "allocator"> | null = null;
  for (const name of presets) {
    const same = done.get(trainingKey(name));
    if (same) {
      results[name] = { same_as: same };
      console.log(`${name}: meta-trains as ${same} does (1-shot and 5-shot differ only in meta-testing)`);
      continue;
    }
    const runs = measurePreset(name, processes);
    machine ??= runs[0]!;
    results[name] = summarise(runs);
    done.set(trainingKey(name), name);
  }
  console.log(JSON.stringify({ presets: results, kernels: machine?.kernels, allocator: machine?.allocator }));
}

const at = process.argv.indexOf("--child");
if (at >= 0) await child(process.argv[at + 1]!);
else await driver();
