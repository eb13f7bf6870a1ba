// A PNG grid of images from a pool (rows = classes, columns = images), to look at what a dataset yields.
import sharp from "sharp";
import type { ClassPool } from "./types.js";

export interface ContactSheetOptions {
  classes?: number[]; // default: the first 10
  perClass?: number; // default 10
  scale?: number; // nearest-neighbour upscaling, default 2
}

export async function renderContactSheet(pool: ClassPool, opts: ContactSheetOptions = {}): Promise<Buffer> {
  const classes = opts.classes ?? Array.from({ length: Math.min(10, pool.numClasses) }, (_, c) => c);
  const per = opts.perClass ?? 10;
  const scale = opts.scale ?? 2;
  const [ch, h, w] = pool.imageShape;
  const gap = 2;
  const W = per * (w + gap) + gap;
  const H = classes.length * (h + gap) + gap;
  const sheet = new Uint8Array(W * H * ch).fill(96); // grey frame between images
  classes.forEach((c, row) => {
    for (let i = 0; i < Math.min(per, pool.classSize(c)); i++) {
      const img = pool.image(c, i);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          for (let k = 0; k < ch; k++) {
            const at = ((gap + row * (h + gap) + y) * W + gap + i * (w + gap) + x) * ch + k;
            sheet[at] = Math.round(img[k * h * w + y * w + x] * 255);
          }
        }
      }
    }
  });
  return sharp(sheet, { raw: { width: W, height: H, channels: ch as 1 | 3 } })
    .resize(W * scale, H * scale, { kernel: "nearest" })
    .png()
    .toBuffer();
}
