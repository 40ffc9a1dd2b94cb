import assert from "node:assert/strict";
import type { Variable } from "../../src/graph/basic.js";
import { NDArray } from "../../src/ndarray/ndarray.js";
import { tensor } from "../../src/tensor/basic.js";
import { Rename, TensorFromXTensor, XTensorFromTensor, asXTensor, values } from "../../src/xtensor/basic.js";
import { XTensorVariable, xtensor } from "../../src/xtensor/type.js";
import { hasType, run1, throwsOp } from "./helpers.js";

/** The single pullback term of a one-input op, as a Variable. */
function pull(node: { op: { pullback?: (i: readonly Variable[], o: readonly Variable[], g: readonly Variable[]) => unknown[] }; inputs: Variable[]; outputs: Variable[] }, g: Variable): Variable {
  const terms = node.op.pullback!(node.inputs, node.outputs, [g]);
  assert.equal(terms.length, 1);
  return terms[0] as Variable;
}

describe("xtensor/conversions", () => {
  it("perform is the identity: the output is the input array itself (a view)", () => {
    const x = xtensor("x", { dims: ["a", "b"], shape: [2, 2] });
    const arr = NDArray.fromNested([[1, 2], [3, 4]]);
    for (const node of [new TensorFromXTensor().makeNode(x), new Rename(["p", "q"]).makeNode(x), new XTensorFromTensor(["a", "b"]).makeNode(values(x))]) {
      assert.deepEqual(node.op.viewMap, { 0: [0] });
      assert.equal(node.op.perform!(node, [arr])[0], arr);
    }
  });

  it("makeNode checks kinds and ranks, naming the builder", () => {
    const t = tensor("t", { shape: [2, 3] });
    const x = xtensor("x", { dims: ["a"] });
    throwsOp(() => new XTensorFromTensor(["a", "a"]), "asXTensor", 'duplicate dim "a"');
    throwsOp(() => new XTensorFromTensor(["a"]).makeNode(x), "asXTensor", "positional tensor");
    throwsOp(() => new XTensorFromTensor(["a"]).makeNode(t), "asXTensor", "2 axes", "(a)");
    throwsOp(() => new TensorFromXTensor().makeNode(t), "values", "named tensor");
    throwsOp(() => new Rename(["p", "q"]).makeNode(x), "rename", "(a)", "(p, q)");
    throwsOp(() => new Rename(["p", "p"]), "rename", 'duplicate dim "p"');
  });

  it("TensorFromXTensor pullback labels the cotangent with x's dims", () => {
    const x = xtensor("x", { dims: ["a", "b"], shape: [2, 3] });
    const node = new TensorFromXTensor().makeNode(x);
    const g = tensor("g", { shape: [2, 3] });
    const gx = pull(node, g);
    assert.ok(gx instanceof XTensorVariable);
    hasType(gx as XTensorVariable, ["a", "b"], [2, 3]);
    assert.deepEqual(run1(gx, [[g, [[1, 2, 3], [4, 5, 6]]]]), [[1, 2, 3], [4, 5, 6]]);
  });

  it("XTensorFromTensor pullback transposes the cotangent by name when its dims order differs", () => {
    const t = tensor("t", { shape: [2, 2] });
    const node = new XTensorFromTensor(["a", "b"]).makeNode(t);
    const same = xtensor("g", { dims: ["a", "b"], shape: [2, 2] });
    assert.deepEqual(run1(pull(node, same), [[same, [[1, 2], [3, 4]]]]), [[1, 2], [3, 4]]);
    // Square shape: a positional unlabel would silently return g's layout untransposed.
    const swapped = xtensor("h", { dims: ["b", "a"], shape: [2, 2] });
    assert.deepEqual(run1(pull(node, swapped), [[swapped, [[1, 2], [3, 4]]]]), [[1, 3], [2, 4]]);
    throwsOp(() => pull(node, xtensor("k", { dims: ["a", "c"] })), "XTensorFromTensor.pullback", "(a, c)", "(a, b)");
  });

  it("Rename pullback relabels back to x's dims positionally (not a dim called 'dims')", () => {
    const x = xtensor("x", { dims: ["a", "b"], shape: [2, 2] });
    const swap = x.rename({ a: "b", b: "a" });
    const node = swap.owner!;
    assert.ok(node.op instanceof Rename);
    const g = xtensor("g", { dims: ["b", "a"], shape: [2, 2] });
    const gx = pull(node, g) as XTensorVariable;
    hasType(gx, ["a", "b"], [2, 2]);
    assert.ok(gx.owner?.op instanceof Rename);
    assert.deepEqual(run1(gx, [[g, [[1, 2], [3, 4]]]]), [[1, 2], [3, 4]]);
    // A cotangent in the other dims order is first aligned to the output by name.
    const h = xtensor("h", { dims: ["a", "b"], shape: [2, 2] });
    const hx = pull(node, h) as XTensorVariable;
    hasType(hx, ["a", "b"], [2, 2]);
    assert.deepEqual(run1(hx, [[h, [[1, 2], [3, 4]]]]), [[1, 3], [2, 4]]);
  });

  it("a relabel through values keeps values in place", () => {
    const x = xtensor("x", { dims: ["a", "b"], shape: [2, 2] });
    const r = asXTensor(x.values, ["b", "a"]);
    hasType(r, ["b", "a"], [2, 2]);
    assert.deepEqual(run1(r, [[x, [[1, 2], [3, 4]]]]), [[1, 2], [3, 4]]);
  });
});
