/**
 * The `pushforward-options` claim of grad-composition: the forward-mode API as callers use it
 * beyond the two calls the other properties make (`useOpPushforward: "require"` and the default).
 *
 * Every built-in op has a pushforward rule, so nothing in a generated case reaches what the
 * options promise for an op that has none, and that is exactly the situation of a user's own op
 * (a `perform` and a `pullback`, no forward rule yet). The claim appends such an op to the case's
 * cost, `OpaqueScale` (y = 1.5 · x, written here the way a user would write it), and holds the
 * API to its documentation:
 *
 * | call | must |
 * |---|---|
 * | `pushforward(y, wrt, u, {useOpPushforward: "require"})` | raise a GradError naming OpaqueScale and y, word for word |
 * | the same for `MiswrittenScale`, OpaqueScale with a forward rule written wrong: two tangents for its one output, a number, an integer tangent, one of another shape, a named one | raise a GradError naming `MiswrittenScale.pushforward`, the output and what is wrong with it, word for word |
 * | `pushforward(SquaredScale(cost), wrt, u)`, SquaredScale's pullback written 1.5 · g², not linear in the cotangent g; over the cost as built (a lazy region wraps it) and over the lowered cost | raise a GradError saying the tangent still depends on its cotangent placeholder, word for word (the double pullback cannot differentiate it) |
 * | `pushforward(y, wrt, u, {useOpPushforward: true})` | fall back to the double pullback (reported by `onDerivation`) and give the default's J u |
 * | `pushforward(y, wrt, u)` | the double pullback |
 * | `pushforward(cost, wrt, u, {useOpPushforward: true})` | sweep with the ops' own rules (every op on the path has one), and give J u with y's = 1.5 · this |
 * | `pushforward(cost + OpaqueScale(0.5), wrt, u, {useOpPushforward: "require"})` (OpaqueScale of a constant, off the tangents' path) | sweep, without raising: "require" asks for rules on the path only; and give the cost's J u |
 * | `hessianVectorProduct(cost, x, v, {method: "reverse"})` (single variables, the method named) | give the list form's `hessianVectorProduct(cost, [x], [v])` |
 * | `pushforward([cost, 2·q], wrt, u, {disconnectedOutputs, returnDisconnected})`, q read by no wrt, the policy (raise, warn, ignore), the return mode (zero, none, disconnected) and the derivation (sweep or double pullback) drawn | raise naming output 1, word for word; or warn so once through `onWarning` (without it, on `console.warn`); and give zeros of its type, null or DISCONNECTED for it |
 * | `pushforward(cost, wrt, u, {considerConstant: [v]})`, v an interior float node, by the drawn derivation | J u of the graph cut at v (v replaced by a fresh root fed v's value) |
 * | `pushforward([cost, n], wrt, v)`, the tangents v declared without static lengths (all, or a seeded part of them), n an interior node of static lengths when there is one, by the drawn derivation | compile, give each output a tangent of its own type (the documentation: one tangent per output, of the output's type), and the J u of tangents of the wrt's own types at the same values (the double pullback's lazy expansion failed to compile before) |
 *
 * Values are compared at the case's point with random tangents, compiled in NONE.
 */
import type { ModuleOutcome } from "./gradComposition.js";
import { Apply, Variable, makeVariable } from "../src/graph/basic.js";
import { isFloat, shapeToString } from "../src/graph/type.js";
import { clone, toposort } from "../src/graph/traversal.js";
import { type Disconnected, type GradTerm, Op, isDisconnected } from "../src/graph/op.js";
import { grad } from "../src/grad/driver.js";
import { NDArray } from "../src/ndarray/ndarray.js";
import { compile } from "../src/compile/function.js";
import { type PushforwardDerivation, hessianVectorProduct, pushforward } from "../src/grad/pushforward.js";
import { GradError } from "../src/errors.js";
import { add as padd, cast as pcast, mul as pmul } from "../src/tensor/elemwise.js";
import { constant } from "../src/tensor/basic.js";
import { alloc } from "../src/tensor/shape.js";
import * as X from "../src/xtensor/index.js";
import { lower } from "../src/xtensor/lower.js";
import type { BuiltCase } from "../src/case/build.js";
import { type ArrayComparison, compareArrays, toArrayValue } from "./compare.js";
import { consoleWarnings } from "./refusals.js";

