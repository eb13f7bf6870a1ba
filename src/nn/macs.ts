// Multiply-accumulate counting: layers report what they compute (for the whole batch) while a
// count is open. Only convolutions and linear layers count; pooling, batch norm and sums do not.
let open: { macs: number } | null = null;

export function countMacs<T>(fn: () => T): { result: T; macs: number } {
  const previous = open;
  open = { macs: 0 };
  try {
    const result = fn();
    return { result, macs: open.macs };
  } finally {
    open = previous;
  }
}

export function addMacs(n: number): void {
  if (open) open.macs += n;
}
