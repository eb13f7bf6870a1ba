// Copies of parameter lists, outside autograd and outside any tidy scope.
import { keep, noGrad, type Tensor, tidy, zerosLike } from "../engine/index.js";

export function cloneAll(ts: readonly Tensor[]): Tensor[] {
  // clone() under no-grad gives a tensor outside the graph; no detach() handle to free.
  return noGrad(() => tidy(() => ts.map((t) => t.clone()))).map(keep);
}
export function zerosLikeAll(ts: readonly Tensor[]): Tensor[] {
  return noGrad(() => ts.map((t) => keep(zerosLike(t))));
}
export function copyInto(dst: readonly Tensor[], src: readonly Tensor[]): void {
  noGrad(() => dst.forEach((t, i) => t.copy_(src[i]!)));
}
/** acc += alpha * ts */
export function accumulate(acc: readonly Tensor[], ts: readonly Tensor[], alpha = 1): void {
  noGrad(() => acc.forEach((t, i) => t.addScaled_(ts[i]!, alpha)));
}
export function disposeAll(ts: readonly Tensor[]): void {
  for (const t of ts) t.dispose();
}
