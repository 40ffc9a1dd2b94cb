import { strict as assert } from "node:assert";
import { Apply, type Variable } from "../../src/graph/basic.js";
import { FunctionGraph } from "../../src/graph/fgraph.js";
import { CheckedFeature, promisesOf, typesCompatible, verifyModePasses, verifyPostconditions } from "../../src/rewriting/checked.js";
import { DestroyHandler } from "../../src/rewriting/destroyhandler.js";
import { type GraphRewriter, inToOut, nodeRewriter, outToIn, RewriteContext } from "../../src/rewriting/engine.js";
import { MODE_TAGS, rewriteGraph, SequenceDB } from "../../src/rewriting/db.js";
import { MergeOptimizer } from "../../src/rewriting/merge.js";
import { InplacePass } from "../../src/rewriting/inplace.js";
import { ElemwiseFusion } from "../../src/rewriting/fusion.js";
import { constant, tensor } from "../../src/tensor/basic.js";
import { add, compositeFromGraph, exp, mul } from "../../src/tensor/elemwise.js";
import { alloc } from "../../src/tensor/shape.js";
import { incSubtensor } from "../../src/tensor/indexing.js";
import { NDArray } from "../../src/ndarray/ndarray.js";
import { sum } from "../../src/tensor/reduce.js";
import { compile } from "../../src/compile/function.js";
import { xtensor } from "../../src/xtensor/type.js";
import { exp as xexp } from "../../src/xtensor/elemwise.js";
import { opFromMessage } from "../../properties/properties.js";
import { InconsistencyError, InvariantError } from "../../src/errors.js";
import { ap, destroyOp, MyOp, op1, toyType, toyVar } from "../graph/utils.js";

// Toy stand-ins for the PR #2269 ops: XTensorFromTensor / TensorFromXTensor (views), Shape, Subtensor.
const XFromT = new MyOp("XTensorFromTensor", { viewMap: { 0: [0] } });
const TFromX = new MyOp("TensorFromXTensor", { viewMap: { 0: [0] } });
const Shape = new MyOp("Shape");
const Sub = new MyOp("Subtensor");
const Div = new MyOp("div");
const Lazy = new MyOp("LazyGrad");

/** T(X(v)) -> v, the useless_tensor_from_xtensor rewrite. */
const uselessTFromX = nodeRewriter("useless_tensor_from_xtensor", [MyOp], (_fg, node) => {
  const inner = node.inputs[0]?.owner;
  return node.op === TFromX && inner?.op === XFromT ? [inner.inputs[0]] : null;
});

/** The reconstructed graph: xt -> X -> T1 -> Shape -> Sub (= n), read by a div and a LazyGrad. */
function prGraph(): { xt: Variable; out: Variable } {
  const xt = toyVar("xt");
  const x = ap(XFromT, xt);
  const n = ap(Sub, ap(Shape, ap(TFromX, x)));
  const q = ap(Div, x, n);
  // A destroyer elsewhere, as after inplace: the DestroyHandler has real work to do.
  const scratch = ap(destroyOp, ap(op1, xt));
  return { xt, out: ap(new MyOp("join"), ap(Lazy, q, n), scratch) };
}

function liveGraph(): { fg: FunctionGraph; dh: DestroyHandler } {
  const { xt, out } = prGraph();
  const dh = new DestroyHandler();
  const fg = new FunctionGraph([xt], [out], { features: [dh, new CheckedFeature()] });
  fg.validate();
  return { fg, dh };
}

const nestedDb = new SequenceDB();
nestedDb.register("lower_xtensor", 0.09, ["required"], inToOut([uselessTFromX]));

