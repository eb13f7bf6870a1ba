// libtorch errors and bad arguments surface as JavaScript exceptions with libtorch's message (no
// C++ backtrace), and the process keeps running.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  conv2d,
  crossEntropy,
  labels,
  liveTensors,
  maxPool2d,
  ones,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from "../../src/engine/index.js";
import { native } from "../../src/engine/native.js";

/** Asserts fn throws an Error whose message matches re and carries no C++ backtrace. */
function throwsClean(fn: () => unknown, re: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof Error, `expected an Error, got ${String(caught)}`);
  assert.match(caught.message, re);
  assert.doesNotMatch(caught.message, /Exception raised from|frame #\d|\.cpp:\d+/, "no C++ backtrace in the message");
  assert.ok(caught.message.length < 600, `message is short (${caught.message.length} chars)`);
}

/** A few ops that must still work after an error. */
function stillWorks(): void {
  tidy(() => {
    const y = ones([2, 2])
      .add(1)
      .matmul(ones([2, 1]));
    assert.deepEqual(Array.from(y.data()), [4, 4]);
  });
}

describe("libtorch errors become JS exceptions", () => {
  test("shape mismatch in add", () => {
    tidy(() =>
      throwsClean(
        () => tensor([1, 2, 3]).add(tensor([1, 2])),
        /^libtorch: The size of tensor a \(3\) must match the size of tensor b \(2\)/,
      ),
    );
    stillWorks();
  });
  test("shape mismatch in matmul", () => {
    tidy(() =>
      throwsClean(
        () => zeros([2, 3]).matmul(zeros([2, 2])),
        /libtorch: mat1 and mat2 shapes cannot be multiplied \(2x3 and 2x2\)/,
      ),
    );
    stillWorks();
  });
  test("channel mismatch in conv2d, and a kernel larger than the input", () => {
    tidy(() => {
      throwsClean(
        () => conv2d(zeros([1, 3, 5, 5]), zeros([2, 4, 3, 3])),
        /libtorch: .*expected input\[1, 3, 5, 5\] to have 4 channels/,
      );
      throwsClean(
        () => conv2d(zeros([1, 1, 2, 2]), zeros([1, 1, 3, 3])),
        /libtorch: .*[Kk]ernel size can't be greater than actual input size/,
      );
      throwsClean(() => conv2d(zeros([1, 4, 5, 5]), zeros([4, 1, 3, 3]), { groups: 3 }), /libtorch: .*groups/);
      throwsClean(() => maxPool2d(zeros([1, 1, 2, 2]), 5), /libtorch: .*Output size is too small/);
    });
    stillWorks();
  });
  test("crossEntropy with float or int32 labels, and a label out of range", () => {
    tidy(() => {
      throwsClean(
        () => crossEntropy(zeros([2, 3]), tensor([0, 1])),
        /libtorch: expected scalar type Long but found Float/,
      );
      throwsClean(
        () => crossEntropy(zeros([2, 3]), tensor([0, 1], [2], "int32")),
        /libtorch: expected scalar type Long but found Int/,
      );
      throwsClean(() => crossEntropy(zeros([2, 3]), labels([0, 5])), /libtorch: Target 5 is out of bounds/);
    });
    stillWorks();
  });
  test("other libtorch errors: reshape, item, backward, dims, cat", () => {
    tidy(() => {
      throwsClean(() => zeros([3]).reshape([2, 2]), /libtorch: shape '\[2, 2\]' is invalid for input of size 3/);
      throwsClean(() => zeros([3]).item(), /libtorch: a Tensor with 3 elements cannot be converted to Scalar/);
      throwsClean(
        () => zeros([3]).requiresGrad_().mul(2).backward(),
        /libtorch: grad can be implicitly created only for scalar outputs/,
      );
      throwsClean(() => zeros([3, 2]).sum([5]), /libtorch: Dimension out of range/);
      throwsClean(() => zeros([3]).slice(0, 0, 3, 0), /libtorch: slice step must be positive/);
      throwsClean(() => zeros([2]).topk(5), /libtorch: selected index k out of range/);
      throwsClean(() => native.cat([], 0), /libtorch: .*non-empty list/);
    });
    stillWorks();
  });
});

