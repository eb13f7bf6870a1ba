// The dtype and op codes come from the addon's own tables (native/src/addon.cc): TypeScript finds
// every name it uses there, codes it sends map to the right dtype and op, and a stale addon is
// refused at load with one line.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CODES, CONSTANT_NAMES, checkConstants } from "../../src/engine/constants.js";
import { type DTypeName, tensor, zeros } from "../../src/engine/index.js";
import { native } from "../../src/engine/native.js";

describe("the addon's constants", () => {
  test("every dtype name TypeScript uses round-trips through the addon's code", () => {
    for (const name of CONSTANT_NAMES.dtypes) {
      const t = zeros([2], name as DTypeName);
      assert.equal(t.dtype, name);
      t.dispose();
    }
  });
  test("op codes reach the op of the same name", () => {
    const x = tensor([4, 9], [2], "float64");
    const y = tensor([2, 3], [2], "float64");
    const run = (id: number) => {
      const r = native.toTypedArray(id);
      native.dispose(id);
      return Array.from(r);
    };
    assert.deepEqual(run(native.unary(x.id, CODES.unaryOps.sqrt)), [2, 3]);
    assert.deepEqual(run(native.unary(x.id, CODES.unaryOps.neg)), [-4, -9]);
    assert.deepEqual(run(native.binary(x.id, y.id, CODES.binaryOps.div)), [2, 3]);
    assert.deepEqual(run(native.binary(x.id, y.id, CODES.binaryOps.minimum)), [2, 3]);
    assert.deepEqual(run(native.binaryScalar(x.id, 5, CODES.scalarOps.maximum)), [5, 9]);
    assert.deepEqual(run(native.binaryScalar(x.id, 10, CODES.scalarOps.rsub)), [6, 1]);
    x.dispose();
    y.dispose();
  });
  test("codes outside a table are refused with the table's name", () => {
    const x = tensor([1, 2]);
    assert.throws(() => native.binaryScalar(x.id, 1, 13), /unknown scalar op 13/);
    assert.throws(() => native.binary(x.id, x.id, -1), /unknown binary op -1/);
    assert.throws(() => native.full([1], 0, -1), /unknown dtype code -1/);
    const logits = zeros([2, 3]);
    const labels = tensor([0, 1], [2], "int64");
    assert.throws(() => native.crossEntropy(logits.id, labels.id, 3), /unknown reduction 3/);
    for (const t of [x, logits, labels]) t.dispose();
  });
  test("the codes TypeScript uses are the addon's, frozen", () => {
    assert.deepEqual(checkConstants(native.constants), CODES);
    assert.ok(Object.isFrozen(CODES) && Object.isFrozen(CODES.dtypes));
  });
  test("an addon without some names is refused in one line naming them and the fix", () => {
    const stale = { ...native.constants, unaryOps: { neg: 0 } };
    delete (stale as Record<string, unknown>).reductions;
    assert.throws(
      () => checkConstants(stale),
      (err: Error) => {
        assert.match(err.message, /lacks the constants unaryOps\.exp, .*unaryOps\.logicalNot, reductions:/);
        assert.doesNotMatch(err.message, /unaryOps\.neg|dtypes/);
        assert.match(err.message, /npm run build/);
        assert.ok(!err.message.includes("\n"));
        return true;
      },
    );
    assert.throws(
      () => checkConstants(undefined),
      /lacks the constants dtypes, unaryOps, binaryOps, scalarOps, reductions:/,
    );
  });
});
