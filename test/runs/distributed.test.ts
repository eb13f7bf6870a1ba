// Distributed runs over loopback: ranks equal one process adapting the same tasks, a killed rank
// stops the others with one clear line and a resumable checkpoint, mismatched configurations and
// busy ports are refused, ranks that would not fit in memory are refused, torchrun runs the CLI.
// Every run here is tiny and every rank stops by itself within a short timeout.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { withoutNproc } from "../../src/cli/launch.js";
import { loadSafetensors } from "../../src/engine/index.js";
import { chainsOfRank } from "../../src/metalearner/metaTrainer.js";
import { launchFromEnv } from "../../src/runs/distributed.js";
import type { TrainRecord } from "../../src/runs/format.js";
import { readMetrics } from "../../src/runs/runDir.js";
import { type RankJob, trainTiny } from "../helpers/distRank.js";
import { TINY_RUN_FLAGS } from "../helpers/tinyMeta.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../../..");
const cli = path.join(root, "dist/src/cli/main.js");
const tmp = mkdtempSync(path.join(os.tmpdir(), "metanas-dist-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

// Short limits, so that a test that goes wrong stops by itself.
const TIMEOUT = 20;
const baseEnv = { ...process.env, METANAS_DIST_TIMEOUT: String(TIMEOUT), OMP_NUM_THREADS: "1" };
// No process of these tests lives longer than this (ranks left without peers stop at their next
// collective, within TIMEOUT).
const LIMIT_MS = 180_000;
const bounded = { timeout: LIMIT_MS, killSignal: "SIGKILL" as const };

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}
function collect(child: ChildProcess): Promise<Exit> {
  const timer = setTimeout(() => child.kill("SIGKILL"), LIMIT_MS);
  child.on("close", () => clearTimeout(timer));
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d) => (stdout += d));
  child.stderr?.on("data", (d) => (stderr += d));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

/** Starts `size` processes as a launcher would: the standard variables, rank by rank. */
async function ranks(
  size: number,
  args: (rank: number) => string[],
  env: (rank: number) => Record<string, string> = () => ({}),
) {
  const port = await freePort();
  return Promise.all(
    Array.from({ length: size }, (_, rank) =>
      collect(
        spawn(process.execPath, args(rank), {
          cwd: tmp,
          env: {
            ...baseEnv,
            RANK: String(rank),
            WORLD_SIZE: String(size),
            LOCAL_RANK: String(rank),
            LOCAL_WORLD_SIZE: String(size),
            MASTER_ADDR: "127.0.0.1",
            MASTER_PORT: String(port),
            ...env(rank),
          },
        }),
      ),
    ),
  );
}

const metanas = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [cli, ...args], { cwd: tmp, encoding: "utf8", env: { ...baseEnv, ...env }, ...bounded });

/** Runs the rank fixture on `size` ranks and returns each rank's final meta-state. */
async function trainOnRanks(size: number, job: Omit<RankJob, "out">) {
  const out = (r: number) =>
    path.join(tmp, `state-${job.learner}${job.reference ? "-reference" : ""}-${size}-${r}.json`);
  const exits = await ranks(
    size,
    () => [path.join(here, "../helpers/distRank.js")],
    (r) => ({ METANAS_TEST_RANK: JSON.stringify({ ...job, out: out(r) }) }),
  );
  for (const e of exits) assert.equal(e.code, 0, e.stderr);
  return Array.from({ length: size }, (_, r) => JSON.parse(readFileSync(out(r), "utf8")));
}

const flat = (xs: number[][]) => xs.flat();
function assertClose(got: number[], want: number[], tol: number, what: string) {
  assert.equal(got.length, want.length);
  got.forEach((v, i) =>
    assert.ok(Math.abs(v - want[i]!) <= tol * (1 + Math.abs(want[i]!)), `${what}[${i}]: ${v} vs ${want[i]}`),
  );
}

