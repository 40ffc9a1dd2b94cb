import { strict as assert } from "node:assert";
import type { Apply, Variable } from "../../src/graph/basic.js";
import { FunctionGraph } from "../../src/graph/fgraph.js";
import { DestroyHandler } from "../../src/rewriting/destroyhandler.js";
import { InconsistencyError, InvariantError } from "../../src/errors.js";
import { ap, destroyOp, MyOp, op1, op2, toyConst, toyVar, viewOp } from "../graph/utils.js";

/** destroys input 0, reads input 1 */
const destroy2 = new MyOp("destroy2", { destroyMap: { 0: [0] } });

function build(outputs: Variable[], inputs: Variable[], mutable: Variable[] = []): { fg: FunctionGraph; dh: DestroyHandler } {
  const dh = new DestroyHandler({ mutableInputs: mutable });
  const fg = new FunctionGraph(inputs, outputs, { clone: false, features: [dh] });
  return { fg, dh };
}

function rejects(outputs: Variable[], inputs: Variable[], pattern: RegExp, mutable: Variable[] = []): void {
  const { fg, dh } = build(outputs, inputs, mutable);
  dh.checkConsistency();
  assert.throws(() => fg.validate(), (e: Error) => e instanceof InconsistencyError && pattern.test(e.message));
}

const byName = (fg: FunctionGraph, name: string): Apply => [...fg.applyNodes].find((n) => n.op.name === name) as Apply;

