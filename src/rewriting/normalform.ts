/**
 * Normal forms: what canonicalize, stabilize and specialize promise is left when they finish.
 *
 * A rule that silently stops firing (a match condition that became false, a lost `fast_compile`
 * tag, a rule renamed or dropped from the group) changes no value, so no value-based property can
 * see it. An equilibrium ends only when no selected rule matches any node, so each rule promises
 * that its pattern is gone, except where the rule documents why it declines. This file restates
 * each promise as a predicate on the finished graph. Checked mode runs them right after the
 * group's equilibrium: later passes (fusion above all) would hide an unrewritten pattern inside a
 * Composite.
 *
 * The predicates are written from the rules' documented contracts, not from their code: they
 * share no helper with the matchers (only op classes and tensor builders), and the modes each
 * promise holds in are listed here, not read from the registration, so a rule that lost its tag
 * or its name is noticed too. Each leftover is a pattern the rule documents as firing; a
 * predicate must never flag a node the rule rightly declines (a false alarm), and may promise
 * less than its rule only where it says so here (a stale pattern; subtensor_of_alloc's ints and
 * full slices): the harness silences each rule that fires and requires its predicate to flag
 * every node the rule still rewrites, except in those documented places, which it restates
 * (properties/checkedSensitivity.ts).
 */
import { type Apply, Constant, type Variable } from "../graph/basic.js";
import { type FunctionGraph, Output, isOutputNode } from "../graph/fgraph.js";
import { TensorType, isDiscrete, isFloat } from "../graph/type.js";
import { InvariantError } from "../errors.js";
import { Elemwise, square } from "../tensor/elemwise.js";
import { Reduce } from "../tensor/reduce.js";
import { Alloc, DimShuffle, Reshape, Shape, ShapeI, constantInt } from "../tensor/shape.js";
import { AdvancedIncSubtensor, IncSubtensor, Subtensor } from "../tensor/indexing.js";
import type { Query } from "./db.js";

/** The groups with normal forms. */
export type NormalFormGroup = "canonicalize" | "stabilize" | "specialize";

/** One rule's promise. */
export interface NormalForm {
  /** The rule's registered name (also the promise's name in a failure message). */
  readonly rule: string;
  readonly group: NormalFormGroup;
  /** The query tags under which the rule is selected (every rule has "fast_run"). */
  readonly modes: readonly ("fast_run" | "fast_compile")[];
  /** Why `node` is a leftover of the rule, or null when it is not one. */
  readonly leftover: (fg: FunctionGraph, node: Apply) => string | null;
}

/**
 * Folding keeps results up to this many elements, or up to the size of the node's largest input
 * (canonicalize's `MAX_FOLD_ELEMENTS`, restated as a number: the promise is part of the contract).
 */
const FOLD_LIMIT = 4096;

// ---------------------------------------------------------------------------------------------
// Small predicates, written here so that no matcher's helper is trusted by its own check

/** The node when it is a not-in-place Elemwise applying one of `scalars` (any, when none is given), else null. */
function ew(node: Apply | null, ...scalars: string[]): Apply | null {
  if (node === null || !(node.op instanceof Elemwise) || node.op.props.inplace !== null) return null;
  return scalars.length === 0 || scalars.includes(node.op.props.scalar) ? node : null;
}

/** True when `v` is a non-empty tensor constant all of whose elements satisfy `pred`. */
function filledWith(v: Variable, pred: (x: number) => boolean): boolean {
  if (!(v instanceof Constant) || !(v.type instanceof TensorType)) return false;
  const flat = v.value.toFlat();
  return flat.length > 0 && flat.every(pred);
}

/** True when some client of `v` is a graph output. */
function readByOutput(fg: FunctionGraph, v: Variable): boolean {
  for (const [c] of fg.clients.get(v) ?? []) if (isOutputNode(c)) return true;
  return false;
}

/** The number of clients of `v`. */
function clientCount(fg: FunctionGraph, v: Variable): number {
  return fg.clients.get(v)?.length ?? 0;
}

/**
 * True when `x`'s value, right-aligned, covers `out`'s shape with no run-time length check lost:
 * each of x's lengths equals out's statically, or is a static 1 (stretched).
 */
