#!/usr/bin/env node
// Copies a finished or stopped run into a folder small enough to keep in the repository: its
// config.json, checkpoint, summary.json and evaluation.json as they are, and metrics.jsonl with the
// meta-training lines summed per block of meta-epochs (seconds and CPU seconds summed, loss and
// accuracy averaged, `aggregatedEpochs` says how many), every evaluation line kept, lines past the
// checkpoint's meta-epoch dropped. `metanas report` and `metanas train --resume` read the copy.
//   node scripts/condense-metrics.mjs RUN_DIR OUT_DIR [--block 100]
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

const [src, dst] = process.argv.slice(2);
const at = process.argv.indexOf("--block");
const block = at >= 0 ? Number(process.argv[at + 1]) : 100;
if (!src || !dst || !(block >= 1)) {
  console.error("usage: node scripts/condense-metrics.mjs RUN_DIR OUT_DIR [--block 100]");
  process.exit(1);
}

/** The meta-epoch of the run's checkpoint (safetensors metadata), or Infinity without one. */
function checkpointEpoch(file) {
  if (!existsSync(file)) return Number.POSITIVE_INFINITY;
  const bytes = readFileSync(file);
  const n = Number(bytes.readBigUInt64LE(0));
  return Number(JSON.parse(bytes.subarray(8, 8 + n).toString("utf8")).__metadata__.epoch);
}

mkdirSync(dst, { recursive: true });
for (const f of ["config.json", "checkpoint.safetensors", "summary.json", "evaluation.json"])
  if (existsSync(path.join(src, f))) copyFileSync(path.join(src, f), path.join(dst, f));
const last = checkpointEpoch(path.join(src, "checkpoint.safetensors"));
const out = [];
let pending = [];
const flush = () => {
  if (pending.length === 0) return;
  const r = { ...pending.at(-1) };
  const sum = (k) => pending.reduce((a, x) => a + (x[k] ?? 0), 0);
  r.seconds = sum("seconds");
  r.cpuSeconds = sum("cpuSeconds");
  r.loss = sum("loss") / pending.length;
  r.accuracy = sum("accuracy") / pending.length;
  delete r.phases;
  r.aggregatedEpochs = pending.length;
  out.push(r);
  pending = [];
};
for (const line of readFileSync(path.join(src, "metrics.jsonl"), "utf8").split("\n")) {
  let r;
  try {
    r = JSON.parse(line);
  } catch {
    continue; // a blank or partial line
  }
  if (r.epoch > last) continue;
  if (r.kind === "train") {
    pending.push(r);
    if (r.epoch % block === 0) flush();
  } else {
    flush();
    out.push(r);
  }
}
flush();
writeFileSync(path.join(dst, "metrics.jsonl"), out.map((r) => `${JSON.stringify(r)}\n`).join(""));
console.log(`${dst}: ${out.length} metrics lines up to meta-epoch ${last}`);
