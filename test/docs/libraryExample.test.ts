// The library example of docs/library.md runs as written: it is taken out of that page, run with
// `node` in a scratch folder where `import ... from "metanas"` resolves to this package, and its
// output and run directory are checked.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const tmp = mkdtempSync(path.join(os.tmpdir(), "metanas-readme-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const MARKER = "<!-- library example: executed by test/docs/libraryExample.test.ts -->";

/** The fenced block right after the marker. */
function example(readme: string): string {
  const at = readme.indexOf(MARKER);
  assert.ok(at >= 0, "docs/library.md has the library example marker");
  const m = /^```js\n([\s\S]*?)^```$/m.exec(readme.slice(at + MARKER.length));
  assert.ok(m, "a ```js block follows the marker");
  return m[1]!;
}

it("docs/library.md's example runs and prints a result", () => {
  const code = example(readFileSync(path.join(root, "docs/library.md"), "utf8"));
  assert.match(code, /from "metanas"/, "it imports the package by its name");
  mkdirSync(path.join(tmp, "node_modules"));
  symlinkSync(root, path.join(tmp, "node_modules", "metanas"), "dir");
  writeFileSync(path.join(tmp, "example.mjs"), code);
  const r = spawnSync(process.execPath, ["example.mjs"], { cwd: tmp, encoding: "utf8", timeout: 240_000 });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.match(lines[0]!, /^runs\/library-example: \d+\.\d% ± \d+\.\d$/);
  assert.match(lines[1]!, /^query accuracy (0|1|0\.\d+); the task's cell: \w+\+\w+, \w+\+\w+, \w+\+\w+$/);
  const summary = JSON.parse(readFileSync(path.join(tmp, "runs/library-example/summary.json"), "utf8"));
  assert.equal(summary.tasks, 4);
  assert.equal(summary.epochs, 2);
  assert.ok(existsSync(path.join(tmp, "runs/library-example/checkpoint.safetensors")));
});
