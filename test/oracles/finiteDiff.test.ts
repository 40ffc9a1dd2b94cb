import { strict as assert } from "node:assert";
import fc from "fast-check";
import {
  checkGradient,
  checkHessianVectorProduct,
  mulberry32,
  randomDirection,
  type FiniteDiffVerdict,
  type Point,
} from "../../oracles/finiteDiff.js";

// ---------------------------------------------------------------------------------------------
// Random smooth functions with exact gradients (forward-mode dual numbers, written here so the
// oracle is judged against derivatives it did not compute).
// ---------------------------------------------------------------------------------------------

type Expr =
  | { k: "var"; i: number }
  | { k: "const"; c: number }
  | { k: "add" | "sub" | "mul"; a: Expr; b: Expr }
  | { k: "exp" | "tanh" | "sin" | "logsq"; a: Expr }
  | { k: "poly"; a: Expr; c: [number, number, number, number] };

/** A value and its gradient with respect to every variable. */
interface Dual {
  v: number;
  g: number[];
}

function evalDual(e: Expr, x: Float64Array): Dual {
  const n = x.length;
  switch (e.k) {
    case "var":
      return { v: x[e.i % n], g: Array.from({ length: n }, (_, j) => (j === e.i % n ? 1 : 0)) };
    case "const":
      return { v: e.c, g: new Array<number>(n).fill(0) };
    case "add":
    case "sub":
    case "mul": {
      const a = evalDual(e.a, x);
      const b = evalDual(e.b, x);
      if (e.k === "add") return { v: a.v + b.v, g: a.g.map((ga, j) => ga + b.g[j]) };
      if (e.k === "sub") return { v: a.v - b.v, g: a.g.map((ga, j) => ga - b.g[j]) };
      return { v: a.v * b.v, g: a.g.map((ga, j) => ga * b.v + a.v * b.g[j]) };
    }
    case "exp": {
      // exp(sin a): an exp composition that cannot overflow however large a gets.
      const a = evalDual(e.a, x);
      const v = Math.exp(Math.sin(a.v));
      return { v, g: a.g.map((ga) => v * Math.cos(a.v) * ga) };
    }
    case "tanh": {
      const a = evalDual(e.a, x);
      const v = Math.tanh(a.v);
      return { v, g: a.g.map((ga) => (1 - v * v) * ga) };
    }
    case "sin": {
      const a = evalDual(e.a, x);
      return { v: Math.sin(a.v), g: a.g.map((ga) => Math.cos(a.v) * ga) };
    }
    case "logsq": {
      // log(a² + 0.5): a log composition that stays inside its domain.
      const a = evalDual(e.a, x);
      const q = a.v * a.v + 0.5;
      return { v: Math.log(q), g: a.g.map((ga) => ((2 * a.v) / q) * ga) };
    }
    case "poly": {
      const a = evalDual(e.a, x);
      const [c0, c1, c2, c3] = e.c;
      const v = c0 + a.v * (c1 + a.v * (c2 + a.v * c3));
      const dv = c1 + a.v * (2 * c2 + 3 * c3 * a.v);
      return { v, g: a.g.map((ga) => dv * ga) };
    }
  }
}

const NVARS = 4;
const coef = fc.double({ min: -2, max: 2, noNaN: true });

const exprArb: fc.Arbitrary<Expr> = fc.letrec<{ e: Expr }>((tie) => ({
  e: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.record({ k: fc.constant("var" as const), i: fc.nat({ max: NVARS - 1 }) }),
    fc.record({ k: fc.constant("const" as const), c: coef }),
    fc.record({ k: fc.constantFrom("add" as const, "sub" as const, "mul" as const), a: tie("e"), b: tie("e") }),
    fc.record({ k: fc.constantFrom("exp" as const, "tanh" as const, "sin" as const, "logsq" as const), a: tie("e") }),
    fc.record({ k: fc.constant("poly" as const), a: tie("e"), c: fc.tuple(coef, coef, coef, coef) }),
  ),
})).e;

const pointArb = fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: NVARS, maxLength: NVARS });

function scalarOf(e: Expr): (p: Point) => number {
  return (p) => evalDual(e, p.x).v;
}

function gradOf(e: Expr, x: Float64Array): Point {
  return { x: Float64Array.from(evalDual(e, x).g) };
}

const FC = { seed: 20240611, numRuns: 300 };

function tally(): Record<FiniteDiffVerdict["status"], number> {
  return { pass: 0, fail: 0, inconclusive: 0 };
}

function expectStatus(v: FiniteDiffVerdict, status: FiniteDiffVerdict["status"]): void {
  assert.equal(v.status, status, `expected ${status}, got ${v.status}: ${v.reason ?? ""}`);
}

