// Every setting of the configuration schema is discoverable: search and train --help list each one
// under its group with its description and its value in the chosen preset, and `metanas config`
// prints the resolved configuration; all of it derived from the schema.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { PRESETS } from "../../src/index.js";
import {
  adjustableKeys,
  flagOf,
  RunConfigSchema,
  SETTING_GROUPS,
  SETTING_KEYS,
  SETTINGS,
} from "../../src/runs/config.js";
import { buildConfig } from "../../src/runs/presets.js";
import { runCli } from "../helpers/cliHarness.js";

const tmp = mkdtempSync(path.join(os.tmpdir(), "metanas-settings-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Help text split into its headed sections, each option's wrapped lines joined into one. */
function sections(help: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string[] = [];
  for (const line of help.split("\n")) {
    if (/^\S.*:$/.test(line)) {
      current = [];
      out.set(line.slice(0, -1), current);
    } else if (/^ {2}-/.test(line)) current.push(line.trim());
    else if (/^ {3,}\S/.test(line) && current.length > 0) current[current.length - 1] += ` ${line.trim()}`;
  }
  return out;
}

const schemaKeys = Object.keys(RunConfigSchema.shape).filter((k) => k !== "preset");

describe("settings on the command line", () => {
  it("the schema is the settings table: one entry per configuration key", () => {
    assert.deepEqual([...SETTING_KEYS].sort(), [...schemaKeys].sort());
    for (const key of SETTING_KEYS) {
      const d = SETTINGS[key].description;
      assert.ok(d.length > 10 && !d.includes("\n") && d.length < 110, `${key}: one line of description`);
    }
  });

  for (const command of ["search", "train"]) {
    it(`${command} --help lists every setting in its group with its preset's value`, async () => {
      const r = await runCli([command, "--help"]);
      assert.equal(r.code, 0);
      const help = sections(r.stdout);
      const config = buildConfig("quick", {}, { model: command === "train" ? "conv4" : "metanas" });
      for (const key of SETTING_KEYS) {
        const heading = SETTING_GROUPS[SETTINGS[key].group];
        const line = help.get(heading)?.find((l) => l.startsWith(`${flagOf(key)} `));
        assert.ok(line, `${flagOf(key)} under "${heading}"`);
        assert.ok(line.includes(SETTINGS[key].description), `${flagOf(key)}: description`);
        if (key === "model") continue;
        const v = config[key];
        const shown = v === undefined ? "unset" : Array.isArray(v) ? v.join(",") : String(v);
        assert.ok(line.endsWith(`[quick: ${shown}]`), `${line} shows the quick value ${shown}`);
      }
      assert.deepEqual(
        [...help.keys()].filter((h) => h !== "Usage" && h !== "Options"),
        Object.values(SETTING_GROUPS),
      );
    });
  }

  it("--help shows the values of the preset named before or after it", async () => {
    for (const args of [
      ["search", "--preset", "omniglot-20way-1shot", "--help"],
      ["search", "--help", "--preset=omniglot-20way-1shot"],
    ]) {
      const r = await runCli(args);
      const meta = sections(r.stdout).get("Meta-learning")!;
      assert.ok(meta.find((l) => l.startsWith("--epochs "))!.endsWith("[omniglot-20way-1shot: 30000]"), args.join(" "));
      assert.ok(
        sections(r.stdout)
          .get("Task")!
          .find((l) => l.startsWith("--ways "))!
          .endsWith("[omniglot-20way-1shot: 20]"),
      );
    }
  });

  it("--resume and eval name exactly the settings the schema lets them change", async () => {
    const search = (await runCli(["search", "--help"])).stdout.replace(/\s+/g, " ");
    assert.ok(search.includes(`(may change: ${adjustableKeys("resume").map(flagOf).join(" ")})`));
    const evalHelp = sections((await runCli(["eval", "--help"])).stdout);
    const shown = [...evalHelp.values()].flat().map((l) => l.split(" ")[0]);
    for (const key of adjustableKeys("eval")) assert.ok(shown.includes(flagOf(key)), flagOf(key));
    for (const key of SETTING_KEYS.filter((k) => !adjustableKeys("eval").includes(k)))
      assert.ok(!shown.includes(flagOf(key)), `eval does not offer ${flagOf(key)}`);
  });

  it("flags of every kind parse into the configuration (integer, number, list, choice, text, older spelling)", async () => {
    const r = await runCli([
      "config",
      "--json",
      "--inner-steps",
      "3",
      "--lr-arch",
      "0.25",
      "--reductions",
      "0,2",
      "--dataset",
      "omniglot",
      "--dir",
      "/data/omni",
      "--tasks",
      "7",
    ]);
    assert.equal(r.code, 0, r.error ?? "");
    const { config } = JSON.parse(r.stdout) as { config: Record<string, unknown> };
    assert.deepEqual(
      [config.innerSteps, config.lrArch, config.reductions, config.dataset, config.dataDir, config.testTasks],
      [3, 0.25, [0, 2], "omniglot", "/data/omni", 7],
    );
  });
});

describe("metanas config", () => {
  it("--json: the resolved configuration, usable as a --config file, and every setting described", async () => {
    const r = await runCli(["config", "--preset", "omniglot-20way-5shot", "--json"]);
    assert.equal(r.code, 0, r.error ?? "");
    const out = JSON.parse(r.stdout) as {
      preset: string;
      config: Record<string, unknown>;
      settings: { key: string; flag: string; group: string; value: unknown; description: string; changed: boolean }[];
    };
    const { preset, ...expected } = buildConfig("omniglot-20way-5shot", {}, {});
    assert.equal(out.preset, preset);
    assert.deepEqual(out.config, expected);
    assert.deepEqual(
      out.settings.map((s) => s.key),
      SETTING_KEYS,
    );
    for (const s of out.settings) {
      assert.equal(s.description, SETTINGS[s.key as keyof typeof SETTINGS].description);
      assert.equal(s.changed, false);
    }
    // The config object read back as a --config file over another preset gives the same configuration.
    const file = path.join(tmp, "config.json");
    writeFileSync(file, JSON.stringify(out.config));
    const again = JSON.parse((await runCli(["config", "--preset", "quick", "--config", file, "--json"])).stdout);
    assert.deepEqual(again.config, out.config);
  });

  it("text: grouped, with each setting's flag and value, changes from the preset marked", async () => {
    const r = await runCli(["config", "--preset", "omniglot-20way-1shot", "--ways", "5"]);
    assert.equal(r.code, 0, r.error ?? "");
    const lines = r.stdout.split("\n");
    for (const heading of Object.values(SETTING_GROUPS)) assert.ok(lines.includes(`${heading}:`), heading);
    assert.match(r.stdout, /^ {2}--ways 5 \* +classes per task \(n-way\)$/m);
    assert.match(r.stdout, /^ {2}--epochs 30000 +meta-epochs of the run$/m);
    assert.match(r.stdout, /^ {2}--data-dir \(unset\) +dataset folder/m);
  });

  it("every preset is a valid configuration", () => {
    for (const name of Object.keys(PRESETS)) assert.doesNotThrow(() => buildConfig(name, {}, {}), name);
  });
});
