// metanas predict end to end on tiny runs meta-trained on a folder dataset the test writes: the
// command's class probabilities for a support folder and query images built from one meta-test
// task equal what meta-testing's adaptation of that task gives with the same seed (search, fixed
// genotype and Conv4); fewer classes than ways use the first outputs only; each bad input is one
// line; --out writes CSV; --save writes a task network whose PyTorch logits match.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { listClassFolders } from "../../src/data/folder.js";
import { listQueryImages, readImageSet } from "../../src/data/imageSet.js";
import { sampleTask } from "../../src/data/sampler.js";
import type { ClassPool, Task } from "../../src/data/types.js";
import * as E from "../../src/engine/index.js";
import { taskRng, testSettings } from "../../src/evaluation/evaluate.js";
import { adaptAndPredict } from "../../src/evaluation/predict.js";
import { loadCheckpoint } from "../../src/runs/checkpoint.js";
import type { RunConfig } from "../../src/runs/config.js";
import { buildConfig } from "../../src/runs/presets.js";
import { readRunConfig } from "../../src/runs/runDir.js";
import { runTraining } from "../../src/runs/runner.js";
import { closeSession, openSession, testInner } from "../../src/runs/session.js";
import { adapt, predict, predictionPhase } from "../../src/tasklearner/taskLearner.js";
import { Rng } from "../../src/util/rng.js";
import { commandFor, flagsIn, flagsOf, runCli } from "../helpers/cliHarness.js";
import { tempDir } from "../helpers/dataFixtures.js";
import { writeFolderDataset, writeImage } from "../helpers/folderFixtures.js";
import { TINY_RUN } from "../helpers/tinyMeta.js";

const t = tempDir("predict");
after(t.cleanup);
const at = (name: string) => path.join(t.dir, name);
process.env.METANAS_CACHE_DIR = at("cache");
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const python = "/usr/bin/python3";
const hasTorch = spawnSync(python, ["-c", "import torch"]).status === 0;

const data = at("data");
const SEED = 3;
const SPEC = { ways: 3, shots: 2, queries: 2 };

async function train(name: string, o: Partial<RunConfig>): Promise<string> {
  const dir = at(name);
  const values = { ...TINY_RUN, dataset: "folder", dataDir: data, epochs: 2, testTMin: 0.2, ...o } as const;
  await runTraining(dir, { config: buildConfig("quick", {}, values) }, { skipFinalTest: true });
  return dir;
}

/** The pool with a record of the images a task sampler took from it, in order. */
function recording(pool: ClassPool): { pool: ClassPool; taken: Array<[number, number]> } {
  const taken: Array<[number, number]> = [];
  const wrapped: ClassPool = {
    numClasses: pool.numClasses,
    imageShape: pool.imageShape,
    classSize: (c) => pool.classSize(c),
    className: (c) => pool.className!(c),
    image: (c, i) => {
      taken.push([c, i]);
      return pool.image(c, i);
    },
  };
  return { pool: wrapped, taken };
}

/**
 * Meta-test task `index` of the run's test split, adapted and predicted as evaluateTasks does but
 * with a fresh Rng(SEED) for the inner loop; and the same task as a support folder (class folders
 * named so that their order is the labels') and a query folder (files in query order).
 */
