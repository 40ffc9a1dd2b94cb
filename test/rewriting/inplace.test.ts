import { strict as assert } from "node:assert";
import type { Apply } from "../../src/graph/basic.js";
import { constant, tensor } from "../../src/tensor/basic.js";
import * as E from "../../src/tensor/elemwise.js";
import { sum } from "../../src/tensor/reduce.js";
import { advancedIncSubtensor, advancedSubtensor, setSubtensor } from "../../src/tensor/indexing.js";
import { Alloc, alloc, transpose } from "../../src/tensor/shape.js";
import { MergeOptimizer } from "../../src/rewriting/merge.js";
import { InvariantError } from "../../src/errors.js";
import { opFromMessage } from "../../properties/properties.js";
import { NDArray } from "../../src/ndarray/ndarray.js";
import { grad } from "../../src/grad/driver.js";
import type { FunctionGraph } from "../../src/graph/fgraph.js";
import { InplacePass, inplacePass } from "../../src/rewriting/inplace.js";
import { FunctionGraph as FG } from "../../src/graph/fgraph.js";
import type { Feature } from "../../src/graph/features.js";
import { DestroyHandler } from "../../src/rewriting/destroyhandler.js";
import { CheckedFeature } from "../../src/rewriting/checked.js";
import { RewriteContext } from "../../src/rewriting/engine.js";
import { InconsistencyError } from "../../src/errors.js";
import { assertAllSame, runBoth } from "./compare.js";

const destroyers = (fg: FunctionGraph): Apply[] => fg.toposort().filter((n) => Object.keys(n.op.destroyMap).length > 0);

const X = [
  [0.5, -1, 2, 0],
  [0.25, 3, -2.5, 1e-3],
  [1, 0.5, -1, 0.7],
];

