// One rank of the distributed tests (test/runs/distributed.test.ts starts it with RANK, WORLD_SIZE,
// MASTER_ADDR, MASTER_PORT and METANAS_TEST_RANK set; it is no test itself and does nothing
// without them). It meta-trains the tiny one-shot network on the toy pool with the process group,
// then writes its meta-state as JSON; or, in "silent" mode, rank 1 joins and then never answers; or,
// in "lost" mode, rank `lost` dies (SIGKILL) once the ranks are connected while the others, rank
// `slow` a while later than the rest, meet in an all-reduce, an exchange or a checkpoint's transfer
// of rank 0's state (which rank `lost` leaves half-way) and write what it said.
import { writeFileSync } from "node:fs";
import * as E from "../../src/engine/index.js";
import { FirstOrderMaml } from "../../src/metalearner/fomaml.js";
import type { MetaLearner } from "../../src/metalearner/metaLearner.js";
import { metaEpoch } from "../../src/metalearner/metaTrainer.js";
import { Reptile } from "../../src/metalearner/reptile.js";
import type { MetaModel } from "../../src/models/model.js";
import { connectPeers, launchFromEnv, rendezvous, stateFromRoot } from "../../src/runs/distributed.js";
import { exact, metaTrain, tinySearchModel, toyPool } from "./tinyMeta.js";

export interface RankJob {
  out: string;
  learner: "reptile" | "fomaml";
  metaBatch: number;
  epochs: number;
  mode?: "train" | "silent" | "lost";
  /** "lost" mode: the rank that dies, a rank that arrives `slowMs` late, and where the others meet. */
  lost?: number;
  slow?: number;
  slowMs?: number;
  call?: "all-reduce" | "exchange" | "checkpoint";
  /** The reference code's architecture gradient and a meta-level temperature scale. */
  reference?: boolean;
}

export const learnerFor = (name: RankJob["learner"], model: MetaModel): MetaLearner =>
  name === "reptile" ? new Reptile(1.0, 0.6) : new FirstOrderMaml(model, 0.01, 0.01);

export const settingsFor = (job: RankJob) =>
  metaTrain({
    metaBatch: job.metaBatch,
    warmup: 1,
    seed: 7,
    ...(job.reference ? { epochs: job.epochs, scale: { min: 0.1, epochs: 0, schedule: "geometric" as const } } : {}),
  });

/** Meta-trains from the same initial state in any process; the group (or the chains) decides the split. */
export async function trainTiny(job: RankJob, group: E.ProcessGroup | null, optimizerChains?: number) {
  E.setNumThreads(1);
  E.manualSeed(3);
  const { model, opt } = tinySearchModel(job.reference ? "initial" : "live");
  const learner = learnerFor(job.learner, model);
  const pool = toyPool(5, 6);
  const results = [];
  for (let e = 0; e < job.epochs; e++)
    results.push(await metaEpoch(e, model, opt, learner, pool, { ...settingsFor(job), optimizerChains }, group));
  const state = {
    params: exact([...model.weights, ...model.arch]),
    moments: exact(opt.moments()),
    steps: opt.steps,
    metrics: results.map((r) => [r.loss, r.accuracy]),
  };
  learner.dispose();
  opt.dispose();
  model.dispose();
  return state;
}

const spec = process.env.METANAS_TEST_RANK;
if (spec) {
  const job = JSON.parse(spec) as RankJob;
  const launch = launchFromEnv()!;
  const group = await rendezvous(launch);
  await connectPeers(group, launch);
  if (job.mode === "lost") {
    // Connected on every rank (an exchange keeps nothing in flight between the ranks) before one dies.
    await group.exchange("the start", "");
    const t = E.zeros([3]);
    if (launch.rank === job.lost) {
      // "checkpoint": it receives the checkpoint's tensors, then dies before the rest of it.
      if (job.call === "checkpoint") await group.broadcast([t], 0, "the checkpoint at meta-epoch 1");
      process.kill(process.pid, "SIGKILL");
    }
    if (launch.rank === job.slow) await new Promise((r) => setTimeout(r, job.slowMs ?? 0));
    const t0 = performance.now();
    let error = "";
    try {
      if (job.call === "exchange") await group.exchange("the exchange of meta-epoch 1", "x");
      else if (job.call === "checkpoint") {
        await stateFromRoot(group, [t], "{}", "the checkpoint at meta-epoch 1");
        await group.allReduceSum([t], "the all-reduce of meta-epoch 2");
      } else await group.allReduceSum([t], "the all-reduce of meta-epoch 1");
    } catch (err) {
      error = (err as Error).message;
    }
    writeFileSync(`${job.out}.${launch.rank}`, JSON.stringify({ error, seconds: (performance.now() - t0) / 1000 }));
    process.exit(0);
  }
  if (job.mode === "silent") {
    if (launch.rank === 1) await new Promise((r) => setTimeout(r, (launch.timeoutSeconds + 5) * 1000));
    else {
      const t = E.zeros([3]);
      const t0 = performance.now();
      try {
        await group.allReduceSum([t], "the all-reduce of meta-epoch 1");
      } catch (err) {
        writeFileSync(
          job.out,
          JSON.stringify({ error: (err as Error).message, seconds: (performance.now() - t0) / 1000 }),
        );
      }
    }
    process.exit(0);
  }
  const state = await trainTiny(job, group);
  writeFileSync(job.out, JSON.stringify({ rank: launch.rank, ...state }));
  await group.barrier("the end of the test");
  group.destroy();
}
