/**
 * The ops' own pushforward rules (`useOpPushforward: "require"`), one op family at a time,
 * against float64 central differences of the forward graph in a random direction: J u ≈
 * (f(x + h u) − f(x − h u)) / 2h. The rules are written independently of the pullbacks, so
 * finite differences are their only judge here; `pushforward-duality` then checks them against
 * the pullbacks on generated cases.
 */
import assert from "node:assert/strict";
import { mulberry32 } from "../../oracles/finiteDiff.js";
import { Apply, type Variable, makeVariable } from "../../src/graph/basic.js";
import { Op } from "../../src/graph/op.js";
import { GradError } from "../../src/errors.js";
import { compile } from "../../src/compile/function.js";
import { grad, pullback } from "../../src/grad/driver.js";
import { hessianVectorProduct, pushforward } from "../../src/grad/pushforward.js";
import { withPullbackOverride, withPushforwardOverride } from "../../src/grad/registry.js";
import { NDArray } from "../../src/ndarray/ndarray.js";
import { constant, tensor } from "../../src/tensor/basic.js";
import { einsum } from "../../src/tensor/contraction.js";
import { cumprod, cumsum } from "../../src/tensor/cumulative.js";
import { SCALAR_OPS, type ScalarName, cast, compositeFromGraph, elemwise, exp, mul, second, sin, sub, tanh } from "../../src/tensor/elemwise.js";
import { advancedIncSubtensor, advancedSetSubtensor, advancedSubtensor, incSubtensor, setSubtensor, subtensor } from "../../src/tensor/indexing.js";
import { max, min, prod, sum } from "../../src/tensor/reduce.js";
import { alloc, dimshuffle, join, reshape, shapeI, specifyShape } from "../../src/tensor/shape.js";
import * as T from "../../src/tensor/index.js";
import * as X from "../../src/xtensor/index.js";
import { type FdOptions, compareArrays } from "./fd.js";
import { derivationMismatch } from "../../properties/compare.js";
import { SquaredScale } from "../../properties/pushforwardOptions.js";

/** An identity op with a pullback but no pushforward rule. */
class NoForward extends Op {
  readonly name = "NoForward";
  readonly props = {};
  makeNode(x: Variable): Apply {
    return new Apply(this, [x], [x.type]);
  }
  override perform(_node: Apply, [x]: readonly NDArray[]): NDArray[] {
    return [x.copy()];
  }
  override pullback(_i: readonly Variable[], _o: readonly Variable[], [g]: readonly Variable[]): Variable[] {
    return [g];
  }
}

/** Values in [lo, hi) from the harness's mulberry32, kept `gap` away from each other (kinks) when asked. */
function rand(shape: readonly number[], seed: number, lo = -1, hi = 1, dtype: "float64" | "float32" = "float64"): NDArray {
  const r = mulberry32(seed);
  const n = shape.reduce((p, s) => p * s, 1);
  return NDArray.fromFlat(Array.from({ length: n }, () => lo + (hi - lo) * r()), shape, dtype);
}

/** An input of the case: a positional or named variable with its value. */
interface Arg {
  readonly v: Variable;
  readonly value: NDArray;
}
const pos = (name: string, value: NDArray): Arg => ({ v: tensor(name, { shape: value.shape, dtype: value.dtype }), value });
const named = (name: string, dims: readonly string[], value: NDArray): Arg => ({ v: X.xtensor(name, { dims, shape: value.shape, dtype: value.dtype }), value });

/**
 * J u from the rules vs central differences, for every float output of `build`. Returns the
 * worst comparison, so a test can also assert that a wrong rule fails it.
 */
