/**
 * Forward mode and second order.
 *
 * `pushforward` has two derivations of the Jacobian-vector product:
 * - the double-pullback trick (J. Towns; PyTensor's default, and ours): with free placeholders
 *   u of the outputs' types, g(u) = pullback(outputs, wrt, u) = Jᵀu is linear in u, so its own
 *   pullback with cotangent t is (Jᵀ)ᵀt = J t. It needs no rule beyond the pullbacks, but it
 *   cannot disagree with them: a pullback rule that is linear but wrong comes back transposed
 *   into an equally wrong J t;
 * - `useOpPushforward`: one forward sweep with the ops' own `pushforward` rules. Every built-in
 *   positional op has one, written from the derivative beside its pullback; a named op is
 *   swept through its lowering. This is a one-pass graph, and a second, independent statement
 *   of every Jacobian: `pushforward-duality` checks ⟨w, J u⟩ from these rules against ⟨Jᵀw, u⟩
 *   from the pullbacks, which is how a wrong pullback or a wrong forward rule is caught.
 */
import { type Apply, Variable, makeVariable } from "../graph/basic.js";
import { DISCONNECTED, type Disconnected, type GradTerm, isDisconnected, isUndefinedGrad } from "../graph/op.js";
import { isFloat } from "../graph/type.js";
import { GradError } from "../errors.js";
import { ancestors, graphReplace, toposort } from "../graph/traversal.js";
import { isXOp } from "../xtensor/op.js";
import { XTensorType } from "../xtensor/type.js";
import { PullbackOp, expandPullbacks, expandWithInstalled } from "./lazy.js";
import { resolvePushforward } from "./registry.js";
import { algebraFor } from "./algebra.js";
import { type DisconnectedPolicy, type GradOptions, type GradResult, type ReturnDisconnected, alignCotangent, grad, gradTerms, pullback } from "./driver.js";

/** Options of `pushforward`. */
export interface PushforwardOptions extends Omit<GradOptions, "knownGrads" | "disconnectedInputs"> {
  /** An output that depends on no `wrt`: "raise" (default), "warn" or "ignore". */
  readonly disconnectedOutputs?: DisconnectedPolicy;
  /**
   * true: one forward sweep with the ops' own `pushforward` rules when every op on the path has
   * one (named ops through their lowering), else the double-pullback trick. "require": the
   * sweep or a GradError naming the op without a rule. false (the default): the double pullback.
   */
  readonly useOpPushforward?: boolean | "require";
  /**
   * Told which derivation produced the result: "sweep" (the ops' pushforward rules) or
   * "double-pullback". With `useOpPushforward: true` the sweep silently falls back when an op
   * has no rule; a caller that compares the two derivations (the harness's duality check) must
   * know that they really were two.
   */
  readonly onDerivation?: (derivation: PushforwardDerivation) => void;
}

/** How `pushforward` derived J t (see `PushforwardOptions.onDerivation`). */
export type PushforwardDerivation = "sweep" | "double-pullback";

/**
 * The Jacobian-vector product: for each output, Σ_k d output / d wrt[k] · tangents[k]. Tangents
 * must be float variables of their wrt's type family (named tangents are aligned by name).
 * Returns one tangent per output, of the output's type (float outputs) — a single tangent when
 * `outputs` is a single variable.
 */
export function pushforward<R extends ReturnDisconnected | undefined = undefined>(
  outputs: Variable,
  wrt: readonly Variable[],
  tangents: readonly Variable[],
  options?: PushforwardOptions & { readonly returnDisconnected?: R },
): GradResult<R>;
export function pushforward<R extends ReturnDisconnected | undefined = undefined>(
  outputs: readonly Variable[],
  wrt: readonly Variable[],
  tangents: readonly Variable[],
  options?: PushforwardOptions & { readonly returnDisconnected?: R },
): GradResult<R>[];
export function pushforward<R extends ReturnDisconnected | undefined = undefined>(
  outputs: Variable | readonly Variable[],
  wrt: readonly Variable[],
  tangents: readonly Variable[],
  options?: PushforwardOptions & { readonly returnDisconnected?: R },
): GradResult<R> | GradResult<R>[] {
  const opts: PushforwardOptions = options ?? {};
  const outs = outputs instanceof Variable ? [outputs] : outputs;
  if (wrt.length !== tangents.length) throw new GradError(`pushforward: ${wrt.length} wrt but ${tangents.length} tangents`);
  const aligned = tangents.map((t, k) => alignCotangent(t, wrt[k], `pushforward: tangent ${k} (for ${wrt[k].toString()})`));
  const swept = opts.useOpPushforward === true || opts.useOpPushforward === "require" ? forwardSweep(outs, wrt, aligned, opts) : null;
  const raw = swept ?? doublePullback(outs, wrt, aligned, opts);
  opts.onDerivation?.(swept !== null ? "sweep" : "double-pullback");
  const res = finishForward(outs, raw, opts);
  return (outputs instanceof Variable ? res[0] : res) as GradResult<R> | GradResult<R>[];
}

