/**
 * The `discrete-path` claim of grad-composition: a float value that reaches the cost only through
 * an integer one carries no gradient, and the driver and the forward sweep hold every rule to it.
 *
 * The driver asks a rule for the term of a float input even when the node's only outputs are
 * integers, because some op downstream may give an integer operand a float term (a contraction
 * does, for its integer operand). The rule must then answer DISCONNECTED, undefined or a term
 * the driver can prove zero from the graph (a zero constant, a fill with zero, and the ops that
 * keep zeros zero); anything else is the classic straight-through mistake, a gradient through
 * `round`, and the driver must refuse it naming the rule. The forward sweep promises the same of
 * a pushforward rule's tangent for a discrete output. Built-in rules answer DISCONNECTED, and
 * a float reaching a contraction only as an integer is rare in generated cases (2 of 300), so
 * nothing else reaches those checks or the zero test behind them.
 *
 * So the claim writes three user ops, as a user would:
 * - `OpaqueRound`: k = round(x), int64, whose pullback returns a term the claim chooses;
 * - `OpaqueSplit`: (k, f) = (round(x), x − round(x)), whose pushforward returns a tangent for k
 *   the claim chooses (the sweep follows float values, so it asks only a node with a float
 *   output too);
 * - `OpaqueWeigh`: w · k, which gives its integer operand k the float term g · w, as a
 *   contraction gives its integer operand one;
 *
 * and differentiates cost + sum(OpaqueWeigh(k, w)), k from OpaqueRound (for `grad`) or from
 * OpaqueSplit (for `pushforward`) of v, a float node of the case a wrt reaches (its values, when
 * named), and w a fresh weight:
 *
 * | the term for x (the tangent for k) | `grad(cost', wrt)` (compiled, since a lazy gradient checks its rules when expanded) and `pushforward(cost', wrt, u, {useOpPushforward: "require"})` must |
 * |---|---|
 * | a zero in a seeded disguise: a zero constant, a fill with zero, or an `Alloc` of zero, wrapped in both `mul`s by a constant (either side) and then every one of `neg`, `identity`, `add`/`sub` of another zero, `second`, a cast round trip, `reshape`, a `DimShuffle` round trip, `specifyShape`, `broadcastTo` and a named round trip (as_xtensor, rename, transpose twice, values), in a seeded order | accept it: the gradients of cost alone, and J u of cost alone; and `grad(cost', k)` for the integer k itself: a float gradient equal to w (grad's documentation: a discrete variable's gradient, when connected at all, is float) |
 * | 1 to 3 of those over a leaf with one element 1 (or of ones), over exp of a zero, or over `inc(zeros, leaf)` (an op whose first input is zero but which keeps no zero from it) | raise a GradError naming the rule (`OpaqueRound{rule=n}.pullback`), input 0 and "only through integer outputs" (forward: `OpaqueSplit{rule=n}.pushforward`, output 0 and "is discrete") |
 * | the cotangent (tangent) itself: straight-through | the same |
 * | straight-through, with k read by a built-in op on integers (its sum, its running sum, or an advanced inc of ones at a repeated index) before OpaqueWeigh | (`grad` only) accept it: the built-in rule, asked about its integer input, answers in its contract's form, and the path ends there, so the gradients are the cost alone's |
 *
 * And an integer index computed from v: OpaqueSplit's k indexes a fresh vector (an AdvancedSubtensor,
 * whose index input has no gradient) while its f, a float, reaches the cost too. `grad` under both
 * strategies must raise a GradError saying that a wrt reaching v has an undefined gradient through
 * AdvancedSubtensor's integer index (input 1), as PyTensor's NullType gradient does: the lazy
 * strategy finds the index in the graph's structure, the per-node sweep from the cotangents, where
 * the index's undefined one meets f's float one at the split (no case computes an index: the case
 * format's index arrays are inputs).
 *
 * The zero forms are the ones the driver's algebra documents it recognises; whether a disguise is
 * zero is known here by construction, not asked of the engine. Values are compared at the case's
 * point, compiled in NONE.
 */
