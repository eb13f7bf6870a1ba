// REPTILE as its authors ran it (docs/reptile.md): the outer-step schedules, both Conv4 forms
// against PyTorch, shuffled inner batches, the non-transductive protocol, Omniglot's REPTILE split,
// and the REPTILE presets.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { partitionOmniglot } from "../../src/data/omniglot.js";
import { batchDrawer, sampleTask } from "../../src/data/sampler.js";
import type { TaskSet } from "../../src/data/types.js";
import * as E from "../../src/engine/index.js";
import { outerStepFactor } from "../../src/metalearner/schedule.js";
import { Conv4Model } from "../../src/models/conv4.js";
import type { RunConfig } from "../../src/runs/config.js";
import { buildConfig, PRESET_NAMES, PRESETS } from "../../src/runs/presets.js";
import { runTraining } from "../../src/runs/runner.js";
import { predictQuery } from "../../src/tasklearner/taskLearner.js";
import { Rng } from "../../src/util/rng.js";
import { TINY_RUN, toyPool } from "../helpers/tinyMeta.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const python = "/usr/bin/python3";
const hasTorch = spawnSync(python, ["-c", "import torch"]).status === 0;
const tmp = mkdtempSync(path.join(os.tmpdir(), "metanas-reptile-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe("outer-step schedules", () => {
  it("constant stays 1; linear and cosine start at 1, pass 1/2 at the middle and end near 0", () => {
    assert.equal(outerStepFactor("constant", 0, 100), 1);
    assert.equal(outerStepFactor("constant", 99, 100), 1);
    assert.equal(outerStepFactor("linear", 0, 100), 1);
    assert.equal(outerStepFactor("linear", 50, 100), 0.5);
    // REPTILE's last meta-iteration i = N - 1 steps with 1 - (N - 1) / N.
    assert.equal(outerStepFactor("linear", 99, 100), 1 - 99 / 100);
    assert.equal(outerStepFactor("cosine", 0, 100), 1);
    assert.ok(Math.abs(outerStepFactor("cosine", 50, 100) - 0.5) < 1e-12);
    assert.ok(outerStepFactor("cosine", 99, 100) < 0.001);
    assert.ok(outerStepFactor("cosine", 25, 100) > outerStepFactor("linear", 25, 100), "cosine stays high longer");
  });

  const conv4Run = (o: Partial<RunConfig> = {}): RunConfig =>
    buildConfig(
      "quick",
      {},
      {
        ...TINY_RUN,
        model: "conv4",
        conv4Channels: 4,
        conv4Downsampling: "stride",
        batchSampling: "shuffled",
        metaSchedule: "linear",
        epochs: 4,
        warmup: 0,
        checkpointEvery: 1,
        ...o,
      },
    );
  const weights = (dir: string) => {
    const { tensors } = E.loadSafetensors(path.join(dir, "checkpoint.safetensors"));
    const out = Object.fromEntries([...tensors].map(([k, t]) => [k, Array.from(t.data())]));
    for (const t of tensors.values()) t.dispose();
    return out;
  };

  it("a linearly annealed run stopped and resumed equals the uninterrupted run, and differs from a constant step", async () => {
    const full = path.join(tmp, "linear-full");
    const split = path.join(tmp, "linear-split");
    const constant = path.join(tmp, "constant");
    await runTraining(full, { config: conv4Run() }, { skipFinalTest: true });
    await runTraining(split, { config: conv4Run() }, { stopAfter: 3 });
    await runTraining(split, { resume: true }, { skipFinalTest: true });
    await runTraining(constant, { config: conv4Run({ metaSchedule: "constant" }) }, { skipFinalTest: true });
    assert.deepEqual(weights(split), weights(full));
    assert.notDeepEqual(weights(constant)["weights/classifier.bias"], weights(full)["weights/classifier.bias"]);
  });
});

