import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import * as E from "../../src/engine/index.js";
import { SearchModel } from "../../src/models/searchModel.js";
import type { SearchCell } from "../../src/searchspace/cell.js";
import type { CellWeights } from "../../src/searchspace/cellWeights.js";
import { dropPath } from "../../src/searchspace/dropPath.js";
import { FixedNetwork } from "../../src/searchspace/fixedNetwork.js";
import { fromDarts, fromJson, parseGenotype, toDarts, toJson } from "../../src/searchspace/genotype.js";
import { type NetworkConfig, PAPER_NETWORK, SearchNetwork } from "../../src/searchspace/network.js";
import {
  DilConv,
  FacConv,
  FactorizedReduce,
  OPERATIONS,
  PoolBN,
  ReLUConvBN,
  ReluOperation,
  SepConv,
} from "../../src/searchspace/operations.js";
import type { ForwardPhase } from "../../src/searchspace/phase.js";
import { NUM_OPS, OP_NAMES } from "../../src/searchspace/primitives.js";
import { fixedSizes } from "../../src/searchspace/sizes.js";
import { edgeIndex, numEdges } from "../../src/searchspace/topology.js";
import { Architecture } from "../../src/sparsification/architecture.js";
import type { Strategy } from "../../src/sparsification/strategy.js";
import { inputPairs } from "../../src/sparsification/strategy.js";
import { assertClose } from "../helpers/engineHelpers.js";
import { forwardUnder, sizesUnder } from "../helpers/searchHelpers.js";

const tiny = (o: Partial<NetworkConfig> = {}): NetworkConfig => ({
  inputChannels: 1,
  classes: 5,
  channels: 4,
  cells: 2,
  reductions: [1],
  nodes: 3,
  stemMultiplier: 3,
  ...o,
});
const settings = (o: Partial<ForwardPhase> = {}): ForwardPhase => ({
  temperature: 1,
  threshold: 0.01,
  dropPath: 0,
  ...o,
});

afterEach(() => E.setDefaultFloatDType("float32"));

describe("operations", () => {
  it("keep or halve the resolution and keep C channels, also for odd sizes", () => {
    E.tidy(() => {
      for (const size of [28, 15, 7]) {
        const x = E.rand([2, 6, size, size]);
        for (const name of OP_NAMES) {
          for (const stride of [1, 2]) {
            const op = OPERATIONS[name](6, stride, false);
            const y = op.forward(x);
            const out = stride === 1 ? size : Math.ceil(size / 2);
            assert.deepEqual(y.shape, [2, 6, out, out], `${name} stride ${stride} on ${size}x${size}`);
            op.dispose();
          }
        }
      }
    });
  });

  it("have the parameter counts of their definition (no conv bias, BN affine only when asked)", () => {
    const c = 10;
    const dw = (k: number) => c * k; // depthwise: one k-kernel per channel
    assert.equal(new PoolBN("max", c, 1, false).numParameters(), 0);
    assert.equal(new PoolBN("avg", c, 1, true).numParameters(), 2 * c);
    assert.equal(new DilConv(c, 1, 2, false).numParameters(), dw(9) + c * c);
    assert.equal(new SepConv(c, 1, false).numParameters(), 2 * (dw(9) + c * c));
    assert.equal(new FacConv(c, 2, false).numParameters(), 2 * c * c * 5);
    assert.equal(new FactorizedReduce(c, c, true).numParameters(), 2 * c * (c / 2) + 2 * c);
    assert.equal(new ReLUConvBN(30, c, false).numParameters(), 30 * c);
    assert.equal(OPERATIONS.skip_connect(c, 1, false).numParameters(), 0);
  });

  it("average pooling does not count the padding", () => {
    E.tidy(() => {
      const op = new PoolBN("avg", 1, 1, false);
      // Through BN the values are standardised, so compare the pooling itself via the op's first stage.
      const x = E.ones([1, 1, 4, 4]);
      const pooled = E.avgPool2d(x, 3, 1, 1, false);
      assert.ok(pooled.toArray().every((v) => Math.abs(v - 1) < 1e-6));
      op.dispose();
    });
  });

  it("FactorizedReduce reads the input shifted by one pixel right and down in its second half", () => {
    E.tidy(() => {
      const fr = new FactorizedReduce(1, 2, false);
      E.noGrad(() => {
        fr.conv1.weight.fill_(1);
        fr.conv2.weight.fill_(1);
      });
      // Positive input so that the ReLU passes everything; x[i, j] = 10 i + j.
      const x = E.tensor(
        Array.from({ length: 16 }, (_, k) => 10 * Math.floor(k / 4) + (k % 4) + 1),
        [1, 1, 4, 4],
      );
      const r = x.relu();
      const a = E.conv2d(r, fr.conv1.weight, { stride: 2 }).toArray();
      const b = E.conv2d(r.pad([0, 1, 0, 1]).slice(2, 1, 5).slice(3, 1, 5), fr.conv2.weight, { stride: 2 }).toArray();
      assert.deepEqual(a, [1, 3, 21, 23]);
      assert.deepEqual(b, [12, 14, 32, 34]);
    });
  });
});