/** y = 1.5 · x elementwise, as a user's op: `perform` and `pullback`, and no pushforward rule. */
export class OpaqueScale extends Op {
  override readonly name: string = "OpaqueScale";
  override readonly props = {};
  makeNode(x: Variable): Apply {
    return new Apply(this, [x], [x.type]);
  }
  override perform(_n: Apply, [x]: readonly NDArray[]): NDArray[] {
    return [NDArray.fromFlat(Array.from(x.toFlat(), (v) => 1.5 * v), x.shape, x.dtype)];
  }
  override pullback(_i: readonly Variable[], _o: readonly Variable[], [g]: readonly Variable[]): GradTerm[] {
    return [pmul(g, 1.5)];
  }
}

/**
 * y = 1.5 · x, as a user's op whose pullback is written wrong in a way only forward mode can
 * see: 1.5 · g², not linear in the cotangent g (a reverse-mode gradient at g = 1 is right).
 */
export class SquaredScale extends OpaqueScale {
  override readonly name: string = "SquaredScale";
  override pullback(_i: readonly Variable[], _o: readonly Variable[], [g]: readonly Variable[]): GradTerm[] {
    return [pmul(pmul(g, g), 1.5)];
  }
}

export type PushforwardOptionsOutcome = ModuleOutcome;

/** What the claim needs: the case, a seeded draw and the tolerance. */
export interface PushforwardOptionsInput {
  readonly built: BuiltCase;
  readonly rand: () => number;
  readonly rtol: number;
  readonly slack: number;
  /** `pushforward` under test (tests inject faulty ones). */
  readonly pushforward?: typeof pushforward;
  /** `hessianVectorProduct` under test. */
  readonly hessianVectorProduct?: typeof hessianVectorProduct;
}

