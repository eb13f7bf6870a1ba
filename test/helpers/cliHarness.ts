// Runs the metanas command line in this process (the same program main.ts runs), capturing what
// it writes and the one error line main.ts would print.
import type { Command } from "commander";
import { createProgram } from "../../src/cli/program.js";

export interface CliResult {
  /** Exit status main.ts would give: 0, or 1 for an error. */
  code: number;
  stdout: string;
  stderr: string;
  /** The error's message (what main.ts prints after "metanas: "), or commander's own. */
  error: string | null;
  /** Commander's error code (e.g. commander.invalidArgument), null for the commands' own errors. */
  commanderCode: string | null;
}

export async function runCli(args: string[]): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const program = createProgram({
    exitOverride: true,
    writeOut: (s) => {
      stdout += s;
    },
    writeErr: (s) => {
      stderr += s;
    },
  });
  const { log, error } = console;
  console.log = (...xs: unknown[]) => {
    stdout += `${xs.join(" ")}\n`;
  };
  console.error = (...xs: unknown[]) => {
    stderr += `${xs.join(" ")}\n`;
  };
  try {
    await program.parseAsync(["node", "metanas", ...args]);
    return { code: 0, stdout, stderr, error: null, commanderCode: null };
  } catch (err) {
    const e = err as Error & { code?: string; exitCode?: number };
    const fromCommander = typeof e.code === "string" && e.code.startsWith("commander.");
    if (fromCommander && e.exitCode === 0) return { code: 0, stdout, stderr, error: null, commanderCode: e.code! };
    return { code: 1, stdout, stderr, error: e.message, commanderCode: fromCommander ? e.code! : null };
  } finally {
    console.log = log;
    console.error = error;
  }
}

/** The (sub)command that `args` names, e.g. ["data", "inspect", ...] -> data inspect. */
export function commandFor(args: string[]): Command {
  let cmd: Command = createProgram();
  for (const a of args) {
    const sub = cmd.commands.find((c) => c.name() === a);
    if (!sub) break;
    cmd = sub;
  }
  return cmd;
}

/** The flags a command shows in --help (older spellings are hidden), or all it accepts; --help included. */
export function flagsOf(cmd: Command, o: { hidden?: boolean } = {}): Set<string> {
  const options = cmd.options.filter((opt) => o.hidden || !opt.hidden);
  return new Set(["--help", ...options.map((opt) => opt.long).filter((f): f is string => !!f)]);
}

export function flagsIn(text: string): string[] {
  return [...text.matchAll(/(?<![\w-])--[a-z][a-z0-9-]*/g)].map((m) => m[0]);
}
