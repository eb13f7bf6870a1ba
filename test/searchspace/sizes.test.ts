// Model sizes against hand-computed counts. MACs (multiply-accumulates per image) count
// convolutions and linear layers: conv = Cout * Hout * Wout * (Cin / groups) * kh * kw,
// linear = in * out; pooling, batch norm, ReLU and sums count nothing.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as E from "../../src/engine/index.js";
import { Conv4Model } from "../../src/models/conv4.js";
import { FixedNetwork } from "../../src/searchspace/fixedNetwork.js";
import type { Genotype } from "../../src/searchspace/genotype.js";
import { type NetworkConfig, PAPER_NETWORK, SearchNetwork } from "../../src/searchspace/network.js";
import { OP_NAMES } from "../../src/searchspace/primitives.js";
import { fixedSizes, macsPerImage } from "../../src/searchspace/sizes.js";
import { Architecture } from "../../src/sparsification/architecture.js";
import { sizesUnder } from "../helpers/searchHelpers.js";

const conv = (cout: number, h: number, w: number, cinPerGroup: number, kh: number, kw = kh) =>
  cout * h * w * cinPerGroup * kh * kw;

// Input 1x4x4, C = 2, stem to 6 channels, cells [normal, reduction], one node per cell (one input pair).
const SMALL: NetworkConfig = {
  inputChannels: 1,
  classes: 3,
  channels: 2,
  cells: 2,
  reductions: [1],
  nodes: 1,
  stemMultiplier: 3,
};
const SHAPE: [number, number, number] = [1, 4, 4];

