// Wall-clock seconds spent in named phases of training (task sampling, architecture steps, weight
// steps, query predictions), summed per process until taken: the runner records them per
// meta-epoch in metrics.jsonl and bench:metaepoch prints them. Two clock reads per phase.
const totals = new Map<string, number>();

/** Runs fn and adds its wall-clock time to the phase's total. */
export function timed<T>(phase: string, fn: () => T): T {
  const t0 = performance.now();
  try {
    return fn();
  } finally {
    totals.set(phase, (totals.get(phase) ?? 0) + (performance.now() - t0) / 1000);
  }
}

/** The totals since the last take, in seconds, left running. */
export function peekPhaseTimes(): Record<string, number> {
  return Object.fromEntries(totals);
}

/** The totals since the last call, in seconds, and a fresh start. */
export function takePhaseTimes(): Record<string, number> {
  const out = Object.fromEntries(totals);
  totals.clear();
  return out;
}
