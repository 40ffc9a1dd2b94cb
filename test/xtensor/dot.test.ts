import assert from "node:assert/strict";
import { Dot, dot } from "../../src/xtensor/dot.js";
import { xtensor } from "../../src/xtensor/type.js";
import { close, hasType, iota, run1, throwsOp } from "./helpers.js";

describe("xtensor/dot", () => {
  const x = xtensor("x", { dims: ["a", "b"], shape: [2, 3] });
  const y = xtensor("y", { dims: ["b", "c"], shape: [3, 2] });
  const X = [
    [1, 2, 3],
    [4, 5, 6],
  ];
  const Y = [
    [1, 0],
    [0, 1],
    [1, 1],
  ];
  const g: [typeof x, number[][]][] = [
    [x, X],
    [y, Y],
  ];

  it("null contracts the shared dims (matrix product)", () => {
    const d = dot(x, y);
    hasType(d, ["a", "c"], [2, 2], "float64");
    assert.deepEqual(run1(d, g), [
      [4, 5],
      [10, 11],
    ]);
    // Order of operands fixes the output order: y's dims first, then x's new ones.
    hasType(y.dot(x), ["c", "a"], [2, 2]);
  });

  it("an empty list contracts nothing (outer product over distinct dims)", () => {
    const v = xtensor("v", { dims: ["c"], shape: [2] });
    const d = dot(x, v, []);
    hasType(d, ["a", "b", "c"], [2, 3, 2]);
    assert.deepEqual(run1(d, [[x, X], [v, [1, 10]]]), X.map((r) => r.map((e) => [e, 10 * e])));
    // With a shared dim, contracting nothing is a product aligned by name.
    hasType(dot(x, y, []), ["a", "b", "c"], [2, 3, 2]);
  });

  it('"..." contracts every dim (0-d result)', () => {
    const d = dot(x, y, "...");
    hasType(d, [], []);
    // sum over a, b, c of x[a,b] * y[b,c]
    assert.equal(run1(d, g), 4 + 5 + 10 + 11);
  });

  it("a contracted dim present in only one input is summed out", () => {
    const d = dot(x, y, ["a", "b"]);
    hasType(d, ["c"], [2]);
    assert.deepEqual(run1(d, g), [4 + 10, 5 + 11]);
    const e = dot(x, y, ["c"]);
    hasType(e, ["a", "b"], [2, 3]);
    assert.deepEqual(run1(e, g), X.map((r) => r.map((v, j) => v * (Y[j][0] + Y[j][1]))));
  });

  it("partial contraction in the middle: (a,b,c,d)·(b,c,d,e) over (b, d)", () => {
    const p = xtensor("p", { dims: ["a", "b", "c", "d"], shape: [2, 3, 2, 2] });
    const q = xtensor("q", { dims: ["b", "c", "d", "e"], shape: [3, 2, 2, 2] });
    const r = dot(p, q, ["d", "b"]);
    hasType(r, ["a", "c", "e"], [2, 2, 2]);
    const P = iota([2, 3, 2, 2]) as number[][][][];
    const Q = iota([3, 2, 2, 2], 1) as number[][][][];
    const want: number[][][] = [];
    for (let a = 0; a < 2; a++) {
      want.push([]);
      for (let c = 0; c < 2; c++) {
        want[a].push([]);
        for (let e = 0; e < 2; e++) {
          let s = 0;
          for (let b = 0; b < 3; b++) for (let d = 0; d < 2; d++) s += P[a][b][c][d] * Q[b][c][d][e];
          want[a][c].push(s);
        }
      }
    }
    close(run1(r, [[p, P], [q, Q]]), want);
  });

  it("dtype is the promotion of the inputs", () => {
    const i = xtensor("i", { dims: ["b"], shape: [3], dtype: "int32" });
    assert.equal(dot(x, i).dtype, "float64");
    const j = xtensor("j", { dims: ["b"], shape: [3], dtype: "int64" });
    assert.equal(dot(i, j).dtype, "int64");
    assert.equal(run1(dot(i, j), [[i, [1, 2, 3]], [j, [4, 5, 6]]]), 32);
  });

  it("errors name the op, the dim and both inputs", () => {
    const z = xtensor("z", { dims: ["b"], shape: [4] });
    throwsOp(() => dot(x, z), "dot", 'dim "b" has length 3 in x but 4 in y');
    throwsOp(() => dot(x, y, ["q"]), "dot", 'dim "q" is in neither x (a, b) nor y (b, c)');
    throwsOp(() => dot(x, y, ["b", "b"]), "dot", "duplicate");
  });

  it("Dot props are a sorted set: equal contractions give equal ops", () => {
    assert.ok(new Dot(["b", "a"]).equals(new Dot(["a", "b"])));
    assert.equal(new Dot(["c", "a"]).hash(), new Dot(["a", "c"]).hash());
  });
});
