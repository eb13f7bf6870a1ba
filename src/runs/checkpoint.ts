// Checkpoints: meta-weights, architecture, task-optimiser and meta-optimiser states, the epoch and
// the number of ranks, in one safetensors file written atomically and sealed with its SHA-256, so
// that a damaged file is refused whole rather than loaded wrong. No random generator state is
// needed: every meta-training task's streams derive from (seed, meta-epoch, task index).
import { existsSync } from "node:fs";
import path from "node:path";
import {
  CHECKSUM_KEY,
  copyInto,
  loadSafetensors,
  SafetensorsError,
  saveSafetensors,
  type Tensor,
} from "../engine/index.js";
import type { MetaLearner } from "../metalearner/metaLearner.js";
import type { MetaModel } from "../models/model.js";
import type { TaskOptimizers } from "../tasklearner/optimizers.js";
import { keysWithRole, type RunConfig } from "./config.js";
import { RUN_FILES } from "./format.js";

export const CHECKPOINT_FILE = RUN_FILES.checkpoint;
const FORMAT = "metanas-checkpoint-3";
/** Format 2 is format 3 without the checksum (written before it existed): loaded, unverified. */
const UNSEALED_FORMATS = new Set(["metanas-checkpoint-2"]);
/** Format 1 drew the tasks of a meta-epoch from one running stream: resuming it now would not continue the same run. */
const OLD_FORMATS = new Set(["metanas-checkpoint-1"]);

export class CheckpointError extends Error {}

/** The settings a checkpoint belongs to (role structure: the model and the task stream), as [key, value] pairs. */
export function structuralKey(c: RunConfig): string {
  return JSON.stringify(keysWithRole("structure").map((k) => [k, c[k] ?? null]));
}

/**
 * Whether a checkpoint's recorded structure matches the configuration. Only the keys it recorded
 * are compared: a checkpoint of an earlier version recorded fewer, and the settings added since
 * have defaults that keep its behaviour.
 */
function sameStructure(recorded: string | undefined, c: RunConfig): boolean {
  if (recorded === undefined) return false;
  let pairs: [string, unknown][];
  try {
    pairs = JSON.parse(recorded) as [string, unknown][];
  } catch {
    return false;
  }
  return pairs.every(([k, v]) => JSON.stringify((c as Record<string, unknown>)[k] ?? null) === JSON.stringify(v));
}

export interface CheckpointState {
  epoch: number;
  /** How many ranks ran the meta-training so far (the task optimisers' chains follow it). */
  world: number;
}

/** Writes the checkpoint of meta-epoch `epoch` (everything needed to resume) into the run directory, sealed. */
export function saveCheckpoint(
  runDir: string,
  c: RunConfig,
  epoch: number,
  model: MetaModel,
  opt: TaskOptimizers,
  learner: MetaLearner,
  world = 1,
): void {
  const tensors = new Map<string, Tensor>();
  model.weights.forEach((t, i) => tensors.set(`weights/${model.weightNames[i]}`, t));
  model.arch.forEach((t, i) => tensors.set(`arch/${model.archNames[i]}`, t));
  const putAdam = (prefix: string, a: { m: Tensor[]; v: Tensor[] }) => {
    a.m.forEach((t, i) => tensors.set(`${prefix}.m/${i}`, t));
    a.v.forEach((t, i) => tensors.set(`${prefix}.v/${i}`, t));
  };
  putAdam("task-opt.weights", opt.weights);
  if (opt.arch) putAdam("task-opt.arch", opt.arch);
  const learnerState = learner.state();
  for (const [k, t] of Object.entries(learnerState.tensors)) tensors.set(`meta-learner/${k}`, t);
  const [weightSteps, archSteps] = opt.steps;
  saveSafetensors(
    path.join(runDir, CHECKPOINT_FILE),
    tensors,
    {
      format: FORMAT,
      epoch: String(epoch),
      world: String(world),
      structure: structuralKey(c),
      steps: JSON.stringify({ weights: weightSteps, arch: archSteps }),
      learner: JSON.stringify({ name: learner.name, numbers: learnerState.numbers }),
    },
    { checksum: true },
  );
}

/** The checkpoint file's tensors and metadata; a missing or damaged file is refused with a CheckpointError. */
function readCheckpointFile(runDir: string, file: string): ReturnType<typeof loadSafetensors> {
  if (!existsSync(file))
    throw new CheckpointError(
      `${runDir} has no checkpoint (${CHECKPOINT_FILE}): the run stopped before its first one; start a new run`,
    );
  try {
    return loadSafetensors(file);
  } catch (err) {
    if (err instanceof SafetensorsError)
      throw new CheckpointError(
        `checkpoint ${file} is corrupt (${err.reason}), so nothing was loaded from it: restore it from a backup, or start a new run`,
      );
    throw err;
  }
}

