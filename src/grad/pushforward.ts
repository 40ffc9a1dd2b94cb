/**
 * Forward mode and second order, derived from the reverse-mode driver.
 *
 * `pushforward` uses the double-pullback trick (J. Towns; PyTensor's default): with free
 * placeholders u of the outputs' types, g(u) = pullback(outputs, wrt, u) = Jᵀu is linear in u,
 * so its own pullback with cotangent t is (Jᵀ)ᵀt = J t, the Jacobian-vector product. Every op's
 * JVP therefore derives from its VJP and no op needs a separate pushforward rule, which halves
 * the rules to write and to test, and keeps forward and reverse mode consistent by
 * construction. The price is a larger graph before rewriting; ops may still define
 * `op.pushforward`, and `useOpPushforward` uses those when every op on the path has one.
 */
import { type Apply, Variable, makeVariable } from "../graph/basic.js";
import { DISCONNECTED, type Disconnected, type GradTerm, isDisconnected, isUndefinedGrad } from "../graph/op.js";
import { isFloat } from "../graph/type.js";
import { GradError } from "../errors.js";
import { ancestors, graphReplace, toposort } from "../graph/traversal.js";
import { PullbackOp } from "./lazy.js";
import { algebraFor } from "./algebra.js";
import { type DisconnectedPolicy, type GradOptions, type GradResult, type ReturnDisconnected, alignCotangent, grad, gradTerms, pullback } from "./driver.js";

/** Options of `pushforward`. */
export interface PushforwardOptions extends Omit<GradOptions, "knownGrads" | "disconnectedInputs"> {
  /** An output that depends on no `wrt`: "raise" (default), "warn" or "ignore". */
  readonly disconnectedOutputs?: DisconnectedPolicy;
  /**
   * Use `op.pushforward` rules in one forward sweep when every op on the path defines one;
   * otherwise (or when false, the default) use the double-pullback trick.
   */
  readonly useOpPushforward?: boolean;
}

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
  const raw = (opts.useOpPushforward === true ? forwardSweep(outs, wrt, aligned, opts) : null) ?? doublePullback(outs, wrt, aligned, opts);
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
  res.forEach((r, j) => {
    if (r instanceof Variable && connectedAncestors([r], [...wrt, ...lazyOutputs]).some((a) => placeholders.has(a))) {
      throw new GradError(
        `pushforward: the tangent of output ${j} (${outs[j].toString()}) still depends on its cotangent placeholder, ` +
          `so some pullback on the path is not linear in its cotangent; use useOpPushforward or fix that rule`,
      );
    }
  });
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
 * One forward sweep with `op.pushforward`; null when some op on the path lacks one (the
 * caller then falls back to the double pullback).
 */
function forwardSweep(outs: readonly Variable[], wrt: readonly Variable[], tangents: readonly Variable[], opts: PushforwardOptions): GradTerm[] | null {
  const constant = new Set(opts.considerConstant ?? []);
  const order = toposort(outs, [...wrt, ...constant]);
  // Nodes reached by a wrt: only those need a rule.
  const reached = new Set<Variable>(wrt);
  const path: Apply[] = [];
  for (const node of order) {
    if (node.inputs.some((v) => reached.has(v))) {
      path.push(node);
      node.outputs.forEach((o) => reached.add(o));
    }
  }
  if (path.some((n) => typeof n.op.pushforward !== "function")) return null;
  const tan = new Map<Variable, Variable>();
  wrt.forEach((w, k) => {
    const prev = tan.get(w);
    tan.set(w, prev === undefined ? tangents[k] : algebraFor(w.type).add(prev, tangents[k]));
  });
  for (const node of path) {
    const tin: (Variable | Disconnected)[] = node.inputs.map((v) => tan.get(v) ?? DISCONNECTED);
    if (tin.every(isDisconnected)) continue;
    const res: unknown = (node.op.pushforward as NonNullable<typeof node.op.pushforward>).call(node.op, node.inputs, node.outputs, tin);
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
      tan.set(out, alignCotangent(t, out, `pushforward: ${node.op.toString()}.pushforward output ${j}`));
    });
  }
  return outs.map((o) => tan.get(o) ?? DISCONNECTED);
}

function finishForward(outs: readonly Variable[], raw: readonly GradTerm[], opts: PushforwardOptions): (Variable | Disconnected | null)[] {
  const policy = opts.disconnectedOutputs ?? "raise";
  const ret = opts.returnDisconnected ?? "zero";
  return raw.map((t, j) => {
    const o = outs[j];
    if (isUndefinedGrad(t)) throw new GradError(`pushforward: the tangent of output ${o.toString()} is undefined: ${t.reason}`);
    if (t instanceof Variable) return isFloat(o.type.dtype) && t.type.dtype !== o.type.dtype ? algebraFor(o.type).cast(t, o.type.dtype) : t;
    const msg = `pushforward: output ${j} (${o.toString()}) depends on none of the wrt; pass disconnectedOutputs: "ignore" or "warn" to allow this`;
    if (policy === "raise") throw new GradError(msg);
    if (policy === "warn") (opts.onWarning ?? ((m: string) => console.warn(m)))(msg);
    if (ret === "none") return null;
    if (ret === "disconnected") return DISCONNECTED;
    return algebraFor(o.type).zerosLike(o, isFloat(o.type.dtype) ? o.type.dtype : "float64");
  });
}

/**
 * H v for a 0-d float `cost`: the gradient of ⟨grad(cost, wrt), v⟩ with respect to wrt, with
 * `v` one float variable per wrt (aligned by name for named wrt). Returns one product per wrt.
 * Each ⟨g_k, v_k⟩ is pulled back as its own output with a ones cotangent, so wrt of different
 * type families never need to be summed together.
 */
export function hessianVectorProduct(cost: Variable, wrt: Variable, v: Variable, options?: Omit<GradOptions, "knownGrads" | "returnDisconnected">): Variable;
export function hessianVectorProduct(cost: Variable, wrt: readonly Variable[], v: readonly Variable[], options?: Omit<GradOptions, "knownGrads" | "returnDisconnected">): Variable[];
export function hessianVectorProduct(
  cost: Variable,
  wrt: Variable | readonly Variable[],
  v: Variable | readonly Variable[],
  options: Omit<GradOptions, "knownGrads" | "returnDisconnected"> = {},
): Variable | Variable[] {
  const ws = wrt instanceof Variable ? [wrt] : wrt;
  const vs = v instanceof Variable ? [v] : v;
  if (ws.length !== vs.length) throw new GradError(`hessianVectorProduct: ${ws.length} wrt but ${vs.length} vectors`);
  const g = grad(cost, ws, { ...options, returnDisconnected: "zero" });
  const inner = g.map((gk, k) => algebraFor(gk.type).vdot(gk, alignCotangent(vs[k], ws[k], `hessianVectorProduct: v[${k}] (for ${ws[k].toString()})`)));
  const ones = inner.map((d) => algebraFor(d.type).onesLike(d, d.type.dtype));
  // A cost linear in some wrt has a Hessian block that is identically zero: not an error here.
  const hv = pullback(inner, ws, ones, { ...options, disconnectedInputs: "ignore", returnDisconnected: "zero" });
  return wrt instanceof Variable ? hv[0] : hv;
}
