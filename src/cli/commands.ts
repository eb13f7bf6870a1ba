// The list of command groups. Each module exports register(program).
import type { Command } from "commander";
import { register as registerData } from "./data.js";

type Registrar = (program: Command) => void;
const registrars: Registrar[] = [registerData];

export function registerCommands(program: Command): void {
  for (const r of registrars) r(program);
}
