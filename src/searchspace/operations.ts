// The candidate operations of docs/method.md §1, each a module with forward(x). BN is affine only in
// networks built from a genotype; in the search network it has no learned scale/shift.
import { addScaled, avgPool2d, cat, maxPool2d, type Tensor } from "../engine/index.js";
import { BatchNorm2d, Conv2d, depthwiseSeparable } from "../nn/layers.js";
import { Module } from "../nn/module.js";
import type { OpName } from "./primitives.js";

export abstract class Operation extends Module {
  /** True for the identity: drop-path is not applied after it. */
  readonly isIdentity: boolean = false;
  abstract forward(x: Tensor): Tensor;
  /** The op's term in a weighted sum: acc + scale * forward(x) (acc, scale null: 0, 1). */
  accumulate(acc: Tensor | null, x: Tensor, scale: Tensor | null): Tensor {
    return addScaled(acc, this.forward(x), scale);
  }
}

/**
 * An operation whose last step is a batch norm (all but the identity): beforeNorm is the rest. In a
 * weighted sum the norm, the weight and the sum run as one op (BatchNorm2d.accumulate).
 */
export abstract class NormalizedOperation extends Operation {
  abstract readonly bn: BatchNorm2d;
  abstract beforeNorm(x: Tensor): Tensor;
  forward(x: Tensor): Tensor {
    return this.bn.forward(this.beforeNorm(x));
  }
  override accumulate(acc: Tensor | null, x: Tensor, scale: Tensor | null): Tensor {
    return this.bn.accumulate(acc, this.beforeNorm(x), scale);
  }
}

/**
 * An operation whose first step is a ReLU of its input. A cell computes that ReLU once per input
 * state and hands it to every such op reading the state (the *Relu methods): several ops on an
 * edge, and the edges of several nodes, read the same state, so this saves the copies' time and
 * memory.
 */
export abstract class ReluOperation extends NormalizedOperation {
  /** The op before its batch norm, applied to r = relu(x). */
  abstract beforeNormRelu(r: Tensor): Tensor;
  beforeNorm(x: Tensor): Tensor {
    return this.beforeNormRelu(x.relu());
  }
  forwardRelu(r: Tensor): Tensor {
    return this.bn.forward(this.beforeNormRelu(r));
  }
  accumulateRelu(acc: Tensor | null, r: Tensor, scale: Tensor | null): Tensor {
    return this.bn.accumulate(acc, this.beforeNormRelu(r), scale);
  }
}

export class Identity extends Operation {
  override readonly isIdentity = true;
  forward(x: Tensor): Tensor {
    return x;
  }
}

/** 3x3 pooling (pad 1) then BN. Average pooling does not count the padding. */
export class PoolBN extends NormalizedOperation {
  readonly bn: BatchNorm2d;
  constructor(
    readonly kind: "max" | "avg",
    channels: number,
    readonly stride: number,
    affine: boolean,
  ) {
    super();
    this.bn = this.child("bn", new BatchNorm2d(channels, affine));
  }
  beforeNorm(x: Tensor): Tensor {
    return this.kind === "max" ? maxPool2d(x, 3, this.stride, 1) : avgPool2d(x, 3, this.stride, 1, false);
  }
}

/** ReLU, 1x1 conv, BN: maps a cell input to C channels. */
export class ReLUConvBN extends ReluOperation {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(cin: number, cout: number, affine: boolean) {
    super();
    this.conv = this.child("conv", new Conv2d(cin, cout, 1));
    this.bn = this.child("bn", new BatchNorm2d(cout, affine));
  }
  beforeNormRelu(r: Tensor): Tensor {
    return this.conv.forward(r);
  }
}

/**
 * Halves the resolution without losing pixels: ReLU, two 1x1 stride-2 convs to C/2 each, the
 * second on the input shifted by one pixel right and down, concatenated, BN. The shifted input is
 * zero-padded at the far edge so that both halves agree in size also for odd resolutions.
 */