/** J t by pulling back through g(u) = Jᵀu. Returns one raw term per output. */
function doublePullback(outs: readonly Variable[], wrt: readonly Variable[], tangents: readonly Variable[], opts: PushforwardOptions): GradTerm[] {
  const common: GradOptions = { considerConstant: opts.considerConstant, ruleFor: opts.ruleFor, onWarning: opts.onWarning, gradStrategy: opts.gradStrategy, addNames: false };
  // Free roots, not zeros_like(outputs) as PyTensor does: a root cannot be rewritten or merged
  // into the forward graph, and a leftover dependence on it is then easy to detect (below).
  const u = outs.map((o, k) => makeVariable(isFloat(o.type.dtype) ? o.type : o.type.withDtype("float64"), null, 0, `u${k}`));
  // Additive seeds: outputs may be nested (pushforward of [y, f(y)]), see `pullback`.
  const seeds = new Map<Variable, Variable>();
  outs.forEach((o, k) => {
    const prev = seeds.get(o);
    seeds.set(o, prev === undefined ? u[k] : algebraFor(o.type).add(prev, u[k]));
  });
  const g = gradTerms(null, wrt, common, seeds);
  const outputsG: Variable[] = [];
  const cots: Variable[] = [];
  g.forEach((gk, k) => {
    if (isUndefinedGrad(gk)) throw new GradError(`pushforward: the derivative with respect to ${wrt[k].toString()} (wrt[${k}]) is undefined: ${gk.reason}`);
    if (gk instanceof Variable) {
      outputsG.push(gk);
      cots.push(tangents[k]);
    }
  });
  if (outputsG.length === 0) return outs.map(() => DISCONNECTED);
  // Several wrt may share one gradient variable: pullback sums their tangents.
  const res = pullback(outputsG, u, cots, { ...common, disconnectedInputs: "ignore", returnDisconnected: "disconnected" });
  const placeholders = new Set<Variable>(u);
  const live = res.filter((r): r is Variable => r instanceof Variable);
  // A lazy Pullback node (src/grad/lazy.ts) takes the placeholders as inputs even though its
  // expansion is linear in them and cancels them out: such a dependence is only structural.
  const lazyOutputs = ancestors(live, wrt).filter((v) => v.owner?.op instanceof PullbackOp);
  const notLinear = (j: number): GradError =>
    new GradError(
      `pushforward: the tangent of output ${j} (${outs[j].toString()}) still depends on its cotangent placeholder, ` +
        `so some pullback on the path is not linear in its cotangent; use useOpPushforward or fix that rule`,
    );
  res.forEach((r, j) => {
    if (r instanceof Variable && connectedAncestors([r], [...wrt, ...lazyOutputs]).some((a) => placeholders.has(a))) throw notLinear(j);
  });
  if (lazyOutputs.length > 0) {
    // The regions of those nodes hold rules too: one not linear in its cotangent there (a user's
    // op downstream of named ones, which the region wraps) shows only in their expansion, where
    // the compiler would have turned it into a silently wrong J t. So the check runs again on an
    // expanded copy (roots shared; the lazy result is what is returned).
    const expanded = expandPullbacks(live);
    let k = 0;
    res.forEach((r, j) => {
      if (r instanceof Variable && connectedAncestors([expanded[k++]], wrt).some((a) => placeholders.has(a))) throw notLinear(j);
    });
  }
  if (ancestors(live, wrt).some((a) => placeholders.has(a))) {
    // J t does not depend on u (checked above), but a lazy Pullback node or a shape-only use
    // (zeros shaped like a cotangent) may still reach it structurally. Any value works; zeros
    // of the outputs (PyTensor's choice) make the compiled function need no placeholder input.
    const zeros = new Map(u.map((uk, k) => [uk, algebraFor(outs[k].type).zerosLike(outs[k], uk.type.dtype)] as const));
    const replaced = graphReplace(live, zeros);
    let k = 0;
    return res.map((r) => (r instanceof Variable ? replaced[k++] : r));
  }
  return res;
}

