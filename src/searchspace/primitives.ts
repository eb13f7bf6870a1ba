// The seven candidate operations, in the index order of docs/method.md §1 (no "zero" op).
export const OP_NAMES = [
  "max_pool_3x3",
  "avg_pool_3x3",
  "skip_connect",
  "conv_1x5_5x1",
  "conv_3x3",
  "sep_conv_3x3",
  "dil_conv_3x3",
] as const;
export type OpName = (typeof OP_NAMES)[number];
export const NUM_OPS = OP_NAMES.length;