describe("rewriting/inplace", () => {
  it("makes a dead single-reader intermediate's consumer write in place (unfused chain)", () => {
    const x = tensor("x", { shape: [3, 4] });
    const y = tensor("y", { shape: [4] });
    const out = E.tanh(E.exp(E.mul(x, y)));
    const r = runBoth([x, y], [out], [X, [1, 2, 3, 4]], "FAST_RUN", ["fusion"]);
    const d = destroyers(r.f.fgraph);
    assert.deepEqual(
      d.map((n) => n.op.toString()),
      ["Elemwise{exp, inplace=0}", "Elemwise{tanh, inplace=0}"],
    );
    assert.equal(r.fired.get("inplace_elemwise"), 2);
    assertAllSame(r, { exact: true });
  });

  it("makes a fused Composite write in place", () => {
    const x = tensor("x", { shape: [2, 3, 4] });
    // The sum is a fresh (3, 4) buffer read only by the fused sin(add(mul(s, 2), 1)).
    const out = E.sin(E.add(E.mul(sum(x, [0]), 2), 1));
    const r = runBoth([x], [out], [[X, X]]);
    assert.ok(destroyers(r.f.fgraph).some((n) => n.op.toString().startsWith("Composite") && n.op.toString().includes("inplace=0")));
    assertAllSame(r, { exact: true });
  });

  it("never destroys a graph input or output", () => {
    const x = tensor("x", { shape: [3, 4] });
    const a = E.exp(x);
    const r = runBoth([x], [a, E.tanh(a)], [X], "FAST_RUN", ["fusion"]);
    assert.equal(destroyers(r.f.fgraph).length, 0);
    const arg = NDArray.fromNested(X);
    const before = arg.toFlat();
    const [o1] = r.f(arg);
    assert.deepEqual(arg.toFlat(), before, "the caller's input array is unchanged");
    assertAllSame({ ...r, fast: [o1, r.f(arg)[1]] }, { exact: true });
  });

  it("never clobbers a value that is still read later", () => {
    const x = tensor("x", { shape: [3, 4] });
    const a = E.exp(x);
    const b = E.tanh(a);
    const out = E.add(b, a);
    const r = runBoth([x], [out], [X], "FAST_RUN", ["fusion"]);
    for (const n of destroyers(r.f.fgraph)) {
      const j = n.op.destroyMap[0][0];
      assert.ok(!(n.op.toString().startsWith("Elemwise{tanh") && j === 0), "tanh must not overwrite exp(x), which add reads after it");
    }
    assertAllSame(r, { exact: true });
  });

  it("makes IncSubtensor and AdvancedIncSubtensor update a dead buffer in place", () => {
    const x = tensor("x", { shape: [3, 4] });
    const idx = tensor("i", { shape: [2], dtype: "int64" });
    const s = setSubtensor(E.exp(x), 0, [1]);
    const t = advancedIncSubtensor(E.sin(x), 1, [idx]);
    const r = runBoth([x, idx], [E.add(s, t)], [X, [0, 0]], "FAST_RUN", ["fusion"]);
    const ops = destroyers(r.f.fgraph).map((n) => n.op.name);
    assert.ok(ops.includes("IncSubtensor") && ops.includes("AdvancedIncSubtensor"), ops.join(", "));
    assert.ok((r.fired.get("inplace_incsubtensor") ?? 0) >= 2);
    assertAllSame(r, { exact: true });
  });

  it("leaves constants and views of graph inputs alone", () => {
    const x = tensor("x", { shape: [4, 4] });
    const r = runBoth([x], [E.exp(transpose(x)), setSubtensor(constant([1, 2, 3]), sum(x), [0])], [[[1, 2, 3, 4], [5, 6, 7, 8], [1, 1, 1, 1], [0, 0, 0, 0]]], "FAST_RUN", ["fusion"]);
    assert.equal(destroyers(r.f.fgraph).length, 0);
    assertAllSame(r, { exact: true });
  });

  it("keeps gradients unchanged with in-place nodes in the graph", () => {
    const x = tensor("x", { shape: [3, 4] });
    const y = tensor("y", { shape: [4] });
    const cost = sum(E.mul(setSubtensor(E.exp(E.mul(x, y)), 0, [0]), E.sigmoid(x)));
    const g = grad(cost, [x, y]);
    const r = runBoth([x, y], [cost, ...g], [X, [1, -2, 0.5, 3]]);
    assert.ok(inplacePass.lastStats.elemwise + inplacePass.lastStats.incSubtensor > 0);
    assertAllSame(r, { rtol: 1e-12 });
  });

  it("reverts a vetoed batch and retries its halves, keeping what validates", () => {
    const x = tensor("x", { shape: [3, 4] });
    const y = tensor("y", { shape: [4] });
    const out = E.sin(E.tanh(E.exp(E.mul(x, y))));
    /** A stand-in for a DestroyHandler veto: no in-place tanh allowed. */
    const veto: Feature = {
      onValidate(fg: FunctionGraph) {
        for (const n of fg.applyNodes) if (n.op.toString() === "Elemwise{tanh, inplace=0}") throw new InconsistencyError("test veto: in-place tanh");
      },
    };
    const fg = new FG([x, y], [out], { features: [new DestroyHandler(), new CheckedFeature(), veto] });
    const pass = new InplacePass();
    pass.apply(fg, new RewriteContext({ checked: true, onOptError: "raise" }));
    const d = destroyers(fg).map((n) => n.op.toString());
    assert.deepEqual(d.sort(), ["Elemwise{exp, inplace=0}", "Elemwise{sin, inplace=0}"]);
    assert.equal(pass.lastStats.elemwise, 2);
    assert.ok(pass.lastStats.rejected >= 2, `rejected ${pass.lastStats.rejected}`);
    fg.checkIntegrity();
    (fg.getFeature(DestroyHandler) as DestroyHandler).checkConsistency();
  });

  describe("fresh zero buffers for update ops, and merge3 after them (PyTensor PR #2355's setting)", () => {
    const idx = (...v: number[]) => constant(NDArray.fromNested(v, "int64"));
    const zeroAllocs = (fg: FunctionGraph): Apply[] => fg.toposort().filter((n) => n.op instanceof Alloc && String(n.inputs[0]) === "0");
    const incsInPlace = (fg: FunctionGraph): Apply[] => destroyers(fg).filter((n) => n.op.toString().startsWith("AdvancedIncSubtensor"));

    it("the gradient of two gathers: each scatter writes into its own zero Alloc, which merge3 leaves apart; values as NONE", () => {
      const x = tensor("x", { shape: [5] });
      const cost = E.add(sum(advancedSubtensor(x, [idx(0, 1)])), sum(advancedSubtensor(x, [idx(4, 4)])));
      const g = grad(cost, x);
      const r = runBoth([x], [cost, g], [[0.5, -1, 2, 0, 3]]);
      // zeros_like(x) became alloc(0, 5) (local_second_to_alloc); merging made the two one buffer.
      assert.equal(incsInPlace(r.f.fgraph).length, 2, r.f.fgraph.toposort().map(String).join("; "));
      assert.equal(zeroAllocs(r.f.fgraph).length, 2, r.f.fgraph.toposort().map(String).join("; "));
      assert.equal(r.fired.get("inplace_fresh_zeros"), 2);
      assertAllSame(r, { exact: true });
    });

    /** Two scatters into one shared zero Alloc, as merging leaves a gradient of two gathers. */
    const sharedZeros = () => {
      const y1 = tensor("y1", { shape: [2] });
      const y2 = tensor("y2", { shape: [2] });
      const z = alloc(constant(0), [5]);
      const outs = [advancedIncSubtensor(z, y1, [idx(0, 1)]), advancedIncSubtensor(z, y2, [idx(4, 4)])];
      return { inputs: [y1, y2], outs };
    };

    it("merge3 skips the copies (each destroyed); without the guard it tries, validation rejects, and values stay right", () => {
      for (const guardDestroyed of [true, false]) {
        const { inputs, outs } = sharedZeros();
        const fg = new FG(inputs, outs, { features: [new DestroyHandler()] });
        const pass = new InplacePass();
        pass.apply(fg, new RewriteContext());
        assert.equal(pass.lastStats.freshZeros, 2);
        assert.equal(zeroAllocs(fg).length, 2, "the shared Alloc was left for the copies");
        const m = new MergeOptimizer("merge3", { guardDestroyed });
        m.addRequirements(fg);
        m.apply(fg, new RewriteContext());
        assert.deepEqual(m.lastStats, guardDestroyed ? { merged: 0, failed: 0, skippedDestroyed: 1, skippedIncomparable: 0 } : { merged: 0, failed: 1, skippedDestroyed: 0, skippedIncomparable: 0 });
        fg.validate();
        assert.equal(zeroAllocs(fg).length, 2);
        assert.equal(incsInPlace(fg).length, 2);
      }
    });

    it("checked mode names an attempted merge of two destroyed variables (broken promise merge_guard)", () => {
      const { inputs, outs } = sharedZeros();
      const fg = new FG(inputs, outs, { features: [new DestroyHandler(), new CheckedFeature()] });
      const ctx = new RewriteContext({ checked: true, onOptError: "raise" });
      new InplacePass().apply(fg, ctx);
      let msg = "";
      assert.throws(
        () => new MergeOptimizer("merge3", { guardDestroyed: false }).apply(fg, ctx),
        (e: Error) => e instanceof InvariantError && /merge pass "merge3" broke its promise merge_guard: it tried to merge Alloc\.0 and Alloc\.0, which AdvancedIncSubtensor.* and AdvancedIncSubtensor.* each overwrite in place/.test((msg = e.message)),
      );
      assert.equal(opFromMessage(msg), "promise:merge_guard");
    });
  });
});

