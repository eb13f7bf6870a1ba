// Faults with more than two ranks: three hosts (three network namespaces on one bridge,
// test/helpers/bridgedHosts.ts), one rank each, launched by hand with the standard variables. With
// two ranks a failed collective can only blame the other one; with three, the survivors must find
// which rank is gone. A link cut on one host while the ranks train, and one rank killed: every rank
// stops within the timeout, the survivors with one line naming the lost rank and its address, rank
// 0's checkpoint is intact, and the resumed run ends with the meta-state and meta-test of a run that
// was never interrupted (--nproc 3 on one host), bit for bit. Every process and every wait is bounded.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { loadSafetensors } from "../../src/engine/index.js";
import type { Summary } from "../../src/runs/format.js";
import { hostLabels, type NetFacts } from "../../src/runs/peerNetwork.js";
import { readMetrics } from "../../src/runs/runDir.js";
import { type BridgedHosts, bridgedHosts } from "../helpers/bridgedHosts.js";
import type { RankJob } from "../helpers/distRank.js";
import { flagsOf, TINY_RUN } from "../helpers/tinyMeta.js";
import { type Exit, IFACE } from "../helpers/twoHosts.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../../..");
const cli = path.join(root, "dist/src/cli/main.js");
const tmp = mkdtempSync(path.join(os.tmpdir(), "metanas-3hosts-"));
const RANKS = 3;
const made = bridgedHosts(RANKS);
const skip = "skip" in made ? made.skip : false;
const net = "hosts" in made ? made.hosts : (null as unknown as BridgedHosts);
after(() => {
  net?.teardown();
  rmSync(tmp, { recursive: true, force: true });
});

// A short collective timeout, so that faults end the runs within seconds.
const TIMEOUT = 5;
const LIMIT_MS = 150_000;
const base = { ...process.env, OMP_NUM_THREADS: "1", METANAS_DIST_TIMEOUT: String(TIMEOUT) };
// The tiny run, one task per rank; long enough that a fault lands well before its end.
const EPOCHS = 24;
const tiny = ["--preset", "quick", ...flagsOf({ ...TINY_RUN, metaBatch: RANKS }), "--test-tasks", "3"];
const search = (out: string) => [
  cli,
  "search",
  ...tiny,
  "--epochs",
  String(EPOCHS),
  "--checkpoint-every",
  "1",
  "--out",
  out,
];
let nextPort = 29600;

/** One rank per host, with the standard variables typed by hand (docs/distributed.md). */
function byHand(args: string[]) {
  const port = String(nextPort++);
  return net.hosts.map((_, rank) =>
    net.start(
      rank,
      [process.execPath, ...args],
      {
        ...base,
        RANK: String(rank),
        WORLD_SIZE: String(RANKS),
        MASTER_ADDR: net.hosts[0]!.addr,
        MASTER_PORT: port,
        GLOO_SOCKET_IFNAME: IFACE,
      },
      tmp,
      LIMIT_MS,
    ),
  );
}

const lastLine = (e: Exit) => e.stderr.trim().split("\n").pop() ?? "";
const metanasLines = (e: Exit) => e.stderr.split("\n").filter((l) => l.startsWith("metanas:"));
/** The meta-epoch of the run's checkpoint (0: none yet), from the file's header alone. */
function checkpointEpoch(dir: string): number {
  const file = path.join(dir, "checkpoint.safetensors");
  if (!existsSync(file)) return 0;
  const bytes = readFileSync(file);
  const length = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + length).toString("utf8"));
  return Number(header.__metadata__?.epoch ?? 0);
}

async function until(test: () => boolean, what: string, ms = 90_000) {
  const end = performance.now() + ms;
  while (!test()) {
    if (performance.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** CPU time (clock ticks) a process has used, all its threads together. */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]); // utime, stime
}

/** Until every process idles (waits for another rank): at most a tick of CPU time in 0.4 s. */
async function waiting(pids: number[], ms = 30_000) {
  const end = performance.now() + ms;
  let before = pids.map(cpuTicks);
  for (;;) {
    await new Promise((r) => setTimeout(r, 400));
    const now = pids.map(cpuTicks);
    if (now.every((t, k) => t - before[k]! <= 1)) return;
    if (performance.now() > end) throw new Error(`ranks ${pids.join(", ")} never waited`);
    before = now;
  }
}

