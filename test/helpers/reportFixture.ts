// A fake run directory for the report tests: a realistic search of `epochs` meta-epochs
// (accuracy rising, temperature annealed after a warm-up half, entropies falling, evals every 20).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { distribution, meanAndCi95 } from "../../src/evaluation/statistics.js";
import { type Genotype, toDarts } from "../../src/searchspace/genotype.js";

export const FIXTURE_GENOTYPE: Genotype = {
  normal: [
    [
      ["sep_conv_3x3", 0],
      ["skip_connect", 1],
    ],
    [
      ["conv_1x5_5x1", 1],
      ["dil_conv_3x3", 2],
    ],
    [
      ["conv_3x3", 0],
      ["max_pool_3x3", 3],
    ],
  ],
  normalConcat: [2, 3, 4],
  reduce: [
    [
      ["max_pool_3x3", 0],
      ["avg_pool_3x3", 1],
    ],
    [
      ["skip_connect", 2],
      ["sep_conv_3x3", 0],
    ],
    [
      ["dil_conv_3x3", 1],
      ["conv_3x3", 3],
    ],
  ],
  reduceConcat: [2, 3, 4],
};

export const FIXTURE_ACCURACY = 0.5873;
export const FIXTURE_CI95 = 0.0123;

export interface FixtureOptions {
  epochs?: number;
  evalEvery?: number;
  summary?: boolean;
  genotype?: boolean;
  /** Append half a JSON line to metrics.jsonl, as a run killed mid-write leaves it. */
  partialLine?: boolean;
  /** Values merged into config.json. */
  config?: Record<string, unknown>;
  /** Final meta-test accuracy (default FIXTURE_ACCURACY). */
  accuracy?: number;
  /** The summary's pruning measurement, from per-task accuracies (a search's summary; none by default). */
  pruning?: { oneShot: number[]; discrete: number[]; discreteParams: number[] };
}

/** A summary's pruning measurement from per-task values, as the writer computes it. */
function pruningOf(p: NonNullable<FixtureOptions["pruning"]>) {
  const side = (values: number[]) => ({ ...meanAndCi95(values), values });
  const oneShot = side(p.oneShot);
  const discrete = side(p.discrete);
  return {
    oneShot: { accuracy: oneShot.mean, ci95: oneShot.ci95, values: p.oneShot },
    discrete: { accuracy: discrete.mean, ci95: discrete.ci95, values: p.discrete },
    discreteParams: { ...distribution(p.discreteParams), values: p.discreteParams },
    entropy: { normalOps: 1.234, normalPairs: 0.5, reduceOps: 1.876, reducePairs: 0.6 },
  };
}

/** Every http(s) reference in a page that is not an XML namespace declaration. */
export function externalRefs(html: string): string[] {
  return [...html.matchAll(/(\S*?)(https?:\/\/[^\s"'<>)]+)/g)]
    .filter((m) => !/xmlns(:\w+)?="$/.test(m[1]!))
    .map((m) => m[0]);
}

export function metricsLines(epochs: number, evalEvery: number): string[] {
  const lines: string[] = [];
  const warm = Math.floor(epochs / 2);
  let elapsed = 0;
  for (let e = 1; e <= epochs; e++) {
    const f = e / epochs;
    const warmup = e <= warm;
    const anneal = warmup ? 0 : (e - warm) / Math.max(1, epochs - warm);
    const temperature = warmup ? 1 : 1 - anneal * (1 - 0.05);
    const wobble = 0.02 * Math.sin(e * 1.7);
    elapsed += 1.5;
    lines.push(
      JSON.stringify({
        kind: "train",
        epoch: e,
        loss: 2.9 - 1.8 * f + wobble,
        accuracy: 0.05 + 0.55 * f + wobble,
        temperature,
        entropy: {
          normalOps: 1.9459 * (1 - 0.85 * anneal),
          normalPairs: 1.0 * (1 - 0.9 * anneal),
          reduceOps: 1.9459 * (1 - 0.8 * anneal),
          reducePairs: 1.0 * (1 - 0.85 * anneal),
        },
        warmup,
        seconds: 1.5,
        elapsed,
      }),
    );
    if (e % evalEvery === 0) {
      lines.push(
        JSON.stringify({
          kind: "eval",
          epoch: e,
          split: "test",
          accuracy: 0.04 + 0.55 * f,
          ci95: 0.04 - 0.02 * f,
          tasks: 200,
          loss: 3 - 1.7 * f,
          elapsed,
        }),
      );
    }
  }
  return lines;
}

/** Writes a fake run into `dir` (created) and returns it. */
export function writeFixtureRun(dir: string, opts: FixtureOptions = {}): string {
  const epochs = opts.epochs ?? 100;
  const evalEvery = opts.evalEvery ?? 20;
  mkdirSync(dir, { recursive: true });
  const config = {
    preset: "quick",
    dataset: "omniglot",
    nWay: 20,
    kShot: 1,
    metaEpochs: epochs,
    warmupEpochs: Math.floor(epochs / 2),
    note: "<script>alert('x')</script> & co",
    ...opts.config,
  };
  writeFileSync(join(dir, "config.json"), JSON.stringify(config, null, 2));
  let metrics = metricsLines(epochs, evalEvery).join("\n") + "\n";
  if (opts.partialLine) metrics += '{"kind":"train","epoch":' + (epochs + 1) + ',"loss":1.2,"accu';
  writeFileSync(join(dir, "metrics.jsonl"), metrics);
  if (opts.genotype ?? true) {
    writeFileSync(join(dir, "genotype.json"), JSON.stringify(FIXTURE_GENOTYPE));
    writeFileSync(join(dir, "genotype.txt"), toDarts(FIXTURE_GENOTYPE) + "\n");
  }
  if (opts.summary ?? true) {
    const values = Array.from({ length: 200 }, (_, i) => 40000 + Math.round(15000 * Math.abs(Math.sin(i * 0.37))));
    const sorted = [...values].sort((a, b) => a - b);
    const other: Genotype = { ...FIXTURE_GENOTYPE, normal: FIXTURE_GENOTYPE.normal.map((n) => [n[1]!, n[0]!]) };
    const summary = {
      accuracy: opts.accuracy ?? FIXTURE_ACCURACY,
      ci95: FIXTURE_CI95,
      tasks: 200,
      genotype: toDarts(FIXTURE_GENOTYPE),
      genotypeJson: FIXTURE_GENOTYPE,
      params: { total: 123456, pruned: 48210 },
      perTaskParams: {
        min: sorted[0],
        median: sorted[100],
        max: sorted[199],
        mean: values.reduce((a, b) => a + b, 0) / values.length,
        values,
      },
      topGenotypes: [
        { genotype: toDarts(FIXTURE_GENOTYPE), count: 120 },
        { genotype: toDarts(other), count: 55 },
      ],
      ...(opts.pruning ? { pruning: pruningOf(opts.pruning) } : {}),
      epochs,
      wallSeconds: epochs * 1.5 + 42,
    };
    writeFileSync(join(dir, "summary.json"), JSON.stringify(summary, null, 2));
  }
  return dir;
}
