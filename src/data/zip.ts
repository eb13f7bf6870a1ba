// Reading files straight out of a zip (no extraction to disk), with entry names checked so that none
// could land outside its folder if a caller ever did extract them, and every entry's bytes checked
// against its CRC-32 (yauzl does not), so that a damaged zip is refused rather than decoded wrong.
import { readFile } from "node:fs/promises";
import path from "node:path";
import yauzl from "yauzl";
import { crc32 } from "./crc32.js";
import { DataError } from "./errors.js";

export interface ZipFile {
  name: string;
  data: Buffer;
}

/** Throws unless `name` is a relative path that stays inside the folder it would be extracted to. */
export function checkEntryName(name: string, zipPath: string): void {
  const normal = path.posix.normalize(name.replace(/\\/g, "/"));
  if (path.posix.isAbsolute(normal) || /^[a-zA-Z]:/.test(normal) || normal === ".." || normal.startsWith("../")) {
    throw new DataError(
      `${zipPath} holds an entry "${name}" whose path leaves the target folder; refusing it — the zip is corrupt or malicious, get a fresh copy`,
    );
  }
}

function zipError(zipPath: string, err: unknown): DataError {
  const why = err instanceof Error ? err.message : String(err);
  // yauzl refuses such names itself before we see the entry; say what it means.
  if (/invalid relative path|absolute path/.test(why)) {
    return new DataError(
      `${zipPath} holds an entry whose path leaves the target folder (${why}); refusing it — the zip is corrupt or malicious, get a fresh copy`,
    );
  }
  return new DataError(
    `${zipPath} is not a readable zip (${why}); delete it and download it again (metanas data download omniglot)`,
  );
}

/**
 * Open a zip from memory: the whole file is read at once (Omniglot's zips are ~10 MB), which makes
 * walking 20,000 entries several times faster than yauzl's many small reads from the file.
 */
function openZip(
  zipPath: string,
  options: yauzl.Options,
  callback: (err: Error | null, zip?: yauzl.ZipFile) => void,
): void {
  readFile(zipPath).then(
    (buf) => yauzl.fromBuffer(buf, options, (err, zip) => callback(err, zip)),
    (err: Error) => callback(err),
  );
}

/** Every file entry whose name passes `want`, read into memory, in the zip's order. */
export function readZip(zipPath: string, want: (name: string) => boolean): Promise<ZipFile[]> {
  return new Promise((resolve, reject) => {
    // decodeStrings/validateEntrySizes on: yauzl itself rejects "../" and absolute names, and short data.
    openZip(zipPath, { lazyEntries: true, autoClose: true, validateEntrySizes: true }, (err, zip) => {
      if (err || !zip) return reject(zipError(zipPath, err));
      const out: ZipFile[] = [];
      let failed = false;
      const fail = (e: unknown) => {
        if (failed) return;
        failed = true;
        zip.close();
        reject(e instanceof DataError ? e : zipError(zipPath, e));
      };
      zip.on("error", fail);
      zip.on("end", () => {
        if (!failed) resolve(out);
      });
      zip.on("entry", (entry: yauzl.Entry) => {
        try {
          checkEntryName(entry.fileName, zipPath);
        } catch (e) {
          return fail(e);
        }
        if (entry.fileName.endsWith("/") || !want(entry.fileName)) return zip.readEntry();
        zip.openReadStream(entry, (e, stream) => {
          if (e || !stream) return fail(e);
          const chunks: Buffer[] = [];
          stream.on("data", (c: Buffer) => chunks.push(c));
          stream.on("error", fail);
          stream.on("end", () => {
            const data = Buffer.concat(chunks);
            if (crc32(data) !== entry.crc32)
              return fail(
                new DataError(
                  `${zipPath} is damaged: its entry ${entry.fileName} does not match its CRC-32; delete it and download it again (metanas data download omniglot)`,
                ),
              );
            out.push({ name: entry.fileName, data });
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  });
}

/** Names only (cheap: the central directory), for counting without decoding. */
export function listZip(zipPath: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    openZip(zipPath, { lazyEntries: true, autoClose: true }, (err, zip) => {
      if (err || !zip) return reject(zipError(zipPath, err));
      const names: string[] = [];
      zip.on("error", (e) => reject(zipError(zipPath, e)));
      zip.on("entry", (entry: yauzl.Entry) => {
        try {
          checkEntryName(entry.fileName, zipPath);
        } catch (e) {
          zip.close();
          return reject(e);
        }
        names.push(entry.fileName);
        zip.readEntry();
      });
      zip.on("end", () => resolve(names));
      zip.readEntry();
    });
  });
}
