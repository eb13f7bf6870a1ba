import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sampleTask } from "../../src/data/sampler.js";
import * as E from "../../src/engine/index.js";
import { buildConfig } from "../../src/runs/presets.js";
import { openModel, testInner, trainInner } from "../../src/runs/session.js";
import { architectureGradient } from "../../src/tasklearner/archGradient.js";
import { toTensors } from "../../src/tasklearner/batch.js";
import { architectureStep } from "../../src/tasklearner/taskLearner.js";
import { Rng } from "../../src/util/rng.js";
import { exact, TINY_RUN, toyPool } from "../helpers/tinyMeta.js";

const SHAPE: [number, number, number] = [1, 8, 8];
const PHASE = { temperature: 0.3, threshold: 0.01, dropPath: 0 };

describe("the meta-test's own architecture rate (--test-lr-arch)", () => {
  it("scales only the meta-test's architecture steps, by test-lr-arch / lr-arch", () => {
    const c = buildConfig("quick", {}, { ...TINY_RUN, lrArch: 5e-3, testLrArch: 5e-4 });
    assert.equal(testInner(c).archLrScale, 0.1);
    assert.equal(trainInner(c).archLrScale, undefined, "meta-training keeps --lr-arch");
    const plain = buildConfig("quick", {}, TINY_RUN);
    assert.equal(testInner(plain).archLrScale, undefined, "without it the meta-test uses --lr-arch");
  });

  it("an architecture step at scale s moves the logits as Adam at s times the rate", () => {
    const c = buildConfig("quick", {}, { ...TINY_RUN, seed: 5 });
    const { model, opt, learner } = openModel(c, SHAPE);
    const task = sampleTask(toyPool(3, 6), { ways: 3, shots: 2, queries: 1 }, new Rng(4));
    const { x, y } = toTensors(task.support);
    const twin = model.arch.map((t) => E.keep(t.detach().clone().requiresGrad_()));
    const adam = new E.Adam(twin, {
      lr: 0.1 * c.lrArch,
      beta1: 0,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: c.archWeightDecay,
    });
    try {
      const g = E.tidy(() => architectureGradient(model, x, y, PHASE).map((t) => E.keep(t!.detach().clone())));
      const before = exact(model.arch);
      architectureStep(model, opt.arch!, { x, y }, PHASE, null, 0.1);
      adam.apply(g);
      assert.deepEqual(exact(model.arch), exact(twin));
      assert.notDeepEqual(exact(model.arch), before, "the step did move the logits");
      E.disposeAll(g);
    } finally {
      E.disposeAll([...twin, x, y]);
      adam.dispose();
      learner.dispose();
      opt.dispose();
      model.dispose();
    }
  });
});
