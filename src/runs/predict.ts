// A run's meta-learned model on the user's own task: the run's configuration and latest checkpoint
// (weights, architecture, task-optimiser state), a labelled support folder and query images,
// decoded to the run's input shape as its dataset's images were; the model adapted as meta-testing
// adapts, the query images classified, and the adapted network saved when asked. The training data
// need not be there.
import { existsSync } from "node:fs";
import path from "node:path";
import type { ClassFolder } from "../data/folder.js";
import { listQueryImages, listSupport, readImageSet, supportFiles } from "../data/imageSet.js";
import { folderImageShape, knownImageShape, runDecoding } from "../data/shapes.js";
import type { ImageShape } from "../data/types.js";
import { loadSafetensors, manualSeed, setDefaultDevice, setNumThreads } from "../engine/index.js";
import { adaptAndPredict, type QueryBatch, type TaskPrediction } from "../evaluation/predict.js";
import { Rng } from "../util/rng.js";
import { CHECKPOINT_FILE, CheckpointError, loadCheckpoint } from "./checkpoint.js";
import type { RunConfig } from "./config.js";
import { RunDirError, readRunConfig } from "./runDir.js";
import { openModel, testInner } from "./session.js";
import { adjustedConfig } from "./start.js";
import { assertNewTaskDir, saveTaskNetwork } from "./taskExport.js";

export interface PredictOptions {
  /** The labelled support folder: one sub-folder of images per class. */
  support: string;
  /** Query image files, or folders of them. */
  query: readonly string[];
  /** What a re-evaluation may change (meta-test steps, temperature, threshold, threads, device). */
  overrides?: Partial<RunConfig>;
  /** Seed of the inner loop's batch draws (default the run's). */
  seed?: number;
  batch?: QueryBatch;
  /** Write the adapted task network here. */
  save?: string;
}

export interface PredictResult extends TaskPrediction {
  config: RunConfig;
  classes: string[];
  supportImages: number;
  images: string[];
  /** Per query image, the most probable class (its label). */
  predicted: number[];
  imageShape: ImageShape;
}

/** Input channels of a checkpoint's first convolution (the stem, or Conv4's first block). */
function checkpointChannels(dir: string): number {
  const file = path.join(dir, CHECKPOINT_FILE);
  if (!existsSync(file))
    throw new CheckpointError(`${dir} has no checkpoint (${CHECKPOINT_FILE}): the run stopped before its first one`);
  const { tensors } = loadSafetensors(file);
  try {
    const first = tensors.get("weights/stem.conv.weight") ?? tensors.get("weights/block0.conv.weight");
    if (!first) throw new CheckpointError(`${dir}: its checkpoint has no first convolution; it is not a metanas run`);
    return first.shape[1]!;
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}

/** The run's input shape: its dataset's, or for a folder of detected colour the checkpoint's channels. */
function runImageShape(dir: string, c: RunConfig): ImageShape {
  const known = knownImageShape(c.dataset, c);
  if (known) return known;
  return folderImageShape(checkpointChannels(dir) === 1 ? "grey" : "colour", c.imageSize);
}

/** The support classes, checked against the run's outputs before anything is decoded. */
async function supportClasses(dir: string, c: RunConfig, support: string): Promise<ClassFolder[]> {
  const classes = await listSupport(support);
  if (classes.length > c.ways) {
    throw new RunDirError(
      `the support folder ${support} has ${classes.length} classes but the run ${dir} was meta-trained for ${c.ways}-way tasks and has ${c.ways} outputs: give at most ${c.ways} class folders in --support, or meta-train a run with more ways`,
    );
  }
  if (classes.length < 2) {
    throw new RunDirError(
      `the support folder ${support} has 1 class; classifying needs at least 2: add a class folder to --support`,
    );
  }
  return classes;
}

export async function predictRun(dir: string, o: PredictOptions): Promise<PredictResult> {
  const c = adjustedConfig(readRunConfig(dir), o.overrides ?? {}, "eval");
  if (o.save) assertNewTaskDir(o.save);
  const classes = await supportClasses(dir, c, o.support);
  const queryFiles = await listQueryImages(o.query);
  setNumThreads(c.threads);
  setDefaultDevice(c.device);
  manualSeed(c.seed);
  const shape = runImageShape(dir, c);
  const { model, opt, learner } = openModel(c, shape);
  try {
    loadCheckpoint(dir, c, model, opt, learner);
    const decode = runDecoding(c);
    const supportSet = supportFiles(classes);
    const support = await readImageSet(supportSet.files, supportSet.labels, shape, decode);
    const query = await readImageSet(
      queryFiles,
      queryFiles.map(() => 0),
      shape,
      decode,
    );
    const rng = new Rng(o.seed ?? c.seed);
    // By default the query images are batched as the run's meta-test protocol batches them.
    const batch = o.batch ?? (c.testProtocol === "non-transductive" ? "each" : "all");
    const r = await adaptAndPredict(model, opt, support, classes.length, query, testInner(c), rng, batch);
    const names = classes.map((k) => k.name);
    if (o.save) {
      const genotype = r.genotype;
      saveTaskNetwork(o.save, c, model, {
        run: dir,
        classes: names,
        phase: r.phase,
        genotype,
        imageShape: shape,
        invert: decode.invert,
        resize: decode.resize,
      });
    }
    const predicted = r.probabilities.map((p) => p.indexOf(Math.max(...p)));
    return {
      ...r,
      config: c,
      classes: names,
      supportImages: support.count,
      images: queryFiles,
      predicted,
      imageShape: shape,
    };
  } finally {
    learner.dispose();
    opt.dispose();
    model.dispose();
  }
}
