// Cross-check against an independent PyTorch implementation of the one-shot network
// (test/pytorch/search_network.py, written from docs/method.md §1-2) with the same weights:
// logits, loss and gradients must agree. Skips when Debian's python3-torch is absent.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import * as E from "../../src/engine/index.js";
import { SearchNetwork } from "../../src/searchspace/network.js";
import { Architecture } from "../../src/sparsification/architecture.js";
import { forwardUnder } from "../helpers/searchHelpers.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const python = "/usr/bin/python3";
const hasTorch = spawnSync(python, ["-c", "import torch"]).status === 0;

test("the one-shot network matches an independent PyTorch implementation", {
  skip: hasTorch ? false : `skipped: ${python} with torch (Debian's python3-torch) is absent`,
}, () => {
  E.setDefaultFloatDType("float64");
  try {
    E.manualSeed(11);
    const cfg = {
      inputChannels: 1,
      classes: 5,
      channels: 4,
      cells: 4,
      reductions: [1, 3],
      nodes: 3,
      stemMultiplier: 3,
    };
    const net = new SearchNetwork(cfg);
    const arch = new Architecture(3);
    // Logits spread enough that some ops and pairs fall under the threshold and are pruned.
    E.noGrad(() => {
      for (const [, t] of arch.namedParameters()) E.tidy(() => t.copy_(E.randn(t.shape).mul(1.5)));
      for (const t of net.parameters()) E.tidy(() => t.copy_(t.add(E.randn(t.shape).mul(0.1))));
    });
    const settings = { temperature: 0.5, threshold: 0.05, dropPath: 0 };
    const x = E.rand([6, 1, 15, 15]);
    const y = E.labels([0, 1, 2, 3, 4, 0]);
    const ours = E.tidy(() => {
      const logits = forwardUnder(net, x, arch, settings);
      const loss = E.crossEntropy(logits, y);
      const named = [...arch.namedParameters(), ["stem.conv.weight", net.stemConv.weight] as [string, E.Tensor]];
      const grads = E.grad(
        loss,
        named.map(([, t]) => t),
      );
      return {
        logits: logits.toArray(),
        loss: loss.item(),
        grads: Object.fromEntries(named.map(([n], i) => [n, grads[i] ? grads[i]!.toArray() : null])),
      };
    });
    const dir = mkdtempSync(path.join(os.tmpdir(), "metanas-pt-"));
    try {
      const file = path.join(dir, "net.safetensors");
      E.saveSafetensors(
        file,
        new Map([...net.namedParameters(), ...arch.namedParameters(), ["input", x], ["labels", y]]),
        {
          config: JSON.stringify({ ...cfg, temperature: settings.temperature, threshold: settings.threshold }),
        },
      );
      const r = spawnSync(python, [path.join(root, "test/pytorch/search_network.py"), file], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      const theirs = JSON.parse(r.stdout) as { logits: number[]; loss: number; grads: Record<string, number[]> };
      const close = (a: number[], b: number[], what: string) => {
        assert.equal(a.length, b.length, what);
        a.forEach((v, i) =>
          assert.ok(Math.abs(v - b[i]!) < 1e-9 + 1e-7 * Math.abs(b[i]!), `${what}[${i}]: ${v} vs ${b[i]}`),
        );
      };
      close(ours.logits, theirs.logits, "logits");
      close([ours.loss], [theirs.loss], "loss");
      for (const [name, g] of Object.entries(theirs.grads)) close(ours.grads[name] ?? [], g, `d loss / d ${name}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      E.dispose([x, y]);
      net.dispose();
      arch.dispose();
    }
  } finally {
    E.setDefaultFloatDType("float32");
  }
});
