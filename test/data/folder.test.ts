// A folder of the user's own images as a dataset (src/data/folder.ts), on folders the tests write:
// loading (class order, sizes, formats, grey and colour), the cache, and one clear line for every
// bad folder, from the loader and from the command line.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { DataError } from "../../src/data/errors.js";
import { loadFolder } from "../../src/data/folder.js";
import { decodeImage } from "../../src/data/imageFile.js";
import { inspectDataset } from "../../src/data/inspect.js";
import { toFloat } from "../../src/data/pool.js";
import { invertsImages } from "../../src/data/shapes.js";
import { commandFor, flagsIn, flagsOf, runCli } from "../helpers/cliHarness.js";
import { hasOmniglot, NO_OMNIGLOT, omniglotDir, repoRoot, tempDir } from "../helpers/dataFixtures.js";
import { writeFolderDataset, writeImage } from "../helpers/folderFixtures.js";

const t = tempDir("folder");
after(t.cleanup);
const at = (name: string) => path.join(t.dir, name);
// The command-line cases load through the default cache folder: keep it in the temp folder.
process.env.METANAS_CACHE_DIR = at("cache-cli");
const quiet = { quiet: true, cacheDir: at("cache-quiet") };

/** Mean of an image's rows [y0, y1) over all columns, channel 0. */
function bandMean(img: Float32Array, size: number, y0: number, y1: number): number {
  let s = 0;
  for (let y = y0; y < y1; y++) for (let x = 0; x < size; x++) s += img[y * size + x]!;
  return s / ((y1 - y0) * size);
}

describe("folder dataset: loading", () => {
  const grey = at("grey");
  const colour = at("colour");
  before(async () => {
    await writeFolderDataset(grey, { classes: { train: 4, val: 3, test: 3 }, perClass: 5 });
    await writeFolderDataset(colour, { classes: { train: 3, test: 3 }, perClass: 3, colour: true });
  });

  it("reads every split, classes by folder name, any format and size resized to 28x28 grey", async () => {
    const ds = await loadFolder({ dir: grey, ...quiet });
    assert.equal(ds.name, "folder");
    assert.deepEqual(ds.imageShape, [1, 28, 28]);
    const { train, val, test } = ds.splits;
    assert.deepEqual([train.numClasses, val?.numClasses, test.numClasses], [4, 3, 3]);
    assert.deepEqual(
      Array.from({ length: 4 }, (_, c) => train.className!(c)),
      ["train-a", "train-b", "train-c", "train-d"],
    );
    assert.equal(test.classSize(2), 5);
    // Class c's bright bar sits in row band c % 4: brighter there than in the band below the bar.
    for (let c = 0; c < 4; c++) {
      for (let i = 0; i < 5; i++) {
        const img = train.image(c, i);
        const band = c % 4;
        const other = (band + 2) % 4;
        const on = bandMean(img, 28, band * 7 + 1, band * 7 + 6);
        const off = bandMean(img, 28, other * 7 + 1, other * 7 + 6);
        assert.ok(on > off + 0.4, `train class ${c} image ${i}: bar ${on.toFixed(2)}, elsewhere ${off.toFixed(2)}`);
      }
    }
    // Image 2 of a class is WebP, 4 GIF: each is what decoding the file gives.
    const file = path.join(grey, "test", "test-b", "img4.gif");
    assert.deepEqual(test.image(1, 4), toFloat(await decodeImage(file, [1, 28, 28], file)));
  });

  it("detects colour (84x84 RGB), and takes --image-colour and --image-size when given", async () => {
    const ds = await loadFolder({ dir: colour, ...quiet });
    assert.deepEqual(ds.imageShape, [3, 84, 84]);
    const small = await loadFolder({ dir: colour, ...quiet, imageColour: "grey", imageSize: 16 });
    assert.deepEqual(small.imageShape, [1, 16, 16]);
    const rgb = await loadFolder({ dir: grey, ...quiet, imageColour: "colour" });
    assert.deepEqual(rgb.imageShape, [3, 84, 84]);
    const img = rgb.splits.train.image(0, 0);
    const n = 84 * 84;
    assert.deepEqual(img.subarray(0, n), img.subarray(2 * n), "grey images in colour: equal channels");
  });

  it("follows symbolic links to class folders and images", async () => {
    const d = at("linked");
    mkdirSync(path.join(d, "train", "train-x"), { recursive: true });
    symlinkSync(path.join(grey, "test"), path.join(d, "test"));
    for (const c of ["train-a", "train-b"]) symlinkSync(path.join(grey, "train", c), path.join(d, "train", c));
    symlinkSync(path.join(grey, "train", "train-c", "img0.png"), path.join(d, "train", "train-x", "0.png"));
    const ds = await loadFolder({ dir: d, ...quiet });
    assert.deepEqual(
      Array.from({ length: 3 }, (_, c) => [ds.splits.train.className!(c), ds.splits.train.classSize(c)]),
      [
        ["train-a", 5],
        ["train-b", 5],
        ["train-x", 1],
      ],
    );
    assert.equal(ds.splits.test.numClasses, 3);
  });

  it("caches the decoded images; a changed or added image, or another setting, rebuilds the cache", async () => {
    const dir = at("cached");
    const cacheDir = at("cache-one");
    await writeFolderDataset(dir, { classes: { train: 3, test: 3 }, perClass: 3 });
    const load = async (o: { imageSize?: number } = {}) => {
      const lines: string[] = [];
      const ds = await loadFolder({ dir, cacheDir, log: (l) => lines.push(l), ...o });
      return { ds, log: lines.join("\n") };
    };
    const cold = await load();
    assert.match(cold.log, /folder: decoded 18 images to 28x28 grey/);
    assert.equal(readdirSync(cacheDir).length, 1, "one cache file for the folder");
    const warm = await load();
    assert.match(warm.log, /\(cached\)/);
    assert.doesNotMatch(warm.log, /decoded/);
    assert.deepEqual(warm.ds.splits.test.image(2, 1), cold.ds.splits.test.image(2, 1));
    utimesSync(path.join(dir, "train", "train-a", "img0.png"), new Date(), new Date(2001, 1, 1));
    assert.match((await load()).log, /decoded 18 images/, "a changed image (mtime) rebuilds");
    assert.match((await load()).log, /\(cached\)/);
    writeFileSync(path.join(dir, "test", "test-a", "notes.txt"), "not an image");
    const skipped = await load();
    assert.match(skipped.log, /\(cached\)/, "a file that is not an image changes nothing");
    assert.match(skipped.log, /skipped 1 file\(s\) that are not images by their ending \(test\/test-a\/notes\.txt\)/);
    writeFileSync(
      path.join(dir, "test", "test-a", "img9.png"),
      readFileSync(path.join(dir, "test", "test-b", "img0.png")),
    );
    const added = await load();
    assert.match(added.log, /decoded 19 images/, "an added image rebuilds");
    assert.equal(added.ds.splits.test.classSize(0), 4);
    assert.match((await load({ imageSize: 20 })).log, /decoded 19 images to 20x20 grey/, "another size rebuilds");
  });
});

