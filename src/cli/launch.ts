// `--nproc N`: starts N ranks of the same command on this machine, as `torchrun --standalone
// --nproc_per_node=N` would: each a fresh process with RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1 and a free MASTER_PORT, one libtorch thread each.
// Ranks that would not fit in memory together are refused before any starts.
import { type ChildProcess, spawn } from "node:child_process";
import net from "node:net";
import os from "node:os";
import type { RunConfig } from "../runs/config.js";
import { DEFAULT_TIMEOUT_SECONDS } from "../runs/distributed.js";
import { availableMemory, estimateRankMemory, gigabytes } from "../runs/memory.js";

/** A free TCP port on the loopback interface (the OS picks it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/** Fails with a clear line when the port is taken. */
function checkPort(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        new Error(
          err.code === "EADDRINUSE"
            ? `port ${port} (MASTER_PORT) is already in use on this machine: choose another MASTER_PORT, or unset it and --nproc picks a free port`
            : `port ${port} (MASTER_PORT) cannot be used: ${err.message}`,
        ),
      ),
    );
    server.listen(port, () => server.close(() => resolve()));
  });
}

/** The command line without --nproc, for the ranks. */
export function withoutNproc(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--nproc") i++;
    else if (!args[i]!.startsWith("--nproc=")) out.push(args[i]!);
  }
  return out;
}

export interface LocalLaunch {
  nproc: number;
  /** The run's configuration: sizes the memory check, and limits the useful ranks. */
  config: RunConfig;
  /** Meta-training needs a task per rank; meta-testing alone does not. */
  training: boolean;
}

/** Checks that the ranks are useful and fit in memory together; the line to print when they start. */
async function admit(l: LocalLaunch): Promise<string> {
  if (l.training && l.nproc > l.config.metaBatch)
    throw new Error(
      `--nproc ${l.nproc} exceeds the meta-batch (${l.config.metaBatch} tasks): at most ${l.config.metaBatch} ranks get work; use --nproc ${l.config.metaBatch} or fewer`,
    );
  if (process.env.METANAS_MEMORY_CHECK === "off") return `${l.nproc} ranks on this machine`;
  const { perRank, how } = await estimateRankMemory(l.config);
  const available = availableMemory();
  const fits = Math.floor(available / perRank);
  if (fits < l.nproc) {
    const advice =
      fits >= 1
        ? `use --nproc ${fits} (the most that fit)`
        : "even one rank may not fit: free memory, or lower --batch-size / --channels";
    throw new Error(
      `${l.nproc} ranks would need about ${l.nproc} x ${gigabytes(perRank)} = ${gigabytes(l.nproc * perRank)} of memory (${how}), but ${gigabytes(available)} is available: ${advice}, or spread the ranks over machines (docs/distributed.md); METANAS_MEMORY_CHECK=off skips this check`,
    );
  }
  return `${l.nproc} ranks on this machine, about ${gigabytes(perRank)} each of ${gigabytes(available)} available`;
}

/** The environment of local rank `rank` of `nproc`, as torchrun sets it (one libtorch thread unless OMP_NUM_THREADS says otherwise). */
function rankEnv(rank: number, nproc: number, port: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    RANK: String(rank),
    LOCAL_RANK: String(rank),
    WORLD_SIZE: String(nproc),
    LOCAL_WORLD_SIZE: String(nproc),
    MASTER_ADDR: "127.0.0.1",
    MASTER_PORT: String(port),
    OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? "1",
  };
  for (const k of Object.keys(env)) if (k.startsWith("TORCHELASTIC_")) delete env[k];
  return env;
}

/** The started ranks, and those the launcher itself signalled (their ending is not reported). */
interface LocalRanks {
  children: ChildProcess[];
  sentByUs: Set<ChildProcess>;
}

/** Sends `sig` to every rank still running. */
function signalAll(ranks: LocalRanks, sig: NodeJS.Signals): void {
  for (const c of ranks.children) {
    if (c.exitCode === null && c.signalCode === null) {
      ranks.sentByUs.add(c);
      c.kill(sig);
    }
  }
}

/** Passes SIGINT, SIGTERM and SIGHUP on to the ranks, and kills them when this process exits; returns the undo. */
function forwardSignals(ranks: LocalRanks): () => void {
  const handlers = {
    SIGINT: () => signalAll(ranks, "SIGINT"),
    SIGTERM: () => signalAll(ranks, "SIGTERM"),
    SIGHUP: () => signalAll(ranks, "SIGHUP"),
  };
  for (const [sig, h] of Object.entries(handlers)) process.on(sig, h);
  const killAll = () => signalAll(ranks, "SIGKILL");
  // Leaving for any reason takes the ranks along.
  process.once("exit", killAll);
  return () => {
    for (const [sig, h] of Object.entries(handlers)) process.off(sig, h);
    process.off("exit", killAll);
  };
}

/** Every rank's exit status; once one fails, the others still running after the collective timeout are killed. */
async function exitStatuses(ranks: LocalRanks, timeoutSeconds: number, log: (line: string) => void): Promise<number[]> {
  let killTimer: NodeJS.Timeout | null = null;
  try {
    return await Promise.all(
      ranks.children.map(
        (child, rank) =>
          new Promise<number>((resolve) => {
            child.once("exit", (code, signal) => {
              if (signal && !ranks.sentByUs.has(child)) log(`metanas: rank ${rank} was ended by ${signal}`);
              const status = code ?? 128 + (os.constants.signals[signal as NodeJS.Signals] ?? 0);
              if (status !== 0 && !killTimer) {
                killTimer = setTimeout(() => signalAll(ranks, "SIGKILL"), (timeoutSeconds + 10) * 1000);
                killTimer.unref();
              }
              resolve(status);
            });
          }),
      ),
    );
  } finally {
    if (killTimer) clearTimeout(killTimer);
  }
}

/**
 * Runs this command as `nproc` local ranks and resolves with the exit code to leave with. A rank
 * that fails makes the others stop by themselves (their next collective names it); any still
 * running after the collective timeout are killed.
 */
export async function launchLocal(l: LocalLaunch, log: (line: string) => void): Promise<number> {
  if (process.env.WORLD_SIZE && process.env.WORLD_SIZE !== "1")
    throw new Error(
      `--nproc starts its own ranks, but this process is already rank ${process.env.RANK ?? "?"} of ${process.env.WORLD_SIZE} (torchrun or a job launcher): leave --nproc out`,
    );
  const line = await admit(l);
  const port = process.env.MASTER_PORT ? Number(process.env.MASTER_PORT) : await freePort();
  if (process.env.MASTER_PORT) await checkPort(port);
  log(`metanas: ${line} (rendezvous 127.0.0.1:${port})`);
  const timeout = Number(process.env.METANAS_DIST_TIMEOUT) || DEFAULT_TIMEOUT_SECONDS;
  const args = [...process.execArgv, process.argv[1]!, ...withoutNproc(process.argv.slice(2))];
  // Own process groups: a Ctrl-C reaches the launcher, which passes it on once to every rank.
  const children = Array.from({ length: l.nproc }, (_, rank) =>
    spawn(process.execPath, args, { env: rankEnv(rank, l.nproc, port), stdio: "inherit", detached: true }),
  );
  const ranks: LocalRanks = { children, sentByUs: new Set() };
  const stopForwarding = forwardSignals(ranks);
  try {
    const results = await exitStatuses(ranks, timeout, log);
    return results[0] !== 0 ? results[0]! : (results.find((r) => r !== 0) ?? 0);
  } finally {
    stopForwarding();
  }
}
