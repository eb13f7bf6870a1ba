// Omniglot from its canonical distribution (images_background.zip / images_evaluation.zip, or the
// folders they unpack to), preprocessed in one of two ways:
//  - "maml" (default; MAML's and MetaNAS's): inverted so strokes are bright, resized 105x105 ->
//    28x28 with sharp's lanczos3 (the filter of MAML's PIL LANCZOS resize);
//  - "reptile" (REPTILE's code): not inverted (background 1, strokes 0), resized by nearest
//    neighbour at pixel centres, as PIL's default for the 1-bit PNGs;
// and, optionally, every 90/180/270-degree rotation a further class.
//
// Splits:
//  - "background" (default, MetaNAS): train = the 964 background characters, test = the 659
//    evaluation characters; with valCharacters = n, the last n background characters become val.
//  - "vinyals": the 1623 characters in a fixed order (background sorted by alphabet then character,
//    followed by evaluation sorted the same way); the first 1200 train, the other 423 test; val as above
//    from the end of the 1200.
//  - "reptile": REPTILE's: the 1623 characters pooled and shuffled (from the run's seed), the first
//    1200 train, the other 423 test; rotations (when on) only augment the training classes.
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import sharp, { type OutputInfo } from "sharp";
import { deriveSeed, Rng } from "../util/rng.js";
import { type CachedImages, cacheFileFor, cacheKey, fileSha1, readCache, writeCache } from "./cache.js";
import { DataError } from "./errors.js";
import { nearestPixel } from "./imageFile.js";
import type { LoaderOptions } from "./loaderOptions.js";
import { ByteClassPool, RotatedClassPool } from "./pool.js";
import { decodeInto, type Log, stderrLog } from "./progress.js";
import { allClasses, type ClassRef, SubsetClassPool } from "./subset.js";
import type { ClassPool, FewShotDataset } from "./types.js";
import { listZip, readZip } from "./zip.js";

export const OMNIGLOT_SETS = ["background", "evaluation"] as const;
export type OmniglotSet = (typeof OMNIGLOT_SETS)[number];

export const OMNIGLOT_SIZE = 28;
export const OMNIGLOT_KERNEL = "lanczos3";
const VINYALS_TRAIN = 1200;

export const OMNIGLOT_SPLITS = ["background", "vinyals", "reptile"] as const;
export type OmniglotSplit = (typeof OMNIGLOT_SPLITS)[number];
export const OMNIGLOT_PREPROCESSING = ["maml", "reptile"] as const;
export type OmniglotPreprocessing = (typeof OMNIGLOT_PREPROCESSING)[number];

export interface OmniglotOptions extends LoaderOptions {
  /** Each 90/180/270-degree rotation a further class (default true). */
  rotations?: boolean;
  split?: OmniglotSplit;
  /** How the drawings become 28x28 images (default maml). */
  preprocessing?: OmniglotPreprocessing;
  /** The reptile split's shuffle is drawn from this seed (default 0). */
  seed?: number;
  /** Characters (before rotation) held out of train as a validation split (default 0: no val split). */
  valCharacters?: number;
}

export type OmniglotSource = { kind: "zip" | "dir"; path: string; set: OmniglotSet };

/** The zip or the unpacked folder of one set; a clear error when neither is there. */
export async function locateOmniglot(dir: string, set: OmniglotSet): Promise<OmniglotSource> {
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) {
    throw new DataError(
      `Omniglot directory ${dir} does not exist; pass --data-dir with the folder holding images_background.zip and images_evaluation.zip, or run metanas data download omniglot --data-dir ${dir}`,
    );
  }
  const zip = path.join(dir, `images_${set}.zip`);
  if ((await stat(zip).catch(() => undefined))?.isFile()) return { kind: "zip", path: zip, set };
  const folder = path.join(dir, `images_${set}`);
  if ((await stat(folder).catch(() => undefined))?.isDirectory()) return { kind: "dir", path: folder, set };
  throw new DataError(
    `${dir} has neither images_${set}.zip nor images_${set}/; this is not the Omniglot layout — run metanas data download omniglot --data-dir ${dir}`,
  );
}

