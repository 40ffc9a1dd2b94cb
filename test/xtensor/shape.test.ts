import assert from "node:assert/strict";
import { Rename } from "../../src/xtensor/basic.js";
import { Stack, Transpose, broadcast, concat, expandDims, rename, squeeze, stack, transpose, unstack } from "../../src/xtensor/shape.js";
import { xtensor } from "../../src/xtensor/type.js";
import { hasType, iota, run, run1, throwsOp } from "./helpers.js";

describe("xtensor/shape", () => {
  describe("transpose", () => {
    const x = xtensor("x", { dims: ["a", "b", "c", "d"], shape: [1, 2, 3, 4] });
    it("permutes; no dims reverses; one '...' stands for the rest in order", () => {
      hasType(x.transpose("d", "...", "a"), ["d", "b", "c", "a"], [4, 2, 3, 1]);
      hasType(x.transpose("...", "b"), ["a", "c", "d", "b"], [1, 3, 4, 2]);
      hasType(x.transpose(), ["d", "c", "b", "a"], [4, 3, 2, 1]);
      assert.equal(x.transpose("a", "b", "c", "d"), x);
      assert.equal(x.transpose("a", "..."), x);
    });
    it("moves values", () => {
      const y = xtensor("y", { dims: ["a", "b"], shape: [2, 3] });
      assert.deepEqual(run1(transpose(y, ["b", "a"]), [[y, iota([2, 3])]]), [[0, 3], [1, 4], [2, 5]]);
    });
    it("errors: not a permutation, unknown dim, duplicate, two '...'", () => {
      throwsOp(() => x.transpose("a", "b"), "transpose", "dims (a, b) are not a permutation of x's dims (a, b, c, d)");
      throwsOp(() => x.transpose("a", "q", "..."), "transpose", 'dim "q" is not a dim of x (a, b, c, d)');
      throwsOp(() => x.transpose("a", "a", "..."), "transpose", 'duplicate dim "a"');
      throwsOp(() => x.transpose("...", "a", "..."), "transpose", 'at most one "..."');
      throwsOp(() => new Transpose(["a", "b", "c", "a"]).makeNode(x), "transpose", "not a permutation");
    });
  });

  describe("rename", () => {
    const x = xtensor("x", { dims: ["a", "b"], shape: [2, 2] });
    it("is a positional relabel applied all at once ({a: b, b: a} swaps)", () => {
      const r = x.rename({ a: "b", b: "a" });
      hasType(r, ["b", "a"], [2, 2]);
      assert.ok(r.owner?.op instanceof Rename);
      // Values do not move: a relabel, not a transpose.
      assert.deepEqual(run1(r, [[x, [[1, 2], [3, 4]]]]), [[1, 2], [3, 4]]);
      // Adding by name now pairs x[a=i,b=j] with r[b=i,a=j] = x[i,j] at position (j, i).
      assert.deepEqual(run1(x.add(r), [[x, [[1, 2], [3, 4]]]]), [[2, 5], [5, 8]]);
      hasType(rename(x, { a: "z" }), ["z", "b"], [2, 2]);
      assert.equal(rename(x, {}), x);
    });
    it("errors: unknown old dim, duplicate result", () => {
      throwsOp(() => x.rename({ q: "z" }), "rename", 'dim "q" is not a dim of x (a, b)');
      throwsOp(() => x.rename({ a: "b" }), "rename", 'duplicate dim "b"', "(b, b)");
      // Object prototype keys are not dims.
      throwsOp(() => x.rename({ constructor: "z" } as Record<string, string>), "rename", '"constructor"');
    });
  });

  describe("stack / unstack", () => {
    const x = xtensor("x", { dims: ["a", "b", "c"], shape: [2, 3, 4] });
    const X = iota([2, 3, 4]) as number[][][];
    it("stack appends the new dim last and flattens in the given order (first listed slowest)", () => {
      const s = stack(x, "z", ["c", "a"]);
      hasType(s, ["b", "z"], [3, 8]);
      const want = [0, 1, 2].map((b) => {
        const row: number[] = [];
        for (let c = 0; c < 4; c++) for (let a = 0; a < 2; a++) row.push(X[a][b][c]);
        return row;
      });
      assert.deepEqual(run1(s, [[x, X]]), want);
      // Input order gives a different (C-order) flattening.
      const t = x.stack("z", ["a", "c"]);
      assert.deepEqual(run1(t, [[x, X]]), [0, 1, 2].map((b) => [...X[0][b], ...X[1][b]]));
      assert.ok(s.owner?.op instanceof Stack);
      assert.ok(!(s.owner!.op as Stack).equals(t.owner!.op), "flattening order is part of the op");
      hasType(x.stack("z", ["b"]), ["a", "c", "z"], [2, 4, 3]);
    });
    it("stack with unknown lengths", () => {
      const u = xtensor("u", { dims: ["a", "b", "c"] });
      const s = u.stack("z", ["c", "b"]);
      hasType(s, ["a", "z"], [null, null]);
      const got = run1(s, [[u, X]]) as number[][];
      assert.deepEqual(got[1].slice(0, 4), [X[1][0][0], X[1][1][0], X[1][2][0], X[1][0][1]]);
    });
    it("unstack appends the new dims last in C order, and inverts stack", () => {
      const y = xtensor("y", { dims: ["z", "a"], shape: [6, 2] });
      const u = unstack(y, "z", [["p", 2], ["q", 3]]);
      hasType(u, ["a", "p", "q"], [2, 2, 3]);
      const Y = iota([6, 2]) as number[][];
      assert.deepEqual(run1(u, [[y, Y]]), [0, 1].map((a) => [0, 1].map((p) => [0, 1, 2].map((q) => Y[p * 3 + q][a]))));
      const back = x.stack("z", ["b", "c"]).unstack("z", [["b", 3], ["c", 4]]);
      hasType(back, ["a", "b", "c"], [2, 3, 4]);
      assert.deepEqual(run1(back, [[x, X]]), X);
    });
    it("errors: colliding new dim, sizes that don't multiply out, unknown dims", () => {
      throwsOp(() => x.stack("b", ["a", "c"]), "stack", 'new dim "b" already exists in x (a, b, c)');
      throwsOp(() => x.stack("a", ["a", "c"]), "stack", 'new dim "a" already exists');
      throwsOp(() => x.stack("z", ["a", "q"]), "stack", 'dim "q" is not a dim of x (a, b, c)');
      throwsOp(() => x.stack("z", ["a", "a"]), "stack", 'duplicate dim "a"');
      throwsOp(() => x.stack("z", []), "stack", "no dims");
      throwsOp(() => x.unstack("c", [["p", 3], ["q", 2]]), "unstack", "multiply to 6", 'dim "c" of x has length 4');
      throwsOp(() => x.unstack("c", [["a", 2], ["q", 2]]), "unstack", 'new dim "a" already exists');
      throwsOp(() => x.unstack("q", [["p", 2]]), "unstack", 'dim "q" is not a dim of x');
    });
  });

  describe("concat", () => {
    it("a new dim goes first with length = number of inputs", () => {
      const x = xtensor("x", { dims: ["a"], shape: [2] });
      const y = xtensor("y", { dims: ["a"], shape: [2] });
      const c = concat([x, y], "k");
      hasType(c, ["k", "a"], [2, 2]);
      assert.deepEqual(run1(c, [[x, [1, 2]], [y, [3, 4]]]), [[1, 2], [3, 4]]);
      // Inputs with different dims are broadcast to the union.
      const z = xtensor("z", { dims: ["b"], shape: [3] });
      const d = concat([x, z], "k");
      hasType(d, ["k", "a", "b"], [2, 2, 3]);
      assert.deepEqual(run1(d, [[x, [1, 2]], [z, [7, 8, 9]]]), [
        [[1, 1, 1], [2, 2, 2]],
        [[7, 8, 9], [7, 8, 9]],
      ]);
    });
    it("an existing dim: lengths add; an input lacking it is one broadcast slice", () => {
      const x = xtensor("x", { dims: ["a", "b"], shape: [2, 3] });
      const y = xtensor("y", { dims: ["b"], shape: [3] });
      const c = concat([x, y], "a");
      hasType(c, ["a", "b"], [3, 3]);
      assert.deepEqual(run1(c, [[x, iota([2, 3])], [y, [7, 8, 9]]]), [[0, 1, 2], [3, 4, 5], [7, 8, 9]]);
      // The concat dim keeps its first-appearance position; dims are the union across inputs.
      const p = xtensor("p", { dims: ["c"], shape: [2] });
      const q = xtensor("q", { dims: ["b", "a"], shape: [3, 1] });
      const e = concat([p, x, q], "a");
      hasType(e, ["c", "a", "b"], [2, 1 + 2 + 1, 3]);
      const got = run1(e, [[p, [10, 20]], [x, iota([2, 3])], [q, [[100], [200], [300]]]]) as number[][][];
      assert.deepEqual(got[1], [[20, 20, 20], [0, 1, 2], [3, 4, 5], [100, 200, 300]]);
    });
    it("unknown lengths give unknown totals; dtypes promote", () => {
      const x = xtensor("x", { dims: ["a"], dtype: "int32" });
      const y = xtensor("y", { dims: ["a"], shape: [2] });
      const c = concat([x, y], "a");
      hasType(c, ["a"], [null], "float64");
      assert.deepEqual(run1(c, [[x, [1]], [y, [2.5, 3.5]]]), [1, 2.5, 3.5]);
    });
    it("errors: conflicting lengths of other dims", () => {
      const x = xtensor("x", { dims: ["a", "b"], shape: [2, 3] });
      const y = xtensor("y", { dims: ["a", "b"], shape: [2, 4] });
      throwsOp(() => concat([x, y], "a"), "concat", 'dim "b" has length 3 in x but 4 in y');
      hasType(concat([x, y], "b"), ["a", "b"], [2, 7]);
    });
  });

  describe("expandDims / squeeze", () => {
    const x = xtensor("x", { dims: ["a", "b"], shape: [2, 1] });
    it("expandDims puts the new dim first (size 1 or broadcast)", () => {
      hasType(expandDims(x, "k"), ["k", "a", "b"], [1, 2, 1]);
      const e = x.expandDims("k", 3);
      hasType(e, ["k", "a", "b"], [3, 2, 1]);
      assert.deepEqual(run1(e, [[x, [[1], [2]]]]), [[[1], [2]], [[1], [2]], [[1], [2]]]);
      throwsOp(() => x.expandDims("a"), "expandDims", 'dim "a" already exists in x (a, b)');
      throwsOp(() => x.expandDims("k", -1), "expandDims", "non-negative");
    });
    it("squeeze removes length-1 dims", () => {
      hasType(squeeze(x, "b"), ["a"], [2]);
      hasType(x.squeeze(), ["a"], [2]);
      assert.deepEqual(run1(x.squeeze(["b"]), [[x, [[1], [2]]]]), [1, 2]);
      throwsOp(() => x.squeeze("a"), "squeeze", 'dim "a" has length 2 in x (a, b), not 1');
      throwsOp(() => x.squeeze("q"), "squeeze", 'dim "q" is not a dim of x (a, b)');
      const u = xtensor("u", { dims: ["a", "b"] });
      hasType(u.squeeze("b"), ["a"], [null]);
      assert.deepEqual(run1(u.squeeze("b"), [[u, [[5], [6]]]]), [5, 6]);
    });
  });

  describe("broadcast", () => {
    it("broadcasts every input to the union by name", () => {
      const x = xtensor("x", { dims: ["a"], shape: [2] });
      const y = xtensor("y", { dims: ["b", "a"], shape: [3, 2] });
      const [bx, by] = broadcast([x, y]);
      hasType(bx, ["a", "b"], [2, 3]);
      hasType(by, ["a", "b"], [2, 3]);
      const [vx, vy] = run([bx, by], [[x, [1, 2]], [y, iota([3, 2])]]);
      assert.deepEqual(vx, [[1, 1, 1], [2, 2, 2]]);
      assert.deepEqual(vy, [[0, 2, 4], [1, 3, 5]]);
    });
    it("excluded dims are kept per input, last, in exclude order, and need not agree", () => {
      const x = xtensor("x", { dims: ["e", "a"], shape: [4, 2] });
      const y = xtensor("y", { dims: ["b", "e"], shape: [3, 5] });
      const [bx, by] = broadcast([x, y], { exclude: ["e"] });
      hasType(bx, ["a", "b", "e"], [2, 3, 4]);
      hasType(by, ["a", "b", "e"], [2, 3, 5]);
      const [vx] = run([bx], [[x, iota([4, 2])], [y, iota([3, 5])]]);
      assert.deepEqual((vx as number[][][])[1][2], [1, 3, 5, 7]);
    });
    it("conflicting lengths are an error", () => {
      const x = xtensor("x", { dims: ["a"], shape: [2] });
      const y = xtensor("y", { dims: ["a"], shape: [3] });
      throwsOp(() => broadcast([x, y]), "broadcast", 'dim "a" has length 2 in x but 3 in y');
    });
  });
});
