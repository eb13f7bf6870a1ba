#!/usr/bin/env node
// Regenerates docs/compare-quick.png, the README's picture of `metanas compare`: a MetaNAS search and
// the Conv4 baseline on the quick preset (same tasks, same seed), compared, and the page drawn by
// headless Chromium. Runs already finished under runs/docs/ are reused (delete them to start over).
//   npm run docs:compare
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import sharp from "sharp";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const cli = path.join(root, "dist/src/cli/main.js");
const chromium = process.env.METANAS_CHROMIUM ?? "/usr/bin/chromium";
const png = path.join(root, "docs/compare-quick.png");

function metanas(...args) {
  console.log(`metanas ${args.join(" ")}`);
  execFileSync(process.execPath, [cli, ...args], { stdio: "inherit", cwd: root });
}

// Paths relative to the repository, as the page shows them.
const runs = {
  MetaNAS: ["runs/docs/metanas-quick", ["search", "--preset", "quick"]],
  Conv4: ["runs/docs/conv4-quick", ["train", "--model", "conv4", "--preset", "quick"]],
};
for (const [dir, args] of Object.values(runs)) {
  if (existsSync(path.join(root, dir, "summary.json"))) console.log(`${dir}: finished before, reused`);
  else metanas(...args, "--out", dir);
}
const compare = "runs/docs/compare";
metanas(
  "compare",
  ...Object.values(runs).map(([dir]) => dir),
  "--labels",
  Object.keys(runs).join(","),
  "--out",
  compare,
);

// Chromium draws a window, not the whole page: a tall one, then the white below the page trimmed.
const profile = mkdtempSync(path.join(tmpdir(), "metanas-chromium-"));
const shot = path.join(profile, "page.png");
try {
  execFileSync(
    chromium,
    [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--hide-scrollbars",
      "--no-first-run",
      "--disable-background-networking",
      `--user-data-dir=${profile}`,
      "--window-size=1180,6000",
      `--screenshot=${shot}`,
      pathToFileURL(path.join(root, compare, "compare.html")).href,
    ],
    { stdio: "pipe" },
  );
  const trimmed = await sharp(shot).trim({ background: "#ffffff" }).toBuffer();
  await sharp(trimmed)
    .extend({ top: 16, bottom: 16, left: 16, right: 16, background: "#ffffff" })
    .png({ compressionLevel: 9, palette: true })
    .toFile(png);
} finally {
  rmSync(profile, { recursive: true, force: true });
}
console.log(png);
