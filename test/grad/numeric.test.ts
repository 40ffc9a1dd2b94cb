/**
 * The driver on real positional ops, against float64 central finite differences. The op
 * authors test each pullback in isolation; these tests check what the driver adds on top:
 * accumulation over uses, broadcasting adjoints composed through a graph, second order,
 * forward mode, Hessian-vector products, markers from real ops, in-place nodes, depth.
 */
import { mulberry32 } from "../../oracles/finiteDiff.js";
import assert from "node:assert/strict";
import type { Variable } from "../../src/graph/basic.js";
import { GradError } from "../../src/errors.js";
import { constant, tensor } from "../../src/tensor/basic.js";
import { Elemwise, add, cast, exp, log, log1p, mul, neg, pow, sin, square, sub, tanh } from "../../src/tensor/elemwise.js";
import { sum } from "../../src/tensor/reduce.js";
import { shapeI } from "../../src/tensor/shape.js";
import { advancedSubtensor } from "../../src/tensor/indexing.js";
import { grad, pullback } from "../../src/grad/driver.js";
import { hessianVectorProduct, pushforward } from "../../src/grad/pushforward.js";
import { jacobian } from "../../src/grad/jacobian.js";
import { withPullbackOverride } from "../../src/grad/registry.js";
import { NDArray } from "../../src/ndarray/ndarray.js";
import { evalGraph } from "./eval.js";
import { assertOk, compareArrays, compareGrad, numericGrad, scalarAt } from "./fd.js";

/** Deterministic values in [lo, hi), from the harness's mulberry32. */
function rand(shape: readonly number[], seed: number, lo = -1, hi = 1): NDArray {
  const r = mulberry32(seed);
  const n = shape.reduce((p, s) => p * s, 1);
  return NDArray.fromFlat(Array.from({ length: n }, () => lo + (hi - lo) * r()), shape);
}

const vars = (values: readonly NDArray[]): Variable[] => values.map((v, k) => tensor(`x${k}`, { shape: v.shape, dtype: v.dtype }));

/** Build cost(vars) on fresh variables for `values` and check its gradient against FD. */
function check(build: (xs: Variable[]) => Variable, values: readonly NDArray[]): void {
  const xs = vars(values);
  assertOk(compareGrad(build(xs), xs, values));
}

const flat = (v: Variable, givens: Map<Variable, NDArray>): number[] => evalGraph([v], givens)[0].toFlat();

