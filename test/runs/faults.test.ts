// A run under disk and file faults: a disk that fills up (a small tmpfs, mounted by the test) stops
// the run with one line naming the file, leaves the last checkpoint valid, and the run resumes once
// space is freed; a checkpoint with flipped bytes, or truncated, is refused whole with one line
// naming it; one written before checkpoints carried a checksum still loads.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statfsSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { CHECKSUM_KEY, loadSafetensors, saveSafetensors } from "../../src/engine/index.js";
import { buildConfig } from "../../src/runs/presets.js";
import { appendMetrics, readMetrics } from "../../src/runs/runDir.js";
import { runEvaluation, runTraining } from "../../src/runs/runner.js";
import { writeFileAtomic } from "../../src/util/atomicWrite.js";
import { TINY_RUN, TINY_RUN_FLAGS } from "../helpers/tinyMeta.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const cli = path.join(root, "dist/src/cli/main.js");
const tmp = mkdtempSync(path.join(os.tmpdir(), "metanas-faults-"));
const LIMIT_MS = 120_000;
const tiny = ["--preset", "quick", ...TINY_RUN_FLAGS, "--test-tasks", "2"];
const env = { ...process.env, OMP_NUM_THREADS: "1" };

const metanas = (args: string[]) =>
  spawnSync(process.execPath, [cli, ...args], { cwd: tmp, encoding: "utf8", env, timeout: LIMIT_MS });
const errorLines = (stderr: string) => stderr.split("\n").filter((l) => l.startsWith("metanas:"));

/** Fills the filesystem of `dir` with one file until not a byte more fits. */
function fill(dir: string): string {
  const file = path.join(dir, "filler");
  const fd = openSync(file, "w");
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
  } finally {
    closeSync(fd);
  }
  return file;
}

// A small tmpfs of the test's own, so that filling it touches nothing else.
const disk = path.join(tmp, "disk");
function mountDisk(): string | false {
  if (process.platform !== "linux" || process.getuid?.() !== 0)
    return "skipped: a full disk is simulated with a tmpfs, which needs root on Linux";
  mkdirSync(disk);
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", disk], { encoding: "utf8", timeout: 10_000 });
  return r.status === 0 ? false : `skipped: cannot mount a tmpfs (${(r.stderr || String(r.error)).trim()})`;
}
const noDisk = mountDisk();
after(() => {
  if (!noDisk) spawnSync("umount", ["-l", disk], { timeout: 10_000 });
  rmSync(tmp, { recursive: true, force: true });
});

