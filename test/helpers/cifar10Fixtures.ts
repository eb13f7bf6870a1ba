// CIFAR-10 batches in the two canonical layouts, written by the tests (these machines have no
// CIFAR-10): the binary records, the Python 2 cPickle stream the canonical Python batches are
// (written here opcode by opcode, as cPickle.dump(d, f, 2) writes a dict of str, list and uint8
// array), and the same dict re-pickled by Python 3 + numpy when they are installed.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

export const PIXELS = 3072;
export const BATCHES = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"];

export interface Batch {
  labels: number[];
  pixels: Uint8Array;
}

/** A batch of `n` records whose labels cycle through 0..9 from `offset` and whose pixels depend on (batch, record). */
export function makeBatch(n: number, batch: number): Batch {
  const labels = Array.from({ length: n }, (_, i) => (i * 7 + batch * 3) % 10);
  const pixels = new Uint8Array(n * PIXELS);
  for (let i = 0; i < n; i++)
    for (let k = 0; k < PIXELS; k++) pixels[i * PIXELS + k] = (i * 31 + k * 7 + batch * 13) & 0xff;
  return { labels, pixels };
}

export function binaryBatch(b: Batch): Buffer {
  const out = Buffer.alloc(b.labels.length * (PIXELS + 1));
  b.labels.forEach((y, i) => {
    out[i * (PIXELS + 1)] = y;
    out.set(b.pixels.subarray(i * PIXELS, (i + 1) * PIXELS), i * (PIXELS + 1) + 1);
  });
  return out;
}

/** Python 2 cPickle protocol 2 of {'batch_label': str, 'labels': [int], 'data': uint8 array, 'filenames': [str]}. */
export function python2Pickle(b: Batch, label: string): Buffer {
  const parts: number[][] = [];
  let memo = 1;
  const put = () => {
    const m = memo++;
    parts.push(m < 256 ? [0x71, m] : [0x72, m & 0xff, (m >> 8) & 0xff, (m >> 16) & 0xff, m >>> 24]);
  };
  const ascii = (s: string) => Array.from(Buffer.from(s, "latin1"));
  const str = (s: string) => {
    parts.push(s.length < 256 ? [0x55, s.length, ...ascii(s)] : [0x54, ...u32(s.length), ...ascii(s)]);
    put();
  };
  const u32 = (n: number) => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24];
  const int = (n: number) => parts.push(n < 256 ? [0x4b, n] : [0x4d, n & 0xff, n >> 8]);
  const n = b.labels.length;
  parts.push([0x80, 2, 0x7d]);
  put();
  parts.push([0x28]);
  str("batch_label");
  str(label);
  str("labels");
  parts.push([0x5d]);
  put();
  parts.push([0x28]);
  for (const y of b.labels) int(y);
  parts.push([0x65]);
  str("data");
  parts.push([0x63, ...ascii("numpy.core.multiarray\n_reconstruct\n")]);
  put();
  parts.push([0x63, ...ascii("numpy\nndarray\n")]);
  put();
  parts.push([0x4b, 0, 0x85, 0x55, 1, 0x62, 0x87, 0x52]);
  put();
  parts.push([0x28, 0x4b, 1]);
  int(n);
  int(PIXELS);
  parts.push([0x86, 0x63, ...ascii("numpy\ndtype\n")]);
  put();
  parts.push([0x55, 2, ...ascii("u1"), 0x4b, 0, 0x4b, 1, 0x87, 0x52]);
  put();
  parts.push([0x28, 0x4b, 3, 0x55, 1, 0x7c, 0x4e, 0x4e, 0x4e, 0x4a, 255, 255, 255, 255, 0x4a, 255, 255, 255, 255]);
  parts.push([0x4b, 0, 0x74, 0x62, 0x89]);
  const head = Buffer.from(parts.flat());
  // The pixels as one Python 2 str (BINSTRING), then the state tuple is closed and set.
  const tail: number[][] = [[0x74, 0x62]];
  parts.length = 0;
  str("filenames");
  parts.push([0x5d]);
  put();
  parts.push([0x28]);
  for (let i = 0; i < n; i++) str(`image_${i}.png`);
  parts.push([0x65, 0x75, 0x2e]);
  return Buffer.concat([
    head,
    Buffer.from([0x54, ...u32(b.pixels.length)]),
    b.pixels,
    Buffer.from(tail.flat()),
    Buffer.from(parts.flat()),
  ]);
}

/** Writes the six batches in a layout's folder under `dir`; returns the batches written. */
export function writeCifar(dir: string, layout: "binary" | "python", records: number): Batch[] {
  const folder = path.join(dir, layout === "binary" ? "cifar-10-batches-bin" : "cifar-10-batches-py");
  mkdirSync(folder, { recursive: true });
  return BATCHES.map((name, k) => {
    const b = makeBatch(records, k);
    if (layout === "binary") writeFileSync(path.join(folder, `${name}.bin`), binaryBatch(b));
    else writeFileSync(path.join(folder, name), python2Pickle(b, name));
    return b;
  });
}

const PY = "/usr/bin/python3";
/** Whether Python 3 with numpy can write the re-pickled layout here. */
export const hasNumpy = spawnSync(PY, ["-c", "import numpy"]).status === 0;

/** Re-pickles the binary batches of `from` with Python 3 + numpy at a protocol, as `pickle.load(f, encoding="bytes")` reads them. */
export function repickle(from: string, to: string, protocol: number): void {
  const script = `
import numpy as np, pickle, sys, os
src, dst, proto = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(dst, exist_ok=True)
for name in ${JSON.stringify(BATCHES)}:
    raw = np.fromfile(os.path.join(src, name + ".bin"), dtype=np.uint8).reshape(-1, 3073)
    d = {b"batch_label": name.encode(), b"labels": [int(y) for y in raw[:, 0]], b"data": np.ascontiguousarray(raw[:, 1:]), b"filenames": [b"x.png"] * len(raw)}
    with open(os.path.join(dst, name), "wb") as f:
        pickle.dump(d, f, protocol=proto)
`;
  const r = spawnSync(PY, ["-c", script, from, to, String(protocol)], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr}`);
}
