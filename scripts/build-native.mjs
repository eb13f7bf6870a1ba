#!/usr/bin/env node
// Builds the libtorch addon with plain CMake; nothing is downloaded.
// libtorch: Debian's libtorch-dev by default, or LIBTORCH_DIR=/path/to/libtorch (a pytorch.org
// download, CPU or CUDA), or any directory in CMAKE_PREFIX_PATH.
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, renameSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
// METANAS_BUILD_DIR and METANAS_CMAKE_ARGS (space-separated) adjust the CMake run, e.g. for a CUDA
// libtorch's extra flags; the tests use them to build in a scratch folder.
const buildDir = process.env.METANAS_BUILD_DIR ?? path.join(root, "native", "build");
const extraArgs = (process.env.METANAS_CMAKE_ARGS ?? "").split(" ").filter(Boolean);
const require = createRequire(import.meta.url);

function fail(message) {
  console.error(`metanas: ${message}`);
  process.exit(1);
}

const nodeInclude = [
  process.env.NODE_INCLUDE_DIR,
  path.resolve(path.dirname(process.execPath), "..", "include", "node"),
  "/usr/include/node",
].find((dir) => dir && existsSync(path.join(dir, "node_api.h")));
if (!nodeInclude)
  fail("Node's C headers (node_api.h) were not found: set NODE_INCLUDE_DIR to the folder that holds them.");

const addonApiDir = require("node-addon-api").include_dir;
const resolvedAddonApi = path.isAbsolute(addonApiDir)
  ? addonApiDir
  : path.join(root, addonApiDir.replace(/^"|"$/g, ""));

if (spawnSync("cmake", ["--version"]).error)
  fail("cmake is not installed: run `apt-get install -y cmake g++` (or your system's equivalent).");

const prefixPaths = [process.env.LIBTORCH_DIR, process.env.CMAKE_PREFIX_PATH].filter(Boolean).join(";");
mkdirSync(buildDir, { recursive: true });
const configure = spawnSync(
  "cmake",
  [
    "-S",
    path.join(root, "native"),
    "-B",
    buildDir,
    "-DCMAKE_BUILD_TYPE=Release",
    `-DNODE_INCLUDE_DIR=${nodeInclude}`,
    `-DNODE_ADDON_API_DIR=${resolvedAddonApi}`,
    ...(prefixPaths ? [`-DCMAKE_PREFIX_PATH=${prefixPaths}`] : []),
    ...extraArgs,
  ],
  { encoding: "utf8" },
);
if (configure.status !== 0) {
  const out = `${configure.stdout}\n${configure.stderr}`;
  if (out.includes("METANAS_TORCH_NOT_FOUND")) {
    fail(
      "libtorch was not found: install it with `apt-get install -y libtorch-dev`, or set LIBTORCH_DIR to an unpacked libtorch from pytorch.org.",
    );
  }
  if (out.includes("METANAS_GLOO_NOT_FOUND")) {
    fail(
      "the Gloo headers (gloo/algorithm.h) were not found, which libtorch's distributed layer needs: install them with `apt-get install -y libgloo-dev`.",
    );
  }
  process.stderr.write(out);
  fail("configuring the native addon failed (CMake output above).");
}
try {
  execFileSync("cmake", ["--build", buildDir, "--parallel", "2"], { stdio: ["ignore", "ignore", "inherit"] });
} catch {
  fail("compiling the native addon failed (compiler output above).");
}
const built = path.join(buildDir, "metanas_native.node");
if (!existsSync(built)) fail(`the build produced no ${built}.`);
// Copy then rename: a running process that has the old addon mapped keeps its own copy.
const target = path.join(root, "native", "metanas_native.node");
copyFileSync(built, `${target}.tmp`);
renameSync(`${target}.tmp`, target);
console.log("metanas: native addon built against libtorch");
