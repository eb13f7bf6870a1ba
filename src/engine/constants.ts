// The addon's codes for dtypes and ops. native/src/addon.cc owns them (one table per concept, an
// entry's index is its code) and exports them as `constants`; this module reads them once, when the
// engine loads, and checks that every name TypeScript uses is there, so that an addon older than
// this code fails at load with one line instead of running the wrong op later.
import { native } from "./native.js";

/** The names TypeScript uses, per table of the addon's `constants`. */
export const CONSTANT_NAMES = {
  dtypes: ["float32", "float64", "int64", "bool", "uint8", "int32"],
  unaryOps: ["neg", "exp", "log", "sqrt", "relu", "sigmoid", "tanh", "abs", "square", "logicalNot"],
  binaryOps: ["add", "sub", "mul", "div", "maximum", "minimum", "pow", "eq", "gt", "lt", "ge", "le"],
  /** The binary ops with a number on the right, and rsub (number - tensor). */
  scalarOps: ["add", "sub", "mul", "div", "maximum", "minimum", "pow", "eq", "gt", "lt", "ge", "le", "rsub"],
  /** Loss reductions (libtorch's at::Reduction). */
  reductions: ["none", "mean", "sum"],
} as const;

type Names = typeof CONSTANT_NAMES;
/** For each table, the addon's code of each name. */
export type Codes = { readonly [T in keyof Names]: Readonly<Record<Names[T][number], number>> };

/** The codes of every name in CONSTANT_NAMES; throws one line naming whatever `constants` lacks. */
export function checkConstants(constants: unknown): Codes {
  const missing: string[] = [];
  const codes: Record<string, Readonly<Record<string, number>>> = {};
  for (const [table, names] of Object.entries(CONSTANT_NAMES)) {
    const given = (constants as Record<string, unknown> | undefined)?.[table] as Record<string, unknown> | undefined;
    const found: Record<string, number> = {};
    for (const name of names) {
      const code = typeof given === "object" && given !== null ? given[name] : undefined;
      if (typeof code === "number") found[name] = code;
      else if (typeof given === "object" && given !== null) missing.push(`${table}.${name}`);
    }
    if (typeof given !== "object" || given === null) missing.push(table);
    codes[table] = Object.freeze(found);
  }
  if (missing.length > 0) {
    throw new Error(
      `metanas: the native addon lacks the constants ${missing.join(", ")}: rebuild it from these sources with \`npm run build\``,
    );
  }
  return Object.freeze(codes) as unknown as Codes;
}

export const CODES: Codes = checkConstants(native.constants);
