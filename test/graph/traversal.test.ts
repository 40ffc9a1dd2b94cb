import { strict as assert } from "node:assert";
import { Apply, Variable } from "../../src/graph/basic.js";
import { ancestors, applyNodesBetween, clone, graphReplace, toposort, variablesBetween } from "../../src/graph/traversal.js";
import { GraphError, InconsistencyError } from "../../src/errors.js";
import { ap, MyOp, op1, op2, toyConst, toyType, toyVar, twoOut } from "./utils.js";

describe("graph/traversal", () => {
  it("toposort puts every node after its inputs' owners, deterministically", () => {
    const x = toyVar("x");
    const a = ap(op1, x);
    const b = ap(op2, a, x);
    const c = ap(op1, b, a);
    const order = toposort([c]);
    assert.deepEqual(order, [a.owner, b.owner, c.owner]);
    assert.deepEqual(toposort([c]), order);
  });

  it("toposort stops at the given inputs", () => {
    const x = toyVar("x");
    const a = ap(op1, x);
    const b = ap(op2, a);
    assert.deepEqual(toposort([b], [a]), [b.owner]);
  });

  it("toposort honours orderings and reports a cycle through them", () => {
    const x = toyVar("x");
    const a = ap(op1, x);
    const b = ap(op2, x);
    const out = ap(op1, a, b);
    const ab = toposort([out], undefined, { orderings: new Map([[a.owner as Apply, [b.owner as Apply]]]) });
    assert.ok(ab.indexOf(b.owner as Apply) < ab.indexOf(a.owner as Apply));
    const cyc = new Map<Apply, Apply[]>([[a.owner as Apply, [out.owner as Apply]]]);
    assert.throws(() => toposort([out], undefined, { orderings: cyc }), InconsistencyError);
  });

  it("toposort handles a 20,000-node chain without recursion", () => {
    let v: Variable = toyVar("x");
    for (let i = 0; i < 20000; i++) v = ap(op1, v);
    assert.equal(toposort([v]).length, 20000);
    assert.equal(ancestors([v]).length, 20001);
  });

  it("ancestors, applyNodesBetween and variablesBetween", () => {
    const x = toyVar("x");
    const y = toyVar("y");
    const a = ap(op1, x);
    const b = ap(op2, a, y);
    assert.deepEqual(ancestors([b]), [b, a, x, y]);
    assert.deepEqual(ancestors([b], [a]), [b, a, y]);
    assert.deepEqual(applyNodesBetween([a], [b]), [b.owner]);
    assert.deepEqual(new Set(variablesBetween([x, y], [b])), new Set([x, a, y, b]));
  });

  it("clone copies nodes, preserves types, shares roots and constants", () => {
    const x = toyVar("x");
    const c = toyConst([1, 2]);
    const refined = new Apply(op1, [x], [toyType([7])]).out; // a type makeNode would not infer
    const out = ap(op2, refined, c);
    const { outputs, equiv } = clone([out]);
    assert.notEqual(outputs[0], out);
    assert.notEqual(outputs[0].owner, out.owner);
    assert.equal(outputs[0].owner?.inputs[1], c);
    assert.equal(equiv.get(x), x);
    assert.ok(equiv.get(refined)?.type.equals(toyType([7])));
    assert.equal(outputs[0].owner?.inputs[0].owner?.inputs[0], x);
  });

  it("clone with keepRoots=false copies non-constant roots; replace pre-seeds the map", () => {
    const x = toyVar("x");
    const y = toyVar("y");
    const out = ap(op1, ap(op2, x));
    const r1 = clone([out], { keepRoots: false });
    assert.notEqual(r1.equiv.get(x), x);
    assert.equal(r1.equiv.get(x)?.name, "x");
    const r2 = clone([out], { replace: new Map([[x, y]]) });
    assert.equal(r2.outputs[0].owner?.inputs[0].owner?.inputs[0], y);
  });

  it("graphReplace rebuilds only the affected nodes and never mutates the original", () => {
    const x = toyVar("x");
    const y = toyVar("y");
    const z = toyVar("z");
    const a = ap(op1, x);
    const b = ap(op2, y);
    const out = twoOut.makeNode(a, b).outputs[1];
    const [o2] = graphReplace([out], new Map([[x, z]]));
    assert.notEqual(o2.owner, out.owner);
    assert.equal(o2.owner?.inputs[1], b, "the unaffected branch is shared");
    assert.equal(o2.owner?.inputs[0].owner?.inputs[0], z);
    assert.equal(a.owner?.inputs[0], x, "original untouched");
    // x -> f(x) is fine: the replacement's ancestry is not walked.
    const fx = ap(op2, x);
    const [o3] = graphReplace([a], new Map([[x, fx]]));
    assert.equal(o3.owner?.inputs[0], fx);
  });

  it("graphReplace re-infers types by default and can keep them", () => {
    const x = toyVar("x");
    const x3 = toyVar("x3", [3]);
    const a = ap(op1, x);
    const [r] = graphReplace([a], new Map([[x, x3]]));
    assert.deepEqual(r.type.shape, [3]);
    const [k] = graphReplace([a], new Map([[x, x3]]), { reinfer: false });
    assert.deepEqual(k.type.shape, [null]);
  });

  it("graphReplace refuses a replacement of an incompatible type, naming both", () => {
    const x = toyVar("x", [3]);
    const y = toyVar("y", [4]);
    assert.throws(() => graphReplace([ap(op1, x)], new Map([[x, y]])), (e: Error) => e instanceof GraphError && /shape=\(3,\)/.test(e.message) && /shape=\(4,\)/.test(e.message));
    assert.ok(new MyOp("unused"));
  });
});
