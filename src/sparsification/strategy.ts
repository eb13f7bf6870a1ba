// The three sparsification strategies of the paper's appendix ablation (Table 3).
//   darts:      T fixed at 1 for the ops, every input edge summed; two strongest inputs kept at pruning.
//   anneal-ops: ops annealed with T, every input edge summed; two strongest inputs kept at pruning.
//   metanas:    ops and input pairs annealed (default): each node sums exactly two inputs as T -> 0.
export const STRATEGIES = ["darts", "anneal-ops", "metanas"] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** Whether the op weights are annealed with T (every strategy but plain DARTS). */
export function annealsOps(strategy: Strategy): boolean {
  return strategy !== "darts";
}

/** Whether each node weighs pairs of inputs (MetaNAS) rather than summing every input edge. */
export function usesInputPairs(strategy: Strategy): boolean {
  return strategy === "metanas";
}

/** Unordered input pairs (a, b), a < b, in lexicographic order: (0,1), (0,2), ..., (1,2), ... */
export function inputPairs(numInputs: number): [number, number][] {
  const out: [number, number][] = [];
  for (let a = 0; a < numInputs; a++) for (let b = a + 1; b < numInputs; b++) out.push([a, b]);
  return out;
}
