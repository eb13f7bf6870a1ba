// What the task learner and meta-learners need from a model: its meta-learned weights, its
// architecture parameters (none for a fixed architecture), and a forward pass at a given phase.
import type { Tensor } from "../engine/index.js";
import type { Genotype } from "../searchspace/genotype.js";
import type { ForwardPhase } from "../searchspace/phase.js";

export type { ForwardPhase };

/** The models a run can meta-train: the one-shot search network, a genotype's network, Conv4. */
export const MODEL_KINDS = ["metanas", "fixed", "conv4"] as const;
export type ModelKind = (typeof MODEL_KINDS)[number];

/** Mean entropies (nats) of the op weights per edge and the input-pair weights per node, per cell kind. */
export interface ArchitectureEntropy {
  normalOps: number;
  normalPairs: number;
  reduceOps: number;
  reducePairs: number;
}

export interface MetaModel {
  readonly kind: ModelKind;
  /** Weights in a fixed order, with names (checkpoints are keyed by them). */
  readonly weights: Tensor[];
  readonly weightNames: string[];
  /** Architecture parameters; empty for models without a searchable architecture. */
  readonly arch: Tensor[];
  readonly archNames: string[];
  forward(x: Tensor, phase: ForwardPhase): Tensor;
  /** The discrete architecture the parameters currently encode; null for fixed models. */
  genotype(): Genotype | null;
  /**
   * Optional, for models with a one-shot network: logits of the discrete network a genotype prunes
   * it to (every op and input not in the genotype removed), on the model's current weights; and the
   * number of weights that network uses.
   */
  forwardDiscrete?(x: Tensor, genotype: Genotype): Tensor;
  discreteParams?(genotype: Genotype): number;
  /** Weights a forward pass at this phase uses (what survives pruning). */
  activeParams(phase: ForwardPhase): number;
  totalParams(): number;
  // What only some models can do; callers ask for it instead of testing the model's class.
  /** Entropies of the architecture's weights at temperature T (models with a searchable architecture). */
  architectureEntropy?(temperature: number): ArchitectureEntropy;
  /** Meta-model pruning: op logits whose weight at tMin is below `below` are removed for good; returns how many. */
  pruneOps?(tMin: number, below: number): number;
  dispose(): void;
}
