// Any folder of images as a few-shot dataset: <dir>/train/, optionally <dir>/val/, and <dir>/test/,
// each holding one sub-folder per class (its name is the class name) of images in any format and
// size sharp reads (imageFile.ts), in the class folder or below it. Images are resized to a square
// input size, grey or colour by a setting or detected from the images, decoded in parallel, and
// cached like Omniglot: one cache file for the whole folder, rebuilt when any file or setting changes.
//
// Classes are ordered by folder name, images by path: the order, and so every task drawn from a
// seed, does not depend on the file system.
import type { Dirent } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { type CachedImages, cacheFileFor, cacheKey, readCache, writeCache } from "./cache.js";
import { DataError } from "./errors.js";
import { decodeImage, hasColour, IMAGE_EXTENSIONS, IMAGE_KERNEL, isImageFile } from "./imageFile.js";
import type { LoaderOptions } from "./loaderOptions.js";
import { ByteClassPool } from "./pool.js";
import { decodeInto, type Log, mapLimit, startProgress, stderrLog } from "./progress.js";
import { type FolderImageSettings, folderImageShape, type ImageColour } from "./shapes.js";
import type { ClassPool, FewShotDataset, ImageShape } from "./types.js";

export const FOLDER_SPLITS = ["train", "val", "test"] as const;
export type FolderSplit = (typeof FOLDER_SPLITS)[number];
export interface FolderOptions extends FolderImageSettings, LoaderOptions {}

export interface ImageEntry {
  /** Path relative to the dataset folder (or the support folder), with "/" separators. */
  rel: string;
  abs: string;
  size: number;
  mtime: number;
}

export interface ClassFolder {
  name: string;
  abs: string;
  images: ImageEntry[];
}

export interface FolderListing {
  dir: string;
  splits: { train: ClassFolder[]; val?: ClassFolder[]; test: ClassFolder[] };
  /** Files in class folders that are not images (by their ending), skipped. */
  skipped: string[];
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const isDir = async (p: string) => (await stat(p).catch(() => undefined))?.isDirectory() ?? false;
const LAYOUT = "train/, test/ and optionally val/, each with one sub-folder of images per class";

/** A folder entry's kind, following symbolic links (people link images rather than copy them). */
async function kind(folder: string, e: Dirent): Promise<"dir" | "file" | null> {
  const target = e.isSymbolicLink() ? await stat(path.join(folder, e.name)).catch(() => undefined) : e;
  return target?.isDirectory() ? "dir" : target?.isFile() ? "file" : null;
}

/** Every file below a folder, depth first, as [rel, abs]; hidden entries are left out. */
async function walk(abs: string, rel: string): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  const entries = (await readdir(abs, { withFileTypes: true })).sort((a, b) => byText(a.name, b.name));
  for (const e of entries) {
    if (e.name.startsWith(".")) continue;
    const [a, r] = [path.join(abs, e.name), `${rel}/${e.name}`];
    const k = await kind(abs, e);
    if (k === "dir") out.push(...(await walk(a, r)));
    else if (k === "file") out.push([r, a]);
  }
  return out;
}

/**
 * The class folders of one folder (a split, or predict's support set): its sub-folders by name,
 * each with its images (in it or below it) by path. `rel` prefixes the images' relative paths.
 */
export async function listClassFolders(folder: string, rel: string, skipped: string[] = []): Promise<ClassFolder[]> {
  const entries = await readdir(folder, { withFileTypes: true });
  const names: string[] = [];
  for (const e of entries) if (!e.name.startsWith(".") && (await kind(folder, e)) === "dir") names.push(e.name);
  const classes: ClassFolder[] = [];
  for (const name of names.sort(byText)) {
    const abs = path.join(folder, name);
    classes.push({ name, abs, images: await listImages(abs, `${rel}/${name}`, skipped) });
  }
  return classes;
}

/** The images in a folder and below it, by path; other files go to `skipped`. */
export async function listImages(folder: string, rel: string, skipped: string[] = []): Promise<ImageEntry[]> {
  const images: ImageEntry[] = [];
  for (const [r, a] of await walk(folder, rel)) {
    if (!isImageFile(r)) {
      skipped.push(r);
      continue;
    }
    const info = await stat(a);
    images.push({ rel: r, abs: a, size: info.size, mtime: info.mtimeMs });
  }
  return images;
}

/** The dataset folder's splits and classes, without decoding any image; a clear error when the layout is wrong. */
export async function listFolderDataset(dir: string): Promise<FolderListing> {
  if (!(await isDir(dir))) {
    throw new DataError(`folder dataset ${dir} does not exist; pass --data-dir with the folder holding ${LAYOUT}`);
  }
  const skipped: string[] = [];
  const splits: Partial<Record<FolderSplit, ClassFolder[]>> = {};
  for (const split of FOLDER_SPLITS) {
    const at = path.join(dir, split);
    if (!(await isDir(at))) {
      if (split === "val") continue;
      throw new DataError(`${dir} has no ${split}/ folder; a folder dataset holds ${LAYOUT}`);
    }
    const classes = await listClassFolders(at, split, skipped);
    if (classes.length === 0) {
      throw new DataError(
        `${at} holds no class folders; put each class's images in a sub-folder named after the class`,
      );
    }
    splits[split] = classes;
  }
  const { train, val, test } = splits as FolderListing["splits"];
  return { dir, splits: { train, ...(val ? { val } : {}), test }, skipped };
}