function jvpVsFd(build: (...xs: Variable[]) => Variable, args: readonly Arg[], fd: FdOptions = {}) {
  const seed = 7;
  const xs = args.map((a) => a.v);
  const out = build(...xs);
  const wrt = args.filter((a) => a.value.dtype.startsWith("float"));
  const us = wrt.map((a, k) => makeVariable(a.v.type, null, 0, `u${k}`));
  const jvp = pushforward(out, wrt.map((a) => a.v), us, { useOpPushforward: "require" });
  const fJvp = compile([...xs, ...us], [jvp], { mode: "NONE" });
  const fOut = compile(xs, [out], { mode: "NONE" });
  const uVals = wrt.map((a, k) => rand(a.value.shape, seed + k));
  const h = fd.h ?? 1e-6;
  const moved = (sgn: number): NDArray[] =>
    args.map((a) => {
      const k = wrt.indexOf(a);
      if (k < 0) return a.value;
      const x = a.value.toFlat();
      const u = uVals[k].toFlat();
      return NDArray.fromFlat(x.map((xi, i) => xi + sgn * h * u[i]), a.value.shape, "float64");
    });
  const [plus] = fOut(...moved(1));
  const [minus] = fOut(...moved(-1));
  const numeric = plus.toFlat().map((p, i) => (p - minus.toFlat()[i]) / (2 * h));
  const [jv] = fJvp(...args.map((a) => a.value), ...uVals);
  return compareArrays([jv.toFlat()], [numeric], fd);
}

function ok(build: (...xs: Variable[]) => Variable, args: readonly Arg[], fd: FdOptions = {}): void {
  const c = jvpVsFd(build, args, fd);
  assert.ok(c.ok, `J u ${c.analytic} vs finite differences ${c.numeric} at element ${c.index} (abs ${c.absErr}, rel ${c.relErr})`);
}

/** Inputs inside each scalar op's test domain (the table's own domains), 3 elements each. */
function scalarArgs(name: ScalarName): Arg[] {
  const spec = SCALAR_OPS[name];
  return spec.domain.inputs.map((d, k) => {
    if ("bool" in d && d.bool === true) return pos(`c${k}`, NDArray.fromFlat([1, 0, 1], [3], "bool"));
    // The middle of the domain, spread a little; avoided points and relations are far away.
    const lo = Math.max(d.lo, -1.5);
    const hi = Math.min(d.hi, 1.5);
    const base = d.avoid.length > 0 ? [0.6, 0.9, 1.3] : [lo + 0.2 * (hi - lo), lo + 0.5 * (hi - lo), lo + 0.85 * (hi - lo)];
    return pos(`x${k}`, NDArray.fromFlat(k === 1 ? base.map((b) => b - 0.45) : base, [3]));
  });
}

