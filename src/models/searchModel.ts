// The MetaNAS model: the one-shot search network under its architecture parameters.
import type { Tensor } from "../engine/index.js";
import { tidy } from "../engine/index.js";
import { discreteNetworkWeights } from "../searchspace/cellWeights.js";
import type { Genotype } from "../searchspace/genotype.js";
import { type NetworkConfig, SearchNetwork } from "../searchspace/network.js";
import { parameterCountWith } from "../searchspace/sizes.js";
import { Architecture } from "../sparsification/architecture.js";
import { meanEntropy, pruneOpLogits } from "../sparsification/metaPruning.js";
import type { Strategy } from "../sparsification/strategy.js";
import type { ArchitectureEntropy, ForwardPhase, MetaModel } from "./model.js";

/** The rows of a [rows, k] tensor. */
function rows(t: { data(): ArrayLike<number>; shape: number[] }): number[][] {
  const d = Array.from(t.data());
  const k = t.shape[t.shape.length - 1]!;
  return Array.from({ length: d.length / k }, (_, r) => d.slice(r * k, (r + 1) * k));
}

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
    this.architecture = new Architecture(config.nodes, strategy);
    const w = this.net.namedParameters();
    this.weights = w.map(([, t]) => t);
    this.weightNames = w.map(([n]) => n);
    const a = this.architecture.namedParameters();
    this.arch = a.map(([, t]) => t);
    this.archNames = a.map(([n]) => n);
  }

  forward(x: Tensor, phase: ForwardPhase): Tensor {
    return this.net.forward(x, this.architecture.weights(phase), phase.dropPath);
  }
  genotype(): Genotype {
    return this.architecture.genotype();
  }
  forwardDiscrete(x: Tensor, genotype: Genotype): Tensor {
    return this.net.forward(x, discreteNetworkWeights(genotype), 0);
  }
  discreteParams(genotype: Genotype): number {
    return parameterCountWith(this.net, discreteNetworkWeights(genotype));
  }
  activeParams(phase: ForwardPhase): number {
    return tidy(() => parameterCountWith(this.net, this.architecture.weights(phase)));
  }
  totalParams(): number {
    return this.net.numParameters();
  }
  architectureEntropy(temperature: number): ArchitectureEntropy {
    const { alpha, beta } = this.architecture;
    const pairs = (bs: typeof beta.normal) => bs.map((b) => Array.from(b.data()));
    return {
      normalOps: meanEntropy(rows(alpha.normal), temperature),
      normalPairs: meanEntropy(pairs(beta.normal), temperature),
      reduceOps: meanEntropy(rows(alpha.reduce), temperature),
      reducePairs: meanEntropy(pairs(beta.reduce), temperature),
    };
  }
  pruneOps(tMin: number, below: number): number {
    return (
      pruneOpLogits(this.architecture.alpha.normal, tMin, below) +
      pruneOpLogits(this.architecture.alpha.reduce, tMin, below)
    );
  }
  dispose(): void {
    this.net.dispose();
    this.architecture.dispose();
  }
}
