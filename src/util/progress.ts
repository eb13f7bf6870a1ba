// Progress of long work: a bar with ETA on a terminal, plain periodic lines otherwise. One
// implementation for every layer (data decoding, downloads, meta-training, meta-testing).
import cliProgress from "cli-progress";

export interface ProgressReporter {
  /** A phase of `total` units begins (meta-epochs, test tasks). */
  start(label: string, total: number, done?: number): void;
  update(done: number, info: Record<string, string | number>): void;
  stop(): void;
  /** A line for the log (printed above a progress bar). */
  log(line: string): void;
}

export const silentReporter: ProgressReporter = {
  start() {},
  update() {},
  stop() {},
  log() {},
};

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  if (seconds < 60) return `${Math.round(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, "0")}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.round((seconds % 3600) / 60)).padStart(2, "0")}m`;
}

const infoText = (info: Record<string, string | number>) =>
  Object.entries(info)
    .map(([k, v]) => `${k} ${v}`)
    .join("  ");

/** A bar on stderr when it is a terminal. */
export class BarReporter implements ProgressReporter {
  #bar: cliProgress.SingleBar | null = null;
  start(label: string, total: number, done = 0): void {
    this.stop();
    this.#bar = new cliProgress.SingleBar(
      {
        format: `${label.padEnd(12)} |{bar}| {value}/{total} | ETA {eta_formatted} | {info}`,
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 20,
      },
      cliProgress.Presets.shades_classic,
    );
    this.#bar.start(total, done, { info: "" });
  }
  update(done: number, info: Record<string, string | number>): void {
    this.#bar?.update(done, { info: infoText(info) });
  }
  stop(): void {
    this.#bar?.stop();
    this.#bar = null;
  }
  log(line: string): void {
    if (this.#bar) {
      // Print above the bar.
      process.stderr.write("\r\x1b[2K");
      process.stderr.write(`${line}\n`);
      this.#bar.render();
    } else {
      process.stderr.write(`${line}\n`);
    }
  }
}

/** Plain lines, at most every `everySeconds`, with an ETA. */
export class LineReporter implements ProgressReporter {
  #label = "";
  #total = 0;
  #first = 0;
  #startedAt = 0;
  #lastAt = Number.NEGATIVE_INFINITY;
  constructor(
    readonly write: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
    readonly everySeconds = 10,
  ) {}
  start(label: string, total: number, done = 0): void {
    this.#label = label;
    this.#total = total;
    this.#first = done;
    this.#startedAt = performance.now();
    this.#lastAt = Number.NEGATIVE_INFINITY;
  }
  update(done: number, info: Record<string, string | number>): void {
    const now = performance.now();
    if (done < this.#total && now - this.#lastAt < this.everySeconds * 1000) return;
    this.#lastAt = now;
    const rate = (done - this.#first) / ((now - this.#startedAt) / 1000);
    const eta = rate > 0 ? (this.#total - done) / rate : Number.NaN;
    this.write(
      `${this.#label} ${done}/${this.#total}  ${infoText(info)}  elapsed ${formatSeconds((now - this.#startedAt) / 1000)}  ETA ${formatSeconds(eta)}`,
    );
  }
  stop(): void {}
  log(line: string): void {
    this.write(line);
  }
}

export function reporterFor(stream: NodeJS.WriteStream = process.stderr): ProgressReporter {
  return stream.isTTY ? new BarReporter() : new LineReporter();
}
