// metanas inspect: sizes (weights, multiply-accumulates per image) and cell layout of the network a
// configuration builds: the one-shot search network, a genotype's fixed network, or Conv4.
import type { Command } from "commander";
import { folderImageShape, knownImageShape } from "../data/shapes.js";
import { manualSeed, setNumThreads, tidy } from "../engine/index.js";
import { buildModel } from "../models/build.js";
import type { Conv4Model } from "../models/conv4.js";
import { FixedModel } from "../models/fixedModel.js";
import type { MetaModel } from "../models/model.js";
import { SearchModel } from "../models/searchModel.js";
import type { RunConfig, SettingKey } from "../runs/config.js";
import { buildConfig } from "../runs/presets.js";
import type { CellShape } from "../searchspace/cell.js";
import { fixedSizes, macsPerImage, searchSizes } from "../searchspace/sizes.js";
import { numEdges } from "../searchspace/topology.js";
import { addSettingOptions, helpWithPresetValues, presetOption, settingValues } from "./settings.js";

const DEFAULT_PRESET = "omniglot-20way-1shot";

function parseShape(text: string): [number, number, number] {
  const m = /^(\d+)x(\d+)x(\d+)$/.exec(text.trim());
  if (!m) throw new Error(`--shape must look like CxHxW (e.g. 1x28x28), got "${text}"`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}
/** The settings that decide the network: the rest of a configuration does not change its size. */
const NETWORK_KEYS: SettingKey[] = [
  "dataset",
  "imageSize",
  "imageColour",
  "ways",
  "model",
  "genotype",
  "strategy",
  "channels",
  "cells",
  "reductions",
  "nodes",
  "conv4Channels",
];

interface CellRow {
  index: number;
  type: "normal" | "reduction";
  in: number[];
  out: number;
  resolution: string;
  edges?: number;
  params: number;
}

function cellRows(
  cells: readonly { shape: CellShape; numParameters(): number }[],
  shape: [number, number, number],
  channels: number,
  outNodes: number,
  searchEdges: number | null,
): CellRow[] {
  let [h, w] = [shape[1], shape[2]];
  return cells.map((cell, k) => {
    if (cell.shape.reduction) [h, w] = [Math.ceil(h / 2), Math.ceil(w / 2)];
    return {
      index: k,
      type: cell.shape.reduction ? "reduction" : "normal",
      in: [cell.shape.prevPrevChannels, cell.shape.prevChannels],
      out: outNodes * channels,
      resolution: `${h}x${w}`,
      ...(searchEdges === null ? {} : { edges: searchEdges }),
      params: cell.numParameters(),
    };
  });
}

/** Sizes of the model: dense and at the meta-training and meta-test pruning of a trained architecture. */
function describeModel(model: MetaModel, c: RunConfig, shape: [number, number, number]) {
  const base = { input: shape, ways: c.ways, model: c.model };
  if (model instanceof SearchModel) {
    const net = model.net;
    const phase = { temperature: 1, threshold: c.trainThreshold, dropPath: 0 };
    const arch = model.architecture;
    const sizes = tidy(() =>
      searchSizes(
        net,
        { dense: arch.weights({ ...phase, threshold: -1 }), sparse: arch.weights(phase) },
        arch.numParameters(),
        shape,
      ),
    );
    return {
      ...base,
      channels: c.channels,
      params: sizes.params,
      macs: sizes.macs,
      arch_params: sizes.archParams,
      stem_params: net.stemConv.numParameters() + net.stemBn.numParameters(),
      classifier_params: net.classifier.numParameters(),
      cells: cellRows(net.cells, shape, c.channels, c.nodes, numEdges(c.nodes)),
    };
  }
  if (model instanceof FixedModel) {
    const net = model.net;
    const sizes = tidy(() => fixedSizes(net, shape));
    return {
      ...base,
      channels: c.channels,
      params: sizes.params,
      macs: sizes.macs,
      stem_params: net.stemConv.numParameters() + net.stemBn.numParameters(),
      classifier_params: net.classifier.numParameters(),
      cells: cellRows(net.cells, shape, c.channels, net.genotype.normalConcat.length, null),
    };
  }
  const conv4 = model as Conv4Model;
  const macs = tidy(() => macsPerImage((x) => conv4.forward(x, { temperature: 1, threshold: 0, dropPath: 0 }), shape));
  return { ...base, channels: c.conv4Channels, params: conv4.totalParams(), macs };
}

function printText(r: ReturnType<typeof describeModel>, c: RunConfig): void {
  const fmt = (n: number) => n.toLocaleString("en-US");
  const what = { metanas: "one-shot network", fixed: "fixed network", conv4: "Conv4" }[c.model];
  console.log(`${what} for ${r.input.join("x")} inputs, ${r.ways} ways, C = ${r.channels}`);
  console.log(`  weights:                 ${fmt(r.params)}`);
  if ("arch_params" in r)
    console.log(
      `  architecture parameters: ${fmt(r.arch_params)} (alpha ${numEdges(c.nodes)}x7 and beta per cell type)`,
    );
  console.log(
    `  multiply-accumulates:    ${fmt(r.macs)} per image${c.model === "metanas" ? " (every op computed)" : ""}`,
  );
  if (!("cells" in r)) return;
  console.log(`  stem 3x3 conv -> ${3 * c.channels} channels (${fmt(r.stem_params)} weights)`);
  for (const cell of r.cells) {
    const edges = cell.edges === undefined ? "" : `, ${cell.edges} mixed edges`;
    console.log(
      `  cell ${cell.index} ${cell.type.padEnd(9)} in ${cell.in.join("/")} -> ${cell.out} channels at ${cell.resolution}${edges}, ${fmt(cell.params)} weights`,
    );
  }
  const out = r.cells[r.cells.length - 1]?.out ?? 0;
  console.log(`  global average pool, linear ${out} -> ${r.ways} (${fmt(r.classifier_params)} weights)`);
}

export function register(program: Command): void {
  const cmd = program
    .command("inspect")
    .description("build the network a configuration names and print its sizes and cell layout")
    .addOption(presetOption(DEFAULT_PRESET))
    .option("--shape <CxHxW>", "input shape, instead of the dataset's (e.g. 3x84x84)")
    .option("--json", "print one JSON object");
  addSettingOptions(cmd, NETWORK_KEYS);
  helpWithPresetValues(cmd, DEFAULT_PRESET);
  cmd.action((o: Record<string, unknown>) => {
    const c = buildConfig(String(o.preset), {}, settingValues(o, NETWORK_KEYS));
    // A folder of detected colour: its grey shape (--shape gives another).
    const shape = o.shape
      ? parseShape(String(o.shape))
      : (knownImageShape(c.dataset, c) ?? folderImageShape("grey", c.imageSize));
    setNumThreads(1);
    manualSeed(0);
    const model = buildModel(c, shape);
    try {
      const result = describeModel(model, c, shape);
      if (o.json) console.log(JSON.stringify(result));
      else printText(result, c);
    } finally {
      model.dispose();
    }
  });
}
