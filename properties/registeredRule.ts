/**
 * The `registered-rule` claim of grad-composition: `registerPullbackRule`, the module-wide way to
 * give an op without a `pullback` its gradient, does what its documentation says.
 *
 * Named ops get their rules from the strategies (`options.ruleFor`), and every built-in
 * positional op has its own, so no generated case ever asks the registry, and the registry's
 * promises had no judge: a registered rule is a fallback, never a replacement (a stray
 * registration must not change the gradient of an op that has a rule); the most recent matching
 * registration wins; a selector is an op class (`Op` itself matching every op), an op name or a
 * predicate (an arrow or a plain function, whose prototype is no op's); the function it returns removes that registration, and only that one, however often
 * it is called. The claim appends a user's op without a rule to the cost, as a user would,
 * `UnruledScale` (y = 1.5 · x), behind a `mul` by 2 (a built-in op with its own rule), and holds
 * the registry to each promise:
 *
 * | registrations (oldest first) | `grad(y, wrt)` must be |
 * |---|---|
 * | none | a GradError naming UnruledScale and `registerPullbackRule` |
 * | E (×2.5, selector `Op` or a predicate), D (×7, a selector that matches nothing here), A (×1.5, class, name or predicate), W (×9 for the `mul`, an Elemwise selector) | 3 · grad(cost) (A, not E: the most recent; not W: `mul` keeps its own rule) |
 * | A removed, its remover called twice | 5 · grad(cost) (E, still registered) |
 * | everything removed | the GradError again |
 * | a rule for UnruledScale returning two terms for its one input (perNode) | `grad: UnruledScale.pullback (rule from the registry) returned 2 terms for 1 inputs`, word for word |
 *
 * `grad` runs with the lazy or the perNode strategy (seeded): lazy resolves rules when the compiler
 * expands its Pullback node, so each gradient is compiled, in NONE, and run at the case's point
 * while its registrations are in effect. Every registration is removed
 * however the claim ends, so the module-wide registry is as it was.
 */
import type { ModuleOutcome } from "./gradComposition.js";
import { Apply, Variable } from "../src/graph/basic.js";
import { Op, isDisconnected } from "../src/graph/op.js";
import { NDArray } from "../src/ndarray/ndarray.js";
import { compile } from "../src/compile/function.js";
import { type GradOptions, grad } from "../src/grad/driver.js";
import { type OpSelector, type PullbackRule, registerPullbackRule } from "../src/grad/registry.js";
import { GradError } from "../src/errors.js";
import { Elemwise, mul as pmul } from "../src/tensor/elemwise.js";
import * as X from "../src/xtensor/index.js";
import type { BuiltCase } from "../src/case/build.js";
import { type ArrayComparison, compareRecords, toArrayValue } from "./compare.js";
import type { ArrayValue } from "./types.js";

/** y = 1.5 · x elementwise, as a user's op: `perform` only, no pullback rule. */
export class UnruledScale extends Op {
  override readonly name = "UnruledScale";
  override readonly props = {};
  makeNode(x: Variable): Apply {
    return new Apply(this, [x], [x.type]);
  }
  override perform(_n: Apply, [x]: readonly NDArray[]): NDArray[] {
    return [NDArray.fromFlat(Array.from(x.toFlat(), (v) => 1.5 * v), x.shape, x.dtype)];
  }
}

/** What the claim needs: the case, a seeded draw, the tolerance, `grad`, and `registerPullbackRule` (tests inject faulty ones). */
export interface RegisteredRuleInput {
  readonly built: BuiltCase;
  readonly rand: () => number;
  readonly rtol: number;
  readonly slack: number;
  readonly gradWith: (cost: Variable, wrt: readonly Variable[], options: GradOptions) => unknown[];
  readonly register?: typeof registerPullbackRule;
}

/** A rule scaling the cotangent: what a registered fallback for a one-input op returns. */
const scaling = (k: number): PullbackRule => (_ins, _outs, [g]) => [pmul(g, k)];
/** The mul's rule scaled wrong: what a registry that replaced op rules would apply. */
const wrongMul = (k: number): PullbackRule => (ins, _outs, [g]) => ins.map(() => pmul(g, k));

