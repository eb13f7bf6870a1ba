// Drop-path: zeroes a whole sample's op output with probability p, scaling the rest by 1/(1-p).
import { bernoulli, type Tensor } from "../engine/index.js";

export function dropPath(x: Tensor, p: number): Tensor {
  if (p <= 0) return x;
  const keep = 1 - p;
  const mask = bernoulli([x.shape[0]!, 1, 1, 1], keep);
  return x.mul(mask.div(keep));
}
