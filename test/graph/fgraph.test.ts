import { strict as assert } from "node:assert";
import { Apply, Variable } from "../../src/graph/basic.js";
import { FunctionGraph, Output } from "../../src/graph/fgraph.js";
import { AlreadyThere, type Feature } from "../../src/graph/features.js";
import { GraphError, InconsistencyError, InvariantError } from "../../src/errors.js";
import { ap, op1, op2, op3, toyConst, toyVar } from "./utils.js";

/** A feature that logs every callback as a string. */
class Recorder implements Feature {
  readonly log: string[] = [];
  onImport(_fg: FunctionGraph, node: Apply): void {
    this.log.push(`import ${node.op.name}`);
  }
  onPrune(fg: FunctionGraph, node: Apply): void {
    this.log.push(`prune ${node.op.name}${fg.applyNodes.has(node) ? " (still in graph!)" : ""}`);
  }
  onChangeInput(_fg: FunctionGraph, node: Apply, i: number, o: Variable, n: Variable): void {
    this.log.push(`change ${node.op.name}[${i}] ${o.toString()}->${n.toString()}`);
  }
}

/** x -> a=op1(x) -> b=op2(a, y) -> out; returns the graph and the caller's variables. */
function sample(opts: { clone?: boolean; features?: Feature[] } = {}) {
  const x = toyVar("x");
  const y = toyVar("y");
  const a = ap(op1, x);
  a.name = "a";
  const b = ap(op2, a, y);
  b.name = "b";
  const fg = new FunctionGraph([x, y], [b], opts);
  return { fg, x, y, a, b };
}

function expectInvariant(fg: FunctionGraph, inv: string): void {
  assert.throws(
    () => fg.checkIntegrity(),
    (e: Error) => e instanceof InvariantError && e.message.includes(`[${inv}]`),
  );
}

