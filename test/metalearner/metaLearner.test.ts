import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sampleTask } from "../../src/data/sampler.js";
import type { Task } from "../../src/data/types.js";
import * as E from "../../src/engine/index.js";
import { FirstOrderMaml } from "../../src/metalearner/fomaml.js";
import { metaEpoch, trainTaskRng } from "../../src/metalearner/metaTrainer.js";
import { Reptile } from "../../src/metalearner/reptile.js";
import type { ForwardPhase, MetaModel } from "../../src/models/model.js";
import { TaskOptimizers } from "../../src/tasklearner/optimizers.js";
import { adapt, innerTemperature } from "../../src/tasklearner/taskLearner.js";
import { Rng } from "../../src/util/rng.js";
import { inner, metaTrain, tinySearchModel, toyPool, values } from "../helpers/tinyMeta.js";

/** Two weight tensors and one architecture tensor; logits = x.mean * w1 + w2 + a (enough to differentiate). */
class ToyModel implements MetaModel {
  readonly kind = "metanas" as const;
  readonly weights = [E.keep(E.tensor([1, 2], [2]).requiresGrad_()), E.keep(E.tensor([3], [1]).requiresGrad_())];
  readonly weightNames = ["w1", "w2"];
  readonly arch = [E.keep(E.tensor([0.5, -0.5], [2]).requiresGrad_())];
  readonly archNames = ["a"];
  forward(x: E.Tensor, _phase: ForwardPhase): E.Tensor {
    const m = x.mean([1, 2, 3]).reshape([-1, 1]);
    return m.mul(this.weights[0]!).add(this.weights[1]!).add(this.arch[0]!);
  }
  genotype() {
    return null;
  }
  activeParams() {
    return 3;
  }
  totalParams() {
    return 3;
  }
  dispose() {
    for (const t of [...this.weights, ...this.arch]) t.dispose();
  }
}
const set = (ts: E.Tensor[], vs: number[][]) =>
  E.noGrad(() => ts.forEach((t, i) => E.tidy(() => t.copy_(E.tensor(vs[i]!, [vs[i]!.length])))));

describe("REPTILE", () => {
  it("moves weights by 1.0 and the architecture by 0.6 of the way to the mean adapted parameters", () => {
    const model = new ToyModel();
    const reptile = new Reptile(1.0, 0.6);
    reptile.begin(model); // meta: w1 = [1, 2], w2 = [3], a = [0.5, -0.5]
    set(model.weights, [[2, 4], [5]]);
    set(model.arch, [[1.5, 0.5]]);
    reptile.afterTask(model, () => E.zeros([]));
    assert.deepEqual(values(model.weights), [[1, 2], [3]], "the next task starts from the meta-parameters");
    set(model.weights, [[4, 0], [1]]);
    set(model.arch, [[-0.5, -1.5]]);
    reptile.afterTask(model, () => E.zeros([]));
    reptile.end(model, 2);
    // mean w1 = [3, 2], mean w2 = [3]: w_meta + 1.0 (mean - w_meta) = mean
    // mean a = [0.5, -0.5]... use asymmetric: a_1 = [1.5, 0.5], a_2 = [-0.5, -1.5] -> mean [0.5, -0.5] = meta: no move
    assert.deepEqual(values(model.weights), [[3, 2], [3]]);
    assert.deepEqual(values(model.arch), [[0.5, -0.5]]);
    // A second meta-batch where the architecture mean differs: a_meta + 0.6 (mean - a_meta)
    reptile.begin(model);
    set(model.arch, [[1.5, 0.5]]);
    reptile.afterTask(model, () => E.zeros([]));
    reptile.end(model, 1);
    assert.deepEqual(values(model.arch), [[0.5 + 0.6 * 1.0, -0.5 + 0.6 * 1.0].map((v) => Number(v.toFixed(6)))]);
    reptile.dispose();
    model.dispose();
  });
});

