// What a dataset folder holds, per split, without decoding any image (zip directories, CSVs).
import { stat } from "node:fs/promises";
import path from "node:path";
import { loadBuiltin } from "./builtin.js";
import { loadCifar10 } from "./cifar10.js";
import { DataError } from "./errors.js";
import { inspectFolder, type TaskShape } from "./folderInspect.js";
import type { LoadDatasetOptions } from "./load.js";
import { checkMiniDir, MINI_SPLITS, readSplitCsv } from "./miniimagenet.js";
import { countOmniglotSet, locateOmniglot, OMNIGLOT_SETS, partitionOmniglot } from "./omniglot.js";
import type { DatasetSummary, SplitSummary } from "./summary.js";
import { type ClassPool, DATASET_NAMES } from "./types.js";

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
const summary = (counts: readonly number[], factor = 1): SplitSummary => ({
  classes: counts.length * factor,
  images: sum(counts) * factor,
});

function poolSummary(pool: ClassPool): SplitSummary {
  let images = 0;
  for (let c = 0; c < pool.numClasses; c++) images += pool.classSize(c);
  return { classes: pool.numClasses, images };
}

export async function inspectDataset(opts: LoadDatasetOptions & { task?: TaskShape }): Promise<DatasetSummary> {
  if (opts.name === "builtin") {
    const ds = loadBuiltin({ seed: opts.seed, drawingsPerClass: opts.drawingsPerClass });
    const { train, val, test } = ds.splits;
    return {
      dataset: "builtin",
      imageShape: ds.imageShape,
      splits: { train: poolSummary(train), ...(val ? { val: poolSummary(val) } : {}), test: poolSummary(test) },
    };
  }
  if (!opts.dir) throw new DataError(`dataset ${opts.name} needs a folder; pass --data-dir DIR`);
  const dir = opts.dir;
  if (opts.name === "folder") return inspectFolder(dir, opts, opts.task);
  if (opts.name === "omniglot") {
    // One set after the other, so that a missing folder always reports the background set first.
    const [bg, ev] = [
      await countOmniglotSet(await locateOmniglot(dir, OMNIGLOT_SETS[0])),
      await countOmniglotSet(await locateOmniglot(dir, OMNIGLOT_SETS[1])),
    ];
    const parts = partitionOmniglot(bg, ev, opts.split, opts.valCharacters);
    const f = opts.rotations === false ? 1 : 4;
    return {
      dataset: "omniglot",
      dir,
      imageShape: [1, 28, 28],
      splits: {
        train: summary(parts.train, f),
        ...(parts.val.length > 0 ? { val: summary(parts.val, f) } : {}),
        test: summary(parts.test, f),
      },
    };
  }
  if (opts.name === "miniimagenet") {
    await checkMiniDir(dir);
    const [train, val, test] = await Promise.all(
      MINI_SPLITS.map(async (split) =>
        summary((await readSplitCsv(path.join(dir, `${split}.csv`))).files.map((f) => f.length)),
      ),
    );
    const imagesFolder = (await stat(path.join(dir, "images")).catch(() => undefined))?.isDirectory() ?? false;
    return { dataset: "miniimagenet", dir, imageShape: [3, 84, 84], splits: { train, val, test }, imagesFolder };
  }
  if (opts.name === "cifar10") {
    // Every batch is read and checked: a truncated or foreign file is reported here, not in a run.
    const ds = await loadCifar10({ dir });
    const { train, test } = ds.splits;
    const splits = { train: poolSummary(train), test: poolSummary(test) };
    return { dataset: "cifar10", dir: ds.folder, imageShape: ds.imageShape, splits, layout: ds.layout };
  }
  throw new DataError(`unknown dataset "${String(opts.name)}"; use one of ${DATASET_NAMES.join(", ")}`);
}

/** The summary as a few lines for people: classes and images per split, and what was skipped or is wrong. */
export function formatSummary(datasetSummary: DatasetSummary): string {
  const where = datasetSummary.dir
    ? ` (${datasetSummary.dir}${datasetSummary.layout ? `, ${datasetSummary.layout} layout` : ""})`
    : "";
  const lines = [`${datasetSummary.dataset}${where}: images ${datasetSummary.imageShape.join("x")} (CxHxW)`];
  for (const [name, v] of Object.entries(datasetSummary.splits)) {
    if (v)
      lines.push(`  ${name.padEnd(5)} ${String(v.classes).padStart(6)} classes ${String(v.images).padStart(8)} images`);
  }
  if (datasetSummary.imagesFolder === false) lines.push("  (no images/ folder: counts are from the split files only)");
  if (datasetSummary.skipped)
    lines.push(`  (${datasetSummary.skipped} file(s) in class folders skipped: not images by their ending)`);
  if (datasetSummary.problems) {
    lines.push(
      datasetSummary.problems.length === 0
        ? "  every split can give tasks of this shape"
        : "  cannot draw tasks of this shape:",
    );
    for (const p of datasetSummary.problems) lines.push(`  - ${p}`);
  }
  return lines.join("\n");
}
