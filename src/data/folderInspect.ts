// What a folder dataset holds, per split, without decoding it, and what in it stops tasks of a
// given shape from being drawn: splits with fewer classes than the ways, classes with fewer images
// than the shots and queries.
import { type ClassFolder, listFolderDataset, resolveColour } from "./folder.js";
import { type FolderImageSettings, folderImageShape } from "./shapes.js";
import type { DatasetSummary, SplitSummary } from "./summary.js";

/** The task shape a dataset is checked against (a run's settings). */
export interface TaskShape {
  ways: number;
  shots: number;
  trainShots: number;
  queries: number;
}

/** Classes listed by name in one problem line; more are counted. */
const LISTED = 8;

function splitSummary(classes: readonly ClassFolder[]): SplitSummary {
  return { classes: classes.length, images: classes.reduce((a, c) => a + c.images.length, 0) };
}

/** One line per split that cannot give tasks of this shape. */
export function folderProblems(splits: Record<string, readonly ClassFolder[] | undefined>, task: TaskShape): string[] {
  const out: string[] = [];
  for (const [split, classes] of Object.entries(splits)) {
    if (!classes) continue;
    const shots = split === "train" ? task.trainShots : task.shots;
    const need = shots + task.queries;
    const shotsFlag = split === "train" ? "--train-shots" : "--shots";
    if (classes.length < task.ways) {
      out.push(
        `${split}/ has ${classes.length} classes but ${task.ways}-way tasks need ${task.ways}: add class folders or lower --ways`,
      );
    }
    const small = classes.filter((c) => c.images.length < need);
    if (small.length > 0) {
      const names = small.slice(0, LISTED).map((c) => `${c.name} (${c.images.length})`);
      const more = small.length > LISTED ? ` and ${small.length - LISTED} more` : "";
      out.push(
        `${split}/: ${small.length} class(es) have fewer than the ${need} images a task takes (${shotsFlag} ${shots} + --queries ${task.queries}): ${names.join(", ")}${more}`,
      );
    }
  }
  return out;
}

export async function inspectFolder(
  dir: string,
  settings: FolderImageSettings,
  task?: TaskShape,
): Promise<DatasetSummary> {
  const listing = await listFolderDataset(dir);
  const { train, val, test } = listing.splits;
  const files = [...train, ...(val ?? []), ...test].flatMap((c) => c.images.map((i) => i.abs));
  const colour = await resolveColour(files, settings.imageColour ?? "auto", { quiet: true });
  return {
    dataset: "folder",
    dir,
    imageShape: folderImageShape(colour, settings.imageSize),
    splits: {
      train: splitSummary(train),
      ...(val ? { val: splitSummary(val) } : {}),
      test: splitSummary(test),
    },
    skipped: listing.skipped.length,
    ...(task ? { problems: folderProblems({ train, val, test }, task) } : {}),
  };
}
