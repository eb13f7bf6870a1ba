// Functional neural-network operations (the shapes follow torch.nn.functional).
import { CODES } from "./constants.js";
import { native } from "./native.js";
import { Tensor } from "./tensor.js";

type Pair = number | [number, number];
const pair = (v: Pair): [number, number] => (typeof v === "number" ? [v, v] : v);

export interface Conv2dOptions {
  bias?: Tensor | null;
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
}
/** x [N, Cin, H, W], weight [Cout, Cin / groups, kh, kw]. */
export function conv2d(x: Tensor, weight: Tensor, o: Conv2dOptions = {}): Tensor {
  return new Tensor(
    native.conv2d(
      x.id,
      weight.id,
      o.bias ? o.bias.id : -1,
      pair(o.stride ?? 1),
      pair(o.padding ?? 0),
      pair(o.dilation ?? 1),
      o.groups ?? 1,
    ),
  );
}

export interface SeparableConv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  /** Apply a ReLU to x first. */
  reluFirst?: boolean;
}
/**
 * pointwise(depthwise(x)) as one op: depthwise [C, 1, kh, kw] with the given geometry, then
 * pointwise [Cout, C, 1, 1]. Its backward pass recomputes the depthwise output (and the ReLU)
 * instead of keeping them, so a pass keeps less memory alive.
 */
export function separableConv2d(
  x: Tensor,
  depthwise: Tensor,
  pointwise: Tensor,
  o: SeparableConv2dOptions = {},
): Tensor {
  return new Tensor(
    native.separableConv2d(
      x.id,
      depthwise.id,
      pointwise.id,
      pair(o.stride ?? 1),
      pair(o.padding ?? 0),
      pair(o.dilation ?? 1),
      o.reluFirst ?? false,
    ),
  );
}

export function maxPool2d(x: Tensor, kernel: Pair, stride: Pair = kernel, padding: Pair = 0): Tensor {
  return new Tensor(native.maxPool2d(x.id, pair(kernel), pair(stride), pair(padding)));
}

/** Average pooling; countIncludePad = false divides by the number of real (unpadded) pixels in each window. */
export function avgPool2d(
  x: Tensor,
  kernel: Pair,
  stride: Pair = kernel,
  padding: Pair = 0,
  countIncludePad = false,
): Tensor {
  return new Tensor(native.avgPool2d(x.id, pair(kernel), pair(stride), pair(padding), countIncludePad));
}

/** Mean over the spatial dims: [N, C, H, W] -> [N, C]. */
export function globalAvgPool(x: Tensor): Tensor {
  return x.mean([2, 3]);
}

export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  eps?: number;
  /** A ReLU of the result in the same op (one pass and one graph node fewer than batchNorm(x).relu()). */
  relu?: boolean;
}
/** Batch norm over [N, C, ...] with the current batch's statistics; affine when weight and bias are given. */
export function batchNorm(x: Tensor, o: BatchNormOptions = {}): Tensor {
  return new Tensor(
    native.batchNorm(x.id, o.weight ? o.weight.id : -1, o.bias ? o.bias.id : -1, o.eps ?? 1e-5, o.relu ?? false),
  );
}

/**
 * acc + scale * batchNorm(z) (batch statistics, no affine transform) as one op: a weighted sum of
 * normalised op outputs. acc null: 0; scale null: 1; scale has one value or one per sample ([N, 1, ...]).
 */
export function batchNormAccumulate(acc: Tensor | null, z: Tensor, scale: Tensor | null, eps = 1e-5): Tensor {
  return new Tensor(native.batchNormAccumulate(acc ? acc.id : -1, z.id, scale ? scale.id : -1, eps));
}

/** acc + scale * y; acc null: 0, scale null: 1 (then y itself may come back). */
export function addScaled(acc: Tensor | null, y: Tensor, scale: Tensor | null): Tensor {
  if (!scale) return acc ? acc.add(y) : y;
  return acc ? acc.addProduct(y, scale) : y.mul(scale);
}

/** x [N, in] @ weight[out, in]^T + bias */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return new Tensor(native.linear(x.id, weight.id, bias ? bias.id : -1));
}

export function relu(x: Tensor): Tensor {
  return x.relu();
}

const REDUCTION = CODES.reductions;
/** Cross-entropy of logits [N, K] against int64 labels [N]. */
export function crossEntropy(logits: Tensor, labels: Tensor, reduction: keyof typeof REDUCTION = "mean"): Tensor {
  return new Tensor(native.crossEntropy(logits.id, labels.id, REDUCTION[reduction]));
}

export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  return new Tensor(
    native.cat(
      tensors.map((t) => t.id),
      dim,
    ),
  );
}
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  return new Tensor(
    native.stack(
      tensors.map((t) => t.id),
      dim,
    ),
  );
}
export function where(condition: Tensor, a: Tensor, b: Tensor): Tensor {
  return new Tensor(native.where(condition.id, a.id, b.id));
}
