import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import sharp from "sharp";
import { DataError } from "../../src/data/errors.js";
import { inspectDataset } from "../../src/data/inspect.js";
import { loadOmniglot } from "../../src/data/omniglot.js";
import { rot90 } from "../../src/data/pool.js";
import { readZip } from "../../src/data/zip.js";
import { hasOmniglot, NO_OMNIGLOT, omniglotDir, repoRoot, storeZip, tempDir } from "../helpers/dataFixtures.js";

// A small Omniglot-layout set: 2 alphabets x 2 characters x 3 drawings, black strokes on white,
// each character an "L" at its own place so rotations and classes are told apart.
async function drawing(ch: number, d: number): Promise<Buffer> {
  const px = Buffer.alloc(105 * 105, 255);
  const x0 = 20 + ch * 10 + d;
  const y0 = 15 + ch * 5;
  for (let y = y0; y < y0 + 60; y++) for (let x = x0; x < x0 + 8; x++) px[y * 105 + x] = 0;
  for (let y = y0 + 52; y < y0 + 60; y++) for (let x = x0; x < x0 + 40; x++) px[y * 105 + x] = 0;
  return sharp(px, { raw: { width: 105, height: 105, channels: 1 } })
    .png()
    .toBuffer();
}

async function fakeSet(set: string, chars = 4, extra: Array<{ name: string; data?: Uint8Array }> = []) {
  const entries: Array<{ name: string; data?: Uint8Array }> = [{ name: `images_${set}/` }];
  for (let ch = 0; ch < chars; ch++) {
    const dir = `images_${set}/Alpha${ch >> 1}/character${String((ch % 2) + 1).padStart(2, "0")}/`;
    entries.push({ name: dir });
    for (let d = 0; d < 3; d++) entries.push({ name: `${dir}${ch}${d}_0${d + 1}.png`, data: await drawing(ch, d) });
  }
  return storeZip([...entries, ...extra]);
}

const quietLog = () => {
  const lines: string[] = [];
  return { lines, log: (l: string) => lines.push(l) };
};

