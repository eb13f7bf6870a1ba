// The files of a run directory, as written by search/train/eval (runDir.ts writes and reads them)
// and read by reports. RUN_FILES and BASELINE_FILES are the one place their names are spelt.
//   config.json            the validated configuration (RunConfig)
//   metrics.jsonl          one MetricsRecord per line
//   genotype.json / .txt   the latest genotype (JSON / DARTS notation)
//   genotypes/epoch-NNNNNN.json / .txt   the genotype at every evaluation
//   checkpoint.safetensors the latest checkpoint (checkpoint.ts)
//   summary.json           the final Summary; evaluation.json: a later `metanas eval`
//   report.html, figures/  pictures of the run
//   baseline-conv4/        --baseline conv4: the Conv4 baseline meta-trained on the same tasks (a run directory)
//   baseline-comparison/   the run against its baseline: compare.html and figures/
//   baseline-budget.json   how the baseline's meta-iterations were set

import type { RankTimes } from "../metalearner/metaTrainer.js";
import type { ArchitectureEntropy } from "../models/model.js";
import type { Protocol } from "../tasklearner/taskLearner.js";

/** The file names of a run directory. */
export const RUN_FILES = {
  config: "config.json",
  metrics: "metrics.jsonl",
  summary: "summary.json",
  evaluation: "evaluation.json",
  checkpoint: "checkpoint.safetensors",
  genotypeJson: "genotype.json",
  genotypeTxt: "genotype.txt",
  genotypes: "genotypes",
  report: "report.html",
  figures: "figures",
} as const;

/** The folders of a run's baseline (--baseline conv4) and of its comparison page. */
export const BASELINE_FILES = {
  conv4: "baseline-conv4",
  comparison: "baseline-comparison",
  /** How the baseline's meta-iterations were set (runs/baseline.ts BaselineBudget). */
  budget: "baseline-budget.json",
} as const;

/** One meta-training epoch. */
export interface TrainRecord {
  kind: "train";
  epoch: number;
  /** Mean query loss and accuracy over the meta-batch's tasks after adaptation. */
  loss: number;
  accuracy: number;
  /** Temperature at the end of the tasks' adaptation (t_min after annealing, 1 in warm-up). */
  temperature: number;
  /** The meta-level scale of the inner temperatures (absent when 1). */
  scale?: number;
  /** Mean entropy (nats) of the op weights softmax(alpha/T) per edge and of the pair weights per node. */
  entropy: { normalOps: number; normalPairs: number; reduceOps: number; reducePairs: number };
  warmup: boolean;
  /** Seconds this epoch took, and since the run started. */
  seconds: number;
  elapsed: number;
  /**
   * Seconds of this epoch by phase: tasks (sampling), archSteps and weightSteps (the task learner's
   * steps), predictions (query sets); the rest is the meta-update. Absent in older runs.
   */
  phases?: Record<string, number>;
  /**
   * CPU seconds this epoch's process used (all its threads): on a shared machine a fairer measure
   * of what an epoch costs than wall time, which also counts the other processes' turns.
   */
  cpuSeconds?: number;
  /** Runs spread over ranks: how many, and rank 0's seconds waiting for the others, then in the all-reduce. */
  ranks?: number;
  waitSeconds?: number;
  collectiveSeconds?: number;
  /**
   * Runs spread over ranks: each rank's wall and CPU seconds adapting its tasks (up to the
   * all-reduce), and its wall seconds by phase, in rank order.
   */
  rankTimes?: RankTimes[];
}

/** One evaluation on held-out tasks. */
export interface EvalRecord {
  kind: "eval";
  epoch: number;
  split: "val" | "test";
  accuracy: number;
  /** Half-width of the 95% confidence interval of the mean accuracy. */
  ci95: number;
  tasks: number;
  loss: number;
  elapsed: number;
  /** CPU seconds rank 0 spent on its share of the tasks (absent in older runs). */
  cpuSeconds?: number;
}

export type MetricsRecord = TrainRecord | EvalRecord;

export interface GenotypeCount {
  genotype: string; // DARTS notation
  count: number;
}

export interface Summary {
  accuracy: number;
  ci95: number;
  tasks: number;
  /** How the query sets were predicted (absent in runs of earlier versions: transductive). */
  protocol?: Protocol;
  /** Meta-learned genotype, DARTS notation, and JSON form. */
  genotype: string;
  genotypeJson: unknown;
  /** Parameters of the one-shot network, and of the pruned per-task networks. */
  params: { total: number; pruned: number };
  perTaskParams: { min: number; median: number; max: number; mean: number; values: number[] };
  /** Query accuracy of each test task, in task order (the same tasks for the same seed). */
  perTaskAccuracy?: number[];
  topGenotypes: GenotypeCount[];
  /** How many different genotypes the test tasks adapted to (searches; absent in older summaries). */
  distinctGenotypes?: number;
  /**
   * Searches: the adapted one-shot network at the final temperature without forward pruning
   * against the discrete network of each task's genotype on the same weights (mean accuracy and
   * 95% CI over the same tasks), and the discrete networks' sizes.
   */
  pruning?: {
    oneShot: { accuracy: number; ci95: number; values: number[] };
    discrete: { accuracy: number; ci95: number; values: number[] };
    discreteParams: { min: number; median: number; max: number; mean: number; values?: number[] };
    /** Mean entropy (nats) of the adapted tasks' architecture weights at the final temperature (absent in older summaries). */
    entropy?: ArchitectureEntropy;
  };
  epochs: number;
  wallSeconds: number;
  /** CPU seconds rank 0 spent meta-testing its share of the tasks (absent in older summaries). */
  testCpuSeconds?: number;
}
