// Mean and 95% confidence interval of per-task accuracies; summaries of per-task sizes.
export function meanAndCi95(values: readonly number[]): { mean: number; ci95: number } {
  const n = values.length;
  if (n === 0) return { mean: Number.NaN, ci95: Number.NaN };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, ci95: Number.NaN };
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
  // Normal approximation, as the few-shot literature reports it (1.96 standard errors).
  return { mean, ci95: (1.96 * Math.sqrt(variance)) / Math.sqrt(n) };
}

/** The paired difference a − b over the same tasks (a[i] against b[i]), as mean and 95% half-width. */
export function pairedDifference(a: readonly number[], b: readonly number[]): { mean: number; ci95: number } {
  return meanAndCi95(a.map((v, i) => v - (b[i] ?? Number.NaN)));
}

export function distribution(values: readonly number[]): { min: number; median: number; max: number; mean: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const median = n === 0 ? Number.NaN : n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  return {
    min: sorted[0] ?? Number.NaN,
    median,
    max: sorted[n - 1] ?? Number.NaN,
    mean: n ? sorted.reduce((a, b) => a + b, 0) / n : Number.NaN,
  };
}

/** The `top` most frequent genotypes with their counts, most frequent first (ties by text). */
export function mostFrequent(items: readonly string[], top: number): { genotype: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const genotype of items) counts.set(genotype, (counts.get(genotype) ?? 0) + 1);
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, top)
    .map(([genotype, count]) => ({ genotype, count }));
}

/** Mean and standard error of the mean (sample standard deviation / sqrt(n)); NaN error for one value. */
export function meanAndSem(values: readonly number[]): { mean: number; sem: number } {
  const n = values.length;
  if (n === 0) return { mean: Number.NaN, sem: Number.NaN };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, sem: Number.NaN };
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
  return { mean, sem: Math.sqrt(variance / n) };
}
