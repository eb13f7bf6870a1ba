// Optimisers that update a whole list of tensors in one native call.
import { zerosLike } from "./create.js";
import { native } from "./native.js";
import { keep } from "./scope.js";
import type { Tensor } from "./tensor.js";
import { Snapshot } from "./tensorList.js";

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

/** Adam as torch.optim.Adam (L2 weight decay added to the gradient). beta1 = 0 is allowed. */
export class Adam {
  readonly params: Tensor[];
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** First and second moments, one per parameter; owned by the optimiser. */
  readonly m: Tensor[];
  readonly v: Tensor[];
  step = 0;

  constructor(params: Tensor[], o: AdamOptions) {
    this.params = params;
    this.lr = o.lr;
    this.beta1 = o.beta1 ?? 0.9;
    this.beta2 = o.beta2 ?? 0.999;
    this.eps = o.eps ?? 1e-8;
    this.weightDecay = o.weightDecay ?? 0;
    this.m = params.map((p) => keep(zerosLike(p)));
    this.v = params.map((p) => keep(zerosLike(p)));
  }

  /** One update with the given gradients (null: leave that parameter alone), at lr times lrScale. */
  apply(grads: readonly (Tensor | null)[], lrScale = 1): void {
    if (grads.length !== this.params.length)
      throw new Error(`Adam: ${grads.length} gradients for ${this.params.length} parameters`);
    this.step += 1;
    native.adamStep(
      this.params.map((p) => p.id),
      grads.map((g) => (g ? g.id : -1)),
      this.m.map((t) => t.id),
      this.v.map((t) => t.id),
      this.step,
      this.lr * lrScale,
      this.beta1,
      this.beta2,
      this.eps,
      this.weightDecay,
    );
  }

  /** The moments and the step count, to save or to restore later. */
  state(): { step: number; m: Tensor[]; v: Tensor[] } {
    return { step: this.step, m: this.m, v: this.v };
  }
  /** The moments and the step count as they are now, to restore later (dispose the snapshot). */
  snapshot(): Snapshot {
    const step = this.step;
    return new Snapshot([...this.m, ...this.v], () => {
      this.step = step;
    });
  }
  /** Copies another state's moments into this optimiser (shapes must match). */
  loadState(state: { step: number; m: readonly Tensor[]; v: readonly Tensor[] }): void {
    if (state.m.length !== this.m.length || state.v.length !== this.v.length)
      throw new Error("Adam.loadState: the state belongs to other parameters");
    this.step = state.step;
    this.m.forEach((t, i) => {
      t.copy_(state.m[i]!);
    });
    this.v.forEach((t, i) => {
      t.copy_(state.v[i]!);
    });
  }
  dispose(): void {
    for (const t of [...this.m, ...this.v]) t.dispose();
  }
}

/** Plain SGD: p -= lr * (g + weightDecay * p). */
export class SGD {
  constructor(
    readonly params: Tensor[],
    readonly lr: number,
    readonly weightDecay = 0,
  ) {}
  apply(grads: readonly (Tensor | null)[]): void {
    if (grads.length !== this.params.length)
      throw new Error(`SGD: ${grads.length} gradients for ${this.params.length} parameters`);
    native.sgdStep(
      this.params.map((p) => p.id),
      grads.map((g) => (g ? g.id : -1)),
      this.lr,
      this.weightDecay,
    );
  }
}
