// Cell diagrams in the DARTS style: inputs c_{k-2}, c_{k-1}, the intermediate nodes, the output
// c_{k}, edges labelled with their operation; laid out by Graphviz (compiled to WebAssembly).
import { Graphviz } from "@hpcc-js/wasm-graphviz";
import type { Genotype } from "../searchspace/genotype.js";
import type { OpName } from "../searchspace/primitives.js";
import { dotString } from "./escape.js";
import { withPixelSize } from "./svg.js";

export type CellKind = "normal" | "reduce";

const INPUT_LABELS = ["c_{k-2}", "c_{k-1}"] as const;
const OUTPUT_LABEL = "c_{k}";

/** One colour per operation (edge and its label), dark enough for text on white. */
export const OP_COLORS: Record<OpName, string> = {
  max_pool_3x3: "#1f5fa8",
  avg_pool_3x3: "#0e8a96",
  skip_connect: "#555555",
  conv_1x5_5x1: "#7b4fae",
  conv_3x3: "#2a8a2a",
  sep_conv_3x3: "#c62828",
  dil_conv_3x3: "#c4620a",
};

let graphviz: Promise<Graphviz> | null = null;
/** The Graphviz WebAssembly instance, loaded once per process. */
function loadGraphviz(): Promise<Graphviz> {
  graphviz ??= Graphviz.load();
  return graphviz;
}

function stateId(index: number): string {
  return index < 2 ? `in${index}` : `n${index - 2}`;
}

/** The DOT source of one cell of a genotype. */
export function cellDot(genotype: Genotype, kind: CellKind): string {
  const cell = kind === "normal" ? genotype.normal : genotype.reduce;
  const concat = kind === "normal" ? genotype.normalConcat : genotype.reduceConcat;
  const title = kind === "normal" ? "normal cell" : "reduction cell";
  const lines: string[] = [
    "digraph cell {",
    "  rankdir=LR;",
    `  label=${dotString(title)}; labelloc=t; fontsize=16; fontname="sans-serif";`,
    '  bgcolor="white"; pad=0.2; nodesep=0.35; ranksep=0.6;',
    '  node [shape=box, style="filled,rounded", fontname="sans-serif", fontsize=14, height=0.45, penwidth=1.5];',
    '  edge [fontname="sans-serif", fontsize=12, penwidth=1.3, arrowsize=0.8];',
  ];
  INPUT_LABELS.forEach((label, i) => {
    lines.push(`  ${stateId(i)} [label=${dotString(label)}, fillcolor="darkseagreen2"];`);
  });
  lines.push("  {rank=same; in0; in1;}");
  cell.forEach((_, j) => {
    lines.push(`  ${stateId(j + 2)} [label=${dotString(String(j))}, fillcolor="lightblue", shape=box];`);
  });
  lines.push(`  out [label=${dotString(OUTPUT_LABEL)}, fillcolor="palegoldenrod"];`);
  cell.forEach((node, j) => {
    for (const [op, input] of node) {
      lines.push(
        `  ${stateId(input)} -> ${stateId(j + 2)} [label=${dotString(op)}, fontcolor="${OP_COLORS[op] ?? "black"}", color="${OP_COLORS[op] ?? "gray20"}"];`,
      );
    }
  });
  for (const state of concat) {
    if (state < 2 || state - 2 >= cell.length) continue;
    lines.push(`  ${stateId(state)} -> out [color="gray50"];`);
  }
  lines.push("}");
  return lines.join("\n");
}

/** The SVG of one cell of a genotype, sized in whole CSS pixels. */
export async function renderCell(genotype: Genotype, kind: CellKind): Promise<string> {
  const gv = await loadGraphviz();
  return withPixelSize(gv.dot(cellDot(genotype, kind)));
}
