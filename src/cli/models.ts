// metanas models: the ready-made models shipped with the package (src/runs/readyModels.ts), which
// `metanas predict NAME` adapts to labelled images like a run directory.
import type { Command } from "commander";
import { listReadyModels } from "../runs/readyModels.js";

const percent = (p: number) => (100 * p).toFixed(2);

export function register(program: Command): void {
  program
    .command("models")
    .description("list the ready-made models shipped with metanas, which `metanas predict NAME` takes")
    .option("--json", "print one JSON object: the models, each with its folder and meta-test accuracy")
    .action((o: { json?: boolean }) => {
      const models = listReadyModels();
      if (o.json) {
        console.log(JSON.stringify({ models }));
        return;
      }
      for (const m of models) {
        console.log(`${m.name}: ${m.description}`);
        console.log(
          `  ${m.ways}-way ${m.shots}-shot accuracy ${percent(m.accuracy)}% ± ${percent(m.ci95)} (95% CI, ${m.tasks.toLocaleString("en-US")} test tasks, ${m.protocol})`,
        );
        console.log(`  folder: ${m.dir}`);
      }
      console.log("use one: metanas predict NAME --support DIR --query PATH...");
    });
}