import type { ModuleOutcome } from "./gradComposition.js";
import { Apply, Variable, makeVariable } from "../src/graph/basic.js";
import { DISCONNECTED, type Disconnected, type GradTerm, Op, isDisconnected } from "../src/graph/op.js";
import { type DType, TensorType, isFloat } from "../src/graph/type.js";
import { NDArray } from "../src/ndarray/ndarray.js";
import { compile } from "../src/compile/function.js";
import { type GradOptions, grad } from "../src/grad/driver.js";
import type { PushforwardOptions } from "../src/grad/pushforward.js";
import { GradError } from "../src/errors.js";
import { constant } from "../src/tensor/basic.js";
import { add as padd, cast as pcast, exp as pexp, identity as pidentity, mul as pmul, neg as pneg, second as psecond, sub as psub } from "../src/tensor/elemwise.js";
import { alloc, broadcastTo, dimshuffle, reshape, specifyShape } from "../src/tensor/shape.js";
import { sum as psum } from "../src/tensor/reduce.js";
import { cumsum } from "../src/tensor/cumulative.js";
import { advancedIncSubtensor, advancedSubtensor, incSubtensor } from "../src/tensor/indexing.js";
import * as X from "../src/xtensor/index.js";
import type { BuiltCase } from "../src/case/build.js";
import { type ArrayComparison, compareArrays, compareRecords, toArrayValue } from "./compare.js";
import type { ArrayValue } from "./types.js";

/** What OpaqueRound's rules return for its float input: a term built from (x, the cotangent or tangent). */
type TermOf = (x: Variable, g: Variable) => Variable | Disconnected;

/** Numbers the claim's op instances (see their props). */
let instances = 0;

/** k = round(x) as int64, elementwise: a user's op whose only output is discrete. */
export class OpaqueRound extends Op {
  override readonly name = "OpaqueRound";
  // Each instance carries its own rule, so it must never equal another (merge, signatures).
  override readonly props = { rule: ++instances };
  constructor(private readonly termOf: TermOf) {
    super();
  }
  makeNode(x: Variable): Apply {
    return new Apply(this, [x], [new TensorType("int64", x.type.shape)]);
  }
  override perform(_n: Apply, [x]: readonly NDArray[]): NDArray[] {
    return [NDArray.fromFlat(Array.from(x.toFlat(), (v) => Math.round(v)), x.shape, "int64")];
  }
  override pullback([x]: readonly Variable[], _o: readonly Variable[], [g]: readonly Variable[]): GradTerm[] {
    return [this.termOf(x, g)];
  }
  override pushforward(): (Variable | Disconnected)[] {
    // The forward sweep follows float values only, so a node whose only output is discrete is
    // never asked (OpaqueSplit is the claim's op for the forward side).
    return [DISCONNECTED];
  }
}

/**
 * (k, f) = (round(x) as int64, x − round(x)), elementwise: a user's op with a discrete and a
 * float output, so the forward sweep asks its rule, whose tangent for k the claim chooses.
 */
export class OpaqueSplit extends Op {
  override readonly name = "OpaqueSplit";
  // Each instance carries its own rule, so it must never equal another (merge, signatures).
  override readonly props = { rule: ++instances };
  constructor(private readonly termOf: TermOf) {
    super();
  }
  makeNode(x: Variable): Apply {
    return new Apply(this, [x], [new TensorType("int64", x.type.shape), x.type]);
  }
  override perform(_n: Apply, [x]: readonly NDArray[]): NDArray[] {
    const xs = x.toFlat();
    return [NDArray.fromFlat(Array.from(xs, (v) => Math.round(v)), x.shape, "int64"), NDArray.fromFlat(Array.from(xs, (v) => v - Math.round(v)), x.shape, x.dtype)];
  }
  override pullback(_i: readonly Variable[], _o: readonly Variable[], [, gf]: readonly Variable[]): GradTerm[] {
    // d f / d x = 1 away from the jumps; k carries nothing.
    return [gf];
  }
  override pushforward([x]: readonly Variable[], _o: readonly Variable[], [t]: readonly (Variable | Disconnected)[]): (Variable | Disconnected)[] {
    return isDisconnected(t) ? [t, t] : [this.termOf(x, t as Variable), t];
  }
}

