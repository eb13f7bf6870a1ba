// The annealing schedules of docs/method.md §2. Inside a task, T falls from tMax to tMin over the
// architecture-adaptation steps, then stays at tMin (also for the query prediction); the shape of
// that fall is linear (the paper's), geometric or cosine. One level up, a meta-level schedule scales
// the whole inner schedule down across the search meta-epochs, so that the architecture sharpens
// over the run and the meta-learned weights have time to follow it.

/** How a quantity falls from its start to its end value over K points. */
export const T_SCHEDULES = ["linear", "geometric", "cosine"] as const;
export type TSchedule = (typeof T_SCHEDULES)[number];

/**
 * The value at point k (0-based) of K, falling from `from` (k = 0) to `to` (k >= K - 1) in the
 * given shape, with u = k / (K - 1):
 *  - linear:    from - u (from - to)
 *  - geometric: from (to / from)^u
 *  - cosine:    to + (from - to)(1 + cos(pi u)) / 2
 */
export function annealed(shape: TSchedule, k: number, K: number, from: number, to: number): number {
  if (K <= 1 || k >= K - 1) return to;
  if (k <= 0) return from;
  const u = k / (K - 1);
  switch (shape) {
    case "linear":
      return from - (k * (from - to)) / (K - 1);
    case "geometric":
      return from * (to / from) ** u;
    case "cosine":
      return to + ((from - to) * (1 + Math.cos(Math.PI * u))) / 2;
  }
}

export interface TemperatureSettings {
  tMax: number;
  tMin: number;
  /** Number of architecture-adaptation steps S. */
  steps: number;
  /** The shape of the fall (default linear). */
  schedule?: TSchedule;
}

export function temperatureAt(step: number, { tMax, tMin, steps, schedule }: TemperatureSettings): number {
  return annealed(schedule ?? "linear", step, steps, tMax, tMin);
}

/** The meta-level schedule: the factor every inner temperature is multiplied by, across the search meta-epochs. */
export interface TemperatureScaleSettings {
  /** The factor reached at the end of the fall (1: no meta-level annealing). */
  min: number;
  /** Search meta-epochs over which the factor falls from 1 to min, then held (0: the rest of the search). */
  epochs: number;
  schedule: TSchedule;
  /** Search meta-epochs at scale 1 before the fall starts (default 0). */
  start?: number;
}

/** The scale of search meta-epoch `k` (0-based, counted from the end of the warm-up) of a search of `searchEpochs`. */
export function temperatureScale(k: number, searchEpochs: number, s: TemperatureScaleSettings): number {
  const start = s.start ?? 0;
  if (s.min === 1 || k < start) return 1;
  const span = s.epochs > 0 ? s.epochs : searchEpochs - start;
  return annealed(s.schedule, k - start, span, 1, s.min);
}