describe("grad driver on real ops vs finite differences", () => {
  it("a polynomial: Σ 3x³ − 2x² + x", () => {
    check(([x]) => sum(add(sub(mul(3, pow(x, 3)), mul(2, square(x))), x)), [rand([4], 1)]);
  });

  it("repeated use accumulates: Σ x·x·x", () => {
    check(([x]) => sum(mul(mul(x, x), x)), [rand([5], 2)]);
  });

  it("exp/log/tanh chains", () => {
    check(([x, y]) => sum(add(tanh(mul(exp(x), log(y))), log1p(exp(neg(x))))), [rand([3], 3), rand([3], 4, 0.5, 2)]);
  });

  it("a diamond through a shared intermediate: y = tanh(x), Σ y·y + y·x", () => {
    check(([x]) => {
      const y = tanh(x);
      return sum(add(mul(y, y), mul(y, x)));
    }, [rand([2, 3], 5)]);
  });

  it("broadcasting: statically-1 axes, missing leading axes and 0-d operands are summed back", () => {
    check(([x, y, z]) => sum(sub(add(mul(x, y), mul(z, x)), y)), [rand([3, 1], 6), rand([1, 4], 7), rand([], 8)]);
    check(([v, m]) => sum(mul(tanh(v), m)), [rand([4], 9), rand([3, 4], 10)]);
  });

  it("reductions with and without keepdims", () => {
    check(([x]) => sum(square(sum(x, [1]))), [rand([2, 3], 11)]);
    check(([x]) => sum(mul(x, sum(x, [0], true))), [rand([2, 3], 12)]);
  });

  it("several wrt, including an interior one", () => {
    const xv = rand([3], 13);
    const x = tensor("x", { shape: [3] });
    const y = exp(x);
    const cost = sum(mul(y, y));
    const [gy, gx] = grad(cost, [y, x]);
    const givens = new Map([[x, xv]]);
    const yv = xv.toFlat().map(Math.exp);
    assertOk(compareArrays([flat(gy, givens)], [yv.map((v) => 2 * v)]));
    assertOk(compareArrays([flat(gx, givens)], [yv.map((v) => 2 * v * v)]));
  });

  it("float32 wrt get float32 gradients", () => {
    const x = tensor("x", { shape: [2], dtype: "float32" });
    const g = grad(sum(mul(cast(x, "float64"), 2)), x);
    assert.equal(g.type.dtype, "float32");
  });

  describe("second order", () => {
    it("grad of grad is the second derivative: f = x³ + sin x, f'' = 6x − sin x", () => {
      const x = tensor("x", { shape: [] });
      const f = add(pow(x, 3), sin(x));
      const g2 = grad(grad(f, x), x);
      const xv = 0.7;
      const got = flat(g2, new Map([[x, NDArray.scalar(xv)]]));
      assertOk(compareArrays([got], [[6 * xv - Math.sin(xv)]]));
    });

    it("grad of ⟨grad, w⟩ matches FD of that inner product (vector x)", () => {
      const values = [rand([4], 14), rand([4], 15)];
      const [x, w] = vars(values);
      const g = grad(sum(mul(tanh(x), exp(x))), x);
      const inner = sum(mul(g, w));
      assertOk(compareGrad(inner, [x, w], values));
    });

    it("hessianVectorProduct matches FD of the gradient along v", () => {
      const xv = rand([3], 16);
      const vv = rand([3], 17);
      const x = tensor("x", { shape: [3] });
      const v = tensor("v", { shape: [3] });
      const cost = sum(mul(exp(x), sum(square(x))));
      const hv = hessianVectorProduct(cost, x, v);
      const g = grad(cost, x);
      const h = 1e-6;
      const gAt = (d: number): number[] => flat(g, new Map([[x, NDArray.fromFlat(xv.toFlat().map((e, i) => e + d * vv.toFlat()[i]), [3])]]));
      const fd = gAt(h).map((p, i) => (p - gAt(-h)[i]) / (2 * h));
      assertOk(compareArrays([flat(hv, new Map([[x, xv], [v, vv]]))], [fd]), "Hv");
    });
  });

  describe("forward mode", () => {
    it("pushforward is the FD directional derivative", () => {
      const xv = rand([3], 18);
      const yv = rand([3], 19, 0.5, 2);
      const txv = rand([3], 20);
      const tyv = rand([3], 21);
      const [x, y, tx, ty] = vars([xv, yv, txv, tyv]);
      const f = mul(tanh(x), log(y));
      const jv = pushforward(f, [x, y], [tx, ty]);
      const h = 1e-6;
      const fAt = (d: number): number[] =>
        flat(
          f,
          new Map([
            [x, NDArray.fromFlat(xv.toFlat().map((e, i) => e + d * txv.toFlat()[i]), [3])],
            [y, NDArray.fromFlat(yv.toFlat().map((e, i) => e + d * tyv.toFlat()[i]), [3])],
          ]),
        );
      const fd = fAt(h).map((p, i) => (p - fAt(-h)[i]) / (2 * h));
      assertOk(compareArrays([flat(jv, new Map([[x, xv], [y, yv], [tx, txv], [ty, tyv]]))], [fd]), "J·t");
    });

    it("pullback of a vector output matches FD of ⟨r, f⟩", () => {
      const values = [rand([2, 2], 22)];
      const [x] = vars(values);
      const r = rand([2, 2], 23, 0.5, 1.5);
      const rv = tensor("r", { shape: [2, 2] });
      const f = mul(exp(x), x);
      const vjp = pullback([f], x, [rv]);
      const num = numericGrad((xs) => scalarAt(sum(mul(f, rv)), [x, rv], [xs[0], r]), values);
      assertOk(compareArrays([flat(vjp, new Map([[x, values[0]], [rv, r]]))], num));
    });
  });

  it("jacobian: one pullback per output element, shaped output ++ wrt, matches FD", () => {
    const xv = rand([3], 30);
    const x = tensor("x", { shape: [3] });
    const W = rand([2, 3], 31);
    const f = mul(tanh(x), constant(W));
    const J = jacobian(f, x);
    assert.deepEqual(J.type.shape, [2, 3, 3]);
    const got = flat(J, new Map([[x, xv]]));
    const numeric = [0, 1, 2, 3, 4, 5].flatMap((k) => numericGrad((xs) => evalGraph([f], new Map([[x, xs[0]]]))[0].toFlat()[k], [xv])[0]);
    assertOk(compareArrays([got], [numeric]), "J");
  });

  describe("markers from real ops", () => {
    it("an integer index input of AdvancedSubtensor: requesting it is a clear error; x is fine", () => {
      const x = tensor("x", { shape: [4] });
      const i = tensor("i", { shape: [2], dtype: "int64" });
      const cost = sum(square(advancedSubtensor(x, [i])));
      assert.throws(
        () => grad(cost, i),
        (e: unknown) => e instanceof GradError && /with respect to i .* undefined/.test(e.message) && /AdvancedSubtensor/.test(e.message) && /input 1/.test(e.message),
      );
      const xv = rand([4], 24);
      const gx = flat(grad(cost, x), new Map([[x, xv], [i, NDArray.fromFlat([2, 0], [2], "int64")]]));
      const xs = xv.toFlat();
      assertOk(compareArrays([gx], [[2 * xs[0], 0, 2 * xs[2], 0]]));
    });

    it("shape-only dependence is disconnected", () => {
      const x = tensor("x", { shape: [3] });
      const y = tensor("y", { shape: [null] });
      const cost = mul(sum(x), cast(shapeI(y, 0), "float64"));
      assert.throws(() => grad(cost, y), /does not depend on y/);
      const gx = flat(grad(cost, x), new Map([[x, rand([3], 25)], [y, rand([5], 26)]]));
      assert.deepEqual(gx, [5, 5, 5]);
    });
  });

  it("an in-place node: the destroyed input is copied for the pullback", () => {
    const values = [rand([3], 27), rand([3], 28)];
    const [x, y] = vars(values);
    // add's pullback does not read its output, so the only reader of the destroyed value in
    // the gradient is the destroyer's own pullback, which gets a copy that can run first.
    const prod = new Elemwise("mul", { inplace: 0 }).makeNode(add(x, 1), y).out;
    assertOk(compareGrad(sum(prod), [x, y], values));
  });

  it("a 10,000-node chain builds and evaluates", () => {
    const x = tensor("x", { shape: [] });
    let v: Variable = x;
    for (let k = 0; k < 5000; k++) v = add(mul(v, 0.999), 0.001);
    const g = grad(v, x);
    assertOk(compareArrays([flat(g, new Map([[x, NDArray.scalar(0.3)]]))], [[0.999 ** 5000]], { absTol: 1e-9 }));
  });

  describe("the FD comparison can fail", () => {
    const isTanh = (op: { name: string; props: object }): boolean => op.name === "Elemwise" && (op.props as { scalar?: string }).scalar === "tanh";
    const build = ([x]: Variable[]): Variable => sum(mul(tanh(x), x));
    const values = [rand([3], 29)];

    it("catches a wrong tanh rule injected through the test-only override", () => {
      // Wrong on purpose: d tanh = 1 − tanh, not 1 − tanh².
      const wrong = withPullbackOverride(isTanh, (_i, [o], [g]) => [mul(g, sub(1, o))], () => {
        const xs = vars(values);
        return compareGrad(build(xs), xs, values);
      });
      assert.equal(wrong.ok, false, `the wrong rule went unnoticed: ${JSON.stringify(wrong)}`);
      // And the real rule passes the same comparison once the override is gone.
      const xs = vars(values);
      assertOk(compareGrad(build(xs), xs, values));
    });

    it("catches the same wrong rule in forward mode", () => {
      withPullbackOverride(isTanh, (_i, [o], [g]) => [mul(g, sub(1, o))], () => {
        const x = tensor("x", { shape: [] });
        const t = tensor("t", { shape: [] });
        const jv = pushforward(tanh(x), [x], [t]);
        const got = flat(jv, new Map([[x, NDArray.scalar(0.5)], [t, NDArray.scalar(1)]]));
        assert.equal(compareArrays([got], [[1 - Math.tanh(0.5) ** 2]]).ok, false);
      });
    });
  });
});
