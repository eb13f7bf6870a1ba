// What every benchmark shares: its command-line options, the median of its figures, and generated
// images (what a pass costs does not depend on their content).
import type { ClassPool, ImageShape } from "../src/data/types.js";
import { Rng } from "../src/util/rng.js";

/** --name VALUE from the command line, or the fallback. */
export function option(name: string, fallback: string): string;
export function option(name: string): string | undefined;
export function option(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

/** The median of the figures (the mean of the middle two for an even count). */
export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** A class pool of uniform random images of this shape, from the seed. */
export function generatedPool(shape: ImageShape, classes: number, perClass: number, seed: number): ClassPool {
  const rng = new Rng(seed);
  const size = shape[0] * shape[1] * shape[2];
  const images = Array.from({ length: classes * perClass }, () =>
    Float32Array.from({ length: size }, () => rng.float()),
  );
  return {
    numClasses: classes,
    imageShape: shape,
    classSize: () => perClass,
    image: (c, i) => images[c * perClass + i]!,
  };
}