export function pushforwardOptionsClaim(c: PushforwardOptionsInput): PushforwardOptionsOutcome {
  const b = c.built;
  const jvp = c.pushforward ?? pushforward;
  const hvp = c.hessianVectorProduct ?? hessianVectorProduct;
  if (b.wrt.length === 0) return { status: "skip", reason: "no float input to differentiate" };
  // A tangent must reach OpaqueScale, or no op on the sweep's path lacks a rule and "require"
  // rightly sweeps an empty path: the cost must depend on some wrt along float values.
  let connected: unknown[];
  try {
    connected = grad(b.cost, b.wrt, { disconnectedInputs: "ignore", returnDisconnected: "disconnected" });
  } catch (e) {
    if (e instanceof GradError) return { status: "skip", reason: `grad(cost, wrt) has no gradient: ${e.message.split("\n")[0]}` };
    throw e;
  }
  if (connected.every(isDisconnected)) return { status: "skip", reason: "the cost depends on no wrt along float values, so no tangent reaches OpaqueScale" };
  const cost = X.isXTensorVariable(b.cost) ? X.values(b.cost) : b.cost;
  const y = new OpaqueScale().makeNode(cost).outputs[0];
  const us = b.wrt.map((w, i) => makeVariable(w.type, null, 0, `u_${b.wrtNames[i]}`));
  const common = { disconnectedOutputs: "ignore", returnDisconnected: "zero" } as const;
  const fail = (reason: string, comparison?: ArrayComparison): PushforwardOptionsOutcome => ({ status: "fail", reason, ...(comparison === undefined ? {} : { comparison }) });

  // "require": a clear error naming the op without a rule.
  let err: unknown = null;
  try {
    jvp(y, b.wrt, us, { ...common, useOpPushforward: "require" });
  } catch (e) {
    err = e;
  }
  if (err === null) return fail(`pushforward(OpaqueScale(cost), wrt, u, {useOpPushforward: "require"}) returned a result, but OpaqueScale has no pushforward rule: it must raise naming it`);
  const noRule = `pushforward: ${y.owner?.op.toString()} (computing ${y.toString()}) has no pushforward rule, and useOpPushforward is "require"`;
  if (!(err instanceof GradError) || err.message !== noRule) {
    return fail(`pushforward(OpaqueScale(cost), wrt, u, {useOpPushforward: "require"}) must raise a GradError saying "${noRule}"; it raised ${err instanceof Error ? `${err.name}: ${err.message.split("\n")[0]}` : String(err)}`);
  }
  // A user's forward rule written wrong: the sweep checks what it returns and names the rule.
  const miswritten = miswrittenRuleProblem(cost, b.wrt, us, jvp);
  if (miswritten !== null) return fail(miswritten);
  // The double pullback derives J u from the pullbacks, so it needs them linear in their
  // cotangent: a user's pullback that is not must be reported, not differentiated.
  // Over the cost as built (the lazy strategy wraps SquaredScale with the named ops in a Pullback
  // region) and over the lowered cost (a positional graph, no region).
  for (const [over, base] of [["cost", cost], ["lower(cost)", lower([cost])[0]]] as const) {
    const ySq = new SquaredScale().makeNode(base).outputs[0];
    const nonlinear = `pushforward: the tangent of output 0 (${ySq.toString()}) still depends on its cotangent placeholder, so some pullback on the path is not linear in its cotangent; use useOpPushforward or fix that rule`;
    let sqErr: unknown = null;
    try {
      jvp(ySq, b.wrt, us, common);
    } catch (e) {
      sqErr = e;
    }
    if (!(sqErr instanceof GradError) || sqErr.message !== nonlinear) {
      const got = sqErr === null ? "it returned a result" : `it raised ${sqErr instanceof Error ? `${sqErr.name}: ${sqErr.message.split("\n")[0]}` : String(sqErr)}`;
      return fail(`pushforward(SquaredScale(${over}), wrt, u) (the double pullback), SquaredScale's pullback being 1.5 · g², not linear in g, must raise a GradError saying "${nonlinear}"; ${got}`);
    }
  }

  // true: the double pullback for y (a fallback), the sweep for the cost itself.
  const ran: (PushforwardDerivation | null)[] = [null, null, null, null];
  let jTrue: Variable;
  try {
    jTrue = jvp(y, b.wrt, us, { ...common, useOpPushforward: true, onDerivation: (d) => (ran[0] = d) }) as Variable;
  } catch (e) {
    if (!(e instanceof GradError)) throw e;
    return fail(`pushforward(OpaqueScale(cost), wrt, u, {useOpPushforward: true}) raised instead of falling back to the double pullback for OpaqueScale, which has no pushforward rule: ${e.message.split("\n")[0]}`);
  }
  const jDefault = jvp(y, b.wrt, us, { ...common, onDerivation: (d) => (ran[1] = d) }) as Variable;
  const jSweep = jvp(cost, b.wrt, us, { ...common, useOpPushforward: true, onDerivation: (d) => (ran[2] = d) }) as Variable;
  // "require" asks for rules on the tangents' path only: OpaqueScale of a constant, added to the
  // cost, is off it, so the sweep runs and gives the cost's J u.
  const offPath = padd(cost, new OpaqueScale().makeNode(constant(0.5, cost.type.dtype)).outputs[0]);
  let jOff: Variable;
  try {
    jOff = jvp(offPath, b.wrt, us, { ...common, useOpPushforward: "require", onDerivation: (d) => (ran[3] = d) }) as Variable;
  } catch (e) {
    if (!(e instanceof GradError)) throw e;
    return fail(`pushforward(cost + OpaqueScale(0.5), wrt, u, {useOpPushforward: "require"}) raised, but OpaqueScale reads only a constant, off the tangents' path: ${e.message.split("\n")[0]}`);
  }
  const want: readonly [string, PushforwardDerivation][] = [
    ["pushforward(OpaqueScale(cost), wrt, u, {useOpPushforward: true}), OpaqueScale having no pushforward rule,", "double-pullback"],
    ["pushforward(OpaqueScale(cost), wrt, u) (useOpPushforward false by default)", "double-pullback"],
    ["pushforward(cost, wrt, u, {useOpPushforward: true}), every op on the path having a pushforward rule,", "sweep"],
    ['pushforward(cost + OpaqueScale(0.5), wrt, u, {useOpPushforward: "require"}), OpaqueScale off the path,', "sweep"],
  ];
  for (let k = 0; k < want.length; k++) {
    if (ran[k] !== want[k][1]) return fail(`${want[k][0]} must run the ${want[k][1]}, but reported ${ran[k] ?? "nothing"}`);
  }

  // hessianVectorProduct with single variables and an explicit method, against the list form.
  const x = b.wrt[0];
  const hvOpts = { disconnectedInputs: "ignore" } as const;
  const hSingle = hvp(b.cost, x, us[0], { ...hvOpts, method: "reverse" });
  const [hList] = hvp(b.cost, [x], [us[0]], hvOpts);

  const f = compile([...b.inputs.values(), ...us], [jTrue, jDefault, jSweep, hSingle, hList, jOff], { mode: "NONE" });
  const uVals = b.wrt.map((_, i) => {
    const like = b.values.get(b.wrtNames[i]) as NDArray;
    return NDArray.fromFlat(Array.from({ length: like.size }, () => 2 * c.rand() - 1), like.shape, like.dtype);
  });
  const [vTrue, vDefault, vSweep, vSingle, vList, vOff] = f(...b.values.values(), ...uVals);
  const av = (v: Variable, a: NDArray) => toArrayValue(v, a);
  const what = `(u random in [-1, 1), wrt ${b.wrtNames.join(", ")})`;
  const c1 = compareArrays(av(jTrue, vTrue), av(jDefault, vDefault), "J u of OpaqueScale(cost) with useOpPushforward true against the default", c.rtol, c.slack);
  if (!c1.ok) return fail(`pushforward(OpaqueScale(cost), wrt, u, {useOpPushforward: true}) disagrees with the default pushforward: ${c1.reason ?? "mismatch"} ${what}`, c1);
  const scaled = NDArray.fromFlat(Array.from(vSweep.toFlat(), (v) => 1.5 * v), vSweep.shape, vSweep.dtype);
  const c2 = compareArrays(av(jTrue, vTrue), av(jSweep, scaled), "J u of OpaqueScale(cost) against 1.5 · J u of the cost (the sweep)", c.rtol, c.slack);
  if (!c2.ok) return fail(`pushforward(OpaqueScale(cost), wrt, u, {useOpPushforward: true}) is not 1.5 · pushforward(cost, wrt, u, {useOpPushforward: true}): ${c2.reason ?? "mismatch"} ${what}`, c2);
  const cOff = compareArrays(av(jOff, vOff), av(jSweep, vSweep), "J u of cost + OpaqueScale(0.5) against J u of the cost", c.rtol, c.slack);
  if (!cOff.ok) return fail(`pushforward(cost + OpaqueScale(0.5), wrt, u, {useOpPushforward: "require"}) is not pushforward(cost, wrt, u, {useOpPushforward: true}): ${cOff.reason ?? "mismatch"} ${what}`, cOff);
  const c3 = compareArrays(av(hSingle, vSingle), av(hList, vList), `H v for ${b.wrtNames[0]}`, c.rtol, c.slack);
  if (!c3.ok) return fail(`hessianVectorProduct(cost, ${b.wrtNames[0]}, v, {method: "reverse"}) disagrees with hessianVectorProduct(cost, [${b.wrtNames[0]}], [v]): ${c3.reason ?? "mismatch"} ${what}`, c3);

  // The same derivation, drawn (the sweep or the double pullback), for the last two parts.
  const useOp = c.rand() < 0.5;
  const how = useOp ? "{useOpPushforward: true}" : "the double pullback";

  // An output no wrt reaches: disconnectedOutputs decides raise / warn / ignore, and
  // returnDisconnected what stands in its place.
  const q = makeVariable(cost.type, null, 0, "q_unread");
  const indep = pmul(q, 2);
  const policy = (["raise", "warn", "ignore"] as const)[Math.floor(c.rand() * 3)];
  const ret = (["zero", "none", "disconnected"] as const)[Math.floor(c.rand() * 3)];
  const warned: string[] = [];
  let dres: unknown[] | null = null;
  let derr: unknown = null;
  try {
    dres = jvp([cost, indep], b.wrt, us, { useOpPushforward: useOp, disconnectedOutputs: policy, returnDisconnected: ret, onWarning: (m) => warned.push(m) });
  } catch (e) {
    derr = e;
  }
  const dwhat = `pushforward([cost, 2·q], wrt, u, {disconnectedOutputs: "${policy}", returnDisconnected: "${ret}"}) by ${how}, q read by no wrt`;
  const says = `pushforward: output 1 (${indep.toString()}) depends on none of the wrt; pass disconnectedOutputs: "ignore" or "warn" to allow this`;
  if (policy === "raise") {
    if (!(derr instanceof GradError) || derr.message !== says) return fail(`${dwhat} must raise a GradError saying "${says}"; ${derr === null ? "it returned" : `it raised ${derr instanceof Error ? `${derr.name}: ${derr.message.split("\n")[0]}` : String(derr)}`}`);
  } else {
    if (derr !== null || dres === null) return fail(`${dwhat} raised ${derr instanceof Error ? derr.message.split("\n")[0] : String(derr)}`);
    const w = warned.filter((m) => m === says);
    if (w.length !== (policy === "warn" ? 1 : 0) || warned.length !== w.length) return fail(`${dwhat} should warn ${policy === "warn" ? `once through onWarning, "${says}"` : "never"}; it warned ${warned.length} time(s)${warned.length > 0 ? `: ${warned[0]}` : ""}`);
    if (policy === "warn") {
      // Without onWarning, the documented default prints it on console.warn.
      const printed = consoleWarnings(() => jvp([cost, indep], b.wrt, us, { useOpPushforward: useOp, disconnectedOutputs: "warn", returnDisconnected: ret }));
      if (printed.length !== 1 || printed[0] !== says) return fail(`${dwhat} without onWarning should print "${says}" once on console.warn (the documented default); it printed ${printed.length === 0 ? "nothing" : printed.map((m) => `"${m}"`).join(", ")}`);
    }
    const second = dres[1];
    const okRet = ret === "none" ? second === null : ret === "disconnected" ? isDisconnected(second) : second instanceof Variable && second.type.equals(indep.type) && second.owner !== null;
    if (!okRet) return fail(`${dwhat} should give ${ret === "none" ? "null" : ret === "disconnected" ? "DISCONNECTED" : "zeros of its type"} for output 1, got ${String(second)}`);
    if (!(dres[0] instanceof Variable)) return fail(`${dwhat} gave no tangent for the cost itself: ${String(dres[0])}`);
  }

  // considerConstant: J u with an interior node v held fixed is J u of the graph cut at v (v
  // replaced by a fresh root fed v's value).
  const cands = interiorOf(cost, b.wrt);
  let c4: ArrayComparison | null = null;
  let cut = "";
  if (cands.length > 0) {
    const v = cands[Math.floor(c.rand() * cands.length)];
    const vCut = v.cloneRoot();
    const [costCut] = clone([cost], { replace: new Map([[v, vCut]]) }).outputs;
    let held: Variable;
    let ref: Variable;
    try {
      held = jvp(cost, b.wrt, us, { ...common, useOpPushforward: useOp, considerConstant: [v] }) as Variable;
      ref = jvp(costCut, b.wrt, us, { ...common, useOpPushforward: useOp }) as Variable;
    } catch (e) {
      if (!(e instanceof GradError)) throw e;
      return fail(`pushforward(cost, wrt, u, {considerConstant: [v]}) by ${how}, v = ${v.toString()}, raised ${e.message.split("\n")[0]}`);
    }
    const vVal = compile([...b.inputs.values()], [v], { mode: "NONE" })(...b.values.values())[0];
    const g = compile([...b.inputs.values(), ...us, vCut], [held, ref], { mode: "NONE" });
    const [vh, vr] = g(...b.values.values(), ...uVals, vVal);
    c4 = compareArrays(av(held, vh), av(ref, vr), "J u with v held fixed against J u of the graph cut at v", c.rtol, c.slack);
    if (!c4.ok) return fail(`pushforward(cost, wrt, u, {considerConstant: [v]}) by ${how}, v = ${v.toString()}, disagrees with pushforward of the graph cut at v: ${c4.reason ?? "mismatch"} ${what}`, c4);
    cut = `; considerConstant at ${v.toString()} matches the cut graph`;
  }
  // Tangents declared without (some) static lengths (what a caller writes who does not know them):
  // the same J u as with tangents of the wrt's own types, by the same derivation, and each of
  // the output's own type, as documented ("one tangent per output, of the output's type"): for
  // the cost and, when there is one, an interior node with static lengths, whose tangent a
  // derivation could otherwise leave as vague as the tangents it was given.
  // Every length unknown, or (half the time) a seeded part of them, at least one per tangent.
  const partly = c.rand() < 0.5;
  const vagueShape = (shape: readonly (number | null)[]): (number | null)[] => {
    const out: (number | null)[] = shape.map((l) => (partly && c.rand() < 0.5 ? l : null));
    if (out.length > 0 && !out.includes(null)) out[Math.floor(c.rand() * out.length)] = null;
    return out;
  };
  const vague = b.wrt.map((w, i) => makeVariable(w.type.withShape(vagueShape(w.type.shape)), null, 0, `v_${b.wrtNames[i]}`));
  const shaped = cands.filter((v) => v.type.ndim > 0 && v.type.shape.every((l) => l !== null));
  const outs = shaped.length > 0 ? [cost, shaped[Math.floor(c.rand() * shaped.length)]] : [cost];
  const idOf = new Map<Variable, string>([...b.nodes].map(([id, v]) => [v, id]));
  const nameOf = (o: Variable): string => (o === cost ? "cost" : idOf.get(o) ?? o.toString());
  const outList = `[${outs.map(nameOf).join(", ")}]`;
  let jVague: Variable[];
  let jStatic: Variable[];
  try {
    jVague = jvp(outs, b.wrt, vague, { ...common, useOpPushforward: useOp }) as Variable[];
    jStatic = jvp(outs, b.wrt, us, { ...common, useOpPushforward: useOp }) as Variable[];
  } catch (e) {
    if (!(e instanceof GradError)) throw e;
    return fail(`pushforward(${outList}, wrt, u) by ${how}, u declared without static lengths, raised ${e.message.split("\n")[0]}`);
  }
  for (const [k, o] of outs.entries()) {
    const t = jVague[k];
    if (!(t instanceof Variable) || !t.type.equals(o.type)) return fail(`pushforward(${outList}, wrt, u) by ${how}, u declared without static lengths, gives output ${k} (${nameOf(o)}: ${o.type.toString()}) a tangent of type ${t instanceof Variable ? t.type.toString() : String(t)}, not the output's type ${what}`);
  }
  let vv: NDArray[];
  let stage = "did not compile";
  try {
    const fv = compile([...b.inputs.values(), ...us, ...vague], [...jVague, ...jStatic], { mode: "NONE" });
    stage = "failed at run time";
    vv = fv(...b.values.values(), ...uVals, ...uVals);
  } catch (e) {
    // The compiler's message ends with the cause; what precedes it can be a long op dump.
    const m = e instanceof Error ? e.message.split("\n")[0] : String(e);
    return fail(`pushforward(${outList}, wrt, u) by ${how}, u declared without static lengths, ${stage}: ${m.length > 400 ? `…${m.slice(-400)}` : m}`);
  }
  let c5: ArrayComparison = { ok: true, maxAbsErr: 0, maxRelErr: 0 };
  for (const k of outs.keys()) {
    const ck = compareArrays(av(jVague[k], vv[k]), av(jStatic[k], vv[outs.length + k]), `J u of output ${k} with tangents of unknown lengths against J u with tangents of the wrt's types`, c.rtol, c.slack);
    if (!ck.ok) return fail(`pushforward(${outList}, wrt, u) by ${how}, u declared without static lengths, disagrees with the same call on tangents of the wrt's own types: ${ck.reason ?? "mismatch"} ${what}`, ck);
    c5 = { ok: true, maxAbsErr: Math.max(c5.maxAbsErr, ck.maxAbsErr), maxRelErr: Math.max(c5.maxRelErr, ck.maxRelErr) };
  }
  return {
    status: "pass",
    detail: `pushforward-options on OpaqueScale(cost): "require" raises naming it, true falls back to the double pullback, the cost alone sweeps; H v single and list forms agree; a disconnected output under "${policy}"/"${ret}"${cut}; tangents without static lengths agree (${how}; wrt ${b.wrtNames.join(", ")})`,
    maxAbsErr: Math.max(c1.maxAbsErr, c2.maxAbsErr, c3.maxAbsErr, c4?.maxAbsErr ?? 0, c5.maxAbsErr),
    maxRelErr: Math.max(c1.maxRelErr, c2.maxRelErr, c3.maxRelErr, c4?.maxRelErr ?? 0, c5.maxRelErr),
  };
}

