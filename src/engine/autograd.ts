// Gradients: with respect to chosen tensors only, and a no-grad scope.
import { native } from "./native.js";
import { Tensor } from "./tensor.js";

/**
 * Gradients of `output` (a scalar, or several summed) with respect to `inputs` only; nothing is
 * accumulated into .grad. An input the output does not depend on gets null.
 */
export function grad(
  output: Tensor | Tensor[],
  inputs: readonly Tensor[],
  o: { retainGraph?: boolean; createGraph?: boolean } = {},
): (Tensor | null)[] {
  const outs = Array.isArray(output) ? output : [output];
  const ids = native.autogradGrad(
    outs.map((t) => t.id),
    inputs.map((t) => t.id),
    o.retainGraph ?? false,
    o.createGraph ?? false,
  );
  return ids.map((id) => (id < 0 ? null : new Tensor(id)));
}

/** Runs fn with gradient recording off (as torch.no_grad). */
export function noGrad<T>(fn: () => T): T {
  const previous = native.setGradEnabled(false);
  try {
    return fn();
  } finally {
    native.setGradEnabled(previous);
  }
}

export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}
