import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sampleTask } from "../../src/data/sampler.js";
import * as E from "../../src/engine/index.js";
import { buildModel } from "../../src/models/build.js";
import { buildConfig } from "../../src/runs/presets.js";
import { openModel } from "../../src/runs/session.js";
import { architectureGradient } from "../../src/tasklearner/archGradient.js";
import { toTensors } from "../../src/tasklearner/batch.js";
import { adapt, architectureStep } from "../../src/tasklearner/taskLearner.js";
import { Rng } from "../../src/util/rng.js";
import { exact, inner, TINY_RUN, toyPool } from "../helpers/tinyMeta.js";

const SHAPE: [number, number, number] = [1, 8, 8];
const config = (archGradient: "live" | "initial") =>
  buildConfig("quick", {}, { ...TINY_RUN, archGradient, seed: 11, dropPath: 0.3 });

/** The architecture gradient of a network freshly built from the configuration's seed. */
function freshGradient(c: ReturnType<typeof config>, x: E.Tensor, y: E.Tensor, phase: typeof PHASE): number[][] {
  E.manualSeed(c.seed);
  const fresh = buildModel(c, SHAPE);
  try {
    return E.tidy(() => architectureGradient(fresh, x, y, { ...phase, dropPath: 0 }).map((g) => g!.toArray()));
  } finally {
    fresh.dispose();
  }
}

const PHASE = { temperature: 0.3, threshold: 0.01, dropPath: 0.3 };

describe("the reference code's architecture gradient (--arch-gradient initial)", () => {
  it("is the gradient of a network freshly built from the same seed, however far the live one has moved", async () => {
    const c = config("initial");
    const { model, opt, learner } = openModel(c, SHAPE);
    const pool = toyPool(3, 6);
    const task = sampleTask(pool, { ways: 3, shots: 2, queries: 1 }, new Rng(4));
    try {
      assert.ok(opt.archSource, "initial: a frozen copy is kept");
      // Move the live weights and logits away from their initial values.
      await adapt(model, opt, task, inner({ steps: 4, archSteps: 4, dropPath: 0.3 }), new Rng(2));
      E.noGrad(() => model.arch.forEach((a) => E.tidy(() => a.addScaled_(E.randn(a.shape), 1))));
      const { x, y } = toTensors(task.support);
      const expected = freshGradient(c, x, y, PHASE);
      const source = opt.archSource!;
      const got = E.tidy(() => architectureGradient(source, x, y, { ...PHASE, dropPath: 0 }).map((g) => g!.toArray()));
      assert.deepEqual(got, expected);
      const live = E.tidy(() => architectureGradient(model, x, y, { ...PHASE, dropPath: 0 }).map((g) => g!.toArray()));
      assert.notDeepEqual(live, expected, "the live network's gradient differs");

      // The step applies that gradient to the live logits (Adam on a copy of them does the same).
      const before = E.cloneAll(model.arch);
      const twin = before.map((t) => E.keep(t.detach().clone().requiresGrad_()));
      const adam = new E.Adam(twin, {
        lr: c.lrArch,
        beta1: 0,
        beta2: 0.999,
        eps: 1e-8,
        weightDecay: c.archWeightDecay,
      });
      adam.step = opt.arch!.step;
      E.copyInto([...adam.m, ...adam.v], [...opt.arch!.m, ...opt.arch!.v]);
      E.tidy(() => adam.apply(expected.map((g, i) => E.tensor(g, model.arch[i]!.shape))));
      architectureStep(model, opt.arch!, { x, y }, PHASE, source);
      assert.deepEqual(exact(model.arch), exact(twin), "the live logits moved by that gradient");
      E.disposeAll([...before, ...twin]);
      adam.dispose();
      x.dispose();
      y.dispose();
    } finally {
      learner.dispose();
      opt.dispose();
      model.dispose();
    }
  });

  it("live keeps no copy", () => {
    const { model, opt, learner } = openModel(config("live"), SHAPE);
    assert.equal(opt.archSource, null);
    learner.dispose();
    opt.dispose();
    model.dispose();
  });
});
