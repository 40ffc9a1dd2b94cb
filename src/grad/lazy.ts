/**
 * Direct gradients of un-lowered named-dim graphs: the lazy, graph-level `Pullback` node.
 *
 * This is the design the PyTensor maintainer asked for in the background PR: named ops carry no
 * gradient code and never lower themselves inside a pullback. Instead, when the path from `wrt`
 * to the cost crosses named ops, `grad` wraps that whole region, together with its cotangents,
 * in one `Pullback` node. The node is a placeholder with the gradients' exact types. The
 * compiler's `expand_pullback` pass (position 0.089, just before `lower_xtensor`) replaces it:
 *
 *   1. copy the wrapped region onto fresh inputs (the node's own inner graph is never touched);
 *   2. on that copy only, expand nested Pullback nodes and lower the named ops;
 *   3. differentiate the resulting positional graph with the ordinary driver;
 *   4. substitute the node's real inputs for the fresh ones.
 *
 * Step 1 is the rule that the background PR broke: its LazyGrad expansion rewrote, in place,
 * Apply nodes shared with the live compile graph, so the DestroyHandler never heard of the
 * change. Here every nested rewrite runs on a private copy.
 *
 * Boundaries. `wrt` and `considerConstant` variables become inputs of the region (the graph is
 * cut there, as PyTensor's `xtensor.gradient` detaches their owners). Hence an interior `wrt`
 * works, and a `considerConstant` variable blocks every path through it. Every other root
 * (graph inputs; constants stay inside) is an extra input of the node, so the expansion can
 * refer to it.
 */
import { Apply, Constant, type Variable, makeVariable } from "../graph/basic.js";
import { DISCONNECTED, type GradTerm, Op, stableStringify } from "../graph/op.js";
import { isFloat } from "../graph/type.js";
import { GradError, OpInputError } from "../errors.js";
import { ancestors, clone, graphReplace, toposort } from "../graph/traversal.js";
import { inToOut, nodeRewriter } from "../rewriting/engine.js";
import { register, rewriteGraph } from "../rewriting/db.js";
import { XOp } from "../xtensor/op.js";
import { algebraFor } from "./algebra.js";

/**
 * The lazy pullback of a wrapped region. Inputs: the region's inputs (the `nWrt` differentiated
 * ones first), then one cotangent per region output. Outputs: one gradient per differentiated
 * input, of that input's type. It has no kernel: `expand_pullback` must replace it.
 */
export class PullbackOp extends Op {
  readonly name = "Pullback";
  readonly props: { readonly graph: string; readonly nWrt: number };

  /**
   * @param innerInputs fresh root variables standing for the region's inputs
   * @param innerOutputs the region's outputs, computed from `innerInputs` (and constants)
   * @param nWrt how many leading inputs are differentiated
   */
  constructor(
    readonly innerInputs: readonly Variable[],
    readonly innerOutputs: readonly Variable[],
    readonly nWrt: number,
  ) {
    super();
    for (let i = 0; i < nWrt; i++) {
      if (!isFloat(innerInputs[i].type.dtype)) {
        throw new GradError(`Pullback: differentiated input ${i} has dtype ${innerInputs[i].type.dtype}; only float inputs have gradients`);
      }
    }
    this.props = { graph: graphSignature(innerInputs, innerOutputs), nWrt };
  }

  makeNode(...inputs: Variable[]): Apply {
    const nIn = this.innerInputs.length;
    const nOut = this.innerOutputs.length;
    if (inputs.length !== nIn + nOut) {
      throw new OpInputError(`Pullback: expected ${nIn} region inputs and ${nOut} cotangents, got ${inputs.length} inputs`);
    }
    inputs.forEach((v, i) => {
      const expected = i < nIn ? this.innerInputs[i].type : this.innerOutputs[i - nIn].type;
      const ok = i < nIn ? expected.isSuper(v.type) : expected.kind === v.type.kind && expected.shape.length === v.type.ndim && isFloat(v.type.dtype);
      if (!ok) {
        const what = i < nIn ? `region input ${i}` : `cotangent ${i - nIn}`;
        throw new OpInputError(`Pullback: ${what} must be of type ${expected.toString()}, got ${v.type.toString()}`);
      }
    });
    return new Apply(
      this,
      inputs,
      this.innerInputs.slice(0, this.nWrt).map((v) => v.type),
    );
  }
}

/**
 * A structural signature of a graph: equal for graphs that compute the same thing from inputs
 * of the same types. Two Pullback nodes over equal regions therefore carry equal ops, and
 * MergeOptimizer can merge them like any other pair of nodes.
 */
