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
 * | `pushforward(y, wrt, u, {useOpPushforward: "require"})` | raise a GradError naming OpaqueScale |
 * | `pushforward(y, wrt, u, {useOpPushforward: true})` | fall back to the double pullback (reported by `onDerivation`) and give the default's J u |
 * | `pushforward(y, wrt, u)` | the double pullback |
 * | `pushforward(cost, wrt, u, {useOpPushforward: true})` | sweep with the ops' own rules (every op on the path has one), and give J u with y's = 1.5 · this |
 * | `hessianVectorProduct(cost, x, v, {method: "reverse"})` (single variables, the method named) | give the list form's `hessianVectorProduct(cost, [x], [v])` |
 *
 * Values are compared at the case's point with random tangents, compiled in NONE.
 */
import type { ModuleOutcome } from "./gradComposition.js";
import { Apply, type Variable, makeVariable } from "../src/graph/basic.js";
import { type GradTerm, Op, isDisconnected } from "../src/graph/op.js";
import { grad } from "../src/grad/driver.js";
import { NDArray } from "../src/ndarray/ndarray.js";
import { compile } from "../src/compile/function.js";
import { type PushforwardDerivation, hessianVectorProduct, pushforward } from "../src/grad/pushforward.js";
import { GradError } from "../src/errors.js";
import { mul as pmul } from "../src/tensor/elemwise.js";
import * as X from "../src/xtensor/index.js";
import type { BuiltCase } from "../src/case/build.js";
import { type ArrayComparison, compareArrays, toArrayValue } from "./compare.js";

/** y = 1.5 · x elementwise, as a user's op: `perform` and `pullback`, and no pushforward rule. */
export class OpaqueScale extends Op {
  override readonly name = "OpaqueScale";
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
  if (!(err instanceof GradError) || !err.message.includes("OpaqueScale")) {
    return fail(`pushforward(OpaqueScale(cost), wrt, u, {useOpPushforward: "require"}) must raise a GradError naming OpaqueScale, which has no pushforward rule; it raised ${err instanceof Error ? `${err.name}: ${err.message.split("\n")[0]}` : String(err)}`);
  }

  // true: the double pullback for y (a fallback), the sweep for the cost itself.
  const ran: (PushforwardDerivation | null)[] = [null, null, null];
  let jTrue: Variable;
  try {
    jTrue = jvp(y, b.wrt, us, { ...common, useOpPushforward: true, onDerivation: (d) => (ran[0] = d) }) as Variable;
  } catch (e) {
    if (!(e instanceof GradError)) throw e;
    return fail(`pushforward(OpaqueScale(cost), wrt, u, {useOpPushforward: true}) raised instead of falling back to the double pullback for OpaqueScale, which has no pushforward rule: ${e.message.split("\n")[0]}`);
  }
  const jDefault = jvp(y, b.wrt, us, { ...common, onDerivation: (d) => (ran[1] = d) }) as Variable;
  const jSweep = jvp(cost, b.wrt, us, { ...common, useOpPushforward: true, onDerivation: (d) => (ran[2] = d) }) as Variable;
  const want: readonly [string, PushforwardDerivation][] = [
    ["pushforward(OpaqueScale(cost), wrt, u, {useOpPushforward: true}), OpaqueScale having no pushforward rule,", "double-pullback"],
    ["pushforward(OpaqueScale(cost), wrt, u) (useOpPushforward false by default)", "double-pullback"],
    ["pushforward(cost, wrt, u, {useOpPushforward: true}), every op on the path having a pushforward rule,", "sweep"],
  ];
  for (let k = 0; k < want.length; k++) {
    if (ran[k] !== want[k][1]) return fail(`${want[k][0]} must run the ${want[k][1]}, but reported ${ran[k] ?? "nothing"}`);
  }

  // hessianVectorProduct with single variables and an explicit method, against the list form.
  const x = b.wrt[0];
  const hvOpts = { disconnectedInputs: "ignore" } as const;
  const hSingle = hvp(b.cost, x, us[0], { ...hvOpts, method: "reverse" });
  const [hList] = hvp(b.cost, [x], [us[0]], hvOpts);

  const f = compile([...b.inputs.values(), ...us], [jTrue, jDefault, jSweep, hSingle, hList], { mode: "NONE" });
  const uVals = b.wrt.map((_, i) => {
    const like = b.values.get(b.wrtNames[i]) as NDArray;
    return NDArray.fromFlat(Array.from({ length: like.size }, () => 2 * c.rand() - 1), like.shape, like.dtype);
  });
  const [vTrue, vDefault, vSweep, vSingle, vList] = f(...b.values.values(), ...uVals);
  const av = (v: Variable, a: NDArray) => toArrayValue(v, a);
  const what = `(u random in [-1, 1), wrt ${b.wrtNames.join(", ")})`;
  const c1 = compareArrays(av(jTrue, vTrue), av(jDefault, vDefault), "J u of OpaqueScale(cost) with useOpPushforward true against the default", c.rtol, c.slack);
  if (!c1.ok) return fail(`pushforward(OpaqueScale(cost), wrt, u, {useOpPushforward: true}) disagrees with the default pushforward: ${c1.reason ?? "mismatch"} ${what}`, c1);
  const scaled = NDArray.fromFlat(Array.from(vSweep.toFlat(), (v) => 1.5 * v), vSweep.shape, vSweep.dtype);
  const c2 = compareArrays(av(jTrue, vTrue), av(jSweep, scaled), "J u of OpaqueScale(cost) against 1.5 · J u of the cost (the sweep)", c.rtol, c.slack);
  if (!c2.ok) return fail(`pushforward(OpaqueScale(cost), wrt, u, {useOpPushforward: true}) is not 1.5 · pushforward(cost, wrt, u, {useOpPushforward: true}): ${c2.reason ?? "mismatch"} ${what}`, c2);
  const c3 = compareArrays(av(hSingle, vSingle), av(hList, vList), `H v for ${b.wrtNames[0]}`, c.rtol, c.slack);
  if (!c3.ok) return fail(`hessianVectorProduct(cost, ${b.wrtNames[0]}, v, {method: "reverse"}) disagrees with hessianVectorProduct(cost, [${b.wrtNames[0]}], [v]): ${c3.reason ?? "mismatch"} ${what}`, c3);
  return {
    status: "pass",
    detail: `pushforward-options on OpaqueScale(cost): "require" raises naming it, true falls back to the double pullback, the cost alone sweeps; H v single and list forms agree (wrt ${b.wrtNames.join(", ")})`,
    maxAbsErr: Math.max(c1.maxAbsErr, c2.maxAbsErr, c3.maxAbsErr),
    maxRelErr: Math.max(c1.maxRelErr, c2.maxRelErr, c3.maxRelErr),
  };
}