/** The listing's classes split by split, in the order the cache stores them. */
export function listedClasses(listing: FolderListing): Array<[FolderSplit, ClassFolder]> {
  return FOLDER_SPLITS.flatMap((split) =>
    (listing.splits[split] ?? []).map((c): [FolderSplit, ClassFolder] => [split, c]),
  );
}

/** A class folder without images cannot be sampled from: say which, before anything is decoded. */
export function assertClassesHaveImages(classes: readonly ClassFolder[]): void {
  const empty = classes.find((c) => c.images.length === 0);
  if (empty) {
    throw new DataError(
      `class folder ${empty.abs} holds no images (${IMAGE_EXTENSIONS.join(" ")}); add images to it or remove it`,
    );
  }
}

/** Grey or colour: the setting, else colour when any image has colour (stops at the first). */
export async function resolveColour(
  files: readonly string[],
  setting: ImageColour,
  o: { quiet?: boolean; log?: Log; concurrency?: number } = {},
): Promise<"grey" | "colour"> {
  if (setting !== "auto") return setting;
  let colour = false;
  const progress = startProgress("folder: grey or colour", files.length, o.quiet ?? false, o.log ?? stderrLog);
  await mapLimit(files, o.concurrency ?? 16, async (f) => {
    if (!colour && (await hasColour(f))) colour = true;
    progress.tick();
  });
  progress.stop();
  return colour ? "colour" : "grey";
}

/**
 * The cache key of a folder dataset: every image's path, size and mtime (a stat, not a hash:
 * folders may hold many large photos), plus the preprocessing settings as given (auto stays auto:
 * the detection follows the files).
 */
function folderCacheKey(files: readonly ImageEntry[], opts: FolderOptions): string {
  return cacheKey({
    dataset: "folder",
    fingerprint: files.map((f) => [f.rel, f.size, f.mtime]),
    imageSize: opts.imageSize ?? null,
    imageColour: opts.imageColour ?? "auto",
    kernel: IMAGE_KERNEL,
    fit: "fill",
    background: "white",
  });
}

/** Every image decoded to `shape`, one after another, with a progress bar. */
async function decodeFolderImages(
  files: readonly ImageEntry[],
  shape: ImageShape,
  opts: FolderOptions,
  log: Log,
): Promise<Uint8Array> {
  const decode = (f: ImageEntry) => decodeImage(f.abs, shape, f.abs);
  return decodeInto(files, shape[0] * shape[1] * shape[2], decode, { ...opts, label: "folder: decoding", log });
}

/** All splits' images, preprocessed, from the cache when its key matches, else decoded and cached. */
export async function loadFolderImages(listing: FolderListing, opts: FolderOptions): Promise<CachedImages> {
  const log = opts.log ?? stderrLog;
  const t0 = performance.now();
  const classes = listedClasses(listing);
  assertClassesHaveImages(classes.map(([, c]) => c));
  const files = classes.flatMap(([, c]) => c.images);
  const key = folderCacheKey(files, opts);
  const cacheFile = cacheFileFor(opts.cacheDir, "folder", listing.dir);
  if (!opts.noCache) {
    const hit = await readCache(cacheFile, key);
    if (hit) {
      if (!opts.quiet) log(`folder: ${cacheFile} (cached) in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
      return hit;
    }
  }
  const colour = await resolveColour(
    files.map((f) => f.abs),
    opts.imageColour ?? "auto",
    opts,
  );
  const shape = folderImageShape(colour, opts.imageSize);
  const data: CachedImages = {
    key,
    imageShape: shape,
    names: classes.map(([split, c]) => `${split}/${c.name}`),
    counts: classes.map(([, c]) => c.images.length),
    pixels: await decodeFolderImages(files, shape, opts, log),
  };
  if (!opts.noCache) await writeCache(cacheFile, data);
  if (!opts.quiet) {
    const [ch, h, w] = shape;
    const what = `${h}x${w} ${ch === 1 ? "grey" : "colour"}`;
    log(`folder: decoded ${files.length} images to ${what} in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  }
  return data;
}

/** The cached images as one class pool per split (class names without the split). */
export function splitPools(data: CachedImages): Partial<Record<FolderSplit, ClassPool>> {
  const [ch, h, w] = data.imageShape;
  const size = ch * h * w;
  const pools: Partial<Record<FolderSplit, ClassPool>> = {};
  let [first, offset] = [0, 0];
  for (const split of FOLDER_SPLITS) {
    let end = first;
    while (end < data.names.length && data.names[end].startsWith(`${split}/`)) end++;
    if (end === first) continue;
    const counts = data.counts.slice(first, end);
    const images = counts.reduce((a, b) => a + b, 0);
    const names = data.names.slice(first, end).map((n) => n.slice(split.length + 1));
    pools[split] = new ByteClassPool(
      data.pixels.subarray(offset, offset + images * size),
      counts,
      names,
      data.imageShape,
    );
    [first, offset] = [end, offset + images * size];
  }
  return pools;
}

export async function loadFolder(opts: FolderOptions): Promise<FewShotDataset> {
  const listing = await listFolderDataset(opts.dir);
  if (listing.skipped.length > 0 && !opts.quiet) {
    (opts.log ?? stderrLog)(
      `folder: skipped ${listing.skipped.length} file(s) that are not images by their ending (${listing.skipped[0]}${listing.skipped.length > 1 ? ", ..." : ""})`,
    );
  }
  const data = await loadFolderImages(listing, opts);
  const { train, val, test } = splitPools(data);
  if (!train || !test) throw new DataError(`the cache of ${opts.dir} lacks a split; delete it and run again`);
  return { name: "folder", imageShape: data.imageShape, splits: { train, ...(val ? { val } : {}), test } };
}
