// The shapes the rest of metanas sees: class pools of CHW float images in [0, 1], and few-shot tasks.
// Images are plain Float32Arrays so the data layer never needs the tensor engine.

export type ImageShape = [channels: number, height: number, width: number];

/** One split: a set of classes, each a list of images. */
export interface ClassPool {
  readonly numClasses: number;
  readonly imageShape: ImageShape;
  /** Number of images in class c. */
  classSize(c: number): number;
  /** Image i of class c, CHW, values in [0, 1]. */
  image(c: number, i: number): Float32Array;
  className?(c: number): string;
}

/** The few-shot datasets a run meta-trains on (load.ts loads each by name). */
export const FEW_SHOT_DATASETS = ["builtin", "omniglot", "miniimagenet", "folder"] as const;
/** Every dataset the data layer reads: the few-shot ones, and CIFAR-10 for the single-task search. */
export const DATASET_NAMES = [...FEW_SHOT_DATASETS, "cifar10"] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

export interface FewShotDataset {
  readonly name: DatasetName;
  readonly imageShape: ImageShape;
  readonly splits: { train: ClassPool; val?: ClassPool; test: ClassPool };
}

export interface TaskSpec {
  ways: number;
  shots: number;
  queries: number;
}

/** A flat set of labelled images; images holds count*C*H*W floats. */
export interface TaskSet {
  images: Float32Array;
  labels: Int32Array;
  count: number;
  imageShape: ImageShape;
}

export interface Task {
  support: TaskSet;
  query: TaskSet;
  /** Pool class ids; index = label. */
  classes: number[];
}
