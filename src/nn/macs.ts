// Multiply-accumulate counting: layers report what they compute while a count is open.
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
