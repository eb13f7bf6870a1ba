// One entry point for every dataset, so callers only name what they want.
import { loadBuiltin } from "./builtin.js";
import { loadCifar10 } from "./cifar10.js";
import { DataError } from "./errors.js";
import { loadFolder } from "./folder.js";
import type { CacheAndProgressOptions } from "./loaderOptions.js";
import { loadMiniImagenet } from "./miniimagenet.js";
import { loadOmniglot, type OmniglotPreprocessing, type OmniglotSplit } from "./omniglot.js";
import type { FolderImageSettings } from "./shapes.js";
import { DATASET_NAMES, type DatasetName, type FewShotDataset } from "./types.js";

export interface LoadDatasetOptions extends FolderImageSettings, CacheAndProgressOptions {
  name: DatasetName;
  /** Data folder (omniglot, miniimagenet, folder, cifar10); ignored by builtin. */
  dir?: string;
  /** Seed of the built-in drawings' jitter (the file datasets do not depend on it). */
  seed?: number;
  /** Omniglot: rotations as further classes (default true). */
  rotations?: boolean;
  /** Omniglot: "background" (default), "vinyals" or "reptile". */
  split?: OmniglotSplit;
  /** Omniglot: "maml" (default) or "reptile" preprocessing. */
  preprocessing?: OmniglotPreprocessing;
  /** Omniglot: characters held out of train as a validation split (default 0). */
  valCharacters?: number;
  /** Builtin: drawings per class (default 20). */
  drawingsPerClass?: number;
}

export async function loadDataset(opts: LoadDatasetOptions): Promise<FewShotDataset> {
  switch (opts.name) {
    case "builtin":
      return loadBuiltin({ seed: opts.seed, drawingsPerClass: opts.drawingsPerClass });
    case "omniglot":
      return loadOmniglot({ ...opts, dir: requireDir(opts) });
    case "miniimagenet":
      return loadMiniImagenet({ ...opts, dir: requireDir(opts) });
    case "folder":
      return loadFolder({ ...opts, dir: requireDir(opts) });
    case "cifar10":
      return loadCifar10({ dir: requireDir(opts) });
    default:
      throw new DataError(`unknown dataset "${String(opts.name)}"; use one of ${DATASET_NAMES.join(", ")}`);
  }
}

function requireDir(opts: LoadDatasetOptions): string {
  if (!opts.dir)
    throw new DataError(`dataset ${opts.name} needs a folder; pass --data-dir DIR (or use --dataset builtin)`);
  return opts.dir;
}
