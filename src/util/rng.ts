// The run's JavaScript-side random stream (task sampling, batch draws), from one seed, with a
// state that checkpoints capture so a resumed run draws exactly what the uninterrupted one would.
// Tensor randomness (initialisation, drop-path) uses libtorch's generator, seeded from the same seed.
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus, xoroshiro128plusFromState } from "pure-rand/generator/xoroshiro128plus";
import type { JumpableRandomGenerator } from "pure-rand/types/JumpableRandomGenerator";

export class Rng {
  #gen: JumpableRandomGenerator;

  constructor(seed: number) {
    this.#gen = xoroshiro128plus(seed);
  }

  static fromState(state: readonly number[]): Rng {
    const r = new Rng(0);
    r.#gen = xoroshiro128plusFromState(state);
    return r;
  }

  state(): number[] {
    return [...this.#gen.getState()];
  }

  /** Integer uniform in [0, n). */
  int(n: number): number {
    if (!(n >= 1)) throw new Error(`Rng.int: range must hold at least one value, got ${n}`);
    return uniformInt(this.#gen, 0, n - 1);
  }

  /** Float uniform in [0, 1). */
  float(): number {
    return uniformFloat64(this.#gen);
  }

  /** A uniformly shuffled copy (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const a = [...items];
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  }

  /** k distinct values of [0, n), in random order. */
  sample(n: number, k: number): number[] {
    if (k > n) throw new Error(`Rng.sample: cannot draw ${k} distinct values from ${n}`);
    return this.shuffle(Array.from({ length: n }, (_, i) => i)).slice(0, k);
  }

  /** A fresh 31-bit seed drawn from this stream (to seed a derived stream). */
  seed(): number {
    return this.int(0x7fffffff);
  }
}

/**
 * A 31-bit seed mixed from several non-negative integers (a run's seed, a meta-epoch, a task index):
 * a stream derived this way depends only on what it is for, not on which process draws it.
 */
export function deriveSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    if (!Number.isInteger(p) || p < 0) throw new Error(`deriveSeed: parts must be non-negative integers, got ${p}`);
    // Both 32-bit halves, so parts above 2^32 still matter.
    for (const word of [p >>> 0, Math.floor(p / 0x100000000) >>> 0]) {
      h = Math.imul(h ^ word, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= h >>> 16;
    }
  }
  return h >>> 1;
}