/** Everything that defines a run's meta-state, and its meta-test: what must match bit for bit. */
function runState(dir: string) {
  const { tensors, metadata } = loadSafetensors(path.join(tmp, dir, "checkpoint.safetensors"));
  const values = Object.fromEntries([...tensors].map(([k, t]) => [k, Array.from(t.data())]));
  for (const t of tensors.values()) t.dispose();
  const s = JSON.parse(readFileSync(path.join(tmp, dir, "summary.json"), "utf8")) as Summary;
  const { epoch, steps, world, learner } = metadata;
  return { values, meta: { epoch, steps, world, learner }, test: [s.accuracy, s.perTaskAccuracy] };
}

/** The meta-epoch that rank 0's line says its checkpoint holds, checked against the file. */
function savedEpoch(line: string, dir: string): number {
  const saved = Number(/\(meta-epoch (\d+)\) is intact/.exec(line)?.[1]);
  const { metadata, tensors } = loadSafetensors(path.join(dir, "checkpoint.safetensors"));
  for (const t of tensors.values()) t.dispose();
  assert.equal(Number(metadata.epoch), saved, "the checkpoint holds the meta-epoch rank 0 named");
  assert.ok(saved >= 1 && saved < EPOCHS, `saved at meta-epoch ${saved}`);
  return saved;
}

/** The same command with --resume on the three hosts: finishes the run as if never interrupted. */
async function resumeExactly(name: string, saved: number) {
  const exits = await Promise.all(byHand([cli, "search", "--resume", name]).map((r) => r.done));
  exits.forEach((e, rank) => assert.equal(e.code, 0, `rank ${rank}: ${e.stderr}`));
  assert.match(exits[0]!.stderr, new RegExp(`resuming ${name} at meta-epoch ${saved} of ${EPOCHS}`));
  assert.deepEqual(
    readMetrics(path.join(tmp, name))
      .filter((m) => m.kind === "train")
      .map((m) => m.epoch),
    Array.from({ length: EPOCHS }, (_, i) => i + 1),
  );
  assert.deepEqual(runState(name), runState("one-host"), "the resumed run equals the uninterrupted one");
}

// A rank that did not answer, as a surviving rank names it: in a collective (Gloo; the heartbeats
// tell which rank), or in an exchange through the store (its heartbeat stopped, or its key is
// missing at the timeout).
const didNotAnswer = (rank: number, addr: string) =>
  `rank ${rank} \\(on ${addr.replaceAll(".", "\\.")}\\) did not answer (the all-reduce of|the stop check of|the checkpoint at) meta-epoch \\d+ (\\((no answer within ${TIMEOUT} s|its connection closed after [\\d.]+ s|no heartbeat for [\\d.]+ s)\\): stopped, or cannot be reached|within [\\d.]+ s: stopped, or cannot reach \\S+)`;

