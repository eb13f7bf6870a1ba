import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

test("without libtorch the addon build fails with one line naming the package to install", () => {
  const buildDir = mkdtempSync(path.join(os.tmpdir(), "metanas-build-"));
  try {
    const r = spawnSync(process.execPath, [path.join(root, "scripts/build-native.mjs")], {
      encoding: "utf8",
      env: { ...process.env, METANAS_BUILD_DIR: buildDir, METANAS_CMAKE_ARGS: "-DCMAKE_DISABLE_FIND_PACKAGE_Torch=ON" },
    });
    assert.equal(r.status, 1);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(
      r.stderr,
      /^metanas: libtorch was not found: install it with `apt-get install -y libtorch-dev`, or set LIBTORCH_DIR/,
    );
    assert.ok(existsSync(path.join(root, "native", "metanas_native.node")), "the installed addon is untouched");
  } finally {
    rmSync(buildDir, { recursive: true, force: true });
  }
});
