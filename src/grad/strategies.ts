/**
 * The two other gradient paths for named-dim graphs, kept deliberately separate from the lazy
 * path (src/grad/lazy.ts) because the harness compares all three:
 *
 * - `perNodeRule`: the background PR's first design. Each named node is differentiated on its
 *   own: fresh stand-ins for its float inputs (so a repeated input such as `x * x` gets one
 *   term per slot, which the driver then sums), the single node lowered, the positional
 *   pullback taken, and the real inputs graph-replaced back. It duplicates conversion views on
 *   purpose, which exercises merge and the DestroyHandler downstream.
 * - `lowerThenGrad`: the reference. Lower a copy of the whole cost graph with `wrt` and
 *   `considerConstant` cut into inputs, then take the positional gradient.
 */
import { type Apply, Variable } from "../graph/basic.js";
import { DISCONNECTED, type GradTerm, UndefinedGrad, isUndefinedGrad } from "../graph/op.js";
import { isFloat } from "../graph/type.js";
import { GradError } from "../errors.js";
import { ancestors, clone, graphReplace, toposort } from "../graph/traversal.js";
import { algebraFor } from "./algebra.js";
import { rewriteGraph } from "../rewriting/db.js";
import { XOp } from "../xtensor/op.js";
import { AdvancedIncSubtensor, AdvancedSubtensor } from "../tensor/indexing.js";
import { type Differentiate, PullbackOp, expandPullbackNode } from "./lazy.js";


/** Lower (and expand nested pullbacks in) a copy; the argument is never mutated. */
function lowerCopy(outputs: readonly Variable[]): Variable[] {
  return rewriteGraph(outputs, { include: ["expand_pullback", "lower_xtensor"], onOptError: "raise" });
}

/**
 * The per-node pullback of a named (or lazy Pullback) node, built by lowering that node alone.
 * Integer inputs keep their real variables (an index must stay an index) and get an undefined
 * gradient; float inputs get fresh stand-ins.
 */
export function perNodeRule(differentiate: Differentiate): (inputs: readonly Variable[], outputs: readonly Variable[], cotangents: readonly Variable[], node: Apply) => GradTerm[] {
  return (inputs, _outputs, cotangents, node) => {
    const standIns = inputs.map((v) => (isFloat(v.type.dtype) ? v.cloneRoot() : v));
    let lowered: Variable[];
    if (node.op instanceof PullbackOp) {
      // A lazy node met by the per-node strategy (e.g. grad of a lazy grad): expand it on the
      // stand-ins, which yields a positional graph of them.
      const local = node.op.makeNode(...standIns);
      lowered = expandPullbackNode(local, differentiate);
      lowered = lowerCopy(lowered);
    } else if (node.op instanceof XOp) {
      lowered = lowerCopy(node.op.makeNode(...standIns).outputs);
    } else {
      throw new GradError(`perNode: ${node.op.toString()} is neither a named op nor a Pullback node`);
    }
    const cotStandIns = cotangents.map((c) => c.cloneRoot());
    const floatSlots = standIns.map((v, i) => (v !== inputs[i] ? i : -1)).filter((i) => i >= 0);
    const grads = differentiate(
      lowered,
      floatSlots.map((i) => standIns[i]),
      cotStandIns,
    );
    const back = new Map<Variable, Variable>();
    floatSlots.forEach((i) => back.set(standIns[i], inputs[i]));
    cotStandIns.forEach((c, k) => back.set(c, cotangents[k]));
    const present = grads.filter((g): g is Variable => g !== null);
    const replaced = graphReplace(present, back);
    const terms: GradTerm[] = inputs.map((v, i) =>
      isFloat(v.type.dtype) || !isIndexSlot(node, i) ? DISCONNECTED : new UndefinedGrad(`${v.toString()} is an integer index input of ${node.op.toString()}`),
    );
    let k = 0;
    floatSlots.forEach((slot, j) => {
      if (grads[j] !== null) terms[slot] = replaced[k++];
      // A Pullback node declares no connection pattern (it cannot know which inputs its
      // expansion cancels, e.g. the forward inputs of a linear map): an exact zero says "no
      // dependence here" without claiming the input is disconnected.
      else if (node.op instanceof PullbackOp) terms[slot] = algebraFor(inputs[slot].type).zerosLike(inputs[slot], inputs[slot].type.dtype);
    });
    return terms;
  };
}

/**
 * The reference path: lower a copy of `cost`'s graph with `wrt` (and `considerConstant`) cut
 * into fresh inputs, differentiate positionally, and express the result over the real `wrt`.
 */
export function lowerThenGradWith(differentiate: Differentiate, cost: Variable, wrt: readonly Variable[], considerConstant: readonly Variable[], seed: Variable): (Variable | null)[] {
  const partial = lowerCut(differentiate, cost, wrt, considerConstant, seed);
  const terms = chainThroughWrt(partial.map((g) => g ?? DISCONNECTED), wrt, considerConstant, (u, gu, upstream, blockers) =>
    lowerCut(differentiate, u, upstream, blockers, gu).map((g) => g ?? DISCONNECTED),
  );
  return terms.map((t) => (t instanceof Variable ? t : null));
}