export function registeredRuleClaim(c: RegisteredRuleInput): ModuleOutcome {
  const b = c.built;
  const register = c.register ?? registerPullbackRule;
  if (b.wrt.length === 0) return { status: "skip", reason: "no float input to differentiate" };
  // Lazy resolves rules when the compiler expands the Pullback node, perNode when grad runs.
  const strategy = c.rand() < 0.5 ? "lazy" : "perNode";
  const opts: GradOptions = { disconnectedInputs: "ignore", returnDisconnected: "zero", gradStrategy: strategy };
  const base = X.isXTensorVariable(b.cost) ? X.values(b.cost) : b.cost;
  let ref: unknown[];
  try {
    // The driver asks UnruledScale's rule only when a wrt reaches it along float values.
    if (grad(base, b.wrt, { disconnectedInputs: "ignore", returnDisconnected: "disconnected" }).every(isDisconnected)) {
      return { status: "skip", reason: "the cost depends on no wrt along float values, so no gradient asks UnruledScale's rule" };
    }
    ref = c.gradWith(base, b.wrt, opts);
  } catch (e) {
    if (e instanceof GradError) return { status: "skip", reason: `grad(cost, wrt) has no gradient: ${e.message.split("\n")[0]}` };
    throw e;
  }
  const y = new UnruledScale().makeNode(pmul(base, 2)).outputs[0];
  const pickOf = <T,>(xs: readonly T[]): T => xs[Math.floor(c.rand() * xs.length)];
  // Predicates both as arrow functions (no prototype) and as plain functions (a prototype that
  // is no Op's): the registry must tell either from an op class.
  const pred = (test: (op: Op) => boolean): readonly [string, OpSelector][] => [
    ["predicate", (op: Op) => test(op)],
    ["function predicate", function (op: Op): boolean { return test(op); }],
  ];
  const selA = pickOf<readonly [string, OpSelector]>([["class", UnruledScale], ["name", "UnruledScale"], ...pred((op) => op instanceof UnruledScale)]);
  const selE = pickOf<readonly [string, OpSelector]>([["Op", Op], ...pred((op) => op.name === "UnruledScale")]);
  const selD = pickOf<readonly [string, OpSelector]>([["class", Elemwise], ["name", "UnruledScal"], ...pred((op) => op.name === "OpaqueScale")]);
  const selW = pickOf<readonly [string, OpSelector]>([["class", Elemwise], ["name", "Elemwise"], ...pred((op) => op instanceof Elemwise)]);
  const label = (s: readonly [string, unknown]): string => (s[0] === "name" ? `"${String(s[1])}"` : s[0] === "class" ? (s[1] as { name: string }).name : s[0]);
  const fail = (reason: string, comparison?: ArrayComparison): ModuleOutcome => ({ status: "fail", reason, ...(comparison === undefined ? {} : { comparison }) });
  const said = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message.split("\n")[0]}` : String(e));
  /** The gradients `gs`, compiled in NONE and run at the case's point, each times k. */
  const valuesOf = (gs: readonly unknown[], k: number): Record<string, ArrayValue> => {
    if (!gs.every((g) => g instanceof Variable)) throw new GradError(`registered-rule: a gradient is not a variable: ${gs.map(String).join(", ")}`);
    const res = compile([...b.inputs.values()], gs as Variable[], { mode: "NONE" })(...b.values.values());
    return Object.fromEntries(b.wrtNames.map((name, i) => [name, toArrayValue(b.wrt[i], k === 1 ? res[i] : NDArray.fromFlat(Array.from(res[i].toFlat(), (v) => k * v), res[i].shape, res[i].dtype))]));
  };

  /** grad(y) must raise naming the op and the registry (null when it does). */
  const unruled = (when: string): ModuleOutcome | null => {
    let err: unknown = null;
    try {
      valuesOf(c.gradWith(y, b.wrt, opts), 1);
    } catch (e) {
      err = e;
    }
    if (err === null) return fail(`${when}, grad(UnruledScale(2 · cost), wrt) returned a gradient, but UnruledScale has no rule: it must raise`);
    if (!(err instanceof GradError) || !err.message.includes("UnruledScale") || !err.message.includes("registerPullbackRule")) {
      return fail(`${when}, grad(UnruledScale(2 · cost), wrt) must raise a GradError naming UnruledScale and registerPullbackRule; it raised ${said(err)}`);
    }
    return null;
  };

  const before = unruled("with no rule registered");
  if (before !== null) return before;
  // A lazy gradient resolves its rules when the compiler expands its Pullback node, so each
  // gradient is compiled and run while its registrations are in effect.
  const removers: (() => void)[] = [];
  let withA: Record<string, ArrayValue>;
  let withE: Record<string, ArrayValue>;
  try {
    const removeE = register(selE[1] as OpSelector, scaling(2.5));
    removers.push(removeE);
    removers.push(register(selD[1] as OpSelector, scaling(7)));
    const removeA = register(selA[1] as OpSelector, scaling(1.5));
    removers.push(removeA);
    removers.push(register(selW[1] as OpSelector, wrongMul(9)));
    try {
      withA = valuesOf(c.gradWith(y, b.wrt, opts), 1);
    } catch (e) {
      return fail(`with rules registered for UnruledScale (selectors ${label(selE)}, then ${label(selA)}), grad(UnruledScale(2 · cost), wrt) raised ${said(e)}`);
    }
    removeA();
    removeA();
    try {
      withE = valuesOf(c.gradWith(y, b.wrt, opts), 1);
    } catch (e) {
      return fail(`after the most recent rule for UnruledScale (selector ${label(selA)}) was removed (its remover called twice), the earlier one (selector ${label(selE)}) should apply; grad raised ${said(e)}`);
    }
  } finally {
    for (const r of removers) r();
  }
  const after = unruled("after every registration was removed");
  if (after !== null) return after;

  const setup = `E ×2.5 (${label(selE)}), D ×7 (${label(selD)}), A ×1.5 (${label(selA)}), W ×9 for mul (${label(selW)})`;
  const ca = compareRecords(withA, valuesOf(ref, 3), "gradient through UnruledScale against 3 · grad(cost)", c.rtol, c.slack);
  if (!ca.ok) return fail(`registered ${setup}: grad(UnruledScale(2 · cost), wrt) should be 3 · grad(cost) (the most recent matching rule A, and mul's own rule): ${ca.reason ?? "mismatch"}`, ca);
  const ce = compareRecords(withE, valuesOf(ref, 5), "gradient through UnruledScale against 5 · grad(cost)", c.rtol, c.slack);
  if (!ce.ok) return fail(`registered ${setup}, then A removed (its remover called twice): grad(UnruledScale(2 · cost), wrt) should be 5 · grad(cost) (E): ${ce.reason ?? "mismatch"}`, ce);
  // A registered rule written wrong (two terms for the op's one input) is refused naming the op
  // and where its rule came from, word for word (perNode: the rule runs when grad does).
  const removeBad = register(UnruledScale, (_ins, _outs, [g]) => [g, g]);
  try {
    const says = `grad: ${(y.owner as Apply).op.toString()}.pullback (rule from the registry) returned 2 terms for 1 inputs`;
    let err: unknown = null;
    try {
      c.gradWith(y, b.wrt, { ...opts, gradStrategy: "perNode" });
    } catch (e) {
      err = e;
    }
    if (!(err instanceof GradError) || err.message !== says) {
      return fail(`with a rule registered for UnruledScale that returns two terms for its one input, grad(UnruledScale(2 · cost), wrt, {gradStrategy: "perNode"}) must raise a GradError saying "${says}"; ${err === null ? "it returned a gradient" : `it raised ${said(err)}`}`);
    }
  } finally {
    removeBad();
  }
  return { status: "pass", detail: `registered-rule (${strategy}): ${setup}; A removed twice, then all`, maxAbsErr: Math.max(ca.maxAbsErr, ce.maxAbsErr), maxRelErr: Math.max(ca.maxRelErr, ce.maxRelErr) };
}
