// The run configuration: one typed, validated object (zod), built from a preset, an optional
// config file and command-line flags, printed at the start and saved as config.json.
//
// SETTINGS below is the single source of every setting: its validation, its group, its one-line
// description, its command-line flag (--kebab-case of the key) and whether a resumed or re-evaluated
// run may change it. The schema, the CLI flags and their --help, `metanas config` and the presets'
// type are all derived from it, so a new setting is one entry here (give it a .default() and no
// preset needs to change).
import { readFileSync } from "node:fs";
import { z } from "zod";
import { OMNIGLOT_PREPROCESSING, OMNIGLOT_SPLITS } from "../data/omniglot.js";
import { BATCH_SAMPLING } from "../data/sampler.js";
import { IMAGE_COLOURS } from "../data/shapes.js";
import { FEW_SHOT_DATASETS } from "../data/types.js";
import { META_LEARNERS } from "../metalearner/metaLearner.js";
import { OUTER_SCHEDULES } from "../metalearner/schedule.js";
import { CONV4_DOWNSAMPLING } from "../models/conv4.js";
import { MODEL_KINDS } from "../models/model.js";
import { STRATEGIES } from "../sparsification/strategy.js";
import { T_SCHEDULES } from "../sparsification/temperature.js";
import { ARCH_GRADIENTS } from "../tasklearner/archGradient.js";
import { PROTOCOLS } from "../tasklearner/taskLearner.js";

/** The groups of --help and `metanas config`, in their order. */
export const SETTING_GROUPS = {
  task: "Task",
  network: "Network",
  inner: "Inner loop (task learner)",
  meta: "Meta-learning",
  evaluation: "Evaluation",
  run: "Run and resources",
} as const;
export type SettingGroup = keyof typeof SETTING_GROUPS;

/** How a flag's text becomes a value: an integer, a number, a comma list of integers, one of a few names, text. */
export type ValueKind = "int" | "number" | "list" | "choice" | "text";

interface Value<S extends z.ZodType = z.ZodType> {
  schema: S;
  kind: ValueKind;
  choices?: readonly string[];
}

/**
 * What a setting affects:
 *  - structure: the model and the stream of tasks; a checkpoint belongs to these values;
 *  - training: how meta-training learns;
 *  - evaluation: meta-testing and validation only;
 *  - machine: where and how this process runs (may differ between ranks and machines);
 *  - bookkeeping: what a run writes, not what it computes.
 */
export type SettingRole = "structure" | "training" | "evaluation" | "machine" | "bookkeeping";

export interface Setting<S extends z.ZodType = z.ZodType> extends Value<S> {
  group: SettingGroup;
  role: SettingRole;
  /** One line for --help and `metanas config`. */
  description: string;
  /** The value's name in --help (default: n, x, a,b, NAME or TEXT by kind). */
  placeholder?: string;
  /** Older flag spellings that are still accepted (not shown in --help). */
  aliases?: string[];
  /** `--resume` may change it: how long a run goes and how it reports, not what it learns. */
  resume?: boolean;
  /** `metanas eval` may set it when meta-testing a finished run again. */
  eval?: boolean;
}

const int = (min: number) => ({ schema: z.number().int().min(min), kind: "int" as const });
const real = <S extends z.ZodType<number>>(schema: S) => ({ schema, kind: "number" as const });
const positive = () => real(z.number().positive());
const nonNegative = () => real(z.number().min(0));
const probability = () => real(z.number().min(0).lt(1));
const ints = (min: number) => ({ schema: z.array(z.number().int().min(min)), kind: "list" as const });
const text = () => ({ schema: z.string(), kind: "text" as const });
const choice = <const T extends readonly [string, ...string[]]>(values: T) => ({
  schema: z.enum(values),
  kind: "choice" as const,
  choices: values,
});
const optional = <S extends z.ZodType, K extends ValueKind>(v: { schema: S; kind: K }) => ({
  ...v,
  schema: z.optional(v.schema),
});

export const BASELINES = ["none", "conv4"] as const;