async function metaTestTask(dir: string, name: string, index: number) {
  const c = readRunConfig(dir);
  const s = await openSession(c, () => {});
  try {
    loadCheckpoint(dir, c, s.model, s.opt, s.learner);
    const r = recording(s.dataset.splits.test);
    const task: Task = sampleTask(r.pool, SPEC, taskRng(SEED, index));
    const folders = await listClassFolders(path.join(data, "test"), "test");
    const support = at(`${name}-support`);
    const query = at(`${name}-query`);
    r.taken.forEach(([cls, i], k) => {
      const label = Math.floor(k / (SPEC.shots + SPEC.queries));
      const j = k % (SPEC.shots + SPEC.queries);
      const file = folders[cls]!.images[i]!.abs;
      const ext = path.extname(file);
      const to =
        j < SPEC.shots
          ? path.join(support, `${label}-${folders[cls]!.name}`, `${j}${ext}`)
          : path.join(query, `q${label}${j - SPEC.shots}${ext}`);
      mkdirSync(path.dirname(to), { recursive: true });
      copyFileSync(file, to);
    });
    const settings = testSettings(s.model, testInner(c));
    const phase = predictionPhase(settings);
    await adapt(s.model, s.opt, task, settings, new Rng(SEED));
    const [ch, h, w] = task.query.imageShape;
    const probabilities = E.tidy(() =>
      E.noGrad(() =>
        s.model
          .forward(E.tensor(task.query.images, [task.query.count, ch, h, w]), phase)
          .softmax(1)
          .toArray(),
      ),
    );
    const accuracy = predict(s.model, task.query, phase).accuracy;
    return { support, query, probabilities, accuracy, labels: Array.from(task.query.labels) };
  } finally {
    closeSession(s);
  }
}

interface Line {
  image: string;
  class: string;
  probability: number;
  probabilities: Record<string, number>;
  genotype?: string;
  weights?: number;
}

async function predictJson(args: string[]): Promise<Line[]> {
  const r = await runCli(["predict", ...args, "--json"]);
  assert.equal(r.code, 0, r.error ?? "");
  return r.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Line);
}

const runs: Record<string, string> = {};
before(async () => {
  await writeFolderDataset(data, { classes: { train: 4, test: 4 }, perClass: 5 });
  runs.search = await train("search", { lrArch: 0.1 });
  runs.fixed = await train("fixed", { model: "fixed", genotype: path.join(runs.search, "genotype.json") });
  runs.conv4 = await train("conv4", { model: "conv4", conv4Channels: 4 });
});