describe("oracles/finiteDiff", () => {
  describe("mulberry32 and directions", () => {
    it("is deterministic from its seed and uniform-looking in [0, 1)", () => {
      const a = mulberry32(7);
      const b = mulberry32(7);
      const xs = Array.from({ length: 1000 }, () => a());
      assert.deepEqual(xs, Array.from({ length: 1000 }, () => b()));
      assert.ok(xs.every((v) => v >= 0 && v < 1));
      const m = xs.reduce((s, v) => s + v, 0) / xs.length;
      assert.ok(Math.abs(m - 0.5) < 0.05, `mean ${m}`);
      assert.notDeepEqual(xs.slice(0, 5), Array.from({ length: 5 }, mulberry32(8)));
    });

    it("scales each entry of a direction to its value, and moves every entry", () => {
      const u = randomDirection({ x: Float64Array.of(0, 1e-9, 3, -200) }, mulberry32(1)).x;
      [1, 1, 3, 200].forEach((scale, i) => {
        assert.ok(Math.abs(u[i]) >= 0.5 * scale && Math.abs(u[i]) < 1.5 * scale, `u[${i}] = ${u[i]}`);
      });
    });
  });

  describe("smooth functions with correct gradients pass", () => {
    it("random polynomial / exp / log / tanh compositions (fixed seed, 500 runs)", () => {
      // Never a fail; pass almost always. The rare inconclusive is a point where f cancels to an
      // exact 0 (e.g. (x − x)·…), so its neighbours carry rounding noise far above the noise the
      // oracle infers from |f| — it then declines to judge rather than risk a false alarm.
      const seen = tally();
      fc.assert(
        fc.property(exprArb, pointArb, (e, xs) => {
          const x = Float64Array.from(xs);
          const v = checkGradient(scalarOf(e), { x }, { grad: gradOf(e, x) });
          seen[v.status]++;
          return v.status !== "fail";
        }),
        { ...FC, numRuns: 500 },
      );
      assert.ok(seen.pass >= 490, JSON.stringify(seen));
    });

    it("the same functions through a JVP/VJP pair", () => {
      fc.assert(
        fc.property(exprArb, pointArb, (e, xs) => {
          const x = Float64Array.from(xs);
          const g = gradOf(e, x).x;
          const jvp = (u: Point): number => u.x.reduce((s, ui, i) => s + ui * g[i], 0);
          const vjp = (w: number): Point => ({ x: g.map((gi) => w * gi) });
          return checkGradient(scalarOf(e), { x }, { jvp, vjp }, { seed: 3 }).status === "pass";
        }),
        { ...FC, numRuns: 150 },
      );
    });

    it("several named inputs, large and tiny magnitudes", () => {
      const f = (p: Point): number => Math.exp(0.001 * p.a[0]) * p.b[0] * p.b[1] + 1e3 * p.c[0] * p.c[0] + p.c[0];
      const x = { a: Float64Array.of(1234.5), b: Float64Array.of(-3, 0.25), c: Float64Array.of(1e-7) };
      const grad = {
        a: Float64Array.of(0.001 * Math.exp(0.001 * 1234.5) * -0.75),
        b: Float64Array.of(Math.exp(1.2345) * 0.25, Math.exp(1.2345) * -3),
        c: Float64Array.of(2e3 * 1e-7 + 1),
      };
      expectStatus(checkGradient(f, x, { grad }), "pass");
    });

    it("a feature much finer than the step is inconclusive, not a failure", () => {
      // sin(1e6·c) turns a thousand radians within one step: smooth, but not resolvable here.
      const f = (p: Point): number => Math.sin(1e6 * p.c[0]);
      const v = checkGradient(f, { c: Float64Array.of(1e-7) }, { grad: { c: Float64Array.of(1e6 * Math.cos(0.1)) } });
      expectStatus(v, "inconclusive");
    });

    it("a correct Hessian-vector product", () => {
      // f = Σ x_i³ + x0·x1  ⇒  g = 3x² + (x1, x0, 0),  H v = 6x∘v + (v1, v0, 0)
      const g = (p: Point): Point => ({ x: p.x.map((xi, i) => 3 * xi * xi + (i === 0 ? p.x[1] : i === 1 ? p.x[0] : 0)) });
      const x = { x: Float64Array.of(0.3, -1.2, 2.5) };
      const hvp = (v: Point): Point => ({ x: v.x.map((vi, i) => 6 * x.x[i] * vi + (i === 0 ? v.x[1] : i === 1 ? v.x[0] : 0)) });
      expectStatus(checkHessianVectorProduct(g, x, hvp), "pass");
    });
  });

  describe("wrong gradients fail", () => {
    it("x*x claimed to have gradient x (a factor 2)", () => {
      const f = (p: Point): number => p.x.reduce((s, v) => s + v * v, 0);
      const x = { x: Float64Array.of(0.7, -1.3, 2.1) };
      const v = checkGradient(f, x, { grad: { x: x.x.slice() } });
      expectStatus(v, "fail");
      assert.ok(v.maxRelErr > 0.3, `maxRelErr ${v.maxRelErr}`);
    });

    it("a transposed gradient on a square shape", () => {
      // f(X) = Σ_ij A_ij X_ij² with a non-symmetric A; ∇f = 2 A∘X, claimed transposed (row-major 3×3).
      const A = [1, 2, 3, 0.5, -1, 4, -2, 0.25, 1.5];
      const f = (p: Point): number => p.X.reduce((s, v, k) => s + A[k] * v * v, 0);
      const X = Float64Array.of(0.1, 0.9, -0.4, 1.2, 0.3, -0.8, 0.6, -1.1, 0.2);
      const good = X.map((v, k) => 2 * A[k] * v);
      const transposed = good.map((_, k) => good[(k % 3) * 3 + Math.floor(k / 3)]);
      expectStatus(checkGradient(f, { X }, { grad: { X: good } }), "pass");
      expectStatus(checkGradient(f, { X }, { grad: { X: transposed } }), "fail");
    });

    it("a dropped term (x*y + sin x claimed as y + 0·cos x)", () => {
      const f = (p: Point): number => p.x[0] * p.y[0] + Math.sin(p.x[0]);
      const x = { x: Float64Array.of(0.4), y: Float64Array.of(1.7) };
      expectStatus(checkGradient(f, x, { grad: { x: Float64Array.of(1.7), y: Float64Array.of(0.4) } }), "fail");
    });

    it("the same random functions with every claimed entry doubled", () => {
      fc.assert(
        fc.property(exprArb, pointArb, (e, xs) => {
          const x = Float64Array.from(xs);
          const g = gradOf(e, x).x;
          const norm = Math.hypot(...g);
          fc.pre(norm > 1e-6);
          const v = checkGradient(scalarOf(e), { x }, { grad: { x: g.map((gi) => 2 * gi) } });
          return v.status === "fail";
        }),
        { ...FC, numRuns: 150 },
      );
    });

    it("a JVP/VJP pair that is not transposed fails even without finite differences", () => {
      // f is |x0| at a kink, so finite differences are inconclusive; the identity still binds.
      const f = (p: Point): number => Math.abs(p.x[0]) + p.x[1];
      const x = { x: Float64Array.of(0, 1) };
      const jvp = (u: Point): number => u.x[1];
      const vjp = (w: number): Point => ({ x: Float64Array.of(w, w) }); // claims ∂/∂x0 = 1, jvp says 0
      expectStatus(checkGradient(f, x, { jvp, vjp }), "fail");
    });

    it("a Hessian-vector product missing its off-diagonal term", () => {
      const g = (p: Point): Point => ({ x: Float64Array.of(p.x[1] + 2 * p.x[0], p.x[0]) }); // f = x0² + x0·x1
      const hvp = (v: Point): Point => ({ x: Float64Array.of(2 * v.x[0], 0) });
      expectStatus(checkHessianVectorProduct(g, { x: Float64Array.of(0.5, -0.5) }, hvp), "fail");
    });
  });

  describe("non-smooth points are inconclusive, never fail", () => {
    // Each claim below is one of the conventions (or plainly wrong); the verdict must not depend on it.
    const claims = [0, 0.5, 1, -1, 2];

    it("|x| at 0", () => {
      const f = (p: Point): number => Math.abs(p.x[0]) + 0.5 * p.x[1] * p.x[1];
      for (const c of claims) {
        const v = checkGradient(f, { x: Float64Array.of(0, 1) }, { grad: { x: Float64Array.of(c, 1) } });
        expectStatus(v, "inconclusive");
        assert.match(v.reason ?? "", /not smooth/);
      }
    });

    it("max with a tie", () => {
      const f = (p: Point): number => Math.max(p.x[0], p.x[1]);
      for (const c of claims) {
        expectStatus(checkGradient(f, { x: Float64Array.of(0.8, 0.8) }, { grad: { x: Float64Array.of(c, 1 - c) } }), "inconclusive");
      }
    });

    it("relu at 0 and just beside it (kink inside the step)", () => {
      const f = (p: Point): number => Math.max(p.x[0], 0) * 3;
      for (const at of [0, 1e-5, -2e-4]) {
        for (const c of claims) {
          expectStatus(checkGradient(f, { x: Float64Array.of(at) }, { grad: { x: Float64Array.of(c) } }), "inconclusive");
        }
      }
    });

    it("log near 0 (the domain edge inside the step)", () => {
      const f = (p: Point): number => Math.log(p.x[0]);
      for (const at of [1e-4, 5e-4, 1e-12]) {
        const v = checkGradient(f, { x: Float64Array.of(at) }, { grad: { x: Float64Array.of(0) } });
        expectStatus(v, "inconclusive");
        assert.match(v.reason ?? "", /not finite|not smooth/);
      }
    });

    it("log close to, but clear of, its edge still passes with the right gradient", () => {
      const f = (p: Point): number => Math.log(p.x[0]);
      expectStatus(checkGradient(f, { x: Float64Array.of(0.01) }, { grad: { x: Float64Array.of(100) } }), "pass");
    });

    it("a function that throws nearby", () => {
      const f = (p: Point): number => {
        if (p.x[0] < 0) throw new RangeError("negative");
        return Math.sqrt(p.x[0]);
      };
      const v = checkGradient(f, { x: Float64Array.of(1e-4) }, { grad: { x: Float64Array.of(50) } });
      expectStatus(v, "inconclusive");
      assert.match(v.reason ?? "", /throws/);
    });

    it("a Hessian-vector product at a kink of the gradient", () => {
      const g = (p: Point): Point => ({ x: p.x.map((v) => Math.abs(v)) });
      const hvp = (v: Point): Point => ({ x: v.x.map(() => 0) });
      expectStatus(checkHessianVectorProduct(g, { x: Float64Array.of(0, 1) }, hvp), "inconclusive");
    });

    it("random smooth functions plus a kink through the point, with any claim", () => {
      // f = e(x) + c·|x_j − x_j|: the claim is e's gradient plus an arbitrary "subgradient" s on
      // entry j — every convention and some nonsense. None may fail.
      const seen = tally();
      fc.assert(
        fc.property(
          exprArb, pointArb, fc.nat({ max: NVARS - 1 }), fc.double({ min: 0.1, max: 2, noNaN: true }),
          fc.double({ min: -3, max: 3, noNaN: true }),
          (e, xs, j, c, s) => {
            const x = Float64Array.from(xs);
            const kink = x[j];
            const f = (p: Point): number => scalarOf(e)(p) + c * Math.abs(p.x[j] - kink);
            const g = gradOf(e, x).x.slice();
            g[j] += s;
            const v = checkGradient(f, { x }, { grad: { x: g } });
            seen[v.status]++;
            return v.status !== "fail";
          },
        ),
        { ...FC, numRuns: 400 },
      );
      assert.ok(seen.inconclusive >= 390, JSON.stringify(seen));
    });

    it("a kink anywhere within (or just beyond) the steps never fails a correct claim", () => {
      // The point itself is smooth and the claim is its true gradient; only some of the three
      // steps straddle the kink, which is where an error bar built from R₀ − R₁ alone is fooled.
      const seen = tally();
      fc.assert(
        fc.property(
          exprArb, pointArb, fc.nat({ max: NVARS - 1 }), fc.double({ min: 0.1, max: 2, noNaN: true }),
          fc.double({ min: 1e-6, max: 4e-3, noNaN: true }), fc.boolean(),
          (e, xs, j, c, dist, below) => {
            const x = Float64Array.from(xs);
            const kink = x[j] + (below ? -dist : dist) * Math.max(1, Math.abs(x[j]));
            const f = (p: Point): number => scalarOf(e)(p) + c * Math.abs(p.x[j] - kink);
            const g = gradOf(e, x).x.slice();
            g[j] += c * Math.sign(x[j] - kink);
            const v = checkGradient(f, { x }, { grad: { x: g } });
            seen[v.status]++;
            return v.status !== "fail";
          },
        ),
        { ...FC, numRuns: 400 },
      );
      assert.ok(seen.pass > 50 && seen.inconclusive > 50, JSON.stringify(seen));
    });
  });

  it("reports the errors and the number of directions", () => {
    const f = (p: Point): number => p.x[0] * p.x[0];
    const v = checkGradient(f, { x: Float64Array.of(1.5) }, { grad: { x: Float64Array.of(3) } }, { directions: 5 });
    expectStatus(v, "pass");
    assert.equal(v.directions, 5);
    assert.ok(v.maxAbsErr < 1e-9 && v.maxRelErr < 1e-9, `${v.maxAbsErr} ${v.maxRelErr}`);
  });
});
