import { strict as assert } from "node:assert";
import type { Apply, Variable } from "../../src/graph/basic.js";
import { FunctionGraph } from "../../src/graph/fgraph.js";
import type { Feature } from "../../src/graph/features.js";
import { equilibrium, type GraphRewriter, inToOut, nodeRewriter, outToIn, RewriteContext, RewriteLoopError, sequence } from "../../src/rewriting/engine.js";
import { InconsistencyError, InvariantError } from "../../src/errors.js";
import { ap, MyOp, op1, op2, op3, toyVar } from "../graph/utils.js";

/** op1(v) -> op2(v) */
const op1ToOp2 = nodeRewriter("op1_to_op2", [MyOp], (_fg, node) => (node.op === op1 ? [op2.makeNode(...node.inputs).out] : null));
/** op2(v) -> op3(v) */
const op2ToOp3 = nodeRewriter("op2_to_op3", [MyOp], (_fg, node) => (node.op === op2 ? [op3.makeNode(...node.inputs).out] : null));
/** op3(v) -> op1(v): with the two above, a loop */
const op3ToOp1 = nodeRewriter("op3_to_op1", [MyOp], (_fg, node) => (node.op === op3 ? [op1.makeNode(...node.inputs).out] : null));

function chain(ops: MyOp[]): { fg: FunctionGraph; x: Variable } {
  const x = toyVar("x");
  let v = x;
  for (const op of ops) v = ap(op, v);
  return { fg: new FunctionGraph([x], [v]), x };
}

const names = (fg: FunctionGraph): string[] => fg.toposort().map((n) => n.op.name);

