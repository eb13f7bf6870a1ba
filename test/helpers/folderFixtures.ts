// Folder datasets the tests make themselves: train/, val/, test/ of class folders holding small
// images written with sharp, in mixed formats and sizes. Class c of a split shows a bright
// horizontal bar at row band c % 4 and a vertical one at column band (c + split) % 4, over a
// little noise, so a tiny network can tell classes apart; the pixels follow a fixed seed.
import { mkdirSync } from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { Rng } from "../../src/util/rng.js";

export interface FolderSpec {
  /** Classes per split (a split with 0 is left out) and images per class. */
  classes: { train: number; val?: number; test: number };
  perClass: number;
  /** Colour images (the bars tinted by class) instead of grey. */
  colour?: boolean;
}

const FORMATS = ["png", "jpeg", "webp", "png", "gif"] as const;

/** The pixels of one image: grey (1 channel) or RGB, interleaved. */
function pattern(c: number, shift: number, size: number, channels: number, rng: Rng): Buffer {
  const px = Buffer.alloc(size * size * channels);
  const tint = [255, 80 + 60 * (c % 3), 255 - 70 * (c % 4)];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const on = Math.floor((y * 4) / size) === c % 4 || Math.floor((x * 4) / size) === (c + shift) % 4;
      for (let k = 0; k < channels; k++) {
        px[(y * size + x) * channels + k] = on ? (channels === 1 ? 230 : tint[k]!) : Math.floor(40 * rng.float());
      }
    }
  }
  return px;
}

/** Writes one image file in the given format; returns its path. */
export async function writeImage(file: string, pixels: Buffer, size: number, channels: number): Promise<string> {
  mkdirSync(path.dirname(file), { recursive: true });
  let img = sharp(pixels, { raw: { width: size, height: size, channels: channels as 1 | 3 } });
  // Grey stays one channel in the file (sharp would write sRGB otherwise).
  if (channels === 1) img = img.toColourspace("b-w");
  const format = path.extname(file).slice(1) as (typeof FORMATS)[number];
  await img.toFormat(format === "jpeg" ? "jpeg" : format).toFile(file);
  return file;
}

/** A folder dataset under root; image j of a class has size 20 + 4 * (j % 4) and format FORMATS[j % 5]. */
export async function writeFolderDataset(root: string, spec: FolderSpec): Promise<void> {
  const rng = new Rng(11);
  const channels = spec.colour ? 3 : 1;
  for (const [k, split] of (["train", "val", "test"] as const).entries()) {
    const n = spec.classes[split] ?? 0;
    for (let c = 0; c < n; c++) {
      for (let j = 0; j < spec.perClass; j++) {
        const size = 20 + 4 * (j % 4);
        const ext = FORMATS[j % FORMATS.length] === "jpeg" ? "jpg" : FORMATS[j % FORMATS.length];
        const file = path.join(root, split, `${split}-${String.fromCharCode(97 + c)}`, `img${j}.${ext}`);
        await writeImage(file, pattern(c, k, size, channels, rng), size, channels);
      }
    }
  }
}
