/**
 * compile's `mutableInputs` (PyTensor's `In(x, mutable=True)`): in FAST_RUN an op may write its
 * result into the array passed for a mutable input; every other input is left as it was.
 */
import { strict as assert } from "node:assert";
import { compile } from "../../src/compile/function.js";
import { GraphError } from "../../src/errors.js";
import { NDArray } from "../../src/ndarray/ndarray.js";
import { tensor } from "../../src/tensor/basic.js";
import { exp, mul } from "../../src/tensor/elemwise.js";
import { sum } from "../../src/tensor/reduce.js";

describe("compile: mutableInputs", () => {
  const x = tensor("x", { shape: [3] });
  const y = tensor("y", { shape: [3] });
  const out = sum(mul(exp(x), y));
  const args = (): [NDArray, NDArray] => [NDArray.fromFlat([0.5, -1, 2], [3]), NDArray.fromFlat([1, 2, 3], [3])];
  const want = Math.exp(0.5) + 2 * Math.exp(-1) + 3 * Math.exp(2);

  it("protects every input by default: the caller's arrays are unchanged", () => {
    const [xv, yv] = args();
    const [r] = compile([x, y], [out], { checked: true })(xv, yv);
    assert.ok(Math.abs(r.toFlat()[0] - want) < 1e-12);
    assert.deepEqual(Array.from(xv.toFlat()), [0.5, -1, 2]);
    assert.deepEqual(Array.from(yv.toFlat()), [1, 2, 3]);
    assert.equal([...compile([x, y], [out]).fgraph.applyNodes].filter((n) => Object.keys(n.op.destroyMap).length > 0).length, 0);
  });

  it("lets FAST_RUN write into a mutable input (checked mode's in-place promise agrees), leaving the others alone", () => {
    const [xv, yv] = args();
    const f = compile([x, y], [out], { checked: true, mutableInputs: [x] });
    const [r] = f(xv, yv);
    assert.ok(Math.abs(r.toFlat()[0] - want) < 1e-12);
    assert.notDeepEqual(Array.from(xv.toFlat()), [0.5, -1, 2], "x was declared mutable and is read once: its buffer is reused");
    assert.deepEqual(Array.from(yv.toFlat()), [1, 2, 3]);
  });

  it("gives the same values as NONE however many times it is called on fresh arrays", () => {
    const f = compile([x, y], [out], { mutableInputs: [x, y] });
    for (let k = 0; k < 3; k++) assert.ok(Math.abs(f(...args())[0].toFlat()[0] - want) < 1e-12);
  });

  it("rejects a variable that is not an input, naming it and the inputs", () => {
    assert.throws(() => compile([x], [exp(x)], { mutableInputs: [y] }), (e: unknown) => e instanceof GraphError && /mutableInputs\[0\] \(y\) is not one of the function's inputs \(x\)/.test(e.message));
  });
});