export const SETTINGS = {
  // Task
  dataset: {
    ...choice(FEW_SHOT_DATASETS),
    group: "task",
    role: "structure",
    placeholder: "NAME",
    description: "builtin (rendered characters, no download), omniglot, miniimagenet, or folder (your own images)",
  },
  dataDir: {
    ...optional(text()),
    group: "task",
    role: "machine",
    placeholder: "DIR",
    aliases: ["--dir"],
    resume: true,
    eval: true,
    description:
      "dataset folder (omniglot: zips or their folders; miniimagenet: CSVs and images/; folder: train/ test/)",
  },
  imageSize: {
    ...optional(int(8)),
    group: "task",
    role: "structure",
    description: "dataset folder: images are resized to n x n (default 28 for grey, 84 for colour)",
  },
  imageColour: {
    ...choice(IMAGE_COLOURS),
    // A default, so that presets and older run directories need none.
    schema: z.enum(IMAGE_COLOURS).default("auto"),
    group: "task",
    role: "structure",
    placeholder: "NAME",
    description: "dataset folder: grey, colour, or auto (colour when any image has colour)",
  },
  ways: { ...int(2), group: "task", role: "structure", description: "classes per task (n-way)" },
  shots: {
    ...int(1),
    group: "task",
    role: "structure",
    description: "support images per class in meta-test tasks (k-shot)",
  },
  queries: { ...int(1), group: "task", role: "structure", description: "query images per class in every task" },
  trainShots: {
    ...int(1),
    group: "task",
    role: "structure",
    description: "support images per class in meta-training tasks",
  },
  omniglotSplit: {
    ...choice(OMNIGLOT_SPLITS),
    schema: z.enum(OMNIGLOT_SPLITS).default("background"),
    group: "task",
    role: "structure",
    placeholder: "NAME",
    description: "omniglot: background (MetaNAS), vinyals (first 1200 of 1623) or reptile (shuffled 1200 / 423)",
  },
  omniglotPreprocessing: {
    ...choice(OMNIGLOT_PREPROCESSING),
    schema: z.enum(OMNIGLOT_PREPROCESSING).default("maml"),
    group: "task",
    role: "structure",
    placeholder: "NAME",
    description: "omniglot: maml (inverted, lanczos3 resize) or reptile (not inverted, nearest resize)",
  },

  // Network
  model: {
    ...choice(MODEL_KINDS),
    group: "network",
    role: "structure",
    placeholder: "NAME",
    description: "metanas (architecture search), fixed (a genotype's network) or conv4 (the REPTILE baseline)",
  },
  genotype: {
    ...optional(text()),
    group: "network",
    role: "structure",
    placeholder: "FILE",
    description: "model fixed: a run's genotype.json or genotype.txt, or the genotype itself",
  },
  strategy: {
    ...choice(STRATEGIES),
    group: "network",
    role: "structure",
    placeholder: "NAME",
    description: "sparsification: darts, anneal-ops (ops annealed) or metanas (ops and input pairs annealed)",
  },
  channels: {
    ...int(2),
    schema: z
      .number()
      .int()
      .min(2)
      .refine((c) => c % 2 === 0, "must be even (FactorizedReduce halves it)"),
    group: "network",
    role: "structure",
    description: "C: channels per cell node, constant through the network (even)",
  },
  cells: { ...int(1), group: "network", role: "structure", description: "cells of the cell network" },
  reductions: {
    ...ints(0),
    group: "network",
    role: "structure",
    description: "0-based positions of the reduction cells",
  },
  nodes: { ...int(1), group: "network", role: "structure", description: "intermediate nodes per cell" },
  conv4Channels: {
    ...int(1),
    group: "network",
    role: "structure",
    description: "model conv4: channels of each of its four blocks",
  },
  conv4Downsampling: {
    ...choice(CONV4_DOWNSAMPLING),
    schema: z.enum(CONV4_DOWNSAMPLING).default("maxpool"),
    group: "network",
    role: "structure",
    placeholder: "NAME",
    description: "model conv4: maxpool (2x2 max-pooling, MAML) or stride (stride-2 convs, REPTILE's Omniglot)",
  },

  // Inner loop
  innerSteps: { ...int(1), group: "inner", role: "training", description: "adaptation steps per meta-training task" },
  batchSize: {
    ...int(1),
    group: "inner",
    role: "training",
    description: "images per inner-loop batch in meta-training (drawn from the support set)",
  },
  batchSampling: {
    ...choice(BATCH_SAMPLING),
    schema: z.enum(BATCH_SAMPLING).default("replacement"),
    group: "inner",
    role: "training",
    placeholder: "NAME",
    description: "inner batches: replacement (MetaNAS) or shuffled passes over the support set (REPTILE)",
  },
  lrWeights: {
    ...positive(),
    group: "inner",
    role: "training",
    description: "task learner's Adam learning rate for the weights",
  },
  lrArch: {
    ...positive(),
    group: "inner",
    role: "training",
    description: "task learner's Adam learning rate for the architecture (alpha, beta)",
  },
  weightDecay: {
    ...nonNegative(),
    group: "inner",
    role: "training",
    description: "task learner's weight decay of the weights",
  },
  archWeightDecay: {
    ...nonNegative(),
    group: "inner",
    role: "training",
    description: "task learner's weight decay of the architecture parameters",
  },
  tMax: {
    ...positive(),
    group: "inner",
    role: "training",
    description: "temperature at the start of every task's adaptation",
  },
  tMin: {
    ...positive(),
    group: "inner",
    role: "training",
    description: "temperature that meta-training tasks anneal down to (then held)",
  },
  tSchedule: {
    ...choice(T_SCHEDULES),
    // Defaults (here and below), so that presets and older run directories need none.
    schema: z.enum(T_SCHEDULES).default("linear"),
    group: "inner",
    role: "training",
    placeholder: "NAME",
    eval: true,
    description: "shape of T's fall over a task's architecture steps: linear (the paper), geometric or cosine",
  },
  archGradient: {
    ...choice(ARCH_GRADIENTS),
    schema: z.enum(ARCH_GRADIENTS).default("live"),
    group: "inner",
    role: "training",
    placeholder: "NAME",
    description:
      "architecture steps' gradient: live (the paper) or initial (the reference code: of the network as initialised)",
  },
  trainThreshold: {
    ...probability(),
    group: "inner",
    role: "training",
    description: "forward pruning in meta-training: ops and input pairs weighing at most this are skipped",
  },
  dropPath: {
    ...probability(),
    group: "inner",
    role: "training",
    description: "drop-path probability after every non-identity op in meta-training steps",
  },

  // Meta-learning
  metaLearner: {
    ...choice(META_LEARNERS),
    group: "meta",
    role: "structure",
    placeholder: "NAME",
    description: "outer loop: reptile, or fomaml (first-order MAML)",
  },
  epochs: { ...int(0), group: "meta", role: "training", resume: true, description: "meta-epochs of the run" },
  warmup: {
    ...int(0),
    group: "meta",
    role: "training",
    description: "meta-epochs at the start without architecture adaptation (T stays t-max)",
  },
  metaBatch: { ...int(1), group: "meta", role: "training", description: "tasks per meta-epoch" },
  metaLrWeights: {
    ...nonNegative(),
    group: "meta",
    role: "training",
    description: "REPTILE step of the weights toward the tasks' mean (1: all the way)",
  },
  metaLrArch: {
    ...nonNegative(),
    group: "meta",
    role: "training",
    description: "REPTILE step of the architecture toward the tasks' mean",
  },
  metaSchedule: {
    ...choice(OUTER_SCHEDULES),
    schema: z.enum(OUTER_SCHEDULES).default("constant"),
    group: "meta",
    role: "training",
    placeholder: "NAME",
    description: "outer step over the run: constant (MetaNAS), linear to 0 (REPTILE) or cosine to 0",
  },
  tScaleMin: {
    ...real(z.number().gt(0).max(1)),
    schema: z.number().gt(0).max(1).default(1),
    group: "meta",
    role: "training",
    description: "meta-level annealing: every inner temperature is scaled from 1 down to this over the search (1: off)",
  },
  tScaleEpochs: {
    ...int(0),
    schema: z.number().int().min(0).default(0),
    group: "meta",
    role: "training",
    description: "search meta-epochs over which the scale falls to t-scale-min, then held (0: the rest of the search)",
  },
  tScaleStart: {
    ...int(0),
    schema: z.number().int().min(0).default(0),
    group: "meta",
    role: "training",
    description: "search meta-epochs at scale 1 before the scale starts to fall",
  },
  tScaleSchedule: {
    ...choice(T_SCHEDULES),
    schema: z.enum(T_SCHEDULES).default("geometric"),
    group: "meta",
    role: "training",
    placeholder: "NAME",
    description: "shape of the scale's fall across the search meta-epochs: linear, geometric or cosine",
  },
  fomamlLrWeights: {
    ...positive(),
    group: "meta",
    role: "training",
    description: "fomaml: Adam meta learning rate of the weights",
  },
  fomamlLrArch: {
    ...positive(),
    group: "meta",
    role: "training",
    description: "fomaml: Adam meta learning rate of the architecture",
  },
  pruneEvery: {
    ...int(0),
    group: "meta",
    role: "training",
    description: "meta-model pruning every N meta-epochs (0: never)",
  },
  pruneBelow: {
    ...probability(),
    group: "meta",
    role: "training",
    description: "meta-model pruning removes for good the ops weighing less than this at t-min",
  },

  // Evaluation
  testTasks: {
    ...int(1),
    group: "evaluation",
    role: "evaluation",
    aliases: ["--tasks"],
    resume: true,
    eval: true,
    description: "tasks of the final meta-test",
  },
  testSteps: {
    ...int(1),
    group: "evaluation",
    role: "evaluation",
    eval: true,
    description: "adaptation steps per meta-test task",
  },
  testArchSteps: {
    ...int(0),
    group: "evaluation",
    role: "evaluation",
    eval: true,
    description: "meta-test steps that also adapt the architecture (the first ones)",
  },
  testBatchSize: {
    ...int(1),
    group: "evaluation",
    role: "evaluation",
    eval: true,
    description: "images per inner-loop batch in meta-testing",
  },
  testTMin: {
    ...positive(),
    group: "evaluation",
    role: "evaluation",
    eval: true,
    description: "temperature that meta-test tasks anneal down to",
  },
  testTScale: {
    ...optional(real(z.number().gt(0).max(1))),
    group: "evaluation",
    role: "evaluation",
    eval: true,
    description: "scale of the meta-test's temperatures (default: the last scale of the meta-level annealing)",
  },
  testLrArch: {
    ...optional(positive()),
    group: "evaluation",
    role: "evaluation",
    eval: true,
    description: "task learner's Adam learning rate for the architecture in meta-testing (default: --lr-arch)",
  },
  testProtocol: {
    ...choice(PROTOCOLS),
    schema: z.enum(PROTOCOLS).default("transductive"),
    group: "evaluation",
    role: "evaluation",
    placeholder: "NAME",
    eval: true,
    description: "transductive (query set as one batch) or non-transductive (each query with the support set)",
  },
  testThreshold: {
    ...probability(),
    group: "evaluation",
    role: "evaluation",
    eval: true,
    description: "forward pruning threshold in meta-testing (what the per-task sizes count)",
  },
  evalEvery: {
    ...int(0),
    group: "evaluation",
    role: "evaluation",
    resume: true,
    description: "validation every N meta-epochs (0: only the final meta-test)",
  },
  evalTasks: { ...int(1), group: "evaluation", role: "evaluation", resume: true, description: "tasks per validation" },
  baseline: {
    ...choice(BASELINES),
    // A default, so that presets and older run directories (config.json without it) need none.
    schema: z.enum(BASELINES).default("none"),
    group: "evaluation",
    role: "evaluation",
    placeholder: "NAME",
    resume: true,
    description: "none, or conv4: after the run, Conv4 as REPTILE ran it, meta-tested on the same tasks",
  },
  baselineBudget: {
    ...text(),
    schema: z
      .string()
      .regex(/^(cpu|[1-9][0-9]*)$/, "must be cpu (the run's own meta-training CPU time) or a number of meta-iterations")
      .default("cpu"),
    group: "evaluation",
    role: "evaluation",
    placeholder: "cpu|N",
    resume: true,
    description: "--baseline conv4: its meta-iterations, or cpu (as many as the run's CPU seconds buy)",
  },

  // Run and resources
  seed: {
    ...int(0),
    group: "run",
    role: "structure",
    description: "seed of every random choice (tasks, weights, drop-path)",
  },
  threads: {
    ...int(1),
    group: "run",
    role: "machine",
    resume: true,
    eval: true,
    description: "libtorch threads per process",
  },
  checkpointEvery: {
    ...int(0),
    group: "run",
    role: "bookkeeping",
    resume: true,
    description: "checkpoint every N meta-epochs (0: at the end and when stopped only)",
  },
  device: {
    ...text(),
    group: "run",
    role: "machine",
    placeholder: "NAME",
    resume: true,
    eval: true,
    description: "libtorch device: cpu, or cuda with a CUDA build of libtorch",
  },
} as const satisfies Record<string, Setting>;

