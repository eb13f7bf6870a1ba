// How a run reports progress; the CLI supplies a progress bar or plain lines.
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
