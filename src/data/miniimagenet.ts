// MiniImagenet in Ravi & Larochelle's layout: <dir>/{train,val,test}.csv (lines "filename,label",
// label = ImageNet wnid) beside <dir>/images/ of JPEGs of any size. Each image is resized to 84x84
// RGB with sharp's lanczos3 and fit "fill" (aspect not kept), which is what Ravi & Larochelle's own
// script did (PIL resize to 84x84 with LANCZOS), so already-84x84 images pass through unchanged.
// Classes are ordered as they first appear in the CSV. Decoded splits are cached like Omniglot.
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";
import { type CachedImages, cacheFileFor, cacheKey, readCache, writeCache } from "./cache.js";
import { DataError } from "./errors.js";
import type { LoaderOptions } from "./loaderOptions.js";
import { ByteClassPool } from "./pool.js";
import { decodeInto, type Log, mapLimit, stderrLog } from "./progress.js";
import type { FewShotDataset } from "./types.js";

export const MINI_SIZE = 84;
export const MINI_KERNEL = "lanczos3";
export const MINI_SPLITS = ["train", "val", "test"] as const;
export type MiniSplit = (typeof MINI_SPLITS)[number];

export type MiniImagenetOptions = LoaderOptions;

export interface SplitList {
  csv: string;
  text: string;
  classes: string[]; // wnids, first-appearance order
  files: string[][]; // per class, file names in CSV order
}

/** Parse one split file; every problem is a DataError naming the file and line. */
export async function readSplitCsv(csv: string): Promise<SplitList> {
  let text: string;
  try {
    text = await readFile(csv, "utf8");
  } catch {
    throw new DataError(
      `${csv} is missing; a MiniImagenet folder needs train.csv, val.csv and test.csv (Ravi & Larochelle's split files) beside images/`,
    );
  }
  const lines = text.split(/\r?\n/);
  if (lines[0]?.trim() !== "filename,label") {
    throw new DataError(`${csv} does not start with the header "filename,label"; use Ravi & Larochelle's split files`);
  }
  const index = new Map<string, number>();
  const classes: string[] = [];
  const files: string[][] = [];
  for (let k = 1; k < lines.length; k++) {
    const line = lines[k].trim();
    if (line === "") continue;
    const parts = line.split(",");
    const [file, label] = parts;
    if (parts.length !== 2 || !file || !label || file.includes("/") || file.includes("\\") || file.startsWith(".")) {
      throw new DataError(
        `${csv} line ${k + 1} is not "filename,label" with a plain file name: ${JSON.stringify(line)}`,
      );
    }
    let c = index.get(label);
    if (c === undefined) {
      c = classes.length;
      index.set(label, c);
      classes.push(label);
      files.push([]);
    }
    files[c].push(file);
  }
  if (classes.length === 0) throw new DataError(`${csv} lists no images; use Ravi & Larochelle's split files`);
  return { csv, text, classes, files };
}

/** Refuses a MiniImagenet directory that does not exist, naming --data-dir. */
export async function checkMiniDir(dir: string): Promise<void> {
  if (!(await stat(dir).catch(() => undefined))?.isDirectory()) {
    throw new DataError(
      `MiniImagenet directory ${dir} does not exist; pass --data-dir with the folder holding train.csv, val.csv, test.csv and images/`,
    );
  }
}

/** Decode one image to 84x84 RGB, CHW uint8. */
export async function preprocessMini(file: string): Promise<Uint8Array> {
  let data: Buffer;
  try {
    data = await sharp(file)
      .removeAlpha()
      .toColourspace("srgb")
      .resize(MINI_SIZE, MINI_SIZE, { kernel: MINI_KERNEL, fit: "fill" })
      .raw()
      .toBuffer();
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new DataError(`cannot decode ${file} (${why}); replace the file or remove its line from the split CSV`);
  }
  const n = MINI_SIZE * MINI_SIZE;
  if (data.length !== n * 3) throw new DataError(`${file} did not decode to RGB; replace the file`);
  const out = new Uint8Array(3 * n);
  for (let p = 0; p < n; p++) {
    out[p] = data[3 * p];
    out[n + p] = data[3 * p + 1];
    out[2 * n + p] = data[3 * p + 2];
  }
  return out;
}