describe("pushforward rules (useOpPushforward: require) vs central differences", () => {
  describe("every differentiable scalar op, through Elemwise", () => {
    const names = (Object.keys(SCALAR_OPS) as ScalarName[]).filter((n) => SCALAR_OPS[n].domain.differentiable && n !== "cast");
    for (const name of names) {
      it(name, () => ok((...xs) => elemwise(name, ...xs), scalarArgs(name)));
    }
    it("cast between float dtypes, and a broadcast operand: x[3,1] * y[4]", () => {
      // A float32 output rounds f(x ± h u): a larger step and a float32 tolerance.
      ok((x) => cast(x, "float32"), [pos("x", rand([3], 1))], { h: 1e-2, absTol: 1e-4, relTol: 1e-4 });
      ok((x, y) => mul(x, y), [pos("x", rand([3, 1], 2)), pos("y", rand([4], 3))]);
      ok((x, y) => second(x, y), [pos("x", rand([2, 3], 4)), pos("y", rand([3], 5))]);
    });
    it("a discrete output has no tangent; a comparison inside a float graph cuts it", () => {
      ok((x, y) => mul(cast(elemwise("gt", x, y), "float64"), exp(x)), [pos("x", rand([4], 6)), pos("y", rand([4], 7))]);
    });
  });

  it("Composite: a fused expression with two outputs summed, and an input used twice", () => {
    const x = tensor("x", { shape: [3] });
    const y = tensor("y", { shape: [1] });
    const a = tanh(mul(x, y));
    const b = mul(exp(x), x);
    const op = compositeFromGraph([x, y], [a, b]);
    ok((xv, yv) => {
      const [o1, o2] = op.makeNode(xv, yv).outputs;
      return elemwise("add", o1, o2);
    }, [pos("x", rand([3], 8)), pos("y", rand([1], 9))]);
  });

  it("shape ops: dimshuffle (drop and add axes), reshape, join with an int input, alloc, specifyShape", () => {
    ok((x) => dimshuffle(x, [1, "x", 0]), [pos("x", rand([2, 3], 10))]);
    ok((x) => dimshuffle(x, [1]), [pos("x", rand([1, 3], 11))]);
    ok((x) => reshape(x, [3, -1]), [pos("x", rand([2, 3], 12))]);
    ok((x, y, z) => join(0, x, y, z), [pos("x", rand([2, 2], 13)), pos("y", NDArray.fromFlat([1, 2], [1, 2], "int64")), pos("z", rand([1, 2], 14))]);
    ok((x) => alloc(x, [4, 3]), [pos("x", rand([1, 3], 15))]);
    ok((x) => alloc(sin(x), [2, shapeI(x, 0)]), [pos("x", rand([3], 16))]);
    ok((x) => specifyShape(mul(x, 2), [2, 3]), [pos("x", rand([2, 3], 17))]);
  });

  it("reductions: sum, prod (away from 0), max and min (distinct values)", () => {
    ok((x) => sum(x, [1]), [pos("x", rand([2, 3], 18))]);
    ok((x) => prod(x, [0]), [pos("x", NDArray.fromFlat([0.7, -1.2, 1.5, 0.9, -0.8, 1.1], [2, 3]))]);
    ok((x) => max(x, [1]), [pos("x", NDArray.fromFlat([0.1, 0.9, -0.5, 0.4, -0.2, 0.7], [2, 3]))]);
    ok((x) => min(x, null), [pos("x", NDArray.fromFlat([0.1, 0.9, -0.5, 0.4, -0.2, 0.7], [2, 3]))]);
  });

  it("cumulative: cumsum and cumprod (away from 0)", () => {
    ok((x) => cumsum(x, 1), [pos("x", rand([2, 3], 19))]);
    ok((x) => cumprod(x, 0), [pos("x", NDArray.fromFlat([0.7, -1.2, 1.5, 0.9, -0.8, 1.1], [3, 2]))]);
  });

  it("contraction: a matrix product, a trace-like contraction and x used twice", () => {
    ok((x, y) => einsum("ab,bc->ac", x, y), [pos("x", rand([2, 3], 20)), pos("y", rand([3, 2], 21))]);
    ok((x) => einsum("ab->", x), [pos("x", rand([3, 3], 22))]);
    ok((x) => einsum("ab,ab->a", x, x), [pos("x", rand([2, 3], 23))]);
  });

  it("indexing: basic and advanced gathers, inc and set updates (repeated indices included)", () => {
    const idx = constant(NDArray.fromFlat([2, 0, 2], [3], "int64"));
    ok((x) => subtensor(x, [{ start: 1, stop: null, step: -1 }]), [pos("x", rand([4], 24))]);
    ok((x) => advancedSubtensor(x, [idx]), [pos("x", rand([4], 25))]);
    ok((x, y) => incSubtensor(x, y, [{ start: 0, stop: 2, step: 1 }]), [pos("x", rand([4], 26)), pos("y", rand([2], 27))]);
    ok((x, y) => setSubtensor(x, y, [1]), [pos("x", rand([4], 28)), pos("y", rand([], 29))]);
    ok((x, y) => advancedIncSubtensor(x, y, [idx]), [pos("x", rand([4], 30)), pos("y", rand([3], 31))]);
    ok((x, y) => advancedSetSubtensor(x, y, [idx]), [pos("x", rand([4], 32)), pos("y", rand([3], 33))]);
  });

  it("named ops, swept through their lowering", () => {
    const a = named("a", ["i", "j"], rand([2, 3], 34));
    const b = named("b", ["j", "k"], rand([3, 2], 35));
    ok((x, y) => X.dot(X.tanh(x as X.XTensorVariable), y as X.XTensorVariable), [a, b]);
    ok((x) => X.std(X.mul(x as X.XTensorVariable, x as X.XTensorVariable), { dims: ["j"] }), [a]);
    ok((x) => X.unstack(X.stack(x as X.XTensorVariable, "s", ["j", "i"]), "s", [["j", 3], ["i", 2]]), [a]);
    ok((x) => X.cumprod(X.exp(x as X.XTensorVariable), "j"), [a]);
    ok((x) => X.concat([x as X.XTensorVariable, X.rename(x as X.XTensorVariable, { i: "i", j: "j" } as never)], "i"), [a]);
    ok((x, y) => X.add(X.transpose(x as X.XTensorVariable, ["j", "i"]), X.max(y as X.XTensorVariable, { dims: ["k"] } as never)), [a, b]);
  });

  it("considerConstant through a named op: the sweep holds v fixed, as the double pullback does (fuzz seed 2129 case 874)", () => {
    // cost = sum(x · neg(x)) with v = neg(x) held: J u = v · u (= u at x = -1), not the full
    // derivative -2x · u. The sweep of mul's lowering walked on past its inputs into the outer
    // graph, found neg(x) below x and gave v a tangent again (2 instead of 1).
    const x = X.xtensor("x", { dims: ["a"], shape: [1] });
    const v = X.neg(x);
    const cost = X.values(X.sum(X.mul(x, v)));
    const u = X.xtensor("u", { dims: ["a"], shape: [1] });
    for (const useOpPushforward of [true, false]) {
      const held = pushforward(cost, [x], [u], { useOpPushforward, considerConstant: [v] }) as Variable;
      const f = compile([x, u], [held], { mode: "NONE" });
      assert.deepEqual(f([-1], [1])[0].toFlat(), [1], `useOpPushforward ${String(useOpPushforward)}`);
    }
  });

  it("a wrong forward rule is caught (the comparison can fail)", () => {
    const isExp = (op: { name: string; props: object }): boolean => op.name === "Elemwise" && (op.props as { scalar?: string }).scalar === "exp";
    // exp's tangent is out · dx; the broken rule uses x · dx.
    const c = withPushforwardOverride(isExp, ([x], _o, [dx]) => [mul(dx as Variable, x)], () => jvpVsFd((x) => exp(x), [pos("x", rand([3], 36))]));
    assert.equal(c.ok, false);
  });

  it("a pullback that is linear but wrong: the double pullback agrees with it, the forward rules do not", () => {
    const isTanh = (op: { name: string; props: object }): boolean => op.name === "Elemwise" && (op.props as { scalar?: string }).scalar === "tanh";
    const x = tensor("x", { shape: [3] });
    const y = tanh(x);
    const u = tensor("u", { shape: [3] });
    const w = tensor("w", { shape: [3] });
    const [xv, uv, wv] = [rand([3], 39), rand([3], 40), rand([3], 41)];
    const dot = (a: NDArray, b: NDArray): number => a.toFlat().reduce((t, ai, i) => t + ai * b.toFlat()[i], 0);
    const sides = withPullbackOverride(isTanh, (_i, [o], [g]) => [mul(g, sub(1, o))], () => {
      const f = compile([x, u, w], [pushforward(y, [x], [u]), pushforward(y, [x], [u], { useOpPushforward: "require" }), pullback([y], [x], [w])[0] as Variable], { mode: "NONE" });
      const [jvDouble, jvRules, vj] = f(xv, uv, wv);
      return { double: dot(wv, jvDouble), rules: dot(wv, jvRules), transpose: dot(vj, uv) };
    });
    assert.ok(Math.abs(sides.double - sides.transpose) < 1e-12, `double pullback ${sides.double} vs ${sides.transpose}`);
    assert.ok(Math.abs(sides.rules - sides.transpose) > 1e-3, `rules ${sides.rules} vs ${sides.transpose}`);
  });

  it('"require" names an op without a rule; true falls back to the double pullback there', () => {
    const x = tensor("x", { shape: [3] });
    const u = tensor("u", { shape: [3] });
    const y = sum(new NoForward().makeNode(exp(x)).outputs[0]);
    assert.throws(() => pushforward(y, [x], [u], { useOpPushforward: "require" }), (e: unknown) => e instanceof GradError && /NoForward \(computing .*\) has no pushforward rule/.test(e.message));
    const f = compile([x, u], [pushforward(y, [x], [u], { useOpPushforward: true }), pushforward(y, [x], [u])], { mode: "NONE" });
    const [a, b] = f(rand([3], 37), rand([3], 38));
    assert.deepEqual(a.toFlat(), b.toFlat());
  });

  it("onDerivation says which derivation ran (the fallback of true included), for pushforward and hessianVectorProduct", () => {
    const x = tensor("x", { shape: [3] });
    const u = tensor("u", { shape: [3] });
    const told = (f: (report: (d: string) => void) => unknown): string[] => {
      const seen: string[] = [];
      f((d) => seen.push(d));
      return seen;
    };
    const y = sum(tanh(x));
    assert.deepEqual(told((r) => pushforward(y, [x], [u], { onDerivation: r })), ["double-pullback"]);
    assert.deepEqual(told((r) => pushforward(y, [x], [u], { useOpPushforward: false, onDerivation: r })), ["double-pullback"]);
    assert.deepEqual(told((r) => pushforward(y, [x], [u], { useOpPushforward: true, onDerivation: r })), ["sweep"]);
    assert.deepEqual(told((r) => pushforward(y, [x], [u], { useOpPushforward: "require", onDerivation: r })), ["sweep"]);
    const z = sum(new NoForward().makeNode(exp(x)).outputs[0]);
    assert.deepEqual(told((r) => pushforward(z, [x], [u], { useOpPushforward: true, onDerivation: r })), ["double-pullback"]);
    assert.deepEqual(told((r) => hessianVectorProduct(y, x, u, { onDerivation: r })), ["reverse-over-reverse"]);
    assert.deepEqual(told((r) => hessianVectorProduct(y, x, u, { method: "reverse", onDerivation: r })), ["reverse-over-reverse"]);
    assert.deepEqual(told((r) => hessianVectorProduct(y, x, u, { method: "forward", onDerivation: r })), ["forward-over-reverse"]);
    // What the harness does with it (pushforward-duality, second-order, rewritten-grad).
    assert.equal(derivationMismatch(["sweep", "double-pullback"], ["sweep", "double-pullback"]), null);
    assert.equal(derivationMismatch(["double-pullback", "double-pullback"], ["sweep", "double-pullback"]), "asked for sweep, it ran double-pullback");
    assert.equal(derivationMismatch([null], ["sweep"]), "asked for sweep, no derivation was reported");
  });

  it('hessianVectorProduct method "forward" agrees with "reverse" (a positional and a named cost), and refuses an unknown method', () => {
    const x = tensor("x", { shape: [2, 3] });
    const v = tensor("v", { shape: [2, 3] });
    const cost = sum(mul(tanh(x), sum(exp(x), [1], true)));
    const xn = X.xtensor("xn", { dims: ["i", "j"], shape: [2, 3] });
    const vn = X.xtensor("vn", { dims: ["j", "i"], shape: [3, 2] });
    const costN = X.sum(X.mul(X.tanh(xn), X.std(xn, { dims: ["j"] })));
    const outs = [
      hessianVectorProduct(cost, x, v, { method: "forward" }),
      hessianVectorProduct(cost, x, v),
      hessianVectorProduct(costN, xn, vn, { method: "forward" }),
      hessianVectorProduct(costN, xn, vn),
    ];
    const f = compile([x, v, xn, vn], outs, { mode: "NONE" });
    const [fw, rv, fwN, rvN] = f(rand([2, 3], 44), rand([2, 3], 45), rand([2, 3], 46), rand([3, 2], 47));
    assert.ok(compareArrays([fw.toFlat()], [rv.toFlat()], { absTol: 1e-12, relTol: 1e-10 }).ok);
    assert.ok(compareArrays([fwN.toFlat()], [rvN.toFlat()], { absTol: 1e-12, relTol: 1e-10 }).ok);
    assert.throws(() => hessianVectorProduct(cost, x, v, { method: "sideways" as never }), /method must be "reverse" or "forward", got sideways/);
  });

  it("forward over reverse: a lazy gradient's Pullback node is swept through its expansion (H u of a named cost)", () => {
    const x = X.xtensor("x", { dims: ["i"], shape: [3] });
    const g = grad(X.sum(X.mul(X.exp(x), x)), x);
    const u = X.xtensor("u", { dims: ["i"], shape: [3] });
    const f = compile([x, u], [pushforward(g, [x], [u], { useOpPushforward: "require" }), pushforward(g, [x], [u])], { mode: "NONE" });
    const [xv, uv] = [rand([3], 42), rand([3], 43)];
    const [rules, double] = f(xv, uv);
    // d²/dx² Σ x eˣ = (x + 2) eˣ, elementwise.
    const want = xv.toFlat().map((xi, i) => (xi + 2) * Math.exp(xi) * uv.toFlat()[i]);
    assert.ok(compareArrays([rules.toFlat()], [want], { absTol: 1e-12, relTol: 1e-12 }).ok);
    assert.ok(compareArrays([double.toFlat()], [want], { absTol: 1e-12, relTol: 1e-12 }).ok);
  });


  it("every exported non-named op class has a pushforward, except those whose outputs are all integers", () => {
    const INT_OUTPUTS = new Set(["ShapeOp", "ShapeI", "Arange"]);
    const classes = [...Object.values(T), ...Object.values(X)].filter(
      (v): v is new (...a: never[]) => Op => typeof v === "function" && v.prototype instanceof Op && v !== X.XOp && !(v.prototype instanceof X.XOp),
    );
    assert.ok(classes.length >= 17, `found ${classes.length} op classes`);
    const missing = [...new Set(classes)].filter((cls) => typeof cls.prototype.pushforward !== "function" && !INT_OUTPUTS.has(cls.name)).map((c) => c.name);
    assert.deepEqual(missing, []);
  });
});