/** Conv4's logits, loss and gradients in float64 here and in python/metanas_torch.py's Conv4. */
function compareWithPyTorch(downsampling: "maxpool" | "stride", size: number): void {
  E.setDefaultFloatDType("float64");
  try {
    E.manualSeed(3);
    const model = new Conv4Model({ inputShape: [1, size, size], classes: 5, channels: 6, downsampling });
    const x = E.randn([7, 1, size, size]);
    const y = E.labels(Int32Array.from([0, 1, 2, 3, 4, 0, 1]));
    const logits = model.forward(x, { temperature: 1, threshold: 0, dropPath: 0 });
    const loss = E.crossEntropy(logits, y);
    const grads = E.grad(loss, model.weights);
    const file = path.join(tmp, `conv4-${downsampling}.safetensors`);
    const tensors: Record<string, E.Tensor> = { images: x, labels: y.to("float64") };
    model.weightNames.forEach((n, i) => (tensors[`weights/${n}`] = model.weights[i]!));
    E.saveSafetensors(file, tensors);
    const r = spawnSync(python, [path.join(root, "test/pytorch/conv4_grads.py"), file, downsampling], {
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    const theirs = JSON.parse(r.stdout) as { logits: number[]; loss: number; grads: Record<string, number[]> };
    const close = (a: ArrayLike<number>, b: number[], what: string) => {
      assert.equal(a.length, b.length, `${what}: sizes`);
      for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= 1e-9 * (1 + Math.abs(b[i]!)), what);
    };
    assert.deepEqual(logits.shape, [7, 5]);
    close(logits.data(), theirs.logits, "logits");
    close([loss.item()], [theirs.loss], "loss");
    model.weightNames.forEach((n, i) => close(grads[i]!.data(), theirs.grads[n]!, `gradient of ${n}`));
  } finally {
    E.setDefaultFloatDType("float32");
  }
}

describe("Conv4 in both forms", () => {
  it("stride-2 convolutions take 28x28 to 2x2 (256 features at 64 channels) and 84x84 to 6x6; max-pooling to 1x1 and 5x5", () => {
    const features = (d: "maxpool" | "stride", size: number, channels: number) =>
      new Conv4Model({ inputShape: [1, size, size], classes: 5, channels, downsampling: d }).weights.at(-2)!.shape[1];
    assert.equal(features("stride", 28, 64), 2 * 2 * 64);
    assert.equal(features("stride", 84, 32), 6 * 6 * 32);
    assert.equal(features("maxpool", 28, 64), 1 * 1 * 64);
    assert.equal(features("maxpool", 84, 32), 5 * 5 * 32);
  });
  for (const [d, size] of [
    ["stride", 28],
    ["maxpool", 28],
    ["stride", 21],
  ] as const)
    it(
      `${d} form on ${size}x${size}: logits, loss and gradients equal PyTorch's (float64)`,
      {
        skip: hasTorch ? false : `skipped: ${python} with torch (Debian's python3-torch) is absent`,
      },
      () => compareWithPyTorch(d, size),
    );
});

describe("shuffled inner batches", () => {
  const set: TaskSet = {
    images: Float32Array.from({ length: 10 }, (_, i) => i),
    labels: Int32Array.from({ length: 10 }, (_, i) => i),
    count: 10,
    imageShape: [1, 1, 1],
  };
  it("every pass over the support set holds each image once, batches continuing into the next pass", () => {
    const next = batchDrawer(set, 4, new Rng(7), "shuffled");
    const drawn = Array.from({ length: 5 }, () => Array.from(next().labels)).flat();
    assert.deepEqual(
      [...drawn.slice(0, 10)].sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    assert.deepEqual(
      [...drawn.slice(10, 20)].sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
  });
  it("a batch the size of the set is the whole set; with replacement it usually is not", () => {
    const shuffled = batchDrawer(set, 10, new Rng(1), "shuffled");
    for (let k = 0; k < 3; k++) assert.equal(new Set(shuffled().labels).size, 10);
    const withReplacement = batchDrawer(set, 10, new Rng(1), "replacement");
    assert.ok(new Set(withReplacement().labels).size < 10);
  });
});

describe("evaluation protocols", () => {
  const pool = toyPool(5, 6, 8);
  const task = sampleTask(pool, { ways: 5, shots: 1, queries: 3 }, new Rng(2));
  const phase = { temperature: 1, threshold: 0, dropPath: 0 };
  E.manualSeed(4);
  const model = new Conv4Model({ inputShape: [1, 8, 8], classes: 5, channels: 4, downsampling: "stride" });
  /** The task with every query image but the first replaced by noise. */
  const perturbed = () => {
    const q = task.query;
    const images = Float32Array.from(q.images);
    const rng = new Rng(9);
    for (let i = 64; i < images.length; i++) images[i] = rng.float();
    return { ...task, query: { ...q, images } };
  };
  /** The loss of the first query image alone, under a protocol (a 1-image query set keeps the others out of it). */
  const firstQueryLoss = (t: typeof task, protocol: "transductive" | "non-transductive") => {
    const first = { ...t.query, images: t.query.images.slice(0, 64), labels: t.query.labels.slice(0, 1), count: 1 };
    return predictQuery(model, { ...t, query: first }, phase, protocol).loss;
  };
  it("non-transductive: a query image's prediction does not depend on the other query images", () => {
    const a = predictQuery(model, task, phase, "non-transductive");
    const b = predictQuery(model, perturbed(), phase, "non-transductive");
    // The mean over the query set changes (other images changed), but the first image's term does not.
    assert.notEqual(a.loss, b.loss);
    assert.equal(firstQueryLoss(task, "non-transductive"), firstQueryLoss(perturbed(), "non-transductive"));
    // Its loss as a member of the full query set equals its loss alone: each image is predicted apart.
    const each = Array.from({ length: task.query.count }, (_, j) => {
      const one = {
        ...task.query,
        images: task.query.images.slice(j * 64, (j + 1) * 64),
        labels: task.query.labels.slice(j, j + 1),
        count: 1,
      };
      return predictQuery(model, { ...task, query: one }, phase, "non-transductive").loss;
    });
    assert.ok(Math.abs(each.reduce((s, v) => s + v, 0) / each.length - a.loss) < 1e-6);
  });
  it("transductive: the query images share batch statistics, so changing the others changes the first's logits", () => {
    const whole = (t: typeof task) =>
      E.tidy(() =>
        E.noGrad(() => {
          const x = E.tensor(t.query.images, [t.query.count, 1, 8, 8]);
          return Array.from(model.forward(x, phase).slice(0, 0, 1).data());
        }),
      );
    assert.notDeepEqual(whole(task), whole(perturbed()));
    const t = predictQuery(model, task, phase, "transductive");
    assert.ok(t.accuracy >= 0 && t.accuracy <= 1);
  });
});

describe("REPTILE's Omniglot split", () => {
  const bg = Array.from({ length: 964 }, (_, i) => `bg${i}`);
  const ev = Array.from({ length: 659 }, (_, i) => `ev${i}`);
  it("pools the 1623 characters, shuffles them by the seed, and takes 1200 to train and 423 to test", () => {
    const a = partitionOmniglot(bg, ev, "reptile", 0, 1);
    assert.equal(a.train.length, 1200);
    assert.equal(a.test.length, 423);
    assert.deepEqual([...a.train, ...a.test].sort(), [...bg, ...ev].sort());
    assert.ok(a.test.some((c) => c.startsWith("bg")) && a.train.some((c) => c.startsWith("ev")), "mixed sets");
    assert.deepEqual(partitionOmniglot(bg, ev, "reptile", 0, 1), a, "the same seed, the same split");
    assert.notDeepEqual(partitionOmniglot(bg, ev, "reptile", 0, 2).test, a.test, "another seed, another split");
  });
});

describe("REPTILE presets", () => {
  it("validate and carry REPTILE's published values", () => {
    const reptile = PRESET_NAMES.filter((n) => n.startsWith("reptile-"));
    assert.equal(reptile.length, 6);
    for (const n of reptile) {
      const c = buildConfig(n, {}, {});
      assert.equal(c.model, "conv4");
      assert.equal(c.metaSchedule, "linear");
      assert.equal(c.metaLrWeights, 1);
      assert.equal(c.metaBatch, 5);
      assert.equal(c.testSteps, 50);
      assert.equal(c.batchSampling, "shuffled");
    }
    const o51 = PRESETS["reptile-omniglot-5way-1shot"];
    assert.deepEqual(
      [
        o51.conv4Channels,
        o51.conv4Downsampling,
        o51.trainShots,
        o51.innerSteps,
        o51.batchSize,
        o51.lrWeights,
        o51.epochs,
      ],
      [64, "stride", 10, 5, 10, 1e-3, 100000],
    );
    assert.equal(o51.testBatchSize, 5);
    assert.equal(o51.omniglotSplit, "reptile");
    const o20 = PRESETS["reptile-omniglot-20way-1shot"];
    assert.deepEqual(
      [o20.innerSteps, o20.batchSize, o20.lrWeights, o20.epochs, o20.testBatchSize],
      [10, 20, 5e-4, 200000, 10],
    );
    const m5 = PRESETS["reptile-miniimagenet-5way-5shot"];
    assert.deepEqual(
      [m5.conv4Channels, m5.conv4Downsampling, m5.innerSteps, m5.trainShots, m5.testBatchSize],
      [32, "maxpool", 8, 15, 15],
    );
  });
  it("the MetaNAS presets keep their settings: constant outer step, draws with replacement, MAML's Omniglot", () => {
    for (const n of PRESET_NAMES.filter((p) => !p.startsWith("reptile-"))) {
      const c = buildConfig(n, {}, {});
      assert.deepEqual(
        [
          c.metaSchedule,
          c.batchSampling,
          c.testProtocol,
          c.omniglotSplit,
          c.omniglotPreprocessing,
          c.conv4Downsampling,
        ],
        ["constant", "replacement", "transductive", "background", "maml", "maxpool"],
        n,
      );
    }
  });
});