/** w · k elementwise (k discrete): gives k the float term g · w, as a contraction gives its integer operand one. */
export class OpaqueWeigh extends Op {
  override readonly name = "OpaqueWeigh";
  override readonly props = {};
  makeNode(k: Variable, w: Variable): Apply {
    return new Apply(this, [k, w], [w.type]);
  }
  override perform(_n: Apply, [k, w]: readonly NDArray[]): NDArray[] {
    const kf = k.toFlat();
    return [NDArray.fromFlat(Array.from(w.toFlat(), (v, i) => v * kf[i]), w.shape, w.dtype)];
  }
  override pullback([k, w]: readonly Variable[], _o: readonly Variable[], [g]: readonly Variable[]): GradTerm[] {
    return [pmul(g, w), pmul(g, pcast(k, w.type.dtype))];
  }
  override pushforward([k, w]: readonly Variable[], _o: readonly Variable[], [tk, tw]: readonly (Variable | Disconnected)[]): (Variable | Disconnected)[] {
    const parts: Variable[] = [];
    if (!isDisconnected(tk)) parts.push(pmul(tk as Variable, w));
    if (!isDisconnected(tw)) parts.push(pmul(tw as Variable, pcast(k, w.type.dtype)));
    return [parts.length === 0 ? tw : parts.reduce((a, b) => padd(a, b))];
  }
}

/** What the claim needs: the case, a seeded draw, the tolerance, and the engine's two entry points. */
export interface DiscretePathInput {
  readonly built: BuiltCase;
  readonly rand: () => number;
  readonly rtol: number;
  readonly slack: number;
  readonly gradWith: (cost: Variable, wrt: readonly Variable[], options: GradOptions) => unknown[];
  readonly pushforward: (outputs: Variable, wrt: readonly Variable[], tangents: readonly Variable[], options: PushforwardOptions) => unknown;
}

const other = (d: DType): DType => (d === "float32" ? "float64" : "float32");

/** A term of x's type in a seeded disguise: zero, or (one element 1, or ones) not zero. */
interface Disguise {
  readonly describe: string;
  readonly build: (x: Variable) => Variable;
}

/**
 * Draw a disguise: a leaf (a zero constant, a fill with zero, an Alloc of zero; for `zero` false
 * the same with one element 1, or a fill or Alloc of 1) wrapped in 1 to 3 zero-keeping ops.
 * Only constants and the leaf take part, never x's value, so whether it is zero is known here.
 */
