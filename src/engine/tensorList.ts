// Lists of tensors handled as one: copies outside autograd and outside any tidy() scope, in-place
// copies and sums, and a disposable snapshot to restore a list later.
import { noGrad } from "./autograd.js";
import { zerosLike } from "./create.js";
import { type Disposable, keep, tidy } from "./scope.js";
import type { Tensor } from "./tensor.js";

export function cloneAll(ts: readonly Tensor[]): Tensor[] {
  // clone() under no-grad gives a tensor outside the graph; no detach() handle to free.
  return noGrad(() => tidy(() => ts.map((t) => t.clone()))).map(keep);
}
export function zerosLikeAll(ts: readonly Tensor[]): Tensor[] {
  return noGrad(() => ts.map((t) => keep(zerosLike(t))));
}
export function copyInto(dst: readonly Tensor[], src: readonly Tensor[]): void {
  if (dst.length !== src.length) throw new Error(`copyInto: ${src.length} tensors into ${dst.length}`);
  noGrad(() => dst.forEach((t, i) => t.copy_(src[i]!)));
}
/** acc += alpha * ts */
export function accumulate(acc: readonly Tensor[], ts: readonly Tensor[], alpha = 1): void {
  if (acc.length !== ts.length) throw new Error(`accumulate: ${ts.length} tensors into ${acc.length}`);
  noGrad(() => acc.forEach((t, i) => t.addScaled_(ts[i]!, alpha)));
}
/** ts *= s */
export function scaleAll(ts: readonly Tensor[], factor: number): void {
  noGrad(() => ts.forEach((t) => t.mul_(factor)));
}
export function disposeAll(ts: readonly Tensor[]): void {
  for (const t of ts) t.dispose();
}

/**
 * The values of some tensors (and of whatever else `restoreExtra` puts back) at one moment:
 * restore() writes them back into the same tensors; dispose() frees the copies. Snapshots of
 * several owners join into one.
 */
export class Snapshot implements Disposable {
  #copies: Tensor[] | null;
  readonly #parts: Snapshot[];

  constructor(
    readonly targets: readonly Tensor[],
    readonly restoreExtra: () => void = () => {},
    parts: readonly Snapshot[] = [],
  ) {
    this.#copies = cloneAll(targets);
    this.#parts = [...parts];
  }

  /** One snapshot that restores and frees all of `parts`. */
  static join(parts: readonly (Snapshot | null)[]): Snapshot {
    return new Snapshot(
      [],
      () => {},
      parts.filter((p): p is Snapshot => p !== null),
    );
  }

  /** The saved copies (owned by the snapshot). */
  get copies(): readonly Tensor[] {
    if (!this.#copies) throw new Error("Snapshot used after dispose()");
    return this.#copies;
  }

  restore(): void {
    copyInto(this.targets, this.copies);
    this.restoreExtra();
    for (const p of this.#parts) p.restore();
  }

  get isDisposed(): boolean {
    return this.#copies === null;
  }

  dispose(): void {
    if (this.#copies) disposeAll(this.#copies);
    this.#copies = null;
    for (const p of this.#parts) p.dispose();
  }
}
