import assert from "node:assert/strict";
import { Index, IndexUpdate } from "../../src/xtensor/indexing.js";
import { xconstant, xtensor } from "../../src/xtensor/type.js";
import { hasType, iota, run1, throwsOp } from "./helpers.js";

const X = iota([2, 3, 4]) as number[][][];
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe("xtensor/indexing", () => {
  const x = xtensor("x", { dims: ["a", "b", "c"], shape: [2, 3, 4] });
  const ik = (v: number[], dims: string[] = ["k"]) => xconstant(v, dims, "int64");

  describe("isel with ints and slices", () => {
    it("an int drops the dim; negative ints count from the end", () => {
      const r = x.isel({ b: 1 });
      hasType(r, ["a", "c"], [2, 4]);
      assert.deepEqual(run1(r, [[x, X]]), [X[0][1], X[1][1]]);
      assert.deepEqual(run1(x.isel({ b: -1, a: 0 }), [[x, X]]), X[0][2]);
      assert.equal(run1(x.isel({ a: 1, b: 2, c: 3 }), [[x, X]]), X[1][2][3]);
    });
    it("slices follow numpy, including negative steps; the dim is kept", () => {
      const r = x.isel({ c: [3, null, -2] });
      hasType(r, ["a", "b", "c"], [2, 3, 2]);
      assert.deepEqual(run1(r, [[x, X]]), X.map((p) => p.map((q) => [q[3], q[1]])));
      hasType(x.isel({ c: { start: 1, stop: 3 } }), ["a", "b", "c"], [2, 3, 2]);
      hasType(x.isel({ b: [5, 10] }), ["a", "b", "c"], [2, 0, 4]);
      assert.deepEqual(run1(x.isel({ a: [null, null, -1], b: 0 }), [[x, X]]), [X[1][0], X[0][0]]);
    });
    it("errors: unknown dim, out of range, zero step, bad indexer", () => {
      throwsOp(() => x.isel({ q: 0 }), "isel", 'dim "q" is not a dim of x (a, b, c)');
      throwsOp(() => x.isel({ b: 3 }), "isel", 'index 3 is out of range for dim "b" of length 3');
      throwsOp(() => x.isel({ b: -4 }), "isel", "index -4 is out of range");
      throwsOp(() => x.isel({ c: [0, 4, 0] }), "isel", 'slice step for dim "c" cannot be zero');
      throwsOp(() => x.isel({ c: 1.5 }), "isel", "not an integer");
      throwsOp(() => x.isel({ b: xconstant([0.5], ["k"]) }), "isel", 'indexer for dim "b" must be an integer xtensor', "float64");
    });
  });

  describe("vectorized isel (integer xtensors)", () => {
    it("x(a,b,c).isel(b=i(k)) gives (a, k, c)", () => {
      const r = x.isel({ b: ik([2, 0]) });
      hasType(r, ["a", "k", "c"], [2, 2, 4]);
      assert.deepEqual(run1(r, [[x, X]]), [0, 1].map((a) => [2, 0].map((b) => X[a][b])));
    });
    it("isel(a=i(k), c=j(k)) zips the shared dim: (k, b)", () => {
      const r = x.isel({ a: ik([1, 0]), c: ik([3, 2]) });
      hasType(r, ["k", "b"], [2, 3]);
      assert.deepEqual(run1(r, [[x, X]]), [
        range(3).map((b) => X[1][b][3]),
        range(3).map((b) => X[0][b][2]),
      ]);
    });
    it("isel(a=1, c=i(k)) gives (b, k)", () => {
      const r = x.isel({ a: 1, c: ik([0, 3]) });
      hasType(r, ["b", "k"], [3, 2]);
      assert.deepEqual(run1(r, [[x, X]]), range(3).map((b) => [X[1][b][0], X[1][b][3]]));
    });
    it("separated array indexers with distinct dims: (k, b, m), despite numpy moving them to the front", () => {
      const i = [1, 0];
      const j = [0, 2, 3];
      const r = x.isel({ a: ik(i), c: ik(j, ["m"]) });
      hasType(r, ["k", "b", "m"], [2, 3, 2 + 1]);
      assert.deepEqual(run1(r, [[x, X]]), i.map((a) => range(3).map((b) => j.map((c) => X[a][b][c]))));
    });
    it("adjacent array indexers with a slice after them: (a, k, m) kept in place", () => {
      const r = x.isel({ a: [null, null, -1], b: ik([2, 1]), c: ik([3, 0, 1], ["m"]) });
      hasType(r, ["a", "k", "m"], [2, 2, 3]);
      assert.deepEqual(run1(r, [[x, X]]), [1, 0].map((a) => [2, 1].map((b) => [3, 0, 1].map((c) => X[a][b][c]))));
    });
    it("an indexer labelled with an existing sliced dim zips with it", () => {
      // a is reversed by the slice, then c is indexed pointwise along the same a.
      const r = x.isel({ a: [null, null, -1], c: ik([3, 1], ["a"]) });
      hasType(r, ["a", "b"], [2, 3]);
      assert.deepEqual(run1(r, [[x, X]]), [
        range(3).map((b) => X[1][b][3]),
        range(3).map((b) => X[0][b][1]),
      ]);
      const y = xtensor("y", { dims: ["a", "b"], shape: [3, 3] });
      const Y = iota([3, 3]) as number[][];
      const d = y.isel({ b: ik([2, 0, 1], ["a"]) });
      hasType(d, ["a"], [3]);
      assert.deepEqual(run1(d, [[y, Y]]), [Y[0][2], Y[1][0], Y[2][1]]);
    });
    it("a 2-d indexer contributes both of its dims in its order", () => {
      const r = x.isel({ b: ik([[0, 1], [2, 2]] as never, ["k", "l"]) });
      hasType(r, ["a", "k", "l", "c"], [2, 2, 2, 4]);
      assert.deepEqual(run1(r, [[x, X]]), [0, 1].map((a) => [[0, 1], [2, 2]].map((row) => row.map((b) => X[a][b]))));
    });
    it("works with unknown static lengths (ranges built at run time)", () => {
      const u = xtensor("u", { dims: ["a", "b", "c"] });
      const r = u.isel({ b: xtensor("i", { dims: ["c"], dtype: "int64" }) });
      hasType(r, ["a", "c"], [null, null]);
      const i = xtensor("i2", { dims: ["c"], dtype: "int64" });
      const s = u.isel({ a: [1, null], b: i });
      assert.deepEqual(run1(s, [[u, X], [i, [2, 0, 1, 2]]]), [[X[1][2][0], X[1][0][1], X[1][1][2], X[1][2][3]]]);
    });
    it("conflicting lengths of a shared indexer dim are an error", () => {
      throwsOp(() => x.isel({ a: ik([0, 1]), c: ik([0, 1, 2]) }), "isel", 'dim "k" has length 2', "but 3");
      throwsOp(() => x.isel({ a: [0, 1], c: ik([0, 1, 2], ["a"]) }), "isel", 'dim "a" has length 1', "but 3");
    });
    it("equal selections build equal ops", () => {
      const i = ik([0, 1]);
      const p = x.isel({ c: i, a: 0 }).owner!.op as Index;
      const q = x.isel({ a: 0, c: i }).owner!.op as Index;
      assert.ok(p.equals(q));
      assert.ok((x.isel({ b: [0, null, 1] }).owner!.op as Index).equals(x.isel({ b: [0] }).owner!.op));
    });
  });

  describe("set / inc", () => {
    const m = xtensor("m", { dims: ["a", "b"], shape: [2, 3] });
    const M = iota([2, 3]) as number[][];
    it("basic set and inc keep x's type", () => {
      const y = xtensor("y", { dims: ["a"], shape: [2] });
      const s = m.isel({ b: 1 }).set(y);
      hasType(s, ["a", "b"], [2, 3], "float64");
      assert.ok(s.owner?.op instanceof IndexUpdate);
      assert.deepEqual(run1(s, [[m, M], [y, [10, 20]]]), [[0, 10, 2], [3, 20, 5]]);
      assert.deepEqual(run1(m.isel({ a: 0 }).inc(100), [[m, M]]), [[100, 101, 102], [3, 4, 5]]);
    });
    it("y is aligned to the view by name, and broadcast over dims it lacks", () => {
      const y = xtensor("y", { dims: ["b", "a"], shape: [2, 2] });
      const s = m.isel({ b: [0, null, 2] }).set(y);
      assert.deepEqual(run1(s, [[m, M], [y, [[100, 200], [300, 400]]]]), [[100, 1, 300], [200, 4, 400]]);
      const z = xtensor("z", { dims: ["b"], shape: [3] });
      assert.deepEqual(run1(m.isel({}).inc(z), [[m, M], [z, [1, 2, 3]]]), [[1, 3, 5], [4, 6, 8]]);
    });
    it("inc with repeated indices accumulates; set keeps the last write", () => {
      const v = xtensor("v", { dims: ["a"], shape: [3] });
      const i = ik([0, 2, 0]);
      const y = xtensor("y", { dims: ["k"], shape: [3] });
      const g: [typeof v, number[]][] = [[v, [5, 6, 7]], [y, [1, 2, 3]]];
      assert.deepEqual(run1(v.isel({ a: i }).inc(y), g), [5 + 1 + 3, 6, 7 + 2]);
      assert.deepEqual(run1(v.isel({ a: i }).inc(1), g), [7, 6, 8]);
      assert.deepEqual(run1(v.isel({ a: i }).set(y), g), [3, 6, 2]);
    });
    it("vectorized updates mixed with ints and slices", () => {
      const y = xtensor("y", { dims: ["b", "k"], shape: [3, 2] });
      const s = x.isel({ a: 1, c: ik([0, 3]) }).set(y);
      hasType(s, ["a", "b", "c"], [2, 3, 4]);
      const Y = [[-1, -2], [-3, -4], [-5, -6]];
      const want = X.map((p) => p.map((q) => [...q]));
      for (let b = 0; b < 3; b++) {
        want[1][b][0] = Y[b][0];
        want[1][b][3] = Y[b][1];
      }
      assert.deepEqual(run1(s, [[x, X], [y, Y]]), want);
      // Separated indexers with distinct dims and a reversing slice.
      const t = x.isel({ a: ik([1]), b: [null, null, -1], c: ik([2], ["m"]) }).inc(1000);
      const want2 = X.map((p) => p.map((q) => [...q]));
      for (let b = 0; b < 3; b++) want2[1][b][2] += 1000;
      assert.deepEqual(run1(t, [[x, X]]), want2);
    });
    it("y's dtype is cast to x's", () => {
      const i = xtensor("i", { dims: ["a", "b"], shape: [2, 3], dtype: "int64" });
      const s = i.isel({ a: 0 }).set(2.7);
      assert.equal(s.dtype, "int64");
      assert.deepEqual(run1(s, [[i, M]]), [[2, 2, 2], [3, 4, 5]]);
    });
    it("errors: not an isel result, y dims outside the view, conflicting lengths", () => {
      throwsOp(() => m.set(1), "set: expected the result of isel");
      throwsOp(() => m.add(1).inc(1), "inc: expected the result of isel");
      const q = xtensor("q", { dims: ["q"], shape: [2] });
      throwsOp(() => m.isel({ b: ik([0, 1]) }).inc(q), "inc", 'dim "q" of y (q) is not a dim of the indexed view (a, k)');
      const y = xtensor("y", { dims: ["a"], shape: [5] });
      throwsOp(() => m.isel({ b: 0 }).set(y), "set", 'dim "a" has length 2 in the indexed view but 5 in y');
    });
  });
});