/**
 * The cache key of a split: the CSV's bytes plus every listed image's size and mtime (hashing
 * 60,000 JPEGs would cost more than a stat), plus the preprocessing settings. A listed image that
 * is missing is refused.
 */
async function miniCacheKey(split: MiniSplit, list: SplitList, imagesDir: string): Promise<string> {
  const stats = await mapLimit(list.files.flat(), 64, async (f) => {
    const info = await stat(path.join(imagesDir, f)).catch(() => undefined);
    if (!info?.isFile()) {
      throw new DataError(`${path.join(imagesDir, f)} (listed in ${list.csv}) is missing; restore it or fix the CSV`);
    }
    return `${f}:${info.size}:${info.mtimeMs}`;
  });
  return cacheKey({
    dataset: "miniimagenet",
    split,
    csv: createHash("sha1").update(list.text).digest("hex"),
    images: createHash("sha1").update(stats.join("\n")).digest("hex"),
    size: MINI_SIZE,
    kernel: MINI_KERNEL,
    fit: "fill",
  });
}

/** Every listed image decoded to 84x84 RGB, one after another, with a progress bar. */
async function decodeSplit(
  files: string[],
  imagesDir: string,
  split: MiniSplit,
  opts: MiniImagenetOptions,
  log: Log,
): Promise<Uint8Array> {
  const decode = (f: string) => preprocessMini(path.join(imagesDir, f));
  return decodeInto(files, 3 * MINI_SIZE * MINI_SIZE, decode, {
    ...opts,
    label: `miniimagenet ${split}: decoding`,
    log,
  });
}

/** One split's images, preprocessed, from the cache when its key matches, else decoded and cached. */
export async function loadMiniSplit(split: MiniSplit, opts: MiniImagenetOptions): Promise<CachedImages> {
  const log = opts.log ?? stderrLog;
  const t0 = performance.now();
  const list = await readSplitCsv(path.join(opts.dir, `${split}.csv`));
  const imagesDir = path.join(opts.dir, "images");
  if (!(await stat(imagesDir).catch(() => undefined))?.isDirectory()) {
    throw new DataError(`${opts.dir} has no images/ folder; put the MiniImagenet JPEGs in ${imagesDir}`);
  }
  const key = await miniCacheKey(split, list, imagesDir);
  const cacheFile = cacheFileFor(opts.cacheDir, `miniimagenet-${split}`, opts.dir);
  if (!opts.noCache) {
    const hit = await readCache(cacheFile, key);
    if (hit) {
      if (!opts.quiet)
        log(`miniimagenet ${split}: ${cacheFile} (cached) in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
      return hit;
    }
  }
  const all = list.files.flat();
  const pixels = await decodeSplit(all, imagesDir, split, opts, log);
  const data: CachedImages = {
    key,
    imageShape: [3, MINI_SIZE, MINI_SIZE],
    names: list.classes,
    counts: list.files.map((f) => f.length),
    pixels,
  };
  if (!opts.noCache) await writeCache(cacheFile, data);
  if (!opts.quiet) {
    log(`miniimagenet ${split}: decoded ${all.length} images in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  }
  return data;
}

/** MiniImagenet's three splits as class pools. */
export async function loadMiniImagenet(opts: MiniImagenetOptions): Promise<FewShotDataset> {
  await checkMiniDir(opts.dir);
  const pools = [];
  for (const split of MINI_SPLITS) {
    const d = await loadMiniSplit(split, opts);
    pools.push(new ByteClassPool(d.pixels, d.counts, d.names, d.imageShape));
  }
  const [train, val, test] = pools;
  return { name: "miniimagenet", imageShape: [3, MINI_SIZE, MINI_SIZE], splits: { train, val, test } };
}
