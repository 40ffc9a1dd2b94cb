/**
 * The `rule-contract` claim of grad-composition: the driver holds every pullback rule to its
 * contract, and says which rule broke it.
 *
 * A maintainer adding a rule (an op's `pullback`, `options.ruleFor`, the registry) gets it wrong
 * in a handful of ways: a term for the wrong input count, a number instead of a variable, the
 * wrong type family, an integer or wrong-float term, the wrong dims, the wrong shape, a dropped
 * term. The driver checks each one where the term enters the sum, so the mistake surfaces as a
 * GradError naming the op, where the rule came from and the input, not as a wrong gradient or a
 * crash three rewrites later. A term whose dims are only in another order is not a mistake: it
 * is aligned by name.
 *
 * No generated case breaks a rule, so without this claim nothing in the harness reaches those
 * checks: a driver that dropped one would pass every other property. The claim breaks one real
 * rule per case, on purpose, through the public hook (`options.ruleFor`), on the cost's lowered
 * graph, where every node has a rule of its own (positional ops and the two boundary
 * conversions, whose inputs are the case's named inputs):
 *
 * | breakage | the term the broken rule returns | the driver must |
 * |---|---|---|
 * | `count` | the real terms plus one | raise, naming the rule and both counts |
 * | `not-a-variable` | `0` for input i | raise, naming the rule and input i |
 * | `kind` | a named term for a positional input, or the reverse | raise, naming input i's type family |
 * | `integer` | the term cast to int64 | raise, naming input i |
 * | `float-dtype` | the term cast to the other float dtype | raise, naming input i's dtype |
 * | `dims` | a named term with one dim renamed | raise, naming input i's dims |
 * | `shape` | a positional term joined with itself along an axis of known length | raise, naming input i's shape |
 * | `dropped` | DISCONNECTED for a float input the cost depends on | raise (op with a connectionPattern) or warn through `onWarning` (without it, on `console.warn`), naming the rule and input i |
 *
 * Each refusal and warning is matched word for word (`expectedMessage`): it is what the
 * maintainer reads.
 * | `transposed` | a named term in reversed dims order | give the same gradients as the real rule |
 *
 * The reference for the last row is the same `grad` with the real rule passed through the same
 * hook (so only the term's dims order differs), compiled in NONE.
 */
import type { ModuleOutcome } from "./gradComposition.js";
import { type Apply, Variable } from "../src/graph/basic.js";
import { DISCONNECTED } from "../src/graph/op.js";
import { isFloat, shapeToString } from "../src/graph/type.js";
import { ancestors } from "../src/graph/traversal.js";
import { compile } from "../src/compile/function.js";
import type { GradOptions } from "../src/grad/driver.js";
import type { PullbackRule } from "../src/grad/registry.js";
import { GradError } from "../src/errors.js";
import { cast as pcast } from "../src/tensor/elemwise.js";
import { join } from "../src/tensor/shape.js";
import * as X from "../src/xtensor/index.js";
import { lower } from "../src/xtensor/lower.js";
import type { BuiltCase } from "../src/case/build.js";
import { type ArrayComparison, compareRecords, toArrayValue } from "./compare.js";
import type { ArrayValue } from "./types.js";
import { consoleWarnings } from "./refusals.js";

/** The ways the claim breaks a rule, in the order they are tried. */
export const RULE_BREAKAGES = ["count", "not-a-variable", "kind", "integer", "float-dtype", "dims", "shape", "dropped", "transposed"] as const;
export type RuleBreakage = (typeof RULE_BREAKAGES)[number];

/** What the claim needs: the case, a seeded draw, the tolerance, and `grad` with options passed through. */
export interface RuleContractInput {
  readonly built: BuiltCase;
  readonly rand: () => number;
  readonly rtol: number;
  readonly slack: number;
  readonly gradWith: (cost: Variable, wrt: readonly Variable[], options: GradOptions) => unknown[];
}

export type RuleContractOutcome = ModuleOutcome;

/**
 * Judge the driver's rule checks on one case. Every breakage that applies to the drawn target is
 * tried; the first one the driver mishandles is the failure.
 */
