// Which address each rank's process group listens on. Gloo, left to itself, binds to what the
// machine's hostname resolves to, and many machines (Debian among them) map their hostname to a
// loopback address: fine while every rank shares one network stack, unreachable across machines.
// Every rank states its network stack at the rendezvous; when the ranks span several, they also
// state their addresses (looked up only then), and each binds where the others can reach it, or
// all stop with one line naming the rank and GLOO_SOCKET_IFNAME.
import dgram from "node:dgram";
import { lookup } from "node:dns/promises";
import { readFileSync, readlinkSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import type { PeerDevice } from "../engine/index.js";

/** What one rank knows about its network, exchanged at the rendezvous. */
export interface NetFacts {
  /** The network stack it runs in (the machine's boot id and network namespace): ranks that share one can talk over loopback. */
  stack: string;
  /** Its MASTER_ADDR. */
  master: string;
  /** GLOO_SOCKET_IFNAME, the names in it that this machine lacks, and the interfaces it has. */
  interfaces: string | null;
  missing: string[];
  available: string[];
  /** Its hostname, and the address of the first interface GLOO_SOCKET_IFNAME names: where it runs, for messages. */
  hostname?: string;
  address?: string | null;
  /** Looked up only when the ranks span several stacks: its hostname's address, its own address towards MASTER_ADDR. */
  route?: { hostname: string; hostAddr: string | null; routeAddr: string | null };
}

const LOOPBACK_NAME = /^(localhost|ip6-localhost|ip6-loopback)$/i;
export function isLoopback(addr: string): boolean {
  if (LOOPBACK_NAME.test(addr)) return true;
  if (net.isIPv4(addr)) return addr.startsWith("127.");
  return addr === "::1" || addr.startsWith("::ffff:127.");
}

function stackId(): string {
  try {
    const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    return `${boot} ${readlinkSync("/proc/self/ns/net")}`;
  } catch {
    return os.hostname(); // no /proc: one stack per machine
  }
}

/** Settles with `p`'s value, or null on failure or after `ms`. */
function within<T>(p: Promise<T>, ms: number): Promise<T | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), ms);
    p.then(
      (v) => resolve(v),
      () => resolve(null),
    ).finally(() => clearTimeout(timer));
  });
}

/** The local address the kernel would send from towards `host` (a UDP connect sends nothing). */
async function sourceAddress(host: string, port: number): Promise<string> {
  const { address, family } = await lookup(host);
  const socket = dgram.createSocket(family === 6 ? "udp6" : "udp4");
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.connect(port, address, () => resolve());
    });
    return socket.address().address;
  } finally {
    socket.close();
  }
}

/** What needs no lookup: the stack, MASTER_ADDR, the interfaces. */
export function localFacts(master: string, interfaces: string | undefined): NetFacts {
  const have = os.networkInterfaces();
  const wanted = (interfaces ?? "").split(",").filter(Boolean);
  const first = wanted.length > 0 ? (have[wanted[0]!] ?? []) : [];
  return {
    stack: stackId(),
    master,
    interfaces: interfaces ?? null,
    missing: wanted.filter((n) => !have[n]),
    available: Object.entries(have)
      .filter(([, addrs]) => addrs?.some((a) => !a.internal))
      .map(([n]) => n),
    hostname: os.hostname(),
    address: (first.find((a) => a.family === "IPv4") ?? first[0])?.address ?? null,
  };
}

/** The facts with their lookups (the hostname; the route to MASTER_ADDR, which sends nothing). */
export async function withRoute(f: NetFacts, port: number): Promise<NetFacts> {
  const hostname = os.hostname();
  return {
    ...f,
    route: {
      hostname,
      hostAddr: (await within(lookup(hostname), 5000))?.address ?? null,
      routeAddr: await within(sourceAddress(f.master, port), 5000),
    },
  };
}

export const oneStack = (all: readonly NetFacts[]) => all.every((a) => a.stack === all[0]!.stack);

/** Where rank `rank` binds (all: every rank's facts, in rank order), or why it cannot take part. */
export function peerDevice(all: readonly NetFacts[], rank: number): { device: PeerDevice } | { problem: string } {
  const f = all[rank]!;
  const theirs = f.available.length > 0 ? f.available.join(", ") : "none besides loopback";
  if (f.interfaces) {
    if (f.missing.length === 0) return { device: { interfaces: f.interfaces } };
    return {
      problem: `GLOO_SOCKET_IFNAME=${f.interfaces} on rank ${rank}, but its machine has no interface ${f.missing.join(", ")} (it has: ${theirs}): set GLOO_SOCKET_IFNAME there to the interface the machines share`,
    };
  }
  // One network stack: loopback reaches everyone, as before (and as PyTorch does).
  if (oneStack(all)) return { device: isLoopback(f.master) ? { hostname: "127.0.0.1" } : {} };
  const r = f.route;
  if (r?.hostAddr && !isLoopback(r.hostAddr)) return { device: {} };
  if (r?.routeAddr && !isLoopback(r.routeAddr)) return { device: { hostname: r.routeAddr } };
  return {
    problem: `rank ${rank} has no address the ranks on other machines can reach: its hostname (${r?.hostname}) resolves to ${r?.hostAddr ?? "nothing"} and its MASTER_ADDR (${f.master}) is reached over loopback; set GLOO_SOCKET_IFNAME to the interface the machines share (it has: ${theirs})`,
  };
}

/**
 * Where each rank runs, for the messages that name a rank ("10.0.0.3", or "node3, 10.0.0.3" when the
 * hostnames tell the machines apart): the address its process group listens on. None when every
 * rank shares one network stack (one machine: the rank number says it all).
 */
export function hostLabels(all: readonly NetFacts[]): string[] | undefined {
  if (oneStack(all)) return undefined;
  const names = all.map((f) => f.hostname ?? f.route?.hostname);
  // Hostnames help only where each machine has its own (containers often share one).
  const distinct = names.every(Boolean) && new Set(names).size === new Set(all.map((f) => f.stack)).size;
  return all.map((f, rank) => {
    const r = f.route;
    const address = f.interfaces
      ? f.address
      : r?.hostAddr && !isLoopback(r.hostAddr)
        ? r.hostAddr
        : r?.routeAddr && !isLoopback(r.routeAddr)
          ? r.routeAddr
          : null;
    return [distinct ? names[rank] : undefined, address].filter(Boolean).join(", ");
  });
}