describe("first-order MAML", () => {
  it("applies the mean query gradient at the adapted parameters with its Adam meta-optimiser", () => {
    const model = new ToyModel();
    const lr = 0.1;
    const fomaml = new FirstOrderMaml(model, lr, lr);
    const x = E.keep(E.ones([1, 1, 2, 2]));
    const target = E.keep(E.labels([0]));
    const loss = () => E.crossEntropy(model.forward(x, { temperature: 1, threshold: 0, dropPath: 0 }), target);
    fomaml.begin(model);
    // Task 1 adapted parameters, and the gradient of its query loss there (computed independently).
    set(model.weights, [[1, 2], [3]]);
    const g1 = E.tidy(() => E.grad(loss(), [...model.weights, ...model.arch]).map((g) => g!.toArray()));
    fomaml.afterTask(model, loss);
    set(model.weights, [[0, 0], [0]]);
    const g2 = E.tidy(() => E.grad(loss(), [...model.weights, ...model.arch]).map((g) => g!.toArray()));
    fomaml.afterTask(model, loss);
    fomaml.end(model, 2);
    // Adam's first step moves every coordinate by lr against the sign of the mean gradient.
    const meta = [[1, 2], [3], [0.5, -0.5]];
    const after = values([...model.weights, ...model.arch]);
    meta.forEach((m, k) =>
      m.forEach((v, i) => {
        const g = (g1[k]![i]! + g2[k]![i]!) / 2;
        // A gradient at rounding level (the shared shift w2 of both logits leaves the loss unchanged) moves by an Adam-eps-dependent amount.
        if (Math.abs(g) < 1e-6) return;
        const expected = v - lr * Math.sign(g);
        assert.ok(Math.abs(after[k]![i]! - expected) < 1e-5, `param ${k}[${i}]: ${after[k]![i]} vs ${expected}`);
      }),
    );
    fomaml.dispose();
    model.dispose();
    E.dispose([x, target]);
  });
});

