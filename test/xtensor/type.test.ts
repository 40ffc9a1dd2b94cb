import assert from "node:assert/strict";
import { Apply, Constant } from "../../src/graph/basic.js";
import { TensorType } from "../../src/graph/type.js";
import { tensor } from "../../src/tensor/basic.js";
import { lower } from "../../src/xtensor/lower.js";
import { TensorFromXTensor, XTensorFromTensor, asXTensor, values } from "../../src/xtensor/basic.js";
import { XTensorType, XTensorVariable, isXTensorVariable, xconstant, xtensor } from "../../src/xtensor/type.js";
import { hasType, run1, throwsOp } from "./helpers.js";

describe("xtensor/type", () => {
  it("dims order is part of type equality", () => {
    const ab = new XTensorType("float64", ["a", "b"], [2, 3]);
    assert.ok(ab.equals(new XTensorType("float64", ["a", "b"], [2, 3])));
    assert.ok(!ab.equals(new XTensorType("float64", ["b", "a"], [3, 2])));
    assert.ok(!ab.equals(new XTensorType("float32", ["a", "b"], [2, 3])));
    assert.ok(!ab.equals(new TensorType("float64", [2, 3])));
    assert.notEqual(ab.key(), new XTensorType("float64", ["b", "a"], [2, 3]).key());
  });

  it("isSuper refines unknown lengths but never reorders dims", () => {
    const loose = new XTensorType("float64", ["a", "b"], [null, 3]);
    assert.ok(loose.isSuper(new XTensorType("float64", ["a", "b"], [2, 3])));
    assert.ok(!new XTensorType("float64", ["a", "b"], [2, 3]).isSuper(loose));
    assert.ok(!loose.isSuper(new XTensorType("float64", ["b", "a"], [2, 3])));
    assert.ok(!loose.isSuper(new XTensorType("int64", ["a", "b"], [2, 3])));
  });

  it("rejects duplicate dims and mismatched shapes", () => {
    throwsOp(() => new XTensorType("float64", ["a", "b", "a"]), 'duplicate dim "a"', "(a, b, a)");
    throwsOp(() => new XTensorType("float64", ["a"], [1, 2]), "dims (a)");
    throwsOp(() => xtensor("x", { dims: ["a", "a"] }), 'duplicate dim "a"');
    throwsOp(() => new XTensorType("float64", ["..."]), '"..."');
    throwsOp(() => xtensor("x", { dims: "ab" as never }), "dims must be an array");
  });

  it("xtensor builds a root XTensorVariable (float64 by default)", () => {
    const x = xtensor("x", { dims: ["a", "b"], shape: [2, null] });
    assert.ok(x instanceof XTensorVariable && isXTensorVariable(x));
    hasType(x, ["a", "b"], [2, null], "float64");
    assert.equal(x.name, "x");
    assert.equal(x.owner, null);
    assert.equal(x.ndim, 2);
    assert.equal(xtensor("i", { dims: [], dtype: "int64" }).dtype, "int64");
  });

  it("every Apply output of named type is an XTensorVariable with methods", () => {
    const t = tensor("t", { shape: [2, 3] });
    const node = new XTensorFromTensor(["a", "b"]).makeNode(t);
    assert.ok(node instanceof Apply);
    const x = node.out;
    assert.ok(x instanceof XTensorVariable);
    assert.equal(typeof (x as XTensorVariable).sum, "function");
  });

  it("asXTensor labels positionally; 0-d needs no dims; relabelling a named tensor is refused", () => {
    const t = tensor("t", { shape: [2, 3] });
    const x = asXTensor(t, ["a", "b"]);
    hasType(x, ["a", "b"], [2, 3], "float64");
    assert.ok(x.owner?.op instanceof XTensorFromTensor);
    hasType(asXTensor(tensor("s", { shape: [] })), [], []);
    hasType(asXTensor(2.5), [], [], "float64");
    throwsOp(() => asXTensor(t), "asXTensor", "2 axes", "needs dims");
    throwsOp(() => asXTensor(t, ["a"]), "asXTensor", "2 axes", "(a)");
    assert.equal(asXTensor(x), x);
    assert.equal(asXTensor(x, ["a", "b"]), x);
    throwsOp(() => asXTensor(x, ["b", "a"]), "asXTensor", "(a, b)", "(b, a)");
  });

  it(".values is the positional tensor in dims order", () => {
    const x = xtensor("x", { dims: ["a", "b"], shape: [2, 3], dtype: "int32" });
    const v = x.values;
    assert.ok(v.type instanceof TensorType);
    assert.deepEqual(v.type.shape, [2, 3]);
    assert.equal(v.type.dtype, "int32");
    assert.ok(v.owner?.op instanceof TensorFromXTensor);
    throwsOp(() => values(tensor("t", { shape: [1] })), "values", "named tensor");
  });

  it("xconstant builds named constants from numbers and nested arrays", () => {
    const c = xconstant([[1, 2, 3], [4, 5, 6]], ["a", "b"]);
    hasType(c, ["a", "b"], [2, 3], "float64");
    assert.deepEqual(run1(c), [[1, 2, 3], [4, 5, 6]]);
    hasType(xconstant(3), [], [], "float64");
    hasType(xconstant([true, false], ["k"]), ["k"], [2], "bool");
    hasType(xconstant([1, 2], ["k"], "int32"), ["k"], [2], "int32");
    throwsOp(() => xconstant([1, 2], ["a", "b"]), "xconstant", "(a, b)", "1 dims");
    // After lowering, a named constant's values are a plain positional Constant.
    assert.ok(lower([c.values])[0] instanceof Constant);
  });

  it("methods cover elemwise, reductions, shape, indexing and fill helpers", () => {
    const x = xtensor("x", { dims: ["a", "b"], shape: [2, 3] });
    for (const m of ["add", "sub", "mul", "div", "pow", "neg", "exp", "log", "maximum", "minimum", "lt", "gt", "where", "cast", "sum", "prod", "mean", "max", "min", "all", "any", "var", "std", "cumsum", "cumprod", "dot", "transpose", "rename", "stack", "unstack", "expandDims", "squeeze", "isel", "set", "inc", "zerosLike", "onesLike", "fullLike"]) {
      assert.equal(typeof (x as unknown as Record<string, unknown>)[m], "function", m);
    }
    hasType(x.zerosLike(), ["a", "b"], [2, 3], "float64");
    hasType(x.onesLike("int32"), ["a", "b"], [2, 3], "int32");
    assert.deepEqual(run1(x.fullLike(7), [[x, [[0, 0, 0], [0, 0, 0]]]]), [[7, 7, 7], [7, 7, 7]]);
    assert.deepEqual(run1(x.zerosLike(), [[x, [[1, 2, 3], [4, 5, 6]]]]), [[0, 0, 0], [0, 0, 0]]);
    assert.deepEqual(run1(x.onesLike("bool"), [[x, [[1, 2, 3], [4, 5, 6]]]]), [[true, true, true], [true, true, true]]);
  });
});
