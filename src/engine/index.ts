// The metanas tensor engine: TypeScript over libtorch.
export { grad, isGradEnabled, noGrad } from "./autograd.js";
export {
  arange,
  bernoulli,
  full,
  getDefaultFloatDType,
  labels,
  ones,
  rand,
  randint,
  randn,
  randperm,
  setDefaultFloatDType,
  tensor,
  zeros,
  zerosLike,
} from "./create.js";
export {
  DistributedError,
  type PeerDevice,
  ProcessGroup,
  type RendezvousOptions,
} from "./distributed.js";
export { DType, type DTypeName } from "./dtype.js";
export { clipGradNorm } from "./gradClip.js";
export { MomentumSgd, type MomentumSgdOptions } from "./momentumSgd.js";
export {
  addScaled,
  avgPool2d,
  batchNorm,
  batchNormAccumulate,
  cat,
  conv2d,
  crossEntropy,
  globalAvgPool,
  linear,
  maxPool2d,
  relu,
  type SeparableConv2dOptions,
  separableConv2d,
  stack,
  where,
} from "./ops.js";
export { Adam, type AdamOptions, SGD } from "./optim.js";
export { type OpTime, profileOps } from "./profiler.js";
export {
  allocatorInfo,
  cudaAvailable,
  getNumThreads,
  getRngState,
  kernelInfo,
  libtorchVersion,
  liveTensors,
  manualSeed,
  setDefaultDevice,
  setNumThreads,
  setRngState,
} from "./runtime.js";
export {
  CHECKSUM_KEY,
  decodeSafetensors,
  encodeSafetensors,
  loadSafetensors,
  SafetensorsError,
  saveSafetensors,
  writeFileAtomic,
} from "./safetensors.js";
export { type Disposable, dispose, keep, tidy } from "./scope.js";
export { type Shape, Tensor } from "./tensor.js";
export {
  accumulate,
  cloneAll,
  copyInto,
  disposeAll,
  Snapshot,
  scaleAll,
  zerosLikeAll,
} from "./tensorList.js";
