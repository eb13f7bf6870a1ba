// --baseline conv4: after a search, Conv4 meta-trained with REPTILE's hyperparameters for the task
// and meta-tested on the same tasks in RUN_DIR/baseline-conv4, compared in
// RUN_DIR/baseline-comparison/compare.html and in the run's report; its budget in meta-iterations or
// the run's CPU time, recorded; resumable; and run directories from before the setting still load.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { writeReport } from "../../src/reports/index.js";
import { BUDGET_FILE, baselineConfig, runBaseline } from "../../src/runs/baseline.js";
import { type RunConfig, validateConfig } from "../../src/runs/config.js";
import type { Summary } from "../../src/runs/format.js";
import { readRunConfig } from "../../src/runs/runDir.js";
import { runTraining } from "../../src/runs/runner.js";
import { runCli } from "../helpers/cliHarness.js";
import { TINY_RUN_FLAGS } from "../helpers/tinyMeta.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const cli = path.join(root, "dist/src/cli/main.js");
const tmp = mkdtempSync(path.join(os.tmpdir(), "metanas-baseline-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

// A search small enough for CI (seconds): its flags, and its configuration as `metanas config` resolves them.
const tinyFlags = [...TINY_RUN_FLAGS, "--epochs", "2", "--test-tasks", "3", "--baseline-budget", "2"];
async function config(o: Partial<RunConfig> = {}): Promise<RunConfig> {
  const r = await runCli(["config", ...tinyFlags, "--json"]);
  const { preset, config: values } = JSON.parse(r.stdout) as { preset: string; config: RunConfig };
  return validateConfig({ ...values, ...o, preset });
}
const cliRun = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", cwd: tmp });
const readSummary = (dir: string) => JSON.parse(readFileSync(path.join(dir, "summary.json"), "utf8")) as Summary;
/** A summary without its timing, which differs from run to run. */
const timeless = (s: Summary) => ({ ...s, wallSeconds: 0, testCpuSeconds: 0 });
const pct = (s: Summary) => `${(100 * s.accuracy).toFixed(2)}% ± ${(100 * s.ci95).toFixed(2)}%`;

describe("--baseline conv4", () => {
  it("the baseline keeps every setting that decides the data and test tasks, and takes REPTILE's for the rest", async () => {
    const c = await config({ baseline: "conv4", model: "fixed", genotype: "DARTS_V2", evalEvery: 1 });
    const b = baselineConfig(c, 7);
    assert.equal(b.model, "conv4");
    assert.equal(b.baseline, "none");
    assert.equal(b.genotype, undefined);
    assert.equal(b.preset, "reptile-omniglot-5way-1shot");
    // The data depends on (dataset, folder, split, preprocessing, seed); meta-test tasks on (seed,
    // index) with the task shape.
    const decide: (keyof RunConfig)[] = [
      ...["dataset", "dataDir", "omniglotSplit", "omniglotPreprocessing", "seed", "ways", "shots", "queries"],
      ...["testTasks", "evalTasks", "testProtocol", "threads", "device"],
    ] as (keyof RunConfig)[];
    for (const k of decide) assert.deepEqual(b[k], c[k], k);
    // REPTILE's Omniglot 5-way hyperparameters, over the budget's meta-iterations.
    assert.deepEqual(
      [b.conv4Channels, b.conv4Downsampling, b.trainShots, b.metaBatch, b.innerSteps, b.batchSize, b.lrWeights],
      [64, "stride", 10, 5, 5, 10, 1e-3],
    );
    assert.deepEqual(
      [b.metaSchedule, b.batchSampling, b.testSteps, b.testBatchSize, b.warmup],
      ["linear", "shuffled", 50, 5, 0],
    );
    assert.equal(b.epochs, 7);
    assert.equal(b.evalEvery, Math.round((7 * c.evalEvery) / c.epochs), "as many validations as the run");
    assert.equal(baselineConfig({ ...c, ways: 20 }, 7).preset, "reptile-omniglot-20way-1shot");
    assert.equal(baselineConfig({ ...c, shots: 5 }, 7).lrWeights, 1e-3);
  });

  let first: { dir: string; baseline: Summary } | null = null;
  it("search --baseline conv4: Conv4 on the same tasks, the comparison page and the report's section", () => {
    const dir = path.join(tmp, "search");
    const r = cliRun(["search", ...tinyFlags, "--baseline", "conv4", "--out", dir]);
    assert.equal(r.status, 0, r.stderr);
    const b = path.join(dir, "baseline-conv4");
    const run = readSummary(dir);
    const baseline = readSummary(b);
    const [rc, bc] = [readRunConfig(dir), readRunConfig(b)];
    assert.equal(rc.baseline, "conv4");
    assert.equal(bc.model, "conv4");
    assert.equal(bc.baseline, "none");
    assert.equal(bc.seed, rc.seed);
    assert.equal(bc.testTasks, rc.testTasks);
    assert.equal(baseline.tasks, run.tasks);
    assert.equal(baseline.epochs, run.epochs);
    assert.equal(baseline.perTaskAccuracy?.length, 3);
    // Progress: a line before and after the baseline, and its meta-training bar or lines.
    assert.match(
      r.stderr,
      /baseline: meta-training Conv4 as REPTILE's reptile-omniglot-5way-1shot on the same tasks .*seed 1, 2 meta-iterations, as asked, 3 meta-test tasks/,
    );
    assert.match(r.stderr, /baseline: Conv4 reached/);
    // The final lines name Conv4's accuracy on the same tasks.
    assert.match(r.stdout, new RegExp(`Conv4 on the same tasks: ${(100 * baseline.accuracy).toFixed(2)}%`));
    assert.ok(existsSync(path.join(dir, "baseline-comparison", "compare.html")));
    assert.ok(existsSync(path.join(dir, "baseline-comparison", "figures", "accuracy.svg")));
    assert.ok(existsSync(path.join(dir, "figures", "baseline.png")));
    assert.ok(existsSync(path.join(b, "report.html")), "the baseline has its own report");
    const html = readFileSync(path.join(dir, "report.html"), "utf8");
    assert.match(html, /<h2 id="baseline">Against Conv4 \(same tasks\)<\/h2>/);
    const section = html.slice(html.indexOf('<h2 id="baseline">'));
    assert.ok(section.includes(pct(run)), `MetaNAS's ${pct(run)} in the section`);
    assert.ok(section.includes(pct(baseline)), `Conv4's ${pct(baseline)} in the section`);
    assert.ok(section.includes(baseline.params.total.toLocaleString("en-US")));
    assert.ok(section.includes(`${run.perTaskParams.median.toLocaleString("en-US")} per task (median, pruned)`));
    assert.match(section, /href="baseline-comparison\/compare.html"/);
    assert.match(section, /id="baseline-accuracy"><svg/);
    const compare = readFileSync(path.join(dir, "baseline-comparison", "compare.html"), "utf8");
    assert.match(compare, /MetaNAS/);
    assert.match(compare, /Conv4/);
    first = { dir, baseline };
  });

  it("metanas report RUN_DIR writes the section and the comparison page again", async () => {
    assert.ok(first);
    rmSync(path.join(first.dir, "baseline-comparison"), { recursive: true });
    rmSync(path.join(first.dir, "report.html"));
    const r = cliRun(["report", first.dir]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(path.join(first.dir, "baseline-comparison", "compare.html")));
    assert.match(readFileSync(path.join(first.dir, "report.html"), "utf8"), /Against Conv4 \(same tasks\)/);
    // A finished baseline is reused, not run again.
    const checkpoint = path.join(first.dir, "baseline-conv4", "checkpoint.safetensors");
    const before = statSync(checkpoint).mtimeMs;
    const again = await runBaseline(first.dir, readRunConfig(first.dir));
    assert.deepEqual(again?.summary, first.baseline);
    assert.equal(statSync(checkpoint).mtimeMs, before);
  });

  it("--resume continues a stopped baseline, which ends as if never stopped; --resume may also add one", async () => {
    assert.ok(first);
    const dir = path.join(tmp, "stopped");
    // A run without a baseline, whose baseline was started (as --resume --baseline conv4 would) and stopped.
    const c = await config();
    const { summary } = await runTraining(dir, { config: c });
    assert.ok(summary);
    assert.ok(!existsSync(path.join(dir, "baseline-conv4")));
    const stopped = await runBaseline(dir, { ...c, baseline: "conv4" }, { stopAfter: 1 });
    assert.equal(stopped?.summary, null);
    assert.ok(!existsSync(path.join(dir, "baseline-conv4", "summary.json")));
    await writeReport(dir);
    assert.match(
      readFileSync(path.join(dir, "report.html"), "utf8"),
      /The Conv4 baseline in <code>.*baseline-conv4<\/code> has not finished: continue it with <code>metanas train --resume/,
    );
    const r = cliRun(["search", "--resume", dir, "--baseline", "conv4"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /baseline: continuing Conv4/);
    assert.match(r.stderr, /resuming .*baseline-conv4 at meta-epoch 1 of 2/);
    // Same tasks, same seed: the same numbers as the baseline that ran without a stop.
    assert.deepEqual(timeless(readSummary(path.join(dir, "baseline-conv4"))), timeless(first.baseline));
    assert.ok(existsSync(path.join(dir, "baseline-comparison", "compare.html")));
    assert.match(readFileSync(path.join(dir, "report.html"), "utf8"), /<table id="baseline-table">/);
  });

  it("--resume --baseline conv4 on a finished run adds the baseline to the summary it has, without its checkpoint", async () => {
    assert.ok(first);
    const dir = path.join(tmp, "finished-without-baseline");
    const { summary } = await runTraining(dir, { config: await config() });
    assert.ok(summary);
    // Kept elsewhere or deleted (a long run's checkpoint is large): the meta-test cannot run again.
    rmSync(path.join(dir, "checkpoint.safetensors"));
    const before = readFileSync(path.join(dir, "summary.json"), "utf8");
    const r = cliRun(["search", "--resume", dir, "--baseline", "conv4"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(path.join(dir, "summary.json"), "utf8"), before, "the run's summary stands");
    const beforeBaseline = r.stderr.slice(0, r.stderr.indexOf("baseline: meta-training Conv4"));
    assert.doesNotMatch(beforeBaseline, /meta-test/, "the run is not meta-tested again");
    assert.deepEqual(timeless(readSummary(path.join(dir, "baseline-conv4"))), timeless(first.baseline));
    assert.match(r.stdout, /Conv4 on the same tasks/);
    // Anything else to change still resumes from the checkpoint, and says it is missing.
    const more = cliRun(["search", "--resume", dir, "--baseline", "conv4", "--test-tasks", "4"]);
    assert.notEqual(more.status, 0);
    assert.match(more.stderr, /checkpoint/);
  });

  it("--baseline-budget cpu: as many meta-iterations as the run's CPU seconds buy, measured once and recorded", async () => {
    const dir = path.join(tmp, "cpu-budget");
    const c = await config({ baselineBudget: "cpu" });
    await runTraining(dir, { config: c });
    const b = await runBaseline(dir, { ...c, baseline: "conv4" });
    assert.ok(b?.summary);
    const file = path.join(dir, BUDGET_FILE);
    const recorded = JSON.parse(readFileSync(file, "utf8"));
    assert.equal(recorded.budget, "cpu");
    assert.ok(recorded.runCpuSeconds > 0 && recorded.cpuPerIteration > 0);
    assert.equal(recorded.epochs, Math.max(1, Math.floor(recorded.runCpuSeconds / recorded.cpuPerIteration)));
    assert.equal(b.summary.epochs, recorded.epochs);
    // A rerun reads the recorded budget: no second measurement, the same finished baseline.
    const before = statSync(file).mtimeMs;
    const again = await runBaseline(dir, { ...c, baseline: "conv4" });
    assert.equal(statSync(file).mtimeMs, before);
    assert.deepEqual(again?.summary, b.summary);
  });

  it("search --nproc 2 --baseline conv4: rank 0 alone runs the baseline after the search, and every process ends", () => {
    assert.ok(first);
    const dir = path.join(tmp, "ranks");
    const r = spawnSync(
      process.execPath,
      [cli, "search", ...tinyFlags, "--baseline", "conv4", "--out", dir, "--nproc", "2", "--json"],
      {
        encoding: "utf8",
        env: { ...process.env, METANAS_DIST_TIMEOUT: "20", OMP_NUM_THREADS: "1" },
        timeout: 120_000,
        killSignal: "SIGKILL",
      },
    );
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines.length, 1, "only rank 0 prints the result");
    const last = JSON.parse(lines[0]!);
    assert.equal(last.baseline.model, "conv4");
    // The baseline runs in one process, so it is the same as the one after a one-process search.
    assert.deepEqual(timeless(readSummary(path.join(dir, "baseline-conv4"))), timeless(first.baseline));
    assert.equal(last.baseline.accuracy, first.baseline.accuracy);
    assert.ok(existsSync(path.join(dir, "baseline-comparison", "compare.html")));
  });

  it("a stop signal during the search's meta-test lets the meta-test finish and starts no baseline", async () => {
    const dir = path.join(tmp, "stopped-in-test");
    const args = ["search", ...tinyFlags, "--test-tasks", "200", "--baseline", "conv4", "--out", dir];
    const child = spawn(process.execPath, [cli, ...args], { cwd: tmp, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    let stdout = "";
    child.stdout.on("data", (d) => (stdout += d));
    const inTest = new Promise<void>((resolve) =>
      child.stderr.on("data", (d) => {
        stderr += d;
        if (/meta-test \d+\/200/.test(stderr)) resolve();
      }),
    );
    await inTest;
    child.kill("SIGINT");
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    assert.equal(code, 130, stderr);
    assert.equal(readSummary(dir).tasks, 200, "the meta-test under way finished");
    assert.ok(!existsSync(path.join(dir, "baseline-conv4")), "no baseline was started");
    assert.match(
      stderr,
      /asked to stop: the Conv4 baseline was not started; add it later with metanas search --resume/,
    );
    assert.match(stdout, /few-shot accuracy/);
  });

  it("a run directory from before the setting (config.json without baseline) loads and resumes without one", async () => {
    const dir = path.join(tmp, "older");
    await runTraining(dir, { config: await config({ epochs: 1, warmup: 0 }) }, { skipFinalTest: true });
    const file = path.join(dir, "config.json");
    const { baseline: _, ...older } = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify(older));
    assert.equal(readRunConfig(dir).baseline, "none");
    const r = await runTraining(dir, { resume: true, overrides: { epochs: 2 } });
    assert.equal(r.config.baseline, "none");
    assert.equal(r.summary?.epochs, 2);
  });
});
