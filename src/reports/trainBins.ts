// Long runs log one meta-training line per meta-epoch (100,000 for REPTILE's Omniglot run): drawn
// as they are, the curve is a solid band and its SVG megabytes. Above MAX_TRAIN_POINTS lines, the
// curves draw the mean of each block of consecutive meta-epochs at the block's last meta-epoch.
import type { EntropyRecord, MetricsRecord, TrainRecord } from "./records.js";

export const MAX_TRAIN_POINTS = 500;

/** The mean of the finite values, or null when there are none. */
function meanOf(values: (number | null | undefined)[]): number | null {
  const xs = values.filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  return xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length;
}

function meanRecord(block: TrainRecord[]): TrainRecord {
  const last = block[block.length - 1]!;
  const entropy = (k: keyof EntropyRecord) => meanOf(block.map((r) => r.entropy?.[k]));
  return {
    ...last,
    loss: meanOf(block.map((r) => r.loss)),
    accuracy: meanOf(block.map((r) => r.accuracy)),
    temperature: meanOf(block.map((r) => r.temperature)),
    entropy: {
      normalOps: entropy("normalOps"),
      normalPairs: entropy("normalPairs"),
      reduceOps: entropy("reduceOps"),
      reducePairs: entropy("reducePairs"),
    },
  };
}

/**
 * The records with meta-training lines averaged in blocks when there are more than `max` of them
 * (evaluations kept as they are), and the block length (1: unchanged).
 */
export function binTrainRecords(
  records: MetricsRecord[],
  max = MAX_TRAIN_POINTS,
): { records: MetricsRecord[]; block: number } {
  const trains = records.filter((r): r is TrainRecord => r.kind === "train").length;
  if (trains <= max) return { records, block: 1 };
  const block = Math.ceil(trains / max);
  const out: MetricsRecord[] = [];
  let pending: TrainRecord[] = [];
  for (const r of records) {
    if (r.kind !== "train") {
      out.push(r);
      continue;
    }
    pending.push(r);
    if (pending.length === block) {
      out.push(meanRecord(pending));
      pending = [];
    }
  }
  if (pending.length > 0) out.push(meanRecord(pending));
  return { records: out, block };
}

/** The meta-train series' name: "meta-train query", or the block length when averaged. */
export const trainSeriesName = (block: number) =>
  block > 1 ? `meta-train, mean of ${block.toLocaleString("en-US")}` : "meta-train query";
