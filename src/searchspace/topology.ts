// The cell's wiring: node j (0-based) reads the two cell inputs and every earlier node, 2 + j
// inputs; its edges are numbered after those of the earlier nodes.

/** Edge index of (node j, input i). */
export function edgeIndex(node: number, input: number): number {
  return node * 2 + (node * (node - 1)) / 2 + input;
}

/** Edges of a cell with this many intermediate nodes. */
export function numEdges(nodes: number): number {
  return edgeIndex(nodes, 0);
}
