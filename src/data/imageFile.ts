// Image files of any format and size that sharp reads (PNG, JPEG, WebP, TIFF, GIF's first frame,
// AVIF/HEIF, SVG), decoded to the CHW uint8 pixels of a network's input: transparency composited on
// white, grey or sRGB colour, resized with lanczos3 to fill the square (aspect not kept, as
// MiniImagenet's and Omniglot's preprocessing do) or by nearest neighbour at pixel centres (REPTILE's
// Omniglot preprocessing), optionally inverted (Omniglot's strokes bright).
import path from "node:path";
import sharp from "sharp";
import { DataError } from "./errors.js";
import type { ImageShape } from "./types.js";

export const IMAGE_KERNEL = "lanczos3";

/** File endings taken for images; any other file in a class folder is skipped. */
export const IMAGE_EXTENSIONS = [
  ".png",
  ".jpg",
  ".jpeg",
  ".jpe",
  ".webp",
  ".gif",
  ".tif",
  ".tiff",
  ".avif",
  ".heic",
  ".heif",
  ".svg",
] as const;

export function isImageFile(name: string): boolean {
  if (path.basename(name).startsWith(".")) return false; // .DS_Store, ._x.png (macOS resource forks)
  return (IMAGE_EXTENSIONS as readonly string[]).includes(path.extname(name).toLowerCase());
}

export const RESIZE_FILTERS = ["lanczos3", "nearest"] as const;
export type ResizeFilter = (typeof RESIZE_FILTERS)[number];

export interface DecodeOptions {
  /** Bright strokes on dark, as preprocessed Omniglot and the built-in characters are. */
  invert?: boolean;
  /**
   * lanczos3 (default), or nearest: PIL's nearest neighbour at pixel centres, as REPTILE's Omniglot
   * preprocessing resizes (nearestPixel).
   */
  resize?: ResizeFilter;
}

/** PIL's nearest resize: output pixel i (of outSize) reads input pixel floor((i + 0.5) * inSize / outSize). */
export function nearestPixel(i: number, inSize: number, outSize: number): number {
  return Math.floor(((i + 0.5) * inSize) / outSize);
}

function cannotDecode(where: string, err: unknown): DataError {
  const why = (err instanceof Error ? err.message : String(err)).split("\n")[0];
  return new DataError(`cannot decode ${where} (${why}); replace the file with a readable image or remove it`);
}

/** One image file (or its bytes) as `shape` (C = 1 grey, C = 3 sRGB), CHW uint8. */
export async function decodeImage(
  input: string | Buffer,
  shape: ImageShape,
  where: string,
  o: DecodeOptions = {},
): Promise<Uint8Array> {
  const [ch, h, w] = shape;
  if (ch !== 1 && ch !== 3) throw new DataError(`images have 1 (grey) or 3 (colour) channels, not ${ch}`);
  const nearest = o.resize === "nearest";
  let raw: { data: Buffer; info: { channels: number; width: number; height: number } };
  try {
    const flat = sharp(input).flatten({ background: "#ffffff" });
    // Nearest: decoded at full size, then sampled below.
    const img = nearest ? flat : flat.resize(w, h, { kernel: IMAGE_KERNEL, fit: "fill" });
    raw = await (ch === 1 ? img.greyscale() : img.toColourspace("srgb"))
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw cannotDecode(where, err);
  }
  const { data, info } = raw;
  const n = h * w;
  const out = new Uint8Array(ch * n);
  // Output pixel p's pixel in the decoded image: itself, or for nearest the one at its centre.
  const from = nearest
    ? (p: number) => nearestPixel(Math.floor(p / w), info.height, h) * info.width + nearestPixel(p % w, info.width, w)
    : (p: number) => p;
  // Interleaved -> planar; a grey image asked for in colour repeats its one channel.
  for (let c = 0; c < ch; c++) {
    const src = Math.min(c, info.channels - 1);
    for (let p = 0; p < n; p++) out[c * n + p] = data[from(p) * info.channels + src];
  }
  if (o.invert) for (let k = 0; k < out.length; k++) out[k] = 255 - out[k];
  return out;
}

/** Channel differences up to this (of 255) still count as grey: JPEG's chroma noise. */
const GREY_TOLERANCE = 8;

/**
 * Whether an image holds colour: its file has colour channels and some pixel of a 32x32 rendering
 * differs between them by more than GREY_TOLERANCE (grey pictures saved as RGB count as grey).
 */
export async function hasColour(file: string): Promise<boolean> {
  try {
    const meta = await sharp(file).metadata();
    const channels = (meta.channels ?? 1) - (meta.hasAlpha ? 1 : 0);
    if (channels < 3 || meta.space === "b-w") return false;
    const data = await sharp(file)
      .flatten({ background: "#ffffff" })
      .resize(32, 32, { fit: "fill" })
      .toColourspace("srgb")
      .raw({ depth: "uchar" })
      .toBuffer();
    for (let p = 0; p + 2 < data.length; p += 3) {
      const [r, g, b] = [data[p], data[p + 1], data[p + 2]];
      if (Math.max(Math.abs(r - g), Math.abs(g - b), Math.abs(r - b)) > GREY_TOLERANCE) return true;
    }
    return false;
  } catch (err) {
    throw cannotDecode(file, err);
  }
}
