// The presets follow the evidence (docs/results.md): `omniglot-5way-1shot-cpu` meta-trains exactly as
// the sharp-meta study's run that met its target, and `omniglot-5way-1shot-cpu-c16` is the preset
// the earlier Omniglot figures were measured with.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { buildConfig } from "../../src/runs/presets.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const longRun = (dir: string) =>
  JSON.parse(readFileSync(path.join(root, "experiments/longruns", dir, "config.json"), "utf8")) as Record<
    string,
    unknown
  >;

/** The keys where a preset's configuration (seed 1) and a measured run's differ, with both values. */
function differences(preset: string, measured: Record<string, unknown>): Record<string, [unknown, unknown]> {
  const built = buildConfig(preset, {}, { seed: 1 }) as unknown as Record<string, unknown>;
  const keys = new Set([...Object.keys(built), ...Object.keys(measured)]);
  keys.delete("preset");
  keys.delete("dataDir");
  const out: Record<string, [unknown, unknown]> = {};
  for (const k of keys) if (JSON.stringify(built[k]) !== JSON.stringify(measured[k])) out[k] = [built[k], measured[k]];
  return out;
}

describe("the Omniglot CPU presets", () => {
  it("omniglot-5way-1shot-cpu is the study's run, with the paper's 50 + 50 test steps and Conv4 after it", () => {
    const run = longRun(
      "sharp-meta/c-32-5-cells-reductions-at-1-and-3-warm-up-100-scale-0-02-at-50-meta-test-at-scale-0-001-seed1",
    );
    assert.deepEqual(differences("omniglot-5way-1shot-cpu", run), {
      // The run meta-tested with 50 steps, all adapting the architecture; seeds 1-3 were also
      // meta-tested with these 100 (`metanas eval`, meta-test-probes/).
      testSteps: [100, 50],
      baseline: ["conv4", "none"],
    });
  });

  it("omniglot-5way-1shot-cpu-c16 is the configuration of the earlier figures (settings added since at their defaults)", () => {
    const run = longRun("baseline-seeds/seed-1");
    const later = ["tScaleMin", "tScaleEpochs", "tScaleStart", "tScaleSchedule", "tSchedule", "archGradient"];
    const diff = differences("omniglot-5way-1shot-cpu-c16", run);
    assert.deepEqual(Object.keys(diff).sort(), [...later].sort());
    for (const k of later) assert.equal(diff[k]![1], undefined, k);
  });
});