function stretchesTo(x: Variable, out: Variable): boolean {
  const xs = x.type.shape;
  const os = out.type.shape;
  const lead = os.length - xs.length;
  if (lead < 0) return false;
  for (let i = 0; i < xs.length; i++) if (xs[i] !== 1 && xs[i] !== os[lead + i]) return false;
  // Dropping out's node drops the run-time checks of its operands' unknown lengths, so no promise
  // where one would be lost: at an axis where x's length is unknown, a second operand of unknown
  // length (`second(a, b)` with both unknown); where x's length is static and not 1, any operand
  // of unknown length (`second(u, exp(x))`, x of length 3); where x is 1 or lacks the axis, an
  // operand of unknown length unless it alone gives out's (unknown) length there.
  const ins = out.owner?.inputs ?? [];
  for (let d = 0; d < os.length; d++) {
    const unknown = ins.filter((w) => d - (os.length - w.type.ndim) >= 0 && w.type.shape[d - (os.length - w.type.ndim)] === null).length;
    const own = d >= lead ? xs[d - lead] : 1;
    if (own === null ? unknown > 1 : own !== 1 ? unknown > 0 : unknown > 1 || (unknown === 1 && os[d] !== null)) return false;
  }
  // No promise on a stale pattern (see `staleAround`): under-approximate rather than cry wolf.
  return !staleAround(out);
}

/**
 * True when out's node, or a node it reads (a rule's inner node, as `1 + x` in `log(1 + x)`),
 * records an output type its inputs would now give more lengths of. A rewrite that replaces an
 * input by a more refined variable does not re-infer the node. The rules may rightly decline
 * there: where the type says unknown, a static length of an operand they drop may be the only
 * thing a run-time check compares against, and a static 1 they would give the result would be
 * broadcast by its readers where they checked an unknown length.
 */
function staleAround(out: Variable): boolean {
  const owner = out.owner;
  if (owner === null) return false;
  return [owner, ...owner.inputs.map((v) => v.owner)].some((n) => n !== null && !(n.op instanceof Output) && recordsLess(n));
}

/** True when re-inferring `node` from its inputs gives an output type it does not record. */
function recordsLess(node: Apply): boolean {
  try {
    const fresh = node.op.makeNode(...node.inputs);
    return fresh.outputs.some((o, k) => !o.type.equals(node.outputs[k].type));
  } catch {
    return true;
  }
}

/** True when x and out have the same dtype and the same static shape. */
function sameType(x: Variable, out: Variable): boolean {
  return x.type.dtype === out.type.dtype && x.type.ndim === out.type.ndim && x.type.shape.every((s, i) => s === out.type.shape[i]);
}

/** A caller's own input array would come back as a graph output if `out` were replaced by `x`. */
function handsBackInput(fg: FunctionGraph, x: Variable, out: Variable): boolean {
  return x.owner === null && !(x instanceof Constant) && readByOutput(fg, out);
}

const ONE = (x: number): boolean => x === 1;
const ZERO = (x: number): boolean => x === 0;

// ---------------------------------------------------------------------------------------------
// Canonicalize

/** A node whose inputs are all constants, that folding documents as foldable. */
function unfolded(fg: FunctionGraph, node: Apply): string | null {
  const op = node.op;
  for (const v of node.inputs) if (!(v instanceof Constant)) return null;
  if (typeof op.perform !== "function" || Object.keys(op.destroyMap).length > 0) return null;
  let limit = FOLD_LIMIT;
  for (const v of node.inputs) limit = Math.max(limit, (v as Constant).value.size);
  for (const o of node.outputs) {
    if (!(o.type instanceof TensorType) || readByOutput(fg, o)) return null;
    // A constant can never be written in place, so a buffer an update op would overwrite stays symbolic.
    for (const [c, i] of fg.clients.get(o) ?? []) if (i === 0 && (c.op instanceof IncSubtensor || c.op instanceof AdvancedIncSubtensor)) return null;
  }
  let values;
  try {
    values = op.perform(node, node.inputs.map((v) => (v as Constant).value));
  } catch {
    return null; // the error belongs to run time
  }
  for (let k = 0; k < node.outputs.length; k++) {
    const a = values[k];
    const t = node.outputs[k].type;
    if (a === undefined || a.size > limit || a.dtype !== t.dtype || a.ndim !== t.ndim) return null;
  }
  return "all its inputs are constants and it can run now";
}

