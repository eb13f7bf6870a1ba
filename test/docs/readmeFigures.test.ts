// The figures the README quotes for the quick preset are the ones `npm run docs:figures` measured
// (docs/quick-figures.json): a change that moves them without rerunning the script fails here.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { it } from "node:test";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const readme = readFileSync(path.join(root, "README.md"), "utf8");
const figures = JSON.parse(readFileSync(path.join(root, "docs/quick-figures.json"), "utf8"));

const pct = (f: { accuracy: number; ci95: number }) => `${f.accuracy.toFixed(2)}% ± ${f.ci95.toFixed(2)}`;
const count = (n: number) => n.toLocaleString("en-US");

it("README quotes the quick preset's accuracies as docs:figures measured them", () => {
  for (const key of ["metanas", "untrained", "conv4"]) {
    const quoted = pct(figures[key]);
    assert.ok(readme.includes(quoted), `README.md should quote ${key}: ${quoted} (rerun npm run docs:figures)`);
  }
});

it("README quotes the search's weights and its wall-clock time as measured", () => {
  const m = figures.metanas;
  assert.ok(readme.includes(count(m.params.total)), `README.md should quote ${count(m.params.total)} weights`);
  const minutes = `${Math.floor(m.wallSeconds / 60)} min ${m.wallSeconds % 60} s`;
  assert.ok(readme.includes(minutes), `README.md should quote the wall time ${minutes}`);
});

it("the quick figures were made with the quick preset as it is now", async () => {
  const { PRESETS } = await import("../../src/runs/presets.js");
  const settings = figures.metanas.settings as Record<string, unknown>;
  assert.ok(settings, "docs/quick-figures.json records the search's settings");
  for (const [key, value] of Object.entries(PRESETS.quick))
    assert.deepEqual(
      settings[key],
      value,
      `${key} of the figures' run differs from the quick preset: rerun npm run docs:figures`,
    );
});
