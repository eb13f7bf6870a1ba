// Gradient clipping by the global norm, as torch.nn.utils.clip_grad_norm_: when the L2 norm of all
// gradients together exceeds maxNorm, every gradient is scaled by maxNorm / (norm + 1e-6).
import { noGrad } from "./autograd.js";
import { tidy } from "./scope.js";
import type { Tensor } from "./tensor.js";

/** Clips in place; returns the norm before clipping. */
export function clipGradNorm(grads: readonly (Tensor | null)[], maxNorm: number): number {
  return noGrad(() =>
    tidy(() => {
      let sumSquares = 0;
      for (const g of grads) if (g) sumSquares += g.square().sum().item();
      const norm = Math.sqrt(sumSquares);
      const coef = maxNorm / (norm + 1e-6);
      if (coef < 1) for (const g of grads) g?.mul_(coef);
      return norm;
    }),
  );
}