function identityDimshuffle(_fg: FunctionGraph, node: Apply): string | null {
  if (!(node.op instanceof DimShuffle)) return null;
  const { inputNdim, order } = node.op.props;
  if (order.length !== inputNdim) return null;
  for (let i = 0; i < order.length; i++) if (order[i] !== i) return null;
  return "a DimShuffle that keeps every axis in place";
}

function uselessReshape(_fg: FunctionGraph, node: Apply): string | null {
  if (!(node.op instanceof Reshape)) return null;
  const [x, ...lens] = node.inputs;
  if (lens.length !== x.type.ndim) return null;
  for (let i = 0; i < lens.length; i++) {
    const l = lens[i];
    const c = constantInt(l);
    const own = l.owner !== null && l.owner.op instanceof ShapeI && l.owner.op.props.i === i && l.owner.inputs[0] === x;
    if (!(own || (c !== null && c === x.type.shape[i]))) return null;
  }
  return "a Reshape to its input's own shape";
}

function copyToSameType(fg: FunctionGraph, node: Apply): string | null {
  const n = ew(node, "identity", "cast");
  if (n === null) return null;
  const x = n.inputs[0];
  const out = n.outputs[0];
  if (!sameType(x, out) || handsBackInput(fg, x, out)) return null;
  return `${(n.op as Elemwise).props.scalar} to its input's own type`;
}

function dimshuffleOfDimshuffle(_fg: FunctionGraph, node: Apply): string | null {
  if (!(node.op instanceof DimShuffle)) return null;
  const inner = node.inputs[0].owner;
  return inner !== null && inner.op instanceof DimShuffle ? "a DimShuffle of a DimShuffle" : null;
}

function dimshuffleOfSoleElemwise(fg: FunctionGraph, node: Apply): string | null {
  if (!(node.op instanceof DimShuffle)) return null;
  const x = node.inputs[0];
  return ew(x.owner) !== null && clientCount(fg, x) === 1 ? "a DimShuffle of an Elemwise nothing else reads" : null;
}

function withNeutralOperand(fg: FunctionGraph, node: Apply): string | null {
  const n = ew(node, "mul", "div", "sub", "add");
  if (n === null || n.inputs.length !== 2) return null;
  const [a, b] = n.inputs;
  const out = n.outputs[0];
  const s = (n.op as Elemwise).props.scalar;
  // The operand that the other one leaves unchanged, under IEEE 754 (x + 0.0 flips -0.0: only -0.0
  // is neutral for a float x; x - 0 and x * 1 are exact).
  const kept: Variable[] = [];
  if ((s === "mul" || s === "div" || s === "sub") && filledWith(b, s === "sub" ? ZERO : ONE)) kept.push(a);
  if (s === "mul" && filledWith(a, ONE)) kept.push(b);
  if (s === "add") {
    const neutralFor = (x: Variable, z: Variable): boolean => filledWith(z, (v) => v === 0 && (isDiscrete(x.type.dtype) || Object.is(v, -0)));
    if (neutralFor(a, b)) kept.push(a);
    if (neutralFor(b, a)) kept.push(b);
  }
  for (const x of kept) {
    if (x instanceof Constant || !stretchesTo(x, out)) continue;
    if (sameType(x, out) && handsBackInput(fg, x, out)) continue;
    return `${s} by a neutral constant`;
  }
  return null;
}

function discreteTimesZero(_fg: FunctionGraph, node: Apply): string | null {
  const n = ew(node, "mul");
  if (n === null || n.inputs.length !== 2 || isFloat(n.outputs[0].type.dtype)) return null;
  const [a, b] = n.inputs;
  const x = filledWith(b, ZERO) ? a : filledWith(a, ZERO) ? b : null;
  if (x === null || isFloat(x.type.dtype) || !stretchesTo(x, n.outputs[0])) return null;
  return "an int or bool product with a zero constant";
}

