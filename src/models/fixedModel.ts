// A fixed architecture from a genotype (paper Section 5.2): only weights are meta-learned.
import type { Tensor } from "../engine/index.js";
import { FixedNetwork } from "../searchspace/fixedNetwork.js";
import type { Genotype } from "../searchspace/genotype.js";
import type { NetworkConfig } from "../searchspace/network.js";
import type { ForwardPhase } from "./model.js";
import { WeightsOnlyModel } from "./weightsOnlyModel.js";

export class FixedModel extends WeightsOnlyModel<FixedNetwork> {
  readonly kind = "fixed" as const;

  constructor(config: NetworkConfig, genotype: Genotype) {
    super(new FixedNetwork(config, genotype));
  }
  forward(x: Tensor, phase: ForwardPhase): Tensor {
    return this.net.forward(x, phase.dropPath);
  }
  genotype(): Genotype {
    return this.net.genotype;
  }
}