export function ruleContractClaim(c: RuleContractInput): RuleContractOutcome {
  const b = c.built;
  if (b.wrt.length === 0) return { status: "skip", reason: "no float input to differentiate" };
  // Lowered in checked mode: the claim judges the driver on this graph, so it must be sound.
  const [cost] = lower([b.cost], { checked: true });
  const wrtSet = new Set<Variable>(b.wrt);
  const reaches = new Map<Variable, boolean>();
  const fromWrt = (v: Variable): boolean => {
    let r = reaches.get(v);
    if (r === undefined) {
      r = wrtSet.has(v) || (v.owner !== null && v.owner.inputs.some(fromWrt));
      reaches.set(v, r);
    }
    return r;
  };
  // Nodes between a wrt and the cost with a float output: the driver asks each one's rule.
  const nodes: Apply[] = [];
  for (const v of ancestors([cost])) {
    const n = v.owner;
    if (n === null || v !== n.outputs[0] || typeof n.op.pullback !== "function" || !isFloat(v.type.dtype)) continue;
    if (n.inputs.some((x, i) => throughOutput0(n, i) && isFloat(x.type.dtype) && fromWrt(x))) nodes.push(n);
  }
  if (nodes.length === 0) return { status: "skip", reason: "no node with a rule of its own between a wrt and the lowered cost" };
  const base: GradOptions = { disconnectedInputs: "ignore", returnDisconnected: "zero", addNames: false };

  // The real rule, run through the same hook: the terms a broken rule starts from, and the
  // gradients `transposed` must reproduce. A node is usable when the driver asked its rule for a
  // variable term of a float input that a wrt reaches (a rule may return DISCONNECTED for an
  // input whose gradient is known zero).
  const probe = (node: Apply, usable: (v: Variable, i: number) => boolean): Probe | "undefined" | null => {
    let seen: unknown[] | null = null;
    const real = realRule(node);
    const spy: PullbackRule = (ins, outs, cots, nd) => (seen = real(ins, outs, cots, nd));
    let reference: unknown[];
    try {
      reference = c.gradWith(cost, b.wrt, { ...base, ruleFor: (n) => (n === node ? spy : null) });
    } catch (e) {
      if (e instanceof GradError) return "undefined";
      throw e;
    }
    if (seen === null) return null;
    const terms: unknown[] = seen;
    const cand = node.inputs.flatMap((v, i) => (throughOutput0(node, i) && isFloat(v.type.dtype) && fromWrt(v) && usable(v, i) && terms[i] instanceof Variable ? [i] : []));
    if (cand.length === 0) return null;
    return { node, input: cand[Math.floor(c.rand() * cand.length)], terms, reference };
  };
  const draw = (pool: readonly Apply[], usable: (v: Variable, i: number) => boolean): Probe | "undefined" | null => {
    const order = pool.map((n) => ({ n, k: c.rand() })).sort((p, q) => p.k - q.k).map((p) => p.n);
    for (const node of order.slice(0, 4)) {
      const p = probe(node, usable);
      if (p !== null) return p;
    }
    return null;
  };
  const noGrad = { status: "skip", reason: "the lowered cost has no gradient (an undefined term on its path)" } as const;

  // Every breakage but `transposed` on one drawn node.
  const main = draw(nodes, () => true);
  if (main === "undefined") return noGrad;
  if (main === null) return { status: "skip", reason: "the driver asked no drawn node's rule for a variable term of a float input" };
  const ran: string[] = [];
  const bad = judge(c, cost, base, main, RULE_BREAKAGES.filter((k) => k !== "transposed"), ran);
  if (bad !== null) return bad;
  // `transposed` needs a named input of two dims or more: in the lowered graph, a boundary
  // conversion reading a named wrt. It is drawn among those on its own, or it would rarely run.
  const wide = (v: Variable): boolean => X.isXTensorVariable(v) && v.type.ndim >= 2;
  const named = nodes.filter((n) => n.inputs.some(wide));
  if (named.length > 0) {
    const t = draw(named, wide);
    if (t === "undefined") return noGrad;
    if (t !== null) {
      const badT = judge(c, cost, base, t, ["transposed"], ran);
      if (badT !== null) return badT;
    }
  }
  return { status: "pass", detail: `rule-contract on ${atOf(main.node, main.input)}: ${ran.join(", ")}`, maxAbsErr: 0, maxRelErr: 0 };
}

/** A target (a node, one of its float inputs) and what its real rule gave through the hook. */
interface Probe {
  readonly node: Apply;
  readonly input: number;
  /** The real rule's terms. */
  readonly terms: readonly unknown[];
  /** `grad` of the lowered cost with the real rule passed through the hook. */
  readonly reference: readonly unknown[];
}