describe("pushforward: an output no wrt reaches, beside a named (lazy) region", () => {
  // The double pullback seeds every output; a seed for an output no wrt reaches used to become
  // a structural input of the lazy Pullback node, so that output looked connected: its tangent
  // came back as zeros whatever disconnectedOutputs and returnDisconnected said.
  const x = X.xtensor("x", { dims: ["a"], shape: [3] });
  const q = tensor("q", { shape: [] });
  const cost = X.values(X.sum(X.exp(x)));
  const indep = mul(q, 2);
  const u = X.xtensor("u", { dims: ["a"], shape: [3] });

  for (const useOpPushforward of [false, true]) {
    const how = useOpPushforward ? "the sweep" : "the double pullback";
    it(`${how}: raises by default, naming output 1`, () => {
      assert.throws(() => pushforward([cost, indep], [x], [u], { useOpPushforward }), (e: unknown) => e instanceof GradError && /output 1 .*depends on none of the wrt/.test(e.message));
    });
    it(`${how}: "ignore" with returnDisconnected "none" gives null for it, and the cost's own tangent`, () => {
      const [t, n] = pushforward([cost, indep], [x], [u], { useOpPushforward, disconnectedOutputs: "ignore", returnDisconnected: "none" });
      assert.equal(n, null);
      const xv = NDArray.fromFlat([0.1, -0.2, 0.3], [3]);
      const uv = NDArray.fromFlat([1, 2, -1], [3]);
      const [tv] = compile([x, u], [t as Variable], { mode: "NONE" })(xv, uv);
      const want = [0.1, -0.2, 0.3].reduce((a, v, i) => a + Math.exp(v) * [1, 2, -1][i], 0);
      assert.ok(Math.abs(tv.toFlat()[0] - want) < 1e-12);
    });
  }
});

