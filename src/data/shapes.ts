// The input shape of each dataset's images, known without reading any of them where the dataset
// fixes it (builtin, Omniglot, MiniImagenet) or the settings do (a folder of grey or colour images).
import type { DecodeOptions } from "./imageFile.js";
import type { OmniglotPreprocessing } from "./omniglot.js";
import type { DatasetName, ImageShape } from "./types.js";

export const IMAGE_COLOURS = ["auto", "grey", "colour"] as const;
export type ImageColour = (typeof IMAGE_COLOURS)[number];

/** The input size when none is set: Omniglot's for grey images, MiniImagenet's for colour. */
export const DEFAULT_IMAGE_SIZE = { grey: 28, colour: 84 } as const;

export interface FolderImageSettings {
  /** Images are resized to imageSize x imageSize (default DEFAULT_IMAGE_SIZE by colour). */
  imageSize?: number;
  /** grey (1 channel), colour (3), or auto: colour when any image has colour (default auto). */
  imageColour?: ImageColour;
}

/** A folder dataset's input shape for images of this colour and the size setting. */
export function folderImageShape(colour: "grey" | "colour", imageSize?: number): ImageShape {
  const size = imageSize ?? DEFAULT_IMAGE_SIZE[colour];
  return [colour === "grey" ? 1 : 3, size, size];
}

/** The dataset's input shape, or null for a folder whose colour is detected from its images. */
export function knownImageShape(name: DatasetName, settings: FolderImageSettings = {}): ImageShape | null {
  switch (name) {
    case "builtin":
    case "omniglot":
      return [1, 28, 28];
    case "miniimagenet":
      return [3, 84, 84];
    case "cifar10":
      return [3, 32, 32];
    case "folder":
      return settings.imageColour === "grey" || settings.imageColour === "colour"
        ? folderImageShape(settings.imageColour, settings.imageSize)
        : null;
  }
}

/** Whether the dataset's images are inverted (strokes bright on dark), which new images must be too. */
export function invertsImages(name: DatasetName): boolean {
  return name === "omniglot" || name === "builtin";
}

/**
 * How new image files must be decoded to look like a run's training images: inverted as its dataset
 * was, and resized as it was (Omniglot with REPTILE's preprocessing: not inverted, nearest neighbour).
 */
export function runDecoding(c: {
  dataset: DatasetName;
  omniglotPreprocessing?: OmniglotPreprocessing;
}): Required<DecodeOptions> {
  if (c.dataset === "omniglot" && c.omniglotPreprocessing === "reptile") return { invert: false, resize: "nearest" };
  return { invert: invertsImages(c.dataset), resize: "lanczos3" };
}
