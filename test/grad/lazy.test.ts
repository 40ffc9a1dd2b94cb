/**
 * The rules of the lazy design (src/grad/lazy.ts): `grad` through named ops builds one
 * graph-level `Pullback` node and lowers nothing; the compiler's `expand_pullback` pass expands
 * it on a private copy, never touching the node's inner graph or the caller's graph; equal
 * regions give equal ops, which merge; and graphs holding Pullback nodes differentiate again.
 */
import assert from "node:assert/strict";
import type { Apply, Variable } from "../../src/graph/basic.js";
import { toposort } from "../../src/graph/traversal.js";
import { NDArray } from "../../src/ndarray/ndarray.js";
import { compile } from "../../src/compile/function.js";
import { RewriteContext } from "../../src/rewriting/engine.js";
import { grad, lowerThenGrad, pullback } from "../../src/grad/driver.js";
import { PullbackOp, expandPullbacks } from "../../src/grad/lazy.js";
import { pushforward } from "../../src/grad/pushforward.js";
import { type PullbackRule, withPullbackOverride } from "../../src/grad/registry.js";
import { TensorFromXTensor, XOp, type XTensorVariable, asXTensor, dot, exp, sin, sum, tanh, xconstant, xtensor } from "../../src/xtensor/index.js";
import type { Mode } from "../../src/rewriting/db.js";
import * as pt from "../../src/tensor/index.js";
import { MODES, centralDiff, compare, assertClose, forward, rand, runCompiled } from "./named-check.js";

const XV = rand([3, 3], 7);
const WV = rand([3, 3], 8, 0.5, 2); // labelled (b, a)
const W = xconstant(WV, ["b", "a"]);
const build = (): { x: XTensorVariable; cost: Variable } => {
  const x = xtensor("x", { dims: ["a", "b"], shape: [3, 3] });
  return { x, cost: exp(x).mul(W).sum({ dims: "a" }).mul(tanh(x.isel({ a: 1 }))).sum().values };
};
const pullbackNodes = (outs: readonly Variable[]): Apply[] => toposort(outs).filter((n) => n.op instanceof PullbackOp);
const isNamed = (n: Apply): boolean => n.op instanceof XOp;

/** Every Apply reachable from `outs`, including inside Pullback ops' inner graphs, with a copy of its inputs and outputs. */
function snapshot(outs: readonly Variable[]): Map<Apply, { inputs: Variable[]; outputs: Variable[] }> {
  const snap = new Map<Apply, { inputs: Variable[]; outputs: Variable[] }>();
  const visit = (vs: readonly Variable[]): void => {
    for (const n of toposort(vs)) {
      if (snap.has(n)) continue;
      snap.set(n, { inputs: [...n.inputs], outputs: [...n.outputs] });
      if (n.op instanceof PullbackOp) visit(n.op.innerOutputs);
    }
  };
  visit(outs);
  return snap;
}
function assertUnchanged(before: Map<Apply, { inputs: Variable[]; outputs: Variable[] }>, what: string): void {
  for (const [n, s] of before) {
    assert.equal(n.inputs.length, s.inputs.length, `${what}: ${n.op.toString()} changed its number of inputs`);
    n.inputs.forEach((v, i) => assert.equal(v, s.inputs[i], `${what}: input ${i} of ${n.op.toString()} was replaced`));
    n.outputs.forEach((o, j) => {
      assert.equal(o, s.outputs[j], `${what}: output ${j} of ${n.op.toString()} was replaced`);
      assert.equal(o.owner, n, `${what}: output ${j} of ${n.op.toString()} changed owner`);
    });
  }
}

