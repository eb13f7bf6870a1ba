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

export type DatasetName = "omniglot" | "miniimagenet" | "builtin" | "cifar10";

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
