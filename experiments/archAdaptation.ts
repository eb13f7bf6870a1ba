// How far meta-test adaptation moves a search's architecture: for a few test tasks, the op and
// input-pair weights before and after the meta-test's architecture steps (from the run's latest
// checkpoint), against how far apart an edge's op weights are to begin with. It tells whether a
// task's adaptation can change which op an edge keeps, which per-task pruning relies on.
//
//   node dist/experiments/archAdaptation.js RUN_DIR [--data-dir DIR] [--tasks 3] [--arch-steps 50,150]
//
// Prints per architecture tensor and per setting the mean and largest |change| over the tasks,
// and the mean spread (largest minus smallest op weight of an edge) of the meta-learned weights;
// JSON last.

import { sampleTask } from "../src/data/sampler.js";
import { Snapshot } from "../src/engine/index.js";
import { taskRng, testSettings } from "../src/evaluation/evaluate.js";
import { loadCheckpoint } from "../src/runs/checkpoint.js";
import { evalSeed } from "../src/runs/metaTest.js";
import { readRunConfig } from "../src/runs/runDir.js";
import { closeSession, evalPool, openSession, type Session, testInner } from "../src/runs/session.js";
import { adapt } from "../src/tasklearner/taskLearner.js";
import { option, runScript } from "./common.js";

const run = process.argv[2];
const o = {
  dataDir: option("data-dir"),
  tasks: Number(option("tasks", "3")),
  archSteps: option("arch-steps", "50").split(",").map(Number),
};

/** Mean over an op-weight matrix's rows (edges) of the largest minus the smallest weight. */
function meanSpread(values: number[], shape: number[]): number | null {
  if (shape.length !== 2) return null;
  const [edges, ops] = shape as [number, number];
  let sum = 0;
  for (let e = 0; e < edges; e++) {
    const row = values.slice(e * ops, (e + 1) * ops);
    sum += Math.max(...row) - Math.min(...row);
  }
  return sum / edges;
}

interface Movement {
  archSteps: number;
  /** Per architecture tensor: mean and largest |after - before| over its entries and the tasks. */
  tensors: { name: string; meanChange: number; maxChange: number }[];
}

/** The final meta-test's first tasks adapted with `archSteps` steps that all adapt the architecture. */
async function movement(s: Session, archSteps: number): Promise<Movement> {
  const c = { ...s.config, testSteps: archSteps, testArchSteps: archSteps };
  const before = s.model.arch.map((t) => t.toArray());
  const sums = before.map(() => ({ sum: 0, count: 0, max: 0 }));
  const settings = testSettings(s.model, testInner(c));
  const pool = evalPool(s, "test");
  for (let t = 0; t < o.tasks; t++) {
    const meta = Snapshot.join([new Snapshot([...s.model.weights, ...s.model.arch]), s.opt.snapshot()]);
    // The final meta-test's task t (its stream: evalSeed of epoch -1).
    const rng = taskRng(evalSeed(c, -1), t);
    await adapt(
      s.model,
      s.opt,
      sampleTask(pool, { ways: c.ways, shots: c.shots, queries: c.queries }, rng),
      settings,
      rng,
    );
    s.model.arch.forEach((x, i) =>
      x.toArray().forEach((v, j) => {
        const d = Math.abs(v - before[i]![j]!);
        sums[i]!.sum += d;
        sums[i]!.count += 1;
        sums[i]!.max = Math.max(sums[i]!.max, d);
      }),
    );
    meta.restore();
    meta.dispose();
  }
  return {
    archSteps,
    tensors: sums.map((m, i) => ({ name: s.model.archNames[i]!, meanChange: m.sum / m.count, maxChange: m.max })),
  };
}

/** Per op-weight tensor, the mean spread of the meta-learned weights over its edges. */
function metaSpread(s: Session): { name: string; meanSpread: number }[] {
  return s.model.arch.flatMap((t, i) => {
    const spread = meanSpread(t.toArray(), t.shape);
    return spread === null ? [] : [{ name: s.model.archNames[i]!, meanSpread: spread }];
  });
}

runScript(async () => {
  if (!run) throw new Error("archAdaptation: name a run directory written by metanas search");
  const c = { ...readRunConfig(run), ...(o.dataDir ? { dataDir: o.dataDir } : {}) };
  const s = await openSession(c, () => {});
  try {
    loadCheckpoint(run, c, s.model, s.opt, s.learner);
    const spread = metaSpread(s);
    for (const x of spread) console.log(`${x.name}: meta-learned spread per edge ${x.meanSpread.toFixed(4)}`);
    const settings: Movement[] = [];
    for (const steps of o.archSteps) {
      const m = await movement(s, steps);
      for (const x of m.tensors)
        console.log(
          `${steps} architecture steps, ${x.name}: |change| mean ${x.meanChange.toFixed(4)}, largest ${x.maxChange.toFixed(4)}`,
        );
      settings.push(m);
    }
    console.log(JSON.stringify({ run, tasks: o.tasks, spread, settings }));
  } finally {
    closeSession(s);
  }
});
