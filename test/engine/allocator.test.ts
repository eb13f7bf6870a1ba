// The allocator policy the addon sets when it loads: activation-sized buffers stay in glibc's heap
// (no fresh mmap per tensor) in every entry point, and METANAS_MALLOC=system opts out.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { allocatorInfo, zeros } from "../../src/engine/index.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const engine = path.resolve(here, "../../src/engine/index.js");
// 48 MiB: above glibc's largest dynamic mmap threshold (32 MiB), so glibc's defaults map it.
const probe = `
  const E = await import(${JSON.stringify(engine)});
  const before = E.allocatorInfo().mmappedBlocks;
  const t = E.zeros([12, 1024, 1024]);
  const during = E.allocatorInfo().mmappedBlocks;
  t.dispose();
  return { policy: E.allocatorInfo().policy, mapped: during - before };
`;

function inChild(env: Record<string, string>): { policy: string; mapped: number } {
  const out = execFileSync(
    process.execPath,
    ["--input-type=module", "-e", `console.log(JSON.stringify(await (async () => {${probe}})()))`],
    {
      env: { ...process.env, ...env },
      encoding: "utf8",
    },
  );
  return JSON.parse(out.trim().split("\n").pop()!);
}

test("the addon keeps large tensors in the heap in this process", () => {
  const info = allocatorInfo();
  assert.equal(info.policy, "heap");
  assert.equal(info.applied, true);
  const before = allocatorInfo().mmappedBlocks;
  const t = zeros([12, 1024, 1024]);
  assert.equal(allocatorInfo().mmappedBlocks, before, "a 48 MiB tensor was mapped on its own");
  t.dispose();
});

test("the policy holds in a worker thread", async () => {
  const worker = new Worker(
    `(async () => { ${probe} })().then((r) => require("node:worker_threads").parentPort.postMessage(r));`,
    {
      eval: true,
    },
  );
  const r = await new Promise<{ policy: string; mapped: number }>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  await worker.terminate();
  assert.deepEqual(r, { policy: "heap", mapped: 0 });
});

test("a fresh process gets the policy; METANAS_MALLOC=system leaves glibc's defaults (and then maps)", () => {
  assert.deepEqual(inChild({}), { policy: "heap", mapped: 0 });
  assert.deepEqual(inChild({ METANAS_MALLOC: "system" }), { policy: "system", mapped: 1 });
});