// Per layer, by hand (C = 2).
const stem = conv(6, 4, 4, 1, 3); // 864
const cell0Pre = 2 * conv(2, 4, 4, 6, 1); // two 1x1 convs 6 -> 2: 384
const cell1Pre = conv(2, 4, 4, 6, 1) + conv(2, 4, 4, 2, 1); // s0 from the stem (6 ch), s1 from cell 0 (2 ch): 256
const classifier = 2 * 3; // 6
// One candidate op at stride 1 on 4x4, and at stride 2 (output 2x2).
const OPS_S1: Record<string, number> = {
  max_pool_3x3: 0,
  avg_pool_3x3: 0,
  skip_connect: 0,
  conv_1x5_5x1: conv(2, 4, 4, 2, 1, 5) + conv(2, 4, 4, 2, 5, 1), // 640
  conv_3x3: conv(2, 4, 4, 1, 3) + conv(2, 4, 4, 2, 1), // 352
  sep_conv_3x3: 2 * (conv(2, 4, 4, 1, 3) + conv(2, 4, 4, 2, 1)), // 704
  dil_conv_3x3: conv(2, 4, 4, 1, 3) + conv(2, 4, 4, 2, 1), // 352
};
const OPS_S2: Record<string, number> = {
  max_pool_3x3: 0,
  avg_pool_3x3: 0,
  skip_connect: 2 * conv(1, 2, 2, 2, 1), // FactorizedReduce: two 1x1 stride-2 convs 2 -> 1: 16
  conv_1x5_5x1: conv(2, 2, 2, 2, 1, 5) + conv(2, 2, 2, 2, 5, 1), // 160
  conv_3x3: conv(2, 2, 2, 1, 3) + conv(2, 2, 2, 2, 1), // 88
  sep_conv_3x3: 2 * (conv(2, 2, 2, 1, 3) + conv(2, 2, 2, 2, 1)), // 176: the second block runs at 2x2
  dil_conv_3x3: conv(2, 2, 2, 1, 3) + conv(2, 2, 2, 2, 1), // 88
};
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe("sizes against hand-computed counts", () => {
  it("the hand counts are what they claim (arithmetic of the table)", () => {
    assert.deepEqual([stem, cell0Pre, cell1Pre, classifier], [864, 384, 256, 6]);
    assert.equal(sum(Object.values(OPS_S1)), 2048);
    assert.equal(sum(Object.values(OPS_S2)), 528);
  });

  it("one-shot network: dense MACs, pruned MACs and pruned weights", () => {
    E.manualSeed(3);
    const net = new SearchNetwork(SMALL);
    const arch = new Architecture(1);
    try {
      // Dense: every op on both edges of both cells.
      const dense =
        stem + cell0Pre + 2 * sum(Object.values(OPS_S1)) + cell1Pre + 2 * sum(Object.values(OPS_S2)) + classifier;
      assert.equal(dense, 6662);
      // Decisive logits: normal cell keeps conv_3x3 on input 0 and skip_connect on input 1; the
      // reduction cell keeps sep_conv_3x3 on input 0 and conv_1x5_5x1 on input 1.
      const keep = { normal: ["conv_3x3", "skip_connect"], reduce: ["sep_conv_3x3", "conv_1x5_5x1"] } as const;
      E.noGrad(() => {
        for (const kind of ["normal", "reduce"] as const) {
          arch.alpha[kind].fill_(0);
          keep[kind].forEach((op, e) => {
            const o = OP_NAMES.indexOf(op);
            arch.alpha[kind]
              .slice(0, e, e + 1)
              .slice(1, o, o + 1)
              .fill_(10);
          });
        }
      });
      const s = E.tidy(() => sizesUnder(net, arch, { temperature: 0.05, threshold: 0.01, dropPath: 0 }, SHAPE));
      assert.equal(s.macs, dense);
      const pruned =
        stem + cell0Pre + OPS_S1.conv_3x3! + cell1Pre + OPS_S2.sep_conv_3x3! + OPS_S2.conv_1x5_5x1! + classifier;
      assert.equal(s.sparseMacs, pruned);
      assert.equal(s.sparseMacs, 2198);
      // Weights: stem conv 6*1*9 + affine stem BN 2*6; 1x1 convs (no BN weights in the search network);
      // conv_3x3 = depthwise 2*9 + pointwise 2*2; sep = twice that; conv_1x5_5x1 = 2*2*5 twice; classifier 2*3+3.
      const weights = 54 + 12 + (12 + 12) + 22 + (12 + 4) + 44 + 40 + 9;
      assert.equal(s.sparseParams, weights);
      assert.equal(s.archParams, 2 * (2 * 7) + 2 * 1);
    } finally {
      net.dispose();
      arch.dispose();
    }
  });

  it("fixed network from a genotype", () => {
    const genotype: Genotype = {
      normal: [
        [
          ["conv_3x3", 0],
          ["skip_connect", 1],
        ],
      ],
      normalConcat: [2],
      reduce: [
        [
          ["sep_conv_3x3", 0],
          ["conv_1x5_5x1", 1],
        ],
      ],
      reduceConcat: [2],
    };
    E.manualSeed(3);
    const net = new FixedNetwork(SMALL, genotype);
    try {
      const s = E.tidy(() => fixedSizes(net, SHAPE));
      const expected =
        stem + cell0Pre + OPS_S1.conv_3x3! + cell1Pre + OPS_S2.sep_conv_3x3! + OPS_S2.conv_1x5_5x1! + classifier;
      assert.equal(s.macs, expected);
      // Affine BN everywhere: stem 12, preprocessing 4 + 4, conv_3x3 BN 4, sep two BNs 8, fac BN 4.
      assert.equal(s.params, 54 + 12 + (16 + 16) + 26 + (16 + 8) + 52 + 44 + 9);
    } finally {
      net.dispose();
    }
  });

  it("Conv4 baseline", () => {
    E.manualSeed(3);
    const model = new Conv4Model({ inputShape: [1, 16, 16], classes: 5, channels: 4 });
    try {
      const macs = E.tidy(() =>
        macsPerImage((x) => model.forward(x, { temperature: 1, threshold: 0, dropPath: 0 }), [1, 16, 16]),
      );
      assert.equal(
        macs,
        conv(4, 16, 16, 1, 3) + conv(4, 8, 8, 4, 3) + conv(4, 4, 4, 4, 3) + conv(4, 2, 2, 4, 3) + 4 * 5,
      );
    } finally {
      model.dispose();
    }
  });

  it("the paper's Omniglot one-shot network: 143,090,304 MACs per 28x28 image, dense", () => {
    E.manualSeed(0);
    const net = new SearchNetwork({ ...PAPER_NETWORK, inputChannels: 1, classes: 20 });
    const arch = new Architecture(PAPER_NETWORK.nodes);
    try {
      const s = E.tidy(() => sizesUnder(net, arch, { temperature: 1, threshold: 0.01, dropPath: 0 }, [1, 28, 28]));
      // Counted independently (per-layer formula, and forward hooks on a PyTorch build).
      assert.equal(s.macs, 143_090_304);
      // At T = 1 every op weight is about 1/7 and every pair weight at least 1/6: nothing is pruned.
      assert.equal(s.sparseMacs, s.macs);
    } finally {
      net.dispose();
      arch.dispose();
    }
  });
});