describe("rewriting/engine", () => {
  it("inToOut visits inputs first; outToIn outputs first", () => {
    for (const [mk, expected] of [
      [inToOut, ["op1", "op2"]],
      [outToIn, ["op2", "op1"]],
    ] as const) {
      const seen: string[] = [];
      const spy = nodeRewriter("spy", null, (_fg, n) => {
        seen.push(n.op.name);
        return null;
      });
      const { fg } = chain([op1, op2]);
      mk([spy]).apply(fg, new RewriteContext());
      assert.deepEqual(seen, expected);
    }
  });

  it("walkers visit newly imported nodes unless ignoreNewtrees", () => {
    const { fg } = chain([op1]);
    outToIn([op1ToOp2, op2ToOp3]).apply(fg, new RewriteContext());
    assert.deepEqual(names(fg), ["op3"], "the new op2 node was visited and rewritten too");
    const g = chain([op1]).fg;
    outToIn([op1ToOp2, op2ToOp3], { ignoreNewtrees: true }).apply(g, new RewriteContext());
    assert.deepEqual(names(g), ["op2"]);
  });

  it("equilibrium runs to a fixpoint and counts fired rewrites by name", () => {
    const { fg } = chain([op1, op2, op1]);
    const ctx = new RewriteContext();
    equilibrium("eq", [op1ToOp2, op2ToOp3]).apply(fg, ctx);
    assert.deepEqual(names(fg), ["op3", "op3", "op3"]);
    assert.equal(ctx.fired.get("op1_to_op2"), 2);
    assert.equal(ctx.fired.get("op2_to_op3"), 3);
    fg.checkIntegrity();
  });

  it("checked mode refuses a pass that records a firing under a name it does not declare (coverage reports list the declared ones)", () => {
    // A graph pass that records its node rule's name but declares only its own (the default).
    const undeclared: GraphRewriter = {
      name: "renamer",
      apply(fg, ctx) {
        outToIn([op1ToOp2]).apply(fg, ctx);
      },
    };
    const declared: GraphRewriter = { ...undeclared, ruleNames: ["op1_to_op2"] };
    const run = (p: GraphRewriter, checked: boolean): RewriteContext => {
      const ctx = new RewriteContext({ checked });
      sequence("seq", [p], ["renamer"]).apply(chain([op1]).fg, ctx);
      return ctx;
    };
    assert.throws(
      () => run(undeclared, true),
      (e: unknown) =>
        e instanceof InvariantError &&
        e.message === 'checked mode: pass renamer recorded "op1_to_op2" as fired, which is not one of the rule names it declares ("renamer"): coverage reports would count a rule they do not list',
    );
    assert.equal(run(undeclared, false).fired.get("op1_to_op2"), 1, "unchecked, the run goes on (the check is checked mode's)");
    assert.equal(run(declared, true).fired.get("op1_to_op2"), 1, "a declared name passes");
    // A name an earlier pass recorded is judged by what this pass adds, not by what it finds.
    const ctx = new RewriteContext({ checked: true });
    ctx.recordFired("elsewhere");
    sequence("seq", [declared], ["renamer"]).apply(chain([op1]).fg, ctx);
    assert.equal(ctx.fired.get("elsewhere"), 1);
  });

  it("equilibrium's use budget stops a rewrite loop with an error naming the rewriter", () => {
    const { fg } = chain([op1]);
    assert.throws(
      () => equilibrium("loopy", [op1ToOp2, op2ToOp3, op3ToOp1], { maxUseRatio: 5 }).apply(fg, new RewriteContext()),
      (e: Error) => e instanceof RewriteLoopError && /loopy/.test(e.message) && /"op\d_to_op\d"/.test(e.message),
    );
    fg.checkIntegrity();
    const g = chain([op1]).fg;
    const ctx = new RewriteContext({ onOptError: "ignore" });
    equilibrium("loopy", [op1ToOp2, op2ToOp3, op3ToOp1], { maxUseRatio: 5 }).apply(g, ctx);
    assert.equal(ctx.report.budgetExceeded.length, 1);
    g.checkIntegrity();
  });

  it("under warn/ignore a rejected rewrite is reverted, never half-applied, and reported", () => {
    // Reject any graph containing op3, after the first of two replacements has been made.
    const veto: Feature = {
      onValidate: (g) => {
        if ([...g.applyNodes].some((n) => n.op === op3)) throw new InconsistencyError("no op3 allowed");
      },
    };
    const x = toyVar("x");
    const two = new MyOp("two", { nout: 2 }).makeNode(x);
    const out = ap(op1, two.outputs[0], two.outputs[1]);
    const fg = new FunctionGraph([x], [out], { features: [veto] });
    const before = names(fg);
    const both = nodeRewriter("split", [MyOp], (_g, n) => (n.op.name === "two" ? [ap(op2, n.inputs[0]), ap(op3, n.inputs[0])] : null));
    const ctx = new RewriteContext({ onOptError: "ignore" });
    inToOut([both]).apply(fg, ctx);
    assert.deepEqual(names(fg), before);
    fg.checkIntegrity();
    assert.equal(ctx.report.failures.length, 1);
    assert.equal(ctx.report.failures[0].rewrite, "split");
    assert.ok(ctx.report.failures[0].error instanceof InconsistencyError);
    assert.equal(ctx.fired.get("split"), undefined);
  });

  it("under raise a failing transform propagates, its message naming the rewrite and node", () => {
    const boom = nodeRewriter("boom", null, () => {
      throw new Error("kaput");
    });
    const { fg } = chain([op1]);
    assert.throws(() => inToOut([boom]).apply(fg, new RewriteContext({ onOptError: "raise" })), /rewrite boom on op1.*kaput/);
  });

  it("an InvariantError is never swallowed, even under ignore", () => {
    const bad = nodeRewriter("bad", null, () => {
      throw new InvariantError("corrupt");
    });
    const { fg } = chain([op1]);
    assert.throws(() => inToOut([bad]).apply(fg, new RewriteContext({ onOptError: "ignore" })), InvariantError);
  });

  it("a replacement list of the wrong length is an InvariantError", () => {
    const wrong = nodeRewriter("wrong", null, (_g, n: Apply) => [n.outputs[0], n.outputs[0]]);
    const { fg } = chain([op1]);
    assert.throws(() => inToOut([wrong]).apply(fg, new RewriteContext({ onOptError: "ignore" })), /returned 2 replacements for 1 outputs/);
  });

  it("map results are accepted", () => {
    const m = nodeRewriter("map", [MyOp], (_g, n) => (n.op === op1 ? new Map([[n.outputs[0], ap(op2, n.inputs[0])]]) : null));
    const { fg } = chain([op1]);
    inToOut([m]).apply(fg, new RewriteContext());
    assert.deepEqual(names(fg), ["op2"]);
  });
});
