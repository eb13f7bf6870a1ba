// Distributed runs across two hosts (two network namespaces joined by a veth pair, test/helpers/twoHosts.ts),
// launched as docs/distributed.md tells a user to: by hand with RANK, WORLD_SIZE, MASTER_ADDR and
// MASTER_PORT, and with torchrun on two nodes. They give, bit for bit, the meta-state of --nproc 2 on
// one host; the interface is found with GLOO_SOCKET_IFNAME and without it; a cut link, a killed
// remote rank and a rank with another configuration or another build each end in one line per host.
// Every run is tiny; every process and every wait is bounded.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { loadSafetensors } from "../../src/engine/index.js";
import type { Summary } from "../../src/runs/format.js";
import { type NetFacts, peerDevice } from "../../src/runs/peerNetwork.js";
import { readMetrics } from "../../src/runs/runDir.js";
import { TINY_RUN_FLAGS } from "../helpers/tinyMeta.js";
import { type Exit, IFACE, type TwoHosts, twoHosts } from "../helpers/twoHosts.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../../..");
const cli = path.join(root, "dist/src/cli/main.js");
const tmp = mkdtempSync(path.join(os.tmpdir(), "metanas-hosts-"));
const made = twoHosts();
const skip = "skip" in made ? made.skip : false;
const net = "hosts" in made ? made.hosts : (null as unknown as TwoHosts);
after(() => {
  net?.teardown();
  rmSync(tmp, { recursive: true, force: true });
});

// A short collective timeout, so that faults end the runs within seconds.
const TIMEOUT = 5;
const LIMIT_MS = 120_000;
const base = { ...process.env, OMP_NUM_THREADS: "1", METANAS_DIST_TIMEOUT: String(TIMEOUT) };
const tiny = ["--preset", "quick", ...TINY_RUN_FLAGS, "--test-tasks", "4"];
// Each launch gets ports of its own: the hosts' network stacks hold nothing but these tests.
let nextPort = 29500;

/** One rank per host, with the standard variables typed by hand (docs/distributed.md). */
function byHand(args: (rank: number) => string[], env: (rank: number) => NodeJS.ProcessEnv = () => ({})) {
  const port = String(nextPort++);
  return ([0, 1] as const).map((rank) =>
    net.start(
      rank,
      [process.execPath, ...args(rank)],
      {
        ...base,
        RANK: String(rank),
        WORLD_SIZE: "2",
        MASTER_ADDR: net.hosts[0].addr,
        MASTER_PORT: port,
        GLOO_SOCKET_IFNAME: IFACE,
        ...env(rank),
      },
      tmp,
      LIMIT_MS,
    ),
  );
}

const search = (out: string, ...more: string[]) => [cli, "search", ...tiny, "--out", out, ...more];
const lastLine = (e: Exit) => e.stderr.trim().split("\n").pop() ?? "";
const trained = (dir: string) =>
  existsSync(path.join(dir, "metrics.jsonl")) ? readMetrics(dir).filter((m) => m.kind === "train").length : 0;