describe("pushforward: tangents declared without static lengths", () => {
  it("gives each output a tangent of the output's own type, by either derivation (fuzz seed 1818 case 246)", () => {
    // values(x) read by a positional cost: the double pullback once gave values(x) a tangent of
    // the tangents' vague type, (?, ?), where the output is (3, 3).
    const x = X.xtensor("x", { dims: ["a", "d"], shape: [3, 3], dtype: "float64" });
    const w = tensor("w", { shape: [3, 3], dtype: "float64" });
    const v = X.values(x);
    const cost = sum(mul(v, w));
    const t = X.xtensor("t", { dims: ["a", "d"], shape: [null, 3], dtype: "float64" });
    for (const useOpPushforward of [false, true]) {
      const [tc, tv] = pushforward([cost, v], [x], [t], { useOpPushforward }) as Variable[];
      assert.ok(tc.type.equals(cost.type), `cost: ${tc.type.toString()}`);
      assert.ok(tv.type.equals(v.type), `useOpPushforward ${useOpPushforward}: ${tv.type.toString()} for ${v.type.toString()}`);
      const f = compile([x, w, t], [tv], { mode: "NONE" });
      const xs = NDArray.fromFlat([1, 2, 3, 4, 5, 6, 7, 8, 9], [3, 3], "float64");
      const ts = NDArray.fromFlat([9, 8, 7, 6, 5, 4, 3, 2, 1], [3, 3], "float64");
      assert.deepEqual(f(xs, xs, ts)[0].toFlat(), ts.toFlat());
    }
  });

  it("sweeps a wrt's tangent as of the wrt's type, a static 1 included (fuzz seed 2424 case 2212)", () => {
    // x: (1, 2) broadcast against y: (2, 2). The tangent u, declared (?, ?), once reached mul's
    // rule as it was, and Elemwise refused u's length 1 against y's 2 at run time (only a static
    // 1 broadcasts), where the double pullback computed J u.
    const x = tensor("x", { shape: [1, 2], dtype: "float64" });
    const y = tensor("y", { shape: [2, 2], dtype: "float64" });
    const u = tensor("u", { shape: [null, null], dtype: "float64" });
    const out = mul(y, x);
    const xs = NDArray.fromFlat([1, 2], [1, 2], "float64");
    const ys = NDArray.fromFlat([3, 4, 5, 6], [2, 2], "float64");
    const us = NDArray.fromFlat([0.5, -1], [1, 2], "float64");
    for (const useOpPushforward of ["require", false] as const) {
      const [t] = pushforward([out], [x], [u], { useOpPushforward }) as Variable[];
      assert.ok(t.type.equals(out.type), `${useOpPushforward}: ${t.type.toString()}`);
      const [ju] = compile([x, y, u], [t], { mode: "NONE" })(xs, ys, us);
      assert.deepEqual(ju.toFlat(), [1.5, -4, 2.5, -6], `useOpPushforward ${useOpPushforward}`);
    }
  });
});

