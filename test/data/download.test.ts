import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { downloadOmniglot } from "../../src/data/download.js";
import { DataError } from "../../src/data/errors.js";
import { repoRoot, tempDir } from "../helpers/dataFixtures.js";

const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex");

describe("data download omniglot (local HTTP server)", () => {
  const files: Record<string, Buffer> = {
    "images_background.zip": Buffer.alloc(300_000, 7),
    "images_evaluation.zip": Buffer.from("evaluation bytes"),
  };
  const sums = Object.fromEntries(Object.entries(files).map(([k, v]) => [k, md5(v)]));
  const requests: string[] = [];
  let base = "";
  const server = http.createServer((req, res) => {
    const name = path.posix.basename(req.url ?? "");
    requests.push(name);
    const body = files[name];
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-length": body.length }).end(body);
  });
  const t = tempDir("dl");
  before(async () => {
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/omniglot/python/`;
  });
  after(() => {
    server.close();
    t.cleanup();
  });

  it("fetches both zips, checks their MD5, and skips files already present and valid", async () => {
    const dir = path.join(t.dir, "good");
    requests.length = 0;
    const first = await downloadOmniglot({ dir, baseUrl: base, md5: sums, quiet: true });
    assert.deepEqual(
      first.map((r) => r.status),
      ["downloaded", "downloaded"],
    );
    assert.deepEqual(readFileSync(path.join(dir, "images_background.zip")), files["images_background.zip"]);
    assert.deepEqual(requests, ["images_background.zip", "images_evaluation.zip"]);
    const second = await downloadOmniglot({ dir, baseUrl: base, md5: sums, quiet: true });
    assert.deepEqual(
      second.map((r) => r.status),
      ["present", "present"],
    );
    assert.equal(requests.length, 2, "nothing fetched the second time");
    // A damaged file is fetched again.
    writeFileSync(path.join(dir, "images_evaluation.zip"), "damaged");
    const third = await downloadOmniglot({ dir, baseUrl: base, md5: sums, quiet: true });
    assert.deepEqual(
      third.map((r) => r.status),
      ["present", "downloaded"],
    );
    assert.deepEqual(readFileSync(path.join(dir, "images_evaluation.zip")), files["images_evaluation.zip"]);
  });

  it("refuses a file with the wrong checksum and leaves nothing behind", async () => {
    const dir = path.join(t.dir, "bad");
    const wrong = { ...sums, "images_background.zip": "0".repeat(32) };
    await assert.rejects(
      downloadOmniglot({ dir, baseUrl: base, md5: wrong, quiet: true }),
      (e: Error) => e instanceof DataError && /has MD5 [0-9a-f]{32}, expected 0{32}/.test(e.message),
    );
    assert.deepEqual(readdirSync(dir), [], "no file, no temp file");
  });

  it("reports an HTTP error clearly", async () => {
    const dir = path.join(t.dir, "404");
    await assert.rejects(
      downloadOmniglot({ dir, baseUrl: `${base}missing/`, md5: { "nope.zip": "0".repeat(32) }, quiet: true }),
      /HTTP 404/,
    );
    assert.ok(!existsSync(path.join(dir, "nope.zip")));
  });

  it("works from the command line with --base-url (checksums from the environment's defaults fail cleanly)", async () => {
    const dir = path.join(t.dir, "cli");
    const run = promisify(execFile);
    const main = path.join(repoRoot, "dist/src/cli/main.js");
    await assert.rejects(
      run(process.execPath, [main, "data", "download", "omniglot", "--data-dir", dir, "--base-url", base, "--quiet"]),
      (e: { stderr: string }) => /^metanas: .*has MD5 .* expected 68d2efa1b9178cc56df9314c21c6e718/.test(e.stderr),
    );
    assert.deepEqual(readdirSync(dir), []);
  });
});

describe("data inspect (command line)", () => {
  it("prints per-split classes and images as one JSON object", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [
      path.join(repoRoot, "dist/src/cli/main.js"),
      "data",
      "inspect",
      "--dataset",
      "builtin",
      "--json",
    ]);
    const j = JSON.parse(stdout);
    assert.deepEqual(j.splits, {
      train: { classes: 1050, images: 21000 },
      val: { classes: 150, images: 3000 },
      test: { classes: 300, images: 6000 },
    });
  });

  it("fails with one line for a missing folder", async () => {
    await assert.rejects(
      promisify(execFile)(process.execPath, [
        path.join(repoRoot, "dist/src/cli/main.js"),
        "data",
        "inspect",
        "--dataset",
        "omniglot",
        "--dir",
        "/no/such/dir",
      ]),
      (e: { stderr: string }) =>
        e.stderr.trim().split("\n").length === 1 && /^metanas: .*does not exist/.test(e.stderr),
    );
  });
});