describe("rewriting/checked", () => {
  it("typesCompatible allows refinement and rejects contradiction", () => {
    assert.ok(typesCompatible(toyType([null]), toyType([3])));
    assert.ok(typesCompatible(toyType([3]), toyType([null])));
    assert.ok(!typesCompatible(toyType([3]), toyType([4])));
    assert.ok(!typesCompatible(toyType([3]), toyType([3, 1])));
  });

  describe("the PR #2269 failure pattern: a nested in-place rewrite over a live graph's nodes", () => {
    /**
     * expand_lazy_grad's transform runs `rewriteGraph(..., {clone: false})` over nodes it shares
     * with the live graph (which has a DestroyHandler attached). Lowering there rewires the shared
     * Shape node from T1 to xt, which only the throwaway graph hears about.
     */
    const expandLazyGrad = nodeRewriter("expand_lazy_grad", [MyOp], (_fg, node) => {
      if (node.op !== Lazy) return null;
      rewriteGraph([node.inputs[1]], { include: ["lower_xtensor"], clone: false, db: nestedDb });
      return null;
    });

    it("checked mode stops the nested graph at its first mutation of a shared node", () => {
      const { fg } = liveGraph();
      assert.throws(
        () => outToIn([expandLazyGrad]).apply(fg, new RewriteContext({ checked: true })),
        (e: Error) =>
          e instanceof InvariantError &&
          /rewrite expand_lazy_grad on LazyGrad/.test(e.message) &&
          /Shape.*belongs to live FunctionGraph#\d+/.test(e.message) &&
          /useless_tensor_from_xtensor/.test(e.message),
      );
      // Nothing was mutated: the live graph and its DestroyHandler are intact.
      fg.checkIntegrity();
      fg.getFeature(DestroyHandler)?.checkConsistency();
    });

    it("a transform that rewires node.inputs directly is caught right after it, naming the rewrite", () => {
      const { fg } = liveGraph();
      const rewireBehindTheBack = nodeRewriter("expand_lazy_grad_raw", [MyOp], (_fg, node) => {
        if (node.op !== Lazy) return null;
        const shape = node.inputs[1].owner?.inputs[0].owner as Apply;
        const t1 = shape.inputs[0].owner as Apply;
        shape.inputs[0] = (t1.inputs[0].owner as Apply).inputs[0]; // Shape(T1) -> Shape(xt), unannounced
        return null;
      });
      assert.throws(
        () => outToIn([rewireBehindTheBack]).apply(fg, new RewriteContext({ checked: true })),
        (e: Error) =>
          e instanceof InvariantError &&
          /checked mode: rewrite "expand_lazy_grad_raw" on LazyGrad/.test(e.message) &&
          /during transform/.test(e.message) &&
          /checkIntegrity \[/.test(e.message),
      );
    });

    it("unchecked, the corruption surfaces later, in another rewrite — still an InvariantError, never a bare KeyError", () => {
      const { xt, out } = prGraph();
      const fg = new FunctionGraph([xt], [out], { features: [new DestroyHandler()] });
      const ctx = new RewriteContext({ checked: false });
      outToIn([expandLazyGrad]).apply(fg, ctx);
      // The live graph is now silently inconsistent...
      assert.throws(() => fg.checkIntegrity(), InvariantError);
      assert.throws(() => fg.getFeature(DestroyHandler)?.checkConsistency(), InvariantError);
      // ...and the live graph's own lowering trips over the stale client, far from the cause.
      assert.throws(() => inToOut([uselessTFromX]).apply(fg, ctx), (e: Error) => e instanceof InvariantError && /applyNodes/.test(e.message));
      // Replacing T1 directly, as the live lowering would: PyTensor's change_node_input returns
      // early here (Shape already reads xt), leaving a zombie T1; xgrad refuses the stale client.
      const shape = [...fg.applyNodes].find((n) => n.op === Shape) as Apply;
      const t1 = [...fg.applyNodes].find((n) => n.op === TFromX) as Apply;
      assert.throws(
        () => fg.replace(t1.outputs[0], shape.inputs[0], "useless_tensor_from_xtensor"),
        (e: Error) => e instanceof InvariantError && /useless_tensor_from_xtensor/.test(e.message) && /not a registered client/.test(e.message),
      );
    });

    it("the fix: lowering a clone leaves the live graph consistent", () => {
      const { fg } = liveGraph();
      const cloneFirst = nodeRewriter("expand_lazy_grad_clone", [MyOp], (_fg, node) => {
        if (node.op !== Lazy) return null;
        rewriteGraph([node.inputs[1]], { include: ["lower_xtensor"], clone: true, db: nestedDb });
        return null;
      });
      outToIn([cloneFirst]).apply(fg, new RewriteContext({ checked: true }));
      fg.checkIntegrity();
    });
  });

  it("a DestroyHandler desynchronised behind the graph's back is caught at the next rewrite step, naming it", () => {
    const { fg, dh } = liveGraph();
    // Simulate a lost callback: the handler forgets every client it recorded.
    (dh as unknown as { clients: Map<unknown, unknown> }).clients.clear();
    const rw = nodeRewriter("op1_to_op1_copy", [MyOp], (_g, n) => (n.op === op1 ? [ap(new MyOp("copy"), ...n.inputs)] : null));
    assert.throws(
      () => inToOut([rw]).apply(fg, new RewriteContext({ checked: true })),
      (e: Error) => e instanceof InvariantError && /rewrite "op1_to_op1_copy" on /.test(e.message) && /DestroyHandler.checkConsistency/.test(e.message),
    );
  });

  it("checked FAST_RUN-style merging over a graph with destroyers stays consistent", () => {
    const x = toyVar("x");
    const b1 = ap(op1, x);
    const b2 = ap(op1, x);
    const out = ap(new MyOp("join"), ap(destroyOp, b1), ap(destroyOp, b2), ap(op1, x));
    const [r] = rewriteGraph([out], { include: ["merge1"], checked: true, features: [new DestroyHandler()] });
    assert.equal(r.owner?.inputs.length, 3);
  });

  it("a replacement that contradicts a recorded static type is named", () => {
    const x = toyVar("x");
    const y = toyVar("y", [4]);
    // The node's output was refined to length 3 (as by a shape rewrite); y has length 4.
    const node = new Apply(op1, [x], [toyType([3])]);
    const fg = new FunctionGraph([x, y], [ap(new MyOp("join"), node.out)], { features: [new CheckedFeature()] });
    const bad = nodeRewriter("x_to_y", null, (_g, n) => (n.op === op1 && n.inputs[0] === x ? new Map([[x, y]]) : null));
    assert.throws(
      () => inToOut([bad]).apply(fg, new RewriteContext({ checked: true })),
      (e: Error) => e instanceof InvariantError && /rewrite "x_to_y" on op1/.test(e.message) && /recorded as .*shape=\(3,\).*give.*shape=\(4,\)/.test(e.message),
    );
    fg.checkIntegrity();
    assert.equal(fg.outputs[0].owner?.inputs[0].owner?.inputs[0], x, "the bad replacement was reverted");
  });
});

describe("checked mode: pipeline postconditions (what a mode promises beyond values)", () => {
  const x = () => tensor("x", { shape: [3] });
  /** A database holding only the given passes, under the fast_run tag. */
  const dbWith = (passes: Record<string, GraphRewriter>): SequenceDB => {
    const db = new SequenceDB();
    Object.entries(passes).forEach(([name, p], i) => db.register(name, i, ["fast_run"], p));
    return db;
  };

  it("promises follow the query: FAST_RUN merges, fuses and writes in place, FAST_COMPILE merges, NONE promises nothing, exclude drops one", () => {
    assert.deepEqual(promisesOf({ include: MODE_TAGS.FAST_RUN }).sort(), ["fusion", "inplace", "merge"]);
    assert.deepEqual(promisesOf({ include: MODE_TAGS.FAST_COMPILE }), ["merge"]);
    assert.deepEqual(promisesOf({ include: MODE_TAGS.NONE }), []);
    assert.deepEqual(promisesOf({ include: MODE_TAGS.FAST_RUN, exclude: ["inplace"] }).sort(), ["fusion", "merge"]);
    assert.deepEqual(promisesOf({ include: MODE_TAGS.FAST_RUN, exclude: ["inplace", "fusion"] }), ["merge"]);
    // A pass excluded by name takes its promise along, and so does a mode tag (both used to stay,
    // so checked mode failed a compile that excluded elemwise_fusion by name).
    assert.deepEqual(promisesOf({ include: MODE_TAGS.FAST_RUN, exclude: ["elemwise_fusion"] }).sort(), ["inplace", "merge"]);
    assert.deepEqual(promisesOf({ include: MODE_TAGS.FAST_RUN, exclude: ["merge3"] }).sort(), ["fusion", "inplace"]);
    assert.deepEqual(promisesOf({ include: MODE_TAGS.FAST_RUN, exclude: ["fast_run"] }), []);
  });

  it("the real FAST_RUN pipeline keeps them (checked compile of duplicated, in-place-able work)", () => {
    const v = x();
    // Two equal sums (merged) feeding elemwise work on an intermediate buffer (written in place).
    const out = add(exp(sum(v)), mul(sum(v), constant(2)));
    const f = compile([v], [out], { mode: "FAST_RUN", checked: true });
    const nodes = [...f.fgraph.applyNodes];
    assert.equal(nodes.filter((n) => n.op.toString().startsWith("Reduce{sum")).length, 1, nodes.map(String).join("; "));
    assert.ok(nodes.some((n) => Object.keys(n.op.destroyMap).length > 0), `no in-place node in ${nodes.map(String).join("; ")}`);
  });

  it("a pipeline that lost its merge pass fails, naming the unmerged nodes", () => {
    const v = x();
    const out = add(exp(v), exp(v));
    assert.throws(
      () => rewriteGraph([out], { db: dbWith({ inplace: new InplacePass() }), checked: true }),
      (e: Error) => e instanceof InvariantError && /broke its promise merge: 1 pair\(s\) of equal nodes left unmerged, first .*exp/.test(e.message),
    );
    // A finding's signature names the broken promise (its failing "op").
    try {
      rewriteGraph([out], { db: dbWith({ inplace: new InplacePass() }), checked: true });
    } catch (e) {
      assert.equal(opFromMessage((e as Error).message), "promise:merge");
    }
    // Unchecked, the same pipeline is silent (the values are right; only the promise is broken).
    rewriteGraph([out], { db: dbWith({ inplace: new InplacePass() }) });
  });

  it("a pipeline that lost its inplace pass fails, naming the node and slot", () => {
    const v = x();
    const out = mul(exp(v), constant(2));
    assert.throws(
      () => rewriteGraph([out], { db: dbWith({ merge: new MergeOptimizer("merge") }), checked: true, exclude: ["fusion"], features: [new DestroyHandler()] }),
      (e: Error) => e instanceof InvariantError && /could write into input 0 .* but was left out of place/.test(e.message),
    );
  });

  it("an inplace pass that leaves an update op on a shared zero Alloc out of place fails: it could have written into a fresh copy", () => {
    const y = tensor("y", { shape: [2] });
    const z = alloc(constant(0), [5]);
    // Two readers of z: neither may destroy it, so only a fresh copy lets them write in place.
    const outs = [incSubtensor(z, y, [{ start: 0, stop: 2, step: 1 }]), incSubtensor(z, y, [{ start: 3, stop: 5, step: 1 }])];
    const withHandler: GraphRewriter = { name: "inplace", addRequirements: (fg) => void fg.attachFeature(new DestroyHandler()), apply: () => undefined };
    assert.throws(
      () => rewriteGraph(outs, { db: dbWith({ inplace: withHandler }), checked: true, exclude: ["fusion", "merge"] }),
      (e: Error) => e instanceof InvariantError && /promise inplace: IncSubtensor.* updates a zero-filled Alloc it may not overwrite, and was left out of place/.test(e.message),
    );
    rewriteGraph(outs, { db: dbWith({ inplace: new InplacePass() }), checked: true, exclude: ["fusion", "merge"] });
  });

  it("after merge3, a zero Alloc's copy that validation cannot merge back (a reader of the original needs the write's result) is no broken merge promise", () => {
    const y = tensor("y", { shape: [2] });
    const z = alloc(constant(0), [5]);
    const u = incSubtensor(z, y, [{ start: 0, stop: 2, step: 1 }]);
    // add reads z and u: the inc gets a fresh copy of z, and merging the copy back into z would
    // make add wait for the write that destroys its other input.
    const f = compile([y], [add(z, u)], { mode: "FAST_RUN", checked: true });
    const allocs = [...f.fgraph.applyNodes].filter((n) => n.op.toString() === "Alloc");
    assert.equal(allocs.length, 2, [...f.fgraph.applyNodes].map(String).join("; "));
    assert.deepEqual([...f(NDArray.fromNested([1, 2], "float64"))[0].toFlat()], [1, 2, 0, 0, 0]);
  });

  it("a pipeline that lost its fusion pass fails, naming the pair; a pair fusion rightly leaves apart does not", () => {
    const v = x();
    const out = mul(exp(v), constant(2));
    assert.throws(
      () => rewriteGraph([out], { db: dbWith({ merge: new MergeOptimizer("merge") }), checked: true, exclude: ["inplace"] }),
      (e: Error) => e instanceof InvariantError && /broke its promise fusion: Elemwise\{exp\}.* is read only by Elemwise\{mul\}/.test(e.message),
    );
    assert.doesNotThrow(() => rewriteGraph([out], { db: dbWith({ merge: new MergeOptimizer("merge"), fusion: new ElemwiseFusion() }), checked: true, exclude: ["inplace"] }));
    // Read twice (exp also a graph output), or by a node of another shape (a broadcast): no promise.
    const e = exp(v);
    const s = tensor("s", { shape: [1], dtype: "float64" });
    for (const outs of [[mul(e, constant(2)), e], [add(exp(s), v)]]) {
      assert.doesNotThrow(() => rewriteGraph(outs, { db: dbWith({ merge: new MergeOptimizer("merge") }), checked: true, exclude: ["inplace"] }));
    }
  });

  it("a fused loop from an earlier compile (a one-output Composite) left out of its reader's loop breaks the promise too", () => {
    // As when a rewritten graph is compiled again: fusion can take a Composite producer.
    const v = x();
    const a = tensor("a", { shape: [3], dtype: "float64" });
    const loop = compositeFromGraph([a], [exp(mul(a, constant(2)))]).makeNode(v).outputs[0];
    const out = add(loop, constant(1));
    assert.throws(
      () => rewriteGraph([out], { db: dbWith({ merge: new MergeOptimizer("merge") }), checked: true, exclude: ["inplace"] }),
      (e: Error) => e instanceof InvariantError && /broke its promise fusion: Composite\{.*\}.* is read only by Elemwise\{add\}/.test(e.message),
    );
    assert.doesNotThrow(() => rewriteGraph([out], { db: dbWith({ merge: new MergeOptimizer("merge"), fusion: new ElemwiseFusion() }), checked: true, exclude: ["inplace"] }));
  });

  it("a slot the handler does not propose (another reader, a graph input) is no broken promise, and the check leaves the graph and the handler's counters as they were", () => {
    const v = x();
    const e = exp(v);
    // e is read twice, so neither reader may destroy it; v is a graph input (protected).
    const outs = [mul(e, constant(2)), add(e, v)];
    const dh = new DestroyHandler();
    const fg = new FunctionGraph([v], outs, { features: [dh, new CheckedFeature()] });
    const before = [...fg.applyNodes].map((n) => n.toString()).join(";");
    const paths = JSON.stringify([...dh.paths]);
    verifyPostconditions(fg, { include: ["fast_run"], exclude: ["merge"] });
    assert.equal([...fg.applyNodes].map((n) => n.toString()).join(";"), before);
    assert.equal(JSON.stringify([...dh.paths]), paths);
  });

  it("two equal constants left apart break the merge promise", () => {
    const v = x();
    const out = add(mul(v, constant(2)), constant(2));
    assert.throws(
      () => rewriteGraph([out], { db: dbWith({}), checked: true, exclude: ["inplace"] }),
      (e: Error) => e instanceof InvariantError && /two equal constants left unmerged/.test(e.message),
    );
  });

  it("a DestroyHandler whose validation vetoes a slot the in-place contract allows is named (each layer alone would mask the other)", () => {
    const v = x();
    const out = add(exp(sum(v)), mul(sum(v), constant(2)));
    type Patchable = { onValidate(fg: FunctionGraph): void; destroyersOf(v: Variable): Apply[] };
    const proto = DestroyHandler.prototype as unknown as Patchable & { destroyers?: unknown };
    const orig = proto.onValidate;
    // Over-strict validation: any destroyer at all is rejected, so nothing is ever made in place.
    proto.onValidate = function (this: { destroyers: Set<Apply> }, fg: FunctionGraph): void {
      if (this.destroyers.size > 0) throw new InconsistencyError("test: every in-place write vetoed");
      orig.call(this, fg);
    };
    try {
      // Values stay right (nothing is in place), so only the postcondition can tell.
      compile([v], [out], { mode: "FAST_RUN" });
      assert.throws(
        () => compile([v], [out], { mode: "FAST_RUN", checked: true }),
        (e: Error) => e instanceof InvariantError && /input 0 of .* may be overwritten by the in-place contract .* but validation rejects it \(test: every in-place write vetoed\): the candidate contract and validation disagree/.test(e.message),
      );
    } finally {
      proto.onValidate = orig;
    }
  });
});

describe("rewriting/checked: a mode's pass list (verifyModePasses)", () => {
  const FAST_RUN = ["merge1", "expand_pullback", "lower_xtensor", "merge1.1", "canonicalize", "stabilize", "specialize", "elemwise_fusion", "merge2", "inplace", "merge3"];
  const ran = (passes: readonly string[], failures = 0): RewriteContext => {
    const ctx = new RewriteContext({ checked: true, onOptError: "ignore" });
    ctx.passesRun.push(...passes);
    for (let i = 0; i < failures; i++) ctx.report.failures.push({ rewrite: "r", node: "", error: new Error("e") });
    return ctx;
  };
  const start = { passes: 0, failures: 0 };

  it("every mode's real pipeline keeps it (compiled checked on a named graph, each mode)", () => {
    for (const mode of ["NONE", "FAST_COMPILE", "FAST_RUN"] as const) {
      const ctx = new RewriteContext({ checked: true, onOptError: "raise" });
      const x = xtensor("x", { dims: ["a"], shape: [3] });
      compile([x], [xexp(x)], { mode, ctx });
      assert.ok(ctx.passesRun.length > 0);
    }
  });

  it("names a pass the mode runs that did not run: a lost tag, a mode whose tags went wrong", () => {
    assert.throws(() => verifyModePasses("FAST_RUN", [], ran(FAST_RUN.filter((p) => p !== "stabilize")), start), /mode FAST_RUN broke its promise passes: stabilize did not run/);
    // FAST_RUN run as NONE (its mode tag lost): everything but the required passes is missing.
    assert.throws(() => verifyModePasses("FAST_RUN", [], ran(["expand_pullback", "lower_xtensor"]), start), /merge1, merge1\.1, canonicalize, stabilize, specialize, elemwise_fusion, merge2, inplace, merge3 did not run/);
    assert.throws(() => verifyModePasses("FAST_RUN", [], ran([...FAST_RUN].reverse()), start), /ran out of order/);
  });

  it("names an excluded pass that ran anyway (an exclude silently ignored)", () => {
    assert.throws(
      () => verifyModePasses("FAST_RUN", ["merge"], ran(FAST_RUN.filter((p) => p !== "merge2" && p !== "merge3" && p !== "merge1.1")), start),
      (e: Error) => e instanceof InvariantError && /broke its promise passes: merge1 ran although the compile excluded merge/.test(e.message),
    );
  });

  it("a real checked compile accepts every exclude by tag or pass name (values and promises then judged without them)", () => {
    const v = tensor("x", { shape: [3] });
    const out = add(exp(sum(v)), mul(sum(v), constant(2)));
    for (const ex of ["merge", "fusion", "inplace", "fast_run", "fast_compile", "canonicalize", "stabilize", "specialize", "merge1", "merge1.1", "merge2", "merge3", "elemwise_fusion"]) {
      const ctx = new RewriteContext({ checked: true, onOptError: "raise" });
      compile([v], [out], { mode: "FAST_RUN", checked: true, exclude: [ex], ctx });
      assert.ok(!ctx.passesRun.includes(ex), `${ex} ran although excluded`);
    }
  });

  it("accepts what the compile excluded, by tag or by name, and promises nothing after a recorded failure", () => {
    verifyModePasses("FAST_RUN", ["inplace", "fusion"], ran(FAST_RUN.filter((p) => p !== "inplace" && p !== "elemwise_fusion")), start);
    verifyModePasses("FAST_RUN", ["merge", "stabilize"], ran(FAST_RUN.filter((p) => !p.startsWith("merge") && p !== "stabilize")), start);
    verifyModePasses("FAST_RUN", [], ran(["merge1"], 1), start);
    // A mode tag excludes every pass it tags; "fast_compile" takes merge1, merge1.1 and canonicalize out of FAST_RUN too.
    verifyModePasses("FAST_RUN", ["fast_run"], ran(["expand_pullback", "lower_xtensor"]), start);
    verifyModePasses("FAST_RUN", ["fast_compile"], ran(FAST_RUN.filter((p) => p !== "merge1" && p !== "merge1.1" && p !== "canonicalize")), start);
    // A context that served an earlier compile: only what ran since the mark counts.
    const ctx = ran([...FAST_RUN, ...FAST_RUN]);
    verifyModePasses("FAST_RUN", [], ctx, { passes: FAST_RUN.length, failures: 0 });
  });
});

describe("checked mode: the DestroyHandler's queries", () => {
  // destroyersOf / hasDestroyers are read by no engine path, so a drift there would show
  // nowhere else: checked mode restates them from the graph's view and destroy maps. x is
  // mutable, so the fused loop writes into it.
  const x = tensor("x", { shape: [3] });
  const y = exp(add(x, 1));
  const out = sum(mul(y, y));
  const patched = <K extends "destroyersOf" | "hasDestroyers" | "inplaceCandidates">(key: K, fake: DestroyHandler[K], body: () => void): void => {
    const proto = DestroyHandler.prototype as unknown as Record<string, unknown>;
    const orig = proto[key];
    proto[key] = fake;
    try {
      body();
    } finally {
      proto[key] = orig;
    }
  };

  it("agree with the graph after a FAST_RUN compile that writes in place", () => {
    const f = compile([x], [out], { checked: true, mutableInputs: [x] });
    assert.ok([...f.fgraph.applyNodes].some((n) => Object.keys(n.op.destroyMap).length > 0), "the compile writes in place");
  });

  it("fail checked mode, naming the query, when destroyersOf forgets a destroyer", () => {
    patched("destroyersOf", () => [], () => {
      assert.throws(() => compile([x], [out], { checked: true, mutableInputs: [x] }), (e: unknown) => e instanceof InvariantError && /DestroyHandler\.destroyersOf\(.*\) is \[\], but the graph's destroy maps give \[.+\]/.test(e.message));
    });
  });

  it("fail checked mode when hasDestroyers always says no", () => {
    patched("hasDestroyers", () => false, () => {
      assert.throws(() => compile([x], [out], { checked: true, mutableInputs: [x] }), (e: unknown) => e instanceof InvariantError && /DestroyHandler\.hasDestroyers\(\[.*\]\) is false, but the graph's destroy maps give 1 destroyer/.test(e.message));
    });
  });

  it("fail checked mode when inplaceCandidates proposes what the in-place contract forbids", () => {
    // Every slot, the protected graph input x among them. Validation refuses those writes, so
    // the compiled graph is the same; only the handler's answer to the query is wrong.
    patched("inplaceCandidates", (n: Apply) => n.inputs.map((_, j) => j), () => {
      assert.throws(() => compile([x], [out], { checked: true }), (e: unknown) => e instanceof InvariantError && /DestroyHandler\.inplaceCandidates\(.*\) proposes input\(s\) \[0.*\], but the in-place contract restated from the graph allows \[.*\]/.test(e.message));
    });
  });
});
