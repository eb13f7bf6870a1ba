// The processes a run is spread over (runs/distributed.ts), as one process sees them, and the
// step that joins them: every rank prepares, then they agree (same configuration and data, nobody
// failed) and connect to each other.
import { DistributedError, type ProcessGroup } from "../engine/index.js";
import type { RunConfig } from "./config.js";
import { agree, connectPeers, type Launch, rendezvous, SharedFailure } from "./distributed.js";
import { closeSession, type Session } from "./session.js";

export interface Ranks {
  group: ProcessGroup | null;
  launch: Launch | null;
  rank: number;
  size: number;
  /** Rank 0: reads and writes the run directory, reports progress. */
  root: boolean;
}

export async function joinRanks(launch: Launch | null | undefined): Promise<Ranks> {
  if (!launch) return { group: null, launch: null, rank: 0, size: 1, root: true };
  const group = await rendezvous(launch);
  return { group, launch, rank: launch.rank, size: launch.size, root: launch.rank === 0 };
}

/** Runs `body` among the ranks of `launch` (or alone), and leaves the process group when it ends, however it ends. */
export async function withRanks<T>(launch: Launch | null | undefined, body: (ranks: Ranks) => Promise<T>): Promise<T> {
  const ranks = await joinRanks(launch);
  try {
    return await body(ranks);
  } finally {
    ranks.group?.destroy();
  }
}

export const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** What the ranks must have alike besides the configuration: the data they sample from. */
function dataShape(session: Session): string {
  const { train, val, test } = session.dataset.splits;
  return JSON.stringify([session.dataset.imageShape, train.numClasses, val?.numClasses ?? 0, test.numClasses]);
}

/** A configuration and session every rank holds, and what rank 0 read of the checkpoint. */
export interface Prepared<C> {
  c: RunConfig;
  session: Session;
  checkpoint: C | null;
}

/**
 * Prepares on every rank, then the ranks agree (same configuration and data, nobody failed) and
 * connect to each other. In one process, a failure simply throws.
 */
export async function prepareAll<C>(ranks: Ranks, prepareHere: () => Promise<Prepared<C>>): Promise<Prepared<C>> {
  const { group, launch } = ranks;
  if (!group || !launch) return prepareHere();
  let p: Prepared<C>;
  try {
    p = await prepareHere();
  } catch (err) {
    // Tell the other ranks why this one cannot start: all stop with the same message. (A failure
    // every rank has seen already, or a broken rendezvous, has nothing to tell.)
    if (err instanceof SharedFailure || err instanceof DistributedError) throw err;
    await agree(group, null, null, message(err));
    throw err;
  }
  try {
    const peers = await agree(group, p.c, dataShape(p.session), null, launch);
    await connectPeers(group, launch, peers);
  } catch (err) {
    closeSession(p.session);
    throw err;
  }
  return p;
}