/** Interior float nodes between a wrt and `cost` (not a wrt, not the cost), along float values. */
function interiorOf(cost: Variable, wrt: readonly Variable[]): Variable[] {
  const w = new Set(wrt);
  const reached = new Set<Variable>(wrt);
  for (const node of toposort([cost])) {
    if (!node.inputs.some((i) => reached.has(i))) continue;
    for (const o of node.outputs) if (isFloat(o.type.dtype)) reached.add(o);
  }
  return [...reached].filter((v) => !w.has(v) && v !== cost && v.owner !== null && v.owner.outputs.length === 1);
}

/** One way a user's forward rule is written wrong, and the sweep's refusal of it word for word. */
interface Miswritten {
  readonly what: string;
  /** The rule's result for y = MiswrittenScale(x), from x's tangent t. */
  readonly returns: (t: Variable) => unknown;
  readonly says: (op: string, y: Variable, returned: unknown) => string;
}

const MISWRITTEN: readonly Miswritten[] = [
  { what: "two tangents for its one output", returns: (t) => [pmul(t, 1.5), pmul(t, 1.5)], says: (op) => `pushforward: ${op}.pushforward returned 2 tangents for 1 outputs` },
  { what: "a number for its output's tangent", returns: () => [0], says: (op) => `pushforward: ${op}.pushforward output 0: expected a Variable or DISCONNECTED, got 0` },
  {
    what: "an integer tangent",
    returns: (t) => [pcast(pmul(t, 1.5), "int64")],
    says: (op, _y, r) => `pushforward: ${op}.pushforward output 0: cotangents must be float, got ${((r as Variable[])[0] as Variable).type.toString()}`,
  },
  {
    what: "a tangent of another shape",
    returns: (t) => [alloc(pmul(t, 1.5), [2])],
    says: (op, y, r) => {
      const tt = ((r as Variable[])[0] as Variable).type;
      return `pushforward: ${op}.pushforward output 0: expected a cotangent of shape ${shapeToString(y.type.shape)}, got ${shapeToString(tt.shape)} (${tt.toString()})`;
    },
  },
  {
    what: "a named tangent for its positional output",
    returns: (t) => [X.asXTensor(pmul(t, 1.5))],
    says: (op, y, r) => `pushforward: ${op}.pushforward output 0: expected a ${y.type.kind} cotangent for ${y.type.toString()}, got ${((r as Variable[])[0] as Variable).type.toString()}`,
  },
];

