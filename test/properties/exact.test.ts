import { strict as assert } from "node:assert";
import type { Variable } from "../../src/graph/basic.js";
import { compile } from "../../src/compile/function.js";
import { constant, tensor } from "../../src/tensor/basic.js";
import { Elemwise, add, exp } from "../../src/tensor/elemwise.js";
import { nodeRewriter, RewriteContext } from "../../src/rewriting/engine.js";
import { NodeRewriterGroup, SequenceDB, rewriteGraph } from "../../src/rewriting/db.js";
import { NDArray } from "../../src/ndarray/ndarray.js";
import { compareArrays, compareExactRecords, compareRecords, compareSpecial, toArrayValue } from "../../properties/compare.js";

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

describe("properties: FAST_RUN at IEEE special inputs (compareSpecial)", () => {
  const v = (data: number[]) => ({ shape: [data.length], dtype: "float64", data });
  // n1 = log(1 + x) (FAST_RUN: log1p(x)), n2 = 1 / n1, n3 = 1 / x: x = -0 is planted.
  const nodes = [
    { id: "n1", op: "log1p", args: ["x"] },
    { id: "n2", op: "div", args: [1, "n1"] },
    { id: "n3", op: "div", args: [1, "x"] },
  ] as never;

  it("accepts an infinity of the other sign downstream of a zero whose sign a stabilization moved", () => {
    const none = { n1: v([0]), n2: v([Infinity]), n3: v([-Infinity]) };
    const fast = { n1: v([-0]), n2: v([-Infinity]), n3: v([-Infinity]) };
    assert.equal(compareSpecial(fast, none, 1e-9, 0, nodes).ok, true);
  });

  it("still refuses a flipped infinity with no moved zero upstream, and a flipped zero itself is no licence elsewhere", () => {
    const none = { n1: v([0]), n2: v([Infinity]), n3: v([-Infinity]) };
    const r = compareSpecial({ n1: v([0]), n2: v([-Infinity]), n3: v([-Infinity]) }, none, 1e-9, 0, nodes);
    assert.equal(r.ok, false);
    assert.match(r.reason ?? "", /FAST_RUN node n2\[0\] is -Infinity but NONE gives Infinity/);
    // n3 does not read n1: a moved zero in n1 does not excuse n3.
    const r3 = compareSpecial({ n1: v([-0]), n2: v([-Infinity]), n3: v([Infinity]) }, none, 1e-9, 0, nodes);
    assert.equal(r3.ok, false);
    assert.match(r3.reason ?? "", /node n3\[0\]/);
  });
});

describe("properties: comparing two derivations of one gradient (compareArrays' nonFinite flag)", () => {
  const v = (data: number[]) => ({ shape: [data.length], dtype: "float64", data });
  it("flags a mismatch between two non-finite values, never one between a finite and a non-finite value", () => {
    assert.equal(compareArrays(v([1, NaN]), v([1, -Infinity]), "g").nonFinite, true);
    assert.equal(compareArrays(v([Infinity]), v([-Infinity]), "g").nonFinite, true);
    const finiteVsNaN = compareArrays(v([NaN]), v([2]), "g");
    assert.equal(finiteVsNaN.ok, false);
    assert.equal(finiteVsNaN.nonFinite, undefined);
    assert.equal(compareArrays(v([2]), v([Infinity]), "g").nonFinite, undefined);
    assert.equal(compareArrays(v([NaN, Infinity]), v([NaN, Infinity]), "g").ok, true);
  });
});
