// The package's root: the folder holding metanas's package.json, above the modules in src/ (sources)
// or dist/src/ (compiled). Shipped files (models/) and the version are found from it.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

/** The root and its package.json, or null when no metanas package.json is above this module. */
export function findPackage(): { root: string; version: string } | null {
  for (const up of ["../..", "../../.."]) {
    const root = path.resolve(here, up);
    const file = path.join(root, "package.json");
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
    if (pkg.name === "metanas") return { root, version: pkg.version ?? "?" };
  }
  return null;
}

export function packageRoot(): string {
  const found = findPackage();
  if (!found) throw new Error(`metanas: cannot find the package root (metanas's package.json) above ${here}`);
  return found.root;
}