/** y = 1.5 · x, a user's op whose forward rule is written wrong one way; it keeps what the rule returned. */
class MiswrittenScale extends OpaqueScale {
  override readonly name = "MiswrittenScale";
  returned: unknown = null;
  constructor(private readonly wrong: Miswritten) {
    super();
  }
  override pushforward(_i: readonly Variable[], _o: readonly Variable[], [t]: readonly (Variable | Disconnected)[]): (Variable | Disconnected)[] {
    this.returned = this.wrong.returns(t as Variable);
    return this.returned as (Variable | Disconnected)[];
  }
}

/**
 * Each way of MISWRITTEN on y = MiswrittenScale(cost) (cost 0-d, positional), pushed forward
 * with `useOpPushforward: "require"`: the sweep must refuse the rule's result naming the op and
 * the output, word for word. Null when every refusal holds.
 */
function miswrittenRuleProblem(cost: Variable, wrt: readonly Variable[], us: readonly Variable[], jvp: typeof pushforward): string | null {
  for (const m of MISWRITTEN) {
    const op = new MiswrittenScale(m);
    const y = op.makeNode(cost).outputs[0];
    let err: unknown = null;
    try {
      jvp(y, wrt, us, { disconnectedOutputs: "ignore", useOpPushforward: "require" });
    } catch (e) {
      err = e;
    }
    const call = `pushforward(MiswrittenScale(cost), wrt, u, {useOpPushforward: "require"})`;
    if (op.returned === null) return `${call} never called MiswrittenScale's forward rule (${m.what})`;
    const says = m.says(op.toString(), y, op.returned);
    if (!(err instanceof GradError) || err.message !== says) {
      const got = err === null ? "it returned" : `it raised ${err instanceof Error ? `${err.name}: ${err.message.split("\n")[0]}` : String(err)}`;
      return `${call}, its forward rule returning ${m.what}, must raise a GradError saying "${says}"; ${got}`;
    }
  }
  return null;
}