describe("search network", () => {
  it("gives logits [N, classes] for Omniglot- and MiniImagenet-shaped inputs and odd sizes", () => {
    E.manualSeed(1);
    for (const [c, h] of [
      [1, 28],
      [3, 84],
      [1, 13],
    ] as const) {
      const net = new SearchNetwork(tiny({ inputChannels: c, cells: 4, reductions: [1, 3] }));
      const arch = new Architecture(3);
      E.tidy(() => assert.deepEqual(forwardUnder(net, E.rand([3, c, h, h]), arch, settings()).shape, [3, 5]));
      net.dispose();
      arch.dispose();
    }
  });

  it("drop-path folded into the op weights and the shared ReLU equal the plain formulation", () => {
    // The plain formulation: every op applies its own ReLU; drop-path multiplies each op's output
    // by its per-sample mask, then by the op's weight; edges and nodes are plain sums. Same seed, so
    // the same masks (one draw per non-identity op, in the same order).
    E.setDefaultFloatDType("float64");
    E.manualSeed(9);
    const net = new SearchNetwork(tiny());
    const arch = new Architecture(3);
    E.noGrad(() => {
      for (const [, t] of arch.namedParameters()) E.tidy(() => t.copy_(E.randn(t.shape)));
    });
    const x = E.rand([4, 1, 9, 9]);
    const s = settings({ temperature: 0.7, threshold: 0.05, dropPath: 0.3 });
    const plain = (cell: SearchCell, s0: E.Tensor, s1: E.Tensor, w: CellWeights): E.Tensor => {
      const states = [cell.preprocess0.forward(s0), cell.preprocess1.forward(s1)];
      for (let j = 0; j < cell.shape.nodes; j++) {
        let node: E.Tensor | null = null;
        for (const { input, coef } of w.inputs[j]!) {
          let edge: E.Tensor | null = null;
          for (const { op, weight } of w.ops[edgeIndex(j, input)]!) {
            const operation = cell.edges[edgeIndex(j, input)]!.ops[op]!;
            let y = operation.forward(states[input]!);
            if (!operation.isIdentity) y = dropPath(y, s.dropPath);
            edge = edge ? edge.add(y.mul(weight!)) : y.mul(weight!);
          }
          const c = coef ? edge!.mul(coef) : edge!;
          node = node ? node.add(c) : c;
        }
        states.push(node!);
      }
      return E.cat(states.slice(2), 1);
    };
    const run = (useNetwork: boolean) =>
      E.tidy(() => {
        E.manualSeed(3);
        let logits: E.Tensor;
        if (useNetwork) logits = forwardUnder(net, x, arch, s);
        else {
          const normal = arch.cellWeights("normal", s);
          const reduce = arch.cellWeights("reduce", s);
          let s0 = net.stemBn.forward(net.stemConv.forward(x));
          let s1 = s0;
          for (const cell of net.cells) [s0, s1] = [s1, plain(cell, s0, s1, cell.shape.reduction ? reduce : normal)];
          logits = net.classifier.forward(E.globalAvgPool(s1));
        }
        const loss = E.crossEntropy(logits, E.labels([0, 1, 2, 3]));
        return { logits: logits.toArray(), grads: E.grad(loss, arch.parameters()).map((g) => g!.toArray()) };
      });
    const a = run(true);
    const b = run(false);
    assertClose(a.logits, b.logits, 1e-12, "logits");
    a.grads.forEach((g, i) => assertClose(g, b.grads[i]!, 1e-10, `architecture gradient ${i}`));
    x.dispose();
    net.dispose();
    arch.dispose();
  });

  it("has 9 mixed edges of 7 ops per cell and 2 x (9 x 7 + 10) architecture parameters", () => {
    const net = new SearchNetwork(tiny());
    const arch = new Architecture(3);
    assert.equal(numEdges(3), 9);
    assert.equal(net.cells[0]!.edges.length, 9);
    assert.equal(net.cells[0]!.edges[0]!.ops.length, NUM_OPS);
    assert.deepEqual(
      [1, 2, 3].map((j) => inputPairs(j + 1).length),
      [1, 3, 6],
    );
    assert.equal(arch.numParameters(), 2 * (9 * 7 + 1 + 3 + 6));
    net.dispose();
    arch.dispose();
  });

  it("parameter count at the paper's Omniglot setting is the sum of its parts", () => {
    const cfg = { ...PAPER_NETWORK, inputChannels: 1, classes: 20 };
    const net = new SearchNetwork(cfg);
    const c = 28;
    const edge = (s: number) =>
      0 + 0 + (s === 1 ? 0 : c * c + 2 * 0) + 10 * c * c + (9 * c + c * c) + 2 * (9 * c + c * c) + (9 * c + c * c);
    // stem conv 3x3 1 -> 84 + affine BN; classifier 84 -> 20
    let expected = 9 * 84 + 2 * 84 + (84 * 20 + 20);
    for (let k = 0; k < 4; k++) {
      const reduction = k === 1 || k === 3;
      const reductionPrev = k === 2;
      expected += reductionPrev ? 84 * 14 * 2 : 84 * c; // preprocess0
      expected += 84 * c; // preprocess1
      for (let j = 0; j < 3; j++) for (let i = 0; i < 2 + j; i++) expected += edge(reduction && i < 2 ? 2 : 1);
    }
    assert.equal(net.numParameters(), expected);
    net.dispose();
  });

  it("alpha and beta gradients match finite differences (float64)", () => {
    E.setDefaultFloatDType("float64");
    E.manualSeed(3);
    const net = new SearchNetwork(tiny({ channels: 2, cells: 2 }));
    const arch = new Architecture(3);
    E.noGrad(() => {
      arch.alpha.normal.copy_(E.randn([9, 7]).mul(0.5));
      arch.beta.reduce[2]!.copy_(E.randn([6]).mul(0.5));
    });
    const x = E.rand([4, 1, 8, 8]);
    const y = E.labels([0, 1, 2, 3]);
    const s = settings({ temperature: 0.7, threshold: 0 });
    const loss = () => E.tidy(() => E.crossEntropy(forwardUnder(net, x, arch, s), y).item());
    const grads = E.tidy(() => {
      const [ga, gb] = E.grad(E.crossEntropy(forwardUnder(net, x, arch, s), y), [
        arch.alpha.normal,
        arch.beta.reduce[2]!,
      ]);
      return [ga!.toArray(), gb!.toArray()];
    });
    const h = 1e-5;
    const check = (t: E.Tensor, analytic: number[], indices: number[]) => {
      for (const k of indices) {
        const flat = t.reshape([t.size]);
        const bump = (d: number) => E.noGrad(() => E.tidy(() => flat.slice(0, k, k + 1).addScaled_(E.ones([1]), d)));
        bump(h);
        const up = loss();
        bump(-2 * h);
        const down = loss();
        bump(h);
        flat.dispose();
        const numeric = (up - down) / (2 * h);
        assert.ok(
          Math.abs(numeric - analytic[k]!) < 1e-6 + 1e-4 * Math.abs(numeric),
          `index ${k}: numeric ${numeric} analytic ${analytic[k]}`,
        );
      }
    };
    check(arch.alpha.normal, grads[0]!, [0, 8, 20, 33, 62]);
    check(arch.beta.reduce[2]!, grads[1]!, [0, 2, 5]);
    assert.ok(
      grads[1]!.some((g) => Math.abs(g) > 1e-8),
      "beta gradient is not zero",
    );
    E.dispose([x, y]);
    net.dispose();
    arch.dispose();
  });

  it("pruned ops are not computed and get no gradient; pruned pairs drop their inputs", () => {
    E.manualSeed(4);
    const net = new SearchNetwork(tiny());
    const arch = new Architecture(3);
    // Edge 0 of normal cells: op 5 dominates at low temperature; node 1's pair (0, 2) dominates.
    E.noGrad(() => {
      arch.alpha.normal.slice(0, 0, 1).slice(1, 5, 6).fill_(1);
      arch.beta.normal[1]!.slice(0, 1, 2).fill_(1);
    });
    let calls = 0;
    // conv_1x5_5x1 starts with a ReLU: the cell hands it the shared ReLU (the *Relu methods).
    const pruned = net.cells[0]!.edges[0]!.ops[3]! as ReluOperation;
    assert.ok(pruned instanceof ReluOperation);
    const original = pruned.beforeNormRelu.bind(pruned);
    pruned.beforeNormRelu = (r) => {
      calls++;
      return original(r);
    };
    const x = E.rand([4, 1, 12, 12]);
    E.tidy(() => {
      const loss = E.crossEntropy(forwardUnder(net, x, arch, settings({ temperature: 0.05 })), E.labels([0, 1, 2, 3]));
      assert.equal(calls, 0);
      const params = [
        ...pruned.parameters(),
        ...net.cells[0]!.edges[edgeIndex(1, 1)]!.ops[4]!.parameters(),
        ...net.cells[0]!.edges[0]!.ops[5]!.parameters(),
      ];
      const g = E.grad(loss, params);
      const n = pruned.parameters().length;
      assert.ok(
        g.slice(0, n).every((t) => t === null),
        "pruned op has a gradient",
      );
      // node 1 reads inputs 0 and 2 only: the edge from input 1 is not used at all
      assert.ok(
        g.slice(n, n + 2).every((t) => t === null),
        "edge of a pruned pair has a gradient",
      );
      assert.ok(
        g.slice(-2).every((t) => t !== null),
        "the surviving op has no gradient",
      );
    });
    E.tidy(() => forwardUnder(net, x, arch, settings({ temperature: 1 })));
    assert.ok(calls > 0, "at T = 1 nothing is pruned");
    const s = sizesUnder(net, arch, settings({ temperature: 0.05 }), [1, 12, 12]);
    assert.ok(s.sparseMacs < s.macs && s.sparseParams < s.params, JSON.stringify(s));
    x.dispose();
    net.dispose();
    arch.dispose();
  });
});

