// The data of a single-task search, split as DARTS splits CIFAR-10: the training images of every
// class divided into a half that trains the weights and a half that trains the architecture, and
// held-out images that only the final measurement sees. Datasets whose test split holds the same
// classes (CIFAR-10) hold out that split; the few-shot datasets (Omniglot, built-in), whose test
// split has other classes, hold out the last images of every training class instead.
import type { ClassPool, FewShotDataset, ImageShape, TaskSet } from "../data/types.js";
import type { Rng } from "../util/rng.js";

export interface SplitSettings {
  /** Classes to use, evenly spaced over the training split (0: all). */
  classes: number;
  /** Held-out images per class where the test split has other classes. */
  testPerClass: number;
  /** Training images per class at most (0: all), before the weights/architecture split. */
  trainPerClass: number;
  /** Held-out images per class at most (0: all). */
  testPerClassMax: number;
  /** Fraction of each class's training images that train the weights (DARTS: 0.5). */
  trainPortion: number;
}

/** One image: a class of a pool and its index there; `label` is the class's position in the search. */
export interface ImageRef {
  pool: ClassPool;
  c: number;
  i: number;
  label: number;
}

export interface SingleTaskData {
  imageShape: ImageShape;
  numClasses: number;
  weightImages: ImageRef[];
  archImages: ImageRef[];
  testImages: ImageRef[];
  /** Per-channel mean and standard deviation of the training images (both halves), for normalising. */
  mean: number[];
  std: number[];
}

/** Whether the dataset's test split holds its training classes (a classification benchmark's test set). */
export function testSplitHasTrainClasses(ds: FewShotDataset): boolean {
  return ds.name === "cifar10";
}

/** `k` classes evenly spaced over `n` (all of them when k is 0 or at least n). */
export function spacedClasses(n: number, k: number): number[] {
  const m = k <= 0 || k >= n ? n : k;
  return Array.from({ length: m }, (_, j) => Math.floor((j * n) / m));
}

const take = (n: number, max: number) => (max > 0 ? Math.min(n, max) : n);
const range = (a: number, b: number) => Array.from({ length: Math.max(0, b - a) }, (_, k) => a + k);

/** The search's images: each chosen class's training images cut into a weight half and an architecture half, and its held-out images. */
export function splitDataset(ds: FewShotDataset, settings: SplitSettings): SingleTaskData {
  const train = ds.splits.train;
  const sameTest = testSplitHasTrainClasses(ds);
  const classes = spacedClasses(train.numClasses, settings.classes);
  const weightImages: ImageRef[] = [];
  const archImages: ImageRef[] = [];
  const testImages: ImageRef[] = [];
  classes.forEach((c, label) => {
    const n = train.classSize(c);
    const held = sameTest ? 0 : settings.testPerClass;
    if (n - held < 2)
      throw new Error(
        `class ${c} has ${n} images: holding out ${held} leaves too few to train on; lower --test-per-class`,
      );
    const trainIdx = range(0, take(n - held, settings.trainPerClass));
    const cut = Math.max(1, Math.min(trainIdx.length - 1, Math.round(trainIdx.length * settings.trainPortion)));
    const ref = (pool: ClassPool, pc: number) => (i: number) => ({ pool, c: pc, i, label });
    weightImages.push(...trainIdx.slice(0, cut).map(ref(train, c)));
    archImages.push(...trainIdx.slice(cut).map(ref(train, c)));
    if (sameTest)
      testImages.push(
        ...range(0, take(ds.splits.test.classSize(c), settings.testPerClassMax)).map(ref(ds.splits.test, c)),
      );
    else testImages.push(...range(n - held, n - held + take(held, settings.testPerClassMax)).map(ref(train, c)));
  });
  const { mean, std } = channelStats([...weightImages, ...archImages], ds.imageShape);
  return { imageShape: ds.imageShape, numClasses: classes.length, weightImages, archImages, testImages, mean, std };
}

/** Per-channel mean and standard deviation over the images (as torchvision's Normalize constants are). */
export function channelStats(images: readonly ImageRef[], shape: ImageShape): { mean: number[]; std: number[] } {
  const [ch, h, w] = shape;
  const plane = h * w;
  const sum = new Float64Array(ch);
  const sq = new Float64Array(ch);
  for (const r of images) {
    const img = r.pool.image(r.c, r.i);
    for (let c = 0; c < ch; c++) {
      for (let k = c * plane; k < (c + 1) * plane; k++) {
        sum[c]! += img[k]!;
        sq[c]! += img[k]! * img[k]!;
      }
    }
  }
  const n = Math.max(1, images.length * plane);
  const mean = Array.from(sum, (v) => v / n);
  // A constant channel would divide by zero: it is left unscaled.
  const std = Array.from(sq, (v, c) => Math.sqrt(Math.max(0, v / n - mean[c]! ** 2)) || 1);
  return { mean, std };
}

export type Augment = "none" | "crop-flip";

/**
 * A batch of normalised images. crop-flip is DARTS's CIFAR augmentation: zero-pad by 4 (black, before
 * normalising), crop at a random offset, then flip left-right with probability 1/2.
 */
export function makeBatch(
  refs: readonly ImageRef[],
  data: Pick<SingleTaskData, "imageShape" | "mean" | "std">,
  augment: Augment,
  rng: Rng | null,
): TaskSet {
  const [ch, h, w] = data.imageShape;
  const size = ch * h * w;
  const images = new Float32Array(refs.length * size);
  const labels = new Int32Array(refs.length);
  refs.forEach((r, b) => {
    const img = r.pool.image(r.c, r.i);
    const crop = augment === "crop-flip" && rng;
    const dy = crop ? rng.int(9) - 4 : 0;
    const dx = crop ? rng.int(9) - 4 : 0;
    const flip = crop ? rng.int(2) === 1 : false;
    for (let c = 0; c < ch; c++) {
      const [mean, std] = [data.mean[c]!, data.std[c]!];
      for (let y = 0; y < h; y++) {
        const sy = y + dy;
        for (let x = 0; x < w; x++) {
          const sx = (flip ? w - 1 - x : x) + dx;
          const v = sy >= 0 && sy < h && sx >= 0 && sx < w ? img[c * h * w + sy * w + sx]! : 0;
          images[b * size + c * h * w + y * w + x] = (v - mean) / std;
        }
      }
    }
    labels[b] = r.label;
  });
  return { images, labels, count: refs.length, imageShape: [ch, h, w] };
}
