// The one-shot search network: stem, cells [normal, reduction, normal, reduction] by default,
// constant channel count (or doubled at each reduction, as DARTS's network, for the single-task
// search), global average pooling, linear classifier.
import { globalAvgPool, type Tensor, tidy } from "../engine/index.js";
import { BatchNorm2d, Conv2d, Linear } from "../nn/layers.js";
import { Module } from "../nn/module.js";
import { type CellShape, SearchCell } from "./cell.js";
import type { NetworkCellWeights } from "./cellWeights.js";

export interface NetworkConfig {
  /** Image channels (1 Omniglot, 3 MiniImagenet). */
  inputChannels: number;
  classes: number;
  /** C: channels per node; constant through the network (no doubling at reductions). */
  channels: number;
  cells: number;
  /** 0-based positions of the reduction cells. */
  reductions: number[];
  nodes: number;
  /** The stem maps the image to stemMultiplier * C channels. */
  stemMultiplier: number;
  /** DARTS's network doubles C at every reduction cell; MetaNAS's keeps it (default false). */
  doubleAtReductions?: boolean;
}

export const PAPER_NETWORK: Omit<NetworkConfig, "inputChannels" | "classes"> = {
  channels: 28,
  cells: 4,
  reductions: [1, 3],
  nodes: 3,
  stemMultiplier: 3,
};

export function validateNetworkConfig(c: NetworkConfig): void {
  const bad = (why: string): never => {
    throw new Error(`invalid network: ${why}`);
  };
  if (!(Number.isInteger(c.channels) && c.channels >= 2 && c.channels % 2 === 0))
    bad(`channels must be an even integer >= 2 (FactorizedReduce halves it), got ${c.channels}`);
  if (!(Number.isInteger(c.cells) && c.cells >= 1)) bad(`cells must be a positive integer, got ${c.cells}`);
  if (!(Number.isInteger(c.nodes) && c.nodes >= 1)) bad(`nodes must be a positive integer, got ${c.nodes}`);
  if (!(Number.isInteger(c.classes) && c.classes >= 2)) bad(`classes (ways) must be an integer >= 2, got ${c.classes}`);
  for (const r of c.reductions)
    if (!(Number.isInteger(r) && r >= 0 && r < c.cells))
      bad(`reduction position ${r} is not a cell (0..${c.cells - 1})`);
}

/** Stem + classifier shared by the search network and fixed networks. */
export abstract class CellNetwork<TCell extends Module> extends Module {
  readonly stemConv: Conv2d;
  readonly stemBn: BatchNorm2d;
  readonly cells: TCell[] = [];
  readonly classifier: Linear;

  constructor(
    readonly config: NetworkConfig,
    makeCell: (shape: CellShape & { index: number }) => TCell,
    outNodes: number,
  ) {
    super();
    validateNetworkConfig(config);
    let c = config.channels;
    const stemChannels = config.stemMultiplier * c;
    this.stemConv = this.child("stem.conv", new Conv2d(config.inputChannels, stemChannels, 3, { padding: 1 }));
    this.stemBn = this.child("stem.bn", new BatchNorm2d(stemChannels, true));
    let [pp, p] = [stemChannels, stemChannels];
    let reductionPrev = false;
    for (let k = 0; k < config.cells; k++) {
      const reduction = config.reductions.includes(k);
      if (reduction && config.doubleAtReductions) c *= 2;
      const cell = makeCell({
        prevPrevChannels: pp,
        prevChannels: p,
        channels: c,
        reduction,
        reductionPrev,
        nodes: config.nodes,
        index: k,
      });
      this.cells.push(this.child(`cells.${k}`, cell));
      [pp, p] = [p, outNodes * c];
      reductionPrev = reduction;
    }
    this.classifier = this.child("classifier", new Linear(p, config.classes));
  }

  protected stem(x: Tensor): Tensor {
    return this.stemBn.forward(this.stemConv.forward(x));
  }
  protected head(x: Tensor): Tensor {
    return this.classifier.forward(globalAvgPool(x));
  }
}

export class SearchNetwork extends CellNetwork<SearchCell> {
  constructor(config: NetworkConfig) {
    super(config, (shape) => new SearchCell(shape), config.nodes);
  }

  /**
   * Logits [N, classes] for images [N, C, H, W] under the cells' weights (an architecture's at some
   * phase, or the discrete cells of a genotype) and a drop-path probability.
   */
  forward(x: Tensor, weights: NetworkCellWeights, dropPath: number): Tensor {
    let s0 = this.stem(x);
    let s1 = s0;
    for (const cell of this.cells) {
      // A scope per cell: its intermediates are freed as soon as it is done (autograd keeps its own).
      const out = tidy(() => cell.forward(s0, s1, cell.shape.reduction ? weights.reduce : weights.normal, dropPath));
      [s0, s1] = [s1, out];
    }
    return this.head(s1);
  }
}
