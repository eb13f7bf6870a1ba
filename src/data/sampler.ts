// Few-shot task sampling: n classes, k support + q query images each, every choice from the caller's Rng.
import type { Rng } from "../util/rng.js";
import { DataError } from "./errors.js";
import type { ClassPool, Task, TaskSet, TaskSpec } from "./types.js";

function checkSpec(pool: ClassPool, spec: TaskSpec): void {
  const { ways, shots, queries } = spec;
  for (const [k, v] of Object.entries(spec)) {
    if (!Number.isInteger(v) || v < 0) throw new DataError(`task ${k} must be a non-negative integer, got ${v}`);
  }
  if (ways < 1 || shots < 1)
    throw new DataError(`a task needs at least 1 way and 1 shot, got ${ways}-way ${shots}-shot`);
  if (ways > pool.numClasses) {
    throw new DataError(
      `${ways}-way tasks need ${ways} classes but the split has only ${pool.numClasses}; use --ways ${pool.numClasses} or fewer`,
    );
  }
  // Checked over the whole pool, not only the drawn classes, so the error never depends on the seed.
  const need = shots + queries;
  for (let c = 0; c < pool.numClasses; c++) {
    const have = pool.classSize(c);
    if (have < need) {
      const name = pool.className ? ` (${pool.className(c)})` : "";
      throw new DataError(
        `${shots} shots + ${queries} queries need ${need} images per class but class ${c}${name} has only ${have}; lower --shots or --train-shots (support images of meta-test or meta-training tasks) or --queries so that they total at most ${have}`,
      );
    }
  }
}

function emptySet(pool: ClassPool, count: number): TaskSet {
  const [ch, h, w] = pool.imageShape;
  return {
    images: new Float32Array(count * ch * h * w),
    labels: new Int32Array(count),
    count,
    imageShape: [ch, h, w],
  };
}

/**
 * An n-way task: `ways` distinct classes in random order (label = position, so the class-to-label
 * mapping is shuffled per task), and for each class `shots` support and `queries` query images drawn
 * without replacement. Both sets are grouped by label, labels ascending.
 */
export function sampleTask(pool: ClassPool, spec: TaskSpec, rng: Rng): Task {
  checkSpec(pool, spec);
  const { ways, shots, queries } = spec;
  const [ch, h, w] = pool.imageShape;
  const size = ch * h * w;
  const classes = rng.sample(pool.numClasses, ways);
  const support = emptySet(pool, ways * shots);
  const query = emptySet(pool, ways * queries);
  classes.forEach((c, label) => {
    const picks = rng.sample(pool.classSize(c), shots + queries);
    picks.forEach((i, j) => {
      const img = pool.image(c, i);
      if (img.length !== size) throw new DataError(`class ${c} image ${i} has ${img.length} values, expected ${size}`);
      const [set, slot] = j < shots ? [support, label * shots + j] : [query, label * queries + (j - shots)];
      set.images.set(img, slot * size);
      set.labels[slot] = label;
    });
  });
  return { support, query, classes };
}

function checkBatch(set: TaskSet, batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new DataError(`batch size must be a positive integer, got ${batchSize}`);
  }
  if (set.count < 1) throw new DataError("cannot draw a batch from an empty task set");
}

/** The images of `set` at `indices`, in that order. */
export function gather(set: TaskSet, indices: readonly number[]): TaskSet {
  const size = set.images.length / set.count;
  const out: TaskSet = {
    images: new Float32Array(indices.length * size),
    labels: new Int32Array(indices.length),
    count: indices.length,
    imageShape: [...set.imageShape],
  };
  indices.forEach((i, b) => {
    out.images.set(set.images.subarray(i * size, (i + 1) * size), b * size);
    out.labels[b] = set.labels[i]!;
  });
  return out;
}

/** `batchSize` images drawn with replacement from a task set (e.g. the support set for inner-loop steps). */
export function sampleBatch(set: TaskSet, batchSize: number, rng: Rng): TaskSet {
  checkBatch(set, batchSize);
  return gather(
    set,
    Array.from({ length: batchSize }, () => rng.int(set.count)),
  );
}

/** How inner-loop batches are drawn: each image independently (MetaNAS), or passes over the set in shuffled order (REPTILE). */
export const BATCH_SAMPLING = ["replacement", "shuffled"] as const;
export type BatchSampling = (typeof BATCH_SAMPLING)[number];

/**
 * Successive batches from a task set. "shuffled" is REPTILE's mini-batching: the set in a fresh
 * random order on every pass, batches taken in turn, a batch continuing into the next pass when
 * the set runs out; so a batch as large as the set holds every image once.
 */
export function batchDrawer(set: TaskSet, batchSize: number, rng: Rng, sampling: BatchSampling): () => TaskSet {
  checkBatch(set, batchSize);
  if (sampling === "replacement") return () => sampleBatch(set, batchSize, rng);
  let order: number[] = [];
  let next = 0;
  return () => {
    const picks: number[] = [];
    while (picks.length < batchSize) {
      if (next >= order.length) {
        order = rng.shuffle(Array.from({ length: set.count }, (_, i) => i));
        next = 0;
      }
      picks.push(order[next++]!);
    }
    return gather(set, picks);
  };
}
