// Write-then-rename so a crash or error never leaves a half-written file under the final name.
import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";

/** A sibling temp path (same folder, so the rename stays on one filesystem). */
export function tempPathFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
}

export async function writeFileAtomic(file: string, chunks: readonly Uint8Array[]): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = tempPathFor(file);
  try {
    await writeFile(tmp, chunks);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
