// Class pools backed by one uint8 pixel buffer (as decoded or read from a cache), converted to
// floats in [0, 1] per image on demand, plus a view that adds 90/180/270-degree rotations as classes.
import { DataError } from "./errors.js";
import type { ClassPool, ImageShape } from "./types.js";

export class ByteClassPool implements ClassPool {
  readonly numClasses: number;
  readonly imageShape: ImageShape;
  readonly #pixels: Uint8Array;
  readonly #starts: number[]; // first image index of each class; one extra entry at the end
  readonly #names: string[];
  readonly #size: number;

  /** pixels: all images, CHW uint8, class after class; counts[c] images in class c. */
  constructor(pixels: Uint8Array, counts: readonly number[], names: readonly string[], imageShape: ImageShape) {
    this.imageShape = [...imageShape];
    this.#size = imageShape[0] * imageShape[1] * imageShape[2];
    this.#starts = [0];
    for (const n of counts) this.#starts.push(this.#starts[this.#starts.length - 1] + n);
    const total = this.#starts[counts.length];
    if (pixels.length !== total * this.#size) {
      throw new DataError(`pixel buffer holds ${pixels.length} bytes, expected ${total * this.#size}`);
    }
    this.#pixels = pixels;
    this.#names = [...names];
    this.numClasses = counts.length;
  }

  classSize(c: number): number {
    this.#checkClass(c);
    return this.#starts[c + 1] - this.#starts[c];
  }

  /** The raw uint8 pixels of one image (a view, not a copy). */
  bytes(c: number, i: number): Uint8Array {
    const n = this.classSize(c);
    if (!Number.isInteger(i) || i < 0 || i >= n) throw new RangeError(`image ${i} out of range for class ${c} (${n})`);
    const at = (this.#starts[c] + i) * this.#size;
    return this.#pixels.subarray(at, at + this.#size);
  }

  image(c: number, i: number): Float32Array {
    return toFloat(this.bytes(c, i));
  }

  className(c: number): string {
    this.#checkClass(c);
    return this.#names[c];
  }

  #checkClass(c: number): void {
    if (!Number.isInteger(c) || c < 0 || c >= this.numClasses) {
      throw new RangeError(`class ${c} out of range (${this.numClasses} classes)`);
    }
  }
}

export function toFloat(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length);
  for (let k = 0; k < bytes.length; k++) out[k] = bytes[k] / 255;
  return out;
}

/**
 * Each base class c becomes classes 4c, 4c+1, 4c+2, 4c+3: the images rotated by 0, 90, 180 and 270
 * degrees counter-clockwise (numpy's rot90 sense). Rotating on the fly keeps the cache 4x smaller.
 */
export class RotatedClassPool implements ClassPool {
  readonly numClasses: number;
  readonly imageShape: ImageShape;

  constructor(readonly base: ClassPool) {
    const [, h, w] = base.imageShape;
    if (h !== w) throw new DataError(`rotations need square images, got ${h}x${w}`);
    this.numClasses = base.numClasses * 4;
    this.imageShape = [...base.imageShape];
  }

  classSize(c: number): number {
    return this.base.classSize(Math.floor(c / 4));
  }

  image(c: number, i: number): Float32Array {
    if (!Number.isInteger(c) || c < 0 || c >= this.numClasses) {
      throw new RangeError(`class ${c} out of range (${this.numClasses} classes)`);
    }
    return rot90(this.base.image(Math.floor(c / 4), i), this.imageShape, c % 4);
  }

  className(c: number): string {
    const name = this.base.className ? this.base.className(Math.floor(c / 4)) : String(Math.floor(c / 4));
    return `${name}/rot${(c % 4) * 90}`;
  }
}

/** Rotate a CHW square image by k*90 degrees counter-clockwise, like numpy.rot90(img, k, axes=(1, 2)). */
export function rot90(img: Float32Array, shape: ImageShape, k: number): Float32Array {
  const [ch, n] = shape;
  const turns = ((k % 4) + 4) % 4;
  if (turns === 0) return img;
  const out = new Float32Array(img.length);
  for (let c = 0; c < ch; c++) {
    const base = c * n * n;
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        // out[y][x] = in[sy][sx]
        let sy: number;
        let sx: number;
        if (turns === 1) [sy, sx] = [x, n - 1 - y];
        else if (turns === 2) [sy, sx] = [n - 1 - y, n - 1 - x];
        else [sy, sx] = [n - 1 - x, y];
        out[base + y * n + x] = img[base + sy * n + sx];
      }
    }
  }
  return out;
}
