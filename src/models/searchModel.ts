// The MetaNAS model: the one-shot search network under its architecture parameters.
import type { Tensor } from "../engine/index.js";
import { Architecture } from "../searchspace/architecture.js";
import type { Genotype } from "../searchspace/genotype.js";
import { type NetworkConfig, SearchNetwork } from "../searchspace/network.js";
import { parameterCountWith, sparseParameterCount } from "../searchspace/sizes.js";
import { discreteCellWeights } from "../sparsification/cellWeights.js";
import type { Strategy } from "../sparsification/strategy.js";
import type { ForwardPhase, MetaModel } from "./model.js";

export class SearchModel implements MetaModel {
  readonly kind = "metanas" as const;
  readonly net: SearchNetwork;
  readonly architecture: Architecture;
  readonly weights: Tensor[];
  readonly weightNames: string[];
  readonly arch: Tensor[];
  readonly archNames: string[];

  constructor(
    config: NetworkConfig,
    readonly strategy: Strategy,
  ) {
    this.net = new SearchNetwork(config);
    this.architecture = new Architecture(config.nodes);
    const w = this.net.namedParameters();
    this.weights = w.map(([, t]) => t);
    this.weightNames = w.map(([n]) => n);
    const a = this.architecture.namedParameters();
    this.arch = a.map(([, t]) => t);
    this.archNames = a.map(([n]) => n);
  }

  forward(x: Tensor, phase: ForwardPhase): Tensor {
    return this.net.forward(x, this.architecture, phase, this.strategy);
  }
  genotype(): Genotype {
    return this.architecture.genotype(this.strategy);
  }
  forwardDiscrete(x: Tensor, genotype: Genotype): Tensor {
    return this.net.forwardWith(x, discreteWeights(genotype), 0);
  }
  discreteParams(genotype: Genotype): number {
    return parameterCountWith(this.net, discreteWeights(genotype));
  }
  activeParams(phase: ForwardPhase): number {
    return sparseParameterCount(this.net, this.architecture, phase, this.strategy);
  }
  totalParams(): number {
    return this.net.numParameters();
  }
  dispose(): void {
    this.net.dispose();
    this.architecture.dispose();
  }
}

function discreteWeights(g: Genotype) {
  return { normal: discreteCellWeights(g.normal), reduce: discreteCellWeights(g.reduce) };
}
