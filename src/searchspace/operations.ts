// The candidate operations of docs/method.md §1, each a module with forward(x). BN is affine only in
// networks built from a genotype; in the search network it has no learned scale/shift.
import { avgPool2d, cat, maxPool2d, type Tensor } from "../engine/index.js";
import { BatchNorm2d, Conv2d } from "../nn/layers.js";
import { Module } from "../nn/module.js";
import type { OpName } from "./primitives.js";

export abstract class Operation extends Module {
  /** True for the identity: drop-path is not applied after it. */
  readonly isIdentity: boolean = false;
  abstract forward(x: Tensor): Tensor;
}

export class Identity extends Operation {
  override readonly isIdentity = true;
  forward(x: Tensor): Tensor {
    return x;
  }
}

/** 3x3 pooling (pad 1) then BN. Average pooling does not count the padding. */
export class PoolBN extends Operation {
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
  forward(x: Tensor): Tensor {
    const pooled = this.kind === "max" ? maxPool2d(x, 3, this.stride, 1) : avgPool2d(x, 3, this.stride, 1, false);
    return this.bn.forward(pooled);
  }
}

/** ReLU, 1x1 conv, BN: maps a cell input to C channels. */
export class ReLUConvBN extends Operation {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(cin: number, cout: number, affine: boolean) {
    super();
    this.conv = this.child("conv", new Conv2d(cin, cout, 1));
    this.bn = this.child("bn", new BatchNorm2d(cout, affine));
  }
  forward(x: Tensor): Tensor {
    return this.bn.forward(this.conv.forward(x.relu()));
  }
}

/**
 * Halves the resolution without losing pixels: ReLU, two 1x1 stride-2 convs to C/2 each, the
 * second on the input shifted by one pixel right and down, concatenated, BN. The shifted input is
 * zero-padded at the far edge so that both halves agree in size also for odd resolutions.
 */
export class FactorizedReduce extends Operation {
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
  forward(x: Tensor): Tensor {
    const r = x.relu();
    const [, , h, w] = r.shape;
    const shifted = r
      .pad([0, 1, 0, 1])
      .slice(2, 1, h! + 1)
      .slice(3, 1, w! + 1);
    return this.bn.forward(cat([this.conv1.forward(r), this.conv2.forward(shifted)], 1));
  }
}

/** ReLU, depthwise 3x3 (stride, dilation), pointwise 1x1, BN: one depthwise-separable conv. */
export class DilConv extends Operation {
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
  forward(x: Tensor): Tensor {
    return this.bn.forward(this.pointwise.forward(this.depthwise.forward(x.relu())));
  }
}

/** The depthwise-separable block twice; only the first carries the stride. */
export class SepConv extends Operation {
  readonly first: DilConv;
  readonly second: DilConv;
  constructor(channels: number, stride: number, affine: boolean) {
    super();
    this.first = this.child("first", new DilConv(channels, stride, 1, affine));
    this.second = this.child("second", new DilConv(channels, 1, 1, affine));
  }
  forward(x: Tensor): Tensor {
    return this.second.forward(this.first.forward(x));
  }
}

/** ReLU, full 1x5 conv (stride s), full 5x1 conv, BN. */
export class FacConv extends Operation {
  readonly conv1x5: Conv2d;
  readonly conv5x1: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(channels: number, stride: number, affine: boolean) {
    super();
    this.conv1x5 = this.child("conv1x5", new Conv2d(channels, channels, [1, 5], { stride, padding: [0, 2] }));
    this.conv5x1 = this.child("conv5x1", new Conv2d(channels, channels, [5, 1], { padding: [2, 0] }));
    this.bn = this.child("bn", new BatchNorm2d(channels, affine));
  }
  forward(x: Tensor): Tensor {
    return this.bn.forward(this.conv5x1.forward(this.conv1x5.forward(x.relu())));
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