interface Drawing {
  character: string; // "<Alphabet>/<characterNN>"
  file: string;
}

/** Parse "images_<set>/<Alphabet>/<characterNN>/<id>_<drawer>.png"; undefined for other entries. */
function parseEntry(rel: string, set: OmniglotSet, where: string): Drawing | undefined {
  if (!rel.toLowerCase().endsWith(".png")) return undefined;
  const parts = rel.split("/");
  if (parts.length !== 4 || parts[0] !== `images_${set}`) {
    throw new DataError(
      `${where}: unexpected file ${rel}; Omniglot PNGs must sit at images_${set}/<Alphabet>/<character>/<name>.png — get the canonical zip`,
    );
  }
  return { character: `${parts[1]}/${parts[2]}`, file: rel };
}

type FolderFile = { rel: string; abs: string; size: number; mtime: number };

/** Every file under a folder, with its path from the folder's parent, size and mtime, sorted by path. */
async function listFolder(root: string): Promise<FolderFile[]> {
  const out: FolderFile[] = [];
  const walk = async (abs: string, rel: string) => {
    for (const e of await readdir(abs, { withFileTypes: true })) {
      const a = path.join(abs, e.name);
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) await walk(a, r);
      else if (e.isFile()) {
        const info = await stat(a);
        out.push({ rel: r, abs: a, size: info.size, mtime: info.mtimeMs });
      }
    }
  };
  await walk(root, path.basename(root));
  return out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

/** Decode one Omniglot PNG to 28x28 uint8: strokes bright (maml), or as drawn (reptile). */
export async function preprocessOmniglot(
  png: Buffer,
  where: string,
  preprocessing: OmniglotPreprocessing = "maml",
): Promise<Uint8Array> {
  let raw: { data: Buffer; info: OutputInfo };
  try {
    const grey = sharp(png).flatten({ background: "#ffffff" }).greyscale();
    const sized =
      preprocessing === "maml"
        ? grey.resize(OMNIGLOT_SIZE, OMNIGLOT_SIZE, { kernel: OMNIGLOT_KERNEL, fit: "fill" })
        : grey;
    raw = await sized.raw().toBuffer({ resolveWithObject: true });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new DataError(`cannot decode ${where} (${why}); the file is corrupt — get a fresh copy of the dataset`);
  }
  const { data, info } = raw;
  const n = OMNIGLOT_SIZE * OMNIGLOT_SIZE;
  const out = new Uint8Array(n);
  if (preprocessing === "maml") {
    // Invert so strokes are bright on a dark background; take channel 0 whatever sharp returned.
    for (let k = 0; k < n; k++) out[k] = 255 - data[k * info.channels]!;
    return out;
  }
  // PIL's nearest resize (what metanas predict also does to new images for a run preprocessed so).
  const pick = (i: number, size: number) => nearestPixel(i, size, OMNIGLOT_SIZE);
  for (let y = 0; y < OMNIGLOT_SIZE; y++)
    for (let x = 0; x < OMNIGLOT_SIZE; x++)
      out[y * OMNIGLOT_SIZE + x] = data[(pick(y, info.height) * info.width + pick(x, info.width)) * info.channels]!;
  return out;
}

/** The error for a zip or folder that holds none of Omniglot's PNGs where they belong. */
function notOmniglotLayout(source: OmniglotSource): DataError {
  return new DataError(
    `${source.path} holds no images_${source.set}/<Alphabet>/<character>/*.png files; this is not the Omniglot layout — get the canonical zip`,
  );
}

