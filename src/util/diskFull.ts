// A write that failed for want of space (a full disk, a quota, a file-size limit): said in one line
// naming the file, so that a long run that stops on it says what to free and where.
import path from "node:path";

const REASONS: Record<string, string> = {
  ENOSPC: "the disk is full",
  EDQUOT: "the disk quota is used up",
  EFBIG: "the file size limit (ulimit -f) is exceeded",
};

export class DiskFullError extends Error {
  constructor(
    readonly file: string,
    readonly code: string,
  ) {
    super(`cannot write ${file}: ${REASONS[code]} (${code})`);
  }
}

/** `err` as a DiskFullError naming `file` when it is one of the out-of-space errors; else `err` itself. */
export function asDiskFull(err: unknown, file: string): unknown {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code && Object.hasOwn(REASONS, code) ? new DiskFullError(path.normalize(file), code) : err;
}
