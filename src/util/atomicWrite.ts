// Write-then-rename, so that a crash or an error never leaves a half-written file under the
// final name: the one way every layer writes files. A full disk fails the write with one error
// naming the final file (DiskFullError); the file it would have replaced stays as it was.
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { asDiskFull } from "./diskFull.js";

/** A sibling temp path (same folder, so the rename stays on one filesystem). */
export function tempPathFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
}

/** Writes `data` to `file` atomically, flushed to disk before the rename; `makeDir` creates the folder first. */
export function writeFileAtomic(file: string, data: Uint8Array | string, o: { makeDir?: boolean } = {}): void {
  if (typeof data !== "string" && !(data instanceof Uint8Array))
    throw new TypeError(`writeFileAtomic: ${file}: data must be a string or bytes`);
  if (o.makeDir) mkdirSync(path.dirname(file), { recursive: true });
  const tmp = tempPathFor(file);
  try {
    const fd = openSync(tmp, "w");
    try {
      writeAll(fd, typeof data === "string" ? Buffer.from(data) : data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw asDiskFull(err, file);
  }
}

/** Every byte: a disk that fills up mid-write first writes part and returns its count, then fails. */
function writeAll(fd: number, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.byteLength; ) at += writeSync(fd, bytes, at, bytes.byteLength - at);
}

/** The same, asynchronously, for data in several chunks. */
export async function writeFileAtomicAsync(file: string, chunks: readonly Uint8Array[]): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = tempPathFor(file);
  try {
    await writeFile(tmp, chunks);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw asDiskFull(err, file);
  }
}
