// The search cell: two preprocessed inputs, intermediate nodes fed by mixed edges, and the
// concatenation of the nodes as output.
import { cat, type Tensor, tidy } from "../engine/index.js";
import { Module } from "../nn/module.js";
import type { CellWeights } from "./cellWeights.js";
import { dropPathMask } from "./dropPath.js";
import { FactorizedReduce, OPERATIONS, type Operation, ReLUConvBN, ReluOperation } from "./operations.js";
import { OP_NAMES } from "./primitives.js";
import { edgeIndex } from "./topology.js";

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
    // ReLU(state), shared by every op that starts with it on every edge reading that state.
    const relus: Tensor[] = [];
    const relu = (i: number): Tensor => {
      relus[i] ??= state(i).relu();
      return relus[i]!;
    };
    // node = sum over inputs i of coef_i * sum over ops o of w_o * mask_o * y_o: each op output goes
    // into the node with the product of its factors (tiny tensors), together with the op's final
    // batch norm (Operation.accumulate), so no edge sum is built or kept. Each op runs in its own
    // tidy scope and the previous partial sum is freed at once: only what autograd saved stays
    // alive, not every intermediate of the pass.
    const times = (a: Tensor | null, b: Tensor | null) => (a && b ? a.mul(b) : (a ?? b));
    for (let j = 0; j < this.shape.nodes; j++) {
      let node: Tensor | null = null;
      for (const { input, coef } of w.inputs[j]!) {
        const e = edgeIndex(j, input);
        if (w.ops[e]!.length === 0)
          throw new Error(`cell node ${j}: every op on the edge from input ${input} was pruned`);
        for (const { op, weight } of w.ops[e]!) {
          const operation = this.edges[e]!.ops[op]!;
          // The input (and its ReLU) belong to the cell's scope: later ops read them again.
          const x = operation instanceof ReluOperation ? relu(input) : state(input);
          const sum = node as Tensor | null;
          node = tidy(() => {
            const mask = operation.isIdentity || dropPathProb <= 0 ? null : dropPathMask(x.shape[0]!, dropPathProb);
            const scale = times(times(mask, weight), coef);
            return operation instanceof ReluOperation
              ? operation.accumulateRelu(sum, x, scale)
              : operation.accumulate(sum, x, scale);
          });
          // A partial sum is this loop's own, unless it is a state passed through (identity, weight 1).
          if (sum && !states.includes(sum)) sum.dispose();
        }
      }
      if (!node) throw new Error(`cell node ${j}: every input pair was pruned`);
      states.push(node);
    }
    return cat(states.slice(2) as Tensor[], 1);
  }
}
