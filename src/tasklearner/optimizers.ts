// The task learner's two Adam optimisers (docs/method.md §3): beta1 = 0, beta2 = 0.999, eps 1e-8;
// weights without weight decay (unless a fixed network asks for it), architecture with 1e-3.
import { Adam, Snapshot, type Tensor } from "../engine/index.js";
import type { MetaModel } from "../models/model.js";

export interface TaskOptimizerSettings {
  lrWeights: number;
  lrArch: number;
  weightDecay: number;
  archWeightDecay: number;
}

export class TaskOptimizers {
  readonly weights: Adam;
  readonly arch: Adam | null;

  /**
   * `archSource`: a frozen copy of the model as initialised, on which the architecture steps take
   * their gradient (the reference code's, archGradient.ts); null for the live model. Owned from now on.
   */
  constructor(
    model: MetaModel,
    settings: TaskOptimizerSettings,
    readonly archSource: MetaModel | null = null,
  ) {
    this.weights = new Adam(model.weights, {
      lr: settings.lrWeights,
      beta1: 0,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: settings.weightDecay,
    });
    this.arch =
      model.arch.length > 0
        ? new Adam(model.arch, {
            lr: settings.lrArch,
            beta1: 0,
            beta2: 0.999,
            eps: 1e-8,
            weightDecay: settings.archWeightDecay,
          })
        : null;
  }

  /** Both optimisers' state as it is now, to restore later (dispose the snapshot). */
  snapshot(): Snapshot {
    return Snapshot.join([this.weights.snapshot(), this.arch?.snapshot() ?? null]);
  }

  /** The Adam moments of both optimisers in a fixed order (owned by them): what ranks average. */
  moments(): Tensor[] {
    const own = (a: Adam | null) => (a ? [...a.m, ...a.v] : []);
    return [...own(this.weights), ...own(this.arch)];
  }

  /** Step counts (weights, architecture), which Adam's bias correction reads. */
  get steps(): [number, number] {
    return [this.weights.step, this.arch?.step ?? 0];
  }
  set steps([w, a]: [number, number]) {
    this.weights.step = w;
    if (this.arch) this.arch.step = a;
  }

  dispose(): void {
    this.weights.dispose();
    this.arch?.dispose();
    this.archSource?.dispose();
  }
}
