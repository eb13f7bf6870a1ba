// Meta-testing spread over worker threads, one libtorch thread each: test tasks are independent
// (each starts from the meta-parameters), so k workers take about 1/k of the time. Every task
// has its own random stream, so the result is the same for any number of workers.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { aggregate, type EvaluationResult, type TaskResult } from "../evaluation/evaluate.js";
import { Rng } from "../util/rng.js";
import { saveCheckpoint } from "./checkpoint.js";
import type { EvalSplit, Session } from "./session.js";

export async function evaluateInWorkers(
  s: Session,
  split: EvalSplit,
  numTasks: number,
  seed: number,
  workers: number,
  onTask?: (done: number, meanAccuracy: number) => void,
): Promise<EvaluationResult> {
  const snapshotDir = mkdtempSync(path.join(os.tmpdir(), "metanas-eval-"));
  const pool: Worker[] = [];
  try {
    // The snapshot is a checkpoint: meta-parameters and task-optimiser state, read by each worker.
    saveCheckpoint(snapshotDir, s.config, 0, s.model, s.opt, s.learner, new Rng(0));
    const results: TaskResult[] = new Array(numTasks);
    let next = 0;
    let done = 0;
    let sum = 0;
    await new Promise<void>((resolve, reject) => {
      const count = Math.min(workers, numTasks);
      let finished = 0;
      for (let k = 0; k < count; k++) {
        const w = new Worker(new URL("./evalWorker.js", import.meta.url), {
          workerData: { config: s.config, snapshotDir, split, seed },
        });
        pool.push(w);
        const feed = () => w.postMessage(next < numTasks ? next++ : null);
        w.on("message", (m: { ready?: boolean; t?: number; result?: TaskResult; error?: string }) => {
          if (m.error !== undefined) {
            reject(new Error(`meta-test task ${m.t}: ${m.error}`));
            return;
          }
          if (m.result && m.t !== undefined) {
            results[m.t] = m.result;
            done += 1;
            sum += m.result.accuracy;
            onTask?.(done, sum / done);
          }
          feed();
        });
        w.on("error", reject);
        w.on("exit", () => {
          finished += 1;
          if (finished === count) done === numTasks ? resolve() : reject(new Error("a meta-test worker stopped early"));
        });
      }
    });
    return aggregate(results);
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
    rmSync(snapshotDir, { recursive: true, force: true });
  }
}
