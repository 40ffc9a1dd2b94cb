/**
 * Cases on which a check once cried wolf on the correct engine. Each must now pass or be
 * inconclusive (never fail or error): the nightly user trusts the harness because of these.
 */
import assert from "node:assert/strict";
import { parseCase } from "../../src/case/parse.js";
import { runProperties } from "../../properties/properties.js";
import type { PropertyName } from "../../properties/types.js";

const CASES: { why: string; property: PropertyName; json: unknown }[] = [
  {
    why: "1 / log(1 + √x) at a planted x = -0: FAST_RUN's log1p(√x) keeps the zero's sign (-0, as numpy's log1p) where log(1 + -0) gives +0, so the reciprocal is -inf against NONE's +inf; the IEEE-special stage now accepts a flipped infinity downstream of a zero whose sign moved (seed 301 case 634)",
    property: "rewrite-soundness",
    json: {
      format: "xgrad-case/1",
      name: "seed 301 case 634",
      inputs: [
        { name: "x0", kind: "xtensor", dims: ["d"], shape: [2], dtype: "float64", value: [0, 1.11] },
        { name: "w1", kind: "xtensor", dims: ["d"], shape: [2], dtype: "float64", value: [2, 0] },
        { name: "w2", kind: "xtensor", dims: ["d"], shape: [2], dtype: "float64", value: [1, 1.41] },
      ],
      nodes: [
        { id: "n0", op: "sqrt", args: ["x0"] },
        { id: "n1", op: "tanh", args: ["n0"] },
        { id: "n3", op: "add", args: [1, "n0"] },
        { id: "n4", op: "log", args: ["n3"] },
        { id: "n7", op: "pow", args: ["n4", -1] },
        { id: "n8", op: "mul", args: ["n1", "w1"] },
        { id: "n9", op: "sum", args: ["n8"], dims: null },
        { id: "n10", op: "mul", args: ["x0", "w2"] },
        { id: "n11", op: "sum", args: ["n10"], dims: null },
        { id: "n15", op: "sum", args: ["n7"], dims: null },
        { id: "n16", op: "add", args: ["n9", "n11"] },
        { id: "cost", op: "add", args: ["n16", "n15"] },
      ],
      cost: "cost",
      wrt: ["x0"],
    },
  },
  {
    why: "a gradient that cancels to exactly 0 (where(x != xT, xT, x) expanded twice, minus x, against weights): FAST_RUN sums the terms in another order and gets 0 where NONE keeps 8.9e-16; the relative tolerance scaled by a ~0 array called it a mismatch (seed 2 case 1976)",
    property: "rewrite-soundness",
    json: {
      format: "xgrad-case/1",
      inputs: [
        { name: "x0", kind: "xtensor", dims: ["c", "a"], shape: [2, 2], dtype: "float64", value: [[1.88, 1.88], [0.87, -0.84]] },
        { name: "w1", kind: "xtensor", dims: ["c", "d", "b", "a"], shape: [2, 3, 2, 2], dtype: "float64", value: [[[[1.17, 0.86], [0.98, 0.82]], [[1.36, 1.12], [1.02, 0.84]], [[1.4, 0.98], [1.27, 1.05]]], [[[1.37, 1.03], [1.3, 1.22]], [[1.33, 1.41], [1.22, 0.87]], [[0.67, 1.36], [0.97, 1.19]]]] },
      ],
      nodes: [
        { id: "n0", op: "neg", args: ["x0"] },
        { id: "n1", op: "transpose", args: ["x0"], dims: ["a", "c"] },
        { id: "n2", op: "ne", args: ["x0", "n1"] },
        { id: "n3", op: "where", args: ["n2", "n1", "x0"] },
        { id: "n4", op: "expand_dims", args: ["n3"], dim: "d", size: 3 },
        { id: "n5", op: "expand_dims", args: ["n4"], dim: "b", size: 2 },
        { id: "n6", op: "add", args: ["n5", "n0"] },
        { id: "n7", op: "mul", args: ["n6", "w1"] },
        { id: "cost", op: "sum", args: ["n7"], dims: null },
      ],
      cost: "cost",
      wrt: ["x0"],
    },
  },
  {
    why: "the same cancellation, shrunk to zero inputs: tfjs's float32 gives 0 where the float64 reference keeps 4.4e-16, with forward values all 0 so the cost-based noise floor was 0 (seed 2 case 1976's repro)",
    property: "direct-vs-tfjs",
    json: {
      format: "xgrad-case/1",
      inputs: [
        { name: "x0", kind: "xtensor", dims: ["a", "b"], shape: [2, 2], dtype: "float64", value: [[0, 0], [0, 0]] },
        { name: "w1", kind: "xtensor", dims: ["d", "c", "a", "b"], shape: [2, 2, 2, 2], dtype: "float64", value: [[[[0, 0], [0, 1]], [[0, 0], [0, 0.92]]], [[[0, 0], [0, 1.3]], [[0, 0], [0, 0.51]]]] },
        { name: "n2", kind: "xtensor", dims: ["a", "b"], shape: [2, 2], dtype: "bool", value: [[false, false], [false, false]] },
      ],
      nodes: [
        { id: "n0", op: "neg", args: ["x0"] },
        { id: "n3", op: "where", args: ["n2", "n0", "x0"] },
        { id: "n4", op: "expand_dims", args: ["n3"], dim: "c", size: 2 },
        { id: "n5", op: "expand_dims", args: ["n4"], dim: "d", size: 2 },
        { id: "n6", op: "add", args: ["n5", "n0"] },
        { id: "n7", op: "mul", args: ["n6", "w1"] },
        { id: "cost", op: "sum", args: ["n7"], dims: null },
      ],
      cost: "cost",
      wrt: ["x0"],
    },
  },
  {
    why: "log(sigmoid(x)) of a float32 x = 20 (a cast of expm1(3)): NONE's sigmoid rounds to 1 and log gives 0, FAST_RUN's -softplus(-x) gives -2e-9, which the IEEE-special stage judged elementwise instead of against the array's scale (fault zoo baseline, seed 1 case 1773)",
    property: "rewrite-soundness",
    json: {
      format: "xgrad-case/1",
      inputs: [
        { name: "w1", kind: "xtensor", dims: ["a", "c", "d"], shape: [2, 3, 2], dtype: "float64", value: [[[0, 0], [0, 0], [0, 0]], [[0, 0], [0, 0], [0, 0]]] },
        { name: "n1", kind: "xtensor", dims: ["d", "a", "c"], shape: [2, 2, 3], dtype: "float64", value: [[[0, 0, 0], [0, 0, 0]], [[0, 0, 0], [0, 0, 0]]] },
        { name: "n2", kind: "xtensor", dims: ["d", "a", "c"], shape: [2, 2, 3], dtype: "float32", value: [[[0, 6.4, 0], [0, 1, 20]], [[0, 0, 1.7], [0, 2, 1]]] },
      ],
      nodes: [
        { id: "n3", op: "sigmoid", args: ["n2"] },
        { id: "n4", op: "log", args: ["n3"] },
        { id: "n5", op: "mul", args: ["n1", "w1"] },
        { id: "n6", op: "sum", args: ["n5"], dims: null },
        { id: "n8", op: "sum", args: ["n4"], dims: null },
        { id: "cost", op: "add", args: ["n6", "n8"] },
      ],
      cost: "cost",
      wrt: ["n2"],
    },
  },
  {
    why: "log(x)/log(x) cancels to a zero gradient while the cost itself is ~0; tfjs leaves float32 noise (seed 2029 case 1685)",
    property: "direct-vs-tfjs",
    json: {
      format: "xgrad-case/1",
      inputs: [
        { name: "x1", kind: "xtensor", dims: [], shape: [], dtype: "float64", value: 2.93 },
        { name: "w2", kind: "xtensor", dims: [], shape: [], dtype: "float64", value: 0.84 },
      ],
      nodes: [
        { id: "n1", op: "log", args: ["x1"] },
        { id: "n2", op: "div", args: ["n1", "n1"] },
        { id: "n3", op: "expand_dims", args: ["n2"], dim: "b" },
        { id: "n4", op: "min", args: ["n3"], dims: null },
        { id: "n5", op: "log", args: ["n4"] },
        { id: "n6", op: "mul", args: ["n5", "w2"] },
        { id: "cost", op: "sum", args: ["n6"], dims: null },
      ],
      cost: "cost",
      wrt: ["x1"],
    },
  },
  {
    why: "a comparison of values 1 ulp apart flips in float32, so tfjs's where takes the other branch (seed 2028 case 5140)",
    property: "direct-vs-tfjs",
    json: {
      format: "xgrad-case/1",
      inputs: [
        { name: "n5", kind: "xtensor", dims: [], shape: [], dtype: "float64", value: 0 },
        { name: "n2", kind: "xtensor", dims: [], shape: [], dtype: "float64", value: 0.37994896225522484 },
        { name: "n0", kind: "xtensor", dims: [], shape: [], dtype: "float64", value: 0.3799489622552249 },
      ],
      nodes: [
        { id: "n3", op: "ne", args: ["n2", "n0"] },
        { id: "n6", op: "where", args: ["n3", "n5", 0.5] },
      ],
      cost: "n6",
      wrt: ["n5"],
    },
  },
  {
    why: "x/x has a zero gradient by cancellation; tfjs leaves float32 noise (seed 11 case 67)",
    property: "direct-vs-tfjs",
    json: {
      format: "xgrad-case/1",
      inputs: [{ name: "n1", kind: "xtensor", dims: ["d"], shape: [2], dtype: "float64", value: [1, 0.8] }],
      nodes: [
        { id: "n2", op: "div", args: ["n1", "n1"] },
        { id: "n3", op: "dot", args: ["n2", "n2"], dims: null },
      ],
      cost: "n3",
      wrt: ["n1"],
    },
  },
  {
    why: "f32(x) − x is zero in exact arithmetic; both duality sides are float32 rounding (seed 2026 case 7295)",
    property: "pushforward-duality",
    json: {
      format: "xgrad-case/1",
      inputs: [{ name: "x0", kind: "xtensor", dims: [], shape: [], dtype: "float64", value: 0 }],
      nodes: [
        { id: "n0", op: "cast", args: ["x0"], dtype: "float32" },
        { id: "n3", op: "sub", args: ["n0", "x0"] },
      ],
      cost: "n3",
      wrt: ["x0"],
    },
  },
  {
    why: "a stabilization (log(sigmoid) → −softplus) at planted special values, then ·0 (seed 1 case 1750)",
    property: "rewrite-soundness",
    json: {
      format: "xgrad-case/1",
      inputs: [
        { name: "x0", kind: "xtensor", dims: ["c", "a", "d"], shape: [2, 2, 2], dtype: "float64", value: [[[0, -1], [2, 0]], [[1, 0], [0, 1]]] },
        { name: "w1", kind: "xtensor", dims: ["a", "c"], shape: [2, 2], dtype: "float64", value: [[0, 2], [0, 2]] },
      ],
      nodes: [
        { id: "n0", op: "mean", args: ["x0"], dims: ["d"] },
        { id: "n1", op: "sigmoid", args: ["n0"] },
        { id: "n2", op: "max", args: ["n1"], dims: [] },
        { id: "n4", op: "log", args: ["n2"] },
        { id: "n5", op: "mul", args: ["n4", "w1"] },
        { id: "cost", op: "sum", args: ["n5"], dims: null },
      ],
      cost: "cost",
      wrt: ["x0"],
    },
  },
  {
    why: "undefined-index on a case with a wrt the cost does not read (x1): under the default policy the first problem in wrt order is reported, and the added index came last, so the error named x1 instead of the index; the index now comes first (seed 2121 case 2773)",
    property: "grad-composition",
    json: {
      format: "xgrad-case/1",
      name: "seed 2121 case 2773",
      inputs: [
        { name: "x0", kind: "xtensor", dims: ["b"], shape: [1], dtype: "float64", value: [0] },
        { name: "x1", kind: "xtensor", dims: [], shape: [], dtype: "float64", value: 0 },
        { name: "n6", kind: "xtensor", dims: ["b"], shape: [1], dtype: "float64", value: [0] },
      ],
      nodes: [
        { id: "n1", op: "cast", args: ["x1"], dtype: "int32" },
        { id: "n4", op: "mul", args: ["n1", "x0"] },
        { id: "cost", op: "sum", args: ["n6"], dims: null },
      ],
      cost: "cost",
      wrt: ["x0", "x1"],
    },
  },
];

describe("properties: former false alarms stay quiet", () => {
  for (const { why, property, json } of CASES) {
    it(`${property}: ${why}`, async () => {
      // Every grad-composition claim, not only the one this case's seed schedules.
      const r = await runProperties(parseCase(json), { compositionClaims: "all" });
      for (const k of r.verdict.checks) assert.ok(k.status === "pass" || k.status === "inconclusive", `${k.property}: ${k.status} ${k.reason ?? ""}`);
      assert.ok(r.verdict.checks.some((k) => k.property === property));
    });
  }
});
