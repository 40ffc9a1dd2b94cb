/**
 * The background PR's gradient matrix (pytensor#2269 tests/xtensor/test_grad.py, plus #2337's
 * additions), on un-lowered named graphs. Every case goes through `checkCase`
 * (test/grad/named-check.ts): the direct lazy `grad`, the perNode strategy and `lowerThenGrad`,
 * each compiled in NONE and FAST_RUN with `checked: true` and `onOptError: "raise"`, compared
 * with each other to 1e-12 and with float64 central differences of the compiled forward cost.
 *
 * Inputs stay away from kinks, ties and domain edges (max/min get values spaced 0.15 apart,
 * std gets non-constant rows), so no check depends on a convention at a non-smooth point.
 * Shape ops use square shapes: a gradient relabelled by position instead of by name passes
 * every shape check there, so only the values can catch it.
 */
import assert from "node:assert/strict";
import type { Variable } from "../../src/graph/basic.js";
import { GradError } from "../../src/errors.js";
import { tensor } from "../../src/tensor/basic.js";
import { add as padd, cast, exp as pexp, mul as pmul, sin as psin } from "../../src/tensor/elemwise.js";
import { sum as psum } from "../../src/tensor/reduce.js";
import { DimShuffle, shapeI } from "../../src/tensor/shape.js";
import { graphReplace } from "../../src/graph/traversal.js";
import { compile } from "../../src/compile/function.js";
import {
  type XTensorVariable,
  asXTensor,
  concat,
  dot,
  exp,
  lower,
  sin,
  tanh,
  xconstant,
  xtensor,
} from "../../src/xtensor/index.js";
import { pullback } from "../../src/grad/driver.js";
import { hessianVectorProduct, pushforward } from "../../src/grad/pushforward.js";
import { type PullbackRule, withPullbackOverride } from "../../src/grad/registry.js";
import { Rename, TensorFromXTensor } from "../../src/xtensor/basic.js";
import { transpose as xtranspose } from "../../src/xtensor/shape.js";
import type { Mode } from "../../src/rewriting/db.js";
import { NDArray } from "../../src/ndarray/ndarray.js";
import {
  type Built,
  FD_ABS,
  FD_REL,
  MODES,
  PATHS,
  type Path,
  assertClose,
  centralDiff,
  checkCase,
  compare,
  distinct,
  forward,
  gradBy,
  ints,
  rand,
  runCompiled,
  valueOf,
} from "./named-check.js";

const X = (name: string, dims: readonly string[], shape: readonly number[]): XTensorVariable => xtensor(name, { dims, shape });
/** A non-symmetric constant weight over `dims`, so a transposed or relabelled cotangent changes the values. */
const weight = (dims: readonly string[], shape: readonly number[], seed: number): XTensorVariable => {
  const w = rand(shape, seed, 0.5, 2);
  return xconstant(w, dims);
};
/** A one-input case: cost(x) over x of `dims`/`shape` with values `v`. */
const unary = (dims: readonly string[], v: NDArray, cost: (x: XTensorVariable) => Variable): Built => {
  const x = X("x", dims, v.shape);
  return { inputs: [x], values: [v], cost: cost(x), wrt: [x] };
};

// (a=3, b=4) as in the PR; square (3, 3) where a relabel could hide.
const RECT = rand([3, 4], 1);
const SQUARE = rand([3, 3], 2);