/** The driver's name for a rule passed through the hook, and for one of its node's inputs. */
const labelOf = (node: Apply): string => `${node.op.toString()}.pullback (rule from options.ruleFor)`;
const atOf = (node: Apply, i: number): string => `${labelOf(node)}, input ${i} (${node.inputs[i].toString()}: ${node.inputs[i].type.toString()})`;

/** Try each breakage on the target; the first the driver mishandles is the failure (null: none). */
function judge(c: RuleContractInput, cost: Variable, base: GradOptions, t: Probe, breakages: readonly RuleBreakage[], ran: string[]): RuleContractOutcome | null {
  const b = c.built;
  const { node, input: i } = t;
  const primal = node.inputs[i];
  const label = labelOf(node);
  const at = atOf(node, i);
  for (const breakage of breakages) {
    const broken = breakTerm(breakage, t.terms[i] as Variable, primal, t.terms, i);
    if (broken === null) continue;
    const warnings: string[] = [];
    // The cast is the point: a rule written in plain JavaScript (or with an `as`) can return
    // anything, and the driver checks at run time what the types only promise.
    const rule: PullbackRule = () => broken as ReturnType<PullbackRule>;
    let result: unknown[] | null = null;
    let error: unknown = null;
    try {
      result = c.gradWith(cost, b.wrt, { ...base, ruleFor: (n) => (n === node ? rule : null), onWarning: (m) => warnings.push(m) });
    } catch (e) {
      error = e;
    }
    const what = `a rule for ${node.op.toString()} (input ${i} of ${node.inputs.length}, ${primal.type.toString()}) breaking the contract by ${breakage}`;
    if (breakage === "transposed") {
      if (error !== null) return { status: "fail", reason: `${what}: the driver raised instead of aligning the term by name: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}` };
      const cmp = compareGrads(b, result as unknown[], t.reference, c.rtol, c.slack);
      if (!cmp.ok) return { status: "fail", reason: `${what}: the gradients differ from the real rule's: ${cmp.reason ?? "mismatch"}`, comparison: cmp };
      ran.push(breakage);
      continue;
    }
    const dropped = `grad: ${at}: the pullback returned DISCONNECTED, but the input reaches an output that the cost depends on`;
    if (breakage === "dropped" && error === null && node.op.connectionPattern === undefined) {
      // An op without a connectionPattern cannot declare the input connected, so the driver
      // warns (through onWarning, else console.warn, as documented) and goes on.
      const want = `${dropped}; define connectionPattern to declare it`;
      if (!warnings.includes(want)) return { status: "fail", reason: `${what}: the driver must warn "${want}"; it ${warnings.length > 0 ? `warned: ${warnings[0]}` : "neither raised nor warned"}` };
      const printed = consoleWarnings(() => c.gradWith(cost, b.wrt, { ...base, ruleFor: (n) => (n === node ? rule : null) }));
      if (!printed.includes(want)) return { status: "fail", reason: `${what}: without onWarning, the driver must print "${want}" on console.warn (the documented default); it printed ${printed.length > 0 ? printed[0] : "nothing"}` };
      ran.push(breakage);
      continue;
    }
    if (error === null) return { status: "fail", reason: `${what}: the driver accepted the term without an error` };
    if (!(error instanceof GradError)) return { status: "fail", reason: `${what}: the driver failed with ${error instanceof Error ? `${error.name}: ${error.message.split("\n")[0]}` : String(error)}, not a GradError` };
    const says = expectedMessage(breakage, label, at, primal, (broken as unknown[])[i], node.inputs.length, dropped);
    if (error.message !== says) return { status: "fail", reason: `${what}: the GradError must say "${says}"; it says "${error.message.split("\n")[0]}"` };
    ran.push(breakage);
  }
  return null;
}

/**
 * Input i reaches output 0 (a float output on the path to the cost), so the cost depends on it
 * through a float value: a DISCONNECTED term for it is a dropped term, not a legal one.
 */
function throughOutput0(node: Apply, i: number): boolean {
  return node.op.connectionPattern?.(node)[i]?.[0] ?? true;
}

/** The rule the driver would use for `node` without the hook: its op's own. */
function realRule(node: Apply): PullbackRule {
  const op = node.op;
  return (ins, outs, cots) => (op.pullback as NonNullable<typeof op.pullback>).call(op, ins, outs, cots);
}