export type SettingKey = keyof typeof SETTINGS;
export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** The command-line flag of a setting: --kebab-case of its key (--data-dir, --t-min, ...). */
export function flagOf(key: SettingKey): string {
  return `--${kebab(key)}`;
}

export function isSettingKey(key: string): key is SettingKey {
  return Object.hasOwn(SETTINGS, key);
}

/** The keys of the settings that have one of these roles. */
export function keysWithRole(...roles: SettingRole[]): SettingKey[] {
  return SETTING_KEYS.filter((k) => roles.includes((SETTINGS[k] as Setting).role));
}

/** The keys a resumed run (`--resume`) or a re-evaluation (`metanas eval`) may change. */
export function adjustableKeys(when: "resume" | "eval"): SettingKey[] {
  return SETTING_KEYS.filter((k) => (SETTINGS[k] as Setting)[when] === true);
}

type Shape = { [K in SettingKey]: (typeof SETTINGS)[K]["schema"] };
const shape = Object.fromEntries(SETTING_KEYS.map((k) => [k, SETTINGS[k].schema])) as Shape;

export const RunConfigSchema = z
  .object({ preset: z.string().optional(), ...shape })
  .strict()
  .superRefine((c, ctx) => {
    const issue = (path: SettingKey, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
    if (c.tMin > c.tMax) issue("tMin", `t-min (${c.tMin}) must not exceed t-max (${c.tMax})`);
    if (c.warmup > c.epochs) issue("warmup", `warm-up (${c.warmup}) is longer than the run (${c.epochs} meta-epochs)`);
    if (c.testArchSteps > c.testSteps)
      issue("testArchSteps", `architecture steps (${c.testArchSteps}) exceed meta-test steps (${c.testSteps})`);
    for (const r of c.reductions)
      if (r >= c.cells) issue("reductions", `reduction position ${r} is not a cell (0..${c.cells - 1})`);
    if (c.dataset !== "folder" && (c.imageSize !== undefined || c.imageColour !== "auto"))
      issue(c.imageSize !== undefined ? "imageSize" : "imageColour", "applies to --dataset folder only: leave it out");
    if (c.model === "fixed" && !c.genotype) issue("genotype", "model fixed needs a genotype (--genotype FILE)");
    if (c.model === "conv4" && c.baseline !== "none")
      issue(
        "baseline",
        "model conv4 is the baseline itself: leave --baseline out (it goes with a search or a --genotype network)",
      );
  });

export type RunConfig = z.infer<typeof RunConfigSchema>;
/** What a preset gives: every setting that has no default. */
export type PresetValues = Omit<z.input<typeof RunConfigSchema>, "preset">;

export class ConfigError extends Error {}

/** The closest setting key to a misspelt one, when it is close. */
function closestKey(name: string): SettingKey | null {
  const distance = (a: string, b: string) => {
    const d = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      let diag = d[0]!;
      d[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const up = d[j]!;
        d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
        diag = up;
      }
    }
    return d[b.length]!;
  };
  let best: SettingKey | null = null;
  let bestD = 3;
  for (const k of SETTING_KEYS) {
    const dist = distance(name.toLowerCase(), k.toLowerCase());
    if (dist < bestD) [best, bestD] = [k, dist];
  }
  return best;
}

