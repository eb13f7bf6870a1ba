// The run configuration: one typed, validated object (zod), built from a preset, an optional
// config file and command-line flags, printed at the start and saved as config.json.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { STRATEGIES } from "../sparsification/strategy.js";
import { PRESETS, type PresetName } from "./presets.js";

const int = (min: number) => z.number().int().min(min);
const prob = z.number().min(0).lt(1);
const positive = z.number().positive();

export const RunConfigSchema = z
  .object({
    preset: z.string().optional(),
    /** builtin (no download), omniglot (zips or folders), miniimagenet (Ravi & Larochelle layout). */
    dataset: z.enum(["builtin", "omniglot", "miniimagenet"]),
    dataDir: z.string().optional(),
    /** metanas: architecture search; fixed: a genotype's network; conv4: the MAML/REPTILE baseline. */
    model: z.enum(["metanas", "fixed", "conv4"]),
    /** A genotype (DARTS notation, JSON, or a file holding either) for model "fixed". */
    genotype: z.string().optional(),
    strategy: z.enum(STRATEGIES),
    metaLearner: z.enum(["reptile", "fomaml"]),
    ways: int(2),
    shots: int(1),
    queries: int(1),
    /** Support images per class in meta-training tasks. */
    trainShots: int(1),
    channels: int(2).refine((c) => c % 2 === 0, "must be even (FactorizedReduce halves it)"),
    cells: int(1),
    reductions: z.array(int(0)),
    nodes: int(1),
    conv4Channels: int(1),
    epochs: int(0),
    /** Meta-epochs at the start without architecture adaptation (T stays t_max). */
    warmup: int(0),
    metaBatch: int(1),
    innerSteps: int(1),
    batchSize: int(1),
    lrWeights: positive,
    lrArch: positive,
    weightDecay: z.number().min(0),
    archWeightDecay: z.number().min(0),
    tMax: positive,
    tMin: positive,
    trainThreshold: prob,
    dropPath: prob,
    metaLrWeights: z.number().min(0),
    metaLrArch: z.number().min(0),
    fomamlLrWeights: positive,
    fomamlLrArch: positive,
    /** Meta-model pruning every N meta-epochs (0: never), of op weights below pruneBelow at t_min. */
    pruneEvery: int(0),
    pruneBelow: prob,
    testTasks: int(1),
    testSteps: int(1),
    /** Meta-test steps that adapt the architecture (the first ones). */
    testArchSteps: int(0),
    testBatchSize: int(1),
    testTMin: positive,
    testThreshold: prob,
    /** Validation every N meta-epochs (0: only the final meta-test), on evalTasks tasks. */
    evalEvery: int(0),
    evalTasks: int(1),
    seed: int(0),
    threads: int(1),
    checkpointEvery: int(0),
    device: z.string(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
    if (c.tMin > c.tMax) issue("tMin", `t_min (${c.tMin}) must not exceed t_max (${c.tMax})`);
    if (c.warmup > c.epochs) issue("warmup", `warm-up (${c.warmup}) is longer than the run (${c.epochs} meta-epochs)`);
    if (c.testArchSteps > c.testSteps)
      issue("testArchSteps", `architecture steps (${c.testArchSteps}) exceed meta-test steps (${c.testSteps})`);
    for (const r of c.reductions)
      if (r >= c.cells) issue("reductions", `reduction position ${r} is not a cell (0..${c.cells - 1})`);
    if (c.model === "fixed" && !c.genotype) issue("genotype", "model fixed needs a genotype (--genotype FILE)");
  });

export type RunConfig = z.infer<typeof RunConfigSchema>;

export class ConfigError extends Error {}

/** One line per problem, naming the key and what is wrong. */
function describe(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.join(".") || "config"}: ${i.message}`).join("; ");
}

/** Keys of earlier versions that no longer mean anything: meta-test worker threads gave way to ranks (--nproc). */
const RETIRED_KEYS = ["workers"];

export function validateConfig(raw: unknown, source = "configuration"): RunConfig {
  if (typeof raw === "object" && raw !== null && !Array.isArray(raw))
    raw = Object.fromEntries(Object.entries(raw).filter(([k]) => !RETIRED_KEYS.includes(k)));
  const r = RunConfigSchema.safeParse(raw);
  if (!r.success) throw new ConfigError(`invalid ${source}: ${describe(r.error)}`);
  return r.data;
}

export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new ConfigError(`config file ${file} cannot be read: check the path`);
  }
  try {
    const v = JSON.parse(text);
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error();
    return v as Record<string, unknown>;
  } catch {
    throw new ConfigError(`config file ${file} is not a JSON object: fix its syntax`);
  }
}

/** preset <- config file <- flags; the result is validated as a whole. */
export function buildConfig(
  preset: string,
  fileValues: Record<string, unknown>,
  flags: Record<string, unknown>,
): RunConfig {
  if (!(preset in PRESETS))
    throw new ConfigError(`unknown preset "${preset}": use one of ${Object.keys(PRESETS).join(", ")}`);
  const base = PRESETS[preset as PresetName];
  const merged = {
    ...base,
    ...fileValues,
    ...Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)),
    preset,
  };
  return validateConfig(merged);
}