describe("pruning at low temperature", () => {
  // Logits made decisive: a margin that is small at T = 1 (softmax far from one-hot) and large at t_min.
  function decisive(arch: Architecture, margin: number) {
    E.noGrad(() => {
      for (const kind of ["normal", "reduce"] as const) {
        arch.alpha[kind].copy_(E.randn([9, 7]).mul(0.05));
        for (let e = 0; e < 9; e++)
          arch.alpha[kind]
            .slice(0, e, e + 1)
            .slice(1, (e * 3 + 1) % 7, ((e * 3 + 1) % 7) + 1)
            .fill_(margin);
        arch.beta[kind].forEach((b, j) => {
          b.copy_(E.randn(b.shape).mul(0.05));
          b.slice(0, j, j + 1).fill_(margin);
        });
      }
    });
  }
  function compare(strategy: Strategy, temperature: number) {
    E.manualSeed(7);
    const cfg = tiny({ channels: 6, cells: 4, reductions: [1, 3], classes: 5 });
    const net = new SearchNetwork(cfg);
    const arch = new Architecture(3, strategy);
    decisive(arch, 0.5);
    const genotype = arch.genotype();
    const fixed = new FixedNetwork(cfg, genotype);
    fixed.copyFromSearch(net);
    const x = E.rand([10, 1, 16, 16]);
    const [a, b] = E.tidy(() =>
      E.noGrad(() => [
        forwardUnder(net, x, arch, settings({ temperature, threshold: 0.01 })).toArray(),
        fixed.forward(x).toArray(),
      ]),
    );
    x.dispose();
    net.dispose();
    fixed.dispose();
    arch.dispose();
    const maxDiff = Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
    const argmax = (v: number[], r: number) =>
      v.slice(r * 5, r * 5 + 5).indexOf(Math.max(...v.slice(r * 5, r * 5 + 5)));
    const agree = Array.from({ length: 10 }, (_, r) => argmax(a, r) === argmax(b, r)).filter(Boolean).length;
    return { maxDiff, agree };
  }

  it("MetaNAS (ops and input pairs annealed) at t_min: the one-shot and the pruned network agree", () => {
    const { maxDiff, agree } = compare("metanas", 0.05);
    assert.equal(agree, 10);
    assert.ok(maxDiff < 1e-3, `max logit difference ${maxDiff}`);
  });
  it("the same logits at T = 1 (no annealing): the networks differ", () => {
    const { maxDiff } = compare("metanas", 1);
    assert.ok(maxDiff > 1e-2, `max logit difference ${maxDiff}`);
  });
  it("plain DARTS (all inputs summed): the networks differ", () => {
    const { maxDiff } = compare("darts", 0.05);
    assert.ok(maxDiff > 1e-2, `max logit difference ${maxDiff}`);
  });
  it("annealing ops only (all inputs summed): the networks differ", () => {
    const { maxDiff } = compare("anneal-ops", 0.05);
    assert.ok(maxDiff > 1e-2, `max logit difference ${maxDiff}`);
  });

  for (const strategy of ["darts", "anneal-ops", "metanas"] as const) {
    it(`the discrete network of a ${strategy} search is the genotype's fixed network on the same weights`, () => {
      E.manualSeed(11);
      const cfg = tiny({ channels: 6, cells: 4, reductions: [1, 3], classes: 5 });
      const model = new SearchModel(cfg, strategy);
      E.noGrad(() => {
        for (const a of model.arch) a.copy_(E.randn(a.shape));
      });
      const genotype = model.genotype();
      const fixed = new FixedNetwork(cfg, genotype);
      fixed.copyFromSearch(model.net);
      const x = E.rand([8, 1, 16, 16]);
      const [a, b] = E.tidy(() =>
        E.noGrad(() => [model.forwardDiscrete(x, genotype).toArray(), fixed.forward(x).toArray()]),
      );
      const maxDiff = Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
      assert.ok(maxDiff < 1e-5, `max logit difference ${maxDiff}`);
      // The fixed network's cells have affine batch norm, which the search network lacks.
      const withoutAffine = fixed
        .namedParameters()
        .filter(([n]) => n.startsWith("stem.") || !/bn\.(weight|bias)$/.test(n))
        .reduce((sum, [, t]) => sum + t.size, 0);
      assert.equal(model.discreteParams(genotype), withoutAffine);
      assert.ok(withoutAffine < model.totalParams());
      x.dispose();
      model.dispose();
      fixed.dispose();
    });
  }
});

