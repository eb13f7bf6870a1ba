// Task sets (plain arrays from the data layer) as tensors.

import type { TaskSet } from "../data/types.js";
import { labels, type Tensor, tensor } from "../engine/index.js";

export function toTensors(set: TaskSet): { x: Tensor; y: Tensor } {
  const [c, h, w] = set.imageShape;
  return { x: tensor(set.images, [set.count, c, h, w]), y: labels(set.labels) };
}
