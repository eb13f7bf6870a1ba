// Meta-model pruning (docs/method.md §2): op logits whose softmax at t_min is below a bound are set
// to -1e9 for good, so those ops are never computed again.
import { noGrad, type Tensor, tensor, tidy } from "../engine/index.js";

export const PRUNED_LOGIT = -1e9;

/** Prunes in place; returns how many logits were newly pruned. */
export function pruneOpLogits(alpha: Tensor, tMin: number, below: number): number {
  const [edges, ops] = alpha.shape as [number, number];
  const data = Float64Array.from(alpha.data());
  let pruned = 0;
  for (let e = 0; e < edges; e++) {
    const row = data.subarray(e * ops, (e + 1) * ops);
    const max = Math.max(...row);
    const exps = Array.from(row, (v) => Math.exp((v - max) / tMin));
    const z = exps.reduce((a, b) => a + b, 0);
    exps.forEach((x, o) => {
      if (x / z < below && row[o]! > PRUNED_LOGIT) {
        row[o] = PRUNED_LOGIT;
        pruned++;
      }
    });
  }
  if (pruned > 0) tidy(() => noGrad(() => alpha.copy_(tensor(data, [edges, ops], alpha.dtype))));
  return pruned;
}

/** Mean entropy (nats) of softmax(logits / T) over the rows of a [rows, k] tensor or a list of vectors with k > 1. */
export function meanEntropy(rows: number[][], temperature: number): number {
  const entropies = rows
    .filter((r) => r.length > 1)
    .map((r) => {
      const max = Math.max(...r);
      const exps = r.map((v) => Math.exp((v - max) / temperature));
      const z = exps.reduce((a, b) => a + b, 0);
      return -exps.reduce((a, x) => (x > 0 ? a + (x / z) * Math.log(x / z) : a), 0);
    });
  return entropies.length ? entropies.reduce((a, b) => a + b, 0) / entropies.length : 0;
}
