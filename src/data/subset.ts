// A split made of chosen classes from one or more pools (e.g. Omniglot's Vinyals split, which mixes
// the background and evaluation sets, or a validation split held out of the training classes).
import { DataError } from "./errors.js";
import type { ClassPool, ImageShape } from "./types.js";

export interface ClassRef {
  pool: ClassPool;
  c: number;
}

export class SubsetClassPool implements ClassPool {
  readonly numClasses: number;
  readonly imageShape: ImageShape;

  constructor(readonly refs: readonly ClassRef[]) {
    if (refs.length === 0) throw new DataError("a split needs at least one class");
    this.imageShape = [...refs[0].pool.imageShape];
    this.numClasses = refs.length;
  }

  #ref(c: number): ClassRef {
    const r = this.refs[c];
    if (!r) throw new RangeError(`class ${c} out of range (${this.numClasses} classes)`);
    return r;
  }

  classSize(c: number): number {
    const r = this.#ref(c);
    return r.pool.classSize(r.c);
  }

  image(c: number, i: number): Float32Array {
    const r = this.#ref(c);
    return r.pool.image(r.c, i);
  }

  className(c: number): string {
    const r = this.#ref(c);
    return r.pool.className ? r.pool.className(r.c) : String(r.c);
  }
}

export function allClasses(pool: ClassPool): ClassRef[] {
  return Array.from({ length: pool.numClasses }, (_, c) => ({ pool, c }));
}
