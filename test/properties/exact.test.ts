import { strict as assert } from "node:assert";
import type { Variable } from "../../src/graph/basic.js";
import { compile } from "../../src/compile/function.js";
import { constant, tensor } from "../../src/tensor/basic.js";
import { Elemwise, add, exp } from "../../src/tensor/elemwise.js";
import { nodeRewriter, RewriteContext } from "../../src/rewriting/engine.js";
import { NodeRewriterGroup, SequenceDB, rewriteGraph } from "../../src/rewriting/db.js";
import { NDArray } from "../../src/ndarray/ndarray.js";
import { compareExactRecords, compareRecords, toArrayValue } from "../../properties/compare.js";

describe("properties: bit-exact comparison (rewrite-soundness's FAST_COMPILE stage)", () => {
  it("tells -0 from +0 and accepts NaN for NaN, where the tolerance comparison sees no difference", () => {
    const a = { x: { shape: [3], dtype: "float64", data: [-0, NaN, 1] } };
    const b = { x: { shape: [3], dtype: "float64", data: [0, NaN, 1] } };
    assert.equal(compareRecords(a, b, "v", 1e-9, 0).ok, true);
    const r = compareExactRecords(a, b, "v");
    assert.equal(r.ok, false);
    assert.match(r.reason ?? "", /v x\[0\]: -0 but the reference has 0 \(bit-exact required\)/);
    assert.equal(compareExactRecords(b, b, "v").ok, true);
  });

  it("catches the unsound fold the canonicalize policy forbids: float x + 0.0 → x turns -0.0 + 0.0 = +0 into -0", () => {
    // The fold PyTensor makes and xgrad's local_neutral_element refuses, in a database of its own.
    const unsound = nodeRewriter("unsound_add_zero", [Elemwise], (_fg, node) => {
      const [a, b] = node.inputs;
      const zero = b.owner === null && "value" in b && (b as unknown as { value: NDArray }).value.toFlat().every((v) => v === 0);
      return (node.op as Elemwise).props.scalar === "add" && zero && a.type.equals(node.outputs[0].type) ? [a] : null;
    });
    const db = new SequenceDB();
    const g = new NodeRewriterGroup("canonicalize");
    g.add(unsound, ["fast_compile"]);
    db.register("canonicalize", 1, ["fast_compile"], g);
    const x = tensor("x", { shape: [2], dtype: "float64" });
    const out: Variable = exp(add(x, constant(0, "float64")));
    const s = add(x, constant(0, "float64"));
    const [rewritten] = rewriteGraph([s], { db, include: ["fast_compile"] });
    const none = compile([x], [s], { mode: "NONE" });
    const bad = compile([x], [rewritten], { mode: "NONE" });
    const at = NDArray.fromFlat([-0, 1], [2], "float64");
    const want = { s: toArrayValue(s, none(at)[0]) };
    const got = { s: toArrayValue(rewritten, bad(at)[0]) };
    assert.equal(compareRecords(got, want, "s", 1e-9, 0).ok, true, "a tolerance cannot see it");
    assert.match(compareExactRecords(got, want, "value of node").reason ?? "", /s\[0\]: -0 but the reference has 0/);
    // The real FAST_COMPILE keeps it exact.
    const real = compile([x], [out, s], { mode: "FAST_COMPILE", checked: true, ctx: new RewriteContext({ checked: true }) });
    assert.ok(Object.is(real(at)[1].toFlat()[0], 0));
  });
});
