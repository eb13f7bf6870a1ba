// What the experiment scripts share: their command-line options, and running the metanas CLI as a
// child process (each run in a process of its own, as a user would start it).
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runDirState } from "../src/runs/runDir.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const cli = path.join(root, "dist/src/cli/main.js");

/** --name VALUE from the command line, or the fallback. */
export function option(name: string, fallback: string): string;
export function option(name: string): string | undefined;
export function option(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

/** Runs `metanas ARGS` (its output shown, or not with quiet); rejects naming `log` when it fails. */
export function runCli(args: string[], log: string, o: { quiet?: boolean } = {}): Promise<void> {
  console.log(log);
  return new Promise((resolve, reject) => {
    const stdout = o.quiet ? "ignore" : "inherit";
    const child = spawn(process.execPath, [cli, ...args], { stdio: ["ignore", stdout, "inherit"] });
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${log}: exited with ${code}`))));
  });
}

/** Runs a script's main function; an error ends it with its one-line message, not a stack trace. */
export function runScript(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  });
}

/** A run's folder name from its label. */
export const slug = (name: string) =>
  name
    .replace(/[^a-zA-Z0-9]+/g, "-")
    .replace(/^-|-$/g, "")
    .toLowerCase();

/**
 * Runs `metanas ARGS --out DIR` (args[0] is the command) as a quiet child process, resumes it when
 * DIR holds a stopped run, and does nothing when it holds a finished one; `extra` goes on either
 * command line (--data-dir).
 */
export async function runOrResume(args: string[], dir: string, log: string, extra: string[] = []): Promise<void> {
  const state = runDirState(dir);
  if (state === "finished") return;
  const resume = state === "stopped";
  const full = resume ? [args[0]!, "--resume", dir] : [...args, "--out", dir];
  await runCli([...full, ...extra, "--json"], `${resume ? "resuming" : "running"} ${log}`, { quiet: true });
}
