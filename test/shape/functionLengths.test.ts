// Every function in src/ is short enough to read at once: under 60 lines (scripts/function-lengths.mjs).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { it } from "node:test";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

it("no function in src/ reaches 60 lines", () => {
  const r = spawnSync(process.execPath, [path.join(root, "scripts/function-lengths.mjs"), "--fail-at", "60"], {
    cwd: root,
    encoding: "utf8",
  });
  assert.equal(r.status, 0, `functions of 60 lines or more:\n${r.stdout.split("\n").slice(0, 10).join("\n")}`);
});
