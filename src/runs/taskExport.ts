// An adapted task network as a folder that python/metanas_torch.py's load_run reads like a run
// directory: config.json (the run's, with ways = the task's classes), checkpoint.safetensors (the
// adapted weights and architecture; the classifier cut to the task's outputs), genotype.json/.txt
// (the task's pruned cell) and task.json (class names in output order, and the temperature and
// pruning threshold the task's predictions use, which load_run takes as its defaults).
// The folder is written beside its place and renamed into it, so it is whole or absent.
import { existsSync, mkdirSync, readdirSync, renameSync, rmdirSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import type { ResizeFilter } from "../data/imageFile.js";
import type { ImageShape } from "../data/types.js";
import { saveSafetensors, type Tensor, tidy } from "../engine/index.js";
import type { ForwardPhase, MetaModel } from "../models/model.js";
import type { Genotype } from "../searchspace/genotype.js";
import { tempPathFor, writeFileAtomic } from "../util/atomicWrite.js";
import type { RunConfig } from "./config.js";
import { RunDirError, writeGenotype } from "./runDir.js";

export const TASK_FORMAT = "metanas-task-1";

export interface TaskExport {
  run: string;
  classes: string[];
  phase: ForwardPhase;
  genotype: Genotype | null;
  imageShape: ImageShape;
  /** Images are inverted (strokes bright) before they go in, as the run's dataset was. */
  invert: boolean;
  /** How images are resized to imageShape: lanczos3, or nearest (Omniglot with REPTILE's preprocessing). */
  resize: ResizeFilter;
}

/** Refuses a --save folder that already holds files. */
export function assertNewTaskDir(dir: string): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory() || readdirSync(dir).length > 0)
    throw new RunDirError(`${dir} already exists and is not an empty folder: choose another --save`);
}

/** The classifier rows of the task's outputs: the first k of the network's. */
function taskTensor(name: string, t: Tensor, k: number): Tensor {
  const head = name === "classifier.weight" || name === "classifier.bias";
  return head && t.shape[0]! > k ? t.slice(0, 0, k).contiguous() : t;
}

export function saveTaskNetwork(dir: string, c: RunConfig, model: MetaModel, task: TaskExport): void {
  assertNewTaskDir(dir);
  const k = task.classes.length;
  const tmp = tempPathFor(path.resolve(dir));
  mkdirSync(tmp, { recursive: true });
  try {
    tidy(() => {
      const tensors = new Map<string, Tensor>();
      model.weights.forEach((t, i) =>
        tensors.set(`weights/${model.weightNames[i]}`, taskTensor(model.weightNames[i]!, t, k)),
      );
      model.arch.forEach((t, i) => tensors.set(`arch/${model.archNames[i]}`, t));
      saveSafetensors(path.join(tmp, "checkpoint.safetensors"), tensors, { format: TASK_FORMAT, run: task.run });
    });
    const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
    writeFileAtomic(path.join(tmp, "config.json"), json({ ...c, ways: k }));
    if (task.genotype) writeGenotype(tmp, task.genotype);
    writeFileAtomic(
      path.join(tmp, "task.json"),
      json({
        format: TASK_FORMAT,
        run: task.run,
        classes: task.classes,
        temperature: task.phase.temperature,
        threshold: task.phase.threshold,
        imageShape: task.imageShape,
        invert: task.invert,
        resize: task.resize,
      }),
    );
    if (existsSync(dir)) rmdirSync(dir);
    renameSync(tmp, dir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