function drawDisguise(rand: () => number, zero: boolean): Disguise {
  const pickOf = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const leafKind = pickOf(["constant", "fill", "alloc"] as const);
  const hot = rand();
  const leaf = (x: Variable): Variable => {
    const t = x.type;
    const shape = t.shape as number[];
    const dtype = t.dtype;
    const v = zero ? 0 : 1;
    if (leafKind === "fill") return psecond(x, constant(v, dtype));
    if (leafKind === "alloc") return alloc(constant(v, dtype), shape);
    const a = NDArray.zeros(shape, dtype);
    if (!zero && a.size > 0) {
      const flat = a.toFlat().slice();
      flat[Math.floor(hot * flat.length)] = 1;
      return constant(NDArray.fromFlat(flat, shape, dtype));
    }
    return constant(a);
  };
  const WRAPS = ["neg", "identity", "add", "sub", "mul-left", "mul-right", "second", "cast", "reshape", "dimshuffle", "specify-shape", "broadcast-to", "named"] as const;
  // A zero goes through every zero-keeping form the algebra documents, in a seeded order (one
  // chain, one gradient: a form the test forgot fails the claim wherever it is drawn); a nonzero
  // term through 1 to 3 of them, or, a third of the time, a zero through exp, which no zero
  // test may see through (exp(0) = 1). The two products come first, next to the leaf: the
  // algebra proves a factor with a small budget of its own ("cheaply"), so a deep chain under a
  // product is documented to go unproven, and the claim asks only what is promised.
  const shuffled = (xs: readonly (typeof WRAPS)[number][]): (typeof WRAPS)[number][] => xs.map((w) => ({ w, k: rand() })).sort((p, q) => p.k - q.k).map((p) => p.w);
  const isMul = (w: string): boolean => w === "mul-left" || w === "mul-right";
  const wraps: (typeof WRAPS)[number][] = zero
    ? [...shuffled(WRAPS.filter(isMul)), ...shuffled(WRAPS.filter((w) => !isMul(w)))]
    : Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pickOf(WRAPS));
  const throughExp = !zero && rand() < 1 / 3;
  // Or a quarter of the rest: the leaf written into zeros by an update, inc(zeros, leaf), the
  // leaf itself: an op whose first input is zero but which keeps no zero from it, which the zero
  // test must not see through either (only the documented views and broadcasts pass a zero on).
  const throughUpdate = !zero && !throughExp && rand() < 1 / 4;
  const wrap = (w: (typeof WRAPS)[number], z: Variable, x: Variable): Variable => {
    const dtype = x.type.dtype;
    const shape = x.type.shape as number[];
    const zeros = (): Variable => constant(NDArray.zeros(shape, dtype));
    switch (w) {
      case "neg": return pneg(z);
      case "add": return padd(z, zeros());
      case "sub": return psub(zeros(), z);
      case "mul-left": return pmul(z, constant(1.5, dtype));
      case "mul-right": return pmul(constant(1.5, dtype), z);
      case "second": return psecond(constant(NDArray.fromFlat(Array(shape.reduce((p, n) => p * n, 1)).fill(2), shape, dtype)), z);
      case "cast": return pcast(pcast(z, other(dtype)), dtype);
      case "reshape": return shape.length === 0 ? z : reshape(z, shape);
      case "dimshuffle": {
        const keep = shape.map((_, i) => i);
        return dimshuffle(dimshuffle(z, ["x", ...keep]), keep.map((i) => i + 1));
      }
      case "specify-shape": return specifyShape(z, shape);
      case "identity": return pidentity(z);
      case "broadcast-to": return broadcastTo(z, shape);
      case "named": {
        // A round trip through the named ops that keep zeros zero: as_xtensor, rename, two
        // transposes (reversed twice), values.
        const dims = shape.map((_, i) => `dz${i}`);
        const named = X.rename(X.asXTensor(z, dims), Object.fromEntries(dims.map((d) => [d, `${d}r`])));
        const rev = [...named.type.dims].reverse();
        return X.values(X.transpose(X.transpose(named, rev), [...rev].reverse()));
      }
    }
  };
  const plainLeaf = leafKind === "constant" ? (zero ? "a zero constant" : "a constant with one element 1") : leafKind === "fill" ? `second(x, ${zero ? 0 : 1})` : `alloc(${zero ? 0 : 1}, shape)`;
  const leafText = throughExp ? "exp(a zero constant)" : throughUpdate ? `inc(zeros, ${plainLeaf})` : plainLeaf;
  const base = (x: Variable): Variable => {
    const zeros = (): Variable => constant(NDArray.zeros(x.type.shape as number[], x.type.dtype));
    if (throughExp) return pexp(zeros());
    return throughUpdate ? incSubtensor(zeros(), leaf(x), []) : leaf(x);
  };
  return {
    describe: `${[...wraps].reverse().join("(")}(${leafText}${")".repeat(wraps.length)}`,
    build: (x) => wraps.reduce((z, w) => wrap(w, z, x), base(x)),
  };
}

/**
 * A built-in op on an int64 value of `shape`, whose output is an integer too: its sum (a Reduce),
 * its running sum along the first axis (a CumOp), or an advanced inc of ones at index [0, 0] on
 * the first axis (an AdvancedIncSubtensor, repeated indices). The last two need an axis.
 */
function drawIntegerOp(rand: () => number, shape: readonly number[]): { describe: string; build: (k: Variable) => Variable } {
  const kinds = shape.length > 0 && shape[0] > 0 ? (["sum", "cumsum", "advanced-inc"] as const) : (["sum"] as const);
  const kind = kinds[Math.floor(rand() * kinds.length)];
  switch (kind) {
    case "sum":
      return { describe: "sum (an integer Reduce)", build: (k) => psum(k) };
    case "cumsum":
      return { describe: "cumsum along axis 0 (an integer CumOp)", build: (k) => cumsum(k, 0) };
    case "advanced-inc": {
      const y = NDArray.fromFlat(Array(2 * shape.slice(1).reduce((p, n) => p * n, 1)).fill(1), [2, ...shape.slice(1)], "int64");
      return { describe: "inc of ones at index [0, 0] (an integer AdvancedIncSubtensor)", build: (k) => advancedIncSubtensor(k, constant(y), [constant(NDArray.fromFlat([0, 0], [2], "int64"))]) };
    }
  }
}

