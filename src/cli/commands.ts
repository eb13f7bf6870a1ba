// The list of command groups. Each module exports register(program).
import type { Command } from "commander";

type Registrar = (program: Command) => void;
const registrars: Registrar[] = [];

export function registerCommands(program: Command): void {
  for (const r of registrars) r(program);
}
