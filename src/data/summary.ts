// What `metanas data inspect` reports of a dataset: classes and images per split.
export interface SplitSummary {
  classes: number;
  images: number;
}

export interface DatasetSummary {
  dataset: string;
  dir?: string;
  imageShape: [number, number, number];
  splits: { train: SplitSummary; val?: SplitSummary; test: SplitSummary };
  /** MiniImagenet only: whether the images/ folder is there (the split files alone can be inspected). */
  imagesFolder?: boolean;
  /** Folder datasets: files in class folders skipped as not images. */
  skipped?: number;
  /** Folder datasets checked against a task shape: what stops its tasks from being drawn, one line each. */
  problems?: string[];
  /** CIFAR-10 only: which distribution layout was found (binary or python). */
  layout?: string;
}
