// A meta-learner turns the results of a meta-batch of adapted tasks into an update of the
// meta-parameters. REPTILE and first-order MAML differ only here.
//
// What it needs from the tasks is a sum (of adapted parameters, or of query gradients), so a
// meta-batch spread over several processes adds up: each process sums over its own tasks, the sums
// are added over the processes (an all-reduce), and every process applies the same update.
import type { Tensor } from "../engine/index.js";
import type { MetaModel } from "../models/model.js";

export const META_LEARNERS = ["reptile", "fomaml"] as const;
export type MetaLearnerName = (typeof META_LEARNERS)[number];

export interface MetaLearner {
  readonly name: MetaLearnerName;
  /** Before the meta-batch: the meta-parameters are the model's current parameters. */
  begin(model: MetaModel): void;
  /**
   * After adapting to one task (model holds the adapted parameters); puts the meta-parameters back
   * into the model. queryLoss builds the query loss for first-order MAML.
   */
  afterTask(model: MetaModel, queryLoss: () => Tensor): void;
  /** The sums over this process's tasks (owned by the learner), to add up over processes before end(). */
  accumulators(): Tensor[];
  /**
   * After the meta-batch of `tasks` tasks in all: writes the updated meta-parameters into the model,
   * with the outer step(s) multiplied by `stepScale` (the schedule's factor, schedule.ts).
   */
  end(model: MetaModel, tasks: number, stepScale?: number): void;
  /** State to checkpoint (tensors and numbers), and its restoration. */
  state(): { tensors: Record<string, Tensor>; numbers: Record<string, number> };
  loadState(state: { tensors: Map<string, Tensor>; numbers: Record<string, number> }): void;
  dispose(): void;
}