export class FactorizedReduce extends ReluOperation {
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(cin: number, cout: number, affine: boolean) {
    super();
    if (cout % 2 !== 0) throw new Error(`FactorizedReduce needs an even channel count, got ${cout}`);
    this.conv1 = this.child("conv1", new Conv2d(cin, cout / 2, 1, { stride: 2 }));
    this.conv2 = this.child("conv2", new Conv2d(cin, cout / 2, 1, { stride: 2 }));
    this.bn = this.child("bn", new BatchNorm2d(cout, affine));
  }
  beforeNormRelu(r: Tensor): Tensor {
    const [, , h, w] = r.shape;
    const shifted = r
      .pad([0, 1, 0, 1])
      .slice(2, 1, h! + 1)
      .slice(3, 1, w! + 1);
    return cat([this.conv1.forward(r), this.conv2.forward(shifted)], 1);
  }
}

/** ReLU, depthwise 3x3 (stride, dilation), pointwise 1x1, BN: one depthwise-separable conv. */
export class DilConv extends ReluOperation {
  readonly depthwise: Conv2d;
  readonly pointwise: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(channels: number, stride: number, dilation: number, affine: boolean) {
    super();
    this.depthwise = this.child(
      "depthwise",
      new Conv2d(channels, channels, 3, { stride, padding: dilation, dilation, groups: channels }),
    );
    this.pointwise = this.child("pointwise", new Conv2d(channels, channels, 1));
    this.bn = this.child("bn", new BatchNorm2d(channels, affine));
  }
  // ReLU, depthwise and pointwise as one op that keeps only its input for the backward pass.
  override beforeNorm(x: Tensor): Tensor {
    return depthwiseSeparable(x, this.depthwise, this.pointwise, true);
  }
  beforeNormRelu(r: Tensor): Tensor {
    return depthwiseSeparable(r, this.depthwise, this.pointwise, false);
  }
}

/** The depthwise-separable block twice; only the first carries the stride. */
export class SepConv extends ReluOperation {
  readonly first: DilConv;
  readonly second: DilConv;
  constructor(channels: number, stride: number, affine: boolean) {
    super();
    this.first = this.child("first", new DilConv(channels, stride, 1, affine));
    this.second = this.child("second", new DilConv(channels, 1, 1, affine));
  }
  get bn(): BatchNorm2d {
    return this.second.bn;
  }
  beforeNormRelu(r: Tensor): Tensor {
    return this.second.beforeNorm(this.first.forwardRelu(r));
  }
}

/** ReLU, full 1x5 conv (stride s), full 5x1 conv, BN. */
export class FacConv extends ReluOperation {
  readonly conv1x5: Conv2d;
  readonly conv5x1: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(channels: number, stride: number, affine: boolean) {
    super();
    this.conv1x5 = this.child("conv1x5", new Conv2d(channels, channels, [1, 5], { stride, padding: [0, 2] }));
    this.conv5x1 = this.child("conv5x1", new Conv2d(channels, channels, [5, 1], { padding: [2, 0] }));
    this.bn = this.child("bn", new BatchNorm2d(channels, affine));
  }
  beforeNormRelu(r: Tensor): Tensor {
    return this.conv5x1.forward(this.conv1x5.forward(r));
  }
}

/** name -> builder, in the order of OP_NAMES. Swapping the operation set means editing this table. */
export const OPERATIONS: Record<OpName, (channels: number, stride: number, affine: boolean) => Operation> = {
  max_pool_3x3: (c, s, a) => new PoolBN("max", c, s, a),
  avg_pool_3x3: (c, s, a) => new PoolBN("avg", c, s, a),
  skip_connect: (c, s, a) => (s === 1 ? new Identity() : new FactorizedReduce(c, c, a)),
  conv_1x5_5x1: (c, s, a) => new FacConv(c, s, a),
  conv_3x3: (c, s, a) => new DilConv(c, s, 1, a),
  sep_conv_3x3: (c, s, a) => new SepConv(c, s, a),
  dil_conv_3x3: (c, s, a) => new DilConv(c, s, 2, a),
};
