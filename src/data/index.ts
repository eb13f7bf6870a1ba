// The few-shot data layer: datasets as class pools, the task sampler, and the tools around them.
export { BUILTIN_CLASSES, BuiltinClassPool, loadBuiltin, renderCharacter } from "./builtin.js";
export { defaultCacheDir } from "./cache.js";
export { CIFAR10_CLASSES, loadCifar10 } from "./cifar10.js";
export { CIFAR10_ARCHIVES, downloadCifar10 } from "./cifar10Download.js";
export { renderContactSheet } from "./contactSheet.js";
export { downloadOmniglot, OMNIGLOT_BASE_URL, OMNIGLOT_MD5 } from "./download.js";
export { DataError } from "./errors.js";
export { loadFolder } from "./folder.js";
export { formatSummary, inspectDataset } from "./inspect.js";
export { type LoadDatasetOptions, loadDataset } from "./load.js";
export { loadMiniImagenet } from "./miniimagenet.js";
export { loadOmniglot } from "./omniglot.js";
export { ByteClassPool, RotatedClassPool, rot90 } from "./pool.js";
export { batchDrawer, sampleBatch, sampleTask } from "./sampler.js";
export {
  type ClassPool,
  DATASET_NAMES,
  type DatasetName,
  type FewShotDataset,
  type ImageShape,
  type Task,
  type TaskSet,
  type TaskSpec,
} from "./types.js";