describe("a full disk", { skip: noDisk }, () => {
  it("fails a write with one error naming the file, and leaves the file it would replace as it was", () => {
    const dir = path.join(disk, "writes");
    mkdirSync(dir);
    const file = path.join(dir, "state.bin");
    const old = Buffer.alloc(100_000, 7);
    writeFileAtomic(file, old);
    // Room for part of the new content only: a short write must not become a truncated file.
    const filler = path.join(disk, "filler");
    const { bavail, bsize } = statfsSync(disk);
    writeFileSync(filler, Buffer.alloc(Math.max(0, bavail * bsize - 64 * 1024)));
    try {
      assert.throws(
        () => writeFileAtomic(file, Buffer.alloc(1_000_000, 9)),
        new RegExp(`^Error: cannot write ${file}: the disk is full \\(ENOSPC\\)$`),
      );
      assert.deepEqual(readFileSync(file), old);
      assert.deepEqual(readdirSync(dir), ["state.bin"], "no temp file left");
      fill(disk);
      assert.throws(
        () => appendMetrics(dir, { kind: "train", epoch: 1 } as never),
        new RegExp(`^Error: cannot write ${dir}/metrics.jsonl: the disk is full \\(ENOSPC\\)$`),
      );
    } finally {
      rmSync(filler, { force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("stops a run with one line; the checkpoint stays valid and the run resumes once space is freed", async () => {
    const dir = path.join(disk, "run");
    const child = spawn(
      process.execPath,
      [cli, "search", ...tiny, "--epochs", "400", "--checkpoint-every", "1", "--out", dir],
      { cwd: tmp, env },
    );
    const timer = setTimeout(() => child.kill("SIGKILL"), LIMIT_MS);
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    const trained = () => (existsSync(path.join(dir, "metrics.jsonl")) ? readMetrics(dir).length : 0);
    const end = performance.now() + 60_000;
    while (trained() < 2 && performance.now() < end) await new Promise((r) => setTimeout(r, 50));
    const filler = fill(disk);
    const code = await exited;
    let saved = 0;
    clearTimeout(timer);
    try {
      assert.equal(code, 1, stderr);
      const lines = errorLines(stderr);
      assert.equal(lines.length, 1, stderr);
      // Whichever write met the full disk first: the metrics or the checkpoint.
      const m =
        /^metanas: cannot write .*run\/(metrics\.jsonl|checkpoint\.safetensors): the disk is full \(ENOSPC\); the checkpoint in .*run \(meta-epoch (\d+)\) is intact: free some space, then continue with metanas search --resume .*run$/.exec(
          lines[0]!,
        );
      assert.ok(m, lines[0]);
      saved = Number(m[2]);
      assert.ok(!readdirSync(dir).some((f) => f.endsWith(".tmp")), "no temp file left");
      const { metadata, tensors } = loadSafetensors(path.join(dir, "checkpoint.safetensors"));
      for (const t of tensors.values()) t.dispose();
      assert.equal(Number(metadata.epoch), saved, "the checkpoint is whole (its checksum holds) and as said");
    } finally {
      rmSync(filler);
    }
    const resumed = metanas(["search", "--resume", dir, "--epochs", String(saved + 1)]);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.deepEqual(
      readMetrics(dir)
        .filter((r) => r.kind === "train")
        .map((r) => r.epoch),
      Array.from({ length: saved + 1 }, (_, i) => i + 1),
      "the metrics continue without a gap or a partial line",
    );
  });
});

describe("a file-size limit", () => {
  it("fails the write with one error naming the file (SIGXFSZ does not end the process)", () => {
    const file = path.join(tmp, "limited", "big.bin");
    const write = `const { writeFileAtomic } = await import(${JSON.stringify(path.join(root, "dist/src/util/atomicWrite.js"))});
      try { writeFileAtomic(process.argv[1], Buffer.alloc(200000), { makeDir: true }); } catch (e) { console.log(e.message); }`;
    // 128 blocks of 512 or 1024 bytes (shells differ): far below the 200 KB written.
    const r = spawnSync(
      "sh",
      ["-c", 'ulimit -f 128 && exec "$0" --input-type=module -e "$1" "$2"', process.execPath, write, file],
      {
        encoding: "utf8",
        timeout: 30_000,
      },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), `cannot write ${file}: the file size limit (ulimit -f) is exceeded (EFBIG)`);
    assert.deepEqual(readdirSync(path.dirname(file)), [], "nothing left behind");
  });
});

describe("a damaged checkpoint", () => {
  const dir = path.join(tmp, "damaged");
  const file = path.join(dir, "checkpoint.safetensors");
  const config = buildConfig("quick", {}, { ...TINY_RUN, epochs: 2, testTasks: 2 });
  let good: Buffer;
  let accuracy: number;
  before(async () => {
    accuracy = (await runTraining(dir, { config })).summary!.accuracy;
    good = readFileSync(file);
  });
  after(() => writeFileSync(file, good));

  /** The data section's start: after the 8-byte length and the JSON header. */
  const dataStart = (buf: Buffer) => 8 + Number(buf.readBigUInt64LE(0));
  const flipped = (at: number) => {
    const b = Buffer.from(good);
    for (let k = at; k < at + 4; k++) b[k]! ^= 0xff;
    return b;
  };
  const refused = (why: string) =>
    `checkpoint ${file} is corrupt (${why}), so nothing was loaded from it: restore it from a backup, or start a new run`;

  it("with four bytes flipped in its tensors: refused with one line naming it, by eval and by --resume", async () => {
    const middle = Math.floor((dataStart(good) + good.length) / 2);
    writeFileSync(file, flipped(middle));
    const why = refused("its bytes do not match the SHA-256 it was written with");
    const r = metanas(["eval", dir]);
    assert.equal(r.status, 1);
    assert.equal(r.stderr.trim(), `metanas: ${why}`);
    await assert.rejects(runTraining(dir, { resume: true, overrides: { epochs: 3 } }), { message: why });
    assert.deepEqual(readFileSync(file), flipped(middle), "the refused checkpoint is left as it was");
    // Four bytes flipped in the header's metadata (here the epoch's digit) are refused alike.
    writeFileSync(file, flipped(good.indexOf('"epoch":"2"') + 9));
    await assert.rejects(runEvaluation(dir), { message: /is corrupt \(.*\), so nothing was loaded from it/ });
  });

  it("truncated: refused with one line naming it", async () => {
    writeFileSync(file, good.subarray(0, Math.floor((dataStart(good) + good.length) / 2)));
    await assert.rejects(runEvaluation(dir), {
      message: new RegExp(`^checkpoint ${file} is corrupt \\(.*outside the \\d+-byte data section\\), so nothing`),
    });
  });

  it("written before checkpoints carried a checksum: still loads; one that should carry it but does not is refused", async () => {
    writeFileSync(file, good);
    const { tensors, metadata } = loadSafetensors(file);
    const { [CHECKSUM_KEY]: sealed, ...unsealed } = metadata;
    assert.match(sealed ?? "", /^[0-9a-f]{64}$/);
    try {
      saveSafetensors(file, tensors, { ...unsealed, format: "metanas-checkpoint-2" });
      assert.equal((await runEvaluation(dir))?.accuracy, accuracy);
      saveSafetensors(file, tensors, unsealed);
      await assert.rejects(runEvaluation(dir), { message: refused(`its ${CHECKSUM_KEY} is missing`) });
    } finally {
      for (const t of tensors.values()) t.dispose();
    }
  });
});
