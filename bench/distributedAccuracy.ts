// Does spreading meta-training over ranks cost accuracy? The same run (preset, seed, tasks) with
// 1 process and with N local ranks: with N ranks the task optimisers' Adam state is carried along
// N chains of tasks and averaged at every meta-update (docs/distributed.md), where one process
// carries it through all tasks as the reference code does. Prints each run's meta-test accuracy
// with its 95% interval, and the difference per seed, paired over the same test tasks (and
// pooled over seeds); last line JSON.
//   npm run bench:distributed-accuracy -- [--preset quick] [--seeds 1,2,3] [--ranks 2] [--test-tasks 100] [-- more search flags]
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { meanAndCi95 } from "../src/evaluation/statistics.js";
import type { Summary } from "../src/runs/format.js";
import { option } from "./common.js";

const preset = option("preset", "quick");
const seeds = option("seeds", "1,2,3").split(",").map(Number);
const ranks = Number(option("ranks", "2"));
const testTasks = option("test-tasks", "100");
const extra = process.argv.includes("--") ? process.argv.slice(process.argv.indexOf("--") + 1) : [];

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../src/cli/main.js");
const tmp = mkdtempSync(path.join(os.tmpdir(), "metanas-bench-acc-"));
const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

interface Result {
  seed: number;
  ranks: number;
  accuracy: number;
  ci95: number;
  perTask: number[];
  wallSeconds: number;
}
const results: Result[] = [];
try {
  for (const seed of seeds) {
    for (const world of [1, ranks]) {
      const dir = path.join(tmp, `seed-${seed}-ranks-${world}`);
      const args = [cli, "search", "--preset", preset, "--seed", String(seed), "--test-tasks", testTasks, ...extra];
      const t0 = performance.now();
      const run = spawnSync(process.execPath, [...args, "--out", dir, "--nproc", String(world), "--json"], {
        encoding: "utf8",
      });
      if (run.status !== 0) throw new Error(`metanas search --nproc ${world} failed:\n${run.stderr}`);
      const s = JSON.parse(readFileSync(path.join(dir, "summary.json"), "utf8")) as Summary;
      const r = {
        seed,
        ranks: world,
        accuracy: s.accuracy,
        ci95: s.ci95,
        perTask: s.perTaskAccuracy ?? [],
        wallSeconds: (performance.now() - t0) / 1000,
      };
      results.push(r);
      console.log(
        `seed ${seed}, ${world} rank(s): ${pct(r.accuracy)} ± ${pct(r.ci95)} on ${s.tasks} test tasks (${r.wallSeconds.toFixed(0)} s)`,
      );
      rmSync(dir, { recursive: true, force: true });
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

// The same test tasks on both sides: the per-task differences give the tighter interval.
const paired = (d: number[]) => meanAndCi95(d);
const allDiffs: number[] = [];
const differences = seeds.map((seed) => {
  const one = results.find((r) => r.seed === seed && r.ranks === 1)!;
  const many = results.find((r) => r.seed === seed && r.ranks === ranks)!;
  const perTask = many.perTask.map((a, t) => a - one.perTask[t]!);
  allDiffs.push(...perTask);
  const { mean, ci95 } = paired(perTask);
  const withinOne = Math.abs(many.accuracy - one.accuracy) <= one.ci95;
  console.log(
    `seed ${seed}: ${ranks} ranks - 1 process = ${(100 * mean).toFixed(2)} points (paired 95% interval ± ${(100 * ci95).toFixed(2)} over ${perTask.length} tasks); ${withinOne ? "within" : "outside"} the 1-process run's 95% interval`,
  );
  return { seed, difference: mean, pairedCi95: ci95, withinOneProcessCi: withinOne };
});
const pooled = paired(allDiffs);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log(
  `over all seeds: 1 process ${pct(mean(results.filter((r) => r.ranks === 1).map((r) => r.accuracy)))}, ${ranks} ranks ${pct(mean(results.filter((r) => r.ranks === ranks).map((r) => r.accuracy)))}; difference ${(100 * pooled.mean).toFixed(2)} points ± ${(100 * pooled.ci95).toFixed(2)} (paired over ${allDiffs.length} task runs)`,
);
console.log(
  JSON.stringify({
    preset,
    testTasks: Number(testTasks),
    ranks,
    extra,
    results: results.map(({ perTask: _, ...r }) => r),
    differences,
    pooled: { difference: pooled.mean, ci95: pooled.ci95 },
  }),
);
