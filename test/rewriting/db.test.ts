import { strict as assert } from "node:assert";
import type { Apply, Variable } from "../../src/graph/basic.js";
import { GraphError } from "../../src/errors.js";
import { inToOut, nodeRewriter, RewriteContext } from "../../src/rewriting/engine.js";
import { NodeRewriterGroup, optdb, RESERVED_POSITIONS, rewriteGraph, SequenceDB } from "../../src/rewriting/db.js";
import { ap, MyOp, op1, op2, op3, toyVar } from "../graph/utils.js";

const op1ToOp2 = nodeRewriter("op1_to_op2", [MyOp], (_fg, n) => (n.op === op1 ? [ap(op2, ...n.inputs)] : null));
const op2ToOp3 = nodeRewriter("op2_to_op3", [MyOp], (_fg, n) => (n.op === op2 ? [ap(op3, ...n.inputs)] : null));

function testDb(): SequenceDB {
  const db = new SequenceDB();
  db.reserve("late", 5);
  db.register("late", 5, ["fast_run"], inToOut([op2ToOp3], { name: "late" }));
  db.register("early", 1, ["required"], inToOut([op1ToOp2], { name: "early" }));
  return db;
}

const opsOf = (v: Variable): string[] => {
  const out: string[] = [];
  for (let n: Apply | null = v.owner; n !== null; n = n.inputs[0]?.owner ?? null) out.push(n.op.name);
  return out;
};

describe("rewriting/db", () => {
  it("runs passes in position order, selected by tags and names", () => {
    const x = toyVar("x");
    const out = ap(op1, x);
    const db = testDb();
    assert.deepEqual(
      db.list().map((e) => e.name),
      ["early", "late"],
    );
    assert.deepEqual(opsOf(rewriteGraph([out], { db, mode: "FAST_RUN" })[0]), ["op3"]);
    assert.deepEqual(opsOf(rewriteGraph([out], { db, mode: "NONE" })[0]), ["op2"], "NONE runs only required passes");
    assert.deepEqual(opsOf(rewriteGraph([out], { db, include: ["late"] })[0]), ["op1"]);
    assert.deepEqual(opsOf(rewriteGraph([out], { db, include: ["required", "fast_run"], exclude: ["late"] })[0]), ["op2"]);
  });

  it("rewriteGraph never mutates its argument when cloning, and counts fired rewrites", () => {
    const x = toyVar("x");
    const out = ap(op2, ap(op1, x));
    const ctx = new RewriteContext();
    const [r] = rewriteGraph([out], { db: testDb(), ctx });
    assert.deepEqual(opsOf(out), ["op2", "op1"]);
    assert.deepEqual(opsOf(r), ["op3", "op3"]);
    assert.equal(ctx.fired.get("op1_to_op2"), 1);
    assert.equal(ctx.fired.get("op2_to_op3"), 2);
    // Inputs are shared: the result is expressed over the caller's x.
    assert.equal((r.owner as Apply).inputs[0].owner?.inputs[0], x);
  });

  it("rewriteGraph with clone=false rewires the caller's nodes", () => {
    const x = toyVar("x");
    const out = ap(op3, ap(op1, x));
    rewriteGraph([out], { db: testDb(), mode: "NONE", clone: false });
    assert.deepEqual(opsOf(out), ["op3", "op2"]);
  });

  it("reserved names must use their contract position; names are unique", () => {
    const db = testDb();
    assert.throws(() => db.register("early", 2, [], inToOut([])), GraphError);
    const d2 = new SequenceDB();
    d2.reserve("lower_xtensor", 0.09);
    assert.throws(() => d2.register("lower_xtensor", 0.1, ["required"], inToOut([])), /reserved at position 0.09/);
    assert.equal(RESERVED_POSITIONS.merge2, 49.9);
  });

  it("optdb holds the contract's passes; FAST_COMPILE runs only fast_compile rules of a group", () => {
    const names = optdb.list().map((e) => e.name);
    for (const n of ["merge1", "canonicalize", "stabilize", "specialize", "merge2"]) assert.ok(names.includes(n), n);
    const group = new NodeRewriterGroup("g");
    group.add(op1ToOp2, ["fast_compile"]);
    group.add(op2ToOp3);
    const db = new SequenceDB();
    db.register("g", 1, ["fast_run", "fast_compile"], group);
    const x = toyVar("x");
    assert.deepEqual(opsOf(rewriteGraph([ap(op1, x)], { db, mode: "FAST_COMPILE" })[0]), ["op2"]);
    assert.deepEqual(opsOf(rewriteGraph([ap(op1, x)], { db, mode: "FAST_RUN" })[0]), ["op3"]);
    assert.throws(() => group.add(op1ToOp2), /already registered/);
  });

  it("the default optdb merges duplicates in FAST_COMPILE (checked)", () => {
    const x = toyVar("x");
    const out = ap(new MyOp("join"), ap(op1, x), ap(op1, x));
    const [r] = rewriteGraph([out], { mode: "FAST_COMPILE", checked: true });
    assert.equal(r.owner?.inputs[0], r.owner?.inputs[1]);
  });
});
