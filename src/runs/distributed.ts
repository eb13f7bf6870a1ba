// A run spread over ranks (processes on one or several machines), launched the way PyTorch jobs
// are: every process gets RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT (and LOCAL_RANK,
// LOCAL_WORLD_SIZE), from torchrun, a Kubernetes PyTorchJob, a Slurm script, or `--nproc N`.
// Rank 0 owns the run directory; the other ranks need neither it nor the same paths.
import { createHash } from "node:crypto";
import { DistributedError, type PeerDevice, ProcessGroup, type Tensor, tensor } from "../engine/index.js";
import type { TaskResult } from "../evaluation/evaluate.js";
import { codeVersion } from "./codeVersion.js";
import { keysWithRole, type RunConfig } from "./config.js";
import { hostLabels, localFacts, type NetFacts, oneStack, peerDevice, withRoute } from "./peerNetwork.js";
import type { Session } from "./session.js";

/** The default limit of the rendezvous and of every collective, as torch.distributed's (30 min). */
export const DEFAULT_TIMEOUT_SECONDS = 1800;

/** Where this process sits in a distributed launch, read from the standard variables. */
export interface Launch {
  rank: number;
  size: number;
  /** This process's index on its machine, and the number of ranks there. */
  localRank: number;
  localSize: number;
  addr: string;
  port: number;
  /** torchrun's agent serves the store (its default static rendezvous): every rank is a client. */
  agentStore: boolean;
  /** Key prefix in the store (torchrun's agent store: /worker/attempt_N). */
  prefix: string;
  /** GLOO_SOCKET_IFNAME: the network interfaces the ranks talk over. */
  interfaces?: string;
  timeoutSeconds: number;
}

/** An error every rank sees the same way: printed by the first rank of each machine only. */
export class SharedFailure extends Error {}

function intVar(env: NodeJS.ProcessEnv, name: string, min: number, max = Number.POSITIVE_INFINITY): number | undefined {
  const text = env[name];
  if (text === undefined || text === "") return undefined;
  const v = Number(text);
  if (!Number.isInteger(v) || v < min || v > max)
    throw new DistributedError(
      `${name}=${text} is not valid: it must be an integer${Number.isFinite(max) ? ` from ${min} to ${max}` : ` >= ${min}`}`,
    );
  return v;
}

/**
 * The launch this process is part of, or null for a single process (WORLD_SIZE unset or 1).
 * Follows torch.distributed's env:// rules, including torchrun's agent-hosted store.
 */
export function launchFromEnv(env: NodeJS.ProcessEnv = process.env): Launch | null {
  const size = intVar(env, "WORLD_SIZE", 1) ?? 1;
  if (size === 1) return null;
  const rank = intVar(env, "RANK", 0, size - 1);
  if (rank === undefined)
    throw new DistributedError(
      `WORLD_SIZE=${size} but RANK is not set: give every process its RANK (0 to ${size - 1})`,
    );
  const addr = env.MASTER_ADDR;
  const port = intVar(env, "MASTER_PORT", 1, 65535);
  if (!addr || port === undefined)
    throw new DistributedError(
      `WORLD_SIZE=${size} needs MASTER_ADDR and MASTER_PORT (rank 0's address and a free port there); for ranks on this machine alone use --nproc ${size}`,
    );
  const localSize = intVar(env, "LOCAL_WORLD_SIZE", 1) ?? 1;
  const agentStore = env.TORCHELASTIC_USE_AGENT_STORE === "True";
  return {
    rank,
    size,
    localRank: intVar(env, "LOCAL_RANK", 0, localSize - 1) ?? 0,
    localSize,
    addr,
    port,
    agentStore,
    prefix: agentStore ? `/worker/attempt_${env.TORCHELASTIC_RESTART_COUNT ?? "0"}` : "",
    interfaces: env.GLOO_SOCKET_IFNAME || undefined,
    timeoutSeconds: intVar(env, "METANAS_DIST_TIMEOUT", 1) ?? DEFAULT_TIMEOUT_SECONDS,
  };
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1)$/;

/** Joins the store: rank 0 serves it (unless torchrun's agent does) and waits for every rank. */
export function rendezvous(l: Launch): Promise<ProcessGroup> {
  return ProcessGroup.rendezvous({
    addr: l.addr,
    port: l.port,
    rank: l.rank,
    size: l.size,
    host: l.rank === 0 && !l.agentStore,
    prefix: l.prefix,
    timeoutSeconds: l.timeoutSeconds,
    storeOwner: l.agentStore ? "the torchrun agent" : "rank 0",
  });
}