describe("pushforward: the double pullback refuses a pullback that is not linear in its cotangent", () => {
  // SquaredScale: y = 1.5 · x with its pullback written 1.5 · g² (right at g = 1, not linear in g).
  const says = /^pushforward: the tangent of output 0 \(SquaredScale\.0\) still depends on its cotangent placeholder, so some pullback on the path is not linear in its cotangent/;

  it("on a positional graph", () => {
    const x = tensor("x", { shape: [3], dtype: "float64" });
    const y = new SquaredScale().makeNode(sum(mul(x, x))).outputs[0];
    assert.throws(() => pushforward(y, [x], [makeVariable(x.type, null, 0, "u")]), (e: unknown) => e instanceof GradError && says.test(e.message));
  });

  it("downstream of named ops, where the lazy strategy wraps the op in a Pullback region (a silently wrong J t before)", () => {
    const x = X.xtensor("x", { dims: ["a"], shape: [3], dtype: "float64" });
    const y = new SquaredScale().makeNode(X.values(X.sum(X.mul(x, x)))).outputs[0];
    const u = makeVariable(x.type, null, 0, "u");
    assert.throws(() => pushforward(y, [x], [u]), (e: unknown) => e instanceof GradError && says.test(e.message));
    // The same named ops without the user's op: linear, not refused (J u of sum(x·x) is 2 x · u).
    const linear = pushforward(X.values(X.sum(X.mul(x, x))), [x], [u]) as Variable;
    const [ju] = compile([x, u], [linear], { mode: "NONE" })(NDArray.fromFlat([1, 2, 3], [3], "float64"), NDArray.fromFlat([1, 0, -1], [3], "float64"));
    assert.deepEqual(ju.toFlat(), [2 * 1 * 1 + 0 - 2 * 3 * 1]);
  });
});
