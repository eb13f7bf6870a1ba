// Where the architecture step takes its gradient (docs/method.md §8). "live": the paper's, the
// gradient of the batch's loss at the current weights and architecture. "initial": the reference
// code's (boschresearch/metanas): its architect differentiates a copy of the network made once,
// before training, that nothing updates afterwards; so every architecture gradient is that of the
// network as initialised (weights and logits), on the task's batch, at the current temperature and
// forward-pruning threshold, without drop-path, and it is applied to the live logits.
import { copyInto, crossEntropy, grad, type Tensor } from "../engine/index.js";
import type { ForwardPhase, MetaModel } from "../models/model.js";

export const ARCH_GRADIENTS = ["live", "initial"] as const;
export type ArchGradient = (typeof ARCH_GRADIENTS)[number];

/** The model an architecture gradient is taken on: forward pass and architecture parameters. */
export type GradientSource = Pick<MetaModel, "forward" | "arch">;

/**
 * A frozen copy of `model` as it is now (call it right after building the model from its seed):
 * `fresh` builds a model of the same shape, which takes the copy's values. Owned by the caller.
 */
export function frozenCopy(model: MetaModel, fresh: () => MetaModel): MetaModel {
  const copy = fresh();
  copyInto(copy.weights, model.weights);
  copyInto(copy.arch, model.arch);
  return copy;
}

/** The architecture gradient of a batch's loss on `source` (the live model, or a frozen copy). */
export function architectureGradient(
  source: GradientSource,
  x: Tensor,
  y: Tensor,
  phase: ForwardPhase,
): (Tensor | null)[] {
  return grad(crossEntropy(source.forward(x, phase), y), source.arch);
}
