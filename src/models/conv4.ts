// The standard four-layer convolutional baseline of MAML and REPTILE: four blocks of
// 3x3 conv (padding 1), batch norm, ReLU, 2x2 max-pool; then a linear classifier.
import { maxPool2d, type Tensor } from "../engine/index.js";
import { BatchNorm2d, Conv2d, Linear } from "../nn/layers.js";
import { Module } from "../nn/module.js";
import type { ForwardPhase } from "./model.js";
import { WeightsOnlyModel } from "./weightsOnlyModel.js";

export interface Conv4Config {
  inputShape: [number, number, number];
  classes: number;
  /** 64 for Omniglot, 32 for MiniImagenet in REPTILE. */
  channels: number;
}

class Conv4Network extends Module {
  readonly convs: Conv2d[] = [];
  readonly bns: BatchNorm2d[] = [];
  readonly classifier: Linear;
  constructor(c: Conv4Config) {
    super();
    let [ch, h, w] = c.inputShape;
    for (let k = 0; k < 4; k++) {
      this.convs.push(this.child(`block${k}.conv`, new Conv2d(ch, c.channels, 3, { padding: 1 })));
      this.bns.push(this.child(`block${k}.bn`, new BatchNorm2d(c.channels, true)));
      ch = c.channels;
      [h, w] = [Math.floor(h / 2), Math.floor(w / 2)];
    }
    if (h < 1 || w < 1)
      throw new Error(`Conv4 needs inputs of at least 16x16, got ${c.inputShape[1]}x${c.inputShape[2]}`);
    this.classifier = this.child("classifier", new Linear(ch * h * w, c.classes));
  }
  forward(x: Tensor): Tensor {
    let y = x;
    for (let k = 0; k < 4; k++) y = maxPool2d(this.bns[k]!.forward(this.convs[k]!.forward(y)).relu(), 2);
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