/** What agree() found: where this rank's process group listens, and where every rank runs (for messages). */
export interface Peers {
  device?: PeerDevice;
  hosts?: string[];
}

/**
 * Connects the ranks to each other: on the device agree() chose, else over GLOO_SOCKET_IFNAME,
 * loopback for a local launch, else the hostname's address.
 */
export function connectPeers(group: ProcessGroup, l: Launch, peers: Peers = {}): Promise<void> {
  const { device, hosts } = peers;
  if (device) return group.connectPeers(device, hosts);
  if (l.interfaces) return group.connectPeers({ interfaces: l.interfaces }, hosts);
  return group.connectPeers(LOOPBACK.test(l.addr) ? { hostname: "127.0.0.1" } : {}, hosts);
}

/**
 * Settings that may differ between machines: where the data is, how many threads a process uses.
 * The device must agree: ranks on different devices would not compute the same meta-update.
 */
const MACHINE_LOCAL = new Set<string>(keysWithRole("machine").filter((k) => k !== "device"));

/** A short hash of what a rank will run: the configuration (less machine-local settings) and the world size. */
export function configHash(c: RunConfig, size: number): string {
  const shared = Object.fromEntries(Object.entries(c).filter(([k]) => !MACHINE_LOCAL.has(k)));
  return createHash("sha256")
    .update(JSON.stringify({ config: shared, size }))
    .digest("hex")
    .slice(0, 12);
}

/** Rank 0's value, on every rank (rank 0 passes it, the others pass null). */
export async function fromRoot(group: ProcessGroup, label: string, value: string | null): Promise<string> {
  const all = await group.exchange(label, value ?? "");
  return all[0]!;
}

interface RankStatement {
  hash: string | null;
  data: string | null;
  problem: string | null;
  code?: string;
  net?: NetFacts | null;
}

/**
 * Every rank states its code version, the hash of its configuration and data, and its network, or
 * why it cannot start; all ranks start, or all stop with the same message. Returns where this rank's
 * process group is to listen (launch given), so that ranks on other machines reach it, and where
 * each rank runs when they span several machines.
 */
export async function agree(
  group: ProcessGroup,
  c: RunConfig | null,
  data: string | null,
  problem: string | null,
  launch: Launch | null = null,
): Promise<Peers> {
  const hash = c ? configHash(c, group.size) : null;
  const net = launch && !problem ? localFacts(launch.addr, launch.interfaces) : null;
  const mine: RankStatement = { hash, data, problem, code: codeVersion(), net };
  const all = (await group.exchange("the configuration check", JSON.stringify(mine))).map(
    (v) => JSON.parse(v) as RankStatement,
  );
  const verdict = configurationVerdict(all);
  if (verdict) {
    // Rank 0 hosts the store: one more round keeps it up until every rank has read the statements,
    // so that none loses the store before it knows why the run stops. Each rank already knows the
    // verdict, so a failure of this round changes nothing.
    await group.exchange("the configuration check's verdict", "").catch(() => undefined);
    throw new SharedFailure(verdict);
  }
  return chooseDevice(group, all, launch);
}

/** Why the ranks cannot start together (the same on every rank), or null when they can. */
function configurationVerdict(all: RankStatement[]): string | null {
  const failed = all.findIndex((a) => a.problem !== null);
  if (failed >= 0) {
    const p = all[failed]!.problem!;
    return failed === 0 ? p : `rank ${failed} cannot start: ${p}`;
  }
  const ranksWhere = (differs: (a: (typeof all)[number]) => boolean) =>
    all.map((a, r) => (differs(a) ? r : -1)).filter((r) => r >= 0);
  const otherCode = ranksWhere((a) => a.code !== all[0]!.code);
  if (otherCode.length > 0)
    return `rank ${otherCode.join(", rank ")} runs other metanas code than rank 0 (${all[otherCode[0]!]!.code ?? "an earlier version"} vs ${all[0]!.code}): install the same version, built the same way, on every machine`;
  const otherConfig = ranksWhere((a) => a.hash !== all[0]!.hash);
  if (otherConfig.length > 0)
    return `rank ${otherConfig.join(", rank ")} was started with another configuration than rank 0 (config hash ${all[otherConfig[0]!]!.hash} vs ${all[0]!.hash}): start every rank with the same command, settings and world size`;
  const otherData = ranksWhere((a) => a.data !== all[0]!.data);
  if (otherData.length > 0)
    return `rank ${otherData.join(", rank ")} sees other data than rank 0 (image shape and classes per split ${all[otherData[0]!]!.data} vs ${all[0]!.data}): give every machine the same dataset`;
  return null;
}

