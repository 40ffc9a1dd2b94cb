/**
 * The driver with named (xtensor) variables, through the ops that do have pullbacks (the
 * conversions and Rename). Every shape is square on purpose: a cotangent read positionally
 * instead of by name would pass every shape check, so only the values can tell.
 */
import assert from "node:assert/strict";
import type { Variable } from "../../src/graph/basic.js";
import { constant } from "../../src/tensor/basic.js";
import { add as padd, mul as pmul, tanh } from "../../src/tensor/elemwise.js";
import { sum as psum } from "../../src/tensor/reduce.js";
import { transpose as ptranspose } from "../../src/tensor/shape.js";
import { Rename, TensorFromXTensor, asXTensor, values } from "../../src/xtensor/basic.js";
import { add as xadd } from "../../src/xtensor/elemwise.js";
import { rename, transpose as xtranspose } from "../../src/xtensor/shape.js";
import { XTensorType, type XTensorVariable, xtensor } from "../../src/xtensor/type.js";
import { lower } from "../../src/xtensor/lower.js";
import { grad, pullback } from "../../src/grad/driver.js";
import { pushforward } from "../../src/grad/pushforward.js";
import { withPullbackOverride } from "../../src/grad/registry.js";
import { NDArray } from "../../src/ndarray/ndarray.js";
import { evalGraph } from "./eval.js";
import { assertOk, compareArrays, numericGrad } from "./fd.js";

const XV = [
  [0.1, -0.7],
  [0.4, 0.9],
];
const W = [
  [1, 2],
  [3, 4],
];
/** Evaluate after lowering (named ops left in a gradient, such as a by-name transpose, have no kernel). */
const run = (v: Variable, givens: [Variable, number[][]][]): number[] =>
  evalGraph(lower([v]), new Map(givens.map(([k, a]) => [k, NDArray.fromNested(a)] as const)))[0].toFlat();
const dimsOf = (v: Variable): readonly string[] => (v.type as XTensorType).dims;
const T = (m: number[][]): number[][] => m[0].map((_, j) => m.map((row) => row[j]));

describe("grad driver with named variables", () => {
  const x = (): XTensorVariable => xtensor("x", { dims: ["a", "b"], shape: [2, 2] });

  it("the gradient has the wrt's type, dims order included, and the right values", () => {
    const xv = x();
    const cost = psum(pmul(tanh(values(xv)), constant(W)));
    const g = grad(cost, xv);
    assert.ok(g.type instanceof XTensorType);
    assert.ok(g.type.equals(xv.type), `${g.type.toString()} vs ${xv.type.toString()}`);
    const expected = XV.flatMap((row, i) => row.map((v, j) => (1 - Math.tanh(v) ** 2) * W[i][j]));
    assertOk(compareArrays([run(g, [[xv, XV]])], [expected]));
  });

  it("a cotangent in another dims order is transposed by name, not reinterpreted", () => {
    const xv = x();
    const y = asXTensor(values(xv), ["a", "b"]);
    const k = xtensor("k", { dims: ["b", "a"], shape: [2, 2] });
    const g = pullback([y], xv, [k]);
    assert.deepEqual(dimsOf(g), ["a", "b"]);
    // k given as [[k(b0,a0), k(b0,a1)], ...]: by name, g(a, b) = k(b, a), i.e. the transpose.
    assert.deepEqual(run(g, [[xv, XV], [k, W]]), T(W).flat());
  });

  it("a rule returning its term in another dims order gets the same gradient", () => {
    const build = (): [XTensorVariable, Variable] => {
      const xv = x();
      return [xv, psum(pmul(tanh(values(xv)), constant(W)))];
    };
    const [x1, c1] = build();
    const reference = run(grad(c1, x1), [[x1, XV]]);
    // Same values, labelled (b, a): correct by name, permuted by position.
    withPullbackOverride(TensorFromXTensor, (_i, _o, [g]) => [asXTensor(ptranspose(g), ["b", "a"])], () => {
      const [x2, c2] = build();
      const g2 = grad(c2, x2);
      assert.deepEqual(dimsOf(g2), ["a", "b"]);
      assert.deepEqual(run(g2, [[x2, XV]]), reference);
    });
  });

  it("a rule relabelling positionally (the square-shape trap) changes the values: detected by FD", () => {
    const xv = x();
    const cost = psum(pmul(tanh(values(xv)), constant(W)));
    // Wrong on purpose: the positional g labelled (b, a) without moving values.
    const wrong = withPullbackOverride(TensorFromXTensor, (_i, _o, [g]) => [asXTensor(g, ["b", "a"])], () => run(grad(cost, xv), [[xv, XV]]));
    const f = (xs: readonly NDArray[]): number => evalGraph([cost], new Map([[xv as Variable, xs[0]]]))[0].toFlat()[0];
    const numeric = numericGrad(f, [NDArray.fromNested(XV)]);
    assert.equal(compareArrays([wrong], numeric).ok, false);
    assertOk(compareArrays([run(grad(cost, xv), [[xv, XV]])], numeric));
  });

  it("terms from two consumers, in different dims orders, are summed by name", () => {
    const xv = x();
    // Rename swaps the labels (a positional relabel: values stay); both branches read x.
    const swapped = rename(xv, { a: "b", b: "a" });
    const cost = padd(psum(pmul(values(xv), constant(W))), psum(pmul(values(swapped), constant(W))));
    // values(swapped) is values(x) positionally, so each branch contributes W.
    const expected = W.flat().map((w) => 2 * w);
    assertOk(compareArrays([run(grad(cost, xv), [[xv, XV]])], [expected]));
    // Rename's term, returned by name-equivalently in (b, a) order: the sum must not change.
    withPullbackOverride(Rename, ([inp], _o, [g]) => [xtranspose(new Rename(dimsOf(inp)).makeNode(g).out as XTensorVariable, ["b", "a"])], () => {
      const g = grad(cost, xv);
      assert.deepEqual(dimsOf(g), ["a", "b"]);
      assert.equal(g.owner?.op.name, "XElemwise", "named terms are summed with the named add");
      assertOk(compareArrays([run(g, [[xv, XV]])], [expected]));
    });
  });

  it("tangents are aligned by name in pushforward", () => {
    const xv = x();
    const f = psum(pmul(values(xv), constant(W)));
    const t = xtensor("t", { dims: ["b", "a"], shape: [2, 2] });
    const jv = pushforward(f, [xv], [t]);
    const tv = [
      [1, 0],
      [0, 0],
    ];
    // t(b=0, a=0) = 1 only: the derivative along x(a=0, b=0) is W[0][0].
    assertOk(compareArrays([run(jv, [[xv, XV], [t, tv]])], [[W[0][0]]]));
    const tv2 = [
      [0, 1],
      [0, 0],
    ];
    // t(b=0, a=1) = 1: along x(a=1, b=0), i.e. W[1][0], not W[0][1].
    assertOk(compareArrays([run(jv, [[xv, XV], [t, tv2]])], [[W[1][0]]]));
  });

  it("a named op on the path is wrapped in a lazy Pullback node, not differentiated in place", () => {
    const xv = x();
    const cost = psum(values(xadd(xv, xv)));
    const g = grad(cost, xv);
    assert.equal(g.owner?.op.name, "Pullback");
    assert.ok(g.type.equals(xv.type), "the gradient has exactly the named variable's type");
  });

});