describe("metanas predict", () => {
  for (const kind of ["search", "fixed", "conv4"]) {
    it(`${kind}: its probabilities equal meta-testing's adaptation of the same task and seed`, async () => {
      const dir = runs[kind]!;
      const m = await metaTestTask(dir, kind, 0);
      const lines = await predictJson([dir, "--support", m.support, "--query", m.query, "--seed", String(SEED)]);
      assert.equal(lines.length, SPEC.ways * SPEC.queries);
      const ours = lines.map((l) => Object.values(l.probabilities));
      assert.deepEqual(ours.flat(), m.probabilities, "the same probabilities, bit for bit");
      const classes = Object.keys(lines[0]!.probabilities);
      const correct = lines.filter((l, i) => classes.indexOf(l.class) === m.labels[i]).length;
      assert.equal(correct / lines.length, m.accuracy, "the same query accuracy");
      if (kind === "search") {
        assert.match(lines[0]!.genotype ?? "", /^Genotype\(normal=/);
        assert.ok((lines[0]!.weights ?? 0) > 0);
      } else assert.equal(lines[0]!.genotype, undefined);
      // Another seed draws other inner-loop batches: other probabilities.
      const other = await predictJson([dir, "--support", m.support, "--query", m.query, "--seed", "99"]);
      assert.notDeepEqual(
        other.map((l) => Object.values(l.probabilities)),
        ours,
      );
    });
  }

  it("fewer classes than ways: the task uses the first outputs; the others' classifier rows stay as meta-learned", async () => {
    const dir = runs.conv4!;
    const c = readRunConfig(dir);
    const s = await openSession(c, () => {});
    try {
      loadCheckpoint(dir, c, s.model, s.opt, s.learner);
      const head = s.model.weightNames.indexOf("classifier.weight");
      const before = s.model.weights[head]!.toArray();
      const pool = s.dataset.splits.test;
      const task = sampleTask(pool, { ways: 2, shots: 2, queries: 2 }, new Rng(1));
      const r = await adaptAndPredict(s.model, s.opt, task.support, 2, task.query, testInner(c), new Rng(SEED));
      const after = s.model.weights[head]!.toArray();
      const row = after.length / c.ways;
      assert.deepEqual(after.slice(2 * row), before.slice(2 * row), "the third output's row is untouched");
      assert.notDeepEqual(after.slice(0, 2 * row), before.slice(0, 2 * row), "the task's outputs adapted");
      for (const p of r.probabilities) {
        assert.equal(p.length, 2);
        assert.ok(Math.abs(p[0]! + p[1]! - 1) < 1e-6);
      }
    } finally {
      closeSession(s);
    }
    const support = at("two-support");
    for (const [k, name] of ["test-a", "test-c"].entries()) {
      mkdirSync(path.join(support, name), { recursive: true });
      copyFileSync(path.join(data, "test", name, "img0.png"), path.join(support, name, `${k}.png`));
    }
    const lines = await predictJson([dir, "--support", support, "--query", path.join(data, "test", "test-a")]);
    assert.deepEqual(Object.keys(lines[0]!.probabilities), ["test-a", "test-c"]);
  });

  it("--query-batch each: an image's prediction does not depend on the other query images", async () => {
    const m = await metaTestTask(runs.search!, "each", 1);
    const query = (await listQueryImages([m.query])).slice(0, 3);
    const args = [runs.search!, "--support", m.support, "--query-batch", "each", "--query"];
    const all = await predictJson([...args, ...query]);
    const alone = await predictJson([...args, query[1]!]);
    assert.deepEqual(alone[0]!.probabilities, all[1]!.probabilities);
    const together = await predictJson([runs.search!, "--support", m.support, "--query", ...query]);
    assert.notDeepEqual(together[1]!.probabilities, all[1]!.probabilities, "'all' normalises over the query batch");
  });

  it("converts images of another size and channel count; prints one line per image, and --out writes CSV", async () => {
    const support = at("colour-support");
    const px = (v: number) => Buffer.alloc(40 * 40 * 3, v);
    await writeImage(path.join(support, "dark", "a.jpg"), px(20), 40, 3);
    await writeImage(path.join(support, "light", "b.webp"), px(220), 40, 3);
    const q = await writeImage(path.join(at("colour-query"), "x,1.png"), px(200), 40, 3);
    const csv = at("out.csv");
    const r = await runCli(["predict", runs.search!, "--support", support, "--query", q, "--out", csv]);
    assert.equal(r.code, 0, r.error ?? "");
    assert.match(r.stdout, /^support: 2 classes, 2 images; adapted in 2 steps/m);
    assert.match(r.stdout, /^task architecture \(pruned at threshold [\d.]+\): Genotype\(/m);
    assert.match(r.stdout, /^task network: [\d,]+ of [\d,]+ weights$/m);
    assert.match(r.stdout, /x,1\.png {2}(dark|light) {2}\d+\.\d%$/m);
    const rows = readFileSync(csv, "utf8").trim().split("\n");
    assert.equal(rows[0], "image,class,probability,dark,light");
    assert.match(rows[1]!, /^".*x,1\.png",(dark|light),[\d.e-]+,[\d.e-]+,[\d.e-]+$/);
  });

  it("every bad input is one line naming the problem and a flag of predict", async () => {
    const support = at("bad-support");
    for (const name of ["a", "b", "c", "d"]) {
      mkdirSync(path.join(support, name), { recursive: true });
      copyFileSync(path.join(data, "test", "test-a", "img0.png"), path.join(support, name, "0.png"));
    }
    const one = at("one-class");
    mkdirSync(path.join(one, "a"), { recursive: true });
    copyFileSync(path.join(data, "test", "test-a", "img0.png"), path.join(one, "a", "0.png"));
    const empty = at("empty-class");
    mkdirSync(path.join(empty, "a"), { recursive: true });
    mkdirSync(path.join(empty, "b"), { recursive: true });
    copyFileSync(path.join(data, "test", "test-a", "img0.png"), path.join(empty, "a", "0.png"));
    const broken = at("broken.png");
    writeFileSync(broken, "not a png");
    const taken = at("taken");
    mkdirSync(taken);
    writeFileSync(path.join(taken, "x"), "");
    const good = at("search-support");
    const img = path.join(data, "test", "test-a", "img0.png");
    const cases: [string[], RegExp][] = [
      [
        [runs.search!, "--support", support, "--query", img],
        /has 4 classes but the run .* 3 outputs: give at most 3 class folders in --support/,
      ],
      [
        [runs.search!, "--support", one, "--query", img],
        /has 1 class; classifying needs at least 2: add a class folder to --support/,
      ],
      [
        [runs.search!, "--support", empty, "--query", img],
        /class folder .*empty-class\/b holds no images .*add images to it or remove it/,
      ],
      [[runs.search!, "--support", at("nope"), "--query", img], /support folder .*nope does not exist; pass --support/],
      [
        [runs.search!, "--support", good, "--query", at("nope.png")],
        /query image .*nope\.png does not exist; .*--query/,
      ],
      [[runs.search!, "--support", good, "--query", broken], /cannot decode .*broken\.png \(.*\); replace the file/],
      [
        [runs.search!, "--support", good, "--query", img, "--save", taken],
        /already exists and is not an empty folder: choose another --save/,
      ],
      [[at("nope-run"), "--support", good, "--query", img], /run directory .* does not exist/],
      [[runs.search!, "--support", good, "--query", img, "--test-steps", "0"], /testSteps \(--test-steps\)/],
    ];
    const flags = flagsOf(commandFor(["predict"]));
    for (const [args, expected] of cases) {
      const r = await runCli(["predict", ...args]);
      assert.equal(r.code, 1, `predict ${args.join(" ")} did not fail`);
      assert.match(r.error ?? "", expected);
      assert.equal((r.error ?? "").split("\n").length, 1);
      for (const f of flagsIn(r.error ?? "")) assert.ok(flags.has(f), `${f} is a flag of predict`);
    }
    assert.deepEqual(readdirSync(taken), ["x"], "--save left the taken folder alone");
  });

  it("--save writes a task network whose PyTorch logits give predict's probabilities", {
    skip: hasTorch ? false : `skipped: ${python} with torch (Debian's python3-torch) is absent`,
  }, async () => {
    for (const kind of ["search", "conv4"]) {
      const m = await metaTestTask(runs[kind]!, `${kind}-save`, 2);
      const saved = at(`${kind}-task`);
      const lines = await predictJson([runs[kind]!, "--support", m.support, "--query", m.query, "--save", saved]);
      assert.deepEqual(
        readdirSync(saved).sort(),
        [
          ...(kind === "search"
            ? ["checkpoint.safetensors", "config.json", "genotype.json", "genotype.txt"]
            : ["checkpoint.safetensors", "config.json"]),
          "task.json",
        ].sort(),
      );
      const files = await listQueryImages([m.query]);
      const set = await readImageSet(
        files,
        files.map(() => 0),
        [1, 28, 28],
      );
      const images = at(`${kind}-images.safetensors`);
      E.tidy(() => E.saveSafetensors(images, new Map([["images", E.tensor(set.images, [set.count, 1, 28, 28])]])));
      const r = spawnSync(python, [path.join(root, "python/metanas_torch.py"), saved, "--logits", images], {
        encoding: "utf8",
      });
      assert.equal(r.status, 0, r.stderr);
      const { shape, logits } = JSON.parse(r.stdout) as { shape: number[]; logits: number[] };
      assert.deepEqual(shape, [set.count, SPEC.ways]);
      const theirs = Array.from({ length: set.count }, (_, i) => {
        const row = logits.slice(i * SPEC.ways, (i + 1) * SPEC.ways);
        const e = row.map((v) => Math.exp(v - Math.max(...row)));
        return e.map((v) => v / e.reduce((a, b) => a + b, 0));
      });
      const ours = lines.map((l) => Object.values(l.probabilities));
      const diff = Math.max(...ours.flat().map((v, i) => Math.abs(v - theirs.flat()[i]!)));
      assert.ok(diff < 1e-5, `${kind}: max |probability difference| ${diff}`);
      const task = JSON.parse(readFileSync(path.join(saved, "task.json"), "utf8")) as { classes: string[] };
      assert.deepEqual(task.classes, Object.keys(lines[0]!.probabilities));
    }
  });
});