function reduceOfSoleReduce(fg: FunctionGraph, node: Apply): string | null {
  if (!(node.op instanceof Reduce)) return null;
  const x = node.inputs[0];
  const inner = x.owner;
  if (inner === null || !(inner.op instanceof Reduce) || inner.op.props.kind !== node.op.props.kind) return null;
  return clientCount(fg, x) === 1 ? `a ${node.op.props.kind} of a ${node.op.props.kind} nothing else reads` : null;
}

function staticShapeRead(fg: FunctionGraph, node: Apply): string | null {
  if (readByOutput(fg, node.outputs[0])) return null;
  if (node.op instanceof ShapeI) return node.inputs[0].type.shape[node.op.props.i] !== null ? "a ShapeI of a static length" : null;
  if (node.op instanceof Shape) return node.inputs[0].type.shape.every((s) => s !== null) ? "a Shape of a fully static shape" : null;
  return null;
}

/**
 * A Subtensor of an Alloc that reads only copies of the allocated value: every axis it narrows is
 * one the value is broadcast along. Restated conservatively: ints and full slices only (the
 * generator's `isel` of an `expand_dims`), each int on a static length the value stretches along.
 */
function subtensorOfBroadcast(_fg: FunctionGraph, node: Apply): string | null {
  if (!(node.op instanceof Subtensor)) return null;
  const al = node.inputs[0].owner;
  if (al === null || !(al.op instanceof Alloc)) return null;
  const v = al.inputs[0];
  const allocated = al.outputs[0].type.shape;
  const lead = allocated.length - v.type.ndim;
  let narrowed = false;
  const idx = node.op.props.idx;
  for (let d = 0; d < idx.length; d++) {
    const e = idx[d];
    if (typeof e !== "number") {
      if (e.start !== null || e.stop !== null || (e.step !== null && e.step !== 1)) return null;
      continue;
    }
    const broadcast = d < lead || v.type.shape[d - lead] === 1;
    if (!broadcast || allocated[d] === null) return null;
    narrowed = true;
  }
  return narrowed ? "a Subtensor that picks copies of an Alloc's broadcast value" : null;
}

// ---------------------------------------------------------------------------------------------
// Stabilize

/** x when `v` is `1 + x` or `x + 1` (op "add") or `1 - x` (op "sub"), computed by a not-in-place Elemwise. */
function oneAnd(v: Variable, scalar: "add" | "sub"): { x: Variable; node: Apply } | null {
  const n = ew(v.owner, scalar);
  if (n === null || n.inputs.length !== 2) return null;
  const [a, b] = n.inputs;
  if (filledWith(a, ONE)) return { x: b, node: n };
  if (scalar === "add" && filledWith(b, ONE)) return { x: a, node: n };
  return null;
}

function logOfOnePlus(_fg: FunctionGraph, node: Apply): string | null {
  const n = ew(node, "log");
  if (n === null) return null;
  const m = oneAnd(n.inputs[0], "add");
  // An int 1 + x can wrap around, which log1p of the float would not.
  if (m === null || m.node.outputs[0].type.dtype !== n.outputs[0].type.dtype || !stretchesTo(m.x, n.outputs[0])) return null;
  return "log(1 + x)";
}

function logOfSigmoid(_fg: FunctionGraph, node: Apply): string | null {
  const n = ew(node, "log");
  return n !== null && ew(n.inputs[0].owner, "sigmoid") !== null ? "log(sigmoid(x))" : null;
}

function logOfOneMinusSigmoid(_fg: FunctionGraph, node: Apply): string | null {
  const n = ew(node, "log");
  if (n === null) return null;
  const m = oneAnd(n.inputs[0], "sub");
  const s = m === null ? null : ew(m.x.owner, "sigmoid");
  return s !== null && stretchesTo(s.inputs[0], n.outputs[0]) ? "log(1 - sigmoid(x))" : null;
}

