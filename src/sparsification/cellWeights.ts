// Turns architecture logits into the weights a cell's forward pass uses, with forward pruning:
// an op or input pair whose weight is at or below the threshold is not computed at all, and the
// others are not renormalised.
import { type Tensor, tensor } from "../engine/index.js";
import type { CellGene } from "../searchspace/genotype.js";
import { OP_NAMES } from "../searchspace/primitives.js";
import { annealsOps, inputPairs, type Strategy, usesInputPairs } from "./strategy.js";

export interface ActiveOp {
  op: number;
  /** w_o, shape [1], in the autograd graph of alpha; null = weight 1 (a discrete cell). */
  weight: Tensor | null;
}
export interface ActiveInput {
  input: number;
  /** Sum of v_ab over the surviving pairs that contain this input (shape [1]); null = weight 1. */
  coef: Tensor | null;
}
export interface CellWeights {
  /** Per edge (edges of node 0 first, inputs in order), the ops to compute. */
  ops: ActiveOp[][];
  /** Per node, the inputs to sum. */
  inputs: ActiveInput[][];
}

/** Edge index of (node j, input i): the edges of earlier nodes come first. */
export function edgeIndex(node: number, input: number): number {
  // node k has 2 + k inputs
  return node * 2 + (node * (node - 1)) / 2 + input;
}
export function numEdges(nodes: number): number {
  return edgeIndex(nodes, 0);
}

export interface WeightSettings {
  temperature: number;
  threshold: number;
  strategy: Strategy;
}

/**
 * alpha: [edges, ops] logits; betas: per node j a [pairs(2 + j)] logit vector.
 * Node output = sum over pairs (a, b) of v_ab (edge_a + edge_b) = sum over inputs a of
 * (sum of v over the pairs containing a) edge_a, which needs each edge once.
 */
export function cellWeights(alpha: Tensor, betas: readonly Tensor[], s: WeightSettings): CellWeights {
  const nodes = betas.length;
  const [edges, numOps] = alpha.shape as [number, number];
  if (edges !== numEdges(nodes)) throw new Error(`alpha has ${edges} edges but ${nodes} nodes need ${numEdges(nodes)}`);
  const tOps = annealsOps(s.strategy) ? s.temperature : 1;
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
      if (wData[k]! > s.threshold) active.push({ op: o, weight: w.slice(0, k, k + 1) });
    }
    ops.push(active);
  }

  const inputs: ActiveInput[][] = [];
  for (let j = 0; j < nodes; j++) {
    const numInputs = 2 + j;
    if (!usesInputPairs(s.strategy)) {
      inputs.push(Array.from({ length: numInputs }, (_, i) => ({ input: i, coef: null })));
      continue;
    }
    const pairs = inputPairs(numInputs);
    const v = betas[j]!.div(s.temperature).softmax(0);
    const vData = v.data();
    // Incidence of inputs in the surviving pairs: coef = incidence @ v.
    const incidence = new Float32Array(numInputs * pairs.length);
    pairs.forEach(([a, b], p) => {
      if (vData[p]! > s.threshold) {
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

/**
 * The discrete cell a genotype describes, as weights for the one-shot cell: each node sums exactly
 * its two chosen inputs, each through its one chosen op, with weight 1; every other op and input
 * is removed. With these weights the one-shot network computes the pruned network on its own
 * (unchanged) weights.
 */
export function discreteCellWeights(gene: CellGene): CellWeights {
  const nodes = gene.length;
  const ops: ActiveOp[][] = Array.from({ length: numEdges(nodes) }, () => []);
  const inputs: ActiveInput[][] = gene.map((node, j) =>
    node.map(([name, input]) => {
      const op = OP_NAMES.indexOf(name);
      if (op < 0) throw new Error(`genotype node ${j}: unknown operation ${name}`);
      ops[edgeIndex(j, input)]!.push({ op, weight: null });
      return { input, coef: null };
    }),
  );
  return { ops, inputs };
}
