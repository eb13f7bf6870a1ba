// Walks the command line's error messages: every bad input below fails with one line that says
// what is wrong, and every flag that line names is one the command that printed it shows in its
// --help (not an older spelling). A second check reads every flag named anywhere in src/ and finds
// it on some command.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { buildConfig } from "../../src/runs/presets.js";
import { commandFor, flagsIn, flagsOf, runCli } from "../helpers/cliHarness.js";
import { writeFixtureRun } from "../helpers/reportFixture.js";

const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../src");
const tmp = mkdtempSync(path.join(os.tmpdir(), "metanas-messages-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const at = (name: string) => path.join(tmp, name);
const missing = at("no-such-folder");

/** A run directory holding a valid config.json only (what --resume and eval read first). */
function configOnlyRun(name: string, values: Record<string, unknown> = {}): string {
  const dir = at(name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "config.json"), JSON.stringify({ ...buildConfig("quick", {}, {}), ...values }));
  return dir;
}

// [arguments, what the message must say]
const CASES: [string[], RegExp][] = [];
before(() => {
  const run = configOnlyRun("run");
  const movedData = configOnlyRun("moved-data", { dataset: "omniglot", dataDir: missing });
  const conv4Run = configOnlyRun("conv4-run", { model: "conv4" });
  const report = writeFixtureRun(at("report-run"), { epochs: 10 });
  writeFileSync(at("bad.json"), "{ ways: 5");
  writeFileSync(at("typo.json"), JSON.stringify({ wyas: 5 }));
  mkdirSync(at("taken"));
  writeFileSync(path.join(at("taken"), "x"), "");
  CASES.push(
    [["search", "--dataset", "omniglot"], /dataset omniglot needs a folder; pass --data-dir DIR/],
    [["search", "--dataset", "omniglot", "--data-dir", missing], /does not exist; pass --data-dir .*--data-dir/],
    [["search", "--dataset", "miniimagenet", "--data-dir", missing], /does not exist; pass --data-dir/],
    [["search", "--t-min", "2"], /tMin \(--t-min\): t-min \(2\) must not exceed t-max/],
    [["search", "--warmup", "100"], /warmup \(--warmup\)/],
    [["search", "--test-arch-steps", "100"], /testArchSteps \(--test-arch-steps\)/],
    [["search", "--reductions", "7"], /reductions \(--reductions\): reduction position 7/],
    [["search", "--channels", "7"], /channels \(--channels\): must be even/],
    [["search", "--ways", "x"], /'--ways <n>' argument 'x' is invalid/],
    [["search", "--strategy", "random"], /Allowed choices are darts, anneal-ops, metanas/],
    [["search", "--model", "fixed"], /genotype \(--genotype\): model fixed needs a genotype/],
    [
      ["search", "--baseline", "resnet"],
      /'--baseline <NAME>' argument 'resnet' is invalid. Allowed choices are none, conv4/,
    ],
    [
      ["train", "--model", "conv4", "--baseline", "conv4"],
      /baseline \(--baseline\): model conv4 is the baseline itself/,
    ],
    [["train", "--resume", conv4Run, "--baseline", "conv4"], /baseline \(--baseline\): model conv4 is the baseline/],
    [["ablation", "--baseline", "conv4"], /the ablation compares sparsification strategies; leave --baseline out/],
    [["search", "--preset", "nope"], /unknown --preset "nope"/],
    [["search", "--config", missing], /cannot be read: check the --config path/],
    [["search", "--config", at("bad.json")], /is not a JSON object: fix its syntax/],
    [["search", "--config", at("typo.json")], /unknown setting "wyas" \(did you mean ways\?\)/],
    [["search", "--ways", "400", "--out", at("ways")], /use --ways \d+ or fewer/],
    [["search", "--queries", "40", "--out", at("queries")], /lower --shots or --train-shots .* or --queries/],
    [
      ["search", "--out", at("taken")],
      /already holds files: continue that run with --resume .*, or choose another --out/,
    ],
    [["search", "--resume", missing], /does not exist: check the path/],
    [["search", "--resume", run, "--ways", "4"], /--ways cannot change \(only --data-dir, --epochs/],
    [["search", "--device", "cuda"], /use --device cpu/],
    [["train"], /--genotype FILE .* or --model conv4/],
    [["train", "--model", "metanas"], /use `metanas search`/],
    [["train", "--model", "conv4", "--dataset", "omniglot"], /pass --data-dir DIR/],
    [["train", "--genotype", missing], /genotype file .* does not exist/],
    [["eval"], /eval needs the run directory/],
    [["eval", missing], /does not exist/],
    [["eval", run], /has no checkpoint .*start a new run/],
    [["eval", run, "--test-tasks", "0"], /testTasks \(--test-tasks\)/],
    [["eval", movedData], /does not exist; pass --data-dir/],
    [["config", "--t-min", "5"], /tMin \(--t-min\)/],
    [["config", "--preset", "paper"], /unknown --preset "paper"/],
    [["inspect", "--shape", "1x28"], /--shape must look like CxHxW/],
    [["inspect", "--model", "fixed"], /--genotype/],
    [["inspect", "--channels", "3"], /channels \(--channels\)/],
    [["data", "inspect", "--dataset", "omniglot"], /needs a folder; pass --data-dir DIR/],
    [["data", "inspect", "--dataset", "omniglot", "--data-dir", missing], /pass --data-dir/],
    [["data", "inspect", "--dataset", "omniglot", "--dir", missing], /pass --data-dir/],
    [["data", "download", "miniimagenet"], /only omniglot and cifar10 can be downloaded/],
    [["data", "download", "omniglot", "--data-dir", "/etc/hostname/omniglot", "--quiet"], /pass a writable --data-dir/],
    [["report", missing], /does not exist/],
    [["genotype", report, "--format", "gif"], /unknown --format "gif"/],
    [["genotype", report, "--format", "svg", "--cell", "both"], /unknown --cell "both"/],
    [["genotype", report, "--format", "svg", "--out", at("cell.svg")], /add --cell normal or --cell reduce/],
    [["compare", report], /compare needs at least two run directories/],
    [["compare", report, report, "--labels", "one"], /--labels names 1 run\(s\)/],
    [["compare", report, report, "--labels", "a,a"], /--labels must be different/],
    [["compare", report, movedData, "--out", report], /is a run directory; .*choose another --out/],
    [["compare", report, missing], /does not exist/],
  );
});

describe("error messages name flags that exist on the command that printed them", () => {
  it("every bad input fails with one line, and its flags are the command's", async () => {
    assert.ok(CASES.length > 40);
    const wrong: string[] = [];
    for (const [args, expected] of CASES) {
      const r = await runCli(args);
      const where = `metanas ${args.join(" ")}`;
      const message = r.error ?? "";
      if (r.code !== 1) wrong.push(`${where}: did not fail`);
      if (!expected.test(message)) wrong.push(`${where}: "${message}" does not match ${expected}`);
      if (message.trim().split("\n").length !== 1) wrong.push(`${where}: more than one line`);
      const flags = flagsOf(commandFor(args));
      for (const flag of flagsIn(message)) if (!flags.has(flag)) wrong.push(`${where}: names ${flag}, not its flag`);
    }
    assert.deepEqual(wrong, []);
  });

  it("no bad input left anything in a run directory", () => {
    for (const name of ["ways", "queries"]) assert.throws(() => readdirSync(at(name)), /ENOENT/);
  });

  it("every flag named in src/ exists on some command", () => {
    const all = new Set<string>();
    const walk = (cmd: ReturnType<typeof commandFor>) => {
      for (const f of flagsOf(cmd, { hidden: true })) all.add(f);
      for (const c of cmd.commands) walk(c);
    };
    walk(commandFor([]));
    all.add("--version");
    const unknown: string[] = [];
    const files = readdirSync(src, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));
    for (const file of files) {
      readFileSync(path.join(src, file), "utf8")
        .split("\n")
        .forEach((line, i) => {
          if (/^\s*(\/\/|\*|\/\*\*)/.test(line)) return; // comments
          for (const flag of flagsIn(line)) if (!all.has(flag)) unknown.push(`src/${file}:${i + 1}: ${flag}`);
        });
    }
    assert.deepEqual(unknown, []);
  });
});
