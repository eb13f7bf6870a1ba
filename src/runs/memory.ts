// Will N ranks of a run fit in this machine's memory together? The estimate is measured, not
// guessed: a probe process loads the run's data and model and runs a forward and backward pass at
// two small batch sizes; the peak grows about linearly with the batch, so it is scaled to the
// largest batch the run takes gradients on.
import { execFile } from "node:child_process";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { RunConfig } from "./config.js";

export interface MemoryEstimate {
  /** Peak resident memory of one rank, in bytes. */
  perRank: number;
  /** How it was found, for messages. */
  how: string;
}

/** Measures the peak memory of one rank of this run (a probe process; a few seconds at most for the paper's sizes). */
export async function estimateRankMemory(c: RunConfig): Promise<MemoryEstimate> {
  const probe = fileURLToPath(new URL("./memoryProbe.js", import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, [probe, JSON.stringify(c)], {
    env: { ...process.env, OMP_NUM_THREADS: "1" },
    maxBuffer: 1 << 20,
  });
  const { batches, peaks } = JSON.parse(stdout.trim().split("\n").pop()!) as { batches: number[]; peaks: number[] };
  const [b1, b2] = batches as [number, number];
  const [m1, m2] = peaks as [number, number];
  const perSample = Math.max(0, (m2 - m1) / (b2 - b1));
  const batch = Math.max(c.batchSize, c.testBatchSize);
  return {
    perRank: m2 + perSample * Math.max(0, batch - b2),
    how: `measured with one forward and backward pass at batch ${b1} and ${b2}, scaled to batch ${batch}`,
  };
}

/** Memory this machine can still give (MemAvailable), within the container's limit if there is one. */
export function availableMemory(): number {
  const limit = process.constrainedMemory?.() ?? 0;
  const free = os.freemem();
  return limit > 0 ? Math.min(free, Math.max(0, limit - process.memoryUsage.rss())) : free;
}

export const gigabytes = (bytes: number) => `${(bytes / 1e9).toFixed(1)} GB`;