describe("genotype", () => {
  const g = {
    normal: [
      [
        ["sep_conv_3x3", 0],
        ["skip_connect", 1],
      ],
      [
        ["dil_conv_3x3", 0],
        ["max_pool_3x3", 2],
      ],
      [
        ["conv_1x5_5x1", 3],
        ["avg_pool_3x3", 1],
      ],
    ],
    normalConcat: [2, 3, 4],
    reduce: [
      [
        ["conv_3x3", 0],
        ["skip_connect", 1],
      ],
      [
        ["sep_conv_3x3", 1],
        ["max_pool_3x3", 2],
      ],
      [
        ["dil_conv_3x3", 0],
        ["avg_pool_3x3", 3],
      ],
    ],
    reduceConcat: [2, 3, 4],
  } as unknown as ReturnType<typeof fromJson>;

  it("round-trips through JSON and the DARTS notation", () => {
    assert.deepEqual(fromJson(toJson(g)), g);
    const darts = toDarts(g);
    assert.match(darts, /^Genotype\(normal=\[\[\("sep_conv_3x3", 0\), \("skip_connect", 1\)\], /);
    assert.match(darts, /normal_concat=range\(2, 5\)/);
    assert.deepEqual(fromDarts(darts), g);
    assert.deepEqual(parseGenotype(darts), g);
    assert.deepEqual(parseGenotype(toJson(g)), g);
  });
  it("reads the original flat DARTS form with single quotes", () => {
    const flat =
      "Genotype(normal=[('sep_conv_3x3', 0), ('skip_connect', 1), ('dil_conv_3x3', 0), ('max_pool_3x3', 2), ('conv_1x5_5x1', 3), ('avg_pool_3x3', 1)], normal_concat=range(2, 5), reduce=[('conv_3x3', 0), ('skip_connect', 1), ('sep_conv_3x3', 1), ('max_pool_3x3', 2), ('dil_conv_3x3', 0), ('avg_pool_3x3', 3)], reduce_concat=[2, 3, 4])";
    assert.deepEqual(fromDarts(flat), g);
  });
  it("refuses unknown ops and inputs that do not exist, naming them", () => {
    assert.throws(
      () => fromDarts(toDarts(g).replace("sep_conv_3x3", "sep_conv_7x7")),
      /unknown operation "sep_conv_7x7"/,
    );
    assert.throws(
      () => fromDarts(toDarts(g).replace('("avg_pool_3x3", 1)', '("avg_pool_3x3", 7)')),
      /input 7 does not exist/,
    );
    assert.throws(() => fromJson("{"), /not valid JSON/);
  });
  it("is derived from the argmax pair of beta and the argmax op on each chosen edge", () => {
    const arch = new Architecture(3);
    E.noGrad(() => {
      arch.beta.normal[2]!.slice(0, 4, 5).fill_(1); // pairs of 4 inputs: (0,1) (0,2) (0,3) (1,2) (1,3) (2,3): index 4 = (1, 3)
      arch.alpha.normal
        .slice(0, edgeIndex(2, 1), edgeIndex(2, 1) + 1)
        .slice(1, 6, 7)
        .fill_(1);
      arch.alpha.normal
        .slice(0, edgeIndex(2, 3), edgeIndex(2, 3) + 1)
        .slice(1, 0, 1)
        .fill_(1);
    });
    const node2 = arch.genotype().normal[2]!;
    assert.deepEqual(node2, [
      ["dil_conv_3x3", 1],
      ["max_pool_3x3", 3],
    ]);
    arch.dispose();
  });
});

describe("sizes", () => {
  it("fixed network from a genotype: affine BN, any C and cell count", () => {
    const arch = new Architecture(3);
    const cfg = tiny({ channels: 8, cells: 5, reductions: [1, 3] });
    const fixed = new FixedNetwork(cfg, arch.genotype());
    const s = fixedSizes(fixed, [1, 28, 28]);
    assert.ok(s.params > 0 && s.macs > 0);
    E.tidy(() => assert.deepEqual(fixed.forward(E.rand([2, 1, 28, 28]), 0.2).shape, [2, 5]));
    fixed.dispose();
    arch.dispose();
  });
});