/** The cache file and key of one set as preprocessed: the key holds the zip's SHA-1 (cheap: ~10 MB), or for a folder every file's path, size and mtime. */
async function omniglotCache(
  source: OmniglotSource,
  folder: FolderFile[] | undefined,
  preprocessing: OmniglotPreprocessing,
  cacheDir: string | undefined,
): Promise<{ cacheFile: string; key: string }> {
  const fingerprint =
    source.kind === "zip" ? await fileSha1(source.path) : folder!.map((f) => [f.rel, f.size, f.mtime]);
  const key = cacheKey({
    dataset: "omniglot",
    set: source.set,
    fingerprint,
    size: OMNIGLOT_SIZE,
    // The maml key is unchanged from earlier versions, so their caches stay valid.
    ...(preprocessing === "maml" ? { kernel: OMNIGLOT_KERNEL, invert: true } : { kernel: "nearest", invert: false }),
  });
  const cacheName = preprocessing === "maml" ? `omniglot-${source.set}` : `omniglot-${source.set}-${preprocessing}`;
  return { cacheFile: cacheFileFor(cacheDir, cacheName, source.path), key };
}

type DrawingFile = { d: Drawing; data: () => Promise<Buffer> };

/** The set's drawings with a way to read each PNG's bytes, in a fixed order: characters by alphabet then name, drawings by file name. */
async function gatherDrawings(source: OmniglotSource, folder: FolderFile[] | undefined): Promise<DrawingFile[]> {
  const files: DrawingFile[] = [];
  if (source.kind === "zip") {
    const entries = await readZip(source.path, (n) => n.toLowerCase().endsWith(".png"));
    for (const e of entries) {
      const d = parseEntry(e.name, source.set, source.path);
      if (d) files.push({ d, data: async () => e.data });
    }
  } else {
    const { readFile } = await import("node:fs/promises");
    for (const f of folder!) {
      const d = parseEntry(f.rel, source.set, source.path);
      if (d) files.push({ d, data: () => readFile(f.abs) });
    }
  }
  if (files.length === 0) throw notOmniglotLayout(source);
  files.sort((a, b) => (a.d.file < b.d.file ? -1 : a.d.file > b.d.file ? 1 : 0));
  return files;
}

/** Every drawing decoded and preprocessed, one 28x28 image after another, with a progress bar. */
async function decodeDrawings(
  files: DrawingFile[],
  source: OmniglotSource,
  preprocessing: OmniglotPreprocessing,
  opts: OmniglotOptions,
  log: Log,
): Promise<Uint8Array> {
  const decode = async (f: DrawingFile) =>
    preprocessOmniglot(await f.data(), `${source.path}:${f.d.file}`, preprocessing);
  return decodeInto(files, OMNIGLOT_SIZE * OMNIGLOT_SIZE, decode, {
    ...opts,
    label: `omniglot ${source.set}: decoding`,
    log,
  });
}

/** The characters in order and how many drawings each has (the drawings sorted by character). */
function charactersOf(files: DrawingFile[]): { names: string[]; counts: number[] } {
  const names: string[] = [];
  const counts: number[] = [];
  for (const f of files) {
    if (names[names.length - 1] !== f.d.character) {
      names.push(f.d.character);
      counts.push(0);
    }
    counts[counts.length - 1]++;
  }
  return { names, counts };
}