export function graphSignature(inputs: readonly Variable[], outputs: readonly Variable[]): string {
  const id = new Map<Variable, string>();
  inputs.forEach((v, i) => id.set(v, `i${i}`));
  const parts: string[] = [`in:${inputs.map((v) => v.type.key()).join(";")}`];
  const nodes = toposort(outputs, inputs);
  nodes.forEach((node, k) => {
    const args = node.inputs.map((v) => {
      const known = id.get(v);
      if (known !== undefined) return known;
      if (v instanceof Constant) return `c(${v.signature()})`;
      throw new GradError(`Pullback: the wrapped region reads ${v.toString()}, which is not one of its inputs`);
    });
    node.outputs.forEach((o, j) => id.set(o, `n${k}.${j}`));
    parts.push(`n${k}=${node.op.hash()}(${args.join(",")}):${node.outputs.map((o) => o.type.key()).join(";")}`);
  });
  parts.push(`out:${outputs.map((o) => id.get(o) ?? (o instanceof Constant ? `c(${o.signature()})` : "?")).join(",")}`);
  return stableStringify(parts.join("\n"));
}

/** True for nodes a positional driver cannot differentiate: named ops and lazy Pullback nodes. */
export function needsRegionStrategy(node: Apply): boolean {
  return node.op instanceof XOp || node.op instanceof PullbackOp;
}

/**
 * Wrap the region between `wrt` (and `considerConstant`) and `outputs` in one Pullback node
 * whose cotangent inputs are `cotangents` (already aligned to `outputs` by name). Returns one
 * gradient term per `wrt` entry (repeated entries share one gradient); a wrt the region does
 * not read (absent, or only behind another cut) gets DISCONNECTED.
 */
export function lazyPullback(outputs: readonly Variable[], cotangents: readonly Variable[], wrt: readonly Variable[], considerConstant: readonly Variable[] = []): GradTerm[] {
  const uniqueWrt = [...new Set(wrt)];
  const cut = new Set<Variable>([...uniqueWrt, ...considerConstant]);
  const reach = ancestors(outputs, cut);
  const reached = new Set(reach);
  // Only what the region reads becomes an input of the node: a wrt or considerConstant variable
  // outside the region (or behind another cut) would otherwise drag its own, unrelated graph
  // (and that graph's roots, as required inputs) into every function that uses the gradient.
  // A discrete wrt carries no gradient whatever it feeds (the driver's rule for a discrete
  // input, which perNode and lowerThenGrad apply through the positional rules): the region is
  // cut there like at a considerConstant variable, and its term is DISCONNECTED, which the
  // driver turns into an undefined gradient where it is an index. (Refusing it here made the
  // default strategy throw where the other two answer; found by the disconnected claim.)
  const inWrt = uniqueWrt.filter((w) => reached.has(w) && isFloat(w.type.dtype));
  if (inWrt.length === 0) return wrt.map(() => DISCONNECTED);
  const others = reach.filter((v) => v.owner === null && !(v instanceof Constant) && !cut.has(v));
  const held = [...uniqueWrt.filter((w) => !isFloat(w.type.dtype)), ...considerConstant];
  const extra = [...held.filter((v) => reached.has(v) && !inWrt.includes(v)), ...others];
  const outer = [...inWrt, ...new Set(extra)];
  const inner = outer.map((v) => makeVariable(v.type, null, 0, v.name));
  const { outputs: innerOutputs } = clone(outputs, { replace: new Map(outer.map((v, i) => [v, inner[i]])) });
  const op = new PullbackOp(inner, innerOutputs, inWrt.length);
  const node = op.makeNode(...outer, ...cotangents.map((c, k) => refinedCotangent(c, outputs[k])));
  return wrt.map((w) => (inWrt.includes(w) ? node.outputs[inWrt.indexOf(w)] : DISCONNECTED));
}

/**
 * Cotangent `c` of `out`, typed so that the region's cotangent placeholder (of `out`'s type)
 * can be replaced by it when the node is expanded. A caller may pass a cotangent of a vaguer
 * static type than its output (a tangent declared without lengths, through pushforward's double
 * pullback); `conform` accepts it, since both describe one value. Without this the expansion
 * failed with the compiler's "cannot replace" (found by pushforward-options' vague tangents), while
 * perNode and lowerThenGrad differentiated the same call. So the cotangent is refined to the meet
 * of the two types, checked at run time.
 */
function refinedCotangent(c: Variable, out: Variable): Variable {
  const want = out.type;
  if (want.isSuper(c.type)) return c;
  const refine = algebraFor(c.type).specifyShape;
  if (refine === undefined || want.ndim !== c.type.ndim) return c;
  return refine(c, want.shape.map((s, k) => s ?? c.type.shape[k]));
}