function expMinusOne(_fg: FunctionGraph, node: Apply): string | null {
  const n = ew(node, "sub");
  if (n === null || n.inputs.length !== 2 || !filledWith(n.inputs[1], ONE)) return null;
  const e = ew(n.inputs[0].owner, "exp");
  return e !== null && stretchesTo(e.inputs[0], n.outputs[0]) ? "exp(x) - 1" : null;
}

// ---------------------------------------------------------------------------------------------
// Specialize

/** Producers that never give -0.0 or -inf, where pow(x, 0.5) and sqrt(x) agree. */
const NON_NEGATIVE_ZERO = ["exp", "sigmoid", "softplus", "square", "abs"];

function powOf(node: Apply, exponent: number): Variable | null {
  const n = ew(node, "pow");
  if (n === null || n.inputs.length !== 2 || !filledWith(n.inputs[1], (v) => v === exponent)) return null;
  return stretchesTo(n.inputs[0], n.outputs[0]) ? n.inputs[0] : null;
}

function powTwo(_fg: FunctionGraph, node: Apply): string | null {
  // int32's pow rounds through doubles before wrapping, unlike its exact square.
  return powOf(node, 2) !== null && node.outputs[0].type.dtype !== "int32" ? "pow(x, 2)" : null;
}

function powHalf(_fg: FunctionGraph, node: Apply): string | null {
  const x = powOf(node, 0.5);
  return x !== null && ew(x.owner, ...NON_NEGATIVE_ZERO) !== null ? "pow(x, 0.5) of a value that is never -0 or -inf" : null;
}

function mulOfSelf(_fg: FunctionGraph, node: Apply): string | null {
  const n = ew(node, "mul");
  if (n === null || n.inputs.length !== 2 || n.inputs[0] !== n.inputs[1]) return null;
  return n.outputs[0].type.isSuper(square(n.inputs[0]).type) ? "x * x" : null;
}

function secondOf(_fg: FunctionGraph, node: Apply): string | null {
  const n = ew(node, "second");
  if (n === null || n.inputs.length !== 2) return null;
  const [, b] = n.inputs;
  const out = n.outputs[0];
  if (!stretchesTo(b, out)) return null;
  return "second(a, b) with b stretching statically to its shape";
}

// ---------------------------------------------------------------------------------------------

const FC: NormalForm["modes"] = ["fast_run", "fast_compile"];
const FR: NormalForm["modes"] = ["fast_run"];

/** Every promise, by group. */
export const NORMAL_FORMS: readonly NormalForm[] = [
  { rule: "constant_folding", group: "canonicalize", modes: FC, leftover: unfolded },
  { rule: "useless_dimshuffle", group: "canonicalize", modes: FC, leftover: identityDimshuffle },
  { rule: "useless_reshape", group: "canonicalize", modes: FC, leftover: uselessReshape },
  { rule: "useless_cast_identity", group: "canonicalize", modes: FC, leftover: copyToSameType },
  { rule: "local_dimshuffle_merge", group: "canonicalize", modes: FC, leftover: dimshuffleOfDimshuffle },
  { rule: "local_dimshuffle_lift", group: "canonicalize", modes: FR, leftover: dimshuffleOfSoleElemwise },
  { rule: "local_neutral_element", group: "canonicalize", modes: FC, leftover: withNeutralOperand },
  { rule: "local_mul_zero", group: "canonicalize", modes: FC, leftover: discreteTimesZero },
  { rule: "local_reduce_of_reduce", group: "canonicalize", modes: FR, leftover: reduceOfSoleReduce },
  { rule: "local_shape_i_constant", group: "canonicalize", modes: FC, leftover: (fg, n) => (n.op instanceof ShapeI ? staticShapeRead(fg, n) : null) },
  { rule: "local_shape_constant", group: "canonicalize", modes: FC, leftover: (fg, n) => (n.op instanceof Shape ? staticShapeRead(fg, n) : null) },
  { rule: "local_subtensor_of_alloc", group: "canonicalize", modes: FR, leftover: subtensorOfBroadcast },
  { rule: "local_log1p", group: "stabilize", modes: FR, leftover: logOfOnePlus },
  { rule: "local_log_sigmoid", group: "stabilize", modes: FR, leftover: logOfSigmoid },
  { rule: "local_log1msigm", group: "stabilize", modes: FR, leftover: logOfOneMinusSigmoid },
  { rule: "local_expm1", group: "stabilize", modes: FR, leftover: expMinusOne },
  { rule: "local_pow_2_to_square", group: "specialize", modes: FR, leftover: powTwo },
  { rule: "local_pow_half_to_sqrt", group: "specialize", modes: FR, leftover: powHalf },
  { rule: "local_mul_self_to_square", group: "specialize", modes: FR, leftover: mulOfSelf },
  { rule: "local_second_to_alloc", group: "specialize", modes: FR, leftover: secondOf },
];