describe("lazy Pullback node", () => {
  it("names its gradients (d<cost>/d<var>) as perNode does, and not with addNames false", () => {
    // The region's totals bypassed the per-node walk that names gradients, so the default
    // strategy left every gradient of a named graph unnamed (found by grad-composition's
    // argument-contract).
    const { x, cost } = build();
    cost.name = "c";
    const y = xtensor("y", { dims: ["a"], shape: [3] });
    const [gx, gy] = grad(cost, [x, y], { disconnectedInputs: "ignore" });
    assert.ok(pullbackNodes([gx]).length === 1);
    assert.equal(gx.name, "(dc/dx)");
    assert.equal(gy.name, "(dc/dy)");
    assert.equal(grad(cost, x, { gradStrategy: "perNode" }).name, "(dc/dx)");
    assert.equal(grad(cost, x, { addNames: false }).name, null);
  });

  it("names a gradient two wrt share as perNode does, downstream first, whatever the wrt order", () => {
    // y = identity(x): one gradient variable for both; the per-node walk names it after y.
    const x = pt.tensor("x", { shape: [3] });
    const y = pt.identity(x);
    y.name = "y";
    const z = tanh(asXTensor(y, ["a"]));
    const cost = z.mul(z).sum().values;
    cost.name = "c";
    for (const order of [[x, y], [y, x]]) {
      const lazy = grad(cost, order);
      const perNode = grad(cost, order, { gradStrategy: "perNode" });
      assert.equal(pullbackNodes(lazy).length, 1);
      assert.deepEqual(lazy.map((g) => g.name), ["(dc/dy)", "(dc/dy)"]);
      assert.deepEqual(perNode.map((g) => g.name), lazy.map((g) => g.name));
    }
  });

  it("grad through named ops builds one Pullback node and lowers nothing", () => {
    const { x, cost } = build();
    const forwardNodes = new Set(toposort([cost]));
    const g = grad(cost, x);
    assert.ok(g.type.equals(x.type));
    const nodes = toposort([g]);
    const pbs = nodes.filter((n) => n.op instanceof PullbackOp);
    assert.equal(pbs.length, 1, "one Pullback node for the whole region");
    assert.equal(g.owner, pbs[0], "the gradient is the Pullback node's output");
    // Everything else is the caller's own forward graph (read for the cotangent seed), plus
    // the seed itself: no lowered copy of the region was built at grad time.
    const extra = nodes.filter((n) => !forwardNodes.has(n) && n !== pbs[0]);
    assert.ok(extra.every((n) => !isNamed(n) && n.inputs.every((v) => v === cost || v.owner === null || extra.includes(v.owner))), `unexpected nodes: ${extra.map((n) => n.op.toString()).join(", ")}`);
    assert.ok(extra.length <= 2, `the seed is a ones_like of the cost, got ${extra.map((n) => n.op.toString()).join(", ")}`);
    // The node's inner graph is the named region itself, un-lowered.
    const op = pbs[0].op as PullbackOp;
    const inner = toposort(op.innerOutputs);
    assert.ok(inner.some(isNamed), "the inner graph keeps its named ops");
    assert.deepEqual(
      inner.map((n) => n.op.name),
      [...forwardNodes].map((n) => n.op.name),
      "the inner graph is a copy of the forward region, op for op",
    );
  });

  it("the perNode strategy and lowerThenGrad build no Pullback node; pushforward honours gradStrategy", () => {
    const { x, cost } = build();
    assert.equal(pullbackNodes([grad(cost, x, { gradStrategy: "perNode" })]).length, 0);
    assert.equal(pullbackNodes([lowerThenGrad(cost, [x])[0] as Variable]).length, 0);
    const t = xtensor("t", { dims: ["b", "a"], shape: [3, 3] });
    const f = exp(x).mul(W).sum({ dims: "a" });
    assert.equal(pullbackNodes([pushforward(f, [x], [t], { gradStrategy: "perNode" })]).length, 0);
    assert.ok(pullbackNodes([pushforward(f, [x], [t])]).length > 0);
  });

  it("differentiation happens at compile time: an override active only while calling grad changes nothing", () => {
    const { x, cost } = build();
    const wrong: PullbackRule = ([v], _o, [g]) => [asXTensor(g, [...(v.type as XTensorVariable["type"]).dims].reverse())];
    const numeric = centralDiff(forward([x], cost), [XV], [0]);
    const g = withPullbackOverride(TensorFromXTensor, wrong, () => grad(cost, x));
    for (const mode of MODES) assertClose(compare(runCompiled([x], [g], [XV], mode), numeric, 1e-7, 1e-8), `${mode}: the override was not active while compiling`);
    // ...and one active while compiling is what the expansion uses.
    const g2 = grad(cost, x);
    const bad = withPullbackOverride(TensorFromXTensor, wrong, () => runCompiled([x], [g2], [XV], "NONE"));
    assert.ok(!compare(bad, numeric, 1e-7, 1e-8).ok, "the override active at compile time must reach the expansion");
  });

  for (const mode of ["NONE", "FAST_RUN"] as Mode[]) {
    it(`${mode}: expand_pullback mutates neither the op's inner graph nor the caller's graph`, () => {
      const { x, cost } = build();
      const g = grad(cost, x);
      const h = grad((g as XTensorVariable).sum().values, x); // nested: a Pullback node inside a Pullback's inner graph
      const before = snapshot([g, h, cost]);
      const innerNamed = toposort((pullbackNodes([g])[0].op as PullbackOp).innerOutputs).filter(isNamed).length;
      const f = compile([x], [cost, g, h], { mode, checked: true, onOptError: "raise" });
      f(XV);
      assertUnchanged(before, `compile ${mode}`);
      expandPullbacks([g, h]);
      assertUnchanged(before, "expandPullbacks");
      assert.equal(toposort((pullbackNodes([g])[0].op as PullbackOp).innerOutputs).filter(isNamed).length, innerNamed, "the inner graph is still named");
      assert.ok(f.fgraph.toposort().every((n) => !(n.op instanceof PullbackOp) && !isNamed(n)), "the compiled graph has no Pullback or named node left");
    });
  }

  it("expandPullbacks returns the expanded gradient over the caller's own inputs", () => {
    const { x, cost } = build();
    const [e] = expandPullbacks([grad(cost, x)]);
    assert.equal(pullbackNodes([e]).length, 0);
    assert.ok(toposort([e]).some((n) => n.inputs.includes(x)), "x itself is an input of the expansion");
    const numeric = centralDiff(forward([x], cost), [XV], [0]);
    assertClose(compare(runCompiled([x], [e], [XV], "NONE"), numeric, 1e-7, 1e-8), "expansion vs FD");
  });

  it("a wrt declared with known and unknown lengths gets a gradient its Pullback output accepts (shape-erasure's first find)", () => {
    // Through the Dot's pullback the gradient w.r.t. x loses x's static c = 1 and learns b = 1
    // from y: two facts about the same value, refined to their meet instead of failing the
    // replacement ("cannot replace ... (c=1, b=?) by ... (c=?, b=1)").
    const x = xtensor("x", { dims: ["c", "b"], shape: [1, null] });
    const y = xtensor("y", { dims: ["d", "c", "b"], shape: [1, null, 1] });
    const cost = sum(dot(x, y));
    const [gx, gy] = grad(cost, [x, y]);
    const f = compile([x, y], [gx, gy], { mode: "FAST_RUN", checked: true, onOptError: "raise" });
    const [ax, ay] = f([[0.6]], [[[0.22]]]);
    assert.deepEqual(ax.toFlat(), [0.22]);
    assert.deepEqual(ay.toFlat(), [0.6]);
  });

  it("a cotangent (or tangent) of a vaguer static type than its output is refined, not a failed expansion (pushforward-options' find)", () => {
    // The region's cotangent placeholder has y's type (a=3); the caller's cotangent g has a=?.
    // The expansion replaced the one by the other and failed ("cannot replace ... (a=3) by g of
    // type ... (a=?)") under the default lazy strategy only; perNode (and lowerThenGrad) worked.
    const x = xtensor("x", { dims: ["a"], shape: [3] });
    const y = exp(x);
    const g = xtensor("g", { dims: ["a"], shape: [null] });
    const at = [0, 1, 2];
    for (const gradStrategy of ["lazy", "perNode"] as const) {
      const [dx] = pullback([y], [x], [g], { gradStrategy }) as Variable[];
      const f = compile([x, g], [dx], { mode: "FAST_RUN", checked: true, onOptError: "raise" });
      assert.deepEqual(f(at, [1, 2, 3])[0].toFlat(), at.map((v, i) => (i + 1) * Math.exp(v)), gradStrategy);
    }
    // The same through pushforward's double pullback, with a tangent declared without lengths.
    const u = xtensor("u", { dims: ["a"], shape: [null] });
    const jv = pushforward(sum(y), [x], [u]) as Variable;
    const h = compile([x, u], [jv], { mode: "FAST_RUN", checked: true, onOptError: "raise" });
    assert.ok(Math.abs(h(at, [1, 2, 3])[0].toFlat()[0] - at.reduce((p, v, i) => p + (i + 1) * Math.exp(v), 0)) < 1e-12);
  });

  it("perNode through a graph that holds a lazy gradient warns nothing (the named seed's connections are declared)", () => {
    const x = xtensor("x", { dims: ["a"], shape: [3] });
    const cost = sum(tanh(x));
    const [gx] = grad(cost, [x]);
    const warnings: string[] = [];
    const [h] = grad(sum(gx as XTensorVariable), [x], { gradStrategy: "perNode", onWarning: (m) => warnings.push(m) });
    assert.deepEqual(warnings, []);
    assert.ok(h !== null);
  });

  it("a knownGrads entry is its key's whole gradient in the lazy region too, not an extra cotangent", () => {
    // y = x*x is read by the cost; a known gradient k for y replaces what the cost sends back to
    // it. The lazy region once pulled back [cost, y] with seeds [1, k], so y got both (found by
    // grad-composition's known-grads claim). Judged against the perNode strategy and by hand.
    const x = xtensor("x", { dims: ["a", "b"], shape: [3, 3] });
    const y = x.mul(x);
    const z = exp(y).mul(W);
    const cost = z.add(x).sum().values;
    const K = rand([3, 3], 9);
    const k = xconstant(K, ["a", "b"]);
    const kz = xconstant(rand([3, 3], 10), ["a", "b"]);
    const xv = XV.toFlat();
    const want = xv.map((v, i) => 1 + 2 * v * K.toFlat()[i]);
    for (const [what, known, wrt] of [
      ["a key the cost reads through", new Map([[y, k]]), [x]],
      ["a key that is also a wrt", new Map([[y, k]]), [x, y]],
      ["two keys, one read through the other", new Map<Variable, Variable>([[y, k], [z, kz]]), [x]],
    ] as const) {
      const [lazy, perNode] = (["lazy", "perNode"] as const).map((s) => grad(cost, [...wrt], { knownGrads: known, gradStrategy: s }));
      assert.equal(pullbackNodes(lazy).length > 0, true, `${what}: the lazy strategy builds a Pullback node`);
      const [l, p] = [lazy, perNode].map((gs) => runCompiled([x], gs, [XV], "NONE"));
      assertClose(compare(l, p, 1e-12, 1e-12), `${what}: lazy vs perNode`);
      if (known.size === 1) assertClose(compare([l[0]], [want], 1e-12, 1e-12), `${what}: 1 + 2x·k`);
      if (wrt.length === 2) assertClose(compare([l[1]], [K.toFlat()], 0, 0), `${what}: the key's own gradient is its entry`);
    }
  });

  it("an integer wrt gets what perNode and lowerThenGrad give it: disconnected, or undefined as an index (the disconnected claim's find)", () => {
    // The lazy strategy refused every discrete wrt with a GradError of its own, where the
    // other two strategies answer through the positional rules.
    const x = xtensor("x", { dims: ["a"], shape: [3] });
    const k = xtensor("k", { dims: ["a"], shape: [3], dtype: "int64" });
    const opts = { disconnectedInputs: "ignore", returnDisconnected: "none" } as const;
    for (const cost of [x.mul(k.astype("float64")).sum(), x.mul(k).sum(), tanh(x).add(k).sum()]) {
      for (const g of [grad(cost, [x, k], opts), grad(cost, [x, k], { ...opts, gradStrategy: "perNode" }), lowerThenGrad(cost, [x, k], opts)]) {
        assert.ok(g[0] !== null && g[1] === null, `x connected, k disconnected: ${String(g[0])}, ${String(g[1])}`);
      }
      assert.equal(pullbackNodes([grad(cost, [x, k], opts)[0] as Variable]).length, 1, "x's gradient is still one lazy region");
      assert.throws(() => grad(cost, [x, k]), /does not depend on k/);
    }
    const gathered = x.isel({ a: k }).sum();
    for (const s of ["lazy", "perNode"] as const) assert.throws(() => grad(gathered, [x, k], { ...opts, gradStrategy: s }), /gradient with respect to k \(wrt\[1\]\) is undefined/);
  });

  it("an integer wrt a contraction reads gets perNode's and lowerThenGrad's float gradient, and passes none upstream", () => {
    // u = cast(values(x[cast(w)]), int64) feeds a positional einsum with a float C. The
    // contraction's rule gives u a float term, so perNode and lowerThenGrad answer C · exp(u2);
    // the lazy region, cut at every discrete wrt, called u disconnected. And with u2 also asked
    // for, the chain pulled u's gradient back to the index w, which made w "undefined" where the
    // integer u makes it disconnected (found by a triage of strategies.ts's survivors).
    const x = xtensor("x", { dims: ["a"], shape: [3] });
    const w = xtensor("w", { dims: ["k"], shape: [2] });
    const C = pt.tensor("C", { shape: [2, 2] });
    const u = pt.cast(x.isel({ a: w.astype("int64") }).values, "int64");
    const u2 = pt.einsum("i,ij->j", u, C);
    const cost = exp(asXTensor(u2, ["k"])).sum();
    const vals = [NDArray.fromFlat([1, 2, 3], [3], "float64"), NDArray.fromFlat([0.5, 2.5], [2], "float64"), NDArray.fromFlat([0.1, 0.2, 0.3, 0.4], [2, 2], "float64")];
    const opts = { disconnectedInputs: "ignore", returnDisconnected: "none" } as const;
    const values = (gs: (Variable | null)[]): (number[] | null)[] => {
      const live = gs.filter((g): g is Variable => g !== null);
      const res = compile([x, w, C], live, { mode: "NONE" })(...vals);
      let i = 0;
      return gs.map((g) => (g === null ? null : res[i++].toFlat()));
    };
    for (const wrt of [[u, w], [u2, u, w]]) {
      const want = values(lowerThenGrad(cost, wrt, opts));
      assert.ok(want[wrt.indexOf(u)] !== null && want[wrt.length - 1] === null, "u has a float gradient, w none");
      for (const s of ["lazy", "perNode"] as const) {
        const got = values(grad(cost, wrt, { ...opts, gradStrategy: s }));
        got.forEach((g, k) => (g === null ? assert.equal(want[k], null, `${s} wrt[${k}]`) : assertClose(compare([g], [want[k] as number[]], 1e-12, 1e-12), `${s} wrt[${k}]`)));
      }
    }
  });

  it("pullback of an integer output: no cotangent reaches x, under every strategy (the lazy one failed at compile)", () => {
    // The integer output was a region output, and its cotangent placeholder took its integer
    // type: the expansion failed with "cotangents must be float" inside expand_pullback.
    const x = xtensor("x", { dims: ["a"], shape: [3] });
    const k = x.mul(3).astype("int64");
    const ct = xtensor("ct", { dims: ["a"], shape: [3] });
    for (const s of ["lazy", "perNode"] as const) {
      assert.throws(() => pullback([k], [x], [ct], { gradStrategy: s }), /the outputs do not depend on x/, s);
      const [g] = pullback([k], [x], [ct], { gradStrategy: s, disconnectedInputs: "ignore" });
      const [v] = compile([x, ct], [g as Variable], { mode: "NONE" })(NDArray.fromFlat([0.4, 0.9, 1.3], [3], "float64"), NDArray.fromFlat([1, 1, 1], [3], "float64"));
      assert.deepEqual(v.toFlat(), [0, 0, 0], s);
      // With a float output computed from k too, x still reaches the outputs only through the
      // integer: disconnected (lazy counted the integer root as reached, and gave zeros).
      const v2 = k.astype("float64").mul(2);
      assert.throws(() => pullback([k, v2], [x], [ct, ct], { gradStrategy: s }), /the outputs do not depend on x/, `${s}, [k, 2·float(k)]`);
    }
  });

  it("structurally equal Pullback nodes carry equal ops and MergeOptimizer merges them (FAST_RUN)", () => {
    const x = xtensor("x", { dims: ["a", "b"], shape: [3, 3] });
    const mk = (): Variable => exp(x).mul(W).sum({ dims: "a" }).pow(2).sum().values;
    const g1 = grad(mk(), x);
    const g2 = grad(mk(), x);
    const [op1, op2] = [g1, g2].map((g) => g.owner?.op as PullbackOp);
    assert.ok(op1 instanceof PullbackOp && op2 instanceof PullbackOp);
    assert.notEqual(op1, op2);
    assert.ok(op1.equals(op2) && op1.hash() === op2.hash(), "equal regions, equal ops");
    const other = grad(exp(x).mul(W).sum({ dims: "b" }).pow(2).sum().values, x).owner?.op as PullbackOp;
    assert.ok(!op1.equals(other), "a different region is a different op");
    const expansions = (mode: Mode, outs: Variable[]): number => {
      const ctx = new RewriteContext({ onOptError: "raise", checked: true });
      const f = compile([x], outs, { mode, ctx });
      const [r1, r2] = f(XV);
      assert.deepEqual(r1.toFlat(), r2.toFlat());
      return ctx.fired.get("expand_pullback") ?? 0;
    };
    assert.equal(expansions("NONE", [g1, g2]), 2, "NONE has no merge: both nodes expand");
    assert.equal(expansions("FAST_RUN", [g1, g2]), 1, "FAST_RUN merges the two nodes before expanding");
  });

  it("higher order: grad of a graph holding Pullback nodes gives the second derivative", () => {
    const x = xtensor("x", { dims: ["a", "b"], shape: [3, 3] });
    const cost = x.pow(3).add(sin(x)).sum().values;
    const g = grad(cost, x); // 3x² + cos x, lazily
    const h = grad((g as XTensorVariable).mul(W).sum().values, x); // (6x − sin x)·W, by name
    const pbs = pullbackNodes([h]);
    assert.equal(h.owner?.op instanceof PullbackOp, true);
    assert.ok(
      pbs.some((n) => toposort((n.op as PullbackOp).innerOutputs).some((m) => m.op instanceof PullbackOp)),
      "the second-order region wraps the first-order Pullback node",
    );
    const w = WV.toNested() as number[][]; // (b, a)
    const xs = XV.toNested() as number[][];
    const expected = xs.flatMap((row, i) => row.map((v, j) => (6 * v - Math.sin(v)) * w[j][i]));
    for (const mode of MODES) assertClose(compare(runCompiled([x], [h], [XV], mode), [expected], 1e-13, 1e-13), `${mode} second derivative`);
  });
});

