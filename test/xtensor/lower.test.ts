import assert from "node:assert/strict";
import { type Apply, Constant, type Variable } from "../../src/graph/basic.js";
import { toposort } from "../../src/graph/traversal.js";
import { optdb } from "../../src/rewriting/db.js";
import { tensor } from "../../src/tensor/basic.js";
import { Rename, TensorFromXTensor, XTensorFromTensor, asXTensor } from "../../src/xtensor/basic.js";
import { concat, broadcast } from "../../src/xtensor/shape.js";
import { lower } from "../../src/xtensor/lower.js";
import { XOp, hasNamedOps, isXOp } from "../../src/xtensor/op.js";
import { xconstant, xtensor } from "../../src/xtensor/type.js";
import { close, iota, run, run1 } from "./helpers.js";

/** Every node of the graph with a copy of its inputs, to detect mutation. */
function snapshot(outputs: readonly Variable[]): [Apply, Variable[]][] {
  return toposort(outputs).map((n) => [n, [...n.inputs]]);
}

function buildEverything() {
  const x = xtensor("x", { dims: ["a", "b", "c"], shape: [2, 3, 4] });
  const y = xtensor("y", { dims: ["c", "d"], shape: [4, 2] });
  const i = xtensor("i", { dims: ["k"], shape: [2], dtype: "int64" });
  const e = x.exp().mul(y).add(1).where(x.gt(0.5), 0);
  const r = e.sum({ dims: ["d"] }).mean({ dims: ["a"] }).std({ dims: ["b"], ddof: 1 });
  const d = x.dot(y).cumsum("b").cumprod("a");
  const s = d.stack("z", ["d", "a"]).unstack("z", [["d", 2], ["a", 2]]).transpose("...", "b");
  const t = s.rename({ d: "q" }).expandDims("n").squeeze("n");
  const c = concat([t, x.isel({ c: 0 }), y.isel({ c: 1, d: 0 })], "a");
  const [b1] = broadcast([c, y], { exclude: ["c"] });
  const u = x.isel({ b: i, c: [null, null, -1] }).inc(1).isel({ a: 1 }).set(x.isel({ a: 0 }).max());
  const cost = b1.sum().add(r.sum()).add(u.prod()).add(x.var().mul(xconstant(2))).add(x.all().cast("float64"));
  return { x, y, i, cost, outs: [cost, u, b1, e, r] };
}

describe("xtensor/lower", () => {
  it("leaves no named op behind", () => {
    const { outs } = buildEverything();
    assert.ok(hasNamedOps(outs));
    const lowered = lower(outs);
    assert.ok(!hasNamedOps(lowered));
    for (const n of toposort(lowered)) assert.ok(!isXOp(n.op), n.op.toString());
    // Conversions remain only at the boundary: each XTensorFromTensor is a graph output.
    const lowNodes = toposort(lowered);
    for (const n of lowNodes) {
      if (n.op instanceof XTensorFromTensor) assert.ok(lowered.includes(n.out), `interior ${n.toString()}`);
      if (n.op instanceof TensorFromXTensor) assert.ok(n.inputs[0].owner === null, `interior ${n.toString()}`);
    }
  });

  it("never mutates its argument, and keeps the same input variables", () => {
    const { x, y, i, outs } = buildEverything();
    const before = snapshot(outs);
    const lowered = lower(outs);
    for (const [n, inputs] of snapshot(outs)) assert.ok(before.some(([m, ins]) => m === n && ins.every((v, k) => v === inputs[k])));
    assert.equal(snapshot(outs).length, before.length);
    assert.ok(hasNamedOps(outs), "the argument still holds its named ops");
    const roots = new Set(toposort(lowered).flatMap((n) => n.inputs.filter((v) => v.owner === null && !(v instanceof Constant))));
    for (const r of roots) assert.ok([x, y, i].includes(r as never), `unexpected root ${r.toString()}`);
    // Lowered outputs keep the named output types (dims order included).
    lowered.forEach((v, k) => assert.ok(outs[k].type.isSuper(v.type), `${outs[k].type.toString()} vs ${v.type.toString()}`));
  });

  it("the lowered graph evaluates (and twice lowering gives the same values)", () => {
    const { x, y, i, cost } = buildEverything();
    const g: [Variable, number | number[] | number[][] | number[][][]][] = [
      [x, (iota([2, 3, 4]) as number[][][]).map((p) => p.map((q) => q.map((v) => 0.1 + v / 30)))],
      [y, [[0.5, 0.25], [1, 2], [0.75, 1.5], [1.25, 0.5]]],
      [i, [2, 0]],
    ];
    const a = run1(cost, g) as number;
    assert.ok(Number.isFinite(a));
    close(run([lower([cost])[0]], g)[0], a);
  });

  it("cancels value/label round trips: TensorFromXTensor(XTensorFromTensor(t)) is t", () => {
    const t = tensor("t", { shape: [2, 3] });
    const [v] = lower([asXTensor(t, ["a", "b"]).exp().values]);
    assert.ok(!toposort([v]).some((n) => n.op instanceof XTensorFromTensor || n.op instanceof TensorFromXTensor));
    assert.equal(lower([asXTensor(t, ["a", "b"]).values])[0], t);
  });

  it("XTensorFromTensor(TensorFromXTensor(x)) is x only when the dims are equal; otherwise a relabel", () => {
    const x = xtensor("x", { dims: ["a", "b"], shape: [2, 2] });
    assert.equal(lower([asXTensor(x.values, ["a", "b"])])[0], x);
    const [r] = lower([asXTensor(x.values, ["b", "a"])]);
    assert.ok(r.owner?.op instanceof Rename && r.owner.inputs[0] === x, "a relabel stays a relabel, never a transpose");
    // Square shape: a transpose would change the values.
    assert.deepEqual(run1(asXTensor(x.values, ["b", "a"]).add(x), [[x, [[1, 2], [3, 4]]]]), [[2, 5], [5, 8]]);
  });

  it("collapses chained renames", () => {
    const x = xtensor("x", { dims: ["a", "b"], shape: [2, 3] });
    const [r] = lower([x.rename({ a: "p" }).rename({ p: "q" })]);
    assert.ok(r.owner?.op instanceof Rename && r.owner.inputs[0] === x);
    assert.deepEqual((r.owner.op as Rename).props.dims, ["q", "b"]);
    assert.equal(lower([x.rename({ a: "p" }).rename({ p: "a" })])[0], x);
  });

  it("is registered in optdb at 0.09 as a required pass, and runs in checked mode", () => {
    const e = optdb.list().find((p) => p.name === "lower_xtensor");
    assert.ok(e);
    assert.equal(e.position, 0.09);
    assert.deepEqual([...e.tags].sort(), ["lower_xtensor", "required"]);
    const { outs } = buildEverything();
    assert.ok(!hasNamedOps(lower(outs, { checked: true })));
  });

  it("XOp instances are recognised", () => {
    const x = xtensor("x", { dims: ["a"] });
    assert.ok(x.sum().owner!.op instanceof XOp);
    assert.ok(isXOp(x.sum().owner!.op));
    assert.ok(!isXOp(x.values.owner!.op));
    assert.ok(!hasNamedOps([x.values]));
  });
});