describe("folder dataset: bad folders get one clear line", () => {
  const load = (dir: string) => loadFolder({ dir, ...quiet });
  const rejects = (dir: string, pattern: RegExp) =>
    assert.rejects(
      load(dir),
      (e: Error) => e instanceof DataError && pattern.test(e.message) && !e.message.includes("\n"),
    );

  it("a missing folder, a missing train/ or test/, a split without classes", async () => {
    await rejects(at("nope"), /folder dataset .*nope does not exist; pass --data-dir/);
    const d = at("layout");
    mkdirSync(path.join(d, "train", "a"), { recursive: true });
    await rejects(d, /has no test\/ folder; a folder dataset holds train\/, test\//);
    mkdirSync(path.join(d, "test"));
    await rejects(d, /test holds no class folders; put each class's images in a sub-folder/);
  });

  it("an empty class folder, and an unreadable image, named by their paths", async () => {
    const d = at("bad");
    await writeFolderDataset(d, { classes: { train: 3, test: 3 }, perClass: 2 });
    mkdirSync(path.join(d, "train", "train-empty"));
    await rejects(d, /class folder .*train\/train-empty holds no images .*add images to it or remove it/);
    rmSync(path.join(d, "train", "train-empty"), { recursive: true });
    writeFileSync(path.join(d, "test", "test-b", "broken.jpg"), "not a jpeg");
    await rejects(d, /cannot decode .*test\/test-b\/broken\.jpg \(.*\); replace the file/);
  });

  it("too few classes or too few images for the task shape: the command line says which flag to change", async () => {
    const d = at("small");
    await writeFolderDataset(d, { classes: { train: 4, test: 3 }, perClass: 3 });
    const cases: [string[], RegExp][] = [
      [
        ["search", "--ways", "4", "--train-shots", "1", "--queries", "1"],
        /4-way tasks need 4 classes but the split has only 3; use --ways 3 or fewer/,
      ],
      [
        ["search", "--ways", "3", "--train-shots", "2", "--queries", "2"],
        /class 0 \(train-a\) has only 3; lower --shots or --train-shots .* or --queries/,
      ],
    ];
    for (const [args, expected] of cases) {
      const full = [...args, "--dataset", "folder", "--data-dir", d, "--out", at("never")];
      const r = await runCli(full);
      assert.equal(r.code, 1);
      assert.match(r.error ?? "", expected);
      assert.equal((r.error ?? "").split("\n").length, 1);
      const flags = flagsOf(commandFor(full));
      for (const f of flagsIn(r.error ?? "")) assert.ok(flags.has(f), `${f} is a flag of search`);
    }
    assert.throws(() => readdirSync(at("never")), /ENOENT/, "no run directory was made");
  });

  it("--image-size with another dataset is refused", async () => {
    const r = await runCli(["search", "--image-size", "32", "--out", at("never2")]);
    assert.match(r.error ?? "", /imageSize \(--image-size\): applies to --dataset folder only/);
  });
});

describe("metanas data inspect --dataset folder", () => {
  it("counts classes and images per split and lists the classes too small for the task shape", async () => {
    const d = at("inspect");
    await writeFolderDataset(d, { classes: { train: 3, val: 2, test: 3 }, perClass: 4 });
    writeFileSync(path.join(d, "train", "train-a", "readme.txt"), "x");
    rmSync(path.join(d, "test", "test-c", "img3.png"));
    const s = await inspectDataset({
      name: "folder",
      dir: d,
      task: { ways: 3, shots: 1, trainShots: 2, queries: 2 },
    });
    assert.deepEqual(s.imageShape, [1, 28, 28]);
    assert.deepEqual(s.splits, {
      train: { classes: 3, images: 12 },
      val: { classes: 2, images: 8 },
      test: { classes: 3, images: 11 },
    });
    assert.equal(s.skipped, 1);
    assert.deepEqual(s.problems, ["val/ has 2 classes but 3-way tasks need 3: add class folders or lower --ways"]);
    const r = await runCli([
      "data",
      "inspect",
      "--dataset",
      "folder",
      "--data-dir",
      d,
      "--ways",
      "3",
      "--queries",
      "3",
    ]);
    assert.equal(r.code, 0, r.error ?? "");
    assert.match(r.stdout, /train +3 classes +12 images/);
    assert.match(
      r.stdout,
      /train\/: 3 class\(es\) have fewer than the 8 images a task takes \(--train-shots 5 \+ --queries 3\)/,
    );
    assert.match(r.stdout, /test\/: 1 class\(es\) have fewer than the 4 images .*: test-c \(3\)/);
    const flags = flagsOf(commandFor(["data", "inspect"]));
    for (const f of flagsIn(r.stdout)) assert.ok(flags.has(f), `${f} is a flag of data inspect`);
  });
});

describe("images for runs of Omniglot or the built-in characters", () => {
  it("are inverted (strokes bright) as those datasets' images are", async () => {
    const white = path.join(t.dir, "white.png");
    await writeImage(white, Buffer.alloc(30 * 30, 255), 30, 1);
    assert.deepEqual(
      [invertsImages("omniglot"), invertsImages("builtin"), invertsImages("folder")],
      [true, true, false],
    );
    const plain = await decodeImage(white, [1, 28, 28], white);
    const inverted = await decodeImage(white, [1, 28, 28], white, { invert: true });
    assert.ok(plain.every((v) => v === 255));
    assert.ok(inverted.every((v) => v === 0));
  });
});

describe("scripts/omniglot-to-folder.mjs (real Omniglot zips)", { skip: !hasOmniglot && NO_OMNIGLOT }, () => {
  it("writes whole alphabets as train/ and test/ and a new task, which load as a folder dataset", async () => {
    const out = at("omniglot-folder");
    const args = ["--data-dir", omniglotDir, "--out", out, "--train", "1", "--val", "0", "--test", "1", "--ways", "3"];
    const r = spawnSync(process.execPath, [path.join(repoRoot, "scripts/omniglot-to-folder.mjs"), ...args], {
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^train: Alphabet_of_the_Magi \(20 classes, 400 images\)$/m);
    assert.match(r.stdout, /^test: Angelic \(20 classes, 400 images\)$/m);
    assert.deepEqual(readdirSync(path.join(out, "new-task", "support")), [
      "Atemayar_Qelisayer-character01",
      "Atemayar_Qelisayer-character02",
      "Atemayar_Qelisayer-character03",
    ]);
    assert.equal(readdirSync(path.join(out, "new-task", "query")).length, 6);
    const ds = await loadFolder({ dir: out, ...quiet });
    assert.deepEqual(ds.imageShape, [1, 28, 28]);
    assert.equal(ds.splits.train.className!(0), "Alphabet_of_the_Magi-character01");
    assert.equal(ds.splits.val, undefined);
  });
});