describe("ranks against one process", () => {
  it("splits a meta-batch into chains of consecutive tasks, consecutive chains per rank", () => {
    assert.deepEqual(chainsOfRank(10, 4, 0, 4), [[0, 1]]);
    assert.deepEqual(chainsOfRank(10, 4, 1, 4), [[2, 3, 4]]);
    assert.deepEqual(chainsOfRank(4, 4, 1, 2), [[2], [3]]);
    assert.deepEqual(chainsOfRank(3, 1, 0, 1), [[0, 1, 2]]);
    assert.throws(() => chainsOfRank(2, 3, 0, 3), /cannot be spread as 3 optimiser chain\(s\) over 3 rank/);
  });

  // Each learner; and REPTILE with the reference code's architecture gradient and a meta-level scale.
  const jobs = [
    ["reptile", { learner: "reptile", metaBatch: 2, epochs: 3 }],
    ["fomaml", { learner: "fomaml", metaBatch: 2, epochs: 3 }],
    ["reptile, reference gradient, meta-level scale", { learner: "reptile", metaBatch: 2, epochs: 3, reference: true }],
  ] as const;
  for (const [label, job] of jobs) {
    it(`2 ranks give bit for bit the meta-state of one process adapting the same tasks with the same chains (${label})`, async () => {
      const [r0, r1] = await trainOnRanks(2, job);
      const one = await trainTiny({ ...job, out: "" }, null, 2);
      // Exact: each task is adapted alike, and a sum of two terms does not depend on their order.
      assert.deepEqual(r0.params, one.params);
      assert.deepEqual(r0.moments, one.moments);
      assert.deepEqual(r0.steps, one.steps);
      assert.deepEqual(r0.metrics, one.metrics);
      assert.deepEqual(r1.params, r0.params, "every rank holds the same meta-state");
      assert.deepEqual(r1.moments, r0.moments);
      // And the chains matter: one chain through both tasks (the reference, one process) differs.
      const chained = await trainTiny({ ...job, out: "" }, null, 1);
      assert.notDeepEqual(chained.params, one.params);
      // The options change what is learnt.
      if ("reference" in job) {
        const live = await trainTiny({ ...job, reference: false, out: "" }, null, 2);
        assert.notDeepEqual(live.params, one.params);
      }
    });
  }

  it("4 ranks oversubscribed on 2 cores match one process with 4 chains up to float rounding", async () => {
    const job = { learner: "reptile" as const, metaBatch: 4, epochs: 2 };
    const states = await trainOnRanks(4, job);
    const one = await trainTiny({ ...job, out: "" }, null, 4);
    // Sums of four terms are added in another order by the ring all-reduce: equal to rounding.
    assertClose(flat(states[0].params), flat(one.params), 1e-5, "meta-parameter");
    assertClose(flat(states[0].moments), flat(one.moments), 1e-5, "Adam moment");
    assert.deepEqual(states[0].steps, one.steps);
    for (const s of states.slice(1))
      assert.deepEqual(s.params, states[0].params, "every rank holds the same meta-state");
  });

  it("a collective that a rank does not answer fails within the timeout, naming that rank", async () => {
    const out = path.join(tmp, "silent.json");
    const job = { out, learner: "reptile", metaBatch: 2, epochs: 1, mode: "silent" };
    await ranks(
      2,
      () => [path.join(here, "../helpers/distRank.js")],
      () => ({ METANAS_DIST_TIMEOUT: "2", METANAS_TEST_RANK: JSON.stringify(job) }),
    );
    const { error, seconds } = JSON.parse(readFileSync(out, "utf8"));
    assert.match(error, /^rank 1 did not answer the all-reduce of meta-epoch 1 \(no answer within 2 s\)/);
    assert.ok(seconds >= 1.9 && seconds < 6, `gave up after ${seconds} s`);
  });

  it("a rank killed half-way through a checkpoint: rank 0 stops when its connection closes, not at the timeout", async () => {
    // Rank 1 has received the checkpoint's tensors and dies before the rest; rank 0, which only
    // sends in a broadcast, must notice it by the next meta-epoch's all-reduce.
    const out = path.join(tmp, "lost-checkpoint");
    const job: RankJob = {
      out,
      learner: "reptile",
      metaBatch: 2,
      epochs: 1,
      mode: "lost",
      lost: 1,
      call: "checkpoint",
    };
    const exits = await ranks(
      2,
      () => [path.join(here, "../helpers/distRank.js")],
      () => ({ METANAS_DIST_TIMEOUT: "8", METANAS_TEST_RANK: JSON.stringify(job) }),
    );
    assert.equal(exits[0]!.code, 0, exits[0]!.stderr);
    const { error, seconds } = JSON.parse(readFileSync(`${out}.0`, "utf8"));
    assert.match(
      error,
      /^rank 1 did not answer (the checkpoint at meta-epoch 1|the all-reduce of meta-epoch 2) \(its connection closed after [\d.]+ s\): stopped, or cannot be reached$/,
    );
    assert.ok(seconds < 2, `rank 0 gave up after ${seconds} s`);
  });
});

const tiny = ["--preset", "quick", ...TINY_RUN_FLAGS, "--test-tasks", "4"];

