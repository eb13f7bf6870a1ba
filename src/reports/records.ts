// The run-directory records that the reports read. They mirror the run file formats
// (config.json, metrics.jsonl, summary.json, genotype.json / genotype.txt); the reader accepts
// them loosely, since a run may still be going, may have stopped, or may come from an older version.

import type * as Run from "../runs/format.js";
import type { Genotype } from "../searchspace/genotype.js";

// The writer's types (runs/format.ts) with the numbers a damaged or unfinished run may lack made nullable.
type Nullable<T, K extends keyof T> = Omit<T, K> & { [P in K]: T[P] | null };

/** Entropy (nats) of the softmaxed architecture weights, averaged over edges / nodes. */
export type EntropyRecord = { [K in keyof Run.TrainRecord["entropy"]]: number | null };

/** One meta-training epoch: mean query loss and accuracy over the meta-batch. */
export type TrainRecord = Omit<Nullable<Run.TrainRecord, "loss" | "accuracy" | "temperature">, "entropy"> & {
  entropy: EntropyRecord;
};

/** One meta-test (or validation) evaluation: mean query accuracy over many tasks, with its 95% interval. */
export type EvalRecord = Omit<Nullable<Run.EvalRecord, "accuracy" | "ci95" | "loss">, "split"> & { split: string };

export type MetricsRecord = TrainRecord | EvalRecord;

export type GenotypeCount = Run.GenotypeCount;

/** summary.json, written when a run finishes. */
export type Summary = Pick<Run.Summary, "accuracy" | "ci95" | "tasks" | "genotype" | "protocol"> & {
  genotypeJson?: Genotype | string;
  params?: Partial<Run.Summary["params"]>;
  perTaskParams?: Partial<Run.Summary["perTaskParams"]>;
  topGenotypes?: GenotypeCount[];
  pruning?: Run.Summary["pruning"];
  epochs?: number;
  wallSeconds?: number;
};

export { RUN_FILES } from "../runs/format.js";
