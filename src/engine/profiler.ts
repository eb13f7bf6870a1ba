// A per-op time breakdown from libtorch's own operator hooks (RecordFunction): every aten op and
// every autograd backward node, with its self time (excluding the ops it called), as PyTorch's
// profiler reports it. For benchmarks; it slows every op down a little while it runs.
import { native } from "./native.js";

export interface OpTime {
  name: string;
  /** Microseconds spent in the op itself, summed over its calls. */
  selfUs: number;
  /** Microseconds including the ops it called. */
  totalUs: number;
  calls: number;
}

/** Runs fn with the profiler on (this thread only) and returns its result and the per-op times. */
export function profileOps<T>(fn: () => T): { result: T; ops: OpTime[] } {
  native.profilerStart();
  let result: T;
  try {
    result = fn();
  } catch (err) {
    native.profilerStop();
    throw err;
  }
  return { result, ops: native.profilerStop() };
}