describe("Omniglot from zips (generated)", () => {
  const t = tempDir("omni");
  const data = path.join(t.dir, "data");
  const cacheDir = path.join(t.dir, "cache");
  before(async () => {
    mkdirSync(data);
    writeFileSync(path.join(data, "images_background.zip"), await fakeSet("background", 4));
    writeFileSync(path.join(data, "images_evaluation.zip"), await fakeSet("evaluation", 2));
  });
  after(t.cleanup);

  it("decodes, inverts, resizes to 28x28 and adds rotations as classes", async () => {
    const { log } = quietLog();
    const ds = await loadOmniglot({ dir: data, cacheDir, log });
    assert.deepEqual(ds.imageShape, [1, 28, 28]);
    assert.equal(ds.splits.train.numClasses, 16);
    assert.equal(ds.splits.test.numClasses, 8);
    assert.equal(ds.splits.val, undefined);
    const img = ds.splits.train.image(0, 0);
    assert.equal(img.length, 784);
    assert.ok(img.every((v) => v >= 0 && v <= 1));
    const m = img.reduce((s, v) => s + v, 0) / 784;
    assert.ok(m > 0.02 && m < 0.3, `strokes bright on a dark background (mean ${m})`);
    assert.equal(img[0], 0, "corner is background");
    for (let r = 1; r < 4; r++)
      assert.deepEqual(ds.splits.train.image(r, 2), rot90(ds.splits.train.image(0, 2), [1, 28, 28], r));
    assert.equal(ds.splits.train.className!(5), "Alpha0/character02/rot90");
    const plain = await loadOmniglot({ dir: data, cacheDir, rotations: false, valCharacters: 1, log });
    assert.deepEqual([plain.splits.train.numClasses, plain.splits.val!.numClasses], [3, 1]);
    assert.deepEqual(plain.splits.train.image(0, 0), img);
  });

  it("reuses its cache, and rebuilds it when the source changes or the file is damaged", async () => {
    const cache2 = path.join(t.dir, "cache2");
    const run = async () => {
      const q = quietLog();
      const ds = await loadOmniglot({ dir: data, cacheDir: cache2, log: q.log });
      return { ds, lines: q.lines.join("\n") };
    };
    const cold = await run();
    assert.match(cold.lines, /background: decoded 12 images/);
    const files = readdirSync(cache2).filter((f) => f.startsWith("omniglot-background"));
    assert.equal(files.length, 1);
    assert.ok(!readdirSync(cache2).some((f) => f.endsWith(".tmp")), "no temp file left");
    const warm = await run();
    assert.match(warm.lines, /background: .*\(cached\)/);
    assert.deepEqual(warm.ds.splits.train.image(3, 1), cold.ds.splits.train.image(3, 1));
    // Another source (a character more) changes the key: rebuilt.
    writeFileSync(path.join(data, "images_background.zip"), await fakeSet("background", 3));
    const changed = await run();
    assert.match(changed.lines, /background: decoded 9 images/);
    assert.equal(changed.ds.splits.train.numClasses, 12);
    // A truncated cache file is rebuilt, not trusted.
    const file = path.join(cache2, files[0]);
    writeFileSync(file, readFileSync(file).subarray(0, 200));
    assert.match((await run()).lines, /background: decoded 9 images/);
    assert.ok(statSync(file).size > 9 * 784);
    writeFileSync(path.join(data, "images_background.zip"), await fakeSet("background", 4));
  });

  it("refuses a zip cut short or with flipped bytes, naming it; rebuilds a cache with altered pixels or another version", async () => {
    const dir = path.join(t.dir, "damaged");
    mkdirSync(dir);
    const zip = path.join(dir, "images_background.zip");
    writeFileSync(path.join(dir, "images_evaluation.zip"), readFileSync(path.join(data, "images_evaluation.zip")));
    const good = await fakeSet("background", 4);
    // An interrupted download: the first 60% of the file.
    writeFileSync(zip, good.subarray(0, Math.floor(good.length * 0.6)));
    const load = (cacheDir?: string) => {
      const q = quietLog();
      return loadOmniglot({ dir, cacheDir, noCache: !cacheDir, log: q.log }).then((ds) => ({ ds, lines: q.lines }));
    };
    await assert.rejects(load(), {
      message: new RegExp(`^${zip} is not a readable zip \\(.*\\); delete it and download it again`),
    });
    // Four bytes flipped inside one drawing's stored bytes: its CRC-32 no longer matches.
    const flipped = Buffer.from(good);
    const at = flipped.indexOf("IDAT") + 8;
    for (let k = at; k < at + 4; k++) flipped[k]! ^= 0xff;
    writeFileSync(zip, flipped);
    await assert.rejects(load(), {
      message: new RegExp(
        `^${zip} is damaged: its entry images_background/Alpha0/character01/00_01\\.png does not match its CRC-32; delete it and download it again`,
      ),
    });
    // The cache: a pixel altered in place, or a file another version wrote (another key), is rebuilt.
    writeFileSync(zip, good);
    const cacheDir = path.join(t.dir, "cache-damaged");
    const cold = await load(cacheDir);
    const file = path.join(cacheDir, readdirSync(cacheDir).find((f) => f.startsWith("omniglot-background"))!);
    const bytes = readFileSync(file);
    const pixel = bytes.length - 100;
    bytes[pixel]! ^= 0x01;
    writeFileSync(file, bytes);
    const altered = await load(cacheDir);
    assert.match(altered.lines.join("\n"), /background: decoded 12 images/);
    assert.deepEqual(altered.ds.splits.train.image(7, 2), cold.ds.splits.train.image(7, 2));
    const rebuilt = readFileSync(file);
    const headerLength = rebuilt.readUInt32LE(8);
    const header = JSON.parse(rebuilt.subarray(12, 12 + headerLength).toString("utf8"));
    const other = Buffer.from(JSON.stringify({ ...header, key: "0".repeat(64) }));
    const len = Buffer.alloc(4);
    len.writeUInt32LE(other.length);
    writeFileSync(file, Buffer.concat([rebuilt.subarray(0, 8), len, other, rebuilt.subarray(12 + headerLength)]));
    assert.match((await load(cacheDir)).lines.join("\n"), /background: decoded 12 images/);
    assert.match((await load(cacheDir)).lines.join("\n"), /background: .*\(cached\)/);
  });

  it("reads the unpacked folder layout too", async () => {
    const unpacked = path.join(t.dir, "unpacked");
    for (const set of ["background", "evaluation"]) {
      for (const e of await readZip(path.join(data, `images_${set}.zip`), () => true)) {
        mkdirSync(path.dirname(path.join(unpacked, e.name)), { recursive: true });
        writeFileSync(path.join(unpacked, e.name), e.data);
      }
    }
    const { log } = quietLog();
    const a = await loadOmniglot({ dir: unpacked, noCache: true, log });
    const b = await loadOmniglot({ dir: data, cacheDir, log });
    assert.equal(a.splits.train.numClasses, 16);
    assert.deepEqual(a.splits.test.image(5, 2), b.splits.test.image(5, 2));
  });

  it("gives one clear error for a missing folder, a wrong layout, a corrupt zip, a bad PNG, a zip-slip entry", async () => {
    const bad = (dir: string) => loadOmniglot({ dir, noCache: true, quiet: true });
    await assert.rejects(
      bad(path.join(t.dir, "nope")),
      (e: Error) => e instanceof DataError && /does not exist/.test(e.message),
    );
    const empty = path.join(t.dir, "empty");
    mkdirSync(empty);
    writeFileSync(path.join(empty, "readme.txt"), "hi");
    await assert.rejects(bad(empty), /neither images_background\.zip nor images_background\/.*download omniglot/);

    const corrupt = path.join(t.dir, "corrupt");
    mkdirSync(corrupt);
    const good = readFileSync(path.join(data, "images_background.zip"));
    writeFileSync(path.join(corrupt, "images_background.zip"), good.subarray(0, good.length - 40));
    writeFileSync(path.join(corrupt, "images_evaluation.zip"), readFileSync(path.join(data, "images_evaluation.zip")));
    await assert.rejects(
      bad(corrupt),
      (e: Error) => e instanceof DataError && /not a readable zip.*download/.test(e.message),
    );

    writeFileSync(
      path.join(corrupt, "images_background.zip"),
      await fakeSet("background", 1, [
        { name: "images_background/Alpha0/character01/x.png", data: Buffer.from("not a png") },
      ]),
    );
    await assert.rejects(bad(corrupt), /cannot decode .*x\.png.*corrupt/);

    writeFileSync(
      path.join(corrupt, "images_background.zip"),
      await fakeSet("background", 1, [{ name: "../../evil.png", data: await drawing(0, 0) }]),
    );
    await assert.rejects(bad(corrupt), /leaves the target folder/);

    writeFileSync(
      path.join(corrupt, "images_background.zip"),
      storeZip([{ name: "images_background/x/y.png", data: await drawing(0, 0) }]),
    );
    await assert.rejects(bad(corrupt), /not the Omniglot layout|must sit at images_background/);
  });
});

