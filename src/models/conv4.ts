// The four-layer convolutional baseline of MAML and REPTILE, in its two published forms:
//  - "maxpool": four blocks of 3x3 conv (padding 1), batch norm, ReLU, 2x2 max-pool (MAML's
//    MiniImagenet model, REPTILE's MiniImagenet model with 32 channels);
//  - "stride": four blocks of 3x3 conv with stride 2 (padding 1), batch norm, ReLU, no pooling
//    (REPTILE's Omniglot model with 64 channels; 28 -> 14 -> 7 -> 4 -> 2).
// Then a linear classifier. Batch norm always normalises with the batch's statistics, as both
// reference implementations do at training and test time.
import { maxPool2d, type Tensor } from "../engine/index.js";
import { BatchNorm2d, Conv2d, Linear } from "../nn/layers.js";
import { Module } from "../nn/module.js";
import type { ForwardPhase } from "./model.js";
import { WeightsOnlyModel } from "./weightsOnlyModel.js";

export const CONV4_DOWNSAMPLING = ["maxpool", "stride"] as const;
export type Conv4Downsampling = (typeof CONV4_DOWNSAMPLING)[number];

export interface Conv4Config {
  inputShape: [number, number, number];
  classes: number;
  /** 64 for Omniglot, 32 for MiniImagenet in REPTILE. */
  channels: number;
  /** How each block halves the resolution (default maxpool). */
  downsampling?: Conv4Downsampling;
}

/** Output side of a block on an input side n: floor(n / 2) after pooling; ceil(n / 2) after a stride-2 conv with padding 1. */
const blockOutput = (n: number, d: Conv4Downsampling) =>
  d === "maxpool" ? Math.floor(n / 2) : Math.floor((n - 1) / 2) + 1;

class Conv4Network extends Module {
  readonly convs: Conv2d[] = [];
  readonly bns: BatchNorm2d[] = [];
  readonly classifier: Linear;
  readonly downsampling: Conv4Downsampling;
  constructor(c: Conv4Config) {
    super();
    this.downsampling = c.downsampling ?? "maxpool";
    const stride = this.downsampling === "stride" ? 2 : 1;
    let [ch, h, w] = c.inputShape;
    for (let k = 0; k < 4; k++) {
      this.convs.push(this.child(`block${k}.conv`, new Conv2d(ch, c.channels, 3, { padding: 1, stride })));
      this.bns.push(this.child(`block${k}.bn`, new BatchNorm2d(c.channels, true)));
      ch = c.channels;
      [h, w] = [blockOutput(h, this.downsampling), blockOutput(w, this.downsampling)];
    }
    if (h < 1 || w < 1)
      throw new Error(`Conv4 needs inputs of at least 16x16, got ${c.inputShape[1]}x${c.inputShape[2]}`);
    this.classifier = this.child("classifier", new Linear(ch * h * w, c.classes));
  }
  forward(x: Tensor): Tensor {
    let y = x;
    for (let k = 0; k < 4; k++) {
      y = this.bns[k]!.forward(this.convs[k]!.forward(y), true);
      if (this.downsampling === "maxpool") y = maxPool2d(y, 2);
    }
    return this.classifier.forward(y.reshape([y.shape[0]!, -1]));
  }
}

export class Conv4Model extends WeightsOnlyModel<Conv4Network> {
  readonly kind = "conv4" as const;
  constructor(config: Conv4Config) {
    super(new Conv4Network(config));
  }
  forward(x: Tensor, _phase: ForwardPhase): Tensor {
    return this.net.forward(x);
  }
  genotype(): null {
    return null;
  }
}
