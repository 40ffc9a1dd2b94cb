/**
 * pullback/pushforward with outputs nested in each other: the vector-Jacobian product is
 * Σ_k ⟨cot_k, d out_k / d wrt⟩, so an output that is also an ancestor of another output gets its
 * own cotangent plus what flows back through its consumers. Seeding them as knownGrads (which
 * *replace* consumer terms) silently dropped that term; the fault zoo's duality probe found it
 * on `sum(x(a) + y(a, b))`, where the lazy double pullback pulls back both partial gradients.
 */
import assert from "node:assert/strict";
import { compile, pullback, pushforward, pt, px, tensor, xtensor } from "../../src/index.js";

describe("grad: nested outputs accumulate their cotangents", () => {
  it("positional: pullback([y, 2y], x, [a, b]) = (a + 2b)·dy/dx", () => {
    const x = tensor("x", { shape: [3] });
    const y = pt.exp(x);
    const z = pt.mul(y, 2);
    const a = tensor("a", { shape: [3] });
    const b = tensor("b", { shape: [3] });
    const [g] = pullback([y, z], [x], [a, b]);
    const xv = [0.1, -0.2, 0.3];
    const [got] = compile([x, a, b], [g], { mode: "NONE" })(xv, [1, 2, 3], [10, 20, 30]);
    got.toFlat().forEach((v, i) => assert.ok(Math.abs(v - Math.exp(xv[i]) * ([1, 2, 3][i] + 2 * [10, 20, 30][i])) < 1e-12));
  });

  for (const strategy of ["lazy", "perNode"] as const) {
    it(`${strategy}: the JVP of sum(x(a) + y(a, b)) keeps x's broadcast tangent`, () => {
      const x = xtensor("x", { dims: ["a"], shape: [2] });
      const y = xtensor("y", { dims: ["a", "b"], shape: [2, 3] });
      const s = px.add(x, y);
      const ux = xtensor("ux", { dims: ["a"], shape: [2] });
      const uy = xtensor("uy", { dims: ["a", "b"], shape: [2, 3] });
      const [jv] = pushforward([s], [x, y], [ux, uy], { gradStrategy: strategy });
      const f = compile([x, y, ux, uy], [jv as never], { mode: "NONE", checked: true });
      const [r] = f([0.3, -0.7], [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], [1, 2], [[1, 0, 0], [0, 0, 10]]);
      assert.deepEqual(r.toNested(), [[2, 1, 1], [2, 2, 12]]);
    });

    it(`${strategy}: pullback of both partial gradients of a lazy node w.r.t. its cotangent`, () => {
      const x = xtensor("x", { dims: ["a"], shape: [2] });
      const y = xtensor("y", { dims: ["a", "b"], shape: [2, 3] });
      const u = xtensor("u", { dims: ["a", "b"], shape: [2, 3] });
      const [gx, gy] = pullback([px.add(x, y)], [x, y], [u]);
      const tx = xtensor("tx", { dims: ["a"], shape: [2] });
      const ty = xtensor("ty", { dims: ["a", "b"], shape: [2, 3] });
      const [h] = pullback([gx, gy], [u], [tx, ty], { gradStrategy: strategy, onWarning: () => assert.fail("no warning expected") });
      const f = compile([x, y, u, tx, ty], [h], { mode: "NONE" });
      const [r] = f([0.3, -0.7], [[1, 2, 3], [4, 5, 6]], [[1, 1, 1], [1, 1, 1]], [1, 2], [[0, 0, 0], [0, 0, 10]]);
      assert.deepEqual(r.toNested(), [[1, 1, 1], [2, 2, 12]]);
    });
  }
});
