// The architecture parameters (the "controller" of pt.darts): one set shared by all normal cells
// and one by all reduction cells, with the sparsification strategy that turns them into weights.
// The network never owns them; it is handed their weights (searchspace/cellWeights.ts).
import { keep, noGrad, randn, type Tensor, tidy } from "../engine/index.js";
import type { CellWeights, NetworkCellWeights } from "../searchspace/cellWeights.js";
import type { CellGene, GeneEdge, Genotype } from "../searchspace/genotype.js";
import type { ForwardPhase } from "../searchspace/phase.js";
import { NUM_OPS, OP_NAMES } from "../searchspace/primitives.js";
import { edgeIndex, numEdges } from "../searchspace/topology.js";
import { cellWeights } from "./cellWeights.js";
import { inputPairs, type Strategy, usesInputPairs } from "./strategy.js";

export type CellKind = "normal" | "reduce";

export class Architecture {
  /** Op logits per edge, [edges, 7]. */
  readonly alpha: Record<CellKind, Tensor>;
  /** Input-pair logits per node j: [pairs(2 + j)] = 1, 3, 6 values for three nodes. */
  readonly beta: Record<CellKind, Tensor[]>;

  /** Initialised as 1e-3 * N(0, 1) from libtorch's generator (seed it first). */
  constructor(
    readonly nodes = 3,
    readonly strategy: Strategy = "metanas",
  ) {
    const init = (shape: number[]) => keep(noGrad(() => tidy(() => randn(shape).mul(1e-3)))).requiresGrad_(true);
    const betas = () => Array.from({ length: nodes }, (_, j) => init([inputPairs(2 + j).length]));
    this.alpha = { normal: init([numEdges(nodes), NUM_OPS]), reduce: init([numEdges(nodes), NUM_OPS]) };
    this.beta = { normal: betas(), reduce: betas() };
  }

  /** All architecture tensors in a fixed order (alpha normal, alpha reduce, betas normal, betas reduce). */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }
  namedParameters(): [string, Tensor][] {
    return [
      ["alpha.normal", this.alpha.normal],
      ["alpha.reduce", this.alpha.reduce],
      ...this.beta.normal.map((t, j) => [`beta.normal.${j}`, t] as [string, Tensor]),
      ...this.beta.reduce.map((t, j) => [`beta.reduce.${j}`, t] as [string, Tensor]),
    ];
  }
  numParameters(): number {
    return this.parameters().reduce((a, t) => a + t.size, 0);
  }

  /** The weights a forward pass at this phase gives the cells of this kind, under the strategy. */
  cellWeights(kind: CellKind, phase: ForwardPhase): CellWeights {
    return cellWeights(this.alpha[kind], this.beta[kind], phase, this.strategy);
  }

  /** The weights of both cell kinds for a forward pass at this phase. */
  weights(phase: ForwardPhase): NetworkCellWeights {
    return { normal: this.cellWeights("normal", phase), reduce: this.cellWeights("reduce", phase) };
  }

  /** The discrete architecture: per node its two inputs and, on each, the op with the largest weight. */
  genotype(): Genotype {
    const strategy = this.strategy;
    const cell = (kind: CellKind): CellGene => {
      const alpha = this.alpha[kind].data();
      const bestOp = (e: number): [number, number] => {
        let best = 0;
        for (let o = 1; o < NUM_OPS; o++) if (alpha[e * NUM_OPS + o]! > alpha[e * NUM_OPS + best]!) best = o;
        return [best, alpha[e * NUM_OPS + best]!];
      };
      const gene: CellGene = [];
      for (let j = 0; j < this.nodes; j++) {
        const numInputs = 2 + j;
        let chosen: number[];
        if (usesInputPairs(strategy)) {
          const beta = this.beta[kind][j]!.data();
          let p = 0;
          for (let q = 1; q < beta.length; q++) if (beta[q]! > beta[p]!) p = q;
          chosen = inputPairs(numInputs)[p]!;
        } else {
          // DARTS: the two inputs whose strongest op has the largest softmax weight (T = 1).
          const strength = Array.from({ length: numInputs }, (_, i) => {
            const e = edgeIndex(j, i);
            const row = Array.from(alpha.subarray(e * NUM_OPS, (e + 1) * NUM_OPS));
            const max = Math.max(...row);
            const z = row.reduce((a, v) => a + Math.exp(v - max), 0);
            return 1 / z;
          });
          chosen = [...strength.keys()]
            .sort((a, b) => strength[b]! - strength[a]! || a - b)
            .slice(0, 2)
            .sort((a, b) => a - b);
        }
        gene.push(chosen.map((i) => [OP_NAMES[bestOp(edgeIndex(j, i))[0]]!, i] as GeneEdge));
      }
      return gene;
    };
    const concat = Array.from({ length: this.nodes }, (_, j) => j + 2);
    return { normal: cell("normal"), normalConcat: concat, reduce: cell("reduce"), reduceConcat: [...concat] };
  }

  dispose(): void {
    for (const t of this.parameters()) t.dispose();
  }
}
