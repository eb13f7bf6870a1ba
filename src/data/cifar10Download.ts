// metanas data download cifar10: one of the two canonical tarballs from Krizhevsky's page,
// MD5-checked against the published sums, then unpacked to cifar-10-batches-py/ (or -bin/). The
// tarball is kept, so a second call checks it and fetches nothing; the folder appears whole or not
// at all (unpacked beside it, then renamed).
import { mkdir, mkdtemp, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { extract } from "tar";
import { CIFAR10_FOLDERS, type Cifar10Layout } from "./cifar10.js";
import { fetchChecked, fileMd5 } from "./download.js";
import { DataError } from "./errors.js";
import { type Log, stderrLog } from "./progress.js";

export const CIFAR10_BASE_URL = "https://www.cs.toronto.edu/~kriz/";
/** The tarballs and their MD5 sums as the CIFAR page publishes them. */
export const CIFAR10_ARCHIVES: Readonly<Record<Cifar10Layout, { file: string; md5: string }>> = {
  python: { file: "cifar-10-python.tar.gz", md5: "c58f30108f718f92721af3b95e74349a" },
  binary: { file: "cifar-10-binary.tar.gz", md5: "c32a1d4ab5d03f1284b67883e8d87530" },
};
const MIRROR_VAR = "METANAS_CIFAR10_URL";

export interface Cifar10DownloadOptions {
  dir: string;
  /** python (default, as torchvision and DARTS read it) or binary. */
  layout?: Cifar10Layout;
  /** Default: $METANAS_CIFAR10_URL, else the CIFAR page. */
  baseUrl?: string;
  /** Expected MD5 of the tarball (default: the published one). */
  md5?: string;
  quiet?: boolean;
  log?: Log;
}

export interface Cifar10DownloadResult {
  file: string;
  status: "present" | "downloaded" | "extracted";
}

const exists = async (p: string) => (await stat(p).catch(() => undefined)) !== undefined;

export async function downloadCifar10(o: Cifar10DownloadOptions): Promise<Cifar10DownloadResult[]> {
  const log = o.log ?? stderrLog;
  const layout = o.layout ?? "python";
  const { file: name, md5: published } = CIFAR10_ARCHIVES[layout];
  const want = o.md5 ?? published;
  const base = o.baseUrl ?? process.env[MIRROR_VAR] ?? CIFAR10_BASE_URL;
  await mkdir(o.dir, { recursive: true }).catch((err: Error) => {
    throw new DataError(`cannot create ${o.dir} (${err.message}); pass a writable --data-dir`);
  });
  const archive = path.join(o.dir, name);
  const results: Cifar10DownloadResult[] = [];
  const have = (await exists(archive)) ? await fileMd5(archive) : null;
  if (have === want) {
    if (!o.quiet) log(`${archive}: present, MD5 ok`);
    results.push({ file: archive, status: "present" });
  } else {
    if (have && !o.quiet) log(`${archive}: MD5 ${have} is not ${want}; downloading it again`);
    const url = new URL(name, base.endsWith("/") ? base : `${base}/`).href;
    await fetchChecked(url, archive, want, o.quiet ?? false, log, MIRROR_VAR);
    results.push({ file: archive, status: "downloaded" });
  }
  const folder = path.join(o.dir, CIFAR10_FOLDERS[layout]);
  if (have === want && (await exists(folder))) {
    results.push({ file: folder, status: "present" });
    return results;
  }
  await unpack(archive, o.dir, CIFAR10_FOLDERS[layout]);
  if (!o.quiet) log(`${folder}: unpacked`);
  results.push({ file: folder, status: "extracted" });
  return results;
}

/** Unpacks the archive's `folder` into a temp folder beside it, then renames it into place. */
async function unpack(archive: string, dir: string, folder: string): Promise<void> {
  const tmp = await mkdtemp(path.join(dir, ".unpack-"));
  try {
    await extract({ file: archive, cwd: tmp, strict: true, filter: (p) => p.split("/")[0] === folder });
    if (!(await exists(path.join(tmp, folder))))
      throw new DataError(`${archive} holds no ${folder}/ folder; it is not a CIFAR-10 tarball: delete it and retry`);
    await rm(path.join(dir, folder), { recursive: true, force: true });
    await rename(path.join(tmp, folder), path.join(dir, folder));
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError(`cannot unpack ${archive} (${(err as Error).message}); delete it and run the download again`);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