/**
 * The promises of `group` under `q`: a rule's promise holds when the query includes one of its
 * modes (or names it) and excludes neither the rule, the group nor any of its modes.
 */
export function normalFormsOf(group: string, q: Query): NormalForm[] {
  const exclude = q.exclude ?? [];
  if (exclude.includes(group)) return [];
  return NORMAL_FORMS.filter(
    (f) => f.group === group && (q.include.includes(f.rule) || f.modes.some((m) => q.include.includes(m))) && !exclude.includes(f.rule) && !f.modes.some((m) => exclude.includes(m)),
  );
}

/** A query as failure messages show it: `[include] minus [exclude]`. */
function queryLabel(q: Query): string {
  return `[${q.include.join(", ")}]${q.exclude !== undefined && q.exclude.length > 0 ? ` minus [${q.exclude.join(", ")}]` : ""}`;
}

/**
 * Checked mode, right after `group`'s equilibrium: no node is left that one of `forms` promises
 * to rewrite. The message's "broke its promise <rule>" is the finding's signature.
 *
 * @throws InvariantError naming the group, the query, the rule and the node.
 */
export function verifyNormalForm(fg: FunctionGraph, group: string, q: Query, forms: readonly NormalForm[], registered: ReadonlySet<string>): void {
  if (forms.length === 0) return;
  for (const node of fg.applyNodes) {
    for (const f of forms) {
      const why = f.leftover(fg, node);
      if (why === null) continue;
      // Rules register themselves when their module loads: the likely cause when one is absent.
      const hint = registered.has(f.rule) ? "" : `; no rule named ${f.rule} is registered in ${group} (rules register when their module loads: import src/rewriting/passes.ts)`;
      throw new InvariantError(`checked mode: ${group} under ${queryLabel(q)} broke its promise ${f.rule}: ${node.toString()} is left (${why})${hint}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// No new copies

/**
 * The groups that promise to add no copy. Their rules write a cast only where the dtype changes
 * (a stabilized expression's operand, `square` or `sqrt` of a pow's base, `conformTo`), so
 * neither leaves an `identity(x)` or a `cast(x, x's own dtype)` it made: canonicalize, which
 * removes such copies, ran before them, and no pass after removes one (fusion only hides it in a
 * Composite, one more read per element). A rule that casts unconditionally changes no value, so
 * only this promise sees it. Judged on the nodes the equilibrium made, so a copy already there
 * (a query that left `useless_cast_identity` out) is not this group's.
 */
export const COPY_FREE_GROUPS: readonly NormalFormGroup[] = ["stabilize", "specialize"];

/**
 * Checked mode, right after `group`'s equilibrium: no node the equilibrium made (one not in
 * `before`, the graph's nodes when it started) is a copy to its input's own type (canonicalize's
 * `useless_cast_identity` leftover, its exemptions included). Only made nodes count: a node that
 * was there may have become a copy when a rewrite refined its input, which is no rule's doing.
 * The message's "broke its promise adds_no_copy" is the finding's signature.
 *
 * @throws InvariantError naming the group, the query and the copy.
 */
export function verifyNoNewCopy(fg: FunctionGraph, group: string, q: Query, before: ReadonlySet<Apply>): void {
  for (const node of fg.applyNodes) {
    if (before.has(node)) continue;
    const why = copyToSameType(fg, node);
    if (why !== null) throw new InvariantError(`checked mode: ${group} under ${queryLabel(q)} broke its promise adds_no_copy: ${node.toString()} is new (${why}; none of the group's rules writes one)`);
  }
}
