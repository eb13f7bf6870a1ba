// The settings of a single-task search (metanas table3, docs/single-task.md): one table, as SETTINGS
// in config.ts is for meta-learning, from which the schema, the command's flags and --help derive.
// They are a table of their own because they hardly overlap: an SGD weight optimiser with momentum,
// a cosine schedule and clipping, an Adam architecture optimiser with its own betas, epochs over a
// fixed data split, and seeds and strategies that a Table 3 run sweeps.
import { z } from "zod";
import { STRATEGIES } from "../sparsification/strategy.js";
import { T_SCHEDULES } from "../sparsification/temperature.js";

export const SINGLE_TASK_GROUPS = {
  data: "Data",
  network: "Network",
  search: "Search (DARTS, first order)",
  measure: "Table 3 measurement",
  run: "Run and resources",
} as const;

type Kind = "int" | "number" | "list" | "choice" | "names" | "text";
export interface SingleTaskSetting {
  schema: z.ZodType;
  kind: Kind;
  choices?: readonly string[];
  group: keyof typeof SINGLE_TASK_GROUPS;
  description: string;
  /** The value's name in --help (default by kind). */
  placeholder?: string;
  /** A rerun of the same output folder may change it (how it runs, or which searches it adds). */
  rerun?: boolean;
}

const int = (min: number) => ({ schema: z.number().int().min(min), kind: "int" as const });
const real = (schema: z.ZodType<number>) => ({ schema, kind: "number" as const });
const positive = () => real(z.number().positive());
const nonNegative = () => real(z.number().min(0));
const fraction = () => real(z.number().gt(0).lt(1));
const choice = <const T extends readonly [string, ...string[]]>(values: T) => ({
  schema: z.enum(values),
  kind: "choice" as const,
  choices: values,
});

export const SINGLE_TASK_DATASETS = ["cifar10", "omniglot", "builtin"] as const;

export const SINGLE_TASK_SETTINGS = {
  dataset: {
    ...choice(SINGLE_TASK_DATASETS),
    group: "data",
    description: "cifar10 (its test set held out), or omniglot / builtin (characters as classes)",
  },
  dataDir: {
    schema: z.string().optional(),
    kind: "text",
    placeholder: "DIR",
    group: "data",
    rerun: true,
    description: "dataset folder (cifar10: the batches or their folder; omniglot: the zips)",
  },
  classes: { ...int(0), group: "data", description: "classes, evenly spaced over the training split (0: all)" },
  testPerClass: {
    ...int(0),
    group: "data",
    description: "omniglot, builtin: last images of every class held out for the measurement",
  },
  trainPerClass: { ...int(0), group: "data", description: "training images per class at most (0: all)" },
  testPerClassMax: { ...int(0), group: "data", description: "held-out images per class at most (0: all)" },
  trainPortion: {
    ...fraction(),
    group: "data",
    description: "share of each class's training images that train the weights; the rest train the architecture",
  },
  augment: {
    ...choice(["none", "crop-flip"]),
    group: "data",
    description: "crop-flip: DARTS's CIFAR augmentation (pad 4, random crop, random horizontal flip)",
  },
  channels: {
    schema: z
      .number()
      .int()
      .min(2)
      .refine((c) => c % 2 === 0, "must be even (FactorizedReduce halves it)"),
    kind: "int",
    group: "network",
    description: "C: channels per node in the first cells (even)",
  },
  cells: { ...int(1), group: "network", description: "cells of the one-shot network" },
  reductions: {
    schema: z.array(z.number().int().min(0)),
    kind: "list",
    group: "network",
    description: "0-based positions of the reduction cells",
  },
  nodes: { ...int(1), group: "network", description: "intermediate nodes per cell" },
  widthAtReductions: {
    ...choice(["double", "same"]),
    group: "network",
    description: "double: C doubles at every reduction cell (DARTS); same: constant (MetaNAS's networks)",
  },
  epochs: { ...int(1), group: "search", description: "passes over the weight half" },
  batchSize: { ...int(1), group: "search", description: "images per weight batch and per architecture batch" },
  lrWeights: { ...positive(), group: "search", description: "weights: SGD learning rate at the start" },
  lrWeightsMin: { ...nonNegative(), group: "search", description: "weights: rate at the end of the cosine decay" },
  momentum: { ...nonNegative(), group: "search", description: "weights: SGD momentum" },
  weightDecay: { ...nonNegative(), group: "search", description: "weights: weight decay" },
  gradClip: { ...positive(), group: "search", description: "weights: global gradient norm clipped to" },
  lrArch: { ...positive(), group: "search", description: "architecture: Adam learning rate" },
  archBeta1: { ...real(z.number().min(0).lt(1)), group: "search", description: "architecture: Adam beta1" },
  archBeta2: { ...real(z.number().min(0).lt(1)), group: "search", description: "architecture: Adam beta2" },
  archWeightDecay: { ...nonNegative(), group: "search", description: "architecture: weight decay" },
  tMax: { ...positive(), group: "search", description: "temperature at the start of the search" },
  tMin: { ...positive(), group: "search", description: "temperature at the end of the search (annealed strategies)" },
  anneal: {
    ...choice(["step", "epoch"]),
    group: "search",
    description: "T falls from t-max to t-min once per step, or once per epoch",
  },
  tSchedule: {
    ...choice(T_SCHEDULES),
    // A default, so that the output folders of earlier Table 3 runs (linear) still read.
    schema: z.enum(T_SCHEDULES).default("linear"),
    group: "search",
    placeholder: "NAME",
    description: "shape of T's fall: linear, geometric (the same factor every step) or cosine (docs/method.md §2)",
  },
  trainThreshold: {
    ...real(z.number().min(0).lt(1)),
    group: "search",
    description: "forward pruning in the search: ops and input pairs weighing at most this are skipped",
  },
  strategies: {
    schema: z.array(z.enum(STRATEGIES)).min(1),
    kind: "names",
    choices: STRATEGIES,
    group: "measure",
    rerun: true,
    description: "sparsification strategies to search with, one search each per seed",
  },
  seeds: {
    schema: z.array(z.number().int().min(0)).min(1),
    kind: "list",
    group: "measure",
    rerun: true,
    description: "seeds: every strategy searches once per seed (weights, architecture, batches)",
  },
  evalBatchSize: {
    ...int(2),
    group: "measure",
    description: "held-out images per evaluation batch (batch norm uses each batch's statistics)",
  },
  threads: { ...int(1), group: "run", rerun: true, description: "libtorch threads" },
  device: {
    schema: z.string(),
    kind: "text",
    placeholder: "NAME",
    group: "run",
    rerun: true,
    description: "libtorch device: cpu or cuda",
  },
} as const satisfies Record<string, SingleTaskSetting>;

