// What code a rank runs: the package's version and a hash of its compiled modules. Ranks of one run
// compare it at the rendezvous, so that machines with another metanas (an older install, a local
// change) are refused before they compute something else under the same meta-epoch numbers.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { findPackage } from "../util/packageRoot.js";

/** The compiled modules' root (dist/src), the folder above this module's. */
const SRC_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

function modules(dir: string, rel = ""): string[] {
  return readdirSync(path.join(dir, rel), { withFileTypes: true })
    .flatMap((e) => {
      const name = path.posix.join(rel, e.name);
      if (e.isDirectory()) return modules(dir, name);
      return e.name.endsWith(".js") ? [name] : [];
    })
    .sort();
}

let cached: string | null = null;

/** "0.1.0, code 1a2b3c4d5e6f": the version, and a hash of every compiled module (path and content). */
export function codeVersion(): string {
  if (cached) return cached;
  const hash = createHash("sha256");
  for (const rel of modules(SRC_ROOT)) hash.update(`${rel}\n`).update(readFileSync(path.join(SRC_ROOT, rel)));
  cached = `${findPackage()?.version ?? "?"}, code ${hash.digest("hex").slice(0, 12)}`;
  return cached;
}