describe("task learner", () => {
  it("anneals T over the architecture steps (50 + 50 at meta-test), then holds t_min", () => {
    const s = inner({ steps: 100, archSteps: 50, tMin: 0.1 });
    assert.equal(innerTemperature(0, s), 1);
    assert.ok(Math.abs(innerTemperature(49, s) - 0.1) < 1e-12);
    assert.ok(Math.abs(innerTemperature(25, s) - (1 - (25 * 0.9) / 49)) < 1e-12);
    assert.equal(innerTemperature(80, s), 0.1);
    assert.equal(innerTemperature(3, inner({ archSteps: 0 })), 1, "warm-up: T stays t_max");
  });

  it("adapts the architecture only in architecture steps, and the weights always", async () => {
    E.manualSeed(2);
    const { model, opt } = tinySearchModel();
    const task = sampleTask(toyPool(5, 6), { ways: 3, shots: 2, queries: 1 }, new Rng(1));
    const a0 = values(model.arch);
    const w0 = values(model.weights);
    await adapt(model, opt, task, inner({ archSteps: 0 }), new Rng(3));
    assert.deepEqual(values(model.arch), a0, "no architecture step in warm-up");
    assert.notDeepEqual(values(model.weights), w0);
    assert.equal(opt.arch!.step, 0);
    assert.equal(opt.weights.step, 3);
    await adapt(model, opt, task, inner({ steps: 4, archSteps: 2 }), new Rng(3));
    assert.notDeepEqual(values(model.arch), a0);
    assert.equal(opt.arch!.step, 2, "architecture adapted in the first archSteps only");
    assert.equal(opt.weights.step, 7, "Adam state carries over from task to task");
    opt.dispose();
    model.dispose();
  });

  it("a meta-epoch of REPTILE at rate 1 with one task lands on that task's adapted weights", async () => {
    E.manualSeed(3);
    const { model, opt: optA } = tinySearchModel();
    const pool = toyPool(5, 6);
    const settings = metaTrain({ metaBatch: 1, seed: 9 });
    const start = new E.Snapshot([...model.weights, ...model.arch]);
    // By hand: the task's own streams (JS and libtorch's, for drop-path) derived from (seed, epoch, index).
    const rng = trainTaskRng(9, 0, 0);
    E.manualSeed(rng.seed());
    await adapt(model, optA, sampleTask(pool, settings.task, rng), settings.inner, rng);
    const byHandW = values(model.weights);
    const byHandA = values(model.arch);
    optA.dispose();
    // Through the meta-learner, from the same start; libtorch's generator elsewhere does not matter.
    start.restore();
    E.manualSeed(12345);
    const optB = new TaskOptimizers(model, { lrWeights: 0.01, lrArch: 0.01, weightDecay: 0, archWeightDecay: 1e-3 });
    const reptile = new Reptile(1.0, 1.0);
    await metaEpoch(0, model, optB, reptile, pool, settings);
    assert.deepEqual(values(model.weights), byHandW);
    assert.deepEqual(values(model.arch), byHandA);
    optB.dispose();
    reptile.dispose();
    start.dispose();
    model.dispose();
  });

  it("with two optimiser chains, each chain starts from the epoch's Adam state and the next epoch from their mean", async () => {
    E.manualSeed(5);
    const { model, opt } = tinySearchModel();
    const pool = toyPool(5, 6);
    const settings = metaTrain({ seed: 4 });
    // One epoch with one chain first, so that the Adam state is not zero.
    const reptile = new Reptile(1.0, 0.6);
    await metaEpoch(0, model, opt, reptile, pool, settings);
    const startParams = new E.Snapshot([...model.weights, ...model.arch]);
    const startOpt = opt.snapshot();
    const [w0, a0] = opt.steps;
    // By hand: each task from the same parameters and the same optimiser state.
    const ends: { params: number[][]; moments: number[][]; steps: [number, number] }[] = [];
    for (const i of [0, 1]) {
      startParams.restore();
      startOpt.restore();
      const rng = trainTaskRng(4, 1, i);
      E.manualSeed(rng.seed());
      await adapt(model, opt, sampleTask(pool, settings.task, rng), settings.inner, rng);
      ends.push({
        params: values([...model.weights, ...model.arch]),
        moments: values(opt.moments()),
        steps: opt.steps,
      });
    }
    const assertMean = (got: number[][], a: number[][], b: number[][], what: string) =>
      got.forEach((row, k) =>
        row.forEach((v, j) => {
          const want = (a[k]![j]! + b[k]![j]!) / 2;
          assert.ok(Math.abs(v - want) <= 1e-5 * (1 + Math.abs(want)), `${what} ${k}[${j}]: ${v} vs ${want}`);
        }),
      );
    startParams.restore();
    startOpt.restore();
    const rate1 = new Reptile(1.0, 1.0);
    await metaEpoch(1, model, opt, rate1, pool, { ...settings, optimizerChains: 2 });
    assertMean(values([...model.weights, ...model.arch]), ends[0]!.params, ends[1]!.params, "meta-parameter");
    assertMean(values(opt.moments()), ends[0]!.moments, ends[1]!.moments, "Adam moment");
    assert.deepEqual(opt.steps, [w0 + 3, a0 + 3], "each chain took 3 steps: the mean step count");
    assert.notDeepEqual(ends[0]!.moments, ends[1]!.moments, "the chains' states differ before averaging");
    E.dispose([startParams, startOpt]);
    rate1.dispose();
    reptile.dispose();
    opt.dispose();
    model.dispose();
  });

  it("does not leak tensors over meta-epochs", async () => {
    E.manualSeed(4);
    const { model, opt } = tinySearchModel();
    const reptile = new Reptile(1.0, 0.6);
    const pool = toyPool(5, 6);
    const settings = metaTrain({ warmup: 1, pruneEvery: 2 });
    await metaEpoch(0, model, opt, reptile, pool, settings);
    await metaEpoch(1, model, opt, reptile, pool, { ...settings, optimizerChains: 2 });
    const live = E.liveTensors();
    for (let e = 2; e < 8; e++)
      await metaEpoch(e, model, opt, reptile, pool, { ...settings, optimizerChains: 1 + (e % 2) });
    assert.equal(E.liveTensors(), live);
    reptile.dispose();
    opt.dispose();
    model.dispose();
  });
});

export type { Task };
