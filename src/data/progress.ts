// Progress for slow steps (cold decodes, downloads): a bar on a terminal, a few plain lines otherwise,
// nothing when quiet.
import cliProgress from "cli-progress";

export interface Progress {
  tick(n?: number): void;
  stop(): void;
}

export type Log = (line: string) => void;

export const stderrLog: Log = (line) => process.stderr.write(`${line}\n`);

export function startProgress(label: string, total: number, quiet: boolean, log: Log = stderrLog): Progress {
  if (quiet || total <= 0) return { tick() {}, stop() {} };
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {percentage}% {value}/{total} eta {eta}s`, stream: process.stderr },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0);
    return { tick: (n = 1) => bar.increment(n), stop: () => bar.stop() };
  }
  let done = 0;
  let nextReport = 0.25;
  log(`${label}: 0/${total}`);
  return {
    tick(n = 1) {
      done += n;
      if (done / total >= nextReport) {
        log(`${label}: ${done}/${total}`);
        while (done / total >= nextReport) nextReport += 0.25;
      }
    },
    stop() {},
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