/**
 * The ancestors of `outputs` along true connections only (`connectionPattern`): a value used
 * only for its shape (the first input of `second`, the input of `Shape`) is not a dependence.
 * Rules build zeros shaped like their cotangent, which is linear (constant) in it.
 */
function connectedAncestors(outputs: readonly Variable[], blockers: readonly Variable[]): Variable[] {
  const blocked = new Set(blockers);
  const seen = new Set<Variable>();
  const stack = [...outputs];
  while (stack.length > 0) {
    const v = stack.pop() as Variable;
    if (seen.has(v)) continue;
    seen.add(v);
    const node = v.owner;
    if (node === null || blocked.has(v)) continue;
    const pattern = node.op.connectionPattern?.(node);
    node.inputs.forEach((inp, i) => {
      if (pattern === undefined || pattern[i][v.index]) stack.push(inp);
    });
  }
  return [...seen];
}

/**
 * One forward sweep with the ops' own `pushforward` rules; null when some op on the path has
 * none (the caller then falls back to the double pullback), or a GradError naming it when
 * `useOpPushforward` is "require".
 */
function forwardSweep(outs: readonly Variable[], wrt: readonly Variable[], tangents: readonly Variable[], opts: PushforwardOptions): GradTerm[] | null {
  const tan = new Map<Variable, Variable>();
  wrt.forEach((w, k) => {
    // A tangent may be declared without some or all of its wrt's static lengths; the rules read
    // it as of its wrt's type (a static 1 broadcast by Elemwise against a 2, seed 2424 case 2212:
    // mul's rule failed at run time on an unknown 1), as they do every tangent the sweep makes.
    const t = refineShape(tangents[k], w);
    const prev = tan.get(w);
    tan.set(w, prev === undefined ? t : algebraFor(w.type).add(prev, t));
  });
  const missing = sweep(outs, tan, opts.considerConstant ?? []);
  if (missing !== null) {
    if (opts.useOpPushforward === "require") {
      throw new GradError(`pushforward: ${missing.op.toString()} (computing ${missing.outputs[0].toString()}) has no pushforward rule, and useOpPushforward is "require"`);
    }
    return null;
  }
  return outs.map((o) => tan.get(o) ?? DISCONNECTED);
}

/**
 * Propagate the tangents in `tan` (keyed by variable) to every variable between them and
 * `outs`, adding entries to `tan`. Returns null, or the first node on the path that has no
 * rule. Only nodes that a tangent reaches and that have a float output need one. Two kinds of
 * node stand for a graph and have no rules of their own: a named op (src/xtensor/op.ts), swept
 * through its lowering, so that forward mode too has one rule per op, the positional one; and
 * a lazy gradient's Pullback node, swept through its expansion (forward over reverse).
 */
