// Drop-path: zeroes a whole sample's op output with probability p, scaling the rest by 1/(1-p).
import { bernoulli, type Tensor } from "../engine/index.js";

export function dropPath(x: Tensor, p: number): Tensor {
  if (p <= 0) return x;
  return x.mul(dropPathMask(x.shape[0]!, p));
}

/** The per-sample factors [n, 1, 1, 1] of dropPath: 0 with probability p, else 1 / (1 - p). */
export function dropPathMask(n: number, p: number): Tensor {
  const keep = 1 - p;
  return bernoulli([n, 1, 1, 1], keep).div(keep);
}
