// The preprocessed-image cache: one binary file per source and split, holding uint8 CHW pixels for all
// images plus a JSON header with the key (source checksum + preprocessing settings + format version),
// class names, counts and the pixels' CRC-32. A file whose key differs, that is truncated, or whose
// pixels do not match their CRC-32 is rebuilt; writes are atomic.
//
// Layout: "MNASDATA" (8 bytes) | header length (uint32 LE) | header JSON (UTF-8) | pixels.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { writeFileAtomicAsync as writeFileAtomic } from "../util/atomicWrite.js";
import { crc32 } from "./crc32.js";
import type { ImageShape } from "./types.js";

const MAGIC = Buffer.from("MNASDATA");
export const CACHE_FORMAT_VERSION = 1;

export interface CacheHeader {
  key: string;
  imageShape: ImageShape;
  names: string[];
  counts: number[];
}

export interface CachedImages extends CacheHeader {
  pixels: Uint8Array;
}

/** Where caches go: the option, else $METANAS_CACHE_DIR, else $XDG_CACHE_HOME/metanas, else ~/.cache/metanas. */
export function defaultCacheDir(): string {
  if (process.env.METANAS_CACHE_DIR) return path.resolve(process.env.METANAS_CACHE_DIR);
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
  return path.join(base, "metanas");
}

/** The cache file for one source: its name says what it holds, plus a short hash of the source's path. */
export function cacheFileFor(cacheDir: string | undefined, what: string, sourcePath: string): string {
  const where = createHash("sha1").update(path.resolve(sourcePath)).digest("hex").slice(0, 10);
  return path.join(cacheDir ?? defaultCacheDir(), `${what}-${where}.bin`);
}

/** A stable key from any JSON-able description of source + settings. */
export function cacheKey(parts: unknown): string {
  return createHash("sha256")
    .update(JSON.stringify({ format: CACHE_FORMAT_VERSION, parts }))
    .digest("hex");
}

export async function fileSha1(file: string): Promise<string> {
  const hash = createHash("sha1");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** The cached images if the file exists, is well-formed and carries this key; otherwise undefined. */
export async function readCache(file: string, key: string): Promise<CachedImages | undefined> {
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch {
    return undefined;
  }
  if (buf.length < 12 || !buf.subarray(0, 8).equals(MAGIC)) return undefined;
  const headerLen = buf.readUInt32LE(8);
  if (12 + headerLen > buf.length) return undefined;
  let header: CacheHeader;
  try {
    header = JSON.parse(buf.subarray(12, 12 + headerLen).toString("utf8"));
  } catch {
    return undefined;
  }
  if (header.key !== key) return undefined;
  const [c, h, w] = header.imageShape;
  const total = header.counts.reduce((a, b) => a + b, 0);
  const pixels = buf.subarray(12 + headerLen);
  if (pixels.length !== total * c * h * w) return undefined; // truncated: rebuild
  // Damaged in place: rebuild. (Files written before the CRC-32 was kept are taken as they are.)
  const { pixelsCrc32, ...rest } = header as CacheHeader & { pixelsCrc32?: number };
  if (pixelsCrc32 !== undefined && crc32(pixels) !== pixelsCrc32) return undefined;
  return { ...rest, pixels };
}

export async function writeCache(file: string, data: CachedImages): Promise<void> {
  const { pixels, ...header } = data;
  const json = Buffer.from(JSON.stringify({ ...header, pixelsCrc32: crc32(pixels) }), "utf8");
  const len = Buffer.alloc(4);
  len.writeUInt32LE(json.length);
  await writeFileAtomic(file, [MAGIC, len, json, pixels]);
}