describe("three hosts", { skip }, () => {
  before(() => {
    // The reference: --nproc 3 on one host (loopback), never interrupted.
    const r = spawnSync(process.execPath, [...search("one-host"), "--nproc", String(RANKS)], {
      cwd: tmp,
      encoding: "utf8",
      env: { ...base, METANAS_MEMORY_CHECK: "off" },
      timeout: LIMIT_MS,
      killSignal: "SIGKILL",
    });
    assert.equal(r.status, 0, r.stderr);
  });

  it("by hand, one rank per host: the meta-state of --nproc 3, bit for bit", async () => {
    const exits = await Promise.all(byHand(search("by-hand")).map((r) => r.done));
    exits.forEach((e, rank) => assert.equal(e.code, 0, `rank ${rank}: ${e.stderr}`));
    assert.deepEqual(runState("by-hand"), runState("one-host"));
  });

  it("host 2's link cut inside a collective every rank had reached: every rank stops within the timeout, ranks 0 and 1 naming rank 2 and its address; the resume is exact", async () => {
    // What names no rank from arrival alone: rank 1 is held back (SIGSTOP) until ranks 0 and 2 wait
    // for it in the meta-epoch's collectives, host 2's link is cut, and rank 1 goes on and arrives.
    const dir = path.join(tmp, "cut");
    const ranks = byHand(search("cut"));
    // Once meta-epoch 3 is saved, the ranks adapt the tasks of meta-epoch 4: rank 1 stops there.
    await until(() => checkpointEpoch(dir) >= 3, "the checkpoint of meta-epoch 3");
    const pid = (rank: number) => ranks[rank]!.child.pid!;
    process.kill(pid(1), "SIGSTOP");
    let cutAt = 0;
    let exits: Exit[];
    try {
      await waiting([pid(0), pid(2)]);
      net.link(2, false);
      cutAt = performance.now();
      process.kill(pid(1), "SIGCONT");
      exits = await Promise.all(ranks.map((r) => r.done));
    } finally {
      if (ranks[1]!.child.exitCode === null) process.kill(pid(1), "SIGCONT");
      net.link(2, true);
    }
    const seconds = exits.map((e) => (e.endedAt - cutAt) / 1000);
    console.log(`stopped ${seconds.map((s) => s.toFixed(1)).join(", ")} s after the cut; last lines:`);
    for (const e of exits) console.log(`  ${lastLine(e)}`);
    exits.forEach((e, rank) => {
      assert.equal(e.code, 1, e.stderr);
      // One timeout, rank 1's way to the collective once it goes on, and the heartbeats' watch (1.5 s).
      assert.ok(seconds[rank]! < TIMEOUT + 5, `rank ${rank} stopped ${seconds[rank]!.toFixed(1)} s after the cut`);
      assert.equal(metanasLines(e).length, 1, e.stderr);
    });
    const [r0, r1, r2] = exits.map(lastLine);
    const [a0, , a2] = net.hosts.map((h) => h.addr);
    assert.match(
      r0!,
      new RegExp(
        `^metanas: ${didNotAnswer(2, a2!)}; the checkpoint in .*cut \\(meta-epoch \\d+\\) is intact: continue with metanas search --resume .*cut, launched the same way \\(3 ranks\\)$`,
      ),
    );
    assert.match(r1!, new RegExp(`^metanas: rank 1: ${didNotAnswer(2, a2!)}$`));
    // Host 2 itself reaches nobody, the store on host 0 included, and says which store it lost.
    assert.match(
      r2!,
      new RegExp(
        `^metanas: rank 2: lost the rendezvous store at ${a0!.replaceAll(".", "\\.")}:\\d+ \\(hosted by rank 0\\) during .*meta-epoch \\d+: rank 0 stopped or cannot be reached`,
      ),
    );
    await resumeExactly("cut", savedEpoch(r0!, dir));
  });

  it("rank 2 killed while the others wait for it: ranks 0 and 1 stop before the timeout naming rank 2 and its address; the resume is exact", async () => {
    // Rank 2 is held back (SIGSTOP) while it adapts the tasks of meta-epoch 4 until ranks 0 and 1
    // wait for it in the meta-epoch's collectives, then killed (SIGKILL): its closed connections end
    // their wait at once, and its heartbeat, stopped, names it.
    const dir = path.join(tmp, "killed");
    const ranks = byHand(search("killed"));
    await until(() => checkpointEpoch(dir) >= 3, "the checkpoint of meta-epoch 3");
    process.kill(ranks[2]!.child.pid!, "SIGSTOP");
    try {
      await waiting([ranks[0]!.child.pid!, ranks[1]!.child.pid!]);
    } finally {
      ranks[2]!.child.kill("SIGKILL");
    }
    const killedAt = performance.now();
    const exits = await Promise.all(ranks.map((r) => r.done));
    const seconds = exits.map((e) => (e.endedAt - killedAt) / 1000);
    console.log(`stopped ${seconds.map((s) => s.toFixed(1)).join(", ")} s after the kill; last lines:`);
    for (const e of exits.slice(0, 2)) console.log(`  ${lastLine(e)}`);
    assert.equal(exits[2]!.signal, "SIGKILL");
    const a2 = net.hosts[2]!.addr;
    for (const rank of [0, 1]) {
      const e = exits[rank]!;
      assert.equal(e.code, 1, e.stderr);
      assert.ok(seconds[rank]! < TIMEOUT, `rank ${rank} stopped ${seconds[rank]!.toFixed(1)} s after the kill`);
      assert.equal(metanasLines(e).length, 1, e.stderr);
    }
    const [r0, r1] = exits.map(lastLine);
    assert.match(
      r0!,
      new RegExp(
        `^metanas: ${didNotAnswer(2, a2)}; the checkpoint in .*killed \\(meta-epoch \\d+\\) is intact: continue with metanas search --resume .*killed, launched the same way \\(3 ranks\\)$`,
      ),
    );
    assert.match(r1!, new RegExp(`^metanas: rank 1: ${didNotAnswer(2, a2)}$`));
    await resumeExactly("killed", savedEpoch(r0!, dir));
  });
});

