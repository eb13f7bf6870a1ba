// Named tensors in the safetensors format (readable by Python's safetensors and PyTorch).
// Written atomically; read with a validated header so that a truncated or hostile file gets a
// clear error rather than a crash or an out-of-bounds read. Optionally sealed with a SHA-256 of
// the whole file in its metadata, verified on every read, so that flipped bytes are refused too.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { writeFileAtomic } from "../util/atomicWrite.js";
import type { DTypeName } from "./dtype.js";
import { dtypeCode } from "./dtype.js";
import { native } from "./native.js";
import { Tensor } from "./tensor.js";

export { writeFileAtomic };

const FORMAT: Record<string, { dtype: DTypeName; bytes: number }> = {
  F32: { dtype: "float32", bytes: 4 },
  F64: { dtype: "float64", bytes: 8 },
  I64: { dtype: "int64", bytes: 8 },
  I32: { dtype: "int32", bytes: 4 },
  U8: { dtype: "uint8", bytes: 1 },
  BOOL: { dtype: "bool", bytes: 1 },
};
const CODE_OF: Record<DTypeName, string> = {
  float32: "F32",
  float64: "F64",
  int64: "I64",
  int32: "I32",
  uint8: "U8",
  bool: "BOOL",
};
const MAX_HEADER = 100 * 1024 * 1024;

export class SafetensorsError extends Error {
  /** What is wrong with the file, without its name. */
  readonly reason: string;
  constructor(message: string, reason = message) {
    super(message);
    this.reason = reason;
  }
}

/**
 * The metadata key of the file's SHA-256: of every byte of the file, with the 64 hex digits of this
 * value written as zeros while hashing (the value sits inside what it covers).
 */
export const CHECKSUM_KEY = "metanas.sha256";
const UNSEALED = "0".repeat(64);

/** Where the checksum's hex digits sit in `buf`, found in the header's JSON text. */
function checksumAt(buf: Uint8Array, headerEnd: number, value: string): number {
  const needle = Buffer.from(`${JSON.stringify(CHECKSUM_KEY)}:"${value}"`);
  const at = Buffer.from(buf.buffer, buf.byteOffset, headerEnd).indexOf(needle);
  return at < 0 ? -1 : at + needle.length - 65;
}

function sha256Unsealed(buf: Uint8Array, at: number): string {
  return createHash("sha256")
    .update(buf.subarray(0, at))
    .update(UNSEALED)
    .update(buf.subarray(at + 64))
    .digest("hex");
}

function bytesOf(t: Tensor): Uint8Array {
  // Raw bytes straight from the addon: data() would narrow int64 to int32.
  return native.toBytes(t.id);
}

/** Encodes named tensors (and string metadata) as one safetensors buffer. */
export function encodeSafetensors(
  tensors: Record<string, Tensor> | Map<string, Tensor>,
  metadata: Record<string, string> = {},
  o: { checksum?: boolean } = {},
): Buffer {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  // The checksum key is reserved: one copied from a file read earlier would not fit these bytes.
  metadata = Object.fromEntries(Object.entries(metadata).filter(([k]) => k !== CHECKSUM_KEY));
  if (o.checksum) metadata[CHECKSUM_KEY] = UNSEALED;
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    const bytes = bytesOf(t);
    header[name] = { dtype: CODE_OF[t.dtype], shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  let json = JSON.stringify(header);
  // The data section starts 8-byte aligned; the spec allows trailing spaces in the header.
  json += " ".repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, "utf8");
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let at = 8 + headerBytes.length;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  if (o.checksum) {
    const digits = checksumAt(out, 8 + headerBytes.length, UNSEALED);
    out.write(sha256Unsealed(out, digits), digits, "latin1");
  }
  return out;
}

/** Writes the tensors atomically; `checksum` seals the file with its SHA-256 (verified on load). */
export function saveSafetensors(
  file: string,
  tensors: Record<string, Tensor> | Map<string, Tensor>,
  metadata: Record<string, string> = {},
  o: { checksum?: boolean } = {},
): void {
  writeFileAtomic(file, encodeSafetensors(tensors, metadata, o));
}

export interface LoadedSafetensors {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

/** Throws a SafetensorsError saying why the data is not a valid safetensors file. */
type Fail = (why: string) => never;

/** Where one tensor's bytes lie in the data section, and what they hold. */
interface TensorSpec {
  name: string;
  dtype: DTypeName;
  bytes: number;
  shape: number[];
  begin: number;
  end: number;
}

/** The header's JSON object and where the data section starts, refusing a length past the file or a header that is no object. */
function readHeader(buf: Uint8Array, fail: Fail): { header: Record<string, unknown>; dataStart: number } {
  if (buf.byteLength < 8) fail(`only ${buf.byteLength} bytes`);
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = view.readBigUInt64LE(0);
  if (headerLen > BigInt(Math.min(MAX_HEADER, buf.byteLength - 8))) fail(`header length ${headerLen} exceeds the file`);
  const n = Number(headerLen);
  let header: unknown;
  try {
    header = JSON.parse(view.subarray(8, 8 + n).toString("utf8"));
  } catch {
    fail("header is not JSON");
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) fail("header is not an object");
  return { header: header as Record<string, unknown>, dataStart: 8 + n };
}

/** Copies the header's __metadata__ into `metadata`, refusing anything but string values. */
function readMetadata(raw: unknown, metadata: Record<string, string>, fail: Fail): void {
  if (typeof raw !== "object" || raw === null) fail("__metadata__ is not an object");
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v !== "string") fail(`metadata ${k} is not a string`);
    metadata[k] = v as string;
  }
}

