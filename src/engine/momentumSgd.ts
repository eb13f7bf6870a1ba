// SGD with momentum as torch.optim.SGD (dampening 0, no Nesterov), the weight optimiser of DARTS's
// search: d = g + weightDecay * p; buf = momentum * buf + d (buf = d at the first step);
// p -= lr * buf. The learning rate is a field, so that a schedule can set it before each step.
import { noGrad } from "./autograd.js";
import { zerosLike } from "./create.js";
import { keep, tidy } from "./scope.js";
import type { Tensor } from "./tensor.js";

export interface MomentumSgdOptions {
  lr: number;
  momentum: number;
  weightDecay?: number;
}

export class MomentumSgd {
  lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
  /** One momentum buffer per parameter; owned by the optimiser. */
  readonly buffers: Tensor[];
  /** Whether each buffer holds a value yet (torch starts it at the first gradient, not at zero). */
  readonly #started: boolean[];

  constructor(
    readonly params: Tensor[],
    o: MomentumSgdOptions,
  ) {
    this.lr = o.lr;
    this.momentum = o.momentum;
    this.weightDecay = o.weightDecay ?? 0;
    this.buffers = noGrad(() => params.map((p) => keep(zerosLike(p))));
    this.#started = params.map(() => false);
  }

  /** One update with the given gradients (null: leave that parameter and its buffer alone). */
  apply(grads: readonly (Tensor | null)[]): void {
    if (grads.length !== this.params.length)
      throw new Error(`MomentumSgd: ${grads.length} gradients for ${this.params.length} parameters`);
    noGrad(() =>
      tidy(() => {
        grads.forEach((g, i) => {
          if (!g) return;
          const p = this.params[i]!;
          const buf = this.buffers[i]!;
          const d = this.weightDecay > 0 ? g.add(p.mul(this.weightDecay)) : g;
          if (this.#started[i]) buf.mul_(this.momentum).addScaled_(d, 1);
          else buf.copy_(d);
          this.#started[i] = true;
          p.addScaled_(buf, -this.lr);
        });
      }),
    );
  }

  dispose(): void {
    for (const t of this.buffers) t.dispose();
  }
}
