// The search cell: two preprocessed inputs, intermediate nodes fed by mixed edges, and the
// concatenation of the nodes as output.
import { cat, type Tensor } from "../engine/index.js";
import { Module } from "../nn/module.js";
import type { CellWeights } from "../sparsification/cellWeights.js";
import { edgeIndex } from "../sparsification/cellWeights.js";
import { dropPath } from "./dropPath.js";
import { FactorizedReduce, OPERATIONS, type Operation, ReLUConvBN } from "./operations.js";
import { OP_NAMES } from "./primitives.js";

/** All seven candidate ops on one edge. */
export class MixedEdge extends Module {
  readonly ops: Operation[];
  constructor(channels: number, stride: number) {
    super();
    this.ops = OP_NAMES.map((name) => this.child(name, OPERATIONS[name](channels, stride, false)));
  }
}

export interface CellShape {
  prevPrevChannels: number;
  prevChannels: number;
  channels: number;
  reduction: boolean;
  reductionPrev: boolean;
  nodes: number;
}

export class SearchCell extends Module {
  readonly preprocess0: Operation;
  readonly preprocess1: Operation;
  readonly edges: MixedEdge[] = [];

  constructor(readonly shape: CellShape) {
    super();
    const { prevPrevChannels, prevChannels, channels: c, reduction, reductionPrev, nodes } = shape;
    // When the previous cell reduced, s0 has twice the resolution of s1.
    this.preprocess0 = this.child(
      "preprocess0",
      reductionPrev ? new FactorizedReduce(prevPrevChannels, c, false) : new ReLUConvBN(prevPrevChannels, c, false),
    );
    this.preprocess1 = this.child("preprocess1", new ReLUConvBN(prevChannels, c, false));
    for (let j = 0; j < nodes; j++) {
      for (let i = 0; i < 2 + j; i++) {
        // Edges that read the cell inputs carry the reduction's stride.
        const stride = reduction && i < 2 ? 2 : 1;
        this.edges.push(this.child(`edges.${edgeIndex(j, i)}`, new MixedEdge(c, stride)));
      }
    }
  }

  forward(s0: Tensor, s1: Tensor, w: CellWeights, dropPathProb: number): Tensor {
    const states: (Tensor | null)[] = [null, null];
    const state = (i: number): Tensor => {
      if (i === 0) states[0] ??= this.preprocess0.forward(s0);
      if (i === 1) states[1] ??= this.preprocess1.forward(s1);
      return states[i]!;
    };
    for (let j = 0; j < this.shape.nodes; j++) {
      let node: Tensor | null = null;
      for (const { input, coef } of w.inputs[j]!) {
        const e = edgeIndex(j, input);
        const x = state(input);
        let edge: Tensor | null = null;
        for (const { op, weight } of w.ops[e]!) {
          const operation = this.edges[e]!.ops[op]!;
          let y = operation.forward(x);
          if (!operation.isIdentity) y = dropPath(y, dropPathProb);
          const term = weight ? y.mul(weight) : y;
          edge = edge ? edge.add(term) : term;
        }
        if (!edge) throw new Error(`cell node ${j}: every op on the edge from input ${input} was pruned`);
        const contribution = coef ? edge.mul(coef) : edge;
        node = node ? node.add(contribution) : contribution;
      }
      if (!node) throw new Error(`cell node ${j}: every input pair was pruned`);
      states.push(node);
    }
    return cat(states.slice(2) as Tensor[], 1);
  }
}
