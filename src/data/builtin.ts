// The built-in dataset: handwritten-style characters from hanzi-writer-data (Make Me a Hanzi stroke
// centre-lines), so that metanas runs with no data on disk and no network. Each drawing is the
// character's medians under its own random jitter — stroke width, a small affine warp (rotation,
// shear, scale, translation), a per-stroke offset and per-point noise — rasterised at 28x28, strokes
// bright on dark like preprocessed Omniglot. Drawings are rendered lazily, per class on first use.
//
// Class set (fixed, independent of the seed): the single CJK Unified Ideographs (U+4E00..U+9FFF) in the
// package, by code point; every 3rd one, keeping those with 2 to 12 strokes (simple enough to read at
// 28x28), the first 1500 of those. Class i goes to train if i % 10 < 7, val if i % 10 === 7, test
// otherwise: 1050 / 150 / 300 disjoint classes. Pixels depend only on (seed, character, drawing index).
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { Rng } from "../util/rng.js";
import { DataError } from "./errors.js";
import { toFloat } from "./pool.js";
import { rasterise, type Stroke } from "./raster.js";
import type { ClassPool, FewShotDataset, ImageShape } from "./types.js";

export const BUILTIN_SIZE = 28;
export const BUILTIN_CLASSES = 1500;
const EVERY = 3;
const MIN_STROKES = 2;
const MAX_STROKES = 12;

export interface BuiltinOptions {
  seed?: number;
  /** Drawings per class (default 20, as Omniglot). */
  drawingsPerClass?: number;
}

export interface Character {
  char: string;
  medians: number[][][]; // strokes -> points -> [x, y], 1024 box, y up (baseline at 900)
}

let characters: Character[] | undefined;

function dataDir(): string {
  const require = createRequire(import.meta.url);
  try {
    return path.dirname(require.resolve("hanzi-writer-data/package.json"));
  } catch {
    throw new DataError("the package hanzi-writer-data is missing; run npm ci in the metanas folder");
  }
}

/** The fixed, ordered list of built-in characters (read once per process). */
export function builtinCharacters(): Character[] {
  if (characters) return characters;
  const dir = dataDir();
  const chars = readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .map((f) => f.slice(0, -5))
    .filter((c) => {
      const cp = c.codePointAt(0)!;
      return [...c].length === 1 && cp >= 0x4e00 && cp <= 0x9fff;
    })
    .sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
  const out: Character[] = [];
  for (let k = 0; k < chars.length && out.length < BUILTIN_CLASSES; k += EVERY) {
    const json = JSON.parse(readFileSync(path.join(dir, `${chars[k]}.json`), "utf8")) as { medians: number[][][] };
    const n = json.medians.length;
    if (n >= MIN_STROKES && n <= MAX_STROKES) out.push({ char: chars[k], medians: json.medians });
  }
  characters = out;
  return out;
}

