// CLI: `metanas report RUN_DIR` and `metanas genotype RUN_DIR --format darts|json|svg|png`.
import { resolve } from "node:path";
import type { Command } from "commander";
import { type CellKind, loadRunGenotype, PNG_SCALE, renderCell, svgToPng, writeReport } from "../reports/index.js";
import { RUN_FILES } from "../reports/records.js";
import { toDarts, toJson } from "../searchspace/genotype.js";
import { writeFileAtomic } from "../util/atomicWrite.js";

const FORMATS = ["darts", "json", "svg", "png"] as const;
type Format = (typeof FORMATS)[number];
const CELLS = ["normal", "reduce"] as const;

function parseFormat(v: string): Format {
  if ((FORMATS as readonly string[]).includes(v)) return v as Format;
  throw new Error(`unknown --format "${v}": use one of ${FORMATS.join(", ")}`);
}

function parseCell(v: string | undefined): CellKind[] {
  if (v === undefined) return [...CELLS];
  if ((CELLS as readonly string[]).includes(v)) return [v as CellKind];
  throw new Error(`unknown --cell "${v}": use normal or reduce`);
}

export interface GenotypeOptions {
  format: string;
  cell?: string;
  out?: string;
}

/** The `genotype` command's work; returns what it prints. */
export async function genotypeCommand(runDir: string, opts: GenotypeOptions): Promise<string> {
  const format = parseFormat(opts.format);
  const cells = parseCell(opts.cell);
  const { genotype } = loadRunGenotype(runDir);
  if (format === "darts" || format === "json") {
    const text = format === "darts" ? toDarts(genotype) : toJson(genotype);
    if (opts.out) {
      writeFileAtomic(opts.out, `${text}\n`, { makeDir: true });
      return resolve(opts.out);
    }
    return text;
  }
  if (opts.out && cells.length > 1) {
    throw new Error(`--out names one file but both cells would be drawn: add --cell normal or --cell reduce`);
  }
  const written: string[] = [];
  for (const kind of cells) {
    const svg = await renderCell(genotype, kind);
    const path = opts.out ?? resolve(runDir, RUN_FILES.figures, `${kind}.${format}`);
    writeFileAtomic(path, format === "svg" ? svg : await svgToPng(svg, PNG_SCALE), { makeDir: true });
    written.push(resolve(path));
  }
  return written.join("\n");
}

export function register(program: Command): void {
  program
    .command("report")
    .description("write RUN_DIR/report.html (self-contained) and RUN_DIR/figures/*.svg|png from what the run holds")
    .argument("<RUN_DIR>", "a run directory written by search, train or eval (it may still be going)")
    .action(async (runDir: string) => {
      const { html } = await writeReport(runDir);
      console.log(resolve(html));
    });
  program
    .command("genotype")
    .description("print a run's genotype (darts, json) or draw its cells (svg, png)")
    .argument("<RUN_DIR>", "a run directory holding genotype.json or genotype.txt")
    .option("--format <format>", `one of ${FORMATS.join(", ")}`, "darts")
    .option("--cell <cell>", "normal or reduce (svg/png; default: both)")
    .option("--out <file>", "write to this file instead of stdout (darts/json) or RUN_DIR/figures (svg/png)")
    .action(async (runDir: string, opts: GenotypeOptions) => {
      console.log(await genotypeCommand(runDir, opts));
    });
}
