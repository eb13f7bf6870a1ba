import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import sharp from "sharp";
import { DataError } from "../../src/data/errors.js";
import { inspectDataset } from "../../src/data/inspect.js";
import { loadMiniImagenet, readSplitCsv } from "../../src/data/miniimagenet.js";
import { hasRavi, NO_RAVI, raviDir, tempDir } from "../helpers/dataFixtures.js";

// Class k of every split is a solid colour, so decoded pixels can be checked channel by channel.
const COLOURS: Array<[number, number, number]> = [
  [255, 0, 0],
  [0, 255, 0],
  [0, 0, 255],
];

/** Real wnids and file names from the split files when present, made-up ones otherwise. */
function namesFor(split: string, classes: number, perClass: number): Array<[string, string]> {
  if (hasRavi) {
    const lines = readFileSync(path.join(raviDir, `${split}.csv`), "utf8")
      .trim()
      .split("\n")
      .slice(1);
    const out: Array<[string, string]> = [];
    const seen = new Map<string, number>();
    for (const l of lines) {
      const [f, label] = l.split(",");
      const n = seen.get(label) ?? 0;
      if (n < perClass && (seen.has(label) || seen.size < classes)) {
        out.push([f, label]);
        seen.set(label, n + 1);
      }
    }
    return out;
  }
  return Array.from({ length: classes * perClass }, (_, k) => {
    const label = `n0${split.length}${Math.floor(k / perClass)}`;
    return [`${label}${String(k).padStart(8, "0")}.jpg`, label];
  });
}

async function makeLayout(dir: string): Promise<void> {
  mkdirSync(path.join(dir, "images"), { recursive: true });
  for (const split of ["train", "val", "test"]) {
    const rows = namesFor(split, 3, 4);
    const labels = [...new Set(rows.map((r) => r[1]))];
    let k = 0;
    for (const [file, label] of rows) {
      const [r, g, b] = COLOURS[labels.indexOf(label)];
      const [w, h] = [
        [84, 84],
        [120, 90],
        [60, 200],
        [500, 375],
      ][k++ % 4]; // any size, like users' JPEGs
      const img = sharp({ create: { width: w, height: h, channels: 3, background: { r, g, b } } });
      await img.jpeg({ quality: 95 }).toFile(path.join(dir, "images", file));
    }
    writeFileSync(
      path.join(dir, `${split}.csv`),
      ["filename,label", ...rows.map((r) => r.join(","))].join("\n") + "\n",
    );
  }
}

describe("MiniImagenet (generated layout)", () => {
  const t = tempDir("mini");
  const dir = path.join(t.dir, "mini");
  before(() => makeLayout(dir));
  after(t.cleanup);

  it("decodes any-size JPEGs to 84x84 RGB CHW in [0, 1], classes in CSV order", async () => {
    const lines: string[] = [];
    const ds = await loadMiniImagenet({ dir, cacheDir: path.join(t.dir, "cache"), log: (l) => lines.push(l) });
    assert.deepEqual(ds.imageShape, [3, 84, 84]);
    for (const s of [ds.splits.train, ds.splits.val!, ds.splits.test]) {
      assert.equal(s.numClasses, 3);
      assert.equal(s.classSize(2), 4);
    }
    const n = 84 * 84;
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < 4; i++) {
        const img = ds.splits.train.image(c, i);
        assert.equal(img.length, 3 * n);
        for (let ch = 0; ch < 3; ch++) {
          const m = img.subarray(ch * n, (ch + 1) * n).reduce((s, v) => s + v, 0) / n;
          assert.ok(Math.abs(m - COLOURS[c][ch] / 255) < 0.05, `class ${c} image ${i} channel ${ch}: ${m}`);
        }
      }
    }
    assert.match(lines.join("\n"), /train: decoded 12 images/);
    const again: string[] = [];
    const warm = await loadMiniImagenet({ dir, cacheDir: path.join(t.dir, "cache"), log: (l) => again.push(l) });
    assert.match(again.join("\n"), /train: .*\(cached\)/);
    assert.deepEqual(warm.splits.test.image(1, 3), ds.splits.test.image(1, 3));
    const summary = await inspectDataset({ name: "miniimagenet", dir });
    assert.deepEqual(summary.splits.val, { classes: 3, images: 12 });
    assert.equal(summary.imagesFolder, true);
  });

  it("gives one clear error for a missing folder, a bad CSV, a missing or corrupt image", async () => {
    const load = (d: string) => loadMiniImagenet({ dir: d, noCache: true, quiet: true });
    await assert.rejects(
      load(path.join(t.dir, "nope")),
      (e: Error) => e instanceof DataError && /does not exist/.test(e.message),
    );
    const bad = path.join(t.dir, "bad");
    await makeLayout(bad);
    writeFileSync(path.join(bad, "val.csv"), "file;label\nx.jpg;n1\n");
    await assert.rejects(load(bad), /val\.csv does not start with the header "filename,label"/);
    writeFileSync(path.join(bad, "val.csv"), "filename,label\n../x.jpg,n1\n");
    await assert.rejects(load(bad), /line 2 is not "filename,label" with a plain file name/);
    writeFileSync(path.join(bad, "val.csv"), "filename,label\nmissing.jpg,n1\n");
    await assert.rejects(load(bad), /missing\.jpg \(listed in .*val\.csv\) is missing/);
    writeFileSync(path.join(bad, "images", "broken.jpg"), "not a jpeg");
    writeFileSync(path.join(bad, "val.csv"), "filename,label\nbroken.jpg,n1\n");
    await assert.rejects(load(bad), /cannot decode .*broken\.jpg/);
  });
});

describe("MiniImagenet split files (real)", () => {
  it("parse to 64/16/20 classes of 600 images", { skip: !hasRavi && NO_RAVI }, async () => {
    const expected = { train: 64, val: 16, test: 20 };
    for (const [split, classes] of Object.entries(expected)) {
      const list = await readSplitCsv(path.join(raviDir, `${split}.csv`));
      assert.equal(list.classes.length, classes, split);
      assert.ok(
        list.files.every((f) => f.length === 600),
        `${split}: 600 images per class`,
      );
    }
  });
});
