// Turns architecture logits into the weights a cell's forward pass uses, with forward pruning:
// an op or input pair whose weight is at or below the threshold is not computed at all, and the
// others are not renormalised.
import { type Tensor, tensor } from "../engine/index.js";
import type { ActiveInput, ActiveOp, CellWeights } from "../searchspace/cellWeights.js";
import type { ForwardPhase } from "../searchspace/phase.js";
import { numEdges } from "../searchspace/topology.js";
import { annealsOps, inputPairs, type Strategy, usesInputPairs } from "./strategy.js";

/**
 * alpha: [edges, ops] logits; betas: per node j a [pairs(2 + j)] logit vector.
 * Node output = sum over pairs (a, b) of v_ab (edge_a + edge_b) = sum over inputs a of
 * (sum of v over the pairs containing a) edge_a, which needs each edge once.
 */
export function cellWeights(
  alpha: Tensor,
  betas: readonly Tensor[],
  phase: ForwardPhase,
  strategy: Strategy,
): CellWeights {
  const nodes = betas.length;
  const [edges, numOps] = alpha.shape as [number, number];
  if (edges !== numEdges(nodes)) throw new Error(`alpha has ${edges} edges but ${nodes} nodes need ${numEdges(nodes)}`);
  const tOps = annealsOps(strategy) ? phase.temperature : 1;
  const w = alpha
    .div(tOps)
    .softmax(1)
    .reshape([edges * numOps]);
  const wData = w.data();
  const ops: ActiveOp[][] = [];
  for (let e = 0; e < edges; e++) {
    const active: ActiveOp[] = [];
    for (let o = 0; o < numOps; o++) {
      const k = e * numOps + o;
      if (wData[k]! > phase.threshold) active.push({ op: o, weight: w.slice(0, k, k + 1) });
    }
    ops.push(active);
  }

  const inputs: ActiveInput[][] = [];
  for (let j = 0; j < nodes; j++) {
    const numInputs = 2 + j;
    if (!usesInputPairs(strategy)) {
      inputs.push(Array.from({ length: numInputs }, (_, i) => ({ input: i, coef: null })));
      continue;
    }
    const pairs = inputPairs(numInputs);
    const v = betas[j]!.div(phase.temperature).softmax(0);
    const vData = v.data();
    // Incidence of inputs in the surviving pairs: coef = incidence @ v.
    const incidence = new Float32Array(numInputs * pairs.length);
    pairs.forEach(([a, b], p) => {
      if (vData[p]! > phase.threshold) {
        incidence[a * pairs.length + p] = 1;
        incidence[b * pairs.length + p] = 1;
      }
    });
    const coefs = tensor(incidence, [numInputs, pairs.length]).matmul(v);
    const active: ActiveInput[] = [];
    for (let i = 0; i < numInputs; i++) {
      let used = false;
      for (let p = 0; p < pairs.length; p++) if (incidence[i * pairs.length + p]) used = true;
      if (used) active.push({ input: i, coef: coefs.slice(0, i, i + 1) });
    }
    inputs.push(active);
  }
  return { ops, inputs };
}
