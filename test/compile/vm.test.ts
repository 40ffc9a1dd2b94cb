import assert from "node:assert/strict";
import { compile } from "../../src/compile/function.js";
import { NDArray } from "../../src/ndarray/ndarray.js";
import { constant, tensor } from "../../src/tensor/basic.js";
import { add, exp } from "../../src/tensor/elemwise.js";
import { transpose } from "../../src/tensor/shape.js";
import { DataError } from "../../src/errors.js";

describe("compile/vm", () => {
  it("an output that is an input, a view of one, or a constant is returned as a copy", () => {
    const x = tensor("x", { shape: [2, 2] });
    const c = constant([[1, 2], [3, 4]]);
    const f = compile([x], [x, transpose(x), c], { mode: "NONE" });
    const xv = NDArray.fromNested([[1, 2], [3, 4]]);
    const [a, b, k] = f(xv);
    for (const out of [a, b]) assert.ok(!out.sharesBuffer(xv), "the caller's input buffer is never handed back");
    k.set([0, 0], 99);
    assert.equal(f(xv)[2].get(0, 0), 1, "writing to a returned constant must not change the next call");
  });

  it("two outputs sharing one buffer come back as separate arrays", () => {
    const x = tensor("x", { shape: [2, 2] });
    const e = exp(x);
    const [p, q] = compile([x], [e, transpose(e)], { mode: "NONE" })([[0, 1], [2, 3]]);
    assert.ok(!p.sharesBuffer(q));
  });

  it("a computed output is not copied", () => {
    const x = tensor("x", { shape: [2] });
    const f = compile([x], [add(x, 1)], { mode: "NONE" });
    assert.deepEqual(f.program.copyOutputs, [false]);
  });

  it("bad runtime input names the input, the expected and the received shape and dtype", () => {
    const x = tensor("x", { shape: [2, null], dtype: "int64" });
    const f = compile([x], [add(x, 1)], { mode: "NONE" });
    assert.throws(() => f([1, 2, 3]), (e: unknown) => e instanceof DataError && /input "x": expected shape \(2, \?\) int64, got shape \(3,\)/.test(e.message));
    assert.throws(() => f([[1, 2], [3]]), (e: unknown) => e instanceof DataError && /input "x".*ragged/.test(e.message));
    assert.throws(() => f([[1.5, 2], [3, 4]]), (e: unknown) => e instanceof DataError && /input "x".*non-integer value 1.5/.test(e.message));
    assert.throws(() => f(NDArray.zeros([2, 2], "float64")), (e: unknown) => e instanceof DataError && /input "x".*got dtype float64/.test(e.message));
  });
});
