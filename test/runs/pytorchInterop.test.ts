// python/metanas_torch.py builds a PyTorch module from a run directory; its logits on the same
// images must equal the TypeScript forward pass of the run's checkpoint to 1e-5: for a search run
// (the one-shot network, densely and with forward pruning), a fixed-architecture run and Conv4.
// Skips when Debian's python3-torch is absent.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import * as E from "../../src/engine/index.js";
import type { ForwardPhase } from "../../src/models/model.js";
import { loadCheckpoint } from "../../src/runs/checkpoint.js";
import type { RunConfig } from "../../src/runs/config.js";
import { buildConfig } from "../../src/runs/presets.js";
import { readRunConfig } from "../../src/runs/runDir.js";
import { runTraining } from "../../src/runs/runner.js";
import { closeSession, openSession } from "../../src/runs/session.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const python = "/usr/bin/python3";
const hasTorch = spawnSync(python, ["-c", "import torch"]).status === 0;
const tmp = mkdtempSync(path.join(os.tmpdir(), "metanas-torch-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const TOLERANCE = 1e-5;
const tiny: Partial<RunConfig> = {
  channels: 4,
  ways: 3,
  queries: 2,
  trainShots: 2,
  epochs: 3,
  warmup: 1,
  metaBatch: 2,
  innerSteps: 3,
  batchSize: 4,
  evalEvery: 0,
  checkpointEvery: 0,
};

async function train(name: string, o: Partial<RunConfig>): Promise<string> {
  const dir = path.join(tmp, name);
  await runTraining(dir, { config: buildConfig("quick", {}, { ...tiny, ...o }) }, { skipFinalTest: true });
  return dir;
}

/** Logits of the run's checkpoint in TypeScript, the number of weights the pass used, and the same from PyTorch. */
async function bothSides(dir: string, images: string, x: E.Tensor, phase: ForwardPhase) {
  const c = readRunConfig(dir);
  const s = await openSession(c, () => {});
  let ours: number[];
  let active: number;
  try {
    loadCheckpoint(dir, c, s.model, s.opt, s.learner);
    ours = Array.from(E.tidy(() => E.noGrad(() => s.model.forward(x, phase))).data());
    active = s.model.activeParams(phase);
  } finally {
    closeSession(s);
  }
  const args = [path.join(root, "python/metanas_torch.py"), dir, "--logits", images];
  if (c.model === "metanas")
    args.push("--temperature", String(phase.temperature), "--threshold", String(phase.threshold));
  const r = spawnSync(python, args, { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const theirs = JSON.parse(r.stdout) as { shape: number[]; logits: number[] };
  assert.deepEqual(theirs.shape, [x.shape[0], c.ways]);
  assert.equal(theirs.logits.length, ours.length);
  const maxDiff = Math.max(...ours.map((v, i) => Math.abs(v - theirs.logits[i]!)));
  return { maxDiff, active, total: s.model.totalParams(), spread: Math.max(...ours) - Math.min(...ours) };
}

describe("PyTorch interop (python/metanas_torch.py)", {
  skip: hasTorch ? false : `skipped: ${python} with torch (Debian's python3-torch) is absent`,
}, () => {
  let search = "";
  let fixed = "";
  let conv4 = "";
  const images = path.join(tmp, "images.safetensors");
  let x: E.Tensor;
  before(async () => {
    // A search with a fast architecture rate, so that low temperatures prune.
    search = await train("search", { lrArch: 0.1 });
    fixed = await train("fixed", { model: "fixed", genotype: path.join(search, "genotype.json") });
    conv4 = await train("conv4", { model: "conv4", conv4Channels: 8 });
    E.manualSeed(5);
    x = E.keep(E.rand([6, 1, 28, 28]));
    E.saveSafetensors(images, new Map([["images", x]]));
  });
  after(() => x?.dispose());

  it("search run, dense (T = 1): logits equal", async (t) => {
    const r = await bothSides(search, images, x, { temperature: 1, threshold: 0, dropPath: 0 });
    t.diagnostic(`one-shot network, T = 1: max |logit difference| ${r.maxDiff.toExponential(2)}`);
    assert.equal(r.active, r.total, "nothing pruned");
    assert.ok(r.spread > 1e-3, "the logits are not all alike");
    assert.ok(r.maxDiff <= TOLERANCE, `max |difference| ${r.maxDiff}`);
  });

  it("search run, forward pruning at a low temperature: logits equal", async (t) => {
    const r = await bothSides(search, images, x, { temperature: 0.02, threshold: 0.05, dropPath: 0 });
    t.diagnostic(
      `one-shot network, T = 0.02, threshold 0.05 (${r.active} of ${r.total} weights used): max |logit difference| ${r.maxDiff.toExponential(2)}`,
    );
    assert.ok(r.active < r.total, `something is pruned (${r.active} of ${r.total})`);
    assert.ok(r.maxDiff <= TOLERANCE, `max |difference| ${r.maxDiff}`);
  });

  it("fixed-architecture run (the search's genotype): logits equal", async (t) => {
    const r = await bothSides(fixed, images, x, { temperature: 1, threshold: 0, dropPath: 0 });
    t.diagnostic(`fixed network: max |logit difference| ${r.maxDiff.toExponential(2)}`);
    assert.ok(r.maxDiff <= TOLERANCE, `max |difference| ${r.maxDiff}`);
  });

  it("Conv4 run: logits equal", async (t) => {
    const r = await bothSides(conv4, images, x, { temperature: 1, threshold: 0, dropPath: 0 });
    t.diagnostic(`Conv4: max |logit difference| ${r.maxDiff.toExponential(2)}`);
    assert.ok(r.maxDiff <= TOLERANCE, `max |difference| ${r.maxDiff}`);
  });

  it("the module's parameter names are the checkpoint's", () => {
    const r = spawnSync(
      python,
      [
        "-c",
        [
          "import sys; sys.path.insert(0, sys.argv[1])",
          "import metanas_torch as m",
          "net = m.load_run(sys.argv[2])",
          "t, _ = m.read_safetensors(sys.argv[2] + '/checkpoint.safetensors')",
          "names = sorted(k.split('/', 1)[1] for k in t if k.startswith(('weights/', 'arch/')))",
          "mine = sorted(m._arch_name(n) if n.startswith(('alpha', 'beta')) else n for n in names)",
          "assert sorted(net.state_dict()) == mine, 'names differ'",
          "print(len(mine))",
        ].join("\n"),
        path.join(root, "python"),
        search,
      ],
      { encoding: "utf8" },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.ok(Number(r.stdout) > 100);
  });
});
