// Builds the model that a few settings name (a run configuration has them all).
import { existsSync, readFileSync } from "node:fs";
import { parseGenotype, toDarts } from "../searchspace/genotype.js";
import type { Strategy } from "../sparsification/strategy.js";
import { type Conv4Downsampling, Conv4Model } from "./conv4.js";
import { FixedModel } from "./fixedModel.js";
import type { MetaModel, ModelKind } from "./model.js";
import { SearchModel } from "./searchModel.js";

/** What buildModel needs to know; the classes come from `ways`, the input shape from the data. */
export interface ModelOptions {
  model: ModelKind;
  ways: number;
  /** Cell networks (metanas, fixed): channels per node, cells, reduction positions, nodes per cell. */
  channels: number;
  cells: number;
  reductions: number[];
  nodes: number;
  /** metanas: how the one-shot network is sparsified. */
  strategy: Strategy;
  /** fixed: the genotype in DARTS notation or JSON, or a file holding either. */
  genotype?: string;
  /** conv4: channels of every block, and how each block halves the resolution (default maxpool). */
  conv4Channels: number;
  conv4Downsampling?: Conv4Downsampling;
}

/** The genotype text of a config: a file's contents when it names a file, else the value itself. */
export function resolveGenotypeText(value: string): string {
  if (existsSync(value)) return readFileSync(value, "utf8");
  const text = value.trim();
  if (!text.startsWith("Genotype(") && !text.startsWith("{")) {
    throw new Error(
      `genotype file ${value} does not exist: pass a genotype.txt / genotype.json of a run, or the genotype itself`,
    );
  }
  return value;
}

export function buildModel(c: ModelOptions, imageShape: [number, number, number]): MetaModel {
  const network = {
    inputChannels: imageShape[0],
    classes: c.ways,
    channels: c.channels,
    cells: c.cells,
    reductions: c.reductions,
    nodes: c.nodes,
    stemMultiplier: 3,
  };
  switch (c.model) {
    case "metanas":
      return new SearchModel(network, c.strategy);
    case "fixed": {
      if (!c.genotype) throw new Error("model fixed needs --genotype FILE (a genotype in DARTS notation or JSON)");
      const genotype = parseGenotype(
        resolveGenotypeText(c.genotype),
        `genotype ${c.genotype.length > 60 ? "text" : c.genotype}`,
      );
      return new FixedModel({ ...network, nodes: genotype.normal.length }, genotype);
    }
    case "conv4":
      return new Conv4Model({
        inputShape: imageShape,
        classes: c.ways,
        channels: c.conv4Channels,
        downsampling: c.conv4Downsampling,
      });
  }
}

/** The settings as saved with a run: a genotype given as a file is stored by value. */
export function selfContained<C extends Pick<ModelOptions, "model" | "genotype">>(c: C): C {
  if (c.model !== "fixed" || !c.genotype) return c;
  return { ...c, genotype: toDarts(parseGenotype(resolveGenotypeText(c.genotype), c.genotype)) };
}
