// Base of the models whose architecture is fixed: only the network's weights are meta-learned,
// and every weight is in use (nothing is pruned).
import type { Tensor } from "../engine/index.js";
import type { Module } from "../nn/module.js";
import type { Genotype } from "../searchspace/genotype.js";
import type { ForwardPhase, MetaModel, ModelKind } from "./model.js";

export abstract class WeightsOnlyModel<N extends Module> implements MetaModel {
  abstract readonly kind: ModelKind;
  readonly weights: Tensor[];
  readonly weightNames: string[];
  readonly arch: Tensor[] = [];
  readonly archNames: string[] = [];

  constructor(readonly net: N) {
    const w = net.namedParameters();
    this.weights = w.map(([, t]) => t);
    this.weightNames = w.map(([n]) => n);
  }
  abstract forward(x: Tensor, phase: ForwardPhase): Tensor;
  abstract genotype(): Genotype | null;
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