/**
 * This rank's device, once every rank is known to have one the others can reach, and where each
 * rank runs. Ranks on several network stacks exchange their addresses first (one more round through
 * the store).
 */
async function chooseDevice(group: ProcessGroup, all: readonly RankStatement[], launch: Launch | null): Promise<Peers> {
  let nets = all.map((a) => a.net);
  if (!launch || !nets.every((n): n is NetFacts => Boolean(n))) return {};
  // (Ranks that name their interfaces need no lookup.)
  if (!oneStack(nets) && nets.some((n) => !n.interfaces)) {
    const mine = await withRoute(nets[group.rank]!, launch.port);
    nets = (await group.exchange("the network check", JSON.stringify(mine))).map((v) => JSON.parse(v) as NetFacts);
  }
  const facts = nets as NetFacts[];
  const choices = facts.map((_, r) => peerDevice(facts, r));
  const problem = choices.find((p) => "problem" in p);
  if (problem && "problem" in problem) throw new SharedFailure(problem.problem);
  const mine = choices[group.rank]!;
  // With two ranks the one to blame is always the other, and their messages stay as they were;
  // with more, a failure names the lost rank's machine too.
  return { device: "device" in mine ? mine.device : undefined, hosts: group.size >= 3 ? hostLabels(facts) : undefined };
}

/** Everything that defines the meta-state: meta-parameters, task-optimiser moments, meta-learner tensors. */
function stateTensors(session: Session): Tensor[] {
  return [
    ...session.model.weights,
    ...session.model.arch,
    ...session.opt.moments(),
    ...Object.values(session.learner.state().tensors),
  ];
}

/**
 * Rank 0's tensors (in place) and its `numbers` (returned) on every rank. Both go over the
 * collectives' connections, not the store: a rank killed during a checkpoint is then noticed when
 * its connection closes (at the latest by the next meta-epoch's all-reduce), not at the timeout.
 */
export async function stateFromRoot(
  group: ProcessGroup,
  tensors: readonly Tensor[],
  numbers: string,
  label: string,
): Promise<string> {
  await group.broadcast(tensors, 0, label);
  return group.broadcastText(group.rank === 0 ? numbers : null, 0, label);
}

/**
 * Makes every rank's meta-state rank 0's (at the start, after a resume, and before each checkpoint,
 * so that what rank 0 saves is what every rank runs with): one broadcast of the tensors, and the
 * step counts, meta-learner numbers and `extra` (rank 0's, returned on every rank) as text.
 */
export async function syncFromRoot(
  group: ProcessGroup,
  session: Session,
  label: string,
  extra: Record<string, number> = {},
): Promise<Record<string, number>> {
  const learnerState = session.learner.state();
  const numbers = JSON.stringify({ steps: session.opt.steps, learner: learnerState.numbers, extra });
  const root = JSON.parse(await stateFromRoot(group, stateTensors(session), numbers, label)) as {
    steps: [number, number];
    learner: Record<string, number>;
    extra: Record<string, number>;
  };
  if (group.rank !== 0) {
    session.opt.steps = root.steps;
    session.learner.loadState({ tensors: new Map(Object.entries(learnerState.tensors)), numbers: root.learner });
  }
  return root.extra;
}

/** The test tasks of one rank: every size-th task from its rank on. */
export function taskShare(tasks: number, rank: number, size: number): number[] {
  const out: number[] = [];
  for (let t = rank; t < tasks; t += size) out.push(t);
  return out;
}

/** All ranks' meta-test results, in task order, on every rank. */
export async function gatherResults(
  group: ProcessGroup,
  label: string,
  tasks: number,
  mine: ReadonlyMap<number, TaskResult>,
): Promise<TaskResult[]> {
  const all = await group.exchange(label, JSON.stringify([...mine]));
  const results: (TaskResult | undefined)[] = Array.from({ length: tasks }, () => undefined);
  for (const part of all) for (const [t, r] of JSON.parse(part) as [number, TaskResult][]) results[t] = r;
  const missing = results.indexOf(undefined);
  if (missing >= 0) throw new DistributedError(`${label}: no rank returned test task ${missing}`);
  return results as TaskResult[];
}

/** True on every rank when any rank asks for it (a stop request after a signal). */
export async function anyRank(group: ProcessGroup, flag: boolean, label: string): Promise<boolean> {
  const t = tensor(Float64Array.of(flag ? 1 : 0), [1], "float64");
  try {
    await group.allReduceSum([t], label);
    return t.item() > 0;
  } finally {
    t.dispose();
  }
}
