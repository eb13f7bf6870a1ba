// Times one forward+backward pass (gradients for weights and architecture) of the one-shot
// network, and one task-learner step, at a given size. Prints medians of several runs; last line JSON.
//   npm run bench:network -- --channels 28 --batch 20 --threads 1
import * as E from "../src/engine/index.js";
import { Architecture } from "../src/searchspace/architecture.js";
import { PAPER_NETWORK, SearchNetwork } from "../src/searchspace/network.js";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const channels = arg("channels", 28);
const batch = arg("batch", 20);
const threads = arg("threads", 1);
const size = arg("size", 28);
const inputChannels = arg("input-channels", 1);
const reps = arg("reps", 7);

E.setNumThreads(threads);
E.manualSeed(0);
const net = new SearchNetwork({ ...PAPER_NETWORK, channels, inputChannels, classes: 20 });
const arch = new Architecture(3);
const x = E.rand([batch, inputChannels, size, size]);
const y = E.labels(Array.from({ length: batch }, (_, i) => i % 20));
const params = [...net.parameters(), ...arch.parameters()];
const settings = { temperature: 1, threshold: 0.01, strategy: "metanas" as const, dropPath: 0.2 };

const times: number[] = [];
const forwardTimes: number[] = [];
for (let r = 0; r < reps + 1; r++) {
  const t0 = performance.now();
  E.tidy(() => {
    const loss = E.crossEntropy(net.forward(x, arch, settings), y);
    loss.item();
    const t1 = performance.now();
    E.grad(loss, params);
    if (r > 0) forwardTimes.push(t1 - t0);
  });
  if (r > 0) times.push(performance.now() - t0); // the first pass warms up
  await new Promise((resolve) => setImmediate(resolve));
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
console.log(
  `one-shot network, C = ${channels}, batch ${batch} of ${inputChannels}x${size}x${size}, ${threads} thread(s), ${net.numParameters().toLocaleString("en-US")} weights`,
);
console.log(`  forward           median ${median(forwardTimes).toFixed(1)} ms`);
console.log(
  `  forward+backward  median ${median(times).toFixed(1)} ms  (runs: ${times.map((t) => t.toFixed(0)).join(" ")})`,
);
console.log(
  JSON.stringify({
    channels,
    batch,
    threads,
    forward_ms: median(forwardTimes),
    forward_backward_ms: median(times),
    reps,
  }),
);
