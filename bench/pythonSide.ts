// The PyTorch side of a benchmark: a persistent Python subprocess that answers one JSON command
// per line, so that both sides can be timed in alternation within one run.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

export interface PythonSide {
  /** Sends cmd (or nothing when null) and waits for the next JSON line. */
  ask<T>(cmd: object | null): Promise<T>;
  /** Sends {"cmd": "quit"} and waits for the process to end. */
  close(): Promise<void>;
}

export function startPython(python: string, script: string, args: string[]): PythonSide {
  const child = spawn(python, [script, ...args], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  return {
    async ask<T>(cmd: object | null): Promise<T> {
      if (cmd) child.stdin.write(`${JSON.stringify(cmd)}\n`);
      const next = await lines.next();
      if (next.done) throw new Error(`the PyTorch helper (${python} ${script}) exited early`);
      return JSON.parse(next.value) as T;
    },
    async close(): Promise<void> {
      child.stdin.write(`${JSON.stringify({ cmd: "quit" })}\n`);
      child.stdin.end();
      await exited;
    },
  };
}