describe("lazy grad: per-call rules inside the region", () => {
  // The compiler expands the region after lowering it, where the caller's nodes are gone: a
  // rule from options.ruleFor for one of them would be dropped, and the compile would then
  // differentiate with another rule, or fail naming none. grad refuses it up front.
  const x = xtensor("x", { dims: ["a"], shape: [3] });
  const cost = sum(tanh(x));
  // A deliberately different rule (the identity), so that honouring it is visible in the values.
  const tanhRule = (): PullbackRule => (_i, _o, [g]) => [g];

  it("is refused by the lazy strategy, naming the node, the strategy and the alternatives", () => {
    assert.throws(
      () => grad(cost, [x], { ruleFor: (n: Apply) => (n.op.toString().includes("tanh") ? tanhRule() : null) }),
      (e: unknown) => e instanceof Error && /options\.ruleFor gives a rule for XElemwise.*tanh.*lazy strategy.*gradStrategy "perNode".*registerPullbackRule/.test(e.message),
    );
  });

  it("is honoured by perNode, and a ruleFor that gives no rule in the region changes nothing", () => {
    const [gp] = grad(cost, [x], { gradStrategy: "perNode", ruleFor: (n: Apply) => (n.op.toString().includes("tanh") ? tanhRule() : null) });
    const [gl] = grad(cost, [x], { ruleFor: () => null });
    const [g0] = grad(cost, [x]);
    const [vp, vl, v0] = runCompiled([x], [gp as Variable, gl as Variable, g0 as Variable], [NDArray.fromFlat([0.1, -0.4, 0.9], [3])], "NONE").map((a) => Array.from(a));
    assert.deepEqual(vp, [1, 1, 1]);
    assert.deepEqual(vl, v0);
  });
});