/** A 31-bit seed from (seed, a, b), well mixed (murmur3's finaliser), so nearby inputs give unrelated streams. */
export function mixSeed(seed: number, a: number, b: number): number {
  let h = (seed ^ Math.imul(a + 1, 0x9e3779b1) ^ Math.imul(b + 1, 0x85ebca77)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return h & 0x7fffffff;
}

const between = (rng: Rng, lo: number, hi: number) => lo + (hi - lo) * rng.float();
// Roughly normal (Irwin-Hall of 4 uniforms), standard deviation sd.
const noise = (rng: Rng, sd: number) => (rng.float() + rng.float() + rng.float() + rng.float() - 2) * sd * Math.sqrt(3);

/** One jittered drawing of a character, 28x28 uint8, strokes bright. */
export function renderCharacter(ch: Character, rng: Rng, size = BUILTIN_SIZE): Uint8Array {
  const width = between(rng, 1.3, 2.6); // pixels at 28x28; Omniglot's strokes are ~1.5-2.5 px there
  const angle = between(rng, -0.15, 0.15); // radians, about +-9 degrees
  const shear = between(rng, -0.2, 0.2);
  const sx = between(rng, 0.78, 0.95);
  const sy = between(rng, 0.78, 0.95);
  const tx = between(rng, -0.05, 0.05);
  const ty = between(rng, -0.05, 0.05);
  const [cos, sin] = [Math.cos(angle), Math.sin(angle)];
  const strokes: Stroke[] = ch.medians.map((points) => {
    const ox = noise(rng, 0.012);
    const oy = noise(rng, 0.012);
    const stroke = new Float64Array(points.length * 2);
    points.forEach(([x, y], k) => {
      // Unit square, y down, centred on 0.
      const u = x / 1024 - 0.5 + ox + noise(rng, 0.008);
      const v = (900 - y) / 1024 - 0.5 + oy + noise(rng, 0.008);
      const a = sx * (u + shear * v);
      const b = sy * v;
      stroke[2 * k] = (cos * a - sin * b + 0.5 + tx) * size;
      stroke[2 * k + 1] = (sin * a + cos * b + 0.5 + ty) * size;
    });
    return stroke;
  });
  return rasterise(strokes, width, size);
}

/** A split of built-in classes; each class's drawings are rendered on first use and kept. */
export class BuiltinClassPool implements ClassPool {
  readonly imageShape: ImageShape = [1, BUILTIN_SIZE, BUILTIN_SIZE];
  readonly numClasses: number;
  readonly #rendered = new Map<number, Uint8Array[]>();

  constructor(
    readonly characterIds: readonly number[],
    readonly seed: number,
    readonly drawings: number,
  ) {
    this.numClasses = characterIds.length;
  }

  classSize(c: number): number {
    this.#check(c);
    return this.drawings;
  }

  /** uint8 pixels of drawing i of class c. */
  bytes(c: number, i: number): Uint8Array {
    this.#check(c);
    if (!Number.isInteger(i) || i < 0 || i >= this.drawings) {
      throw new RangeError(`image ${i} out of range for class ${c} (${this.drawings})`);
    }
    let imgs = this.#rendered.get(c);
    if (!imgs) {
      const id = this.characterIds[c];
      const ch = builtinCharacters()[id];
      imgs = Array.from({ length: this.drawings }, (_, k) => renderCharacter(ch, new Rng(mixSeed(this.seed, id, k))));
      this.#rendered.set(c, imgs);
    }
    return imgs[i];
  }

  image(c: number, i: number): Float32Array {
    return toFloat(this.bytes(c, i));
  }

  className(c: number): string {
    this.#check(c);
    return builtinCharacters()[this.characterIds[c]].char;
  }

  #check(c: number): void {
    if (!Number.isInteger(c) || c < 0 || c >= this.numClasses) {
      throw new RangeError(`class ${c} out of range (${this.numClasses} classes)`);
    }
  }
}

export function builtinSplitOf(id: number): "train" | "val" | "test" {
  const r = id % 10;
  return r < 7 ? "train" : r === 7 ? "val" : "test";
}

export function loadBuiltin(opts: BuiltinOptions = {}): FewShotDataset {
  const seed = opts.seed ?? 0;
  const drawings = opts.drawingsPerClass ?? 20;
  if (!Number.isInteger(drawings) || drawings < 1) {
    throw new DataError(`drawings per class must be a positive integer, got ${drawings}`);
  }
  const ids = { train: [] as number[], val: [] as number[], test: [] as number[] };
  builtinCharacters().forEach((_, id) => {
    ids[builtinSplitOf(id)].push(id);
  });
  const pool = (list: number[]) => new BuiltinClassPool(list, seed, drawings);
  return {
    name: "builtin",
    imageShape: [1, BUILTIN_SIZE, BUILTIN_SIZE],
    splits: { train: pool(ids.train), val: pool(ids.val), test: pool(ids.test) },
  };
}