/** One set's characters, preprocessed, from the cache when its key matches, else decoded and cached. */
export async function loadOmniglotSet(source: OmniglotSource, opts: OmniglotOptions): Promise<CachedImages> {
  const log = opts.log ?? stderrLog;
  const t0 = performance.now();
  const folder = source.kind === "dir" ? await listFolder(source.path) : undefined;
  const preprocessing = opts.preprocessing ?? "maml";
  const { cacheFile, key } = await omniglotCache(source, folder, preprocessing, opts.cacheDir);
  if (!opts.noCache) {
    const hit = await readCache(cacheFile, key);
    if (hit) {
      if (!opts.quiet)
        log(`omniglot ${source.set}: ${cacheFile} (cached) in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
      return hit;
    }
  }
  const files = await gatherDrawings(source, folder);
  const pixels = await decodeDrawings(files, source, preprocessing, opts, log);
  const data: CachedImages = { key, imageShape: [1, OMNIGLOT_SIZE, OMNIGLOT_SIZE], ...charactersOf(files), pixels };
  if (!opts.noCache) await writeCache(cacheFile, data);
  if (!opts.quiet) {
    log(`omniglot ${source.set}: decoded ${files.length} images in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  }
  return data;
}

/** Characters and their drawing counts of one set, from the zip's directory or the folder listing (no decoding). */
export async function countOmniglotSet(source: OmniglotSource): Promise<number[]> {
  const names = source.kind === "zip" ? await listZip(source.path) : (await listFolder(source.path)).map((f) => f.rel);
  const counts = new Map<string, number>();
  for (const n of names) {
    const d = parseEntry(n, source.set, source.path);
    if (d) counts.set(d.character, (counts.get(d.character) ?? 0) + 1);
  }
  if (counts.size === 0) throw notOmniglotLayout(source);
  return [...counts.keys()].sort().map((k) => counts.get(k)!);
}

/**
 * Which characters go where, for any per-character items (pools' class refs, or just counts):
 * bg and ev are the background and evaluation characters in their fixed order.
 */
export function partitionOmniglot<T>(
  bg: readonly T[],
  ev: readonly T[],
  split: OmniglotSplit = "background",
  valCharacters = 0,
  seed = 0,
): { train: T[]; val: T[]; test: T[] } {
  if (!OMNIGLOT_SPLITS.includes(split)) {
    throw new DataError(`unknown Omniglot split "${split}"; use one of ${OMNIGLOT_SPLITS.join(", ")}`);
  }
  const all = split === "reptile" ? new Rng(deriveSeed(seed, 1623)).shuffle([...bg, ...ev]) : [...bg, ...ev];
  const [train, test] =
    split === "background" ? [[...bg], [...ev]] : [all.slice(0, VINYALS_TRAIN), all.slice(VINYALS_TRAIN)];
  if (!Number.isInteger(valCharacters) || valCharacters < 0 || valCharacters >= train.length) {
    throw new DataError(
      `--val-characters must be an integer from 0 to ${train.length - 1} for the ${split} split, got ${valCharacters}`,
    );
  }
  return { train: train.slice(0, train.length - valCharacters), val: train.slice(train.length - valCharacters), test };
}

export async function loadOmniglot(opts: OmniglotOptions): Promise<FewShotDataset> {
  // One set after the other, so that a folder missing both reports the background set, always.
  const sources: OmniglotSource[] = [];
  for (const set of OMNIGLOT_SETS) sources.push(await locateOmniglot(opts.dir, set));
  const pools: ByteClassPool[] = [];
  for (const source of sources) {
    const d = await loadOmniglotSet(source, opts);
    pools.push(new ByteClassPool(d.pixels, d.counts, d.names, d.imageShape));
  }
  const [background, evaluation] = pools;
  const parts = partitionOmniglot(
    allClasses(background),
    allClasses(evaluation),
    opts.split,
    opts.valCharacters,
    opts.seed,
  );
  // REPTILE rotates only its training characters; the other splits rotate every split.
  const rotateEval = opts.split !== "reptile";
  const wrap = (refs: ClassRef[], rotate: boolean): ClassPool => {
    const p = new SubsetClassPool(refs);
    return opts.rotations === false || !rotate ? p : new RotatedClassPool(p);
  };
  return {
    name: "omniglot",
    imageShape: [1, OMNIGLOT_SIZE, OMNIGLOT_SIZE],
    splits: {
      train: wrap(parts.train, true),
      ...(parts.val.length > 0 ? { val: wrap(parts.val, rotateEval) } : {}),
      test: wrap(parts.test, rotateEval),
    },
  };
}
