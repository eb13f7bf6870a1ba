// Loads the libtorch addon built by scripts/build-native.mjs. Every other engine module talks to
// libtorch through this one object; tensors are integer ids into the addon's table.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface NativeAddon {
  fromTypedArray(
    data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array,
    shape: number[],
    dtype: number,
  ): number;
  toTypedArray(id: number): Float32Array | Float64Array | Int32Array | Uint8Array;
  /** Raw row-major bytes of any dtype (little-endian on the machines we run on). */
  toBytes(id: number): Uint8Array;
  item(id: number): number;
  shape(id: number): number[];
  dtype(id: number): number;
  device(id: number): string;
  full(shape: number[], value: number, dtype: number): number;
  randn(shape: number[], dtype: number): number;
  rand(shape: number[], dtype: number): number;
  bernoulli(shape: number[], p: number, dtype: number): number;
  randint(low: number, high: number, shape: number[]): number;
  randperm(n: number): number;
  arange(n: number, dtype: number): number;
  unary(id: number, op: number): number;
  binary(a: number, b: number, op: number): number;
  binaryScalar(a: number, scalar: number, op: number): number;
  where(cond: number, a: number, b: number): number;
  sum(id: number, dims: number[], keepDim: boolean): number;
  mean(id: number, dims: number[], keepDim: boolean): number;
  maxDim(id: number, dim: number, keepDim: boolean): [number, number];
  maxAll(id: number): number;
  argmax(id: number, dim: number, keepDim: boolean): number;
  topk(id: number, k: number, dim: number, largest: boolean): [number, number];
  matmul(a: number, b: number): number;
  linear(x: number, w: number, b: number): number;
  conv2d(
    x: number,
    w: number,
    b: number,
    stride: number[],
    padding: number[],
    dilation: number[],
    groups: number,
  ): number;
  maxPool2d(x: number, kernel: number[], stride: number[], padding: number[]): number;
  avgPool2d(x: number, kernel: number[], stride: number[], padding: number[], countIncludePad: boolean): number;
  batchNorm(x: number, weight: number, bias: number, eps: number, relu: boolean): number;
  softmax(x: number, dim: number): number;
  logSoftmax(x: number, dim: number): number;
  crossEntropy(logits: number, labels: number, reduction: number): number;
  cat(ids: number[], dim: number): number;
  stack(ids: number[], dim: number): number;
  slice(id: number, dim: number, start: number, end: number, step: number): number;
  pad(id: number, pads: number[], value: number): number;
  reshape(id: number, shape: number[]): number;
  permute(id: number, dims: number[]): number;
  transpose(id: number, d0: number, d1: number): number;
  contiguous(id: number): number;
  clone(id: number): number;
  detach(id: number): number;
  indexSelect(id: number, dim: number, index: number): number;
  flip(id: number, dims: number[]): number;
  rot90(id: number, k: number, dims: number[]): number;
  toDType(id: number, dtype: number): number;
  toDevice(id: number, device: string): number;
  copyInPlace(dst: number, src: number): void;
  addInPlace(dst: number, src: number, alpha: number): void;
  mulScalarInPlace(dst: number, scalar: number): void;
  fillInPlace(dst: number, v: number): void;
  setRequiresGrad(id: number, on: boolean): void;
  requiresGrad(id: number): boolean;
  grad(id: number): number;
  setGrad(id: number, grad: number): void;
  backward(id: number, retainGraph: boolean): void;
  autogradGrad(outputs: number[], inputs: number[], retainGraph: boolean, createGraph: boolean): number[];
  setGradEnabled(on: boolean): boolean;
  isGradEnabled(): boolean;
  adamStep(
    params: number[],
    grads: number[],
    m: number[],
    v: number[],
    step: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
  ): void;
  sgdStep(params: number[], grads: number[], lr: number, weightDecay: number): void;
  dispose(id: number | number[]): void;
  liveCount(): number;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  manualSeed(seed: number): void;
  getRngState(): number;
  setRngState(id: number): void;
  cudaAvailable(): boolean;
  setDefaultDevice(device: string): void;
  version(): string;
  allocatorInfo(): AllocatorInfo;
  // conv2d, separableConv2d, the pools and the batch norms run the addon's own kernels where they
  // apply, else libtorch's ops (native/src/kernels.cc).
  separableConv2d(
    x: number,
    depthwise: number,
    pointwise: number,
    stride: number[],
    padding: number[],
    dilation: number[],
    reluFirst: boolean,
  ): number;
  batchNormAccumulate(acc: number, z: number, scale: number, eps: number): number;
  addcmul(a: number, b: number, c: number): number;
  kernelInfo(): KernelInfo;
  profilerStart(): void;
  profilerStop(): { name: string; selfUs: number; totalUs: number; calls: number }[];
  /** The codes of dtypes and ops, {table: {name: code}} (native/src/addon.cc); read by constants.ts. */
  constants: Record<string, Record<string, number>>;
  /** libtorch's c10d: rendezvous store and Gloo process group (native/src/distributed.cc). */
  distributed: NativeDistributed;
}

/** Which kernels run: the addon's own ("metanas") or libtorch's ("aten", METANAS_KERNELS=aten). */
export interface KernelInfo {
  kernels: "metanas" | "aten";
  /** Where float matrix products go: oneDNN's sgemm, or libtorch's matmul when oneDNN is not loadable. */
  sgemm: "onednn" | "aten";
}

export interface NativeDistributed {
  connect(o: {
    addr: string;
    port: number;
    rank: number;
    size: number;
    host: boolean;
    prefix: string;
    timeoutMs: number;
    storeOwner: string;
  }): Promise<void>;
  exchange(label: string, value: string): Promise<string[]>;
  createGroup(o: { interfaces?: string; hostname?: string; hosts?: string[] }): Promise<void>;
  allReduceSum(ids: number[], label: string): Promise<void>;
  broadcast(ids: number[], root: number, label: string): Promise<void>;
  barrier(label: string): Promise<void>;
  destroy(): void;
}

/** The allocator policy the addon set when it loaded, and glibc's malloc counters (mallinfo2). */
export interface AllocatorInfo {
  /** "heap" (the addon's policy), "system" (METANAS_MALLOC=system) or why it could not be set. */
  policy: string;
  applied: boolean;
  /** Blocks glibc mapped on their own (outside the heap), and their bytes. */
  mmappedBlocks: number;
  mmappedBytes: number;
  heapBytes: number;
  /** Bytes allocated and not freed (heap and mapped blocks): what tensors and the rest hold now. */
  inUseBytes: number;
}

function load(): NativeAddon {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // Compiled code sits in dist/src/engine; sources in src/engine. Both reach native/ from the root.
  const candidates = [
    path.resolve(here, "../../../native/metanas_native.node"),
    path.resolve(here, "../../native/metanas_native.node"),
  ];
  const file = candidates.find((f) => existsSync(f));
  if (!file) {
    throw new Error(
      "metanas: the native addon is not built: run `npm run build` (it needs libtorch: `apt-get install -y libtorch-dev`).",
    );
  }
  return createRequire(import.meta.url)(file) as NativeAddon;
}

export const native: NativeAddon = load();