describe("Omniglot, real zips", () => {
  it("counts the canonical splits without decoding", { skip: !hasOmniglot && NO_OMNIGLOT }, async () => {
    const rot = await inspectDataset({ name: "omniglot", dir: omniglotDir });
    assert.deepEqual(rot.splits, { train: { classes: 3856, images: 77120 }, test: { classes: 2636, images: 52720 } });
    const plain = await inspectDataset({ name: "omniglot", dir: omniglotDir, rotations: false });
    assert.deepEqual([plain.splits.train.classes, plain.splits.test.classes], [964, 659]);
    const vinyals = await inspectDataset({ name: "omniglot", dir: omniglotDir, split: "vinyals", rotations: false });
    assert.deepEqual([vinyals.splits.train.classes, vinyals.splits.test.classes], [1200, 423]);
  });

  it("metanas data inspect --json reports them", { skip: !hasOmniglot && NO_OMNIGLOT }, () => {
    const out = execFileSync(
      process.execPath,
      [
        path.join(repoRoot, "dist/src/cli/main.js"),
        "data",
        "inspect",
        "--dataset",
        "omniglot",
        "--data-dir",
        omniglotDir,
        "--json",
      ],
      { encoding: "utf8" },
    );
    const j = JSON.parse(out);
    assert.equal(j.splits.train.classes, 3856);
    assert.equal(j.splits.test.images, 52720);
  });

  it("real drawings decode to bright strokes on dark", { skip: !hasOmniglot && NO_OMNIGLOT }, async () => {
    // A few real PNGs through the same preprocessing (the full set's cold decode is too slow for a test).
    const { preprocessOmniglot } = await import("../../src/data/omniglot.js");
    let n = 0;
    const zip = path.join(omniglotDir, "images_evaluation.zip");
    for (const e of (await readZip(zip, (f) => f.endsWith(".png"))).slice(0, 20)) {
      const img = await preprocessOmniglot(e.data, e.name);
      const m = img.reduce((s, v) => s + v, 0) / (784 * 255);
      assert.ok(m > 0.02 && m < 0.35, `${e.name}: mean ${m}`);
      assert.ok(Math.max(...img) > 200);
      n++;
    }
    assert.equal(n, 20);
  });
});
