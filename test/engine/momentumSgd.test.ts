// SGD with momentum and gradient-norm clipping, against torch.optim.SGD's and
// clip_grad_norm_'s formulas computed by hand.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as E from "../../src/engine/index.js";
import { assertClose } from "../helpers/engineHelpers.js";

describe("MomentumSgd", () => {
  it("buf = d at the first step, then momentum * buf + d, with d = g + weightDecay * p; p -= lr * buf", () => {
    const p = E.keep(E.tensor([1, -2], [2], "float64"));
    const opt = new E.MomentumSgd([p], { lr: 0.1, momentum: 0.9, weightDecay: 0.5 });
    const g1 = E.tensor([0.2, 0.4], [2], "float64");
    opt.apply([g1]);
    // d1 = [0.2 + 0.5, 0.4 - 1] = [0.7, -0.6]; p = [1 - 0.07, -2 + 0.06]
    assertClose(p.toArray(), [0.93, -1.94], 1e-12);
    opt.lr = 0.05; // a schedule sets the rate between steps
    opt.apply([E.tensor([0, 0], [2], "float64")]);
    // d2 = 0.5 * p = [0.465, -0.97]; buf = 0.9 * [0.7, -0.6] + d2 = [1.095, -1.51]
    assertClose(p.toArray(), [0.93 - 0.05 * 1.095, -1.94 + 0.05 * 1.51], 1e-12);
    // A null gradient leaves that parameter alone.
    const before = p.toArray();
    opt.apply([null]);
    assertClose(p.toArray(), before, 0);
    opt.dispose();
    p.dispose();
  });
});

describe("clipGradNorm", () => {
  it("scales every gradient by maxNorm / (norm + 1e-6) when the global norm exceeds maxNorm, else leaves them", () => {
    const a = E.keep(E.tensor([3, 0], [2], "float64"));
    const b = E.keep(E.tensor([4], [1], "float64"));
    assert.equal(E.clipGradNorm([a, null, b], 10), 5);
    assertClose([...a.toArray(), ...b.toArray()], [3, 0, 4], 0);
    assert.equal(E.clipGradNorm([a, b], 1), 5);
    const k = 1 / (5 + 1e-6);
    assertClose([...a.toArray(), ...b.toArray()], [3 * k, 0, 4 * k], 1e-12);
    a.dispose();
    b.dispose();
  });
});
