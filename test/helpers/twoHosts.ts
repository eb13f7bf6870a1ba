// Two hosts on one machine, for the distributed tests: two network namespaces joined by a veth
// pair, each end named eth0 (as on two real machines) with its own address in a private subnet that
// exists only inside these namespaces. Processes run in a host with `ip netns exec`. Everything is
// named after this process's id, torn down by teardown() (and at exit, should a test die first),
// and every command is bounded in time. Needs root and iproute2; twoHosts() says why not otherwise.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";

/** The interface name on both hosts, as GLOO_SOCKET_IFNAME would give it. */
export const IFACE = "eth0";
const COMMAND_LIMIT_MS = 10_000;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** When the process ended (performance.now()). */
  endedAt: number;
}

export interface Host {
  name: string;
  addr: string;
}

export interface TwoHosts {
  hosts: [Host, Host];
  /** Starts `command` on host `h`, killed if it outlives `limitMs`. */
  start(h: 0 | 1, command: string[], env: NodeJS.ProcessEnv, cwd: string, limitMs: number): Started;
  /** Takes host 0's end of the link down, or up again. */
  link(up: boolean): void;
  teardown(): void;
}

export interface Started {
  child: ChildProcess;
  done: Promise<Exit>;
}

export function ip(args: string[]): { ok: boolean; why: string } {
  const r = spawnSync("ip", args, { encoding: "utf8", timeout: COMMAND_LIMIT_MS, killSignal: "SIGKILL" });
  if (r.error) return { ok: false, why: r.error.message };
  return { ok: r.status === 0, why: (r.stderr || r.stdout).trim() || `exit ${r.status}` };
}

export function run(child: ChildProcess, limitMs: number): Promise<Exit> {
  const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d) => (stdout += d));
  child.stderr?.on("data", (d) => (stderr += d));
  return new Promise((resolve) =>
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, endedAt: performance.now() });
    }),
  );
}

/** Hosts in network namespaces: their processes, and the teardown that removes everything. */
export interface Namespaces {
  start(h: number, command: string[], env: NodeJS.ProcessEnv, cwd: string, limitMs: number): Started;
  teardown(): void;
}

/**
 * Makes network namespaces with `steps` (ip commands), torn down by teardown() and at exit (every
 * process started in them killed, every namespace in `names` deleted); on a step that fails, tears
 * down what was made and says why.
 */
export function namespaces(hosts: Host[], names: string[], steps: string[][]): Namespaces | { why: string } {
  const children = new Set<ChildProcess>();
  const teardown = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    // Deleting a namespace deletes the veth ends in it, and with them their peers.
    for (const n of names) ip(["netns", "delete", n]);
    process.off("exit", teardown);
  };
  process.on("exit", teardown);
  for (const step of steps) {
    const r = ip(step);
    if (!r.ok) {
      teardown();
      return { why: `ip ${step.join(" ")}: ${r.why}` };
    }
  }
  return {
    start(h, command, env, cwd, limitMs) {
      const child = spawn("ip", ["netns", "exec", hosts[h]!.name, ...command], { env, cwd });
      children.add(child);
      return { child, done: run(child, limitMs) };
    },
    teardown,
  };
}

/** Two hosts, or the one line saying why they cannot be made here. */
export function twoHosts(): { hosts: TwoHosts } | { skip: string } {
  if (process.platform !== "linux" || process.getuid?.() !== 0)
    return { skip: "skipped: two hosts in network namespaces need root on Linux (ip netns)" };
  const names = [`metanas-${process.pid}-a`, `metanas-${process.pid}-b`] as const;
  // A /24 of 10.200.0.0/16 that exists only inside the two namespaces.
  const net = `10.200.${process.pid % 250}`;
  const hosts: [Host, Host] = [
    { name: names[0], addr: `${net}.1` },
    { name: names[1], addr: `${net}.2` },
  ];
  const made = namespaces(
    hosts,
    [...names],
    [
      ["netns", "add", names[0]],
      ["netns", "add", names[1]],
      ["link", "add", IFACE, "netns", names[0], "type", "veth", "peer", "name", IFACE, "netns", names[1]],
      ...hosts.flatMap((h) => [
        ["-n", h.name, "addr", "add", `${h.addr}/24`, "dev", IFACE],
        ["-n", h.name, "link", "set", "lo", "up"],
        ["-n", h.name, "link", "set", IFACE, "up"],
      ]),
    ],
  );
  if ("why" in made) return { skip: `skipped: cannot make two hosts in network namespaces (${made.why})` };
  return {
    hosts: {
      hosts,
      start: made.start,
      link(up) {
        const r = ip(["-n", hosts[0].name, "link", "set", IFACE, up ? "up" : "down"]);
        if (!r.ok) throw new Error(`cannot set the link ${up ? "up" : "down"}: ${r.why}`);
      },
      teardown: made.teardown,
    },
  };
}