/**
 * The expansion of one Pullback node: positional gradient graphs over the node's real inputs.
 * Works on a fresh copy of the inner graph, never on the op's own nodes or the caller's graph.
 */
export function expandPullbackNode(node: Apply, differentiate: Differentiate): Variable[] {
  const op = node.op;
  if (!(op instanceof PullbackOp)) throw new GradError(`expand_pullback: ${op.toString()} is not a Pullback node`);
  const freshIn = op.innerInputs.map((v) => v.cloneRoot());
  const freshCot = op.innerOutputs.map((o) => makeVariable(o.type, null, 0, null));
  const { outputs: copy } = clone(op.innerOutputs, { replace: new Map(op.innerInputs.map((v, i) => [v, freshIn[i]])) });
  // Nested Pullback nodes first (second order), then the named ops: both on the copy.
  const lowered = rewriteGraph(copy, { include: ["expand_pullback", "lower_xtensor"], onOptError: "raise" });
  const wrt = freshIn.slice(0, op.nWrt);
  // A disconnected gradient is an exact zero of the input's type (the node promised one output per wrt).
  const grads = differentiate(lowered, wrt, freshCot).map((g, i) => g ?? algebraFor(wrt[i].type).zerosLike(wrt[i], wrt[i].type.dtype));
  const back = new Map<Variable, Variable>();
  freshIn.forEach((v, i) => back.set(v, node.inputs[i]));
  freshCot.forEach((v, k) => back.set(v, node.inputs[op.innerInputs.length + k]));
  return graphReplace(grads, back).map((g, i) => asOutputType(g, node, i));
}

/**
 * Gradient `i` of an expansion, typed so that Pullback output `i` (the wrt's type) accepts it.
 * Static inference may know less about a length than the wrt's declaration (a length lost
 * through a Dot's pullback) and more about another (one learned from a cotangent). Both are facts
 * about the same value, so the gradient is refined to their meet, checked at run time. Without
 * this a wrt declared with a mix of known and unknown lengths made the replacement fail (found
 * by the shape-erasure property). Contradicting lengths are a bug in some pullback, reported.
 */
function asOutputType(g: Variable, node: Apply, i: number): Variable {
  const want = node.outputs[i].type;
  if (want.isSuper(g.type)) return g;
  const have = g.type;
  const refine = algebraFor(have).specifyShape;
  const meet = want.ndim === have.ndim ? want.shape.map((s, k) => s ?? have.shape[k]) : null;
  const clash = meet === null || want.shape.some((s, k) => s !== null && have.shape[k] !== null && s !== have.shape[k]);
  if (clash || refine === undefined) {
    throw new GradError(`expand_pullback: the expansion of a Pullback node gives gradient ${i} (w.r.t. ${node.inputs[i].toString()}) the type ${have.toString()}, which the node's output type ${want.toString()} cannot accept`);
  }
  const r = refine(g, meet);
  if (!want.isSuper(r.type)) throw new GradError(`expand_pullback: gradient ${i} (w.r.t. ${node.inputs[i].toString()}) refined to ${r.type.toString()} is still not accepted by ${want.toString()}`);
  return r;
}

/**
 * A positional differentiator: Σ_k cotangents[k] · d outputs[k] / d wrt[i] for each i, or null
 * where that gradient is disconnected.
 */
export type Differentiate = (outputs: readonly Variable[], wrt: readonly Variable[], cotangents: readonly Variable[]) => (Variable | null)[];

/** Set by the grad module: the positional differentiation used by expansions. */
let differentiator: Differentiate | null = null;

/** Install the positional differentiator (done once by src/grad/api.ts; avoids an import cycle). */
export function setExpansionDifferentiator(fn: Differentiate): void {
  differentiator = fn;
}

/** The expansion of a Pullback node with the installed differentiator (the compiler's, and forward mode's). */
export function expandWithInstalled(node: Apply): Variable[] {
  if (differentiator === null) throw new GradError("expand_pullback: no differentiator installed (import src/grad/api.ts)");
  return expandPullbackNode(node, differentiator);
}

/** The `expand_pullback` node rewriter. */
export const expandPullback = nodeRewriter("expand_pullback", [PullbackOp], (_fg, node) => expandWithInstalled(node));

register("expand_pullback", 0.089, ["required", "expand_pullback"], inToOut([expandPullback]));

/**
 * Replace every Pullback node in a **copy** of the graph of `outputs` by its expansion. The
 * named ops outside the wrapped regions are left as they are (`lower` handles those).
 */
export function expandPullbacks(outputs: readonly Variable[]): Variable[] {
  return rewriteGraph(outputs, { include: ["expand_pullback"], onOptError: "raise" });
}