function sweep(outs: readonly Variable[], tan: Map<Variable, Variable>, constant: readonly Variable[]): Apply | null {
  const order = toposort(outs, [...tan.keys(), ...constant]);
  const reached = new Set<Variable>(tan.keys());
  const path: Apply[] = [];
  for (const node of order) {
    if (node.inputs.some((v) => reached.has(v)) && node.outputs.some((o) => isFloat(o.type.dtype))) {
      path.push(node);
      node.outputs.forEach((o) => reached.add(o));
    }
  }
  const rules = path.map(resolvePushforward);
  const missing = path.find((n, k) => rules[k] === null && expansionOf(n) === null);
  if (missing !== undefined) return missing;
  for (const [k, node] of path.entries()) {
    const tin: (Variable | Disconnected)[] = node.inputs.map((v) => tan.get(v) ?? DISCONNECTED);
    if (tin.every(isDisconnected)) continue;
    const rule = rules[k];
    let res: unknown;
    if (rule !== null) res = rule(node.inputs, node.outputs, tin, node);
    else {
      const expansion = (expansionOf(node) as () => Variable[])();
      const inner = new Map<Variable, Variable>();
      node.inputs.forEach((v, i) => {
        const t = tin[i];
        if (t instanceof Variable) inner.set(v, t);
      });
      // The expansion is a graph over the node's own inputs: the inner sweep stops there. It
      // used to walk on into the outer graph wherever an input had no tangent, so a
      // considerConstant variable read by a named op got one again from the wrt above it (the
      // full derivative instead of the held one; found by pushforward-options, fuzz seed 2129).
      const innerMissing = sweep(expansion, inner, node.inputs);
      if (innerMissing !== null) return innerMissing;
      res = expansion.map((v) => inner.get(v) ?? DISCONNECTED);
    }
    if (!Array.isArray(res) || res.length !== node.outputs.length) {
      throw new GradError(`pushforward: ${node.op.toString()}.pushforward returned ${Array.isArray(res) ? res.length : String(res)} tangents for ${node.outputs.length} outputs`);
    }
    res.forEach((t: unknown, j) => {
      if (isDisconnected(t)) return;
      if (!(t instanceof Variable)) throw new GradError(`pushforward: ${node.op.toString()}.pushforward output ${j}: expected a Variable or DISCONNECTED, got ${String(t)}`);
      const out = node.outputs[j];
      if (!isFloat(out.type.dtype)) {
        if (!algebraFor(t.type).isZero(t)) throw new GradError(`pushforward: ${node.op.toString()}.pushforward output ${j} is discrete; its tangent must be DISCONNECTED or zero`);
        return;
      }
      tan.set(out, refineShape(alignCotangent(t, out, `pushforward: ${node.op.toString()}.pushforward output ${j}`), out));
    });
  }
  return null;
}

/** How a node without rules stands for a graph (see `sweep`); null for any other node. */
function expansionOf(node: Apply): (() => Variable[]) | null {
  const op = node.op;
  if (isXOp(op)) return () => op.lower(node);
  if (op instanceof PullbackOp) return () => expandWithInstalled(node);
  return null;
}

/**
 * `t` with the static lengths of its primal `v` where its own are unknown, so that every rule
 * sees a tangent of exactly its input's type: a shuffle that drops an axis needs it to be 1.
 */
function refineShape(t: Variable, v: Variable): Variable {
  const vs = v.type.shape;
  if (!vs.some((s, i) => s !== null && t.type.shape[i] === null)) return t;
  const alg = algebraFor(v.type);
  if (alg.specifyShape === undefined) return t;
  return alg.specifyShape(t, vs);
}

/** Whether `t` and `o` have the same axes (for named values, the same dims in the same order). */
function sameAxes(t: Variable, o: Variable): boolean {
  if (t.type.ndim !== o.type.ndim) return false;
  const [a, b] = [t.type, o.type];
  if (a instanceof XTensorType || b instanceof XTensorType) return a instanceof XTensorType && b instanceof XTensorType && a.dims.every((d, i) => d === b.dims[i]);
  return true;
}

function finishForward(outs: readonly Variable[], raw: readonly GradTerm[], opts: PushforwardOptions): (Variable | Disconnected | null)[] {
  const policy = opts.disconnectedOutputs ?? "raise";
  const ret = opts.returnDisconnected ?? "zero";
  return raw.map((t, j) => {
    const o = outs[j];
    if (isUndefinedGrad(t)) throw new GradError(`pushforward: the tangent of output ${o.toString()} is undefined: ${t.reason}`);
    if (t instanceof Variable) {
      const typed = isFloat(o.type.dtype) && t.type.dtype !== o.type.dtype ? algebraFor(o.type).cast(t, o.type.dtype) : t;
      // The double pullback's tangent knows only the static lengths of the tangents it was
      // given, which a caller may declare unknown (fuzz seed 1818 case 246: values(x) read by a
      // cast, (?, ?) for a (3, 3) output). The output's lengths are its tangent's, and the
      // documented type is the output's: say so.
      return sameAxes(typed, o) ? refineShape(typed, o) : typed;
    }
    const msg = `pushforward: output ${j} (${o.toString()}) depends on none of the wrt; pass disconnectedOutputs: "ignore" or "warn" to allow this`;
    if (policy === "raise") throw new GradError(msg);
    if (policy === "warn") (opts.onWarning ?? ((m: string) => console.warn(m)))(msg);
    if (ret === "none") return null;
    if (ret === "disconnected") return DISCONNECTED;
    return algebraFor(o.type).zerosLike(o, isFloat(o.type.dtype) ? o.type.dtype : "float64");
  });
}