/**
 * Index arrays (inputs ≥ 1 of `Index` and `AdvancedSubtensor`, ≥ 2 of `IndexUpdate` and
 * `AdvancedIncSubtensor`) have an undefined gradient: the output depends on their values, but
 * not differentiably. Any other discrete input (a comparison's result used as a `where`
 * condition, an int operand) is simply disconnected, as the positional rules say.
 */
export function isIndexSlot(node: Apply, i: number): boolean {
  const op = node.op;
  return ((op.name === "Index" || op instanceof AdvancedSubtensor) && i >= 1) || ((op.name === "IndexUpdate" || op instanceof AdvancedIncSubtensor) && i >= 2);
}

/** One lowering with every `wrt` and `considerConstant` variable cut into an input: partial gradients. */
function lowerCut(differentiate: Differentiate, cost: Variable, wrt: readonly Variable[], considerConstant: readonly Variable[], seed: Variable): (Variable | null)[] {
  const cut = [...new Set([...wrt, ...considerConstant])];
  const fresh = cut.map((v) => v.cloneRoot());
  const { outputs } = clone([cost], { replace: new Map(cut.map((v, i) => [v, fresh[i]])) });
  const [lowered] = lowerCopy(outputs);
  const grads = differentiate([lowered], wrt.map((w) => fresh[cut.indexOf(w)]), [seed]);
  const back = new Map(cut.map((v, i) => [fresh[i], v] as const));
  const present = grads.filter((g): g is Variable => g !== null);
  const replaced = graphReplace(present, back);
  let k = 0;
  return grads.map((g) => (g === null ? null : replaced[k++]));
}

/**
 * Partial gradients → total gradients, for paths that cut the graph at every `wrt`.
 *
 * Both the lazy region and the lowering reference make each `wrt` an input of the graph they
 * differentiate (lowering would otherwise rewrite an interior `wrt` away). That yields
 * ∂cost/∂w with the *other* wrt held fixed. `grad` promises what the positional driver (and
 * PyTensor's `grad`) gives: the total derivative of the cost with respect to each w, so that
 * `grad(c, [y, x])[1]` equals `grad(c, [x])[0]` when y = f(x). By the chain rule over the DAG
 * of the wrt themselves,
 *
 *   total(w) = partial(w) + Σ_{u computed from w} (∂u/∂w)ᵀ total(u),
 *
 * where ∂u/∂w is taken through u's own graph cut at the other wrt (and at `considerConstant`),
 * so that each path is counted once. `pullThrough(u, g, upstream, blockers)` returns the
 * vector-Jacobian product gᵀ ∂u/∂upstream with `blockers` cut. The wrt are visited downstream
 * first, so total(u) is complete before it is pulled back. A `fixed` wrt (a knownGrads key: its
 * entry is its whole gradient) takes no contributions from downstream, but is still pulled back.
 */
export function chainThroughWrt(
  partial: readonly GradTerm[],
  wrt: readonly Variable[],
  considerConstant: readonly Variable[],
  pullThrough: (u: Variable, g: Variable, upstream: readonly Variable[], blockers: readonly Variable[]) => GradTerm[],
  fixed: ReadonlySet<Variable> = new Set(),
): GradTerm[] {
  const unique = [...new Set(wrt)];
  const constant = new Set(considerConstant);
  const blockersOf = (u: Variable): Variable[] => [...new Set([...considerConstant, ...unique.filter((w) => w !== u)])];
  // The wrt each u reads without passing through another wrt (or a considerConstant variable).
  const direct = new Map<Variable, Variable[]>();
  for (const u of unique) {
    if (u.owner === null || constant.has(u)) continue;
    const reach = new Set(ancestors(u.owner.inputs, blockersOf(u)));
    const ups = unique.filter((w) => w !== u && reach.has(w));
    if (ups.length > 0) direct.set(u, ups);
  }
  if (direct.size === 0) return [...partial];
  const total = new Map<Variable, GradTerm>(unique.map((w) => [w, partial[wrt.indexOf(w)]]));
  // Downstream first: reverse topological order of the wrt's owners.
  const rank = new Map(toposort(unique).map((node, k) => [node, k] as const));
  const order = [...direct.keys()].sort((p, q) => (rank.get(q.owner as Apply) ?? 0) - (rank.get(p.owner as Apply) ?? 0));
  for (const u of order) {
    const gu = total.get(u);
    if (!(gu instanceof Variable)) continue;
    const ups = direct.get(u) as Variable[];
    const contrib = pullThrough(u, gu, ups, blockersOf(u));
    ups.forEach((w, k) => {
      if (fixed.has(w)) return;
      const c = contrib[k];
      const prev = total.get(w) as GradTerm;
      if (isUndefinedGrad(prev)) return;
      if (isUndefinedGrad(c)) total.set(w, c);
      else if (c instanceof Variable) total.set(w, prev instanceof Variable ? algebraFor(w.type).add(prev, c) : c);
    });
  }
  return wrt.map((w) => total.get(w) as GradTerm);
}
