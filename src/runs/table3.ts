// The paper's appendix Table 3 as it ran: a single-task DARTS search per sparsification strategy and
// seed, then the held-out accuracy of the one-shot network against the discrete network of its
// genotype on the same weights, mean ± SEM over seeds. Each search writes one JSON file under the
// output folder when it has finished, so a rerun of the same command continues with the searches
// still missing (and one with more --seeds or --strategies adds them).
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { loadDataset } from "../data/load.js";
import type { DatasetName } from "../data/types.js";
import { manualSeed, setDefaultDevice, setNumThreads } from "../engine/index.js";
import { distribution, meanAndSem } from "../evaluation/statistics.js";
import { SearchModel } from "../models/searchModel.js";
import type { NetworkConfig } from "../searchspace/network.js";
import { type SingleTaskData, splitDataset } from "../singletask/data.js";
import { measurePruning, type PruningMeasurement } from "../singletask/measure.js";
import { type EpochRecord, type SearchSettings, searchSingleTask } from "../singletask/search.js";
import type { Strategy } from "../sparsification/strategy.js";
import { writeFileAtomic } from "../util/atomicWrite.js";
import { type ProgressReporter, silentReporter } from "../util/progress.js";
import { Rng } from "../util/rng.js";
import { RunDirError } from "./runDir.js";
import {
  SINGLE_TASK_KEYS,
  SINGLE_TASK_SETTINGS,
  type SingleTaskConfig,
  type SingleTaskSetting,
  validateSingleTaskConfig,
} from "./singleTaskConfig.js";

export const TABLE3_FILES = { config: "table3-config.json", json: "table3.json", markdown: "table3.md" } as const;

export interface SearchResult {
  strategy: Strategy;
  seed: number;
  measurement: PruningMeasurement;
  epochs: EpochRecord[];
  wallSeconds: number;
  cpuSeconds: number;
}

export interface MeanSem {
  mean: number;
  sem: number;
}

export interface Table3Row {
  strategy: Strategy;
  seeds: number[];
  oneShot: MeanSem;
  discrete: MeanSem;
  /** Per seed discrete minus one-shot, then mean ± SEM. */
  change: MeanSem;
  /** Medians over seeds. */
  params: { oneShot: number; forwardPruned: number; discrete: number };
  genotypes: string[];
  wallSeconds: number;
  /** CPU seconds of each seed's search (with its measurement), in seed order. */
  cpuSeconds: number[];
}

export interface Table3Result {
  config: SingleTaskConfig;
  data: { classes: number; weightImages: number; archImages: number; testImages: number };
  rows: Table3Row[];
}

export interface Table3Options {
  reporter?: ProgressReporter;
  /** Polled between steps: true stops the current search (it is not saved) and the run returns null. */
  shouldStop?: () => boolean;
  /**
   * Run only every count-th search (seeds x strategies in order), starting with the index-th (0-based),
   * so that several processes share one output folder; the table is written once every search is there.
   */
  shard?: { index: number; count: number };
}

/** The search settings of a configuration. */
export function searchSettings(c: SingleTaskConfig): SearchSettings {
  const { epochs, batchSize, lrWeights, lrWeightsMin, momentum, weightDecay, gradClip, lrArch } = c;
  const { archBeta1, archBeta2, archWeightDecay, tMax, tMin, anneal, tSchedule, augment } = c;
  return {
    ...{ epochs, batchSize, lrWeights, lrWeightsMin, momentum, weightDecay, gradClip, lrArch },
    ...{ archBeta1, archBeta2, archWeightDecay, tMax, tMin, anneal, tSchedule, augment },
    threshold: c.trainThreshold,
  };
}

export function networkOf(c: SingleTaskConfig, data: SingleTaskData): NetworkConfig {
  return {
    inputChannels: data.imageShape[0],
    classes: data.numClasses,
    channels: c.channels,
    cells: c.cells,
    reductions: c.reductions,
    nodes: c.nodes,
    stemMultiplier: 3,
    doubleAtReductions: c.widthAtReductions === "double",
  };
}

/** The dataset, split for the search. Built-in renders use seed 0, so every search sees the same images. */
export async function loadSingleTaskData(c: SingleTaskConfig, log: (line: string) => void): Promise<SingleTaskData> {
  const ds = await loadDataset({ name: c.dataset as DatasetName, dir: c.dataDir, rotations: false, seed: 0, log });
  return splitDataset(ds, {
    classes: c.classes,
    testPerClass: c.testPerClass,
    trainPerClass: c.trainPerClass,
    testPerClassMax: c.testPerClassMax,
    trainPortion: c.trainPortion,
  });
}

