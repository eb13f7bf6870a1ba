// The run-directory records that the reports read. They mirror the run file formats
// (config.json, metrics.jsonl, summary.json, genotype.json / genotype.txt); the reader accepts
// them loosely, since a run may still be going, may have stopped, or may come from an older version.
import type { Genotype } from "../searchspace/genotype.js";

/** Entropy (nats) of the softmaxed architecture weights, averaged over edges / nodes. */
export interface EntropyRecord {
  normalOps: number | null;
  normalPairs: number | null;
  reduceOps: number | null;
  reducePairs: number | null;
}

/** One meta-training epoch: mean query loss and accuracy over the meta-batch. */
export interface TrainRecord {
  kind: "train";
  epoch: number;
  loss: number | null;
  accuracy: number | null;
  temperature: number | null;
  entropy: EntropyRecord;
  warmup: boolean;
  seconds: number;
  elapsed: number;
}

/** One meta-test (or validation) evaluation: mean query accuracy over many tasks, with its 95% interval. */
export interface EvalRecord {
  kind: "eval";
  epoch: number;
  split: string;
  accuracy: number | null;
  ci95: number | null;
  tasks: number;
  loss: number | null;
  elapsed: number;
}

export type MetricsRecord = TrainRecord | EvalRecord;

export interface GenotypeCount {
  genotype: string;
  count: number;
}

/** summary.json, written when a run finishes. */
export interface Summary {
  accuracy: number;
  ci95: number;
  tasks: number;
  genotype: string;
  genotypeJson?: Genotype | string;
  params?: { total?: number; pruned?: number };
  perTaskParams?: { min?: number; median?: number; max?: number; mean?: number; values?: number[] };
  topGenotypes?: GenotypeCount[];
  epochs?: number;
  wallSeconds?: number;
}

/** The file names of a run directory. */
export const RUN_FILES = {
  config: "config.json",
  metrics: "metrics.jsonl",
  summary: "summary.json",
  genotypeJson: "genotype.json",
  genotypeTxt: "genotype.txt",
  report: "report.html",
  figures: "figures",
} as const;
