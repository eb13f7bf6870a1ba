// Images outside any dataset, as a task's sets: a labelled support folder (one sub-folder of images
// per class, like a folder dataset's split) and query images (files, or folders of them), decoded
// to a model's input shape however they are stored.
import { stat } from "node:fs/promises";
import path from "node:path";
import { DataError } from "./errors.js";
import { assertClassesHaveImages, type ClassFolder, listClassFolders, listImages } from "./folder.js";
import { type DecodeOptions, decodeImage, IMAGE_EXTENSIONS } from "./imageFile.js";
import { toFloat } from "./pool.js";
import { mapLimit } from "./progress.js";
import type { ImageShape, TaskSet } from "./types.js";

/** The class folders of a support set (every one holding images), by name. */
export async function listSupport(dir: string): Promise<ClassFolder[]> {
  if (!(await stat(dir).catch(() => undefined))?.isDirectory()) {
    throw new DataError(
      `support folder ${dir} does not exist; pass --support with a folder holding one sub-folder of labelled images per class`,
    );
  }
  const classes = await listClassFolders(dir, path.basename(dir));
  if (classes.length === 0) {
    throw new DataError(
      `support folder ${dir} holds no class folders; put each class's labelled images in a sub-folder named after the class`,
    );
  }
  assertClassesHaveImages(classes);
  return classes;
}

/** Every image file the query paths name: files as given, folders' images (below them too) by path. */
export async function listQueryImages(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    const info = await stat(p).catch(() => undefined);
    if (!info)
      throw new DataError(`query image ${p} does not exist; pass image files or folders of images after --query`);
    if (info.isFile()) {
      out.push(p);
      continue;
    }
    const files = (await listImages(p, p)).map((i) => i.abs);
    if (files.length === 0) {
      throw new DataError(
        `query folder ${p} holds no images (${IMAGE_EXTENSIONS.join(" ")}); pass image files or folders of images after --query`,
      );
    }
    out.push(...files);
  }
  return out;
}

/** Images decoded into one task set with the given labels (CHW floats in [0, 1]). */
export async function readImageSet(
  files: readonly string[],
  labels: readonly number[],
  shape: ImageShape,
  o: DecodeOptions & { concurrency?: number } = {},
): Promise<TaskSet> {
  const size = shape[0] * shape[1] * shape[2];
  const images = new Float32Array(files.length * size);
  await mapLimit(files, o.concurrency ?? 16, async (f, i) => {
    images.set(toFloat(await decodeImage(f, shape, f, o)), i * size);
  });
  return { images, labels: Int32Array.from(labels), count: files.length, imageShape: [...shape] };
}

/** The support set: class c's images labelled c, class after class. */
export function supportFiles(classes: readonly ClassFolder[]): { files: string[]; labels: number[] } {
  const files = classes.flatMap((c) => c.images.map((i) => i.abs));
  const labels = classes.flatMap((c, label) => c.images.map(() => label));
  return { files, labels };
}