export type SingleTaskKey = keyof typeof SINGLE_TASK_SETTINGS;
export const SINGLE_TASK_KEYS = Object.keys(SINGLE_TASK_SETTINGS) as SingleTaskKey[];
type Shape = { [K in SingleTaskKey]: (typeof SINGLE_TASK_SETTINGS)[K]["schema"] };
const shape = Object.fromEntries(SINGLE_TASK_KEYS.map((k) => [k, SINGLE_TASK_SETTINGS[k].schema])) as Shape;

export const SingleTaskConfigSchema = z
  .object({ preset: z.string().optional(), ...shape })
  .strict()
  .superRefine((c, ctx) => {
    const issue = (path: SingleTaskKey, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
    if (c.tMin > c.tMax) issue("tMin", `t-min (${c.tMin}) must not exceed t-max (${c.tMax})`);
    for (const r of c.reductions)
      if (r >= c.cells) issue("reductions", `reduction position ${r} is not a cell (0..${c.cells - 1})`);
    if (c.dataset !== "cifar10" && c.testPerClass < 1)
      issue("testPerClass", `${c.dataset} needs held-out images: set --test-per-class to 1 or more`);
    if (new Set(c.strategies).size !== c.strategies.length) issue("strategies", "a strategy is named twice");
    if (new Set(c.seeds).size !== c.seeds.length) issue("seeds", "a seed is named twice");
  });

export type SingleTaskConfig = z.infer<typeof SingleTaskConfigSchema>;
export type SingleTaskPresetValues = Omit<z.input<typeof SingleTaskConfigSchema>, "preset">;

/** --kebab-case of a key. */
export function singleTaskFlag(key: SingleTaskKey): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

export class SingleTaskConfigError extends Error {}

export function validateSingleTaskConfig(raw: unknown, source = "configuration"): SingleTaskConfig {
  const r = SingleTaskConfigSchema.safeParse(raw);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => {
    if (i.code === "unrecognized_keys") return `unknown setting ${i.keys.map((k) => `"${k}"`).join(", ")}`;
    const key = String(i.path[0] ?? "");
    const name = Object.hasOwn(SINGLE_TASK_SETTINGS, key) ? `${key} (${singleTaskFlag(key as SingleTaskKey)})` : key;
    return `${name}: ${i.message}`;
  });
  throw new SingleTaskConfigError(`invalid ${source}: ${problems.join("; ")}`);
}
