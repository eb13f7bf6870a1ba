#!/usr/bin/env node
// A small folder dataset from Omniglot's canonical zips, for docs/own-data.md: whole alphabets
// as train/, val/ and test/ (one class folder per character, its 20 drawings as they are in the
// zip: 105x105 PNGs), and from one more alphabet a new task to predict, new-task/support/ (one
// labelled drawing per character) and new-task/query/ (other drawings, named after their character
// so that the predictions can be checked by eye).
//   npm run build:ts && node scripts/omniglot-to-folder.mjs --data-dir data/omniglot --out data/omniglot-folder
// Options: --train N --val N (background alphabets, in name order; default 10 and 1), --test N
// (evaluation alphabets; default 2), --ways N --shots N --queries N (the new task; default 5, 1, 2).
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const { readZip } = await import(pathToFileURL(path.join(root, "dist/src/data/zip.js")).href);

function options(argv) {
  const o = {
    dataDir: "data/omniglot",
    out: "data/omniglot-folder",
    train: 10,
    val: 1,
    test: 2,
    ways: 5,
    shots: 1,
    queries: 2,
  };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, "").replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(key in o) || argv[i + 1] === undefined) fail(`unknown option ${argv[i]} (or no value after it)`);
    o[key] = typeof o[key] === "number" ? Number(argv[i + 1]) : argv[i + 1];
    if (typeof o[key] === "number" && !(Number.isInteger(o[key]) && o[key] >= 0))
      fail(`${argv[i]} must be a whole number`);
  }
  return o;
}

function fail(message) {
  console.error(`omniglot-to-folder: ${message}`);
  process.exit(1);
}

/** Every drawing of a zip, grouped: alphabet -> character -> [name, bytes], all in name order. */
async function alphabets(zip) {
  if (!existsSync(zip))
    fail(`${zip} is missing; run npx metanas data download omniglot --data-dir ${path.dirname(zip)}`);
  const out = new Map();
  for (const e of await readZip(zip, (n) => n.toLowerCase().endsWith(".png"))) {
    const [, alphabet, character, file] = e.name.split("/");
    if (!out.has(alphabet)) out.set(alphabet, new Map());
    const chars = out.get(alphabet);
    if (!chars.has(character)) chars.set(character, []);
    chars.get(character).push([file, e.data]);
  }
  const sorted = (m) => new Map([...m].sort(([a], [b]) => (a < b ? -1 : 1)));
  for (const [a, chars] of out) {
    for (const list of chars.values()) list.sort(([a], [b]) => (a < b ? -1 : 1));
    out.set(a, sorted(chars));
  }
  return sorted(out);
}

/** One class folder per character of each alphabet: <dir>/<Alphabet>-<characterNN>/<drawing>.png. */
function writeSplit(dir, chosen) {
  let images = 0;
  for (const [alphabet, chars] of chosen) {
    for (const [character, drawings] of chars) {
      const folder = path.join(dir, `${alphabet}-${character}`);
      mkdirSync(folder, { recursive: true });
      for (const [file, data] of drawings) writeFileSync(path.join(folder, file), data);
      images += drawings.length;
    }
  }
  return images;
}

const o = options(process.argv.slice(2));
if (existsSync(o.out) && readdirSync(o.out).length > 0) fail(`${o.out} already holds files; choose another --out`);
const background = [...(await alphabets(path.join(o.dataDir, "images_background.zip")))];
const evaluation = [...(await alphabets(path.join(o.dataDir, "images_evaluation.zip")))];
if (o.train + o.val > background.length || o.test + 1 > evaluation.length) fail("too many alphabets asked for");
const splits = {
  train: background.slice(0, o.train),
  val: background.slice(o.train, o.train + o.val),
  test: evaluation.slice(0, o.test),
};
for (const [split, chosen] of Object.entries(splits)) {
  if (chosen.length === 0) continue;
  const images = writeSplit(path.join(o.out, split), chosen);
  console.log(
    `${split}: ${chosen.map(([a]) => a).join(", ")} (${chosen.reduce((n, [, c]) => n + c.size, 0)} classes, ${images} images)`,
  );
}

// The new task: the first `ways` characters of the next evaluation alphabet.
const [alphabet, chars] = evaluation[o.test];
const picked = [...chars].slice(0, o.ways);
for (const [character, drawings] of picked) {
  const name = `${alphabet}-${character}`;
  drawings.slice(0, o.shots).forEach(([file, data]) => {
    mkdirSync(path.join(o.out, "new-task", "support", name), { recursive: true });
    writeFileSync(path.join(o.out, "new-task", "support", name, file), data);
  });
  drawings.slice(o.shots, o.shots + o.queries).forEach(([file, data]) => {
    mkdirSync(path.join(o.out, "new-task", "query"), { recursive: true });
    writeFileSync(path.join(o.out, "new-task", "query", `${character}-${file}`), data);
  });
}
console.log(
  `new-task: ${alphabet}, ${picked.length} characters: ${o.shots} labelled drawing(s) each in support/, ${o.queries} more in query/`,
);
