// A meta-learner turns the results of a meta-batch of adapted tasks into an update of the
// meta-parameters. REPTILE and first-order MAML differ only here.
import type { Tensor } from "../engine/index.js";
import type { MetaModel } from "../models/model.js";

export type MetaLearnerName = "reptile" | "fomaml";

export interface MetaLearner {
  readonly name: MetaLearnerName;
  /** Before the meta-batch: the meta-parameters are the model's current parameters. */
  begin(model: MetaModel): void;
  /** After adapting to one task (model holds the adapted parameters); queryLoss builds the query loss for first-order MAML. */
  afterTask(model: MetaModel, queryLoss: () => Tensor): void;
  /** After the meta-batch: writes the updated meta-parameters into the model. */
  end(model: MetaModel): void;
  /** State to checkpoint (tensors and numbers), and its restoration. */
  state(): { tensors: Record<string, Tensor>; numbers: Record<string, number> };
  loadState(s: { tensors: Map<string, Tensor>; numbers: Record<string, number> }): void;
  dispose(): void;
}
