// How one forward pass of a network runs. The architecture's weights come from softmax(logits / T)
// with forward pruning at the threshold (search networks; fixed networks ignore both), and
// drop-path zeroes whole samples of op outputs (meta-training only). The sparsification strategy
// is not part of it: it belongs to the search, not to the pass.
export interface ForwardPhase {
  temperature: number;
  /** Ops and input pairs whose weight is at or below it are not computed. */
  threshold: number;
  dropPath: number;
}
