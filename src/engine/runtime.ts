// Process-wide engine settings: threads, seed, generator state, device, live-tensor count.
import { type AllocatorInfo, type KernelInfo, native } from "./native.js";
import { Tensor } from "./tensor.js";

export function setNumThreads(n: number): void {
  native.setNumThreads(n);
}
export function getNumThreads(): number {
  return native.getNumThreads();
}
/** Seeds libtorch's global CPU generator (randn, rand, bernoulli, randint, randperm). */
export function manualSeed(seed: number): void {
  native.manualSeed(seed);
}
/** The global generator's state as a uint8 tensor (to checkpoint). */
export function getRngState(): Tensor {
  return new Tensor(native.getRngState());
}
export function setRngState(state: Tensor): void {
  native.setRngState(state.id);
}
export function cudaAvailable(): boolean {
  return native.cudaAvailable();
}
/** Where factories put new tensors: "cpu", or "cuda" / "cuda:N" when libtorch was built with CUDA. */
export function setDefaultDevice(device: string): void {
  if (device.startsWith("cuda") && !native.cudaAvailable()) {
    throw new Error(
      `metanas: device "${device}" asked for, but this libtorch has no CUDA: use --device cpu or a CUDA build of libtorch (LIBTORCH_DIR)`,
    );
  }
  native.setDefaultDevice(device);
}
/** Number of tensors alive in the addon: the figure leak tests watch. */
export function liveTensors(): number {
  return native.liveCount();
}
export function libtorchVersion(): string {
  return native.version();
}
/** The allocator policy in force (set when the addon loads; METANAS_MALLOC=system opts out). */
export function allocatorInfo(): AllocatorInfo {
  return native.allocatorInfo();
}
/** Which kernels the hot operations use (METANAS_KERNELS=aten: libtorch's own, for comparisons). */
export function kernelInfo(): KernelInfo {
  return native.kernelInfo();
}