describe("rewriting/destroyhandler", () => {
  describe("rejections", () => {
    it("multiple destroyers of one tree", () => {
      const x = toyVar("x");
      const t = ap(op1, x);
      rejects([ap(op2, ap(destroyOp, t), ap(destroy2, ap(viewOp, t)))], [x], /Multiple destroyers/);
    });

    it("a destroyed constant (through a view)", () => {
      const x = toyVar("x");
      rejects([ap(op2, ap(destroyOp, ap(viewOp, toyConst([1, 2]))), x)], [x], /constant/);
    });

    it("input aliasing inside a destroyer", () => {
      const x = toyVar("x");
      const t = ap(op1, x);
      rejects([ap(destroy2, t, ap(viewOp, t))], [x], /Input aliasing/);
    });

    it("a destroyed graph input (unless declared mutable)", () => {
      const x = toyVar("x");
      rejects([ap(destroyOp, ap(viewOp, x))], [x], /protected graph input x/);
      const { fg } = build([ap(destroyOp, x)], [x], [x]);
      fg.validate();
    });

    it("a destroyed graph output", () => {
      const x = toyVar("x");
      const t = ap(op1, x);
      rejects([t, ap(destroyOp, t)], [x], /protected graph output/);
    });

    it("a reader that needs the destroyer's result but must run before it (a cycle)", () => {
      const x = toyVar("x");
      const t = ap(op1, x);
      const d = ap(destroyOp, t);
      // op2 reads both the destroyed t and the destroyer's output: it must run before and after.
      rejects([ap(op2, t, d)], [x], /cycles/);
    });

    it("a valid in-place graph passes", () => {
      const x = toyVar("x");
      const t = ap(op1, x);
      const { fg } = build([ap(destroyOp, t)], [x]);
      fg.validate();
    });
  });

  describe("orderings", () => {
    it("a direct reader of the destroyed variable runs before the destroyer", () => {
      const x = toyVar("x");
      const t = ap(op1, x);
      const r = ap(op2, t);
      const d = ap(destroyOp, t);
      const { fg, dh } = build([ap(MyOpJoin, r, d)], [x]);
      const ord = dh.orderings(fg);
      assert.deepEqual([...(ord.get(d.owner as Apply) ?? [])], [r.owner]);
      const order = fg.toposort();
      assert.ok(order.indexOf(r.owner as Apply) < order.indexOf(d.owner as Apply));
      fg.validate();
    });

    it("a reader of a view of the destroyed tree runs before the destroyer", () => {
      const x = toyVar("x");
      const t = ap(op1, x);
      const v = ap(viewOp, t);
      const r = ap(op2, v);
      const d = ap(destroyOp, t);
      const { fg, dh } = build([ap(MyOpJoin, r, d)], [x]);
      const before = dh.orderings(fg).get(d.owner as Apply) ?? new Set();
      assert.ok(before.has(r.owner as Apply) && before.has(v.owner as Apply));
      const order = fg.toposort();
      assert.ok(order.indexOf(r.owner as Apply) < order.indexOf(d.owner as Apply));
    });
  });

  describe("bookkeeping", () => {
    it("stays consistent through replace, prune and revert", () => {
      const x = toyVar("x");
      const t = ap(op1, x);
      const v = ap(viewOp, t);
      const out = ap(op2, v, ap(destroyOp, ap(op1, x)));
      const { fg, dh } = build([out], [x]);
      dh.checkConsistency();
      const chk = fg.checkpoint();
      fg.replace(v, ap(viewOp, ap(op2, x)), "t");
      dh.checkConsistency();
      fg.revert(chk);
      dh.checkConsistency();
      fg.checkIntegrity();
    });

    it("a node reading one variable in two slots (x * x) prunes and reverts cleanly", () => {
      const x = toyVar("x");
      const t = ap(op1, x);
      const sq = ap(MyOpJoin, t, t);
      const { fg, dh } = build([ap(op2, sq)], [x]);
      const chk = fg.checkpoint();
      fg.replace(sq, x, "t");
      dh.checkConsistency();
      fg.revert(chk);
      dh.checkConsistency();
      fg.checkIntegrity();
    });

    it("checkConsistency catches node.inputs tampering", () => {
      const x = toyVar("x");
      const y = toyVar("y");
      const v = ap(viewOp, ap(op1, x));
      const { dh } = build([ap(op2, v, y)], [x, y]);
      (v.owner as Apply).inputs[0] = y;
      assert.throws(() => dh.checkConsistency(), (e: Error) => e instanceof InvariantError && /clients of|view/.test(e.message));
    });

    it("a prune after tampering is an InvariantError naming the node, not a bare KeyError", () => {
      const x = toyVar("x");
      const y = toyVar("y");
      const a = ap(op1, x);
      const b = ap(op2, a);
      const { fg } = build([b], [x, y]);
      (a.owner as Apply).inputs[0] = y; // behind the graph's back
      assert.throws(
        () => fg.replace(b, y, "t"),
        (e: Error) => e instanceof InvariantError && /DestroyHandler\.onPrune: op1.* reads y in 1 slot\(s\) but is recorded as 0/.test(e.message),
      );
    });

    it("the handler's own callbacks assert their lookups (onPrune, onChangeInput)", () => {
      const x = toyVar("x");
      const y = toyVar("y");
      const a = ap(op1, x);
      const { fg, dh } = build([ap(op2, a)], [x, y]);
      const aNode = a.owner as Apply;
      aNode.inputs[0] = y; // the handler recorded aNode under x
      assert.throws(() => dh.onPrune(fg, aNode), (e: Error) => e instanceof InvariantError && /DestroyHandler\.onPrune: .*op1.* reads y in 1 slot\(s\) but is recorded as 0/.test(e.message));
      assert.throws(() => dh.onChangeInput(fg, aNode, 0, toyVar("z"), y), (e: Error) => e instanceof InvariantError && /DestroyHandler\.onChangeInput/.test(e.message));
      assert.throws(() => dh.onChangeInput(fg, aNode, 0, x, x), (e: Error) => e instanceof InvariantError && /not the announced/.test(e.message));
      assert.throws(() => dh.onImport(fg, aNode), /double import/);
    });

    it("hasDirectDestroyer, hasDestroyers and destroyersOf", () => {
      const x = toyVar("x");
      const t = ap(op1, x);
      const v = ap(viewOp, t);
      const d = ap(destroyOp, t);
      const { dh } = build([ap(MyOpJoin, d, ap(op2, v))], [x]);
      assert.ok(dh.hasDirectDestroyer(t));
      assert.ok(!dh.hasDirectDestroyer(v));
      assert.ok(dh.hasDestroyers([v]));
      assert.deepEqual(dh.destroyersOf(v), [d.owner]);
      assert.deepEqual(dh.destroyersOf(x), []);
    });

    it("a second DestroyHandler declines to attach", () => {
      const x = toyVar("x");
      const { fg, dh } = build([ap(op1, x)], [x]);
      fg.attachFeature(new DestroyHandler());
      assert.deepEqual(
        fg.getFeatures().filter((f) => f instanceof DestroyHandler),
        [dh],
      );
    });
  });

  describe("inplaceCandidates", () => {
    it("offers a dead intermediate, refuses inputs, constants, shared and destroyed trees", () => {
      const x = toyVar("x");
      const c = toyConst([1, 2]);
      const t = ap(op1, x); // read only by the node
      const s = ap(op2, x); // also read elsewhere
      const node = new MyOp("four").makeNode(t, x, c, s);
      const { fg, dh } = build([ap(MyOpJoin, node.out, ap(op1, s))], [x]);
      assert.deepEqual(dh.inplaceCandidates(node), [0]);
      assert.ok(byName(fg, "four"));
    });

    it("a tree read through a view only by the node itself is a candidate once", () => {
      const x = toyVar("x");
      const t = ap(op1, x);
      const node = new MyOp("two_in").makeNode(t, ap(viewOp, t));
      const { dh } = build([node.out], [x]);
      assert.deepEqual(dh.inplaceCandidates(node), [], "both slots alias one tree: input aliasing either way");
    });
  });
});

/** A two-input toy op used to join branches into one output. */
const MyOpJoin = new MyOp("join");
