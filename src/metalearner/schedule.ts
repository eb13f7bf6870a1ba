// The outer step's schedule over a run (docs/method.md §4): MetaNAS keeps REPTILE's step constant;
// REPTILE anneals it linearly to 0 over its meta-iterations (frac = i / N, as in its train loop);
// the MetaNAS authors' REPTILE baselines anneal it with a cosine to 0. A factor of the meta-epoch
// and the run's length alone, so it is the same on every rank and after any resume.

export const OUTER_SCHEDULES = ["constant", "linear", "cosine"] as const;
export type OuterSchedule = (typeof OUTER_SCHEDULES)[number];

/** The factor that multiplies the outer step(s) in meta-epoch `epoch` (0-based) of `epochs`. */
export function outerStepFactor(schedule: OuterSchedule, epoch: number, epochs: number): number {
  if (schedule === "constant" || epochs <= 0) return 1;
  const done = Math.min(Math.max(epoch / epochs, 0), 1);
  return schedule === "linear" ? 1 - done : 0.5 * (1 + Math.cos(Math.PI * done));
}
