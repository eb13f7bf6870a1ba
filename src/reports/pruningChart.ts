// What pruning to the genotype costs, as pictures: per group (a sparsification strategy of the
// ablation, or a run of a comparison) the meta-test accuracy of the adapted one-shot network and
// of the discrete network of each task's genotype on the same weights, with their 95% intervals;
// and per task, the two accuracies against each other.
import type { TopLevelSpec } from "vega-lite";
import { CHART_FRAME, renderVegaLite } from "./vegaRender.js";

export const PRUNING_TITLE = "Accuracy before and after pruning to the genotype";
export const PRUNING_TASKS_TITLE = "Per meta-test task: one-shot against discrete accuracy";
const ONE_SHOT = "one-shot network (final T)";
const DISCRETE = "discrete network (genotype)";

/** One group's two accuracies (mean and 95% half-width over the same tasks). */
export interface PruningBars {
  label: string;
  oneShot: { mean: number; ci95: number };
  discrete: { mean: number; ci95: number };
}

/** One group's per-task accuracies, in task order. */
export interface PruningTasks {
  label: string;
  oneShot: number[];
  discrete: number[];
}

export function pruningBarsSpec(groups: PruningBars[], groupTitle: string): TopLevelSpec {
  const values = groups.flatMap((g) =>
    (
      [
        [ONE_SHOT, g.oneShot],
        [DISCRETE, g.discrete],
      ] as const
    ).map(([network, { mean, ci95 }]) => {
      const half = Number.isFinite(ci95) ? ci95 : 0;
      return { group: g.label, network, accuracy: mean, lo: mean - half, hi: mean + half };
    }),
  );
  const x = { field: "group", type: "nominal", title: groupTitle, sort: null, axis: { labelAngle: 0 } };
  const color = {
    field: "network",
    type: "nominal",
    title: null,
    sort: [ONE_SHOT, DISCRETE],
    scale: { range: ["#4c78a8", "#e45756"] },
    legend: { orient: "bottom", labelLimit: 400 },
  };
  const xOffset = { field: "network", sort: [ONE_SHOT, DISCRETE] };
  return {
    ...CHART_FRAME,
    title: { text: PRUNING_TITLE, fontSize: 14, anchor: "start" },
    width: Math.max(240, 140 * groups.length),
    height: 240,
    data: { values },
    encoding: { x, xOffset, color },
    layer: [
      {
        mark: { type: "bar", opacity: 0.85 },
        encoding: {
          y: { field: "accuracy", type: "quantitative", title: "meta-test accuracy", axis: { format: "%" } },
        },
      },
      {
        mark: { type: "rule", color: "black" },
        encoding: { y: { field: "lo", type: "quantitative" }, y2: { field: "hi" }, color: { value: "black" } },
      },
    ],
  } as TopLevelSpec;
}

/** Per group, one point per (one-shot, discrete) accuracy pair sized by its number of tasks; the diagonal is "pruning costs nothing". */
export function pruningTasksSpec(groups: PruningTasks[]): TopLevelSpec {
  const values = groups.flatMap((g) =>
    g.oneShot.map((oneShot, i) => ({ group: g.label, oneShot, discrete: g.discrete[i] ?? Number.NaN })),
  );
  const axis = (field: string, title: string) => ({
    field,
    type: "quantitative",
    title,
    scale: { domain: [0, 1] },
    axis: { format: "%" },
  });
  return {
    ...CHART_FRAME,
    title: { text: PRUNING_TASKS_TITLE, fontSize: 14, anchor: "start" },
    data: { values: values.filter((v) => Number.isFinite(v.discrete)) },
    facet: { column: { field: "group", type: "nominal", title: null, sort: groups.map((g) => g.label) } },
    spec: {
      width: 200,
      height: 200,
      layer: [
        {
          mark: { type: "circle", color: "#e45756", opacity: 0.7 },
          encoding: {
            x: axis("oneShot", ONE_SHOT),
            y: axis("discrete", DISCRETE),
            size: { aggregate: "count", type: "quantitative", title: "tasks" },
          },
        },
        {
          mark: { type: "rule", color: "#888888", strokeDash: [4, 4] },
          encoding: { x: { datum: 0 }, y: { datum: 0 }, x2: { datum: 1 }, y2: { datum: 1 } },
        },
      ],
    },
  } as TopLevelSpec;
}

export async function renderPruningBars(groups: PruningBars[], groupTitle: string): Promise<string> {
  return renderVegaLite(pruningBarsSpec(groups, groupTitle));
}

export async function renderPruningTasks(groups: PruningTasks[]): Promise<string> {
  return renderVegaLite(pruningTasksSpec(groups));
}
