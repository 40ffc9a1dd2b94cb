import assert from "node:assert/strict";
import { XElemwise, add, cast, div, lt, mul, where, xelemwise } from "../../src/xtensor/elemwise.js";
import { tensor } from "../../src/tensor/basic.js";
import { xconstant, xtensor } from "../../src/xtensor/type.js";
import { close, hasType, run1, throwsOp } from "./helpers.js";

describe("xtensor/elemwise", () => {
  it("output dims are in first-appearance order across three inputs", () => {
    const x = xtensor("x", { dims: ["a", "b"], shape: [2, 3] });
    const y = xtensor("y", { dims: ["c", "a"], shape: [4, 2] });
    const z = xtensor("z", { dims: ["d", "b", "c"], shape: [5, 3, 4] });
    hasType(add(add(x, y), z), ["a", "b", "c", "d"], [2, 3, 4, 5]);
    hasType(add(z, add(y, x)), ["d", "b", "c", "a"], [5, 3, 4, 2]);
    const cond = xtensor("m", { dims: ["c"], shape: [4], dtype: "bool" });
    hasType(where(cond, x, y), ["c", "a", "b"], [4, 2, 3]);
  });

  it("aligns by name, not position, and broadcasts missing dims", () => {
    const x = xtensor("x", { dims: ["a", "b"], shape: [2, 2] });
    const y = xtensor("y", { dims: ["b", "a"], shape: [2, 2] });
    // Square shapes: a positional add would give a different answer.
    assert.deepEqual(run1(add(x, y), [[x, [[1, 2], [3, 4]]], [y, [[10, 20], [30, 40]]]]), [[11, 32], [23, 44]]);
    const v = xtensor("v", { dims: ["b"], shape: [2] });
    assert.deepEqual(run1(mul(x, v), [[x, [[1, 2], [3, 4]]], [v, [10, 100]]]), [[10, 200], [30, 400]]);
    const w = xtensor("w", { dims: ["c"], shape: [3] });
    const o = add(v, w);
    hasType(o, ["b", "c"], [2, 3]);
    assert.deepEqual(run1(o, [[v, [1, 2]], [w, [10, 20, 30]]]), [[11, 21, 31], [12, 22, 32]]);
  });

  it("same-named dims must agree in length: no size-1 broadcasting between them", () => {
    const x = xtensor("x", { dims: ["a", "b"], shape: [2, 3] });
    const y = xtensor("y", { dims: ["b"], shape: [4] });
    throwsOp(() => add(x, y), "add", 'dim "b"', "length 3 in x", "4 in y");
    throwsOp(() => add(x, xtensor("o", { dims: ["b"], shape: [1] })), 'dim "b"', "length 3 in x but 1 in y");
    // An unknown length takes the known one.
    hasType(add(xtensor("u", { dims: ["b"] }), x), ["b", "a"], [3, 2]);
  });

  it("numbers are weak 0-d operands (NEP 50)", () => {
    const f32 = xtensor("f", { dims: ["a"], dtype: "float32" });
    const i32 = xtensor("i", { dims: ["a"], dtype: "int32" });
    const i64 = xtensor("j", { dims: ["a"], dtype: "int64" });
    const b = xtensor("b", { dims: ["a"], dtype: "bool" });
    assert.equal(mul(f32, 2.5).dtype, "float32");
    assert.equal(add(i32, 2).dtype, "int32");
    assert.equal(add(i32, 2.5).dtype, "float64");
    assert.equal(div(i64, i64).dtype, "float64");
    assert.equal(div(i32, 2).dtype, "float64");
    assert.equal(add(b, 1).dtype, "int64");
    assert.equal(lt(f32, 0.1).dtype, "bool");
    assert.equal(add(f32, i32).dtype, "float64");
    hasType(add(2, 3), [], [], "int64");
    assert.equal(where(1, f32, 0).dtype, "float32");
    assert.deepEqual(run1(add(i32, 2), [[i32, [1, 2]]]), [3, 4]);
  });

  it("comparisons and logical ops give bool; where selects", () => {
    const x = xtensor("x", { dims: ["a"], shape: [3] });
    const y = xtensor("y", { dims: ["b"], shape: [2] });
    const c = lt(x, y);
    hasType(c, ["a", "b"], [3, 2], "bool");
    const vals: [typeof x, number[]][] = [[x, [1, 2, 3]], [y, [1.5, 2.5]]];
    assert.deepEqual(run1(c, vals), [[true, true], [false, true], [false, false]]);
    assert.deepEqual(run1(where(c, x, y), vals), [[1, 1], [1.5, 2], [1.5, 2.5]]);
    assert.deepEqual(run1(x.gt(1).logicalAnd(x.lt(3)), [[x, [1, 2, 3]]]), [false, true, false]);
    assert.deepEqual(run1(x.ge(2).logicalNot(), [[x, [1, 2, 3]]]), [true, false, false]);
  });

  it("x.where(cond, other) keeps x's dims first, as xarray does", () => {
    const x = xtensor("x", { dims: ["a"], shape: [2] });
    const cond = xtensor("m", { dims: ["b", "a"], shape: [3, 2], dtype: "bool" });
    const r = x.where(cond, 0);
    hasType(r, ["a", "b"], [2, 3], "float64");
    assert.deepEqual(
      run1(r, [[x, [5, 6]], [cond, [[true, false], [false, true], [true, true]]]]),
      [[5, 0, 5], [0, 6, 6]],
    );
  });

  it("unary math and casts", () => {
    const x = xtensor("x", { dims: ["a"], shape: [3] });
    close(run1(x.exp().log(), [[x, [0.5, 1, 2]]]) as number[], [0.5, 1, 2]);
    close(run1(x.square().sqrt().neg().abs(), [[x, [-2, 3, -4]]]) as number[], [2, 3, 4]);
    close(run1(x.sigmoid(), [[x, [0, 0, 0]]]) as number[], [0.5, 0.5, 0.5]);
    close(run1(x.pow(2).sub(x.maximum(x.minimum(1))), [[x, [2, 3, 0]]]) as number[], [2, 6, 0]);
    const c = cast(x, "int64");
    hasType(c, ["a"], [3], "int64");
    assert.deepEqual(run1(c, [[x, [1.7, -1.7, 2]]]), [1, -1, 2]);
    assert.equal(cast(x, "float64"), x);
    assert.equal(x.astype("float32").dtype, "float32");
  });

  it("rejects non-named operands and unknown scalar ops, naming the op and argument", () => {
    const x = xtensor("x", { dims: ["a"] });
    const t = tensor("t", { shape: [2] });
    throwsOp(() => add(x, t as never), "add", "y must be a named tensor", "Tensor(");
    throwsOp(() => new XElemwise("nope" as never), "unknown scalar op");
    throwsOp(() => new XElemwise("cast"), "cast");
    throwsOp(() => xelemwise("add", x), "add", "expected 2");
  });

  it("named constants broadcast like any operand", () => {
    const x = xtensor("x", { dims: ["a"], shape: [2] });
    const k = xconstant([1, 10, 100], ["b"]);
    assert.deepEqual(run1(mul(x, k), [[x, [1, 2]]]), [[1, 10, 100], [2, 20, 200]]);
  });
});
