// The ready-made models shipped in the package's models/ folder: finished runs that `metanas predict
// NAME` adapts to the user's labelled images without a run of their own. READY_MODELS is the one list
// of them. Each folder holds what predict reads (config.json, checkpoint.safetensors), the run's
// summary.json (its meta-test accuracy, which `metanas models` prints) and MODEL.md (how it was made,
// its data and their licence).
import { existsSync } from "node:fs";
import path from "node:path";
import { packageRoot } from "../util/packageRoot.js";
import { RUN_FILES, type Summary } from "./format.js";
import { RunDirError, readRunConfig, readSummary } from "./runDir.js";

export interface ReadyModel {
  /** What `metanas predict NAME` takes; also the folder's name under models/. */
  name: string;
  /** One line: what the model is. */
  description: string;
}

export const READY_MODELS: readonly ReadyModel[] = [
  {
    name: "omniglot-reptile-5w1s",
    description:
      "Conv4 meta-trained by REPTILE on Omniglot with REPTILE's settings (100,000 meta-iterations), for 5-way 1-shot tasks of handwritten characters",
  },
];

/** Where the shipped models' folders are. */
export function modelsDir(): string {
  return path.join(packageRoot(), "models");
}

export function findReadyModel(name: string): ReadyModel | undefined {
  return READY_MODELS.find((m) => m.name === name);
}

/** A shipped model's folder, checked to hold what predict reads. */
export function readyModelDir(name: string): string {
  const model = findReadyModel(name);
  if (!model) throw unknownModel(name);
  const dir = path.join(modelsDir(), model.name);
  for (const file of [RUN_FILES.config, RUN_FILES.checkpoint, RUN_FILES.summary]) {
    if (!existsSync(path.join(dir, file))) {
      throw new RunDirError(
        `the shipped model ${name} is incomplete: ${path.join(dir, file)} is missing; reinstall metanas`,
      );
    }
  }
  return dir;
}

function unknownModel(arg: string): RunDirError {
  const names = READY_MODELS.map((m) => m.name).join(", ");
  return new RunDirError(
    `${arg} is neither a run directory nor a shipped model's name (${names}); pass a run directory written by search or train, or a name that \`metanas models\` lists`,
  );
}

/**
 * What `metanas predict` was given, as a run directory: an existing path, or anything written as a
 * path (with a folder separator), as it is (a run directory wins over a model of the same name;
 * readRunConfig says what is wrong with a bad path), else a shipped model's folder.
 */
export function resolveModel(arg: string): string {
  if (existsSync(arg) || arg.includes("/") || arg.includes(path.sep)) return arg;
  if (findReadyModel(arg)) return readyModelDir(arg);
  throw unknownModel(arg);
}

export interface ReadyModelInfo extends ReadyModel {
  dir: string;
  dataset: string;
  ways: number;
  shots: number;
  /** Meta-test accuracy, its 95% interval's half-width, and over how many test tasks. */
  accuracy: number;
  ci95: number;
  tasks: number;
  protocol: NonNullable<Summary["protocol"]>;
  /** Meta-iterations (meta-epochs) of meta-training. */
  epochs: number;
}

/** Every shipped model with its task shape and meta-test accuracy, from its folder's files. */
export function listReadyModels(): ReadyModelInfo[] {
  return READY_MODELS.map((m) => {
    const dir = readyModelDir(m.name);
    const c = readRunConfig(dir);
    const s = readSummary(dir);
    return {
      ...m,
      dir,
      dataset: c.dataset,
      ways: c.ways,
      shots: c.shots,
      accuracy: s.accuracy,
      ci95: s.ci95,
      tasks: s.tasks,
      protocol: s.protocol ?? "transductive",
      epochs: s.epochs,
    };
  });
}