describe("bad arguments never abort the process", () => {
  test("ids that were disposed or never existed", () => {
    const live = liveTensors();
    throwsClean(() => native.unary(99999, 0), /tensor 99999 was disposed or never existed/);
    throwsClean(() => native.unary(-5, 0), /tensor -5 was disposed or never existed/);
    const t = tensor([1]);
    const id = t.id;
    t.dispose();
    throwsClean(() => native.binary(id, id, 0), /was disposed or never existed/);
    throwsClean(() => t.add(1), /disposed/);
    native.dispose([1e9, -3]); // unknown ids are ignored
    assert.equal(liveTensors(), live);
    stillWorks();
  });
  test("wrong argument types and counts", () => {
    const x = tensor([1, 2]);
    throwsClean(() => native.unary("x" as unknown as number, 0), /argument 0: expected a tensor id/);
    throwsClean(() => (native.conv2d as (...a: unknown[]) => number)(), /expected/);
    throwsClean(() => native.sum(x.id, 5 as unknown as number[], false), /argument 1: expected an array of integers/);
    throwsClean(() => native.sum(x.id, ["a"] as unknown as number[], false), /expected an array of integers/);
    throwsClean(() => native.sum(x.id, [0], "yes" as unknown as boolean), /argument 2: expected a boolean/);
    const img = zeros([1, 1, 4, 4]);
    const w = zeros([1, 1, 3, 3]);
    const conv = native.conv2d as (...a: unknown[]) => number;
    throwsClean(() => conv(img.id, w.id, -1, [1], [1, 1], [1, 1], 1), /argument 3: expected \[h, w\]/);
    throwsClean(() => conv(img.id, w.id, -1, [1, 1], 1, [1, 1], 1), /argument 4: expected \[h, w\]/);
    throwsClean(
      () => native.batchNorm(img.id, -1, -1, 1e-5, 1 as unknown as boolean),
      /argument 4: expected a boolean/,
    );
    throwsClean(
      () => native.avgPool2d(img.id, [2, 2], [2, 2], [0, 0], "no" as unknown as boolean),
      /argument 4: expected a boolean/,
    );
    img.dispose();
    w.dispose();
    throwsClean(() => native.unary(x.id, 99), /unknown unary op/);
    throwsClean(() => native.full([1], 0, 99), /unknown dtype code 99/);
    throwsClean(() => native.toDevice(x.id, 5 as unknown as string), /string/i);
    throwsClean(() => native.toDevice(x.id, "bogus"), /libtorch: Expected one of cpu/);
    throwsClean(() => native.setDefaultDevice(5 as unknown as string), /string/i);
    throwsClean(() => native.fromTypedArray([1, 2] as unknown as Float32Array, [2], 0), /expected a typed array/);
    throwsClean(
      () => native.fromTypedArray(new Float32Array(3), [2, 2], 0),
      /shape holds 4 elements but the array has 3/,
    );
    throwsClean(() => native.fromTypedArray(new Float32Array(2), [-1, -2], 0), /libtorch: .*negative dimension/);
    throwsClean(() => native.fromTypedArray(new Float32Array(0), [2 ** 62, 4], 0), /libtorch: .*overflow/);
    throwsClean(
      () => native.fromTypedArray(new Int16Array(2) as unknown as Int32Array, [2], 0),
      /unsupported typed array type/,
    );
    throwsClean(() => native.adamStep([x.id], [], [], [], 1, 0.1, 0.9, 0.999, 1e-8, 0), /differ in length/);
    throwsClean(() => tensor([1, 2, 3], [2, 2]), /shape holds 4 elements but the array has 3/);
    tidy(() =>
      throwsClean(() => native.setGrad(x.id, zeros([3]).id), /setGrad: the gradient's shape, dtype or device differs/),
    );
    tidy(() => throwsClean(() => native.setGrad(x.id, zeros([2], "float64").id), /setGrad: .*differs/));
    throwsClean(() => tensor([2 ** 40], [1], "int64").data(), /outside the int32 range/);
    x.dispose();
    stillWorks();
  });
  test("a child process running every error case exits normally (no abort)", () => {
    const here = fileURLToPath(new URL(".", import.meta.url));
    const script = `
      const E = await import(${JSON.stringify(new URL("../../src/engine/index.js", import.meta.url).href)});
      const { native } = await import(${JSON.stringify(new URL("../../src/engine/native.js", import.meta.url).href)});
      const cases = [
        () => E.zeros([2, 3]).matmul(E.zeros([2, 2])),
        () => E.crossEntropy(E.zeros([2, 3]), E.tensor([0, 1])),
        () => native.unary(12345, 0),
        () => native.conv2d(),
        () => native.toDevice(0, {}),
        () => native.setRngState(E.zeros([3]).id),
        () => native.autogradGrad([E.zeros([1]).id], [E.zeros([1]).id], false, false),
        () => native.where(E.zeros([3]).id, E.zeros([3]).id, E.zeros([3]).id),
      ];
      let n = 0;
      for (const c of cases) { try { c(); } catch { n++; } }
      console.log("caught", n, E.ones([2]).add(1).toArray().join(","));
    `;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: here, encoding: "utf8" });
    assert.equal(r.signal, null, `child died by signal ${r.signal}: ${r.stderr}`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /caught 8 2,2/);
  });
});

export type { Tensor };
