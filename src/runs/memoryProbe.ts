// Measures what one rank of a run needs in memory: this process loads the run's data and model,
// then runs a forward and backward pass at two small batch sizes, and prints its peak resident
// set after each (one JSON line). Spawned by the local launcher, so that its memory is given back.
import { crossEntropy, grad, labels, rand, tidy } from "../engine/index.js";
import { validateConfig } from "./config.js";
import { openSession } from "./session.js";

const c = validateConfig(JSON.parse(process.argv[2] ?? "null"), "the memory probe's configuration");
const session = await openSession({ ...c, threads: 1 }, () => {});
const peak = () => process.resourceUsage().maxRSS * 1024;
const phase = { temperature: c.tMax, threshold: c.trainThreshold, dropPath: c.dropPath };
const pass = (batch: number) =>
  tidy(() => {
    const x = rand([batch, ...session.dataset.imageShape]);
    const y = labels(Array.from({ length: batch }, (_, i) => i % c.ways));
    grad(crossEntropy(session.model.forward(x, phase), y), [...session.model.weights, ...session.model.arch]);
  });
const batches = [2, 4];
const peaks = batches.map((b) => {
  pass(b);
  return peak();
});
console.log(JSON.stringify({ batches, peaks }));
