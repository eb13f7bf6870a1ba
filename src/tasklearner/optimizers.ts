// The task learner's two Adam optimisers (docs/method.md §3): beta1 = 0, beta2 = 0.999, eps 1e-8;
// weights without weight decay (unless a fixed network asks for it), architecture with 1e-3.
import { Adam, keep, type Tensor } from "../engine/index.js";
import type { MetaModel } from "../models/model.js";

export interface TaskOptimizerSettings {
  lrWeights: number;
  lrArch: number;
  weightDecay: number;
  archWeightDecay: number;
}

export interface OptimizerSnapshot {
  weights: { step: number; m: Tensor[]; v: Tensor[] };
  arch: { step: number; m: Tensor[]; v: Tensor[] } | null;
}

export class TaskOptimizers {
  readonly weights: Adam;
  readonly arch: Adam | null;

  constructor(model: MetaModel, s: TaskOptimizerSettings) {
    this.weights = new Adam(model.weights, {
      lr: s.lrWeights,
      beta1: 0,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: s.weightDecay,
    });
    this.arch =
      model.arch.length > 0
        ? new Adam(model.arch, { lr: s.lrArch, beta1: 0, beta2: 0.999, eps: 1e-8, weightDecay: s.archWeightDecay })
        : null;
  }

  /** A copy of the optimisers' state (dispose with disposeSnapshot). */
  snapshot(): OptimizerSnapshot {
    const copy = (a: Adam) => ({
      step: a.step,
      m: a.m.map((t) => keep(t.clone())),
      v: a.v.map((t) => keep(t.clone())),
    });
    return { weights: copy(this.weights), arch: this.arch ? copy(this.arch) : null };
  }
  restore(s: OptimizerSnapshot): void {
    this.weights.loadState(s.weights);
    if (this.arch && s.arch) this.arch.loadState(s.arch);
  }
  dispose(): void {
    this.weights.dispose();
    this.arch?.dispose();
  }
}

export function disposeSnapshot(s: OptimizerSnapshot): void {
  for (const t of [...s.weights.m, ...s.weights.v, ...(s.arch?.m ?? []), ...(s.arch?.v ?? [])]) t.dispose();
}
