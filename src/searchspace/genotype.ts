// The discrete architecture found by a search, in JSON and in the DARTS notation.
import { OP_NAMES, type OpName } from "./primitives.js";

/** One input of a node: the op on the edge and the state it reads (0 = c_{k-2}, 1 = c_{k-1}, 2.. = earlier nodes). */
export type GeneEdge = [op: OpName, input: number];
/** Per intermediate node, its chosen input edges (two in MetaNAS and DARTS). */
export type CellGene = GeneEdge[][];

export interface Genotype {
  normal: CellGene;
  normalConcat: number[];
  reduce: CellGene;
  reduceConcat: number[];
}

export class GenotypeParseError extends Error {}

/** A cell in DARTS notation: a list per node of ("op", input) pairs. */
function formatCell(cell: CellGene): string {
  return `[${cell.map((node) => `[${node.map(([op, i]) => `("${op}", ${i})`).join(", ")}]`).join(", ")}]`;
}

/** A concat list in DARTS notation: range(a, b) when contiguous, else the list. */
function formatConcat(c: number[]): string {
  const contiguous = c.every((v, i) => i === 0 || v === c[i - 1]! + 1);
  return contiguous && c.length > 0 ? `range(${c[0]}, ${c[c.length - 1]! + 1})` : `[${c.join(", ")}]`;
}

/** DARTS notation, e.g. Genotype(normal=[[("sep_conv_3x3", 0), ("skip_connect", 1)], ...], normal_concat=range(2, 5), ...). */
export function toDarts(genotype: Genotype): string {
  return `Genotype(normal=${formatCell(genotype.normal)}, normal_concat=${formatConcat(genotype.normalConcat)}, reduce=${formatCell(genotype.reduce)}, reduce_concat=${formatConcat(genotype.reduceConcat)})`;
}

/** The JSON form (genotype.json). */
export function toJson(genotype: Genotype): string {
  return JSON.stringify(genotype);
}

/** The genotype, if every node has inputs that exist through known ops and the concats are index lists; else a GenotypeParseError naming `source`. */
function validate(genotype: Genotype, source: string): Genotype {
  for (const kind of ["normal", "reduce"] as const) {
    const cell = genotype[kind];
    if (!Array.isArray(cell) || cell.length === 0)
      throw new GenotypeParseError(`${source}: "${kind}" must be a non-empty list of nodes`);
    cell.forEach((node, j) => {
      if (!Array.isArray(node) || node.length === 0)
        throw new GenotypeParseError(`${source}: ${kind} node ${j} has no inputs`);
      for (const edge of node) {
        if (!Array.isArray(edge) || edge.length !== 2)
          throw new GenotypeParseError(`${source}: ${kind} node ${j}: each input must be [op, index]`);
        const [op, i] = edge;
        if (!OP_NAMES.includes(op))
          throw new GenotypeParseError(
            `${source}: ${kind} node ${j}: unknown operation "${op}" (known: ${OP_NAMES.join(", ")})`,
          );
        if (!Number.isInteger(i) || i < 0 || i >= j + 2)
          throw new GenotypeParseError(
            `${source}: ${kind} node ${j}: input ${i} does not exist (node ${j} reads states 0..${j + 1})`,
          );
      }
    });
  }
  for (const kind of ["normalConcat", "reduceConcat"] as const) {
    if (!Array.isArray(genotype[kind]) || !genotype[kind].every((v) => Number.isInteger(v)))
      throw new GenotypeParseError(`${source}: "${kind}" must be a list of state indices`);
  }
  return genotype;
}

/** Parses the JSON form (as written by toJson). */
export function fromJson(text: string, source = "genotype"): Genotype {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new GenotypeParseError(`${source}: not valid JSON`);
  }
  const parsed = raw as Partial<Genotype>;
  const nodes = (parsed.normal ?? []).length;
  return validate(
    {
      normal: parsed.normal as CellGene,
      normalConcat: parsed.normalConcat ?? range(2, 2 + nodes),
      reduce: parsed.reduce as CellGene,
      reduceConcat: parsed.reduceConcat ?? range(2, 2 + (parsed.reduce ?? []).length),
    },
    source,
  );
}

