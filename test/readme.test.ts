/**
 * The README's examples, kept runnable: if this file fails, README is lying.
 */
import assert from "node:assert/strict";
import { asXTensor, compile, grad, lowerThenGrad, pt, px, tensor, xtensor } from "../src/index.js";

describe("README examples", () => {
  it("the headline: grad through un-lowered dot/mul/sum w.r.t. a positional weight", () => {
    const W = tensor("W", { shape: [3, 2] });
    const x = xtensor("x", { dims: ["a"], shape: [3] });
    const y = px.dot(x, asXTensor(W, ["a", "b"]), ["a"]);
    const loss = y.mul(y).sum().values;
    const gW = grad(loss, W);
    assert.equal(gW.owner?.op.name, "Pullback");
    const args = [[0, 1, 2], [[1, 1], [1, 1], [1, 1]]];
    const expected = [[0, 0], [6, 6], [12, 12]];
    assert.deepEqual(compile([x, W], [gW])(...args)[0].toNested(), expected);
    assert.deepEqual(compile([x, W], [gW], { mode: "NONE", checked: true })(...args)[0].toNested(), expected);
    const [ref] = lowerThenGrad(loss, [W]);
    assert.deepEqual(compile([x, W], [ref!], { mode: "NONE" })(...args)[0].toNested(), expected);
    const gP = grad(loss, W, { gradStrategy: "perNode" });
    assert.deepEqual(compile([x, W], [gP], { checked: true })(...args)[0].toNested(), expected);
  });

  it("build and evaluate a small positional graph", () => {
    const x = tensor("x", { shape: [2, 3] });
    const b = tensor("b", { shape: [3] });
    const y = pt.tanh(pt.add(x, b));
    const cost = pt.sum(pt.mul(y, y));
    const [gx, gb] = grad(cost, [x, b]);
    const f = compile([x, b], [cost, gx, gb], { mode: "FAST_RUN", checked: true });
    const xv = [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]];
    const bv = [1, 2, 3];
    const [c, dx, db] = f(xv, bv);
    let want = 0;
    const wdx = xv.map((row) => row.map(() => 0));
    const wdb = [0, 0, 0];
    xv.forEach((row, i) =>
      row.forEach((v, j) => {
        const t = Math.tanh(v + bv[j]);
        want += t * t;
        wdx[i][j] = 2 * t * (1 - t * t);
        wdb[j] += wdx[i][j];
      }),
    );
    assert.ok(Math.abs((c.toNested() as number) - want) < 1e-12);
    (dx.toFlat() as number[]).forEach((v, k) => assert.ok(Math.abs(v - wdx.flat()[k]) < 1e-12));
    db.toFlat().forEach((v, k) => assert.ok(Math.abs(v - wdb[k]) < 1e-12));
  });
});
