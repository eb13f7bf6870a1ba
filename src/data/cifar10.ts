// CIFAR-10 in its two canonical distribution layouts (Krizhevsky's page): the binary version
// (cifar-10-batches-bin/data_batch_1..5.bin and test_batch.bin, each 10,000 records of one label
// byte and 3,072 pixel bytes) and the Python version (cifar-10-batches-py/data_batch_1..5 and
// test_batch, pickled dicts whose b"data" is a uint8 (10000, 3072) array and b"labels" a list).
// Either way a pixel row is the red, green and blue 32x32 planes: CHW already. The 50,000 training
// images are the train split and the 10,000 test images the test split, ten classes each.
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { DataError } from "./errors.js";
import { type NdArray, PickleError, unpickle } from "./pickle.js";
import { ByteClassPool } from "./pool.js";
import type { FewShotDataset, ImageShape } from "./types.js";

export const CIFAR10_CLASSES = [
  "airplane",
  "automobile",
  "bird",
  "cat",
  "deer",
  "dog",
  "frog",
  "horse",
  "ship",
  "truck",
] as const;
export const CIFAR10_SHAPE: ImageShape = [3, 32, 32];
const PIXELS = 3 * 32 * 32;
export const CIFAR10_RECORDS_PER_BATCH = 10000;
const TRAIN_BATCHES = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"];
const TEST_BATCH = "test_batch";

export type Cifar10Layout = "binary" | "python";
/** The folder each layout's tarball unpacks to. */
export const CIFAR10_FOLDERS: Record<Cifar10Layout, string> = {
  binary: "cifar-10-batches-bin",
  python: "cifar-10-batches-py",
};
const fileName = (layout: Cifar10Layout, batch: string) => (layout === "binary" ? `${batch}.bin` : batch);

export interface Cifar10Location {
  layout: Cifar10Layout;
  /** The folder holding the batch files. */
  folder: string;
}

const isFile = async (f: string) => (await stat(f).catch(() => undefined))?.isFile() ?? false;

/** Finds the batches in dir or in its cifar-10-batches-bin / cifar-10-batches-py folder (binary first). */
export async function locateCifar10(dir: string): Promise<Cifar10Location> {
  for (const layout of ["binary", "python"] as const) {
    for (const folder of [path.join(dir, CIFAR10_FOLDERS[layout]), dir]) {
      if (await isFile(path.join(folder, fileName(layout, TRAIN_BATCHES[0]!)))) return { layout, folder };
    }
  }
  throw new DataError(
    `no CIFAR-10 batches in ${dir}: expected ${CIFAR10_FOLDERS.binary}/ or ${CIFAR10_FOLDERS.python}/ (or their files) there; fetch them with metanas data download cifar10 --data-dir ${dir}`,
  );
}

/** One batch: `count` labels and count x 3,072 pixel bytes. */
export interface LabelledBytes {
  count: number;
  labels: Uint8Array;
  pixels: Uint8Array;
}

function checkLabels(labels: ArrayLike<number>, file: string): void {
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (!(Number.isInteger(y) && y >= 0 && y < 10))
      throw new DataError(`${file}: image ${i} has label ${y}, but CIFAR-10's are 0-9`);
  }
}

/** The binary layout: records of one label byte and 3,072 pixel bytes. */
export function parseBinaryBatch(buf: Uint8Array, file: string, records: number): LabelledBytes {
  const want = records * (PIXELS + 1);
  if (buf.length !== want)
    throw new DataError(
      `${file} holds ${buf.length} bytes, expected ${want} (${records} records of 1 label + ${PIXELS} pixel bytes): it is truncated or not a CIFAR-10 batch`,
    );
  const labels = new Uint8Array(records);
  const pixels = new Uint8Array(records * PIXELS);
  for (let i = 0; i < records; i++) {
    const at = i * (PIXELS + 1);
    labels[i] = buf[at]!;
    pixels.set(buf.subarray(at + 1, at + 1 + PIXELS), i * PIXELS);
  }
  checkLabels(labels, file);
  return { count: records, labels, pixels };
}

