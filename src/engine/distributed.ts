// Process groups over libtorch's own c10d, as torch.distributed builds them: a TCPStore for the
// rendezvous (served by rank 0, or by a launcher's agent) and a Gloo process group for collectives
// on tensors. Every call returns a Promise and blocks no JavaScript thread; calls must be awaited
// one at a time, in the same order on every rank.
import { tensor } from "./create.js";
import { native } from "./native.js";
import type { Tensor } from "./tensor.js";

/** A failed rendezvous or collective; the message names the rank that did not answer. */
export class DistributedError extends Error {}

export interface RendezvousOptions {
  /** The store's address and port (MASTER_ADDR, MASTER_PORT). */
  addr: string;
  port: number;
  rank: number;
  size: number;
  /** Whether this process serves the store (rank 0, unless a launcher's agent serves it). */
  host: boolean;
  /** Key prefix inside the store (torchrun's agent store: /worker/attempt_N). */
  prefix?: string;
  /** Limit of every blocking step: the rendezvous, each collective. */
  timeoutSeconds: number;
  /** Who serves the store, for messages: "rank 0" or "the launcher". */
  storeOwner?: string;
}

/** Which network device Gloo uses: named interfaces (GLOO_SOCKET_IFNAME), a host's address, or the default. */
export interface PeerDevice {
  interfaces?: string;
  hostname?: string;
}

async function wrap<T>(p: () => Promise<T>): Promise<T> {
  try {
    return await p();
  } catch (err) {
    throw new DistributedError(err instanceof Error ? err.message : String(err));
  }
}

export class ProcessGroup {
  #peersConnected = false;
  #destroyed = false;

  private constructor(
    readonly rank: number,
    readonly size: number,
    readonly timeoutSeconds: number,
  ) {}

  /** Joins the store (the host waits until all ranks have checked in). One group per process. */
  static async rendezvous(o: RendezvousOptions): Promise<ProcessGroup> {
    if (!(Number.isInteger(o.size) && o.size >= 1 && Number.isInteger(o.rank) && o.rank >= 0 && o.rank < o.size))
      throw new DistributedError(`rank ${o.rank} does not fit a world of size ${o.size}`);
    await wrap(() =>
      native.distributed.connect({
        addr: o.addr,
        port: o.port,
        rank: o.rank,
        size: o.size,
        host: o.host,
        prefix: o.prefix ?? "",
        timeoutMs: Math.round(o.timeoutSeconds * 1000),
        storeOwner: o.storeOwner ?? "rank 0",
      }),
    );
    return new ProcessGroup(o.rank, o.size, o.timeoutSeconds);
  }

  /** Every rank's value, in rank order (an all-gather of short strings through the store). */
  exchange(label: string, value: string): Promise<string[]> {
    return wrap(() => native.distributed.exchange(label, value));
  }

  /**
   * Connects every rank to every other for the collectives (Gloo's full mesh). `hosts`: where each
   * rank runs, named with the rank when a collective fails.
   */
  async connectPeers(device: PeerDevice = {}, hosts?: readonly string[]): Promise<void> {
    await wrap(() => native.distributed.createGroup({ ...device, ...(hosts ? { hosts: [...hosts] } : {}) }));
    this.#peersConnected = true;
  }

  /** Replaces each tensor by its sum over the ranks (one buffer on the wire; tensors of one dtype). */
  allReduceSum(tensors: readonly Tensor[], label: string): Promise<void> {
    this.#check();
    return wrap(() =>
      native.distributed.allReduceSum(
        tensors.map((t) => t.id),
        label,
      ),
    );
  }

  /** Replaces each tensor by the root rank's. */
  broadcast(tensors: readonly Tensor[], root: number, label: string): Promise<void> {
    this.#check();
    return wrap(() =>
      native.distributed.broadcast(
        tensors.map((t) => t.id),
        root,
        label,
      ),
    );
  }

  /**
   * The root rank's text on every rank (the others pass null), sent as bytes over the collectives'
   * connections: a rank that has died is noticed when its connection closes, where a wait on the
   * store (exchange) with two ranks would only end at the timeout.
   */
  async broadcastText(text: string | null, root: number, label: string): Promise<string> {
    const bytes = this.rank === root ? new TextEncoder().encode(text ?? "") : null;
    const length = tensor(Float64Array.of(bytes?.length ?? 0), [1], "float64");
    let n: number;
    try {
      await this.broadcast([length], root, label);
      n = length.item();
    } finally {
      length.dispose();
    }
    if (n === 0) return "";
    const body = tensor(bytes ?? new Uint8Array(n), [n], "uint8");
    try {
      await this.broadcast([body], root, label);
      return new TextDecoder().decode(body.data() as Uint8Array);
    } finally {
      body.dispose();
    }
  }

  barrier(label: string): Promise<void> {
    this.#check();
    return wrap(() => native.distributed.barrier(label));
  }

  /** Leaves the group (after a barrier, so that rank 0's store outlives the others' use of it). */
  destroy(): void {
    if (this.#destroyed) return;
    native.distributed.destroy();
    this.#destroyed = true;
  }

  #check(): void {
    if (this.#destroyed) throw new DistributedError("the process group was destroyed");
    if (!this.#peersConnected) throw new DistributedError("collectives need connectPeers() first");
  }
}
