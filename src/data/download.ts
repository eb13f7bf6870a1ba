// metanas data download omniglot: the two canonical zips from their public address, MD5-checked,
// written atomically, skipped when already present and valid.
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { tempPathFor } from "../util/atomicWrite.js";
import { DataError } from "./errors.js";
import { type Log, startProgress, stderrLog } from "./progress.js";

export const OMNIGLOT_BASE_URL = "https://raw.githubusercontent.com/brendenlake/omniglot/master/python/";
export const OMNIGLOT_MD5: Readonly<Record<string, string>> = {
  "images_background.zip": "68d2efa1b9178cc56df9314c21c6e718",
  "images_evaluation.zip": "6b91aef0f799c5bb55b94e3f2daec811",
};

export interface DownloadOptions {
  dir: string;
  /** Default: $METANAS_OMNIGLOT_URL, else the canonical GitHub address. */
  baseUrl?: string;
  /** file name -> expected MD5 (default: the canonical checksums). */
  md5?: Readonly<Record<string, string>>;
  quiet?: boolean;
  log?: Log;
}

export interface DownloadResult {
  file: string;
  status: "present" | "downloaded";
}

export async function fileMd5(file: string): Promise<string> {
  const hash = createHash("md5");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

export async function downloadOmniglot(opts: DownloadOptions): Promise<DownloadResult[]> {
  const log = opts.log ?? stderrLog;
  const base = opts.baseUrl ?? process.env.METANAS_OMNIGLOT_URL ?? OMNIGLOT_BASE_URL;
  const md5 = opts.md5 ?? OMNIGLOT_MD5;
  await mkdir(opts.dir, { recursive: true }).catch((err: Error) => {
    throw new DataError(`cannot create ${opts.dir} (${err.message}); pass a writable --data-dir`);
  });
  const results: DownloadResult[] = [];
  for (const [name, want] of Object.entries(md5)) {
    const file = path.join(opts.dir, name);
    if ((await stat(file).catch(() => undefined))?.isFile()) {
      const have = await fileMd5(file);
      if (have === want) {
        if (!opts.quiet) log(`${file}: present, MD5 ok`);
        results.push({ file, status: "present" });
        continue;
      }
      if (!opts.quiet) log(`${file}: MD5 ${have} is not ${want}; downloading it again`);
    }
    await fetchChecked(
      new URL(name, base.endsWith("/") ? base : `${base}/`).href,
      file,
      want,
      opts.quiet ?? false,
      log,
    );
    results.push({ file, status: "downloaded" });
  }
  return results;
}

/**
 * Stream url into a temp file beside `file`, hashing as it goes; rename only if the MD5 matches.
 * `mirrorVar` is the environment variable the errors suggest for a mirror.
 */
export async function fetchChecked(
  url: string,
  file: string,
  want: string,
  quiet: boolean,
  log: Log,
  mirrorVar = "METANAS_OMNIGLOT_URL",
): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (err) {
    const why = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
    throw new DataError(`cannot fetch ${url} (${why}); check the network, or set ${mirrorVar} to a mirror`);
  }
  if (!res.ok || !res.body) {
    throw new DataError(`fetching ${url} gave HTTP ${res.status}; check the address, or set ${mirrorVar} to a mirror`);
  }
  const total = Number(res.headers.get("content-length") ?? 0);
  const progress = startProgress(`${path.basename(file)}`, total, quiet, log);
  const hash = createHash("md5");
  const tmp = tempPathFor(file);
  try {
    const body = Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>);
    body.on("data", (chunk: Buffer) => {
      hash.update(chunk);
      progress.tick(chunk.length);
    });
    await pipeline(body, createWriteStream(tmp));
    progress.stop();
    const have = hash.digest("hex");
    if (have !== want) {
      throw new DataError(
        `${url} has MD5 ${have}, expected ${want}; the download is corrupt or the file changed — try again or use another mirror`,
      );
    }
    await rename(tmp, file);
  } catch (err) {
    progress.stop();
    await rm(tmp, { force: true });
    if (err instanceof DataError) throw err;
    const why = err instanceof Error ? err.message : String(err);
    throw new DataError(`downloading ${url} failed (${why}); try again`);
  }
  if (!quiet) log(`${file}: downloaded, MD5 ok`);
}
