// The layers' arrows point down only: a module imports from its own layer or from layers below it.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { it } from "node:test";
import { fileURLToPath } from "node:url";

const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../src");

// Lowest first. data (datasets, task sampler) needs only the engine, and the task learner reads its tasks.
const LAYERS = [
  ["util"],
  ["engine"],
  ["nn", "data"],
  ["searchspace"],
  ["sparsification"],
  ["models"],
  ["tasklearner"],
  ["metalearner", "singletask"],
  ["evaluation"],
  ["runs"],
  ["reports"],
  ["cli"],
];
const rank = new Map(LAYERS.flatMap((names, r) => names.map((n) => [n, r] as const)));

it("no module imports from a layer above its own", () => {
  const folders = readdirSync(src, { withFileTypes: true }).filter((d) => d.isDirectory());
  assert.deepEqual(
    folders.map((d) => d.name).filter((n) => !rank.has(n)),
    [],
    "every folder of src/ has a layer",
  );
  const upward: string[] = [];
  for (const folder of folders) {
    for (const file of readdirSync(path.join(src, folder.name)).filter((f) => f.endsWith(".ts"))) {
      const text = readFileSync(path.join(src, folder.name, file), "utf8");
      for (const m of text.matchAll(/from "\.\.\/(\w+)\//g)) {
        if (rank.get(m[1]!)! > rank.get(folder.name)!) upward.push(`src/${folder.name}/${file} imports ${m[1]}`);
      }
    }
  }
  assert.deepEqual(upward, []);
});
