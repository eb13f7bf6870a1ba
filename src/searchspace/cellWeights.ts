// The weights a cell's forward pass takes: per edge the ops to compute, per node the inputs to sum,
// each with its weight (a tensor in the architecture's autograd graph, or null for weight 1). The
// network never owns the architecture: the sparsification layer computes these from it
// (src/sparsification/cellWeights.ts), and a genotype gives them for its discrete cell.
import type { Tensor } from "../engine/index.js";
import type { CellGene } from "./genotype.js";
import { OP_NAMES } from "./primitives.js";
import { edgeIndex, numEdges } from "./topology.js";

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

/** The weights of the normal and the reduction cells for one forward pass. */
export interface NetworkCellWeights {
  normal: CellWeights;
  reduce: CellWeights;
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

/** The discrete network of a genotype: both cell kinds' weights. */
export function discreteNetworkWeights(g: { normal: CellGene; reduce: CellGene }): NetworkCellWeights {
  return { normal: discreteCellWeights(g.normal), reduce: discreteCellWeights(g.reduce) };
}