/** Judge the driver and the forward sweep on one case. */
export function discretePathClaim(c: DiscretePathInput): ModuleOutcome {
  const b = c.built;
  if (b.wrt.length === 0) return { status: "skip", reason: "no float input to differentiate" };
  // A float value of known shape that some wrt reaches along float values (true connections)
  // and that same wrt reaches the cost that way too. Integer values carry no cotangent, so
  // otherwise the driver rightly never asks OpaqueRound's rule, and never sees a nonzero term.
  const reach = (y: Variable): boolean[] | null => {
    try {
      return grad(y, b.wrt, { disconnectedInputs: "ignore", returnDisconnected: "disconnected" }).map((g) => !isDisconnected(g));
    } catch (e) {
      if (e instanceof GradError) return null;
      throw e;
    }
  };
  const base0 = X.isXTensorVariable(b.cost) ? X.values(b.cost) : b.cost;
  const toCost = reach(base0);
  if (toCost === null || !toCost.some(Boolean)) return { status: "skip", reason: "the cost depends on no wrt along float values, so no rule on another path is ever asked" };
  const known = [...b.nodes.values(), ...b.wrt].filter((v) => isFloat(v.type.dtype) && v.type.shape.every((n) => n !== null));
  const order = known.map((v) => ({ v, k: c.rand() })).sort((p, q) => p.k - q.k).map((p) => p.v);
  // Which wrt reach the picked value, kept for the computed index below.
  let reachPicked: boolean[] = [];
  const picked = order.slice(0, 4).find((v) => {
    const r = reach(psum(X.isXTensorVariable(v) ? X.values(v) : v));
    if (r === null || !r.some((x, i) => x && toCost[i])) return false;
    reachPicked = r;
    return true;
  });
  if (picked === undefined) return { status: "skip", reason: "no float value of known shape that a wrt reaches along float values, with the cost (of four drawn)" };
  const v = X.isXTensorVariable(picked) ? X.values(picked) : picked;
  const base = X.isXTensorVariable(b.cost) ? X.values(b.cost) : b.cost;
  const w = makeVariable(v.type, null, 0, "w_discrete");
  const wVal = NDArray.fromFlat(Array.from({ length: (v.type.shape as number[]).reduce((p, n) => p * n, 1) }, () => 0.5 + c.rand()), v.type.shape as number[], v.type.dtype);
  const us = b.wrt.map((x, i) => makeVariable(x.type, null, 0, `u_${b.wrtNames[i]}`));
  const uVals = b.wrt.map((_, i) => {
    const like = b.values.get(b.wrtNames[i]) as NDArray;
    return NDArray.fromFlat(Array.from({ length: like.size }, () => 2 * c.rand() - 1), like.shape, like.dtype);
  });
  // The pullback side reads OpaqueRound's k, the forward side OpaqueSplit's (its f unused).
  const weigh = (k: Variable): Variable => padd(base, psum(new OpaqueWeigh().makeNode(k, w).outputs[0]));
  // The last ops built, for the names a refusal must give (`OpaqueRound{rule=3}`).
  let round: Op | null = null;
  let split: Op | null = null;
  const gcostWith = (termOf: TermOf): Variable => weigh((round = new OpaqueRound(termOf)).makeNode(v).outputs[0]);
  const fcostWith = (termOf: TermOf): Variable => weigh((split = new OpaqueSplit(termOf)).makeNode(v).outputs[0]);
  const gOpts: GradOptions = { disconnectedInputs: "ignore", returnDisconnected: "zero" };
  const fOpts: PushforwardOptions = { useOpPushforward: "require", disconnectedOutputs: "ignore", returnDisconnected: "zero" };
  const at = `v = ${picked.name ?? picked.toString()} (${v.type.toString()})`;
  const said = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message.split("\n")[0]}` : String(e));
  const fail = (reason: string, comparison?: ArrayComparison): ModuleOutcome => ({ status: "fail", reason: `${reason} (${at})`, ...(comparison === undefined ? {} : { comparison }) });

  // A lazy gradient checks its rules when the compiler expands its Pullback node, so a refusal
  // may come from grad or from the compile: both are the driver, naming the rule.
  // (The vector an integer index reads, below: an input of any compile here, used or not.)
  const table = makeVariable(new TensorType(v.type.dtype, [2]), null, 0, "w_table");
  const built = (r: unknown): void => {
    const outs = (Array.isArray(r) ? r : [r]).filter((g): g is Variable => g instanceof Variable);
    compile([...b.inputs.values(), w, ...us, table], outs, { mode: "NONE" });
  };

  // The references: the cost alone, through the same entry points.
  let ref: unknown[];
  let refJ: unknown;
  try {
    ref = c.gradWith(base, b.wrt, gOpts);
    refJ = c.pushforward(base, b.wrt, us, fOpts);
  } catch (e) {
    if (e instanceof GradError) return { status: "skip", reason: `the cost alone has no gradient or pushforward: ${e.message.split("\n")[0]}` };
    throw e;
  }

  // A zero in disguise: accepted, the cost alone's gradients and J u.
  const zero = drawDisguise(c.rand, true);
  let got: unknown[];
  let gotJ: unknown;
  try {
    got = c.gradWith(gcostWith((x) => zero.build(x)), b.wrt, gOpts);
  } catch (e) {
    return fail(`OpaqueRound.pullback returned ${zero.describe} for its float input, a provable zero, but grad(cost', wrt) raised ${said(e)}`);
  }
  try {
    gotJ = c.pushforward(fcostWith((x) => zero.build(x)), b.wrt, us, fOpts);
  } catch (e) {
    return fail(`OpaqueSplit.pushforward returned ${zero.describe} for its discrete output, a provable zero, but pushforward(cost', wrt, u, {useOpPushforward: "require"}) raised ${said(e)}`);
  }
  const all = [...ref, ...got, refJ, gotJ];
  if (!all.every((g) => g instanceof Variable)) return fail(`a gradient or J u is not a variable: ${all.map(String).join(", ")}`);
  const f = compile([...b.inputs.values(), w, ...us], all as Variable[], { mode: "NONE" });
  const res = f(...b.values.values(), wVal, ...uVals);
  const m = b.wrt.length;
  const rec = (off: number): Record<string, ArrayValue> => Object.fromEntries(b.wrtNames.map((name, k) => [name, toArrayValue(b.wrt[k], res[off + k])]));
  const cg = compareRecords(rec(m), rec(0), "gradient of cost' against the cost alone's", c.rtol, c.slack);
  if (!cg.ok) return fail(`with OpaqueRound.pullback returning ${zero.describe}, grad(cost', wrt) differs from grad(cost, wrt): ${cg.reason ?? "mismatch"}`, cg);
  const cj = compareArrays(toArrayValue(gotJ as Variable, res[2 * m + 1]), toArrayValue(refJ as Variable, res[2 * m]), "J u of cost' against the cost alone's", c.rtol, c.slack);
  if (!cj.ok) return fail(`with OpaqueSplit.pushforward returning ${zero.describe}, J u of cost' differs from J u of cost: ${cj.reason ?? "mismatch"}`, cj);

  // The integer k itself as a wrt: "a discrete variable's gradient, when connected at all, is
  // float" (grad's documentation). OpaqueWeigh gives k the term g · w, so d cost'/dk = w, a float
  // array; casting it to k's dtype would truncate it.
  const kVar = new OpaqueRound((x) => zero.build(x)).makeNode(v).outputs[0];
  let gk: unknown;
  try {
    gk = c.gradWith(weigh(kVar), [kVar], gOpts)[0];
  } catch (e) {
    return fail(`grad(cost', k) for the integer k = OpaqueRound(v), which OpaqueWeigh gives a float term, raised ${said(e)}`);
  }
  if (!(gk instanceof Variable) || !isFloat(gk.type.dtype)) return fail(`grad(cost', k) for the integer k = OpaqueRound(v) gave ${gk instanceof Variable ? `a gradient of dtype ${gk.type.dtype}` : String(gk)}, not a float gradient (OpaqueWeigh gives k the float term g · w)`);
  const [gkVal] = compile([...b.inputs.values(), w], [gk], { mode: "NONE" })(...b.values.values(), wVal);
  const ck = compareArrays(toArrayValue(gk, gkVal), toArrayValue(w, wVal), "d cost'/dk against w", c.rtol, c.slack);
  if (!ck.ok) return fail(`grad(cost', k) for the integer k = OpaqueRound(v) is not w, OpaqueWeigh's float term: ${ck.reason ?? "mismatch"}`, ck);

  // Through a built-in op on integers: k from OpaqueRound with a straight-through rule, read by a
  // sum, a running sum or an advanced inc of integers before it is weighed. OpaqueWeigh's float
  // term reaches that op's integer output, so the driver asks its built-in rule about its
  // integer input (the mutation suite's cases never made it: an integer there is read by ops
  // that give it no term). The rule must answer in its contract's form
  // (one term per input, no crash on an integer dtype), and the path ends there: an integer
  // input reaching the cost only through integer outputs carries no gradient, so OpaqueRound's
  // rule is never asked, and the gradients are the cost alone's.
  const intOp = drawIntegerOp(c.rand, v.type.shape as number[]);
  const k2 = intOp.build(new OpaqueRound((_x, g) => g).makeNode(v).outputs[0]);
  const w2 = makeVariable(new TensorType(v.type.dtype, k2.type.shape), null, 0, "w_through");
  const w2Val = NDArray.fromFlat(Array.from({ length: (k2.type.shape as number[]).reduce((p, n) => p * n, 1) }, () => 0.5 + c.rand()), k2.type.shape as number[], v.type.dtype);
  const throughWhat = `grad(cost', wrt) with k = OpaqueRound(v) (its rule straight-through) read by ${intOp.describe} before OpaqueWeigh`;
  let through: Variable[];
  let throughVals: NDArray[];
  try {
    const gs = c.gradWith(padd(base, psum(new OpaqueWeigh().makeNode(k2, w2).outputs[0])), b.wrt, gOpts);
    if (!gs.every((g) => g instanceof Variable)) return fail(`${throughWhat} gave ${gs.map(String).join(", ")}, not variables`);
    through = gs as Variable[];
    // A lazy gradient asks its rules when the compiler expands it: a refusal may come from here.
    throughVals = compile([...b.inputs.values(), w, w2], [...(ref as Variable[]), ...through], { mode: "NONE" })(...b.values.values(), wVal, w2Val);
  } catch (e) {
    return fail(`${throughWhat} raised ${said(e)}; the path should have ended at the built-in op (an integer input has no gradient)`);
  }
  const trec = (off: number): Record<string, ArrayValue> => Object.fromEntries(b.wrtNames.map((name, k) => [name, toArrayValue(b.wrt[k], throughVals[off + k])]));
  const ct = compareRecords(trec(m), trec(0), "gradient of cost' against the cost alone's", c.rtol, c.slack);
  if (!ct.ok) return fail(`${throughWhat} differs from grad(cost, wrt): ${ct.reason ?? "mismatch"}`, ct);

  // An integer index computed from v: OpaqueSplit's k indexes a fresh vector (an AdvancedSubtensor,
  // whose index input has no gradient) while its f reaches the cost as a float. The split's rule
  // answers with f's cotangent for x, but x also feeds an output whose cotangent is undefined,
  // so every wrt that reaches v has an undefined gradient, and grad must say so, naming the index
  // (PyTensor's NullType gradient): a float term there would silently drop the index's path.
  const sp = new OpaqueSplit((_x, t) => t).makeNode(v);
  const gather = advancedSubtensor(table, [sp.outputs[0]]);
  const indexed = padd(padd(base, psum(sp.outputs[1])), psum(gather));
  const reachesV = reachPicked.findIndex(Boolean);
  // Both strategies: lazy finds the index from the graph's structure before any rule runs, the
  // per-node sweep from the cotangents (the index's undefined one meets f's float one at the split).
  for (const strategy of reachesV >= 0 ? (["lazy", "perNode"] as const) : []) {
    const what = `grad(cost', wrt, {gradStrategy: "${strategy}"}) with k = OpaqueSplit(v)'s integer output indexing a vector and its float output f summed into the cost`;
    let err: unknown = null;
    try {
      built(c.gradWith(indexed, b.wrt, { ...gOpts, gradStrategy: strategy }));
    } catch (e) {
      err = e;
    }
    if (err === null) return fail(`${what} was accepted: ${b.wrtNames[reachesV]} reaches the integer index, whose gradient is undefined, so its gradient must be undefined too`);
    // Word for word up to the op's own reason: the wrt (the first whose gradient is undefined:
    // one that reaches v at all, also through an integer), the gather, and the integer it reads.
    const k = sp.outputs[0];
    const named = err instanceof GradError ? /^grad: the gradient with respect to \S+ \(wrt\[(\d+)\]\)/.exec(err.message) : null;
    const xi = named !== null && Number(named[1]) < b.wrt.length ? Number(named[1]) : reachesV;
    const x = b.wrt[xi];
    const gop = (gather.owner as Apply).op.toString();
    // Found in the graph's structure (lazy, before any rule runs) or from the cotangents (per node,
    // and lazy where it sweeps per node).
    const head = `grad: the gradient with respect to ${x.toString()} (wrt[${xi}]) is undefined: `;
    const says = [`${head}${gop} reads ${k.toString()}, computed from ${x.toString()}, as an integer index (input 1)`, `${head}${gop} has no gradient for input 1 (${k.toString()}): `];
    if (!(err instanceof GradError) || !says.some((t) => err.message.startsWith(t))) {
      return fail(`${what} failed with ${said(err)}, not a GradError saying "${says[0]}" or "${says[1]}…"`);
    }
  }

  // Not zero: refused, naming the rule.
  const nonzero = c.rand() < 0.75 ? drawDisguise(c.rand, false) : { describe: "the incoming cotangent itself (straight-through)", build: null };
  const termOf: TermOf = nonzero.build === null ? (_x, g) => g : (x) => (nonzero.build as (x: Variable) => Variable)(x);
  const refused = (call: () => unknown, names: readonly string[], what: string): ModuleOutcome | null => {
    let err: unknown = null;
    try {
      call();
    } catch (e) {
      err = e;
    }
    if (err === null) return fail(`${what} returned ${nonzero.describe}, not a provable zero, yet it was accepted: a float reaching the cost only through an integer must carry no gradient`);
    if (!(err instanceof GradError)) return fail(`${what} returned ${nonzero.describe}: the failure was ${said(err)}, not a GradError`);
    const missing = names.find((s) => !err.message.includes(s));
    return missing === undefined ? null : fail(`${what} returned ${nonzero.describe}: the GradError does not name ${JSON.stringify(missing)}: ${err.message.split("\n")[0]}`);
  };
  const gnon = gcostWith(termOf);
  const rp = refused(() => built(c.gradWith(gnon, b.wrt, gOpts)), [`${String(round)}.pullback`, "input 0", "only through integer outputs"], "OpaqueRound.pullback");
  if (rp !== null) return rp;
  // A tangent must reach OpaqueSplit for the sweep to ask its rule: v is reached from a wrt.
  const fnon = fcostWith(termOf);
  const fnames = [`${String(split)}.pushforward`, "output 0", "is discrete"];
  if (nonzero.build !== null) {
    const rf = refused(() => built(c.pushforward(fnon, b.wrt, us, fOpts)), fnames, "OpaqueSplit.pushforward");
    if (rf !== null) return rf;
  } else {
    // Straight-through forward hands k v's own tangent, which is zero, and may be provably so,
    // where v depends on no wrt to first order (v = (x * 0) * w, seed 2222 case 3005): the sweep
    // may then accept it. So a refusal naming the rule passes, and so does an acceptance whose
    // J u is the cost alone's (the term carried nothing); an acceptance that changes J u took a
    // nonzero tangent through an integer.
    let accepted: unknown = null;
    try {
      accepted = c.pushforward(fnon, b.wrt, us, fOpts);
      built(accepted);
    } catch (e) {
      accepted = null;
      const rf = refused(() => {
        throw e;
      }, fnames, "OpaqueSplit.pushforward");
      if (rf !== null) return rf;
    }
    if (accepted !== null) {
      if (!(accepted instanceof Variable)) return fail(`OpaqueSplit.pushforward returned ${nonzero.describe} and the sweep gave ${String(accepted)}, not a variable`);
      const [jv, rv] = compile([...b.inputs.values(), w, ...us], [accepted, refJ as Variable], { mode: "NONE" })(...b.values.values(), wVal, ...uVals);
      const cs = compareArrays(toArrayValue(accepted, jv), toArrayValue(refJ as Variable, rv), "J u of cost' against the cost alone's", c.rtol, c.slack);
      if (!cs.ok) return fail(`OpaqueSplit.pushforward returned ${nonzero.describe}, not a provable zero, yet it was accepted and changed J u: a float reaching the cost only through an integer must carry no gradient: ${cs.reason ?? "mismatch"}`, cs);
    }
  }
  return {
    status: "pass",
    detail: `discrete-path on ${at}: ${zero.describe} accepted with the cost alone's gradients and J u, and the integer k's own gradient w, a float; ${intOp.describe} of k ended the path;${reachesV >= 0 ? " an index computed from v made the gradient undefined under both strategies;" : ""} ${nonzero.describe} refused by grad and the sweep`,
    maxAbsErr: Math.max(cg.maxAbsErr, cj.maxAbsErr, ct.maxAbsErr),
    maxRelErr: Math.max(cg.maxRelErr, cj.maxRelErr, ct.maxRelErr),
  };
}
