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

/**
 * Decodes every item in parallel (at most `concurrency` in flight) into one buffer of `size` bytes
 * per item, in the items' order, with a progress bar: the cold load of every image dataset.
 */
export async function decodeInto<T>(
  items: readonly T[],
  size: number,
  decode: (item: T) => Promise<Uint8Array>,
  o: { label: string; quiet?: boolean; log?: Log; concurrency?: number },
): Promise<Uint8Array> {
  const pixels = new Uint8Array(items.length * size);
  const progress = startProgress(o.label, items.length, o.quiet ?? false, o.log);
  await mapLimit(items, o.concurrency ?? 16, async (item, i) => {
    pixels.set(await decode(item), i * size);
    progress.tick();
  });
  progress.stop();
  return pixels;
}