/** The terms a broken rule returns, or null when the breakage does not apply to this input. */
function breakTerm(breakage: RuleBreakage, term: Variable, primal: Variable, terms: readonly unknown[], i: number): unknown[] | null {
  const put = (t: unknown): unknown[] => terms.map((u, k) => (k === i ? t : u));
  const named = X.isXTensorVariable(term);
  const dims = X.isXTensorVariable(primal) ? primal.type.dims : null;
  switch (breakage) {
    case "count":
      return [...terms, DISCONNECTED];
    case "not-a-variable":
      return put(0);
    case "kind":
      if (named) return put(X.values(term));
      return put(X.asXTensor(term, freshDims(term.type.ndim, [])));
    case "integer":
      return put(named ? X.cast(term as X.XTensorVariable, "int64") : pcast(term, "int64"));
    case "float-dtype":
      if (!isFloat(primal.type.dtype)) return null;
      return put(named ? X.cast(term as X.XTensorVariable, other(primal.type.dtype)) : pcast(term, other(primal.type.dtype)));
    case "dims": {
      if (!named || dims === null || dims.length === 0) return null;
      const d = (term as X.XTensorVariable).type.dims[0];
      return put(X.rename(term as X.XTensorVariable, { [d]: freshDims(1, dims)[0] }));
    }
    case "shape": {
      if (named) return null;
      const axis = primal.type.shape.findIndex((n) => n !== null && n > 0);
      if (axis < 0) return null;
      return put(join(axis, term, term));
    }
    case "dropped":
      return put(DISCONNECTED);
    case "transposed": {
      if (!named || dims === null || dims.length < 2) return null;
      return put(X.transpose(term as X.XTensorVariable, [...(term as X.XTensorVariable).type.dims].reverse()));
    }
  }
}

/**
 * The driver's refusal of each breakage word for word, written from the contract (where the term
 * enters the sum it is checked for its count, then for being a Variable, then against its
 * primal: type family, float dtype, the primal's own dtype, dims, static shape), so a message
 * that lost the rule, the input or what it expected shows.
 */
function expectedMessage(breakage: RuleBreakage, label: string, at: string, primal: Variable, term: unknown, n: number, dropped: string): string {
  const pt = primal.type;
  const tt = term instanceof Variable ? term.type : null;
  switch (breakage) {
    case "count":
      return `grad: ${label} returned ${n + 1} terms for ${n} inputs`;
    case "not-a-variable":
      return `grad: ${at}: expected a Variable, DISCONNECTED or UndefinedGrad, got ${String(term)}`;
    case "kind":
      return `grad: ${at}: expected a ${pt.kind} cotangent for ${pt.toString()}, got ${String(tt)}`;
    case "integer":
      return `grad: ${at}: cotangents must be float, got ${String(tt)}`;
    case "float-dtype":
      return `grad: ${at}: expected a ${pt.dtype} cotangent (the input's dtype), got ${String(tt)}`;
    case "dims":
      return `grad: ${at}: expected a cotangent with dims {${(X.isXTensorVariable(primal) ? primal.type.dims : []).join(", ")}}, got dims (${(term as X.XTensorVariable).type.dims.join(", ")})`;
    case "shape":
      return `grad: ${at}: expected a cotangent of shape ${shapeToString(pt.shape)}, got ${shapeToString((tt as NonNullable<typeof tt>).shape)} (${String(tt)})`;
    case "dropped":
      return `${dropped} according to connectionPattern`;
    case "transposed":
      return "";
  }
}


const other = (dtype: string): "float32" | "float64" => (dtype === "float32" ? "float64" : "float32");

function freshDims(n: number, taken: readonly string[]): string[] {
  const out: string[] = [];
  for (let k = 0; out.length < n; k++) if (!taken.includes(`rc${k}`)) out.push(`rc${k}`);
  return out;
}

/** The claim's gradients against the reference's, both compiled in NONE at the case's point. */
function compareGrads(b: BuiltCase, got: readonly unknown[], want: readonly unknown[], rtol: number, slack: number): ArrayComparison {
  const vars = [...got, ...want].map((g, k) => {
    if (!(g instanceof Variable)) throw new GradError(`rule-contract: gradient ${k % b.wrt.length} is not a variable`);
    return g;
  });
  const f = compile([...b.inputs.values()], vars, { mode: "NONE" });
  const res = f(...b.values.values());
  const m = b.wrt.length;
  const rec = (off: number): Record<string, ArrayValue> => Object.fromEntries(b.wrtNames.map((name, k) => [name, toArrayValue(b.wrt[k], res[off + k])]));
  return compareRecords(rec(0), rec(m), "gradient", rtol, slack);
}