describe("named-graph gradients: the PR #2269 matrix, three paths × two modes × FD", () => {
  const cases: [string, () => Built][] = [
    ["reduce_sum: (exp(x).sum(a) · 1.5).sum()", () => unary(["a", "b"], RECT, (x) => exp(x).sum({ dims: "a" }).mul(1.5).sum().values)],
    ["reduce_mean_std: (x.mean(a) + x.std(a)).sum()", () => unary(["a", "b"], RECT, (x) => x.mean({ dims: "a" }).add(x.std({ dims: "a" })).sum().values)],
    ["reduce_max: (x.max(a) · 1.5).sum()", () => unary(["a", "b"], distinct([3, 4], 3), (x) => x.max({ dims: "a" }).mul(1.5).sum().values)],
    ["reduce_min: (x.min(a) · 1.5).sum()", () => unary(["a", "b"], distinct([3, 4], 4), (x) => x.min({ dims: "a" }).mul(1.5).sum().values)],
    ["max and min over both dims, weighted", () => unary(["a", "b"], distinct([3, 3], 5), (x) => x.max({ dims: "b" }).mul(weight(["a"], [3], 6)).sum().add(x.min({ dims: ["a", "b"] }).mul(2)).values)],
    ["cumsum: exp(x).cumsum(a).sum()", () => unary(["a", "b"], RECT, (x) => exp(x).cumsum("a").sum().values)],
    ["cumsum along b, weighted", () => unary(["a", "b"], SQUARE, (x) => tanh(x).cumsum("b").mul(weight(["b", "a"], [3, 3], 7)).sum().values)],
    ["elemwise: (tanh(x) · sin(x)).sum()", () => unary(["a", "b"], RECT, (x) => tanh(x).mul(sin(x)).sum().values)],
    ["transpose: (x.transpose(b, a)²).sum() (square)", () => unary(["a", "b"], SQUARE, (x) => x.transpose("b", "a").pow(2).sum().values)],
    ["transpose, weighted in the transposed order (square)", () => unary(["a", "b"], SQUARE, (x) => psum(pmul(x.transpose("b", "a").values, weight(["b", "a"], [3, 3], 8).values)))],
    ["concat: concat([x, x + 1], a).sum() (square)", () => unary(["a", "b"], SQUARE, (x) => concat([x, x.add(1.0)], "a").sum().values)],
    ["concat of x and exp(xᵀ) along b, weighted (square)", () => unary(["a", "b"], SQUARE, (x) => concat([x, exp(x.transpose("b", "a"))], "b").mul(weight(["a", "b"], [3, 6], 9)).sum().values)],
    ["stack: exp(x).stack(z = (a, b)).sum() (square)", () => unary(["a", "b"], SQUARE, (x) => exp(x).stack("z", ["a", "b"]).sum().values)],
    ["stack in the non-memory order (b, a), weighted (square)", () => unary(["a", "b"], SQUARE, (x) => x.stack("z", ["b", "a"]).pow(2).mul(weight(["z"], [9], 10)).sum().values)],
    ["rename: (x.rename(a → a2)²).sum()", () => unary(["a", "b"], SQUARE, (x) => x.rename({ a: "a2" }).pow(2).sum().values)],
    ["rename_swap: (x.rename(a ↔ b).sum(a)²).sum() (square)", () => unary(["a", "b"], SQUARE, (x) => x.rename({ a: "b", b: "a" }).sum({ dims: "a" }).pow(2).sum().values)],
    ["rename_swap then a by-name product (square)", () => unary(["a", "b"], SQUARE, (x) => x.rename({ a: "b", b: "a" }).mul(weight(["a", "b"], [3, 3], 11)).sum().values)],
    [
      "dot: (dot(x, y, b)²).sum() w.r.t. both inputs",
      () => {
        const x = X("x", ["a", "b"], [3, 4]);
        const y = X("y", ["b", "c"], [4, 2]);
        return { inputs: [x, y], values: [RECT, rand([4, 2], 12)], cost: dot(x, y, "b").pow(2).sum().values, wrt: [x, y] };
      },
    ],
    [
      "dot over a square shared pair (a, b) w.r.t. both inputs, one in the other order",
      () => {
        const x = X("x", ["a", "b"], [3, 3]);
        const y = X("y", ["b", "a"], [3, 3]);
        return { inputs: [x, y], values: [SQUARE, rand([3, 3], 13)], cost: dot(x, y, ["a"]).mul(weight(["b"], [3], 14)).sum().values, wrt: [x, y] };
      },
    ],
    ["elemwise across different dims orders (square)", () => {
      const x = X("x", ["a", "b"], [3, 3]);
      const y = X("y", ["b", "a"], [3, 3]);
      return { inputs: [x, y], values: [SQUARE, rand([3, 3], 15)], cost: x.mul(exp(y)).sub(y.mul(x.transpose("b", "a")).mul(0.5)).sum().values, wrt: [x, y] };
    }],
  ];
  for (const [name, build] of cases) it(name, () => void checkCase(build()));

  it("README headline: W (3,2) positional, y = dot(x, asXTensor(W, [a, b]), a), grad((y·y).sum().values, W)", () => {
    const W = tensor("W", { shape: [3, 2] });
    const x = X("x", ["a"], [3]);
    const y = dot(x, asXTensor(W, ["a", "b"]), ["a"]);
    const loss = y.mul(y).sum().values;
    const xv = NDArray.fromNested([0, 1, 2]);
    const Wv = NDArray.full([3, 2], 1);
    const r = checkCase({ inputs: [x, W], values: [xv, Wv], cost: loss, wrt: [W] });
    for (const [key, res] of r.results) assert.deepEqual(res[0], [0, 0, 6, 6, 12, 12], key);
  });

  describe("repeated input accumulates (no factor-of-N error)", () => {
    it("(x·x).sum() gives 2x", () => {
      const r = checkCase(unary(["a", "b"], RECT, (x) => x.mul(x).sum().values));
      assertClose(compare(r.results.get("lazy/FAST_RUN") as number[][], [RECT.toFlat().map((v) => 2 * v)], 1e-14, 0), "2x");
    });
    it("(x·x·x).sum() gives 3x²", () => {
      const r = checkCase(unary(["a", "b"], RECT, (x) => x.mul(x).mul(x).sum().values));
      assertClose(compare(r.results.get("lazy/FAST_RUN") as number[][], [RECT.toFlat().map((v) => 3 * v * v)], 1e-14, 0), "3x²");
    });
    it("one variable in several slots of several named nodes: x·xᵀ + dot(x, x, b) (square)", () => {
      checkCase(unary(["a", "b"], SQUARE, (x) => x.mul(x.transpose("b", "a")).sum().add(dot(x, x, "b").sum()).values));
    });
  });

  describe("indexing", () => {
    it("an int: x.isel(a=1) scatters 2·x[1]", () => {
      const r = checkCase(unary(["a", "b"], RECT, (x) => x.isel({ a: 1 }).pow(2).sum().values));
      const expected = RECT.toFlat().map((v, i) => (Math.floor(i / 4) === 1 ? 2 * v : 0));
      assertClose(compare(r.results.get("lazy/NONE") as number[][], [expected], 1e-14, 0), "isel(a=1)");
    });
    it("vectorized with a new dim and repeated indices: x.isel(a = i(k)), i = [2, 0, 2]", () => {
      const x = X("x", ["a", "b"], [3, 4]);
      const i = xtensor("i", { dims: ["k"], shape: [3], dtype: "int64" });
      const cost = x.isel({ a: i }).pow(2).mul(weight(["k", "b"], [3, 4], 16)).sum().values;
      checkCase({ inputs: [x, i], values: [RECT, ints([2, 0, 2])], cost, wrt: [x] });
    });
    it("vectorized, zipped over a shared new dim: x.isel(a = i(k), b = j(k))", () => {
      const x = X("x", ["a", "b"], [3, 4]);
      const i = xtensor("i", { dims: ["k"], shape: [4], dtype: "int64" });
      const j = xtensor("j", { dims: ["k"], shape: [4], dtype: "int64" });
      const cost = exp(x.isel({ a: i, b: j })).mul(weight(["k"], [4], 17)).sum().values;
      checkCase({ inputs: [x, i, j], values: [RECT, ints([0, 2, 1, 2]), ints([3, 1, 0, 1])], cost, wrt: [x] });
    });
    it("vectorized over a dim shared with x: x.isel(a = i(b)) picks x[i[b], b]", () => {
      const x = X("x", ["a", "b"], [3, 4]);
      const i = xtensor("i", { dims: ["b"], shape: [4], dtype: "int64" });
      const cost = tanh(x.isel({ a: i })).mul(weight(["b"], [4], 18)).sum().values;
      checkCase({ inputs: [x, i], values: [RECT, ints([2, 0, 1, 2])], cost, wrt: [x] });
    });
    it("slices with a negative step: x.isel(a = [::-1], b = [3:0:-2])", () => {
      checkCase(unary(["a", "b"], RECT, (x) => x.isel({ a: [null, null, -1], b: { start: 3, stop: 0, step: -2 } }).pow(2).mul(weight(["a", "b"], [3, 2], 19)).sum().values));
    });
    it("inc with repeated indices, w.r.t. the target and the update", () => {
      const x = X("x", ["a", "b"], [3, 4]);
      const z = X("z", ["b", "k"], [4, 3]);
      const i = xtensor("i", { dims: ["k"], shape: [3], dtype: "int64" });
      const cost = x.isel({ a: i }).inc(z).pow(2).mul(weight(["a", "b"], [3, 4], 20)).sum().values;
      checkCase({ inputs: [x, z, i], values: [RECT, rand([4, 3], 21), ints([1, 0, 1])], cost, wrt: [x, z] });
    });
    it("set at distinct indices and a slice, w.r.t. the target and the update", () => {
      const x = X("x", ["a", "b"], [3, 4]);
      const z = X("z", ["k", "b"], [2, 2]);
      const i = xtensor("i", { dims: ["k"], shape: [2], dtype: "int64" });
      const cost = exp(x.isel({ a: i, b: [1, 3] }).set(z)).mul(weight(["a", "b"], [3, 4], 22)).sum().values;
      checkCase({ inputs: [x, z, i], values: [RECT, rand([2, 2], 23), ints([2, 0])], cost, wrt: [x, z] });
    });
  });

  describe("region boundaries", () => {
    it("considerConstant on an interior named node blocks every path through it", () => {
      const x = X("x", ["a", "b"], [3, 4]);
      const y = exp(x);
      const cost = y.mul(tanh(x)).sum().add(y.sum({ dims: "a" }).pow(2).sum()).values;
      // FD of the cost with y cut into an input held at exp(x).
      const yIn = X("y", ["a", "b"], [3, 4]);
      const [fdCost] = graphReplace([cost], new Map([[y as Variable, yIn as Variable]]));
      const yv = valueOf([x], [RECT], y);
      checkCase({ inputs: [x], values: [RECT], cost, wrt: [x], opts: { considerConstant: [y] }, fd: { inputs: [x, yIn], values: [RECT, yv], cost: fdCost, which: [0] } });
    });
    it("an interior named wrt, beside its root", () => {
      const x = X("x", ["a", "b"], [3, 3]);
      const y = tanh(x).transpose("b", "a");
      const cost = y.mul(x).sum().add(exp(y).sum({ dims: "b" }).pow(2).sum()).values;
      const yIn = X("y", ["b", "a"], [3, 3]);
      const [fdCost] = graphReplace([cost], new Map([[y as Variable, yIn as Variable]]));
      const yv = valueOf([x], [SQUARE], y);
      // d/dy holds x fixed; d/dx (as a second wrt) is the total derivative through y too.
      checkCase({ inputs: [x], values: [SQUARE], cost, wrt: [y], fd: { inputs: [x, yIn], values: [SQUARE, yv], cost: fdCost, which: [1] } });
      checkCase({ inputs: [x], values: [SQUARE], cost, wrt: [x] });
    });
    it("an interior wrt requested together with its root: d/dx stays the total derivative", () => {
      const x = X("x", ["a", "b"], [3, 3]);
      const y = tanh(x).transpose("b", "a");
      const cost = y.mul(x).sum().add(exp(y).sum({ dims: "b" }).pow(2).sum()).values;
      const alone = checkCase({ inputs: [x], values: [SQUARE], cost, wrt: [x] });
      // FD covers d/dx only (y is computed from x here); d/dy is checked in the test above.
      const both = checkCase({ inputs: [x], values: [SQUARE], cost, wrt: [y, x], fd: { inputs: [x], values: [SQUARE], cost, which: [0], of: [1] } });
      for (const [key, r] of both.results) assertClose(compare([r[1]], alone.results.get(key) as number[][], 1e-12, 1e-12), `${key}: d/dx with y also requested`);
    });
    it("wrt = an exit (a .values between two named regions), and the same wrt listed twice", () => {
      const x = X("x", ["a", "b"], [3, 3]);
      const e = tanh(x).values;
      const cost = asXTensor(pexp(e), ["b", "a"]).mul(x).sum({ dims: "a" }).pow(2).sum().values;
      const eIn = tensor("e", { shape: [3, 3] });
      const [fdCost] = graphReplace([cost], new Map([[e, eIn as Variable]]));
      const ev = valueOf([x], [SQUARE], e);
      const r = checkCase({ inputs: [x], values: [SQUARE], cost, wrt: [e, e], fd: { inputs: [x, eIn], values: [SQUARE, ev], cost: fdCost, which: [1, 1] } });
      for (const [key, [g1, g2]] of r.results) assert.deepEqual(g1, g2, key);
    });
    it("a diamond: one named intermediate and one exit each feed three consumers", () => {
      checkCase(
        unary(["a", "b"], RECT, (x) => {
          const y = tanh(x);
          const named = y.sum({ dims: "a" }).mul(y.mean({ dims: "a" })).sum().add(y.mul(x).sum());
          const e = y.values; // the exit, read by three positional consumers
          const positional = padd(padd(psum(pmul(e, e)), psum(psin(e))), psum(pmul(e, x.values)));
          return padd(named.values, positional);
        }),
      );
    });
    it("chained regions: named → .values → positional → asXTensor → named", () => {
      checkCase(
        unary(["a", "b"], RECT, (x) => {
          const t = pexp(tanh(x).values); // positional, axes (a, b)
          const back = asXTensor(psin(t), ["a", "b"]).transpose("b", "a");
          return back.mul(x.transpose("b", "a")).sum({ dims: "b" }).pow(2).sum().values;
        }),
      );
    });
  });
  describe("second order", () => {
    it("grad of ⟨grad(cost, x), v⟩ w.r.t. x (H·v), with v labelled in the other dims order (square)", () => {
      const x = X("x", ["a", "b"], [3, 3]);
      const v = X("v", ["b", "a"], [3, 3]);
      const cost = exp(x).mul(tanh(x.transpose("b", "a"))).sum({ dims: "a" }).pow(2).sum().values;
      const inner = (g: Variable): Variable => (g as XTensorVariable).mul(v).sum().values;
      const vv = rand([3, 3], 30);
      const refInner = inner(gradBy("lowerThenGrad", cost, [x])[0]);
      checkCase({ inputs: [x, v], values: [SQUARE, vv], cost: refInner, wrt: [x], costFor: (p) => inner(gradBy(p, cost, [x])[0]) });
    });
    it("the second derivative of a scalar function: f = x³ + sin x on a 0-d named x, f'' = 6x − sin x", () => {
      const x = X("x", [], []);
      const f = x.pow(3).add(sin(x)).values;
      const first = (p: Path): Variable => (gradBy(p, f, [x])[0] as XTensorVariable).values;
      const xv = NDArray.scalar(0.7);
      const r = checkCase({ inputs: [x], values: [xv], cost: first("lowerThenGrad"), wrt: [x], costFor: first });
      // Independently of every gradient graph: the second difference of the compiled f.
      const fx = forward([x], f);
      const h = 1e-4;
      const second = (fx([NDArray.scalar(0.7 + h)]) - 2 * fx([xv]) + fx([NDArray.scalar(0.7 - h)])) / (h * h);
      for (const [key, res] of r.results) {
        assertClose(compare(res, [[6 * 0.7 - Math.sin(0.7)]], 1e-13, 0), `${key} vs the closed form`);
        assertClose(compare(res, [[second]], 1e-6, 0), `${key} vs the second difference`);
      }
    });
    it("PR test_grad_second_order: through dot w.r.t. a positional W, and mixed x/W", () => {
      const W = tensor("W", { shape: [3, 2] });
      const x = X("x", ["a"], [3]);
      const V = tensor("V", { shape: [3, 2] });
      const cost = tanh(dot(x, asXTensor(W, ["a", "b"]), ["a"])).pow(2).sum().values;
      const inner = (p: Path): Variable => psum(pmul(gradBy(p, cost, [W])[0], V));
      const values = [rand([3], 31), rand([3, 2], 32), rand([3, 2], 33)];
      checkCase({ inputs: [x, W, V], values, cost: inner("lowerThenGrad"), wrt: [W, x], costFor: inner });
    });
    it("grad of a grad w.r.t. x of a named wrt keeps x's type (6x for Σx³, first and second order)", () => {
      const x = X("x", ["a", "b"], [3, 3]);
      const cost = x.pow(3).sum().values;
      const inner = (p: Path): Variable => (gradBy(p, cost, [x])[0] as XTensorVariable).sum().values;
      const r = checkCase({ inputs: [x], values: [SQUARE], cost: inner("lowerThenGrad"), wrt: [x], costFor: inner });
      assertClose(compare(r.results.get("lazy/FAST_RUN") as number[][], [SQUARE.toFlat().map((v) => 6 * v)], 1e-14, 0), "6x");
    });
  });

  describe("forward mode and Hessian-vector products", () => {
    const tangentPaths: Record<Path, (f: Variable, x: Variable, t: Variable) => Variable> = {
      lazy: (f, x, t) => pushforward(f, [x], [t]),
      perNode: (f, x, t) => pushforward(f, [x], [t], { gradStrategy: "perNode" }),
      lowerThenGrad: (f, x, t) => pushforward(lower([f])[0], [x], [t]),
    };
    it("pushforward of a named output vs the FD directional derivative, tangent labelled (b, a) (square)", () => {
      const x = X("x", ["a", "b"], [3, 3]);
      const t = X("t", ["b", "a"], [3, 3]);
      const f = exp(x).mul(weight(["a", "b"], [3, 3], 34)).sum({ dims: "a" }).mul(tanh(x.isel({ a: 2 })));
      const tv = rand([3, 3], 35);
      const results: number[][][] = [];
      for (const p of PATHS) {
        const jv = tangentPaths[p](f, x, t);
        assert.ok(jv.type.equals(f.type), `${p}: tangent type ${jv.type.toString()} vs ${f.type.toString()}`);
        for (const mode of MODES) results.push(runCompiled([x, t], [jv], [SQUARE, tv], mode));
      }
      results.forEach((r, k) => assertClose(compare(r, results[0], 1e-12, 1e-12), `pushforward result ${k}`));
      // (F(x + h·t) − F(x − h·t)) / 2h with t read by name: t(b, a) is tᵀ in x's (a, b) layout.
      const F = compile([x], [f.values], { mode: "NONE" });
      const tT = NDArray.fromNested((tv.toNested() as number[][])[0].map((_, i) => (tv.toNested() as number[][]).map((row) => row[i])));
      const h = 1e-6;
      const shift = (s: number): number[] => F(NDArray.fromFlat(SQUARE.toFlat().map((v, i) => v + s * h * tT.toFlat()[i]), [3, 3]))[0].toFlat();
      const plus = shift(1);
      const minus = shift(-1);
      assertClose(compare(results[0], [plus.map((p, i) => (p - minus[i]) / (2 * h))], 1e-7, 1e-8), "pushforward vs FD");
    });
    it("PR pushforward: d/dx Σ 2·exp(x) at x = 0 along v = 1 is 6 (three elements)", () => {
      const x = X("x", ["a"], [3]);
      const t = X("t", ["a"], [3]);
      const f = exp(x).mul(2).sum();
      for (const p of PATHS) {
        for (const mode of MODES) assert.deepEqual(runCompiled([x, t], [tangentPaths[p](f, x, t)], [NDArray.zeros([3]), NDArray.full([3], 1)], mode), [[6]], `${p}/${mode}`);
      }
    });
    it("hessianVectorProduct on a named graph vs the FD derivative of the gradient along v (square)", () => {
      const x = X("x", ["a", "b"], [3, 3]);
      const v = X("v", ["b", "a"], [3, 3]);
      const cost = dot(exp(x), tanh(x), "a").mul(weight(["b"], [3], 36)).sum().values;
      const hvp: Record<Path, () => Variable> = {
        lazy: () => hessianVectorProduct(cost, x, v),
        perNode: () => hessianVectorProduct(cost, x, v, { gradStrategy: "perNode" }),
        lowerThenGrad: () => hessianVectorProduct(lower([cost])[0], x, v),
      };
      const vv = rand([3, 3], 37);
      const results: number[][][] = [];
      for (const p of PATHS) {
        const hv = hvp[p]();
        assert.ok(hv.type.equals(x.type), `${p}: ${hv.type.toString()}`);
        for (const mode of MODES) results.push(runCompiled([x, v], [hv], [SQUARE, vv], mode));
      }
      results.forEach((r, k) => assertClose(compare(r, results[0], 1e-12, 1e-12), `hvp result ${k}`));
      // H v = d/dε grad(x + ε v); v(b, a) is vᵀ in x's layout. The gradient is the reference path's.
      const g = compile([x], [gradBy("lowerThenGrad", cost, [x])[0]], { mode: "NONE" });
      const vn = vv.toNested() as number[][];
      const vT = vn[0].map((_, i) => vn.map((row) => row[i])).flat();
      const h = 1e-6;
      const at = (s: number): number[] => g(NDArray.fromFlat(SQUARE.toFlat().map((xv, i) => xv + s * h * vT[i]), [3, 3]))[0].toFlat();
      const plus = at(1);
      const minus = at(-1);
      assertClose(compare(results[0], [plus.map((p, i) => (p - minus[i]) / (2 * h))], 1e-7, 1e-8), "hvp vs FD");
    });
  });

  describe("disconnected and undefined gradients", () => {
    const gradOpts = (p: Path, opts: { disconnectedInputs?: "raise" | "ignore" } = {}) => (cost: Variable, wrt: Variable[]) => gradBy(p, cost, wrt, opts);
    for (const p of PATHS) {
      it(`${p}: a wrt not in the graph raises by default, and is exact zeros of its type with "ignore"`, () => {
        const x = X("x", ["a", "b"], [3, 4]);
        const z = X("z", ["b", "c"], [4, 2]);
        const cost = exp(x).sum({ dims: "a" }).pow(2).sum().values;
        assert.throws(() => gradOpts(p)(cost, [x, z]), (e: unknown) => e instanceof GradError && /does not depend on z/.test(e.message));
        const [gx, gz] = gradOpts(p, { disconnectedInputs: "ignore" })(cost, [x, z]);
        assert.ok(gz.type.equals(z.type), gz.type.toString());
        for (const mode of MODES) {
          const [rx, rz] = runCompiled([x, z], [gx, gz], [RECT, rand([4, 2], 40)], mode);
          assert.deepEqual(rz, new Array(8).fill(0));
          assertClose(compare([rx], centralDiff(forward([x], cost), [RECT], [0]), 1e-7, 1e-8), `${p}/${mode} d/dx`);
        }
      });
      it(`${p}: a disconnected interior wrt and an unrelated considerConstant variable add no inputs to the gradient`, () => {
        const x = X("x", ["a", "b"], [3, 4]);
        const q = X("q", ["c"], [2]); // not an input of the compiled gradient
        const cost = tanh(x).sum({ dims: "b" }).pow(2).sum().values;
        const [gx, gz] = gradBy(p, cost, [x, exp(q)], { disconnectedInputs: "ignore", considerConstant: [sin(q)] });
        const numeric = centralDiff(forward([x], cost), [RECT], [0]);
        for (const mode of MODES) assertClose(compare(runCompiled([x], [gx], [RECT], mode), numeric, 1e-7, 1e-8), `${p}/${mode}`);
        assert.ok(gz.type.equals(exp(q).type));
      });
      it(`${p}: an integer index xtensor as wrt is a clear GradError`, () => {
        const x = X("x", ["a", "b"], [3, 4]);
        const i = xtensor("i", { dims: ["k"], shape: [2], dtype: "int64" });
        const cost = x.isel({ a: i }).pow(2).sum().values;
        assert.throws(() => gradOpts(p)(cost, [i]), (e: unknown) => e instanceof GradError && /\bi\b/.test(e.message) && /int64|integer|undefined/.test(e.message));
        assert.throws(() => gradOpts(p, { disconnectedInputs: "ignore" })(cost, [x, i]), (e: unknown) => e instanceof GradError);
      });
      it(`${p}: a float that reaches the cost through a computed integer index has an undefined gradient, a float path to the cost included`, () => {
        // The lazy strategy once called such a float disconnected, or gave its float path's
        // partial gradient alone (found by grad-composition's undefined-index claim).
        const x = X("x", ["a", "b"], [3, 4]);
        const w = X("w", ["k"], [2]);
        const gathered = x.isel({ a: w.astype("int64") }).pow(2).sum();
        for (const cost of [gathered.values, gathered.add(w.sum().mul(1.5)).values]) {
          for (const opts of [{}, { disconnectedInputs: "ignore" as const }]) {
            assert.throws(() => gradOpts(p, opts)(cost, [x, w]), (e: unknown) => e instanceof GradError && /gradient with respect to w .* is undefined/.test(e.message));
          }
        }
        // Not requested, it stays on its own path: x's gradient is the gather's scatter.
        const [gx] = gradOpts(p)(gathered.values, [x]);
        const [rx] = runCompiled([x, w], [gx], [RECT, NDArray.fromFlat([2.5, 0.5], [2])], "NONE");
        const want = RECT.toFlat().map((v, k) => (Math.floor(k / 4) === 2 || Math.floor(k / 4) === 0 ? 2 * v : 0));
        assert.deepEqual(rx, want);
      });
      it(`${p}: shape-only dependence is disconnected (raise by default, zeros with "ignore")`, () => {
        const x = X("x", ["a", "b"], [3, 4]);
        const z = X("z", ["c"], [5]);
        const n = cast(shapeI(z.values, 0), "float64");
        const cost = pmul(exp(x).sum({ dims: "b" }).pow(2).sum().values, n);
        assert.throws(() => gradOpts(p)(cost, [z]), (e: unknown) => e instanceof GradError && /does not depend on z/.test(e.message));
        const [gx, gz] = gradOpts(p, { disconnectedInputs: "ignore" })(cost, [x, z]);
        assert.ok(gz.type.equals(z.type));
        const zv = rand([5], 41);
        for (const mode of MODES) {
          const [rx, rz] = runCompiled([x, z], [gx, gz], [RECT, zv], mode);
          assert.deepEqual(rz, [0, 0, 0, 0, 0]);
          const numeric = centralDiff(forward([x, z], cost), [RECT, zv], [0]);
          assertClose(compare([rx], numeric, 1e-7, 1e-8), `${p}/${mode} d/dx`);
        }
      });
    }
  });

  describe("type rules", () => {
    it("the gradient w.r.t. x(a, b) has exactly x's type, dims order included, when every use reads it as (b, a) (square)", () => {
      const x = X("x", ["a", "b"], [3, 3]);
      const xt = x.transpose("b", "a");
      const cost = exp(xt).mul(weight(["b", "a"], [3, 3], 42)).sum({ dims: "a" }).pow(2).sum().values;
      const r = checkCase({ inputs: [x], values: [SQUARE], cost, wrt: [x] });
      for (const [p, [g]] of r.grads) assert.deepEqual((g as XTensorVariable).dims, ["a", "b"], p);
    });
    for (const p of PATHS) {
      it(`${p}: pullback aligns a cotangent with permuted dims by name (square output)`, () => {
        const x = X("x", ["a", "b"], [3, 3]);
        const y = tanh(x).mul(weight(["a", "b"], [3, 3], 43));
        const k = X("k", ["b", "a"], [3, 3]);
        const pb = (out: Variable, ct: Variable): Variable =>
          p === "lazy" ? pullback([out], x, [ct]) : p === "perNode" ? pullback([out], x, [ct], { gradStrategy: "perNode" }) : pullback(lower([out]), x, [ct]);
        const byName = pb(y, k);
        const transposed = pb(y, k.transpose("a", "b"));
        const positional = pb(y, asXTensor(k.values, ["a", "b"])); // the wrong reading
        assert.ok(byName.type.equals(x.type), byName.type.toString());
        const kv = rand([3, 3], 44);
        for (const mode of MODES) {
          const [a, b, c] = runCompiled([x, k], [byName, transposed, positional], [SQUARE, kv], mode);
          assertClose(compare([a], [b], 1e-15, 0), `${p}/${mode}: by name vs the transposed cotangent`);
          assert.ok(!compare([a], [c], 1e-6, 1e-9).ok, `${p}/${mode}: the positional reading must differ (else the test proves nothing)`);
        }
      });
    }
  });
  describe("the comparisons can fail: deliberately wrong pullback rules are flagged by FD", () => {
    // Each override is active while the gradient is built *and* compiled: the lazy path only
    // differentiates when the compiler expands its Pullback node. Square shapes throughout, so
    // the wrong results have exactly the right types and shapes and only the values differ.
    const under = (selector: Parameters<typeof withPullbackOverride>[0], rule: PullbackRule, b: Built, p: Path, mode: Mode): number[][] =>
      withPullbackOverride(selector, rule, () => {
        const gs = gradBy(p, b.cost, b.wrt);
        gs.forEach((g, k) => assert.ok(g.type.equals(b.wrt[k].type), `${p}: the wrong rule must not change the type`));
        return runCompiled(b.inputs, gs, b.values, mode);
      });
    const fdOf = (b: Built): number[][] => centralDiff(forward(b.inputs, b.cost), b.values, b.wrt.map((w) => b.inputs.indexOf(w)));
    const squareCase = (): Built => unary(["a", "b"], SQUARE, (x) => exp(x).mul(weight(["b", "a"], [3, 3], 50)).sum({ dims: "a" }).pow(2).sum().values);
    const transposeCase = (): Built => unary(["a", "b"], SQUARE, (x) => psum(pmul(tanh(x.transpose("b", "a")).values, weight(["b", "a"], [3, 3], 51).values)));

    // TensorFromXTensor's cotangent labelled with x's dims reversed, by position: the named
    // value g(a, b) is read as g(b, a). It survives lowering (it is the region's entry), so all
    // three paths use it.
    const relabel: PullbackRule = ([x], _o, [g]) => [asXTensor(g, [...(x.type as XTensorVariable["type"]).dims].reverse())];
    // A permuting DimShuffle that passes its cotangent through unpermuted (right shape on a square).
    const unpermuted: PullbackRule = (inputs, outputs, cots, node) => {
      const op = node.op as DimShuffle;
      const perm = op.props.order.length === op.props.inputNdim && op.props.order.every((o, j) => o !== "x" && o !== j);
      return perm ? [cots[0]] : op.pullback(inputs, outputs, cots);
    };
    for (const p of PATHS) {
      it(`${p}: TensorFromXTensor relabelled by position`, () => {
        const b = squareCase();
        const numeric = fdOf(b);
        for (const mode of MODES) {
          assert.ok(!compare(under(TensorFromXTensor, relabel, b, p, mode), numeric, FD_REL, FD_ABS).ok, `${p}/${mode}: the wrong rule went unnoticed`);
          assertClose(compare(runCompiled(b.inputs, gradBy(p, b.cost, b.wrt), b.values, mode), numeric, FD_REL, FD_ABS), `${p}/${mode} without the override`);
        }
      });
      it(`${p}: a transposing DimShuffle whose pullback forgets to permute back`, () => {
        const b = transposeCase();
        const numeric = fdOf(b);
        for (const mode of MODES) assert.ok(!compare(under(DimShuffle, unpermuted, b, p, mode), numeric, FD_REL, FD_ABS).ok, `${p}/${mode}: the wrong rule went unnoticed`);
      });
    }
    it("Rename's pullback as a by-name transpose: caught on perNode; the other paths lower Rename away", () => {
      const b = unary(["a", "b"], SQUARE, (x) => exp(x.rename({ a: "b", b: "a" })).mul(weight(["a", "b"], [3, 3], 52)).sum({ dims: "b" }).pow(2).sum().values);
      const numeric = fdOf(b);
      const asTranspose: PullbackRule = ([x], _o, [g]) => [xtranspose(g as XTensorVariable, (x as XTensorVariable).dims)];
      for (const mode of MODES) {
        assert.ok(!compare(under(Rename, asTranspose, b, "perNode", mode), numeric, FD_REL, FD_ABS).ok, `perNode/${mode}: the wrong rule went unnoticed`);
        // values(Rename(x)) lowers to values(x): no Rename is left for the override to reach.
        for (const p of ["lazy", "lowerThenGrad"] as const) assertClose(compare(under(Rename, asTranspose, b, p, mode), numeric, FD_REL, FD_ABS), `${p}/${mode}`);
      }
    });
  });
});