/** The integers a..b-1 (Python's range). */
function range(a: number, b: number): number[] {
  return Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);
}

/** The text of field `name` in DARTS notation: a bracketed list, or a range(a, b). */
function dartsField(t: string, name: string, source: string): string {
  const at = t.search(new RegExp(`\\b${name}\\s*=`));
  if (at < 0) throw new GenotypeParseError(`${source}: field ${name}= is missing`);
  let i = t.indexOf("=", at) + 1;
  while (t[i] === " ") i++;
  if (t.startsWith("range", i)) return t.slice(i, t.indexOf(")", i) + 1);
  let depth = 0;
  const start = i;
  for (; i < t.length; i++) {
    if (t[i] === "[" || t[i] === "(") depth++;
    else if (t[i] === "]" || t[i] === ")") {
      depth--;
      if (depth === 0) return t.slice(start, i + 1);
    }
  }
  throw new GenotypeParseError(`${source}: field ${name}= is not closed`);
}

/** A cell's (op, input) pairs: per node when the list is nested (MetaNAS), else two per node (DARTS). */
function dartsCell(text: string, name: string, source: string): CellGene {
  const pairs = [...text.matchAll(/\(\s*['"]([a-z0-9_]+)['"]\s*,\s*(\d+)\s*\)/g)].map(
    (m) => [m[1], Number(m[2])] as GeneEdge,
  );
  if (pairs.length === 0) throw new GenotypeParseError(`${source}: ${name} holds no (op, input) pairs`);
  const nested = /^\[\s*\[/.test(text);
  if (nested) {
    // Split at the inner lists.
    const nodes: CellGene = [];
    for (const m of text.slice(1, -1).matchAll(/\[([^[\]]*)\]/g)) {
      nodes.push(
        [...m[1]!.matchAll(/\(\s*['"]([a-z0-9_]+)['"]\s*,\s*(\d+)\s*\)/g)].map((p) => [p[1], Number(p[2])] as GeneEdge),
      );
    }
    return nodes;
  }
  if (pairs.length % 2 !== 0)
    throw new GenotypeParseError(`${source}: ${name} in the flat form needs two inputs per node`);
  return Array.from({ length: pairs.length / 2 }, (_, j) => [pairs[2 * j]!, pairs[2 * j + 1]!]);
}

/** A concat field: range(a, b), or a list of state indices. */
function dartsConcat(text: string): number[] {
  const r = /^range\(\s*(\d+)\s*,\s*(\d+)\s*\)$/.exec(text);
  if (r) return range(Number(r[1]), Number(r[2]));
  return [...text.matchAll(/\d+/g)].map((m) => Number(m[0]));
}

/**
 * Parses the DARTS notation: nested per-node lists (MetaNAS) or the original flat list of
 * (op, input) pairs, two per node; single or double quotes; range(a, b) or a list for concat.
 */
export function fromDarts(text: string, source = "genotype"): Genotype {
  const t = text.trim();
  if (!/^Genotype\s*\(/.test(t)) throw new GenotypeParseError(`${source}: expected text starting with Genotype(`);
  return validate(
    {
      normal: dartsCell(dartsField(t, "normal", source), "normal", source),
      normalConcat: dartsConcat(dartsField(t, "normal_concat", source)),
      reduce: dartsCell(dartsField(t, "reduce", source), "reduce", source),
      reduceConcat: dartsConcat(dartsField(t, "reduce_concat", source)),
    },
    source,
  );
}

/** Either form, recognised by its first character. */
export function parseGenotype(text: string, source = "genotype"): Genotype {
  return text.trim().startsWith("{") ? fromJson(text, source) : fromDarts(text, source);
}
