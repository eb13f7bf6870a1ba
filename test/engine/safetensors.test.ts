// safetensors: round trips, the byte layout (parsed independently here), atomic writes, and
// hostile or truncated inputs that must give a SafetensorsError, never a crash.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import {
  decodeSafetensors,
  dispose,
  encodeSafetensors,
  liveTensors,
  loadSafetensors,
  SafetensorsError,
  saveSafetensors,
  type Tensor,
  tensor,
  tidy,
  writeFileAtomic,
} from "../../src/engine/index.js";
import { native } from "../../src/engine/native.js";

const dir = mkdtempSync(path.join(tmpdir(), "metanas-st-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const sample = () => ({
  f32: tensor([1.5, -2.25, 3, 0.1], [2, 2]),
  f64: tensor([Math.PI, -1e-300, 1e300], [3], "float64"),
  i64: tensor([2 ** 40, -7, 0, 2 ** 53 - 1], [4, 1], "int64"),
  u8: tensor([0, 255, 7], [3], "uint8"),
  i32: tensor([-(2 ** 31), 5], [2], "int32"),
  flag: tensor([1, 0], [2], "bool"),
  empty: tensor([], [0, 3]),
});

/** Builds a file from a header object and a data section, as a hostile writer would. */
function craft(header: unknown, data: Uint8Array = new Uint8Array(0), headerLen?: bigint): Buffer {
  const json = Buffer.from(typeof header === "string" ? header : JSON.stringify(header));
  const out = Buffer.alloc(8 + json.length + data.length);
  out.writeBigUInt64LE(headerLen ?? BigInt(json.length), 0);
  json.copy(out, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe("safetensors round trip and layout", () => {
  test("float32, float64, int64, uint8, int32, bool and empty tensors with metadata survive save/load", () =>
    tidy(() => {
      const s = sample();
      const file = path.join(dir, "round.safetensors");
      saveSafetensors(file, s, { format: "pt", note: "héllo" });
      const loaded = loadSafetensors(file);
      assert.deepEqual(loaded.metadata, { format: "pt", note: "héllo" });
      assert.deepEqual([...loaded.tensors.keys()].sort(), Object.keys(s).sort());
      for (const [name, t] of Object.entries(s)) {
        const u = loaded.tensors.get(name)!;
        assert.equal(u.dtype, t.dtype, name);
        assert.deepEqual(u.shape, t.shape, name);
        assert.deepEqual(Buffer.from(native.toBytes(u.id)), Buffer.from(native.toBytes(t.id)), `${name}: bytes`);
      }
      // int64 beyond 32 bits: compare exactly through float64 (values < 2^53)
      assert.deepEqual(Array.from(loaded.tensors.get("i64")!.to("float64").data()), [2 ** 40, -7, 0, 2 ** 53 - 1]);
      assert.deepEqual(Array.from(loaded.tensors.get("f64")!.data()), [Math.PI, -1e-300, 1e300]);
      dispose(loaded.tensors);
    }));

  test("the byte layout follows the spec: u64 LE header length, JSON header, data_offsets into the data section", () =>
    tidy(() => {
      const s = sample();
      const buf = encodeSafetensors(s, { k: "v" });
      const n = Number(buf.readBigUInt64LE(0));
      assert.equal((8 + n) % 8, 0, "data section starts 8-byte aligned");
      const headerText = buf.subarray(8, 8 + n).toString("utf8");
      assert.match(headerText, /^\{/);
      const header = JSON.parse(headerText) as Record<
        string,
        { dtype: string; shape: number[]; data_offsets: [number, number] }
      >;
      assert.deepEqual(header.__metadata__, { k: "v" } as unknown);
      const data = buf.subarray(8 + n);
      const codes: Record<string, string> = {
        f32: "F32",
        f64: "F64",
        i64: "I64",
        u8: "U8",
        i32: "I32",
        flag: "BOOL",
        empty: "F32",
      };
      let covered = 0;
      for (const [name, t] of Object.entries(s)) {
        const h = header[name]!;
        assert.equal(h.dtype, codes[name]);
        assert.deepEqual(h.shape, t.shape);
        const [b, e] = h.data_offsets;
        covered += e - b;
        const bytes = data.subarray(b, e);
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        const read = (i: number): number => {
          switch (h.dtype) {
            case "F32":
              return view.getFloat32(i * 4, true);
            case "F64":
              return view.getFloat64(i * 8, true);
            case "I64":
              return Number(view.getBigInt64(i * 8, true));
            case "I32":
              return view.getInt32(i * 4, true);
            default:
              return view.getUint8(i);
          }
        };
        const count = t.shape.reduce((a, c) => a * c, 1);
        const got = Array.from({ length: count }, (_, i) => read(i));
        const want = name === "i64" ? [2 ** 40, -7, 0, 2 ** 53 - 1] : Array.from(t.data());
        assert.deepEqual(got, want, name);
      }
      assert.equal(covered, data.length, "the data section holds exactly the tensors");
    }));

  test("decoding a buffer that does not start at offset 0 of its ArrayBuffer", () =>
    tidy(() => {
      const inner = encodeSafetensors({ a: tensor([1, 2, 3], [3], "float64") });
      const big = new Uint8Array(inner.length + 3);
      big.set(inner, 3);
      const r = decodeSafetensors(big.subarray(3));
      assert.deepEqual(Array.from(r.tensors.get("a")!.data()), [1, 2, 3]);
      dispose(r.tensors);
    }));
});

describe("atomic writes", () => {
  test("saving leaves no temporary file and replaces an existing file by rename", () =>
    tidy(() => {
      const file = path.join(dir, "atomic.safetensors");
      writeFileSync(file, "old contents");
      const inodeBefore = statSync(file).ino;
      saveSafetensors(file, { a: tensor([1, 2]) });
      assert.notEqual(statSync(file).ino, inodeBefore, "a new file was renamed over the old one");
      assert.deepEqual(Array.from(loadSafetensors(file).tensors.get("a")!.data()), [1, 2]);
      assert.deepEqual(
        readdirSync(dir).filter((f) => f.includes(".tmp")),
        [],
      );
    }));
  test("a write that fails midway leaves the existing file whole and no temporary file", () => {
    const file = path.join(dir, "keep.txt");
    writeFileSync(file, "precious");
    // a number is not writable data: the failure comes after the temporary file was opened
    assert.throws(() => writeFileAtomic(file, 12345 as unknown as string));
    assert.equal(readFileSync(file, "utf8"), "precious");
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.startsWith("keep.txt.")),
      [],
    );
    assert.throws(() => writeFileAtomic(path.join(dir, "no-such-dir", "x"), "data"), /ENOENT/);
  });
  test("loading a missing file is a SafetensorsError", () => {
    assert.throws(
      () => loadSafetensors(path.join(dir, "missing.safetensors")),
      (e: unknown) => e instanceof SafetensorsError && /ENOENT/.test(e.message),
    );
  });
});

describe("hostile and truncated inputs", () => {
  const good = () =>
    tidy(() => encodeSafetensors({ a: tensor([1, 2, 3, 4], [2, 2]), b: tensor([5, 6], [2], "float64") }));
  const f32x4 = new Uint8Array(16);
  const cases: [string, () => Uint8Array, RegExp][] = [
    ["empty buffer", () => new Uint8Array(0), /only 0 bytes/],
    ["fewer than 8 bytes", () => new Uint8Array(5), /only 5 bytes/],
    ["truncated data section", () => good().subarray(0, good().length - 4), /outside the .*data section/],
    ["truncated inside the header", () => good().subarray(0, 20), /header length \d+ exceeds the file/],
    [
      "header length larger than the file",
      () => craft({}, new Uint8Array(0), 1000n),
      /header length 1000 exceeds the file/,
    ],
    ["header length 2^64 - 1", () => craft({}, new Uint8Array(0), 2n ** 64n - 1n), /exceeds the file/],
    ["non-JSON header", () => craft("{not json"), /header is not JSON/],
    ["JSON header that is an array", () => craft([1, 2]), /header is not an object/],
    ["JSON header that is null", () => craft("null"), /header is not an object/],
    [
      "offsets beyond the data section",
      () => craft({ a: { dtype: "F32", shape: [4], data_offsets: [8, 24] } }, f32x4),
      /outside the 16-byte data section/,
    ],
    ["begin after end", () => craft({ a: { dtype: "F32", shape: [0], data_offsets: [12, 8] } }, f32x4), /outside/],
    [
      "negative offset",
      () => craft({ a: { dtype: "F32", shape: [1], data_offsets: [-4, 0] } }, f32x4),
      /bad data_offsets/,
    ],
    [
      "fractional offset",
      () => craft({ a: { dtype: "F32", shape: [1], data_offsets: [0.5, 4.5] } }, f32x4),
      /bad data_offsets/,
    ],
    [
      "offsets of the wrong arity",
      () => craft({ a: { dtype: "F32", shape: [1], data_offsets: [0] } }, f32x4),
      /bad data_offsets/,
    ],
    [
      "overlapping offsets",
      () =>
        craft(
          {
            a: { dtype: "F32", shape: [3], data_offsets: [0, 12] },
            b: { dtype: "F32", shape: [2], data_offsets: [8, 16] },
          },
          f32x4,
        ),
      /overlap/,
    ],
    [
      "byte count wrong for the shape",
      () => craft({ a: { dtype: "F32", shape: [3], data_offsets: [0, 16] } }, f32x4),
      /16 bytes for shape \[3\]/,
    ],
    [
      "shape whose product overflows",
      () => craft({ a: { dtype: "F32", shape: [2 ** 40, 2 ** 40], data_offsets: [0, 16] } }, f32x4),
      /bytes for shape/,
    ],
    [
      "negative dimension",
      () => craft({ a: { dtype: "F32", shape: [-4], data_offsets: [0, 16] } }, f32x4),
      /bad shape/,
    ],
    [
      "shape that is not an array",
      () => craft({ a: { dtype: "F32", shape: "4", data_offsets: [0, 16] } }, f32x4),
      /bad shape/,
    ],
    [
      "unknown dtype",
      () => craft({ a: { dtype: "F16", shape: [8], data_offsets: [0, 16] } }, f32x4),
      /unsupported dtype F16/,
    ],
    [
      "dtype naming an Object prototype key",
      () => craft({ a: { dtype: "constructor", shape: [4], data_offsets: [0, 16] } }, f32x4),
      /unsupported dtype constructor/,
    ],
    ["tensor entry that is not an object", () => craft({ a: 5 }, f32x4), /unsupported dtype/],
    ["tensor entry that is null", () => craft({ a: null }, f32x4), /unsupported dtype/],
    ["metadata value that is not a string", () => craft({ __metadata__: { k: 1 } }), /metadata k is not a string/],
    ["metadata that is not an object", () => craft({ __metadata__: "x" }), /__metadata__ is not an object/],
  ];
  for (const [name, make, re] of cases) {
    test(`${name} -> SafetensorsError`, () => {
      const live = liveTensors();
      assert.throws(
        () => decodeSafetensors(make(), "bad.safetensors"),
        (e: unknown) => {
          assert.ok(e instanceof SafetensorsError, `got ${String(e)}`);
          assert.match(e.message, /^bad\.safetensors: not a valid safetensors file/);
          assert.match(e.message, re);
          return true;
        },
      );
      assert.equal(liveTensors(), live, "no tensor created by a rejected file");
    });
  }
  test("a truncated file on disk -> SafetensorsError naming the file", () =>
    tidy(() => {
      const file = path.join(dir, "cut.safetensors");
      writeFileSync(file, good().subarray(0, 40));
      assert.throws(
        () => loadSafetensors(file),
        (e: unknown) => e instanceof SafetensorsError && e.message.startsWith(file),
      );
    }));
  test("every prefix of a valid file is rejected cleanly, and the full file loads", () => {
    const full = good();
    for (let cut = 0; cut < full.length; cut++) {
      assert.throws(() => decodeSafetensors(full.subarray(0, cut)), SafetensorsError, `prefix of ${cut} bytes`);
    }
    const r = decodeSafetensors(full);
    assert.deepEqual(Array.from(r.tensors.get("b")!.data()), [5, 6]);
    dispose(r.tensors);
  });
  test("random byte flips in the header never crash: either a valid load or a SafetensorsError", () => {
    const full = good();
    const n = Number(full.readBigUInt64LE(0));
    let rejected = 0;
    for (let i = 0; i < 400; i++) {
      const copy = Buffer.from(full);
      const at = 8 + ((i * 7919) % n);
      copy[at] = (copy[at]! + 1 + (i % 200)) & 0xff;
      try {
        dispose(decodeSafetensors(copy).tensors);
      } catch (e) {
        assert.ok(e instanceof SafetensorsError, `flip at ${at}: ${String(e)}`);
        rejected++;
      }
    }
    assert.ok(rejected > 100);
  });
});

export type { Tensor };
