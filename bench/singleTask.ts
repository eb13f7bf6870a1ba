// What a single-task search (metanas table3) costs at each preset: seconds per search step (one
// architecture step and one weight step, batch of the preset) and per held-out image of the
// measurement (one-shot and discrete network), on generated images of the preset's dataset shape,
// with its network and one libtorch thread; then the whole Table 3 run extrapolated from them
// (steps per search x strategies x seeds). Last line JSON.
//   npm run bench:single-task -- [--preset NAME[,NAME...]] [--steps N] [--classes N] [--config FILE]
// --classes: the number of classes of the preset's data (only the classifier's width depends on it);
// --config: settings over the preset's (JSON), to measure variants.
import type { FewShotDataset, ImageShape } from "../src/data/types.js";
import * as E from "../src/engine/index.js";
import { SearchModel } from "../src/models/searchModel.js";
import type { SingleTaskConfig } from "../src/runs/singleTaskConfig.js";
import { buildSingleTaskConfig, SINGLE_TASK_PRESET_NAMES } from "../src/runs/singleTaskPresets.js";
import { networkOf, searchSettings } from "../src/runs/table3.js";
import { splitDataset } from "../src/singletask/data.js";
import { measurePruning } from "../src/singletask/measure.js";
import { searchSingleTask, stepsPerEpoch } from "../src/singletask/search.js";
import { Rng } from "../src/util/rng.js";
import { generatedPool, option } from "./common.js";

const SHAPES: Record<SingleTaskConfig["dataset"], ImageShape> = {
  cifar10: [3, 32, 32],
  omniglot: [1, 28, 28],
  builtin: [1, 28, 28],
};
/** The presets' real data: classes and training / held-out images per class. */
const REAL: Record<SingleTaskConfig["dataset"], { classes: number; train: number; test: number }> = {
  cifar10: { classes: 10, train: 5000, test: 1000 },
  omniglot: { classes: 964, train: 20, test: 0 },
  builtin: { classes: 1050, train: 20, test: 0 },
};

/** Generated data with the preset's classes and enough images for `steps` weight batches. */
function generatedData(c: SingleTaskConfig, steps: number, classes: number) {
  const shape = SHAPES[c.dataset];
  const perClass = Math.ceil((steps * c.batchSize) / classes / c.trainPortion) + c.testPerClass + 1;
  const pool = generatedPool(shape, classes, perClass, 1);
  const ds: FewShotDataset = { name: c.dataset, imageShape: shape, splits: { train: pool, test: pool } };
  return splitDataset(ds, {
    ...c,
    classes: 0,
    trainPerClass: 0,
    testPerClassMax: Math.ceil(c.evalBatchSize / classes),
  });
}

async function measure(name: string, steps: number, classesArg: number | undefined) {
  const c = buildSingleTaskConfig(name, option("config"), {});
  E.setNumThreads(c.threads);
  E.manualSeed(1);
  const real = REAL[c.dataset];
  const classes = classesArg ?? (c.classes > 0 ? c.classes : real.classes);
  const data = generatedData(c, steps + 2, classes);
  const model = new SearchModel(networkOf(c, data), "metanas");
  const times: number[] = [];
  let last = performance.now();
  const c0 = process.cpuUsage();
  await searchSingleTask(model, data, { ...searchSettings(c), epochs: 1 }, new Rng(1), {
    onStep: () => {
      const now = performance.now();
      times.push((now - last) / 1000);
      last = now;
    },
  });
  const cpuAll = process.cpuUsage(c0);
  // The first two steps warm up the allocator and the kernels.
  const measured = times.slice(2);
  const step = measured.reduce((a, b) => a + b, 0) / measured.length;
  const stepCpu = (cpuAll.user + cpuAll.system) / 1e6 / times.length;
  const t0 = performance.now();
  measurePruning(model, data, { temperature: c.tMin, threshold: c.trainThreshold, evalBatchSize: c.evalBatchSize });
  const perImage = (performance.now() - t0) / 1000 / data.testImages.length;
  const weights = model.totalParams();
  model.dispose();
  // The real run: the preset's split of its real dataset.
  const used = c.classes > 0 ? Math.min(c.classes, real.classes) : real.classes;
  const trainPerClass =
    c.trainPerClass > 0
      ? Math.min(c.trainPerClass, real.train - c.testPerClass)
      : real.train - (real.test ? 0 : c.testPerClass);
  const weightImages = used * Math.round(trainPerClass * c.trainPortion);
  const testImages = used * (real.test ? c.testPerClassMax || real.test : c.testPerClass);
  const searchSteps = c.epochs * Math.ceil(weightImages / c.batchSize);
  const perSearch = searchSteps * step + 2 * testImages * perImage;
  const searches = c.strategies.length * c.seeds.length;
  return {
    preset: name,
    weights,
    step_s: step,
    step_cpu_s: stepCpu,
    measure_s_per_image: perImage,
    steps_per_search: searchSteps,
    search_s: perSearch,
    searches,
    run_s: perSearch * searches,
    steps_per_epoch_measured: stepsPerEpoch(data, c.batchSize),
  };
}

const names = (option("preset") ?? SINGLE_TASK_PRESET_NAMES.join(",")).split(",");
const steps = Number(option("steps") ?? 6);
const classesArg = option("classes") ? Number(option("classes")) : undefined;
const results = [];
for (const name of names) {
  const r = await measure(name, steps, classesArg);
  results.push(r);
  console.log(
    `${name}: ${r.weights.toLocaleString("en-US")} weights; ${r.step_s.toFixed(3)} s per search step (${r.step_cpu_s.toFixed(3)} CPU s), ${(1000 * r.measure_s_per_image).toFixed(2)} ms per held-out image and network; ${r.steps_per_search} steps per search -> ${(r.search_s / 3600).toFixed(2)} h per search, ${(r.run_s / 3600).toFixed(1)} h for its ${r.searches} searches on one core`,
  );
}
console.log(JSON.stringify(results));
