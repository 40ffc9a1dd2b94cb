import { strict as assert } from "node:assert";
import { constant, tensor } from "../../src/tensor/basic.js";
import * as E from "../../src/tensor/elemwise.js";
import { sum } from "../../src/tensor/reduce.js";
import { reshape, shapeI } from "../../src/tensor/shape.js";
import { grad } from "../../src/grad/driver.js";
import { FunctionGraph } from "../../src/graph/fgraph.js";
import { RewriteContext } from "../../src/rewriting/engine.js";
import { rewriteGraph } from "../../src/rewriting/db.js";
import { DestroyHandler } from "../../src/rewriting/destroyhandler.js";
import { CheckedFeature } from "../../src/rewriting/checked.js";
import { elemwiseFusion, fusionGroups } from "../../src/rewriting/fusion.js";
import { assertAllSame, opNames, runBoth } from "./compare.js";

const X = [
  [0.5, -1, 2, 0],
  [-0, 3, -2.5, 1e-3],
  [Infinity, NaN, -Infinity, 7],
];

const composites = (ops: string[]): string[] => ops.filter((o) => o.startsWith("Composite"));

describe("rewriting/fusion", () => {
  it("fuses an Elemwise whose recorded output type knows less than its inputs", () => {
    // reshape(x, its own ShapeI lengths) has type (?, ?), and canonicalize replaces it by x, of
    // (2, 2): mul's recorded output stays (?, ?). The Composite's (2, 2) output refines it; the
    // FAST_RUN compile raised from compositeFromGraph instead.
    const x = tensor("x", { shape: [2, 2] });
    const r = reshape(x, [shapeI(x, 0), shapeI(x, 1)]);
    const res = runBoth([x], [E.mul(E.exp(r), E.neg(r))], [[[0.5, -1], [2, 0]]], "FAST_RUN", ["inplace"]);
    assert.equal(res.fired.get("elemwise_fusion"), 1);
    assert.deepEqual(composites(opNames(res.f.fgraph)), ["Composite{mul(exp(i0), neg(i0))}"]);
    assertAllSame(res, { exact: true });
  });

  it("fuses a producer into a reader whose recorded shape knows less than its inputs (checked, in place)", () => {
    // tanh reads reshape(m, m's own ShapeI lengths), (?, ?); canonicalize removes the Reshape, so
    // tanh's recorded output stays (?, ?) while m is (2, 2). Grouped by recorded shapes, m was
    // left out of tanh's loop, and once the inplace pass rebuilt tanh (re-inferring (2, 2))
    // checked mode's fusion promise reported the pair.
    const x = tensor("x", { shape: [2, 2] });
    const m = E.mul(x, constant([[2, 0.5], [0.5, 2]]));
    const out = E.tanh(reshape(m, [shapeI(m, 0), shapeI(m, 1)]));
    const res = runBoth([x], [out], [[[0.5, -1], [2, 0]]], "FAST_RUN");
    assert.equal(composites(opNames(res.f.fgraph)).length, 1, opNames(res.f.fgraph).join(", "));
    assertAllSame(res, { exact: true });
  });

  it("fuses a chain with a broadcast operand into one Composite, exactly", () => {
    const x = tensor("x", { shape: [3, 4] });
    const y = tensor("y", { shape: [4] });
    const out = E.tanh(E.add(E.mul(E.exp(x), y), E.sin(x)));
    const r = runBoth([x, y], [out], [X, [1, 2, 3, 4]], "FAST_RUN", ["inplace"]);
    assert.equal(r.fired.get("elemwise_fusion"), 1);
    assert.equal(opNames(r.f.fgraph).length, 1);
    assertAllSame(r, { exact: true });
  });

  it("keeps float32 rounding of every intermediate", () => {
    const x = tensor("x", { shape: [4], dtype: "float32" });
    const out = E.mul(E.add(E.mul(x, 1.1), 0.3), E.sqrt(E.abs(x)));
    const r = runBoth([x], [out], [[0.1, 1e8 + 3, -7.77, 3.3]]);
    assert.equal(r.fired.get("elemwise_fusion"), 1);
    assertAllSame(r, { exact: true });
  });

  it("inlines a Composite already in the graph: exp(x) read only by it, and a reader of it, make one loop (checked)", () => {
    // Before, fusion left a Composite alone and checked mode's fusion promise refused the graph
    // ("exp is read only by Composite ... but was left out of its fused loop").
    const x = tensor("x", { shape: [3, 4] });
    const y = tensor("y", { shape: [3, 4] });
    const inX = tensor("i0", { shape: [3, 4] });
    const inY = tensor("i1", { shape: [3, 4] });
    const op = E.compositeFromGraph([inX, inY], [E.mul(E.sin(inX), E.add(inY, 1))]);
    const c = op.makeNode(E.exp(x), y).outputs[0];
    const out = E.tanh(c);
    const r = runBoth([x, y], [out], [X, X], "FAST_RUN", ["inplace"]);
    assert.equal(r.fired.get("elemwise_fusion"), 1);
    assert.deepEqual(composites(opNames(r.f.fgraph)).length, 1, opNames(r.f.fgraph).join(", "));
    assert.equal(opNames(r.f.fgraph).length, 1);
    assertAllSame(r, { exact: true });
  });

  it("a graph FAST_RUN already rewrote compiles again in checked FAST_RUN, values unchanged", () => {
    const x = tensor("x", { shape: [3, 4] });
    const once = rewriteGraph([E.add(E.tanh(E.mul(E.exp(x), 2)), E.sin(x))], { mode: "FAST_RUN", exclude: ["inplace"] });
    assert.ok(composites(once.map((v) => v.owner?.op.toString() ?? "")).length === 1);
    const r = runBoth([x], [E.sqrt(E.abs(once[0]))], [X]);
    assertAllSame(r, { exact: true });
  });

  it("does not absorb an intermediate read outside the group (it becomes an input)", () => {
    const x = tensor("x", { shape: [3, 4] });
    const a = E.exp(E.neg(x));
    const r = runBoth([x], [E.tanh(E.sin(a)), a], [X], "FAST_RUN", ["inplace"]);
    const ops = opNames(r.f.fgraph);
    assert.equal(composites(ops).length, 2, ops.join(", "));
    assertAllSame(r, { exact: true });
  });

  it("does not fuse across a change of shape (reduction or broadcast)", () => {
    const x = tensor("x", { shape: [3, 4] });
    const s = E.exp(sum(E.sin(E.cos(x)), [0]));
    const b = E.mul(E.add(s, 1), E.tanh(x));
    const r = runBoth([x], [b], [X], "FAST_RUN", ["inplace"]);
    const groups = [...fusionGroups(new FunctionGraph([x], [b])).values()].map((g) => g.length).sort();
    // {sin, cos} at (3, 4) | {add, exp} at (4,) | {mul, tanh} at (3, 4): the (4,) group stays apart.
    assert.deepEqual(groups, [2, 2, 2]);
    assertAllSame(r, { exact: true });
  });

  it("fuses forward and gradient graphs without changing values (checked, DestroyHandler attached)", () => {
    const x = tensor("x", { shape: [3, 4] });
    const y = tensor("y", { shape: [4] });
    const cost = sum(E.mul(E.tanh(E.mul(x, y)), E.sigmoid(E.sub(x, y))));
    const g = grad(cost, [x, y]);
    const args = [
      [
        [0.5, -1, 2, 0],
        [0.25, 3, -2.5, 1e-3],
        [1, 0.5, -1, 0.7],
      ],
      [1, -2, 0.5, 3],
    ];
    const r = runBoth([x, y], [cost, ...g], args);
    assert.ok((r.fired.get("elemwise_fusion") ?? 0) >= 2);
    assertAllSame(r, { rtol: 1e-12 });
  });

  it("leaves a graph with no fusable pair unchanged, and never builds a cycle", () => {
    const x = tensor("x", { shape: [3, 4] });
    const a = E.exp(x);
    // a feeds both b and c; c reads b: absorbing a into c's group would need b inside too.
    const b = E.sin(a);
    const c = E.add(a, b);
    const fg = new FunctionGraph([x], [c, b], { features: [new DestroyHandler(), new CheckedFeature()] });
    const ctx = new RewriteContext({ checked: true });
    elemwiseFusion.apply(fg, ctx);
    fg.checkIntegrity();
    assert.equal(fg.toposort().length, 3);
    assert.equal(elemwiseFusion.lastStats.fused, 0);
  });
});