/** Options of `hessianVectorProduct`. */
export interface HessianVectorOptions extends Omit<GradOptions, "knownGrads" | "returnDisconnected"> {
  /**
   * "reverse" (default): the gradient of ⟨grad(cost), v⟩, pulled back. "forward": the
   * pushforward of grad(cost) along v with the ops' own rules (forward over reverse: one sweep
   * over the gradient graph, lazy Pullback nodes through their expansion); a GradError names
   * an op on the way that has no pushforward rule.
   */
  readonly method?: "reverse" | "forward";
  /** Told which product was computed (a caller comparing the two must know they were two). */
  readonly onDerivation?: (derivation: HessianVectorDerivation) => void;
}

/** How `hessianVectorProduct` computed H v. */
export type HessianVectorDerivation = "reverse-over-reverse" | "forward-over-reverse";

/**
 * H v for a 0-d float `cost`, with `v` one float variable per wrt (aligned by name for named
 * wrt). Returns one product per wrt. In reverse mode each ⟨g_k, v_k⟩ is pulled back as its own
 * output with a ones cotangent, so wrt of different type families never need to be summed.
 */
export function hessianVectorProduct(cost: Variable, wrt: Variable, v: Variable, options?: HessianVectorOptions): Variable;
export function hessianVectorProduct(cost: Variable, wrt: readonly Variable[], v: readonly Variable[], options?: HessianVectorOptions): Variable[];
export function hessianVectorProduct(cost: Variable, wrt: Variable | readonly Variable[], v: Variable | readonly Variable[], options: HessianVectorOptions = {}): Variable | Variable[] {
  const ws = wrt instanceof Variable ? [wrt] : wrt;
  const vs = v instanceof Variable ? [v] : v;
  if (ws.length !== vs.length) throw new GradError(`hessianVectorProduct: ${ws.length} wrt but ${vs.length} vectors`);
  const { method, onDerivation, ...gradOptions } = options;
  if (method !== undefined && method !== "reverse" && method !== "forward") throw new GradError(`hessianVectorProduct: method must be "reverse" or "forward", got ${String(method)}`);
  const g = grad(cost, ws, { ...gradOptions, returnDisconnected: "zero" });
  if (method === "forward") {
    // A gradient that does not depend on the wrt (a cost linear in them) has H = 0.
    let inner: PushforwardDerivation | null = null;
    const hv = pushforward(g, ws, vs, { ...gradOptions, useOpPushforward: "require", disconnectedOutputs: "ignore", returnDisconnected: "zero", onDerivation: (d) => (inner = d) });
    // A double pullback of the gradient would be reverse over reverse again, whatever was asked.
    onDerivation?.(inner === "sweep" ? "forward-over-reverse" : "reverse-over-reverse");
    return wrt instanceof Variable ? hv[0] : hv;
  }
  const inner = g.map((gk, k) => algebraFor(gk.type).vdot(gk, alignCotangent(vs[k], ws[k], `hessianVectorProduct: v[${k}] (for ${ws[k].toString()})`)));
  const ones = inner.map((d) => algebraFor(d.type).onesLike(d, d.type.dtype));
  // A cost linear in some wrt has a Hessian block that is identically zero: not an error here.
  const hv = pullback(inner, ws, ones, { ...gradOptions, disconnectedInputs: "ignore", returnDisconnected: "zero" });
  onDerivation?.("reverse-over-reverse");
  return wrt instanceof Variable ? hv[0] : hv;
}