async function until(test: () => boolean, what: string, ms = 60_000) {
  const end = performance.now() + ms;
  while (!test()) {
    if (performance.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
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

async function succeeded(runs: { done: Promise<Exit> }[]) {
  const exits = await Promise.all(runs.map((r) => r.done));
  exits.forEach((e, rank) => assert.equal(e.code, 0, `rank ${rank}: ${e.stderr}`));
  return exits;
}

describe("two hosts", { skip }, () => {
  before(() => {
    // The reference: --nproc 2 on one host (loopback).
    const r = spawnSync(process.execPath, search("one-host", "--epochs", "3", "--nproc", "2"), {
      cwd: tmp,
      encoding: "utf8",
      env: { ...base, METANAS_MEMORY_CHECK: "off" },
      timeout: LIMIT_MS,
      killSignal: "SIGKILL",
    });
    assert.equal(r.status, 0, r.stderr);
  });

  it("by hand, one rank per host over GLOO_SOCKET_IFNAME=eth0: the meta-state of --nproc 2, bit for bit", async () => {
    const [r0, r1] = await succeeded(byHand(() => search("by-hand", "--epochs", "3", "--json")));
    assert.equal(r1!.stdout, "", "only rank 0 prints the result");
    assert.equal(JSON.parse(r0!.stdout.trim()).tasks, 4);
    assert.deepEqual(runState("by-hand"), runState("one-host"));
    assert.ok(!existsSync(path.join(tmp, "by-hand", "rank1")), "rank 1 writes nothing");
  });

  it("without GLOO_SOCKET_IFNAME: binds where the other host reaches it, or names the variable to set", async () => {
    // The hostname resolves to 127.0.0.1 on both hosts; each rank binds its address towards MASTER_ADDR.
    const hostname = os.hostname();
    await succeeded(
      byHand(
        () => search("no-ifname", "--epochs", "3"),
        () => ({ GLOO_SOCKET_IFNAME: undefined }),
      ),
    );
    assert.deepEqual(runState("no-ifname"), runState("one-host"));
    // Rank 0 told MASTER_ADDR=localhost has no address the other host could reach: both stop at
    // once. And an interface that is not there. (Both launches at once: they stop at the rendezvous.)
    const [refused, wrong] = await Promise.all(
      [
        byHand(
          () => search("localhost", "--epochs", "3"),
          (rank) => ({ GLOO_SOCKET_IFNAME: undefined, ...(rank === 0 ? { MASTER_ADDR: "localhost" } : {}) }),
        ),
        byHand(
          () => search("eth1", "--epochs", "3"),
          () => ({ GLOO_SOCKET_IFNAME: "eth1" }),
        ),
      ].map((ranks) => Promise.all(ranks.map((r) => r.done))),
    );
    const why = `rank 0 has no address the ranks on other machines can reach: its hostname (${hostname}) resolves to 127.0.0.1 and its MASTER_ADDR (localhost) is reached over loopback; set GLOO_SOCKET_IFNAME to the interface the machines share (it has: ${IFACE})`;
    assert.deepEqual(
      refused!.map((e) => [e.code, lastLine(e)]),
      [
        [1, `metanas: ${why}`],
        [1, `metanas: rank 1: ${why}`],
      ],
    );
    assert.equal(
      lastLine(wrong![0]!),
      `metanas: GLOO_SOCKET_IFNAME=eth1 on rank 0, but its machine has no interface eth1 (it has: ${IFACE}): set GLOO_SOCKET_IFNAME there to the interface the machines share`,
    );
    assert.ok(!existsSync(path.join(tmp, "localhost")) && !existsSync(path.join(tmp, "eth1")), "nothing written");
  });

  const python = "/usr/bin/python3";
  const hasTorch = !skip && spawnSync(python, ["-c", "import torch.distributed.run"]).status === 0;
  it("torchrun on two nodes (--nnodes 2 --node_rank): the meta-state of --nproc 2, bit for bit", {
    skip: hasTorch ? false : `skipped: ${python} with torch (Debian's python3-torch) is absent`,
  }, async () => {
    const port = String(nextPort++);
    const node = (rank: 0 | 1) =>
      net.start(
        rank,
        [
          python,
          "-m",
          "torch.distributed.run",
          "--nnodes=2",
          `--node_rank=${rank}`,
          "--nproc_per_node=1",
          `--master_addr=${net.hosts[0].addr}`,
          `--master_port=${port}`,
          // torchrun 1.13 under Python 3.11 fails to parse its own defaults for these two.
          "--redirects=2",
          "--tee=2",
          "--no_python",
          process.execPath,
          ...search("torchrun", "--epochs", "3"),
        ],
        { ...base, GLOO_SOCKET_IFNAME: IFACE },
        tmp,
        LIMIT_MS,
      );
    await succeeded([node(0), node(1)]);
    assert.deepEqual(runState("torchrun"), runState("one-host"));
  });

  it("a link cut during a meta-epoch: both hosts stop within the timeout naming the peer; resumes once it is back", async () => {
    const dir = path.join(tmp, "cut");
    const ranks = byHand(() => search("cut", "--epochs", "400", "--checkpoint-every", "1"));
    await until(() => trained(dir) >= 3, "three meta-epochs");
    net.link(false);
    const cutAt = performance.now();
    let exits: Exit[];
    try {
      exits = await Promise.all(ranks.map((r) => r.done));
    } finally {
      net.link(true);
    }
    for (const e of exits) {
      assert.equal(e.code, 1, e.stderr);
      const seconds = (e.endedAt - cutAt) / 1000;
      assert.ok(seconds < TIMEOUT + 4, `stopped ${seconds.toFixed(1)} s after the cut`);
    }
    const [r0, r1] = exits.map(lastLine);
    assert.match(
      r0!,
      /^metanas: rank 1 did not answer (the all-reduce of|the stop check of|the checkpoint at) meta-epoch \d+ (\(no answer within 5 s\)|within [\d.]+ s): stopped, or cannot (be reached|reach .*); the checkpoint in .*cut \(meta-epoch (\d+)\) is intact: continue with metanas search --resume .*cut, launched the same way \(2 ranks\)$/,
    );
    assert.match(
      r1!,
      new RegExp(
        `^metanas: rank 1: lost the rendezvous store at ${net.hosts[0].addr}:\\d+ \\(hosted by rank 0\\) during .*meta-epoch \\d+: rank 0 stopped or cannot be reached`,
      ),
    );
    for (const e of exits) assert.equal(e.stderr.split("\n").filter((l) => l.startsWith("metanas:")).length, 1);
    const saved = Number(/\(meta-epoch (\d+)\) is intact/.exec(r0!)![1]);
    const { metadata, tensors } = loadSafetensors(path.join(dir, "checkpoint.safetensors"));
    for (const t of tensors.values()) t.dispose();
    assert.equal(Number(metadata.epoch), saved);
    // The link is back: the same commands with --resume continue the run.
    const resumed = await succeeded(
      byHand(() => [cli, "search", "--resume", "cut", "--epochs", String(saved + 1), "--test-tasks", "2"]),
    );
    assert.match(resumed[0]!.stderr, new RegExp(`resuming cut at meta-epoch ${saved} of ${saved + 1}`));
    assert.deepEqual(
      readMetrics(dir)
        .filter((m) => m.kind === "train")
        .map((m) => m.epoch),
      Array.from({ length: saved + 1 }, (_, i) => i + 1),
    );
  });

  it("the remote rank killed: rank 0 stops at once with one line, the checkpoint intact", async () => {
    const dir = path.join(tmp, "killed");
    const ranks = byHand(() => search("killed", "--epochs", "400", "--checkpoint-every", "1"));
    await until(() => trained(dir) >= 2, "two meta-epochs");
    const killedAt = performance.now();
    ranks[1]!.child.kill("SIGKILL");
    const [r0, r1] = await Promise.all(ranks.map((r) => r.done));
    assert.equal(r1!.signal, "SIGKILL");
    assert.equal(r0!.code, 1, r0!.stderr);
    assert.ok((r0!.endedAt - killedAt) / 1000 < TIMEOUT, "rank 0 noticed before the timeout");
    const line = lastLine(r0!);
    assert.match(
      line,
      /^metanas: rank 1 did not answer .*meta-epoch \d+ \(its connection closed after [\d.]+ s\): stopped, or cannot be reached; the checkpoint in .*killed \(meta-epoch (\d+)\) is intact/,
    );
    assert.equal(r0!.stderr.split("\n").filter((l) => l.startsWith("metanas:")).length, 1);
    const saved = Number(/\(meta-epoch (\d+)\) is intact/.exec(line)![1]);
    const { metadata, tensors } = loadSafetensors(path.join(dir, "checkpoint.safetensors"));
    for (const t of tensors.values()) t.dispose();
    assert.equal(Number(metadata.epoch), saved);
  });

  it("a rank with another configuration or another build is refused at the rendezvous", async () => {
    const config = await Promise.all(
      byHand((rank) => search("other-config", "--epochs", "3", "--seed", String(rank + 1))).map((r) => r.done),
    );
    assert.match(
      lastLine(config[0]!),
      /^metanas: rank 1 was started with another configuration than rank 0 \(config hash [0-9a-f]{12} vs [0-9a-f]{12}\): start every rank with the same command, settings and world size$/,
    );
    // Another build: the same modules, one of them changed, run from another folder.
    const other = path.join(tmp, "other-build");
    cpSync(path.join(root, "dist/src"), path.join(other, "src"), { recursive: true });
    for (const shared of ["native", "node_modules"]) symlinkSync(path.join(root, shared), path.join(other, shared));
    cpSync(path.join(root, "package.json"), path.join(other, "package.json"));
    appendFileSync(path.join(other, "src/runs/runner.js"), "\n// a local change\n");
    const build = await Promise.all(
      byHand((rank) =>
        rank === 0
          ? search("other-build-run", "--epochs", "3")
          : [path.join(other, "src/cli/main.js"), ...search("other-build-run", "--epochs", "3").slice(1)],
      ).map((r) => r.done),
    );
    assert.deepEqual(
      build.map((e) => e.code),
      [1, 1],
    );
    const line = lastLine(build[0]!);
    assert.match(
      line,
      /^metanas: rank 1 runs other metanas code than rank 0 \(\d+\.\d+\.\d+, code [0-9a-f]{12} vs \d+\.\d+\.\d+, code [0-9a-f]{12}\): install the same version, built the same way, on every machine$/,
    );
    assert.equal(lastLine(build[1]!), line.replace("metanas: ", "metanas: rank 1: "), "said on both hosts");
    assert.ok(!existsSync(path.join(tmp, "other-config")) && !existsSync(path.join(tmp, "other-build-run")));
  });
});

describe("where a rank's process group listens", () => {
  const route: NonNullable<NetFacts["route"]> = { hostname: "node0", hostAddr: "127.0.1.1", routeAddr: "10.0.0.2" };
  const facts = (o: Partial<NetFacts>, r: Partial<typeof route> = {}): NetFacts => ({
    stack: "boot-1 net:[1]",
    master: "10.0.0.1",
    interfaces: null,
    missing: [],
    available: ["eth0"],
    route: { ...route, ...r },
    ...o,
  });
  it("keeps PyTorch's choice on one network stack, and never binds loopback across stacks", () => {
    const local = [facts({ master: "127.0.0.1" }), facts({ master: "127.0.0.1" })];
    assert.deepEqual(peerDevice(local, 1), { device: { hostname: "127.0.0.1" } });
    assert.deepEqual(peerDevice([facts({}), facts({})], 1), { device: {} }, "one stack: the hostname's address");
    const apart = (o: Partial<NetFacts>, r: Partial<typeof route> = {}) => [
      facts({}),
      facts({ stack: "boot-2 net:[1]", ...o }, r),
    ];
    assert.deepEqual(
      peerDevice(apart({}, { hostAddr: "10.0.0.2" }), 1),
      { device: {} },
      "a hostname that resolves out",
    );
    assert.deepEqual(peerDevice(apart({}), 1), { device: { hostname: "10.0.0.2" } }, "else the route to MASTER_ADDR");
    assert.deepEqual(peerDevice(apart({ interfaces: "ib0,eth0" }), 1), { device: { interfaces: "ib0,eth0" } });
    assert.deepEqual(peerDevice(apart({ available: [] }, { routeAddr: "127.0.0.1", hostAddr: null }), 1), {
      problem:
        "rank 1 has no address the ranks on other machines can reach: its hostname (node0) resolves to nothing and its MASTER_ADDR (10.0.0.1) is reached over loopback; set GLOO_SOCKET_IFNAME to the interface the machines share (it has: none besides loopback)",
    });
    assert.match(
      (peerDevice([facts({ interfaces: "eth1", missing: ["eth1"] }), facts({})], 0) as { problem: string }).problem,
      /^GLOO_SOCKET_IFNAME=eth1 on rank 0, but its machine has no interface eth1 \(it has: eth0\)/,
    );
  });
});