describe("the CLI on several ranks", () => {
  it("search --nproc 2 writes one run directory; eval --nproc 2 meta-tests task for task like one process", () => {
    const r = metanas(["search", ...tiny, "--epochs", "2", "--out", "two", "--nproc", "2", "--json"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /metanas: 2 ranks on this machine, about [\d.]+ GB each/);
    const last = JSON.parse(r.stdout.trim().split("\n").pop()!);
    assert.equal(last.tasks, 4);
    assert.equal(r.stdout.trim().split("\n").length, 1, "only rank 0 prints the result");
    const train = readMetrics(path.join(tmp, "two")).filter((m): m is TrainRecord => m.kind === "train");
    assert.deepEqual(
      train.map((m) => [m.epoch, (m as TrainRecord & { ranks?: number }).ranks]),
      [
        [1, 2],
        [2, 2],
      ],
    );
    // Each rank's own times reach rank 0's metrics: both ranks adapted tasks and spent CPU on them,
    // the phases fit inside the rank's wall time, and the barrier's wait is what rank 0 lacked.
    for (const m of train) {
      assert.equal(m.rankTimes?.length, 2);
      for (const t of m.rankTimes!) {
        assert.ok(t.cpuSeconds > 0 && t.weightSteps > 0 && t.predictions > 0, JSON.stringify(t));
        assert.ok(t.tasks + t.archSteps + t.weightSteps + t.predictions <= t.seconds + 1e-6, JSON.stringify(t));
      }
      assert.ok(m.rankTimes![0]!.seconds <= m.seconds, JSON.stringify(m));
    }
    const alone = metanas(["eval", "two", "--json"]);
    const spread = metanas(["eval", "two", "--nproc", "2", "--json"]);
    assert.equal(alone.status, 0, alone.stderr);
    assert.equal(spread.status, 0, spread.stderr);
    const a = JSON.parse(alone.stdout.trim());
    const b = JSON.parse(spread.stdout.trim());
    assert.equal(b.accuracy, a.accuracy);
    assert.equal(b.accuracy, last.accuracy, "the run's own meta-test drew the same tasks");
    assert.deepEqual(b.params, a.params);
    // Stopped after one meta-epoch and resumed on 2 ranks: the same run.
    assert.equal(metanas(["search", ...tiny, "--epochs", "1", "--out", "resumed", "--nproc", "2"]).status, 0);
    const resumed = metanas(["search", "--resume", "resumed", "--epochs", "2", "--nproc", "2", "--json"]);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.equal(JSON.parse(resumed.stdout.trim()).accuracy, last.accuracy);
    const state = (dir: string) => {
      const { tensors, metadata } = loadSafetensors(path.join(tmp, dir, "checkpoint.safetensors"));
      const values = Object.fromEntries([...tensors].map(([k, t]) => [k, Array.from(t.data())]));
      for (const t of tensors.values()) t.dispose();
      return { values, steps: metadata.steps, epoch: metadata.epoch };
    };
    assert.deepEqual(state("resumed"), state("two"));
  });

  it("a killed rank stops the others with one clear line; the checkpoint resumes", async () => {
    const dir = path.join(tmp, "killed");
    const launcher = spawn(
      process.execPath,
      [cli, "search", ...tiny, "--epochs", "400", "--checkpoint-every", "1", "--out", dir, "--nproc", "2"],
      { cwd: tmp, env: baseEnv },
    );
    const done = collect(launcher);
    const metrics = path.join(dir, "metrics.jsonl");
    const trained = () => (existsSync(metrics) ? readMetrics(dir).filter((m) => m.kind === "train").length : 0);
    for (let i = 0; i < 600 && trained() < 2; i++) await new Promise((r) => setTimeout(r, 100));
    // Rank 1: the launcher's child whose RANK is 1.
    const children = spawnSync("pgrep", ["-P", String(launcher.pid)], { encoding: "utf8" })
      .stdout.trim()
      .split("\n")
      .map(Number);
    const rank1 = children.find((pid) => readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes("RANK=1"));
    assert.ok(rank1, "rank 1 found");
    const killedAt = performance.now();
    process.kill(rank1, "SIGKILL");
    const { code, stderr } = await done;
    const seconds = (performance.now() - killedAt) / 1000;
    assert.equal(code, 1, stderr);
    assert.ok(seconds < TIMEOUT, `the others stopped ${seconds} s after the kill`);
    const lines = stderr.trim().split("\n");
    const failure = lines.filter((l) => l.startsWith("metanas: rank 1 did not answer"));
    assert.equal(failure.length, 1, stderr);
    // The kill lands in whichever of a meta-epoch's collectives is under way (with a checkpoint every
    // meta-epoch: the all-reduce, the stop check or the checkpoint's broadcast); each must give this line.
    assert.match(
      failure[0]!,
      /^metanas: rank 1 did not answer (the all-reduce of|the stop check of|the checkpoint at) meta-epoch \d+ \(.*\): stopped, or cannot be reached; the checkpoint in .*killed \(meta-epoch (\d+)\) is intact: continue with metanas search --resume .*killed, launched the same way \(2 ranks\)$/,
    );
    assert.ok(lines.includes("metanas: rank 1 was ended by SIGKILL"), stderr);
    const saved = Number(/\(meta-epoch (\d+)\) is intact/.exec(failure[0]!)![1]);
    const { metadata, tensors } = loadSafetensors(path.join(dir, "checkpoint.safetensors"));
    for (const t of tensors.values()) t.dispose();
    assert.equal(Number(metadata.epoch), saved);
    assert.equal(metadata.world, "2");
    // Same world size: continues where the checkpoint stands.
    const resumed = metanas(["search", "--resume", dir, "--epochs", String(saved + 1), "--nproc", "2", "--json"]);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stderr, new RegExp(`resuming .*killed at meta-epoch ${saved} of ${saved + 1}`));
    assert.deepEqual(
      readMetrics(dir)
        .filter((m) => m.kind === "train")
        .map((m) => m.epoch),
      Array.from({ length: saved + 1 }, (_, i) => i + 1),
    );
    // Another world size: continues, and says what that means.
    const alone = metanas(["search", "--resume", dir, "--epochs", String(saved + 2), "--test-tasks", "1"]);
    assert.equal(alone.status, 0, alone.stderr);
    assert.match(alone.stderr, /meta-trained by 2 rank\(s\) and continues with 1: .* differs slightly/);
  });

  it("refuses a rank started with another configuration at the rendezvous, before writing anything", async () => {
    const exits = await ranks(2, (rank) => [
      cli,
      "search",
      ...tiny,
      "--epochs",
      "1",
      "--seed",
      String(rank + 1),
      "--out",
      "mismatch",
    ]);
    assert.deepEqual(
      exits.map((e) => e.code),
      [1, 1],
    );
    assert.match(
      exits[0]!.stderr.trim().split("\n").pop()!,
      /^metanas: rank 1 was started with another configuration than rank 0 \(config hash [0-9a-f]{12} vs [0-9a-f]{12}\): start every rank with the same command, settings and world size$/,
    );
    assert.equal(exits[1]!.stderr.trim(), "", "the same failure is said once per machine");
    assert.ok(!existsSync(path.join(tmp, "mismatch")), "no run directory");
    // Ranks that take different paths (rank 0 resumes, rank 1 starts anew) meet at different steps.
    const paths = await ranks(2, (rank) =>
      rank === 0 ? [cli, "search", "--resume", "two"] : [cli, "search", ...tiny, "--epochs", "1", "--out", "mismatch"],
    );
    assert.deepEqual(
      paths.map((e) => e.code),
      [1, 1],
    );
    assert.match(
      paths[0]!.stderr.trim().split("\n").pop()!,
      /^metanas: rank 1 reached the configuration check where rank 0 reached sending the run's configuration: the ranks were started differently/,
    );
  });

  it("names a busy port, for --nproc and for rank 0 serving the rendezvous", async () => {
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, () => r()));
    const port = String((busy.address() as net.AddressInfo).port);
    try {
      const launched = metanas(["search", ...tiny, "--epochs", "1", "--out", "busy", "--nproc", "2"], {
        MASTER_PORT: port,
        METANAS_MEMORY_CHECK: "off",
      });
      assert.equal(launched.status, 1);
      assert.equal(
        launched.stderr.trim(),
        `metanas: port ${port} (MASTER_PORT) is already in use on this machine: choose another MASTER_PORT, or unset it and --nproc picks a free port`,
      );
      const alone = spawnSync(process.execPath, [cli, "search", ...tiny, "--epochs", "1", "--out", "busy"], {
        ...bounded,
        cwd: tmp,
        encoding: "utf8",
        env: { ...baseEnv, RANK: "0", WORLD_SIZE: "2", MASTER_ADDR: "127.0.0.1", MASTER_PORT: port },
      });
      assert.equal(alone.status, 1);
      assert.match(
        alone.stderr.trim().split("\n").pop()!,
        new RegExp(
          `^metanas: port ${port} \\(MASTER_PORT\\) is already in use on this machine, so rank 0 cannot serve the rendezvous there: choose another MASTER_PORT$`,
        ),
      );
      assert.ok(!existsSync(path.join(tmp, "busy")));
    } finally {
      busy.close();
    }
  });

  it("refuses local ranks that would not fit in memory, with the estimate and the most that fit", () => {
    // Enormous batches: one pass at batch 2 and 4 is cheap, the scaled estimate is not.
    const r = metanas([
      "search",
      ...tiny,
      "--channels",
      "16",
      "--batch-size",
      "2000000",
      "--epochs",
      "1",
      "--out",
      "huge",
      "--nproc",
      "2",
    ]);
    assert.equal(r.status, 1);
    assert.match(
      r.stderr.trim(),
      /^metanas: 2 ranks would need about 2 x [\d.]+ GB = [\d.]+ GB of memory \(measured with one forward and backward pass at batch 2 and 4, scaled to batch 2000000\), but [\d.]+ GB is available: (use --nproc 1 \(the most that fit\)|even one rank may not fit: .*), or spread the ranks over machines \(docs\/distributed.md\)/,
    );
    assert.ok(!existsSync(path.join(tmp, "huge")));
  });

  const python = "/usr/bin/python3";
  const hasTorch = spawnSync(python, ["-c", "import torch.distributed.run"]).status === 0;
  it("runs unchanged under torchrun --no_python, with the result of --nproc 2", {
    skip: hasTorch ? false : `skipped: ${python} with torch (Debian's python3-torch) is absent`,
  }, async () => {
    // --redirects/--tee: torchrun 1.13 under Python 3.11 fails to parse their defaults. A free port,
    // not torchrun's default 29500, which another test run on the machine may hold.
    const port = `--master_port=${await freePort()}`;
    const r = spawnSync(
      python,
      [
        "-m",
        "torch.distributed.run",
        "--redirects",
        "2",
        "--tee",
        "2",
        port,
        "--no_python",
        "--nproc_per_node=2",
      ].concat([process.execPath, cli, "search", ...tiny, "--epochs", "2", "--out", "torchrun", "--json"]),
      { cwd: tmp, encoding: "utf8", env: baseEnv, ...bounded },
    );
    assert.equal(r.status, 0, r.stderr);
    const viaTorchrun = JSON.parse(r.stdout.trim().split("\n").pop()!);
    const viaNproc = JSON.parse(readFileSync(path.join(tmp, "two", "summary.json"), "utf8"));
    assert.equal(viaTorchrun.accuracy, viaNproc.accuracy, "same ranks, same result");
    assert.ok(readdirSync(path.join(tmp, "torchrun")).includes("checkpoint.safetensors"));
  });
});

