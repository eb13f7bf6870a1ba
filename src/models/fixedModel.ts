// A fixed architecture from a genotype (paper Section 5.2): only weights are meta-learned.
import type { Tensor } from "../engine/index.js";
import { FixedNetwork } from "../searchspace/fixedNetwork.js";
import type { Genotype } from "../searchspace/genotype.js";
import type { NetworkConfig } from "../searchspace/network.js";
import type { ForwardPhase, MetaModel } from "./model.js";

export class FixedModel implements MetaModel {
  readonly kind = "fixed" as const;
  readonly net: FixedNetwork;
  readonly weights: Tensor[];
  readonly weightNames: string[];
  readonly arch: Tensor[] = [];
  readonly archNames: string[] = [];

  constructor(config: NetworkConfig, genotype: Genotype) {
    this.net = new FixedNetwork(config, genotype);
    const w = this.net.namedParameters();
    this.weights = w.map(([, t]) => t);
    this.weightNames = w.map(([n]) => n);
  }
  forward(x: Tensor, phase: ForwardPhase): Tensor {
    return this.net.forward(x, phase.dropPath);
  }
  genotype(): Genotype {
    return this.net.genotype;
  }
  activeParams(): number {
    return this.net.numParameters();
  }
  totalParams(): number {
    return this.net.numParameters();
  }
  dispose(): void {
    this.net.dispose();
  }
}