describe("three ranks on one machine", () => {
  // The rank fixture (test/helpers/distRank.ts) on loopback: rank 2 dies once connected, rank 1
  // reaches the call late (still adapting its tasks, as it were).
  const LOOPBACK_TIMEOUT = 8;
  async function lost(call: RankJob["call"], slowMs: number) {
    const out = path.join(tmp, `lost-${call}`);
    const job: RankJob = {
      out,
      learner: "reptile",
      metaBatch: 3,
      epochs: 1,
      mode: "lost",
      lost: 2,
      slow: 1,
      slowMs,
      call,
    };
    const port = 29700 + (process.pid % 200);
    const exits = await Promise.all(
      [0, 1, 2].map(
        (rank) =>
          new Promise<number | null>((resolve) => {
            const child = spawn(process.execPath, [path.join(here, "../helpers/distRank.js")], {
              cwd: tmp,
              stdio: "ignore",
              env: {
                ...base,
                METANAS_DIST_TIMEOUT: String(LOOPBACK_TIMEOUT),
                METANAS_TEST_RANK: JSON.stringify(job),
                RANK: String(rank),
                WORLD_SIZE: "3",
                MASTER_ADDR: "127.0.0.1",
                MASTER_PORT: String(call === "exchange" ? port : port + 200),
              },
            });
            const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
            child.on("close", (code) => {
              clearTimeout(timer);
              resolve(code);
            });
          }),
      ),
    );
    assert.deepEqual(exits, [0, 0, null], "ranks 0 and 1 finish, rank 2 was killed");
    return [0, 1].map((r) => JSON.parse(readFileSync(`${out}.${r}`, "utf8")) as { error: string; seconds: number });
  }

  it("a rank lost while another is still on its way: the all-reduce names the lost rank, not the late one", async () => {
    for (const [rank, { error, seconds }] of (await lost("all-reduce", 2000)).entries()) {
      assert.match(
        error,
        /^rank 2 did not answer the all-reduce of meta-epoch 1 \(its connection closed after [\d.]+ s\): stopped, or cannot be reached$/,
        `rank ${rank}`,
      );
      assert.ok(seconds < LOOPBACK_TIMEOUT, `rank ${rank} gave up after ${seconds} s`);
    }
  });

  it("a rank lost during an exchange through the store: the others stop before the timeout, naming it", async () => {
    for (const [rank, { error, seconds }] of (await lost("exchange", 0)).entries()) {
      assert.match(
        error,
        /^rank 2 did not answer the exchange of meta-epoch 1 \(no heartbeat for [\d.]+ s\): stopped, or cannot be reached$/,
        `rank ${rank}`,
      );
      assert.ok(seconds < LOOPBACK_TIMEOUT / 2, `rank ${rank} gave up after ${seconds} s`);
    }
  });
});

describe("where each rank runs, as a failure names it", () => {
  const facts = (stack: string, o: Partial<NetFacts> = {}): NetFacts => ({
    stack,
    master: "10.0.0.1",
    interfaces: "eth0",
    missing: [],
    available: ["eth0"],
    hostname: "vm",
    ...o,
  });
  it("the address each rank listens on, with the hostname where each machine has its own; nothing on one machine", () => {
    const alike = ["a", "b", "c"].map((m, r) => facts(m, { address: `10.0.0.${r + 1}` }));
    assert.deepEqual(hostLabels(alike), ["10.0.0.1", "10.0.0.2", "10.0.0.3"], "one hostname for all (containers)");
    const named = [
      facts("a", { hostname: "node0", address: "10.0.0.1" }),
      facts("a", { hostname: "node0", address: "10.0.0.1" }),
    ];
    named.push(
      facts("b", {
        hostname: "node1",
        interfaces: null,
        route: { hostname: "node1", hostAddr: "127.0.1.1", routeAddr: "10.0.0.2" },
      }),
    );
    assert.deepEqual(
      hostLabels(named),
      ["node0, 10.0.0.1", "node0, 10.0.0.1", "node1, 10.0.0.2"],
      "two ranks on node0",
    );
    assert.equal(hostLabels([facts("a"), facts("a"), facts("a")]), undefined);
  });
});
