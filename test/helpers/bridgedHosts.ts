// N hosts on one machine, for the distributed tests with more than two ranks: N network namespaces,
// each with an eth0 whose other end is a port of a bridge in one more namespace (the switch), so
// that every host reaches every other and one host's link can be cut alone. Each eth0 has its own
// address in a private /24 that exists only inside these namespaces; the switch has none, and
// nothing is added outside them. Everything is named after this process's id, torn down by
// teardown() (and at exit, should a test die first), and every command is bounded in time. Needs
// root and iproute2: without root it says why (a skip); as root, a setup that fails throws.
import { type Host, IFACE, ip, namespaces, type Started } from "./twoHosts.js";

export interface BridgedHosts {
  hosts: Host[];
  /** Starts `command` on host `h`, killed if it outlives `limitMs`. */
  start(h: number, command: string[], env: NodeJS.ProcessEnv, cwd: string, limitMs: number): Started;
  /** Takes host `h`'s eth0 down (its link to the switch), or up again. */
  link(h: number, up: boolean): void;
  teardown(): void;
}

export function bridgedHosts(n: number): { hosts: BridgedHosts } | { skip: string } {
  if (process.platform !== "linux" || process.getuid?.() !== 0)
    return { skip: "skipped: hosts in network namespaces need root on Linux (ip netns)" };
  const prefix = `metanas-${process.pid}`;
  const sw = `${prefix}-sw`;
  // A /24 of 10.201.0.0/16 that exists only inside the namespaces.
  const net = `10.201.${process.pid % 250}`;
  const hosts: Host[] = Array.from({ length: n }, (_, h) => ({ name: `${prefix}-h${h}`, addr: `${net}.${h + 1}` }));
  const made = namespaces(
    hosts,
    [...hosts.map((h) => h.name), sw],
    [
      ["netns", "add", sw],
      ["-n", sw, "link", "add", "br0", "type", "bridge"],
      ["-n", sw, "link", "set", "br0", "up"],
      ...hosts.flatMap((h, i) => [
        ["netns", "add", h.name],
        // Both ends are made inside their namespaces: no interface ever appears outside them.
        ["link", "add", IFACE, "netns", h.name, "type", "veth", "peer", "name", `p${i}`, "netns", sw],
        ["-n", sw, "link", "set", `p${i}`, "master", "br0"],
        ["-n", sw, "link", "set", `p${i}`, "up"],
        ["-n", h.name, "addr", "add", `${h.addr}/24`, "dev", IFACE],
        ["-n", h.name, "link", "set", "lo", "up"],
        ["-n", h.name, "link", "set", IFACE, "up"],
      ]),
    ],
  );
  if ("why" in made) throw new Error(`cannot make ${n} hosts in network namespaces (${made.why})`);
  return {
    hosts: {
      hosts,
      start: made.start,
      link(h, up) {
        const r = ip(["-n", hosts[h]!.name, "link", "set", IFACE, up ? "up" : "down"]);
        if (!r.ok) throw new Error(`cannot set host ${h}'s link ${up ? "up" : "down"}: ${r.why}`);
      },
      teardown: made.teardown,
    },
  };
}