/** One search with one strategy and seed, and its measurement; null when stopped. */
export async function runSearch(
  c: SingleTaskConfig,
  data: SingleTaskData,
  strategy: Strategy,
  seed: number,
  o: Table3Options = {},
): Promise<SearchResult | null> {
  const reporter = o.reporter ?? silentReporter;
  // Weights and architecture are drawn from libtorch's generator, batches and augmentation from the
  // seed's own stream: every strategy of one seed starts alike and sees the same batches.
  manualSeed(seed);
  const model = new SearchModel(networkOf(c, data), strategy);
  const [t0, cpu0] = [performance.now(), process.cpuUsage()];
  try {
    reporter.start(`${strategy} seed ${seed}`, 0);
    const epochs = await searchSingleTask(model, data, searchSettings(c), new Rng(seed), {
      shouldStop: o.shouldStop,
      onStep: (done, total) => {
        if (done === 1) reporter.start(`${strategy} s${seed}`, total);
        reporter.update(done, {});
      },
      onEpoch: (e) =>
        reporter.log(
          `${strategy} seed ${seed} epoch ${e.epoch}: train loss ${e.trainLoss.toFixed(3)} acc ${(100 * e.trainAccuracy).toFixed(1)}%  T ${e.temperature.toFixed(3)}  op entropy ${e.opEntropy.toFixed(3)}  lr ${e.lr.toPrecision(3)}  ${e.seconds.toFixed(1)} s`,
        ),
    });
    reporter.stop();
    if (!epochs) return null;
    // The search ends at t-min (plain DARTS ignores T: its op weights are softmax(alpha), its inputs summed).
    const measurement = measurePruning(model, data, {
      temperature: c.tMin,
      threshold: c.trainThreshold,
      evalBatchSize: c.evalBatchSize,
    });
    const cpu = process.cpuUsage(cpu0);
    return {
      strategy,
      seed,
      measurement,
      epochs,
      wallSeconds: (performance.now() - t0) / 1000,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
    };
  } finally {
    model.dispose();
  }
}

/** What the searches share: every setting but those a rerun may change. */
function searchDefining(c: SingleTaskConfig): Record<string, unknown> {
  return Object.fromEntries(
    SINGLE_TASK_KEYS.filter((k) => !(SINGLE_TASK_SETTINGS[k] as SingleTaskSetting).rerun).map((k) => [k, c[k]]),
  );
}

/** Writes the configuration on the first call; a later call must agree on every search-defining setting. */
function prepareDir(dir: string, c: SingleTaskConfig): void {
  const file = path.join(dir, TABLE3_FILES.config);
  if (existsSync(file)) {
    const saved = validateSingleTaskConfig(JSON.parse(readFileSync(file, "utf8")), file);
    if (JSON.stringify(searchDefining(saved)) !== JSON.stringify(searchDefining(c)))
      throw new RunDirError(
        `${dir} holds searches with other settings: rerun with the same ones (only --seeds, --strategies, --data-dir, --threads and --device may change), or choose another --out`,
      );
  } else if (existsSync(dir) && (!statSync(dir).isDirectory() || readdirSync(dir).length > 0)) {
    throw new RunDirError(`${dir} already holds files that are not a table3 run: choose another --out`);
  }
  mkdirSync(path.join(dir, "searches"), { recursive: true });
  writeFileAtomic(file, `${JSON.stringify(c, null, 2)}\n`);
}

export const searchFile = (dir: string, strategy: Strategy, seed: number) =>
  path.join(dir, "searches", `${strategy}-seed${seed}.json`);

/**
 * Runs (or reuses) every strategy x seed search under `dir` (or a shard's share of them), then writes
 * table3.json and table3.md. Returns null when stopped, or when a shard finished but other shards'
 * searches are still missing (`missing` then lists them).
 */
export async function runTable3(dir: string, c: SingleTaskConfig, o: Table3Options = {}): Promise<Table3Result | null> {
  const reporter = o.reporter ?? silentReporter;
  setNumThreads(c.threads);
  setDefaultDevice(c.device);
  // The data first: a missing or bad dataset leaves no output folder behind.
  const data = await loadSingleTaskData(c, (l) => reporter.log(l));
  prepareDir(dir, c);
  reporter.log(
    `table3: ${data.numClasses} classes, ${data.weightImages.length} images train the weights, ${data.archImages.length} the architecture, ${data.testImages.length} held out`,
  );
  const results = await collectSearches(dir, c, data, o);
  if (!results) return null;
  const result: Table3Result = {
    config: c,
    data: {
      classes: data.numClasses,
      weightImages: data.weightImages.length,
      archImages: data.archImages.length,
      testImages: data.testImages.length,
    },
    rows: c.strategies.map((strategy) =>
      table3Row(
        strategy,
        results.filter((r) => r.strategy === strategy),
      ),
    ),
  };
  writeFileAtomic(path.join(dir, TABLE3_FILES.json), `${JSON.stringify(result, null, 2)}\n`);
  writeFileAtomic(path.join(dir, TABLE3_FILES.markdown), table3Markdown(result));
  return result;
}