/** The Python layout: a pickled dict with b"data" (uint8, records x 3,072) and b"labels". */
export function parsePythonBatch(buf: Uint8Array, file: string, records: number): LabelledBytes {
  let batch: unknown;
  try {
    batch = unpickle(buf);
  } catch (err) {
    if (!(err instanceof PickleError)) throw err;
    throw new DataError(`${file} is not a CIFAR-10 Python batch (${err.message})`);
  }
  const bad = (why: string): never => {
    throw new DataError(`${file} is not a CIFAR-10 Python batch (${why})`);
  };
  if (!(batch instanceof Map)) return bad("it holds no dict");
  const data = batch.get("data") as NdArray | undefined;
  const labels = batch.get("labels") as unknown;
  if (data?.kind !== "ndarray") return bad('no "data" array');
  if (!Array.isArray(labels)) return bad('no "labels" list');
  const [n, width] = data.shape;
  if (data.dtype !== "u1" || data.shape.length !== 2 || width !== PIXELS || data.fortran)
    bad(`"data" is ${data.dtype} of shape (${data.shape.join(", ")}), expected uint8 (${records}, ${PIXELS})`);
  if (n !== records || labels.length !== records)
    bad(`${n} images and ${labels.length} labels, expected ${records} of each`);
  if (data.data.length !== records * PIXELS) bad(`"data" holds ${data.data.length} bytes for ${records} images`);
  checkLabels(labels as number[], file);
  return { count: records, labels: Uint8Array.from(labels as number[]), pixels: data.data };
}

async function readBatch(dir: string, loc: Cifar10Location, batch: string, records: number): Promise<LabelledBytes> {
  const file = path.join(loc.folder, fileName(loc.layout, batch));
  const fix = `download it again (metanas data download cifar10 --data-dir ${dir})`;
  const buf = await readFile(file).catch(() => {
    throw new DataError(`${file} is missing (CIFAR-10 has data_batch_1..5 and test_batch); ${fix}`);
  });
  try {
    return loc.layout === "binary" ? parseBinaryBatch(buf, file, records) : parsePythonBatch(buf, file, records);
  } catch (err) {
    throw err instanceof DataError ? new DataError(`${err.message}; ${fix}`) : err;
  }
}

/** The batches' images as one pool, class after class, each class in file order. */
export function poolOf(batches: readonly LabelledBytes[]): ByteClassPool {
  const counts = new Array<number>(10).fill(0);
  for (const b of batches) for (const y of b.labels) counts[y]! += 1;
  const starts = counts.map((_, c) => counts.slice(0, c).reduce((a, x) => a + x, 0));
  const pixels = new Uint8Array(counts.reduce((a, x) => a + x, 0) * PIXELS);
  for (const b of batches) {
    for (let i = 0; i < b.count; i++) {
      const y = b.labels[i]!;
      pixels.set(b.pixels.subarray(i * PIXELS, (i + 1) * PIXELS), starts[y]! * PIXELS);
      starts[y]! += 1;
    }
  }
  return new ByteClassPool(pixels, counts, CIFAR10_CLASSES, CIFAR10_SHAPE);
}

export interface LoadCifar10Options {
  dir: string;
  /** Records per batch file: 10,000 in the canonical files (smaller only for tests). */
  recordsPerBatch?: number;
}

export interface Cifar10Dataset extends FewShotDataset {
  layout: Cifar10Layout;
  folder: string;
}

export async function loadCifar10(o: LoadCifar10Options): Promise<Cifar10Dataset> {
  const records = o.recordsPerBatch ?? CIFAR10_RECORDS_PER_BATCH;
  const loc = await locateCifar10(o.dir);
  const train: LabelledBytes[] = [];
  for (const b of TRAIN_BATCHES) train.push(await readBatch(o.dir, loc, b, records));
  const test = await readBatch(o.dir, loc, TEST_BATCH, records);
  return {
    name: "cifar10",
    imageShape: CIFAR10_SHAPE,
    splits: { train: poolOf(train), test: poolOf([test]) },
    layout: loc.layout,
    folder: loc.folder,
  };
}
