// A meta-test worker: rebuilds the run's session, loads the meta-parameters from a snapshot and
// adapts the test tasks it is sent, one at a time.
import { parentPort, workerData } from "node:worker_threads";
import { evaluateTasks } from "../evaluation/evaluate.js";
import { loadCheckpoint } from "./checkpoint.js";
import type { RunConfig } from "./config.js";
import { type EvalSplit, evalPool, openSession, testInner } from "./session.js";

interface WorkerInput {
  config: RunConfig;
  snapshotDir: string;
  split: EvalSplit;
  seed: number;
}

const { config, snapshotDir, split, seed } = workerData as WorkerInput;
const port = parentPort!;
const session = await openSession({ ...config, threads: 1 }, () => {});
loadCheckpoint(snapshotDir, config, session.model, session.opt, session.learner);
const pool = evalPool(session, split);
const spec = { ways: config.ways, shots: config.shots, queries: config.queries };

port.on("message", async (t: number | null) => {
  if (t === null) {
    port.close();
    return;
  }
  try {
    const [result] = await evaluateTasks(session.model, session.opt, pool, spec, testInner(config), [t], seed);
    port.postMessage({ t, result });
  } catch (err) {
    port.postMessage({ t, error: err instanceof Error ? err.message : String(err) });
  }
});
port.postMessage({ ready: true });
