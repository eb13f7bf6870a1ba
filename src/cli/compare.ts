// metanas compare RUN_DIR...: the runs side by side in one self-contained HTML page.
import { resolve } from "node:path";
import type { Command } from "commander";
import { writeComparison } from "../reports/index.js";
import { defaultRunDir } from "../runs/runDir.js";

export function register(program: Command): void {
  program
    .command("compare")
    .description(
      "compare runs side by side: final accuracy, configuration differences, overlaid curves, cells, pruned sizes",
    )
    .argument("<RUN_DIR...>", "two or more run directories written by search, train or eval")
    .option("--out <dir>", "folder for compare.html and figures/ (default runs/compare-<time>)")
    .option("--labels <a,b,...>", "names of the runs in the page (default: their folder names)")
    .option("--json", "print one JSON object: the page, figures, each run's accuracy and the differing settings")
    .action(async (dirs: string[], o: { out?: string; labels?: string; json?: boolean }) => {
      const labels = o.labels?.split(",").map((l) => l.trim());
      const out = o.out ?? defaultRunDir("compare");
      const r = await writeComparison(dirs, out, labels ? { labels } : {});
      if (o.json) {
        console.log(JSON.stringify({ ...r, html: resolve(r.html) }));
        return;
      }
      for (const run of r.runs) {
        const acc =
          run.accuracy === null
            ? "no summary yet"
            : `${(100 * run.accuracy).toFixed(2)}% ± ${(100 * (run.ci95 ?? 0)).toFixed(2)} (${run.tasks} tasks)`;
        console.log(`${run.label.padEnd(24)} ${acc}`);
      }
      console.log(`settings that differ: ${r.differences.join(", ") || "none"}`);
      console.log(resolve(r.html));
    });
}
