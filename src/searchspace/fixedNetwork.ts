// A network built from a genotype: each node sums its chosen ops (affine batch norm), as the
// paper's Section 5.2 meta-trains from scratch. Weights can be carried over from a search network.
import { cat, noGrad, type Tensor, tidy } from "../engine/index.js";
import { Module } from "../nn/module.js";
import type { CellShape, SearchCell } from "./cell.js";
import { dropPath } from "./dropPath.js";
import type { GeneEdge, Genotype } from "./genotype.js";
import { CellNetwork, type NetworkConfig, type SearchNetwork } from "./network.js";
import { FactorizedReduce, OPERATIONS, type Operation, ReLUConvBN } from "./operations.js";
import { OP_NAMES } from "./primitives.js";
import { edgeIndex } from "./topology.js";

export class FixedCell extends Module {
  readonly preprocess0: Operation;
  readonly preprocess1: Operation;
  /** Per node, its chosen ops in genotype order. */
  readonly nodeOps: Operation[][] = [];

  constructor(
    readonly shape: CellShape,
    readonly gene: GeneEdge[][],
    readonly concat: number[],
  ) {
    super();
    const { prevPrevChannels, prevChannels, channels: c, reduction, reductionPrev } = shape;
    this.preprocess0 = this.child(
      "preprocess0",
      reductionPrev ? new FactorizedReduce(prevPrevChannels, c, true) : new ReLUConvBN(prevPrevChannels, c, true),
    );
    this.preprocess1 = this.child("preprocess1", new ReLUConvBN(prevChannels, c, true));
    gene.forEach((node, j) => {
      this.nodeOps.push(
        node.map(([op, input], n) =>
          this.child(`nodes.${j}.${n}.${op}`, OPERATIONS[op](c, reduction && input < 2 ? 2 : 1, true)),
        ),
      );
    });
  }

  forward(s0: Tensor, s1: Tensor, dropPathProb: number): Tensor {
    const states: (Tensor | null)[] = [null, null];
    const state = (i: number): Tensor => {
      if (i === 0) states[0] ??= this.preprocess0.forward(s0);
      if (i === 1) states[1] ??= this.preprocess1.forward(s1);
      return states[i]!;
    };
    this.gene.forEach((node, j) => {
      let sum: Tensor | null = null;
      node.forEach(([, input], n) => {
        const op = this.nodeOps[j]![n]!;
        let y = op.forward(state(input));
        if (!op.isIdentity) y = dropPath(y, dropPathProb);
        sum = sum ? sum.add(y) : y;
      });
      states.push(sum);
    });
    return cat(
      this.concat.map((i) => state(i)),
      1,
    );
  }
}

export class FixedNetwork extends CellNetwork<FixedCell> {
  constructor(
    config: NetworkConfig,
    readonly genotype: Genotype,
  ) {
    if (genotype.normal.length !== config.nodes || genotype.reduce.length !== config.nodes) {
      // The genotype decides the node count.
      config = { ...config, nodes: genotype.normal.length };
    }
    super(
      config,
      (shape) =>
        shape.reduction
          ? new FixedCell(shape, genotype.reduce, genotype.reduceConcat)
          : new FixedCell(shape, genotype.normal, genotype.normalConcat),
      genotype.normalConcat.length,
    );
  }

  forward(x: Tensor, dropPathProb = 0): Tensor {
    let s0 = this.stem(x);
    let s1 = s0;
    for (const cell of this.cells) {
      // A scope per cell: its intermediates are freed as soon as it is done (autograd keeps its own).
      const out = tidy(() => cell.forward(s0, s1, dropPathProb));
      [s0, s1] = [s1, out];
    }
    return this.head(s1);
  }

  /**
   * Copies the search network's weights into this network: stem, preprocessing, classifier, and on
   * every chosen edge the weights of the chosen op. Affine batch-norm parameters that the search
   * network lacks keep their identity initialisation (scale 1, shift 0).
   */
  copyFromSearch(search: SearchNetwork): void {
    const dst = new Map(this.namedParameters());
    const put = (name: string, t: Tensor) => {
      const target = dst.get(name);
      if (!target) throw new Error(`copyFromSearch: the fixed network has no parameter ${name}`);
      noGrad(() => target.copy_(t));
    };
    const copyModule = (from: Module, toPrefix: string) => {
      for (const [n, t] of from.namedParameters()) put(`${toPrefix}${n}`, t);
    };
    copyModule(search.stemConv, "stem.conv.");
    copyModule(search.classifier, "classifier.");
    for (const [n, t] of search.stemBn.namedParameters()) put(`stem.bn.${n}`, t);
    search.cells.forEach((cell: SearchCell, k) => {
      copyModule(cell.preprocess0, `cells.${k}.preprocess0.`);
      copyModule(cell.preprocess1, `cells.${k}.preprocess1.`);
      const gene = cell.shape.reduction ? this.genotype.reduce : this.genotype.normal;
      gene.forEach((node, j) =>
        node.forEach(([op, input], n) => {
          const source = cell.edges[edgeIndex(j, input)]!.ops[OP_NAMES.indexOf(op)]!;
          copyModule(source, `cells.${k}.nodes.${j}.${n}.${op}.`);
        }),
      );
    });
  }
}

export type { NetworkConfig };