/** Every search of the run, run now or reused, in seeds x strategies order; null when stopped or incomplete. */
async function collectSearches(
  dir: string,
  c: SingleTaskConfig,
  data: SingleTaskData,
  o: Table3Options,
): Promise<SearchResult[] | null> {
  const reporter = o.reporter ?? silentReporter;
  const results: SearchResult[] = [];
  const searches = c.seeds.flatMap((seed) => c.strategies.map((strategy) => ({ seed, strategy })));
  const shard = o.shard ?? { index: 0, count: 1 };
  for (const [k, { seed, strategy }] of searches.entries()) {
    const file = searchFile(dir, strategy, seed);
    if (existsSync(file)) {
      if (k % shard.count === shard.index)
        reporter.log(`table3: ${strategy} seed ${seed} finished earlier (${file}); reusing it`);
      results.push(JSON.parse(readFileSync(file, "utf8")) as SearchResult);
      continue;
    }
    if (k % shard.count !== shard.index) continue;
    const r = await runSearch(c, data, strategy, seed, o);
    if (!r) return null;
    writeFileAtomic(file, `${JSON.stringify(r, null, 2)}\n`);
    const m = r.measurement;
    reporter.log(
      `table3: ${strategy} seed ${seed}: one-shot ${(100 * m.oneShot).toFixed(1)}% -> discrete ${(100 * m.discrete).toFixed(1)}% (${r.wallSeconds.toFixed(0)} s)`,
    );
    results.push(r);
  }
  if (results.length < searches.length) {
    reporter.log(
      `table3: this shard is done; ${searches.length - results.length} searches of other shards are still missing: when they have finished, rerun without --shard (it reuses every search) to write the table`,
    );
    return null;
  }
  return results;
}

export function table3Row(strategy: Strategy, runs: readonly SearchResult[]): Table3Row {
  const m = runs.map((r) => r.measurement);
  const median = (xs: number[]) => distribution(xs).median;
  return {
    strategy,
    seeds: runs.map((r) => r.seed),
    oneShot: meanAndSem(m.map((x) => x.oneShot)),
    discrete: meanAndSem(m.map((x) => x.discrete)),
    change: meanAndSem(m.map((x) => x.discrete - x.oneShot)),
    params: {
      oneShot: median(m.map((x) => x.params.oneShot)),
      forwardPruned: median(m.map((x) => x.params.forwardPruned)),
      discrete: median(m.map((x) => x.params.discrete)),
    },
    genotypes: m.map((x) => x.genotype),
    wallSeconds: runs.reduce((a, r) => a + r.wallSeconds, 0),
    cpuSeconds: runs.map((r) => r.cpuSeconds),
  };
}

const pct = (v: MeanSem) =>
  `${(100 * v.mean).toFixed(1)}${Number.isNaN(v.sem) ? "" : ` ± ${(100 * v.sem).toFixed(1)}`}`;
const points = (v: MeanSem) =>
  `${v.mean >= 0 ? "+" : "−"}${Math.abs(100 * v.mean).toFixed(1)}${Number.isNaN(v.sem) ? "" : ` ± ${(100 * v.sem).toFixed(1)}`}`;
const count = (n: number) => Math.round(n).toLocaleString("en-US");

/** The table as Markdown with the setting it was measured at. */
export function table3Markdown(r: Table3Result): string {
  const c = r.config;
  const lines = [
    "| strategy | one-shot (%) | discrete (%) | change (points) | weights: one-shot → forward-pruned → discrete | CPU s per search |",
    "|---|---|---|---|---|---|",
    ...r.rows.map(
      (x) =>
        `| ${x.strategy} | ${pct(x.oneShot)} | ${pct(x.discrete)} | ${points(x.change)} | ${count(x.params.oneShot)} → ${count(x.params.forwardPruned)} → ${count(x.params.discrete)} | ${x.cpuSeconds.map(count).join(", ")} |`,
    ),
  ];
  const seeds = r.rows[0]?.seeds.length ?? 0;
  const setting = `${c.dataset}: ${r.data.classes} classes, ${r.data.weightImages} images for the weights, ${r.data.archImages} for the architecture, ${r.data.testImages} held out; C = ${c.channels}, ${c.cells} cells (reductions ${c.reductions.join(", ")}), ${c.nodes} nodes; ${c.epochs} epochs of batch ${c.batchSize}; T ${c.tMax} → ${c.tMin} (${c.tSchedule}) per ${c.anneal}; mean ± SEM over ${seeds} seed${seeds === 1 ? "" : "s"} (${r.rows[0]?.seeds.join(", ") ?? ""}); one-shot at the final T with every op computed, discrete = the genotype's network on the same weights`;
  return `${lines.join("\n")}\n\n${setting}.\n`;
}