/** Refuses a checkpoint that is unsealed where it should be sealed, of an unknown or unresumable format, or of another configuration. */
function checkFormat(file: string, metadata: Record<string, string>, c: RunConfig, runDir: string, resume?: boolean) {
  if (metadata.format === FORMAT && metadata[CHECKSUM_KEY] === undefined)
    throw new CheckpointError(
      `checkpoint ${file} is corrupt (its ${CHECKSUM_KEY} is missing), so nothing was loaded from it: restore it from a backup, or start a new run`,
    );
  const old = OLD_FORMATS.has(metadata.format ?? "");
  if (old && resume)
    throw new CheckpointError(
      `checkpoint ${file} was written by an earlier metanas (${metadata.format}) that drew meta-training tasks differently, so resuming would not continue the same run: start a new run (metanas eval ${runDir} still meta-tests it)`,
    );
  if (metadata.format !== FORMAT && !UNSEALED_FORMATS.has(metadata.format ?? "") && !old)
    throw new CheckpointError(`${file} is not a metanas checkpoint (format ${metadata.format ?? "missing"})`);
  if (!sameStructure(metadata.structure, c)) {
    throw new CheckpointError(
      `checkpoint ${file} belongs to a different configuration (dataset, model, task or seed changed): resume with the run's own config.json`,
    );
  }
}

type Take = (name: string, like: Tensor) => Tensor;

/** Looks up a checkpoint tensor by name, refusing one that is missing or shaped unlike the model's. */
function tensorTaker(file: string, tensors: Map<string, Tensor>): Take {
  return (name, like) => {
    const t = tensors.get(name);
    if (!t) throw new CheckpointError(`checkpoint ${file} lacks ${name}: it does not match this model`);
    if (t.shape.join("x") !== like.shape.join("x"))
      throw new CheckpointError(
        `checkpoint ${file}: ${name} has shape [${t.shape}] but the model needs [${like.shape}]`,
      );
    return t;
  };
}

/** Restores the meta-weights, the architecture and the task optimisers' Adam states and step counts. */
function restoreModelAndOptimisers(
  take: Take,
  metadata: Record<string, string>,
  model: MetaModel,
  opt: TaskOptimizers,
) {
  copyInto(
    model.weights,
    model.weights.map((w, i) => take(`weights/${model.weightNames[i]}`, w)),
  );
  copyInto(
    model.arch,
    model.arch.map((a, i) => take(`arch/${model.archNames[i]}`, a)),
  );
  const steps = JSON.parse(metadata.steps ?? "{}") as { weights?: number; arch?: number };
  const adam = (prefix: string, a: { m: Tensor[]; v: Tensor[] }, step: number) => ({
    step,
    m: a.m.map((t, i) => take(`${prefix}.m/${i}`, t)),
    v: a.v.map((t, i) => take(`${prefix}.v/${i}`, t)),
  });
  opt.weights.loadState(adam("task-opt.weights", opt.weights, steps.weights ?? 0));
  if (opt.arch) opt.arch.loadState(adam("task-opt.arch", opt.arch, steps.arch ?? 0));
}

/** Restores the meta-learner's state, refusing a checkpoint of another meta-learner. */
function restoreLearner(
  file: string,
  tensors: Map<string, Tensor>,
  metadata: Record<string, string>,
  learner: MetaLearner,
) {
  const learnerMeta = JSON.parse(metadata.learner ?? "{}") as { name?: string; numbers?: Record<string, number> };
  if (learnerMeta.name !== learner.name)
    throw new CheckpointError(`checkpoint ${file} was made with meta-learner ${learnerMeta.name}, not ${learner.name}`);
  const learnerTensors = new Map(
    [...tensors].filter(([k]) => k.startsWith("meta-learner/")).map(([k, t]) => [k.slice("meta-learner/".length), t]),
  );
  learner.loadState({ tensors: learnerTensors, numbers: learnerMeta.numbers ?? {} });
}

/** The meta-epoch and world size the checkpoint records, refusing invalid ones. */
function checkpointState(file: string, metadata: Record<string, string>): CheckpointState {
  const epoch = Number(metadata.epoch);
  if (!Number.isInteger(epoch) || epoch < 0) throw new CheckpointError(`checkpoint ${file} has no valid epoch`);
  const world = Number(metadata.world ?? "1");
  if (!Number.isInteger(world) || world < 1) throw new CheckpointError(`checkpoint ${file} has no valid world size`);
  return { epoch, world };
}

/** Restores everything a checkpoint holds into the model, optimisers and meta-learner; returns the epoch and world size. */
export function loadCheckpoint(
  runDir: string,
  c: RunConfig,
  model: MetaModel,
  opt: TaskOptimizers,
  learner: MetaLearner,
  o: { resume?: boolean } = {},
): CheckpointState {
  const file = path.join(runDir, CHECKPOINT_FILE);
  const { tensors, metadata } = readCheckpointFile(runDir, file);
  try {
    checkFormat(file, metadata, c, runDir, o.resume);
    restoreModelAndOptimisers(tensorTaker(file, tensors), metadata, model, opt);
    restoreLearner(file, tensors, metadata, learner);
    return checkpointState(file, metadata);
  } catch (err) {
    if (err instanceof SyntaxError)
      throw new CheckpointError(`checkpoint ${file} has unreadable metadata: it is corrupt`);
    throw err;
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}
