import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { epochScale } from "../../src/metalearner/metaTrainer.js";
import { buildConfig } from "../../src/runs/presets.js";
import { scaleOfEpoch, testInner, testScale } from "../../src/runs/session.js";
import { annealed, temperatureAt, temperatureScale } from "../../src/sparsification/temperature.js";
import { innerTemperature } from "../../src/tasklearner/taskLearner.js";
import { inner, metaTrain } from "../helpers/tinyMeta.js";

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);

describe("temperature schedules", () => {
  it("linear: falls from t_max to t_min over S steps, then stays", () => {
    const s = { tMax: 1, tMin: 0.05, steps: 5 };
    const values = [0, 1, 2, 3, 4, 5, 9].map((k) => temperatureAt(k, s));
    const expected = [1, 1 - 0.95 / 4, 1 - 0.95 / 2, 1 - (3 * 0.95) / 4, 0.05, 0.05, 0.05];
    values.forEach((v, i) => close(v, expected[i]!, `step ${i}`));
  });

  it("geometric: the same factor every step, the geometric mean half-way", () => {
    const s = { tMax: 1, tMin: 0.001, steps: 101, schedule: "geometric" as const };
    assert.equal(temperatureAt(0, s), 1);
    close(temperatureAt(50, s), Math.sqrt(0.001), "middle");
    for (const k of [1, 30, 99])
      close(temperatureAt(k + 1, s) / temperatureAt(k, s), 0.001 ** (1 / 100), `ratio at ${k}`);
    assert.equal(temperatureAt(100, s), 0.001);
    assert.equal(temperatureAt(500, s), 0.001);
  });

  it("cosine: flat at both ends, the arithmetic mean half-way", () => {
    const s = { tMax: 1, tMin: 0.05, steps: 11, schedule: "cosine" as const };
    assert.equal(temperatureAt(0, s), 1);
    close(temperatureAt(5, s), (1 + 0.05) / 2, "middle");
    close(temperatureAt(1, s), 0.05 + (0.95 * (1 + Math.cos(Math.PI / 10))) / 2, "first step");
    assert.equal(temperatureAt(10, s), 0.05);
  });

  it("the shape applies to the inner loop's architecture steps, then T is held", () => {
    const s = inner({ steps: 6, archSteps: 3, tMax: 1, tMin: 0.01, schedule: "geometric" });
    assert.deepEqual(
      [0, 1, 2, 3, 5].map((k) => innerTemperature(k, s)),
      [1, annealed("geometric", 1, 3, 1, 0.01), 0.01, 0.01, 0.01],
    );
    close(innerTemperature(1, s), 0.1, "middle");
  });
});

describe("meta-level temperature scale", () => {
  const scale = { min: 0.02, epochs: 0, schedule: "geometric" as const };

  it("falls from 1 to its minimum over the search, then is held; 1 when off", () => {
    assert.equal(temperatureScale(0, 201, scale), 1);
    close(temperatureScale(100, 201, scale), Math.sqrt(0.02), "middle");
    assert.equal(temperatureScale(200, 201, scale), 0.02);
    // Over a span shorter than the search: reached at the span's end, then held.
    const short = { ...scale, epochs: 51 };
    close(temperatureScale(25, 201, short), Math.sqrt(0.02), "middle of the span");
    assert.equal(temperatureScale(50, 201, short), 0.02);
    assert.equal(temperatureScale(150, 201, short), 0.02);
    assert.equal(temperatureScale(100, 201, { ...scale, min: 1 }), 1);
    // Starting late: 1 until the start, then over the rest of the search (or the span).
    const late = { ...scale, start: 100 };
    assert.equal(temperatureScale(100, 201, late), 1);
    close(temperatureScale(150, 201, late), Math.sqrt(0.02), "middle of the rest");
    assert.equal(temperatureScale(200, 201, late), 0.02);
    close(temperatureScale(125, 201, { ...late, epochs: 51 }), Math.sqrt(0.02), "middle of a late span");
    assert.equal(temperatureScale(100, 201, { ...scale, schedule: "linear" }), 1 - 0.5 * 0.98);
  });

  it("is 1 in the warm-up and scales every inner temperature of meta-training after it", () => {
    const s = metaTrain({ warmup: 10, epochs: 31, scale: { ...scale, min: 0.01 } });
    assert.equal(epochScale(9, s), 1);
    assert.equal(epochScale(10, s), 1);
    close(epochScale(20, s), 0.1, "middle of the search");
    assert.equal(epochScale(30, s), 0.01);
    assert.equal(epochScale(5, metaTrain({ warmup: 0, epochs: 11 })), 1, "no scale given: off");
  });

  it("a run validates at the scale it has reached and meta-tests at the last one, unless told", () => {
    const c = buildConfig("quick", {}, { epochs: 48, warmup: 24, tScaleMin: 0.04, tScaleEpochs: 13 });
    assert.equal(scaleOfEpoch(c, 23), 1);
    close(scaleOfEpoch(c, 30), 0.2, "half-way through the fall");
    assert.equal(scaleOfEpoch(c, 47), 0.04);
    assert.equal(testScale(c), 0.04);
    const t = testInner(c);
    close(t.tMax, 0.04 * c.tMax, "meta-test t-max");
    close(t.tMin, 0.04 * c.testTMin, "meta-test t-min");
    assert.equal(testScale({ ...c, testTScale: 0.5 }), 0.5);
    assert.equal(testScale(buildConfig("quick", {}, {})), 1, "the presets do not scale");
  });
});