describe("launch settings", () => {
  it("reads the standard variables as torch.distributed does", () => {
    assert.equal(launchFromEnv({}), null);
    assert.equal(launchFromEnv({ WORLD_SIZE: "1" }), null);
    const l = launchFromEnv({
      WORLD_SIZE: "4",
      RANK: "2",
      LOCAL_RANK: "0",
      LOCAL_WORLD_SIZE: "2",
      MASTER_ADDR: "node0",
      MASTER_PORT: "29500",
    })!;
    assert.deepEqual(
      [l.rank, l.size, l.localRank, l.localSize, l.addr, l.port, l.agentStore, l.prefix],
      [2, 4, 0, 2, "node0", 29500, false, ""],
    );
    const agent = launchFromEnv({
      WORLD_SIZE: "2",
      RANK: "0",
      MASTER_ADDR: "a",
      MASTER_PORT: "1",
      TORCHELASTIC_USE_AGENT_STORE: "True",
      TORCHELASTIC_RESTART_COUNT: "3",
    })!;
    assert.deepEqual([agent.agentStore, agent.prefix], [true, "/worker/attempt_3"]);
    assert.throws(
      () => launchFromEnv({ WORLD_SIZE: "2", RANK: "0" }),
      /WORLD_SIZE=2 needs MASTER_ADDR and MASTER_PORT .* use --nproc 2/,
    );
    assert.throws(
      () => launchFromEnv({ WORLD_SIZE: "2", RANK: "2", MASTER_ADDR: "a", MASTER_PORT: "1" }),
      /RANK=2 is not valid: it must be an integer from 0 to 1/,
    );
    assert.throws(() => launchFromEnv({ WORLD_SIZE: "2", MASTER_ADDR: "a", MASTER_PORT: "1" }), /RANK is not set/);
  });

  it("accepts and ignores the local-rank argument that torch.distributed.launch appends", () => {
    for (const extra of [["--local_rank=1"], ["--local-rank", "1"]]) {
      const r = metanas(["inspect", "--json", ...extra]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).channels, 28);
    }
  });

  it("gives the ranks the command line without --nproc", () => {
    assert.deepEqual(withoutNproc(["search", "--nproc", "2", "--ways", "5", "--nproc=3"]), ["search", "--ways", "5"]);
  });
});
