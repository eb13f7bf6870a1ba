// Layers with PyTorch's default initialisation (kaiming-uniform weights, bound 1/sqrt(fan_in)).
import {
  addScaled,
  batchNorm,
  batchNormAccumulate,
  conv2d,
  linear,
  noGrad,
  ones,
  rand,
  separableConv2d,
  type Tensor,
  tidy,
  zeros,
} from "../engine/index.js";
import { addMacs } from "./macs.js";
import { Module } from "./module.js";

type Pair = [number, number];
const pair = (v: number | Pair): Pair => (typeof v === "number" ? [v, v] : v);

function uniform(shape: number[], bound: number): Tensor {
  // tidy: the intermediate tensors go at once, not when the garbage collector gets to them.
  return noGrad(() =>
    tidy(() =>
      rand(shape)
        .mul(2 * bound)
        .sub(bound),
    ),
  );
}

export interface Conv2dOptions {
  stride?: number | Pair;
  padding?: number | Pair;
  dilation?: number | Pair;
  groups?: number;
}

/** Convolution without bias (no conv in the search space has one). */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly stride: Pair;
  readonly padding: Pair;
  readonly dilation: Pair;
  readonly groups: number;
  readonly cin: number;
  readonly cout: number;
  readonly kernel: Pair;

  constructor(cin: number, cout: number, kernel: number | Pair, o: Conv2dOptions = {}) {
    super();
    this.cin = cin;
    this.cout = cout;
    this.kernel = pair(kernel);
    this.stride = pair(o.stride ?? 1);
    this.padding = pair(o.padding ?? 0);
    this.dilation = pair(o.dilation ?? 1);
    this.groups = o.groups ?? 1;
    const fanIn = (cin / this.groups) * this.kernel[0] * this.kernel[1];
    this.weight = this.param("weight", uniform([cout, cin / this.groups, ...this.kernel], 1 / Math.sqrt(fanIn)));
  }

  forward(x: Tensor): Tensor {
    const y = conv2d(x, this.weight, {
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      groups: this.groups,
    });
    const [n, , h, w] = y.shape;
    addMacs(this.macs(n!, h!, w!));
    return y;
  }

  /** Multiply-adds for an output of n x h x w pixels. */
  macs(n: number, h: number, w: number): number {
    return n * this.cout * h * w * (this.cin / this.groups) * this.kernel[0] * this.kernel[1];
  }
}

/**
 * A depthwise convolution then a pointwise one (after a ReLU of x when reluFirst) as one engine op,
 * which recomputes the depthwise output in its backward pass instead of keeping it.
 */
export function depthwiseSeparable(x: Tensor, depthwise: Conv2d, pointwise: Conv2d, reluFirst: boolean): Tensor {
  const y = separableConv2d(x, depthwise.weight, pointwise.weight, {
    stride: depthwise.stride,
    padding: depthwise.padding,
    dilation: depthwise.dilation,
    reluFirst,
  });
  const [n, , h, w] = y.shape;
  addMacs(depthwise.macs(n!, h!, w!) + pointwise.macs(n!, h!, w!));
  return y;
}

/** Batch norm with the current batch's statistics, always (transductive, as in REPTILE). */
export class BatchNorm2d extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  constructor(channels: number, affine: boolean) {
    super();
    this.weight = affine ? this.param("weight", ones([channels])) : null;
    this.bias = affine ? this.param("bias", zeros([channels])) : null;
  }
  /** relu: a ReLU of the result in the same op. */
  forward(x: Tensor, relu = false): Tensor {
    return batchNorm(x, { weight: this.weight, bias: this.bias, eps: 1e-5, relu });
  }
  /** acc + scale * this.forward(z) (acc, scale null: 0, 1); one fused op without affine transform. */
  accumulate(acc: Tensor | null, z: Tensor, scale: Tensor | null): Tensor {
    if (!this.weight && !this.bias) return batchNormAccumulate(acc, z, scale, 1e-5);
    return addScaled(acc, this.forward(z), scale);
  }
}

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
  ) {
    super();
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.param("weight", uniform([outFeatures, inFeatures], bound));
    this.bias = this.param("bias", uniform([outFeatures], bound));
  }
  forward(x: Tensor): Tensor {
    addMacs(x.shape[0]! * this.inFeatures * this.outFeatures);
    return linear(x, this.weight, this.bias);
  }
}
