// CIFAR-10 in its binary and Python layouts, written by the tests, and bad files; the download
// (MD5-checked tarball, unpacked) against a local HTTP server; data inspect on the command line.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { create } from "tar";
import { loadCifar10, parseBinaryBatch, parsePythonBatch } from "../../src/data/cifar10.js";
import { CIFAR10_ARCHIVES, downloadCifar10 } from "../../src/data/cifar10Download.js";
import { DataError } from "../../src/data/errors.js";
import {
  type Batch,
  binaryBatch,
  hasNumpy,
  PIXELS,
  python2Pickle,
  repickle,
  writeCifar,
} from "../helpers/cifar10Fixtures.js";
import { repoRoot, tempDir } from "../helpers/dataFixtures.js";

const t = tempDir("cifar10");
after(() => t.cleanup());
const RECORDS = 20;

/** The pool holds every written image under its label, in file order, as floats in [0, 1]. */
function assertHolds(ds: Awaited<ReturnType<typeof loadCifar10>>, batches: Batch[]): void {
  const { train, test } = ds.splits;
  assert.deepEqual(ds.imageShape, [3, 32, 32]);
  assert.equal(train.numClasses, 10);
  const expect = (split: Batch[]) => {
    const byClass: Uint8Array[][] = Array.from({ length: 10 }, () => []);
    for (const b of split)
      b.labels.forEach((y, i) => {
        byClass[y]!.push(b.pixels.subarray(i * PIXELS, (i + 1) * PIXELS));
      });
    return byClass;
  };
  for (const [pool, split] of [
    [train, batches.slice(0, 5)],
    [test, batches.slice(5)],
  ] as const) {
    const want = expect(split);
    for (let c = 0; c < 10; c++) {
      assert.equal(pool.classSize(c), want[c]!.length);
      for (let i = 0; i < want[c]!.length; i++) {
        const img = pool.image(c, i);
        assert.equal(img.length, PIXELS);
        assert.ok([0, 1000, 3071].every((k) => Math.abs(img[k]! - want[c]![i]![k]! / 255) < 1e-7));
      }
    }
  }
  assert.equal(pool0Name(ds), "airplane");
}
const pool0Name = (ds: Awaited<ReturnType<typeof loadCifar10>>) => ds.splits.train.className?.(0);

describe("CIFAR-10 layouts", () => {
  it("reads the binary batches (cifar-10-batches-bin)", async () => {
    const dir = path.join(t.dir, "bin");
    const batches = writeCifar(dir, "binary", RECORDS);
    const ds = await loadCifar10({ dir, recordsPerBatch: RECORDS });
    assert.equal(ds.layout, "binary");
    assertHolds(ds, batches);
  });

  it("reads the Python batches as Python 2 pickled them (cifar-10-batches-py)", async () => {
    const dir = path.join(t.dir, "py2");
    const batches = writeCifar(dir, "python", RECORDS);
    const ds = await loadCifar10({ dir, recordsPerBatch: RECORDS });
    assert.equal(ds.layout, "python");
    assertHolds(ds, batches);
    // The batches folder itself may be given.
    const direct = await loadCifar10({ dir: path.join(dir, "cifar-10-batches-py"), recordsPerBatch: RECORDS });
    assertHolds(direct, batches);
  });

  for (const protocol of [2, 4, 5]) {
    it(`reads Python batches re-pickled by Python 3 + numpy, protocol ${protocol}`, {
      skip: !hasNumpy && "skipped: no python3 with numpy",
    }, async () => {
      const dir = path.join(t.dir, `py3-${protocol}`);
      const batches = writeCifar(dir, "binary", RECORDS);
      repickle(path.join(dir, "cifar-10-batches-bin"), path.join(dir, "py", "cifar-10-batches-py"), protocol);
      const ds = await loadCifar10({ dir: path.join(dir, "py"), recordsPerBatch: RECORDS });
      assert.equal(ds.layout, "python");
      assertHolds(ds, batches);
    });
  }
});