/**
 * One line per problem, naming the key (and its flag, where the values came from the command line
 * or could have) and what is wrong.
 */
function describe(err: z.ZodError, withFlags: boolean): string {
  return err.issues
    .map((i) => {
      if (i.code === "unrecognized_keys") {
        return i.keys
          .map((k) => {
            const near = closestKey(k);
            return `unknown setting "${k}"${near ? ` (did you mean ${near}?)` : ""}`;
          })
          .join("; ");
      }
      const key = String(i.path[0] ?? "");
      const name = isSettingKey(key) ? (withFlags ? `${key} (${flagOf(key)})` : key) : key || "config";
      return `${name}: ${i.message}`;
    })
    .join("; ");
}

/** Keys of earlier versions that no longer mean anything: meta-test worker threads gave way to ranks (--nproc). */
const RETIRED_KEYS = ["workers"];

/**
 * Validates a whole configuration (retired keys dropped). `withFlags` names each setting's flag in
 * the error: true where the values came from a preset, a config file and flags of search/train/config.
 */
export function validateConfig(raw: unknown, source = "configuration", withFlags = false): RunConfig {
  if (typeof raw === "object" && raw !== null && !Array.isArray(raw))
    raw = Object.fromEntries(Object.entries(raw).filter(([k]) => !RETIRED_KEYS.includes(k)));
  const r = RunConfigSchema.safeParse(raw);
  if (!r.success) throw new ConfigError(`invalid ${source}: ${describe(r.error, withFlags)}`);
  return r.data;
}

/** A --config file's settings as a JSON object, or one line saying why it cannot be read. */
export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new ConfigError(`config file ${file} cannot be read: check the --config path`);
  }
  try {
    const v = JSON.parse(text);
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error();
    return v as Record<string, unknown>;
  } catch {
    throw new ConfigError(`config file ${file} is not a JSON object: fix its syntax`);
  }
}
