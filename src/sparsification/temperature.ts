// The annealing schedule of docs/method.md §2: T falls linearly from tMax to tMin over the
// architecture-adaptation steps of a task, then stays at tMin (also for the query prediction).
export interface TemperatureSettings {
  tMax: number;
  tMin: number;
  /** Number of architecture-adaptation steps S. */
  steps: number;
}

export function temperatureAt(step: number, { tMax, tMin, steps }: TemperatureSettings): number {
  if (steps <= 1 || step >= steps - 1) return tMin;
  if (step <= 0) return tMax;
  return tMax - (step * (tMax - tMin)) / (steps - 1);
}
