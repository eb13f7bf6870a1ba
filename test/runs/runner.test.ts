import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { loadSafetensors, saveSafetensors } from "../../src/engine/index.js";
import { ConfigError, type RunConfig } from "../../src/runs/config.js";
import type { MetricsRecord, Summary } from "../../src/runs/format.js";
import { buildConfig } from "../../src/runs/presets.js";
import { readMetrics } from "../../src/runs/runDir.js";
import { runEvaluation, runTraining } from "../../src/runs/runner.js";
import { fromDarts } from "../../src/searchspace/genotype.js";
import { TINY_RUN, TINY_RUN_FLAGS } from "../helpers/tinyMeta.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const cli = path.join(root, "dist/src/cli/main.js");
const tmp = mkdtempSync(path.join(os.tmpdir(), "metanas-runs-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

// A run small enough for CI: a tiny one-shot network on the built-in dataset.
const tiny: Partial<RunConfig> = {
  ...TINY_RUN,
  epochs: 4,
  warmup: 2,
  evalEvery: 2,
  evalTasks: 2,
  testTasks: 3,
  testSteps: 3,
  testArchSteps: 2,
  checkpointEvery: 1,
  pruneEvery: 3,
};
const config = (o: Partial<RunConfig> = {}) => buildConfig("quick", {}, { ...tiny, ...o });

function checkpointValues(dir: string): Map<string, number[]> {
  const { tensors } = loadSafetensors(path.join(dir, "checkpoint.safetensors"));
  const out = new Map<string, number[]>();
  for (const [k, t] of tensors) {
    out.set(k, Array.from(t.data()));
    t.dispose();
  }
  return out;
}

describe("runs", () => {
  // The paper's schedules; and the others: geometric and cosine falls, a meta-level scale reached
  // in the middle of the search, and the reference code's architecture gradient.
  const schedules: [string, Partial<RunConfig>][] = [
    ["linear", {}],
    ["geometric, scaled", { tSchedule: "geometric", tScaleMin: 0.05, archGradient: "initial" }],
    [
      "cosine, scaled to the middle",
      { tSchedule: "cosine", tScaleMin: 0.1, tScaleEpochs: 1, tScaleStart: 1, tScaleSchedule: "linear" },
    ],
  ];
  for (const [label, o] of schedules)
    it(`2 + 2 meta-epochs with a stop and resume give the same meta-parameters as 4 uninterrupted (${label})`, async () => {
      const full = path.join(tmp, `full-${label}`);
      const split = path.join(tmp, `split-${label}`);
      await runTraining(full, { config: config(o) }, { skipFinalTest: true });
      const first = await runTraining(split, { config: config(o) }, { stopAfter: 2 });
      assert.equal(first.summary, null);
      assert.equal(readMetrics(split).filter((r) => r.kind === "train").length, 2);
      await runTraining(split, { resume: true }, { skipFinalTest: true });
      const a = checkpointValues(full);
      const b = checkpointValues(split);
      assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
      for (const [k, v] of a) assert.deepEqual(b.get(k), v, `${k} differs after resuming`);
      // The resumed run's metrics continue without duplicates.
      const epochs = readMetrics(split)
        .filter((r) => r.kind === "train")
        .map((r) => r.epoch);
      assert.deepEqual(epochs, [1, 2, 3, 4]);
      const strip = (rs: MetricsRecord[]) =>
        rs.map((r) => ({ ...r, seconds: 0, elapsed: 0, cpuSeconds: 0, phases: {} }));
      assert.deepEqual(strip(readMetrics(split)), strip(readMetrics(full)));
      const last = readMetrics(full)
        .filter((r) => r.kind === "train")
        .pop();
      assert.equal(last?.kind === "train" ? (last.scale ?? 1) : null, o.tScaleMin ?? 1, "the scale the search ends at");
    });

  it("writes config, metrics, genotypes per evaluation, a checkpoint and a summary", async () => {
    const dir = path.join(tmp, "complete");
    const { summary } = await runTraining(dir, { config: config({ epochs: 2, warmup: 1 }) });
    for (const f of [
      "config.json",
      "metrics.jsonl",
      "genotype.json",
      "genotype.txt",
      "checkpoint.safetensors",
      "summary.json",
      "genotypes/epoch-000002.txt",
    ]) {
      assert.ok(existsSync(path.join(dir, f)), `${f} missing`);
    }
    const s = JSON.parse(readFileSync(path.join(dir, "summary.json"), "utf8")) as Summary;
    assert.deepEqual(s, summary);
    assert.equal(s.tasks, 3);
    assert.ok(s.accuracy >= 0 && s.accuracy <= 1 && s.ci95 > 0);
    assert.equal(s.perTaskParams.values.length, 3);
    assert.ok(s.perTaskParams.max <= s.params.total);
    assert.doesNotThrow(() => fromDarts(s.genotype));
    assert.ok(s.topGenotypes.reduce((a, g) => a + g.count, 0) === 3);
    const records = readMetrics(dir);
    const train = records.filter((r) => r.kind === "train");
    assert.equal(train.length, 2);
    assert.equal(train[0]!.kind === "train" && train[0]!.warmup, true);
    assert.equal(train[1]!.kind === "train" && train[1]!.temperature, 0.05);
    assert.ok(records.some((r) => r.kind === "eval" && r.split === "test"));
    // eval again from the checkpoint draws the same test tasks as the run's final meta-test
    const again = await runEvaluation(dir, { overrides: { testTasks: 3 } });
    assert.ok(again && existsSync(path.join(dir, "evaluation.json")));
    assert.equal(again.tasks, 3);
    assert.equal(again.accuracy, s.accuracy);
    assert.deepEqual(again.perTaskParams, s.perTaskParams);
  });

  it("refuses a corrupt or mismatched checkpoint and never touches the run", async () => {
    const dir = path.join(tmp, "corrupt");
    await runTraining(dir, { config: config({ epochs: 1, warmup: 0 }) }, { skipFinalTest: true });
    const file = path.join(dir, "checkpoint.safetensors");
    const before = readFileSync(file);
    await assert.rejects(runTraining(dir, { resume: true, overrides: { ways: 4 } }), /ways cannot change/);
    truncateSync(file, 100);
    const truncated = readFileSync(file);
    await assert.rejects(runTraining(dir, { resume: true }), /checkpoint .* is corrupt/);
    assert.deepEqual(readFileSync(file), truncated, "the failed resume wrote nothing");
    writeFileSync(file, before);
    // Same file, other configuration: structure key differs.
    const cfg = JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8"));
    writeFileSync(path.join(dir, "config.json"), JSON.stringify({ ...cfg, seed: 99 }));
    await assert.rejects(runTraining(dir, { resume: true }), /belongs to a different configuration/);
    // A checkpoint of the earlier format (tasks drawn from one running stream) and a config.json
    // with its meta-test workers: meta-tested again, but not resumed.
    writeFileSync(path.join(dir, "config.json"), JSON.stringify({ ...cfg, workers: 2 }));
    const { tensors, metadata } = loadSafetensors(file);
    saveSafetensors(file, tensors, { ...metadata, format: "metanas-checkpoint-1" });
    for (const t of tensors.values()) t.dispose();
    await assert.rejects(
      runTraining(dir, { resume: true }),
      /written by an earlier metanas \(metanas-checkpoint-1\) that drew meta-training tasks differently, so resuming would not continue the same run: start a new run \(metanas eval .*corrupt still meta-tests it\)/,
    );
    assert.equal((await runEvaluation(dir, { overrides: { testTasks: 2 } }))?.tasks, 2);
  });

  it("refuses to overwrite a run and explains bad settings in one line", async () => {
    const dir = path.join(tmp, "corrupt");
    await assert.rejects(
      runTraining(dir, { config: config() }),
      /already holds files: continue that run with --resume/,
    );
    assert.throws(
      () => config({ tMin: 2 }),
      (e: Error) => e instanceof ConfigError && /tMin \(--t-min\): t-min \(2\) must not exceed t-max/.test(e.message),
    );
    assert.throws(() => config({ channels: 7 }), /channels \(--channels\): must be even/);
    assert.throws(() => buildConfig("quick", { wyas: 5 }, {}), /unknown setting "wyas" \(did you mean ways\?\)/);
    assert.throws(() => buildConfig("nope", {}, {}), /unknown --preset "nope"/);
    await assert.rejects(
      runTraining(path.join(tmp, "ways"), { config: config({ ways: 400 }) }),
      /400-way tasks need 400 classes/,
    );
  });
});

describe("cli", () => {
  const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", cwd: tmp });
  const tinyFlags = [...TINY_RUN_FLAGS, "--epochs", "2", "--test-tasks", "2"];

  it("search --json ends with one JSON line: accuracy, ci95, tasks, genotype", () => {
    const r = run(["search", "--preset", "quick", ...tinyFlags, "--out", "cli-run", "--json"]);
    assert.equal(r.status, 0, r.stderr);
    const last = JSON.parse(r.stdout.trim().split("\n").pop()!);
    assert.ok(last.accuracy >= 0 && last.accuracy <= 1);
    assert.equal(last.tasks, 2);
    assert.ok(typeof last.ci95 === "number");
    assert.doesNotThrow(() => fromDarts(last.genotype));
    assert.ok(existsSync(path.join(tmp, "cli-run", "report.html")), "the report is written at the end");
  });

  it("train runs a genotype's fixed network and the Conv4 baseline", () => {
    const genotype = path.join(tmp, "cli-run", "genotype.txt");
    const fixed = run(["train", "--genotype", genotype, ...tinyFlags, "--out", "cli-fixed", "--json"]);
    assert.equal(fixed.status, 0, fixed.stderr);
    const conv4 = run([
      "train",
      "--model",
      "conv4",
      "--conv4-channels",
      "4",
      ...tinyFlags,
      "--out",
      "cli-conv4",
      "--json",
    ]);
    assert.equal(conv4.status, 0, conv4.stderr);
    assert.equal(JSON.parse(conv4.stdout.trim().split("\n").pop()!).tasks, 2);
  });

  it("SIGTERM writes a checkpoint and stops; --resume continues", async () => {
    const dir = path.join(tmp, "cli-signal");
    const child = spawn(
      process.execPath,
      [cli, "search", "--preset", "quick", ...tinyFlags, "--epochs", "200", "--checkpoint-every", "0", "--out", dir],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const metrics = path.join(dir, "metrics.jsonl");
    for (let i = 0; i < 600 && !(existsSync(metrics) && readFileSync(metrics, "utf8").length > 0); i++)
      await new Promise((r) => setTimeout(r, 100));
    child.kill("SIGTERM");
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    assert.equal(code, 130, stderr);
    assert.match(stderr, /SIGTERM: finishing this meta-epoch \(or the meta-test under way\), writing a checkpoint/);
    const { metadata, tensors } = loadSafetensors(path.join(dir, "checkpoint.safetensors"));
    for (const t of tensors.values()) t.dispose();
    const epoch = Number(metadata.epoch);
    assert.ok(epoch >= 1 && epoch < 200);
    assert.equal(readMetrics(dir).filter((r) => r.kind === "train").length, epoch);
    const resumed = run(["search", "--resume", dir, "--epochs", String(epoch + 1), "--json"]);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.equal(readMetrics(dir).filter((r) => r.kind === "train").length, epoch + 1);
  });

  it("bad input gets one clear error line and exit 1", () => {
    const r = run(["search", "--ways", "abc"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr.trim(), /^metanas: option '--ways <n>' argument 'abc' is invalid\. must be an integer\.$/);
    const missing = run(["train", "--genotype", "no-such-genotype.txt"]);
    assert.match(missing.stderr.trim(), /^metanas: genotype file no-such-genotype.txt does not exist/);
    const t = run(["train"]);
    assert.match(t.stderr, /train needs an architecture: --genotype FILE/);
    const e = run(["eval", "--run", "no-such-run"]);
    assert.match(e.stderr, /run directory no-such-run does not exist/);
  });

  it("inspect --json prints the paper setting's sizes", () => {
    const out = execFileSync(process.execPath, [cli, "inspect", "--json"], { encoding: "utf8" });
    const j = JSON.parse(out);
    assert.equal(j.params, 462272);
    assert.equal(j.arch_params, 146);
    assert.ok(j.macs > 0);
  });
});