/** One header entry as a TensorSpec, refusing an unknown dtype, a bad shape, or offsets outside the data or unlike the shape. */
function tensorSpec(name: string, raw: unknown, dataLen: number, fail: Fail): TensorSpec {
  const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  const fmt = typeof e?.dtype === "string" && Object.hasOwn(FORMAT, e.dtype) ? FORMAT[e.dtype] : undefined;
  if (!fmt) fail(`tensor ${name}: unsupported dtype ${String(e?.dtype)}`);
  const shape = e.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
    fail(`tensor ${name}: bad shape`);
  const offs = e.data_offsets;
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && d >= 0))
    fail(`tensor ${name}: bad data_offsets`);
  const [begin, end] = offs as [number, number];
  const numel = (shape as number[]).reduce((a, b) => a * b, 1);
  if (begin > end || end > dataLen)
    fail(`tensor ${name}: data_offsets [${begin}, ${end}] lie outside the ${dataLen}-byte data section`);
  if (end - begin !== numel * fmt!.bytes)
    fail(`tensor ${name}: ${end - begin} bytes for shape [${shape}] of ${e.dtype}`);
  return { name, dtype: fmt!.dtype, bytes: fmt!.bytes, shape: shape as number[], begin, end };
}

/** Refuses a sealed file whose checksum is malformed or does not match its bytes; an unsealed one passes. */
function verifyChecksum(buf: Uint8Array, dataStart: number, metadata: Record<string, string>, fail: Fail): void {
  const sealed = metadata[CHECKSUM_KEY];
  if (sealed === undefined) return;
  const digits = /^[0-9a-f]{64}$/.test(sealed) ? checksumAt(buf, dataStart, sealed) : -1;
  if (digits < 0) fail(`its ${CHECKSUM_KEY} is malformed`);
  if (sha256Unsealed(buf, digits) !== sealed) fail(`its bytes do not match the SHA-256 it was written with`);
}

/** Refuses tensors whose byte ranges overlap. */
function checkNoOverlap(specs: TensorSpec[], fail: Fail): void {
  const sorted = [...specs].sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.begin < sorted[i - 1]!.end) fail(`tensors ${sorted[i - 1]!.name} and ${sorted[i]!.name} overlap`);
  }
}

/** The tensor a spec describes, copied out of the data section. */
function tensorOf(buf: Uint8Array, dataStart: number, spec: TensorSpec): Tensor {
  // Copy into an aligned buffer of the right element type.
  const bytes = new Uint8Array(spec.end - spec.begin);
  bytes.set(buf.subarray(dataStart + spec.begin, dataStart + spec.end));
  let arr: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;
  switch (spec.dtype) {
    case "float32":
      arr = new Float32Array(bytes.buffer);
      break;
    case "float64":
      arr = new Float64Array(bytes.buffer);
      break;
    case "int64":
      arr = new BigInt64Array(bytes.buffer);
      break;
    case "int32":
      arr = new Int32Array(bytes.buffer);
      break;
    default:
      arr = bytes;
  }
  return new Tensor(native.fromTypedArray(arr, spec.shape, dtypeCode(spec.dtype)));
}

/** Decodes a safetensors buffer; `source` names it in errors. */
export function decodeSafetensors(buf: Uint8Array, source = "safetensors data"): LoadedSafetensors {
  const fail: Fail = (why) => {
    throw new SafetensorsError(
      `${source}: not a valid safetensors file (${why}); it may be truncated or corrupted: delete it or restore it from a backup`,
      why,
    );
  };
  const { header, dataStart } = readHeader(buf, fail);
  const dataLen = buf.byteLength - dataStart;
  const metadata: Record<string, string> = {};
  const specs: TensorSpec[] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") readMetadata(raw, metadata, fail);
    else specs.push(tensorSpec(name, raw, dataLen, fail));
  }
  verifyChecksum(buf, dataStart, metadata, fail);
  checkNoOverlap(specs, fail);
  const tensors = new Map<string, Tensor>();
  for (const spec of specs) tensors.set(spec.name, tensorOf(buf, dataStart, spec));
  return { tensors, metadata };
}

/** Reads and decodes a safetensors file; an unreadable file is a SafetensorsError naming it. */
export function loadSafetensors(file: string): LoadedSafetensors {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (err) {
    throw new SafetensorsError(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  return decodeSafetensors(buf, file);
}