describe("graph/fgraph", () => {
  describe("construction and import", () => {
    it("clones by default: the caller's graph is never mutated and equiv maps it", () => {
      const { fg, x, a, b } = sample();
      const fa = fg.equiv.get(a) as Variable;
      assert.notEqual(fa, a);
      assert.equal(fg.equiv.get(x), x);
      assert.equal(fg.outputs[0], fg.equiv.get(b));
      fg.replace(fa, x, "test");
      assert.equal(b.owner?.inputs[0], a, "the caller's node is untouched");
      fg.checkIntegrity();
    });

    it("clone=false adopts the caller's nodes", () => {
      const { fg, a, b } = sample({ clone: false });
      assert.ok(fg.applyNodes.has(b.owner as Apply));
      assert.equal(fg.equiv.get(a), a);
    });

    it("registers clients, Output pseudo-clients, and constants", () => {
      const x = toyVar("x");
      const c = toyConst([1, 2]);
      const out = ap(op1, x, c);
      const fg = new FunctionGraph([x], [out, x], { clone: false });
      assert.equal(fg.applyNodes.size, 1);
      assert.deepEqual(fg.clients.get(x)?.map(([n, i]) => [n.op.name, i]), [
        ["op1", 0],
        ["Output", 0],
      ]);
      assert.ok(fg.variables.has(c));
      const [[on]] = fg.clients.get(out) as [Apply, number][];
      assert.ok(on.op instanceof Output && on.op.idx === 0);
      fg.checkIntegrity();
    });

    it("a missing input is a GraphError naming the variable", () => {
      const x = toyVar("x");
      const z = toyVar("zeta");
      assert.throws(() => new FunctionGraph([x], [ap(op1, x, z)]), (e: Error) => e instanceof GraphError && /MissingInput/.test(e.message) && /zeta/.test(e.message));
    });

    it("a MissingInput during a replacement leaves the graph unchanged", () => {
      const { fg, y } = sample();
      const fa = fg.outputs[0].owner?.inputs[0] as Variable;
      assert.throws(() => fg.replace(fa, ap(op3, toyVar("ghost")), "t"), GraphError);
      fg.checkIntegrity();
      assert.equal(fg.applyNodes.size, 2);
      assert.ok(y);
    });

    it("rejects non-root, duplicate and constant inputs", () => {
      const x = toyVar("x");
      const a = ap(op1, x);
      assert.throws(() => new FunctionGraph([a], [a]), GraphError);
      assert.throws(() => new FunctionGraph([x, x], [a]), GraphError);
      assert.throws(() => new FunctionGraph([toyConst([1])], [a]), GraphError);
    });

    it("imports a 20,000-node chain and replaces into it quickly", () => {
      const x = toyVar("x");
      let v: Variable = x;
      for (let i = 0; i < 20000; i++) v = ap(op1, v);
      const t0 = Date.now();
      const fg = new FunctionGraph([x], [v]);
      assert.equal(fg.applyNodes.size, 20000);
      assert.equal(fg.toposort().length, 20000);
      fg.replace(fg.outputs[0], x, "drop everything");
      assert.equal(fg.applyNodes.size, 0, "the whole chain is pruned iteratively");
      fg.checkIntegrity();
      assert.ok(Date.now() - t0 < 5000);
    });
  });

  describe("replace and prune", () => {
    it("replace rewires clients and prunes what died", () => {
      const { fg, x } = sample();
      const b = fg.outputs[0];
      const fa = b.owner?.inputs[0] as Variable;
      fg.replace(fa, x, "t");
      assert.equal(fg.applyNodes.size, 1);
      assert.ok(!fg.variables.has(fa));
      assert.ok(!fg.clients.has(fa));
      assert.deepEqual(fg.clients.get(x), [[b.owner, 0]]);
      fg.checkIntegrity();
    });

    it("replacing an output updates fg.outputs through the Output pseudo-node", () => {
      const { fg, y } = sample();
      fg.replace(fg.outputs[0], y, "t");
      assert.equal(fg.outputs[0], y);
      assert.equal(fg.applyNodes.size, 0);
      fg.checkIntegrity();
    });

    it("a wrong-type replacement is a GraphError naming both types, and changes nothing", () => {
      const { fg } = sample();
      const w = toyVar("w", [5]);
      const fa = fg.outputs[0].owner?.inputs[0] as Variable;
      const fx = toyVar("x3", [3]);
      // (?,) accepts (5,), but (5,) does not accept (3,).
      const fg2 = new FunctionGraph([w, fx], [ap(op1, w)]);
      assert.throws(() => fg2.replace(fg2.outputs[0], fx, "t"), (e: Error) => e instanceof GraphError && e.message.includes("shape=(5,)") && e.message.includes("shape=(3,)"));
      fg2.checkIntegrity();
      assert.ok(fa);
    });

    it("callback order within one change: imports, then prunes, then the change", () => {
      const rec = new Recorder();
      const { fg, x } = sample({ features: [rec] });
      rec.log.length = 0;
      const fa = fg.outputs[0].owner?.inputs[0] as Variable;
      fg.replace(fa, ap(op3, x), "t");
      assert.deepEqual(rec.log, ["import op3", "prune op1", `change op2[0] ${fa.toString()}->op3{nout=1, view="{}", destroy="{}", shape=null}.0`]);
    });

    it("removeClient of a non-registered client is an InvariantError", () => {
      const { fg, x, y } = sample();
      const stray = new Apply(op1, [x], []);
      assert.throws(() => fg.removeClient(x, [stray, 0], "t"), InvariantError);
      assert.throws(() => fg.removeClient(toyVar("unknown"), [stray, 0], "t"), InvariantError);
      assert.ok(y);
    });

    it("changeNodeInput asserts the client is registered even when nothing changes", () => {
      const { fg, x } = sample();
      const b = fg.outputs[0].owner as Apply;
      b.inputs[0] = x; // behind the graph's back
      assert.throws(() => fg.changeNodeInput(b, 0, x, "t"), (e: Error) => e instanceof InvariantError && /not a registered client/.test(e.message));
    });

    it("changeNodeInput of a node outside the graph is an InvariantError", () => {
      const { fg, x } = sample();
      assert.throws(() => fg.changeNodeInput(op1.makeNode(x), 0, x, "t"), InvariantError);
    });
  });

  describe("features, history and validation", () => {
    it("revert undoes changes LIFO and re-imports pruned nodes", () => {
      const rec = new Recorder();
      const { fg, x } = sample({ features: [rec] });
      const before = fg.toposort();
      const fa = fg.outputs[0].owner?.inputs[0] as Variable;
      const chk = fg.checkpoint();
      fg.replace(fa, ap(op3, x), "t");
      rec.log.length = 0;
      fg.revert(chk);
      assert.deepEqual(fg.toposort(), before);
      assert.ok(rec.log.includes("import op1"), "the pruned node is re-imported");
      assert.ok(rec.log.includes("prune op3"));
      fg.checkIntegrity();
    });

    it("checkpoints nest and are strictly LIFO", () => {
      const { fg, x, y } = sample();
      const fa = fg.outputs[0].owner?.inputs[0] as Variable;
      const outer = fg.checkpoint();
      fg.replace(fa, x, "outer");
      const inner = fg.checkpoint();
      assert.throws(() => fg.revert(outer), InvariantError);
      fg.replace(fg.outputs[0].owner?.inputs[1] as Variable, x, "inner");
      fg.revert(inner);
      assert.equal(fg.outputs[0].owner?.inputs[1], y);
      assert.equal(fg.outputs[0].owner?.inputs[0], x);
      fg.revert(outer);
      assert.equal(fg.outputs[0].owner?.inputs[0], fa);
      fg.checkIntegrity();
    });

    it("replaceAllValidate reverts everything when a validator rejects", () => {
      let reject = false;
      const veto: Feature = {
        onValidate: () => {
          if (reject) throw new InconsistencyError("vetoed");
        },
      };
      const { fg, x, y } = sample({ features: [veto] });
      const before = fg.toposort();
      const fa = fg.outputs[0].owner?.inputs[0] as Variable;
      reject = true;
      assert.throws(
        () =>
          fg.replaceAllValidate(
            [
              [fa, x],
              [y, x],
            ],
            "t",
          ),
        InconsistencyError,
      );
      assert.deepEqual(fg.toposort(), before);
      fg.checkIntegrity();
      reject = false;
      fg.replaceAllValidate([[fa, x]], "t");
      assert.equal(fg.applyNodes.size, 1);
    });

    it("replaceAllValidate with `remove` reverts when a listed variable survives", () => {
      const { fg, x } = sample();
      const fa = fg.outputs[0].owner?.inputs[0] as Variable;
      assert.throws(() => fg.replaceAllValidate([], "t", [fa]), GraphError);
      fg.replaceAllValidate([[fa, x]], "t", [fa]);
    });

    it("toposort honours feature orderings", () => {
      const x = toyVar("x");
      const p = ap(op1, x);
      const q = ap(op2, x);
      const out = ap(op3, p, q);
      const pq: Feature = { orderings: (g) => new Map([[[...g.applyNodes].find((n) => n.op === op1) as Apply, [...g.applyNodes].filter((n) => n.op === op2)]]) };
      const fg = new FunctionGraph([x], [out], { features: [pq] });
      assert.deepEqual(
        fg.toposort().map((n) => n.op.name),
        ["op2", "op1", "op3"],
      );
    });

    it("attachFeature: onAttach may decline with AlreadyThere; removeFeature calls onDetach", () => {
      const { fg } = sample();
      let detached = false;
      const f: Feature = {
        onAttach: () => {
          throw new AlreadyThere();
        },
      };
      fg.attachFeature(f);
      assert.ok(!fg.getFeatures().includes(f));
      const g: Feature = { onDetach: () => (detached = true) };
      fg.attachFeature(g);
      fg.removeFeature(g);
      assert.ok(detached);
    });

    it("clone() copies the graph and clonable features", () => {
      const { fg } = sample();
      const c = fg.clone();
      assert.notEqual(c.outputs[0], fg.outputs[0]);
      assert.equal(c.applyNodes.size, fg.applyNodes.size);
      c.checkIntegrity();
    });

    it("guardNodes: another graph cannot rewire a guarded graph's nodes", () => {
      const { fg, x } = sample();
      fg.guardNodes();
      const b = fg.outputs[0];
      const nested = new FunctionGraph([x, fg.inputs[1]], [b], { clone: false });
      assert.throws(() => nested.replace(b.owner?.inputs[0] as Variable, x, "nested"), (e: Error) => e instanceof InvariantError && /belongs to live FunctionGraph/.test(e.message));
      fg.checkIntegrity();
      nested.checkIntegrity();
    });
  });

  describe("checkIntegrity catches each corrupted state", () => {
    it("[inputs-are-roots] an input with an owner", () => {
      const { fg, a } = sample();
      fg.inputs[0] = a;
      expectInvariant(fg, "inputs-are-roots");
    });

    it("[inputs-distinct] a duplicated input", () => {
      const { fg, x } = sample();
      fg.inputs.push(x);
      expectInvariant(fg, "inputs-distinct");
    });

    it("[output-clients] an output without its Output pseudo-client", () => {
      const { fg } = sample();
      const b = fg.outputs[0];
      fg.clients.set(b, []);
      expectInvariant(fg, "output-clients");
    });

    it("[output-clients] outputs changed behind the graph's back", () => {
      const { fg, y } = sample();
      fg.outputs[0] = y;
      expectInvariant(fg, "output-clients");
    });

    it("[acyclic] a cycle made by mutating node.inputs", () => {
      const { fg } = sample();
      const b = fg.outputs[0];
      const aNode = b.owner?.inputs[0].owner as Apply;
      aNode.inputs[0] = b;
      expectInvariant(fg, "acyclic");
    });

    it("[apply-nodes] a reachable node missing from applyNodes", () => {
      const { fg } = sample();
      fg.applyNodes.delete(fg.outputs[0].owner as Apply);
      expectInvariant(fg, "apply-nodes");
    });

    it("[apply-nodes] a dead node left in applyNodes", () => {
      const { fg, x } = sample();
      fg.applyNodes.add(op3.makeNode(x));
      expectInvariant(fg, "apply-nodes");
    });

    it("[variables] a variable missing from variables", () => {
      const { fg } = sample();
      fg.variables.delete(fg.outputs[0].owner?.inputs[0] as Variable);
      expectInvariant(fg, "variables");
    });

    it("[variables] a stray variable in variables", () => {
      const { fg, x } = sample();
      fg.variables.add(ap(op3, x));
      expectInvariant(fg, "variables");
    });

    it("[roots-declared] an undeclared root among the variables", () => {
      const { fg, x } = sample();
      const z = toyVar("z");
      // Splice z into the graph consistently except that it is not a declared input.
      const node = fg.outputs[0].owner as Apply;
      const old = node.inputs[1];
      fg.clients.set(old, (fg.clients.get(old) ?? []).filter(([n]) => n !== node));
      node.inputs[1] = z;
      fg.clients.set(z, [[node, 1]]);
      fg.variables.add(z);
      fg.inputs.splice(fg.inputs.indexOf(old), 1, x === old ? z : old);
      expectInvariant(fg, "roots-declared");
    });

    it("[slot-registered] node.inputs mutated behind the graph's back", () => {
      const { fg, x } = sample();
      const b = fg.outputs[0].owner as Apply;
      b.inputs[1] = x; // y stays a (now unused) declared input, so reachability is unchanged
      expectInvariant(fg, "slot-registered");
    });

    it("[slot-registered] a slot registered twice", () => {
      const { fg, y } = sample();
      const b = fg.outputs[0].owner as Apply;
      fg.clients.get(y)?.push([b, 1]);
      expectInvariant(fg, "slot-registered");
    });

    it("[clients-keys] a variable without a clients entry", () => {
      const x = toyVar("x");
      const unused = toyVar("unused");
      const fg = new FunctionGraph([x, unused], [ap(op1, x)]);
      fg.checkIntegrity();
      fg.clients.delete(unused);
      expectInvariant(fg, "clients-keys");
    });

    it("[clients-keys] a clients entry for a variable not in the graph", () => {
      const { fg } = sample();
      fg.clients.set(toyVar("ghost"), []);
      expectInvariant(fg, "clients-keys");
    });

    it("[client-points-back] a client entry whose slot holds another variable", () => {
      const { fg, x } = sample();
      const b = fg.outputs[0].owner as Apply;
      fg.clients.get(x)?.push([b, 0]);
      // (b, 0) is registered once under its real input and now also, wrongly, under x.
      expectInvariant(fg, "client-points-back");
    });

    it("[client-in-graph] a stale client that left the graph", () => {
      const { fg, x } = sample();
      const dead = op3.makeNode(x);
      fg.clients.get(x)?.push([dead, 0]);
      expectInvariant(fg, "client-in-graph");
    });
  });
});
