// Model sizes: parameter counts (all, and what survives forward pruning) and multiply-accumulates
// per image, for the one-shot network and for fixed networks.
import { noGrad, rand, tidy } from "../engine/index.js";
import { countMacs } from "../nn/macs.js";
import type { Module } from "../nn/module.js";
import type { NetworkCellWeights } from "./cellWeights.js";
import type { FixedNetwork } from "./fixedNetwork.js";
import type { SearchNetwork } from "./network.js";
import { edgeIndex } from "./topology.js";

export interface SearchSizes {
  /** Every weight of the one-shot network. */
  params: number;
  /** Weights that a forward pass at these settings uses (pruned ops and unused inputs excluded). */
  sparseParams: number;
  /** Multiply-accumulates per image with every op computed, and with forward pruning. */
  macs: number;
  sparseMacs: number;
  archParams: number;
}

const count = (m: Module) => m.numParameters();

/** Parameters a forward pass under these cell weights touches. */
export function parameterCountWith(net: SearchNetwork, weights: NetworkCellWeights): number {
  let total = count(net.stemConv) + count(net.stemBn) + count(net.classifier);
  for (const cell of net.cells) {
    const w = weights[cell.shape.reduction ? "reduce" : "normal"];
    const usedInputs = new Set<number>();
    w.inputs.forEach((inputs, j) => {
      for (const { input } of inputs) {
        usedInputs.add(input);
        for (const { op } of w.ops[edgeIndex(j, input)]!) total += count(cell.edges[edgeIndex(j, input)]!.ops[op]!);
      }
    });
    if (usedInputs.has(0)) total += count(cell.preprocess0);
    if (usedInputs.has(1)) total += count(cell.preprocess1);
  }
  return total;
}

/** Batch norm needs more than one value per channel, so sizes are measured on a batch of two. */
const MEASURE_BATCH = 2;

/** MACs per image of one forward pass: the layers count the whole batch's work, divided by its size. */
export function macsPerImage(
  forward: (x: ReturnType<typeof rand>) => unknown,
  inputShape: [number, number, number],
): number {
  return tidy(() => noGrad(() => countMacs(() => forward(rand([MEASURE_BATCH, ...inputShape]))).macs / MEASURE_BATCH));
}

/**
 * Sizes of the one-shot network under an architecture: `dense` are its weights with every op and
 * input computed, `sparse` with forward pruning.
 */
export function searchSizes(
  net: SearchNetwork,
  weights: { dense: NetworkCellWeights; sparse: NetworkCellWeights },
  archParams: number,
  inputShape: [number, number, number],
): SearchSizes {
  return {
    params: net.numParameters(),
    sparseParams: parameterCountWith(net, weights.sparse),
    macs: macsPerImage((x) => net.forward(x, weights.dense, 0), inputShape),
    sparseMacs: macsPerImage((x) => net.forward(x, weights.sparse, 0), inputShape),
    archParams,
  };
}

export function fixedSizes(net: FixedNetwork, inputShape: [number, number, number]): { params: number; macs: number } {
  return { params: net.numParameters(), macs: macsPerImage((x) => net.forward(x, 0), inputShape) };
}
