// The list of command groups. Each module exports register(program).
import type { Command } from "commander";
import { register as ablation } from "./ablation.js";
import { register as compare } from "./compare.js";
import { register as config } from "./config.js";
import { register as data } from "./data.js";
import { register as inspect } from "./inspect.js";
import { register as models } from "./models.js";
import { register as predict } from "./predict.js";
import { register as report } from "./report.js";
import { register as run } from "./run.js";
import { register as table3 } from "./table3.js";

type Registrar = (program: Command) => void;
const registrars: Registrar[] = [run, predict, models, ablation, table3, config, inspect, data, report, compare];

export function registerCommands(program: Command): void {
  for (const r of registrars) r(program);
}