describe("CIFAR-10 bad files: one line naming the file and the fix", () => {
  const b: Batch = { labels: Array.from({ length: 4 }, (_, i) => i), pixels: new Uint8Array(4 * PIXELS).fill(9) };
  const rejects = (f: () => unknown, pattern: RegExp) =>
    assert.throws(f, (e: Error) => e instanceof DataError && pattern.test(e.message) && !e.message.includes("\n"));

  it("a truncated or oversized binary batch", () => {
    const good = binaryBatch(b);
    rejects(
      () => parseBinaryBatch(good.subarray(0, good.length - 100), "x.bin", 4),
      /x\.bin holds 12192 bytes, expected 12292 .*truncated/,
    );
    rejects(
      () => parseBinaryBatch(Buffer.concat([good, Buffer.alloc(1)]), "x.bin", 4),
      /holds 12293 bytes, expected 12292/,
    );
    // Whole records, but not the batch's 10,000 (a canonical file cut at a record boundary).
    rejects(() => parseBinaryBatch(good, "x.bin", 10000), /expected 30730000 \(10000 records/);
  });

  it("a label outside 0-9", () => {
    const bad = binaryBatch({ ...b, labels: [0, 1, 12, 3] });
    rejects(() => parseBinaryBatch(bad, "x.bin", 4), /image 2 has label 12, but CIFAR-10's are 0-9/);
  });

  it("a truncated, foreign or misshapen Python batch", () => {
    const good = python2Pickle(b, "b");
    assert.equal(parsePythonBatch(good, "p", 4).count, 4);
    rejects(
      () => parsePythonBatch(good.subarray(0, good.length - 50), "p", 4),
      /p is not a CIFAR-10 Python batch \(the file ends in the middle/,
    );
    rejects(
      () => parsePythonBatch(Buffer.from("not a pickle"), "p", 4),
      /p is not a CIFAR-10 Python batch \(unsupported pickle opcode/,
    );
    rejects(() => parsePythonBatch(good, "p", 5), /4 images and 4 labels, expected 5 of each/);
    // A pickle that names another class (here: os.system) is refused, never called.
    rejects(() => parsePythonBatch(Buffer.from("\x80\x02cos\nsystem\nq\x00.", "latin1"), "p", 4), /names os\.system/);
  });

  it("a missing batch and a folder without CIFAR-10", async () => {
    const dir = path.join(t.dir, "missing");
    writeCifar(dir, "binary", 4);
    const { rmSync } = await import("node:fs");
    rmSync(path.join(dir, "cifar-10-batches-bin", "test_batch.bin"));
    await assert.rejects(
      loadCifar10({ dir, recordsPerBatch: 4 }),
      /test_batch\.bin is missing .*metanas data download cifar10 --data-dir/,
    );
    mkdirSync(path.join(t.dir, "empty"));
    await assert.rejects(
      loadCifar10({ dir: path.join(t.dir, "empty") }),
      /no CIFAR-10 batches in .*cifar-10-batches-bin/,
    );
  });
});

describe("data download cifar10 (local HTTP server)", () => {
  const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex");
  let tarball = Buffer.alloc(0);
  let base = "";
  const server = http.createServer((req, res) => {
    if (path.posix.basename(req.url ?? "") !== CIFAR10_ARCHIVES.binary.file) return void res.writeHead(404).end();
    res.writeHead(200, { "content-length": tarball.length }).end(tarball);
  });
  before(async () => {
    const src = path.join(t.dir, "tar-src");
    writeCifar(src, "binary", 4);
    writeFileSync(path.join(src, "stray.txt"), "not part of the dataset");
    const file = path.join(t.dir, "cifar.tar.gz");
    await create({ gzip: true, file, cwd: src }, ["cifar-10-batches-bin", "stray.txt"]);
    tarball = readFileSync(file);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/kriz/`;
  });
  after(() => server.close());

  it("knows the published MD5 sums of both tarballs", () => {
    assert.equal(CIFAR10_ARCHIVES.python.md5, "c58f30108f718f92721af3b95e74349a");
    assert.equal(CIFAR10_ARCHIVES.binary.md5, "c32a1d4ab5d03f1284b67883e8d87530");
  });

  it("fetches the tarball, checks its MD5, unpacks the batches folder only, and keeps what is valid", async () => {
    const dir = path.join(t.dir, "dl");
    const first = await downloadCifar10({ dir, layout: "binary", baseUrl: base, md5: md5(tarball), quiet: true });
    assert.deepEqual(
      first.map((r) => r.status),
      ["downloaded", "extracted"],
    );
    assert.deepEqual(readdirSync(dir).sort(), ["cifar-10-batches-bin", "cifar-10-binary.tar.gz"]);
    assert.equal((await loadCifar10({ dir, recordsPerBatch: 4 })).splits.test.numClasses, 10);
    const second = await downloadCifar10({ dir, layout: "binary", baseUrl: base, md5: md5(tarball), quiet: true });
    assert.deepEqual(
      second.map((r) => r.status),
      ["present", "present"],
    );
  });

  it("refuses a tarball whose MD5 is not the published one, leaving nothing behind", async () => {
    const dir = path.join(t.dir, "dl-bad");
    await assert.rejects(
      downloadCifar10({ dir, layout: "binary", baseUrl: base, quiet: true }),
      (e: Error) =>
        e instanceof DataError && /has MD5 [0-9a-f]{32}, expected c32a1d4ab5d03f1284b67883e8d87530/.test(e.message),
    );
    assert.deepEqual(readdirSync(dir), []);
  });
});

describe("metanas data inspect --dataset cifar10", () => {
  it("reads the canonical-size binary batches and reports 50,000 / 10,000 images", () => {
    const dir = path.join(t.dir, "full");
    const folder = path.join(dir, "cifar-10-batches-bin");
    mkdirSync(folder, { recursive: true });
    // 10,000 records per file, as the canonical batches; labels cycle 0..9.
    const buf = Buffer.alloc(10000 * (PIXELS + 1), 128);
    for (let i = 0; i < 10000; i++) buf[i * (PIXELS + 1)] = i % 10;
    for (const name of ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"])
      writeFileSync(path.join(folder, `${name}.bin`), buf);
    const cli = path.join(repoRoot, "dist/src/cli/main.js");
    const r = spawnSync(
      process.execPath,
      [cli, "data", "inspect", "--dataset", "cifar10", "--data-dir", dir, "--json"],
      { encoding: "utf8" },
    );
    assert.equal(r.status, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.equal(s.layout, "binary");
    assert.deepEqual(s.splits, { train: { classes: 10, images: 50000 }, test: { classes: 10, images: 10000 } });
    // A truncated batch: one line, naming the file.
    writeFileSync(path.join(folder, "data_batch_3.bin"), buf.subarray(0, 1000));
    const bad = spawnSync(process.execPath, [cli, "data", "inspect", "--dataset", "cifar10", "--data-dir", dir], {
      encoding: "utf8",
    });
    assert.equal(bad.status, 1);
    assert.match(
      bad.stderr.trim(),
      /^metanas: .*data_batch_3\.bin holds 1000 bytes, expected 30730000 .*metanas data download cifar10 --data-dir/,
    );
    assert.equal(bad.stderr.trim().split("\n").length, 1);
    assert.ok(existsSync(folder));
  });
});
