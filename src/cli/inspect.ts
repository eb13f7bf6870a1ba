// metanas inspect: sizes and cell layout of the search network for a dataset shape.
import type { Command } from "commander";
import { manualSeed, setNumThreads, tidy } from "../engine/index.js";
import { Architecture } from "../searchspace/architecture.js";
import { PAPER_NETWORK, SearchNetwork } from "../searchspace/network.js";
import { searchSizes } from "../searchspace/sizes.js";
import { numEdges } from "../sparsification/cellWeights.js";
import { STRATEGIES, type Strategy } from "../sparsification/strategy.js";
import { intOption, listOption, shapeOption } from "./options.js";

const SHAPES: Record<string, string> = { omniglot: "1x28x28", miniimagenet: "3x84x84", builtin: "1x28x28" };

export function register(program: Command): void {
  program
    .command("inspect")
    .description("build the one-shot search network and print its sizes and cell layout")
    .option("--dataset <name>", "omniglot | miniimagenet | builtin (sets the input shape)", "omniglot")
    .option("--shape <CxHxW>", "input shape, overrides --dataset (e.g. 3x84x84)")
    .option("--ways <n>", "classes per task (classifier outputs)", "20")
    .option("--channels <C>", "channels per node", String(PAPER_NETWORK.channels))
    .option("--cells <n>", "number of cells", String(PAPER_NETWORK.cells))
    .option("--reductions <list>", "0-based positions of reduction cells", PAPER_NETWORK.reductions.join(","))
    .option("--nodes <n>", "intermediate nodes per cell", String(PAPER_NETWORK.nodes))
    .option("--strategy <name>", `sparsification: ${STRATEGIES.join(" | ")}`, "metanas")
    .option("--json", "print one JSON object")
    .action((o) => {
      const shapeText = o.shape ?? SHAPES[o.dataset];
      if (!shapeText)
        throw new Error(`unknown dataset "${o.dataset}": use omniglot, miniimagenet or builtin, or give --shape CxHxW`);
      const shape = shapeOption(shapeText, "--shape");
      if (!STRATEGIES.includes(o.strategy))
        throw new Error(`unknown --strategy "${o.strategy}": use ${STRATEGIES.join(", ")}`);
      const config = {
        inputChannels: shape[0],
        classes: intOption(o.ways, "--ways", 2),
        channels: intOption(o.channels, "--channels", 2),
        cells: intOption(o.cells, "--cells", 1),
        reductions: listOption(o.reductions, "--reductions"),
        nodes: intOption(o.nodes, "--nodes", 1),
        stemMultiplier: PAPER_NETWORK.stemMultiplier,
      };
      setNumThreads(1);
      manualSeed(0);
      const net = new SearchNetwork(config);
      const arch = new Architecture(config.nodes);
      const sizes = tidy(() =>
        searchSizes(
          net,
          arch,
          { temperature: 1, threshold: 0.01, strategy: o.strategy as Strategy, dropPath: 0 },
          shape,
        ),
      );
      let [h, w] = [shape[1], shape[2]];
      const cells = net.cells.map((cell, k) => {
        if (cell.shape.reduction) [h, w] = [Math.ceil(h / 2), Math.ceil(w / 2)];
        return {
          index: k,
          type: cell.shape.reduction ? "reduction" : "normal",
          in: [cell.shape.prevPrevChannels, cell.shape.prevChannels],
          out: config.nodes * config.channels,
          resolution: `${h}x${w}`,
          edges: numEdges(config.nodes),
          params: cell.numParameters(),
        };
      });
      const result = {
        input: shape,
        ways: config.classes,
        channels: config.channels,
        params: sizes.params,
        macs: sizes.macs,
        arch_params: sizes.archParams,
        stem_params: net.stemConv.numParameters() + net.stemBn.numParameters(),
        classifier_params: net.classifier.numParameters(),
        cells,
      };
      net.dispose();
      arch.dispose();
      if (o.json) {
        console.log(JSON.stringify(result));
        return;
      }
      const fmt = (n: number) => n.toLocaleString("en-US");
      console.log(`one-shot network for ${shape.join("x")} inputs, ${config.classes} ways, C = ${config.channels}`);
      console.log(`  weights:                 ${fmt(result.params)}`);
      console.log(
        `  architecture parameters: ${fmt(result.arch_params)} (alpha ${numEdges(config.nodes)}x7 and beta per cell type)`,
      );
      console.log(`  multiply-accumulates:    ${fmt(result.macs)} per image (every op computed)`);
      console.log(
        `  stem 3x3 conv -> ${config.stemMultiplier * config.channels} channels (${fmt(result.stem_params)} weights)`,
      );
      for (const c of cells) {
        console.log(
          `  cell ${c.index} ${c.type.padEnd(9)} in ${c.in.join("/")} -> ${c.out} channels at ${c.resolution}, ${c.edges} mixed edges, ${fmt(c.params)} weights`,
        );
      }
      console.log(
        `  global average pool, linear ${config.nodes * config.channels} -> ${config.classes} (${fmt(result.classifier_params)} weights)`,
      );
    });
}
