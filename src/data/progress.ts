// Progress for slow steps (cold decodes, downloads), on the shared reporters of util/progress:
// a bar on a terminal, periodic lines otherwise, nothing when quiet.
import { BarReporter, LineReporter } from "../util/progress.js";

export interface Progress {
  tick(n?: number): void;
  stop(): void;
}

export type Log = (line: string) => void;

export const stderrLog: Log = (line) => process.stderr.write(`${line}\n`);

export function startProgress(label: string, total: number, quiet: boolean, log: Log = stderrLog): Progress {
  if (quiet || total <= 0) return { tick() {}, stop() {} };
  const reporter = process.stderr.isTTY ? new BarReporter() : new LineReporter(log);
  reporter.start(label, total);
  let done = 0;
  return {
    tick(n = 1) {
      done += n;
      reporter.update(done, {});
    },
    stop: () => reporter.stop(),
  };
}

/** Run fn over items with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>) {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
