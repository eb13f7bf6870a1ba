// Builds the model a run configuration names.
import { existsSync, readFileSync } from "node:fs";
import type { RunConfig } from "../runs/config.js";
import { parseGenotype, toDarts } from "../searchspace/genotype.js";
import { Conv4Model } from "./conv4.js";
import { FixedModel } from "./fixedModel.js";
import type { MetaModel } from "./model.js";
import { SearchModel } from "./searchModel.js";

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

export function buildModel(c: RunConfig, imageShape: [number, number, number]): MetaModel {
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
      return new Conv4Model({ inputShape: imageShape, classes: c.ways, channels: c.conv4Channels });
  }
}

/** The config as saved with the run: a genotype given as a file is stored by value. */
export function selfContained(c: RunConfig): RunConfig {
  if (c.model !== "fixed" || !c.genotype) return c;
  return { ...c, genotype: toDarts(parseGenotype(resolveGenotypeText(c.genotype), c.genotype)) };
}
