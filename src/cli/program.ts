// The metanas command line as a value: main.ts runs it on process.argv; tests run it in-process.
import { Command } from "commander";
import { registerCommands } from "./commands.js";

export const VERSION = "0.1.0";

export function createProgram(
  o: { exitOverride?: boolean; writeOut?: (text: string) => void; writeErr?: (text: string) => void } = {},
): Command {
  const program = new Command();
  program
    .name("metanas")
    .description("Meta-learning of neural architectures for few-shot image classification (MetaNAS) over libtorch")
    .version(VERSION)
    // Commander's own errors (unknown flag, bad value) in the same one-line form as the commands' errors.
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, "metanas: ")) });
  // Set before the commands are added: subcommands inherit these.
  if (o.exitOverride) program.exitOverride();
  if (o.writeOut) program.configureOutput({ ...program.configureOutput(), writeOut: o.writeOut });
  if (o.writeErr) program.configureOutput({ ...program.configureOutput(), writeErr: o.writeErr });
  registerCommands(program);
  return program;
}
