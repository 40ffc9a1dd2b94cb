/**
 * `positional-forms`: the positional engine on graphs the named lowerings never write.
 *
 * Every case reaches the positional ops through `lower_xtensor`, and the lowerings write a narrow
 * dialect: operands dimshuffled to full rank, 0-d constants, one dtype per join, no Shape node,
 * no SpecifyShape the user wrote, no identity. The rewrites and pullbacks exist for the whole
 * positional language, and their branches for the rest were never run (the mutation reports'
 * "gaps the case format cannot express": a neutral array constant, a lower-rank operand, a Shape
 * read, a float32 part of a float64 join). So this property lowers the case's graph (in checked mode) and rebuilds
 * it with one to three drawn *forms* spliced in at drawn nodes, each a rewrite a user or an
 * earlier pass could have written:
 *
 * | form | v (a float node's output) becomes | what it reaches |
 * |---|---|---|
 * | `scale-split` | `(v * A) * B`, A a constant of v's trailing lengths with entries 1, 2 and 0.5, some but not all 1; B = 1 / A (v exactly), or, half the time in float64, entries 2 and 0.5 only (v scaled: a B with no 1 is what tells a rule that drops a partly-1 A, since 1 / A has its 1s where A has) | neutral-element and absorbing rules on a non-uniform array constant; lower-rank operands (conformTo, fusion of a broadcast producer) |
 * | `neutral` | `v + Z`, `Z + v`, `v - Z`, `v * O`, `O * v` or `v / O`, Z zeros (-0 in a sum) and O ones, 0-d or of v's trailing lengths | the neutral-element rules on both sides and on array constants; checked mode's normal form |
 * | `shape-read` | `reshape(v, lengths)` or `alloc(v, lengths)` (read through `neg(neg(·))` half the time), `alloc(v, [2, ...lengths])[k]` (v's first axis left out, or sliced whole as `::1`, `0:` or `0:n`), or a reshape to the axes 0 and 1 swapped and back (in float64, half the time, read between: scaled position by position when the lengths are static, else summed down the swapped first axis), the lengths read through `Shape(v)[i]` or `ShapeI(v, i)` | `local_shape_constant`, `local_shape_i_constant`, the useless-reshape and useless-alloc rules (a Reshape to its input's own lengths in another order is not useless), `local_subtensor_of_alloc` on a value of lower rank, and their declines for unknown lengths |
 * | `specify-shape` | `specifyShape(v, v's static lengths)` | SpecifyShape's pullback and pushforward, and its removal |
 * | `identity` | `identity(v)` or `cast(v, v's dtype)` | `useless_cast_identity` and checked mode's normal form |
 * | `float32-part` | one float64 operand u of a Join or of an add, sub or mul that has another float64 operand, or the y of an update op (inc or set, basic or advanced) into a float64 x, becomes `cast(u, float32)` (the node's output stays float64) | the pullbacks' cast of a float64 cotangent back to a float32 part (Join's slices, sumToShapeOf); mixed-dtype joins |
 * | `zero-update` | `inc(Z, v, idx) + Z·Z`, `set(Z, v, idx) + Z·Z` (v rounded to float32 a third of the time when it is float64) or `(inc(Z, v, idx) + set(Z, v, idx)) · 0.5 + Z·Z`, or `inc(O, v, idx) + O·O` (v + 2, over ones), Z = `alloc(0, v's lengths)` (read through Shape when one is unknown), idx every axis's full slice, a prefix of them, or none | the update ops' pullbacks and in-place kernels on a zero-filled Alloc that another node reads beside the update (fusion puts `Z·Z` and the add in one loop): the inplace pass must write into a fresh copy of Z, the last merge must leave the copy apart (validation refuses it), two copies both overwritten must stay apart (PR #2355), and checked mode's merge promise must excuse exactly those pairs; over ones no copy may be made, and checked mode must not ask for one |
 * | `power` (about a third of the cases, its own race; a float64 v) | `pow(v, 2)`, `pow(exp(v), 0.5)`, `pow(square(exp(v)), 0.5)`, `pow(v, 3)`, or `cast(pow(cast(v, int32), 2), float64)`, each exponent a 0-d constant of the base's dtype | `local_pow_2_to_square` and `local_pow_half_to_sqrt` (no case writes pow with a constant exponent), their declines (another exponent, an int32 square, a base that may be -0 or -inf), and checked mode's normal forms for them |
 * | `stretch` (about a quarter of the cases, its own race; a v with an axis of static length 1) | that axis read as unknown (`reshape(v, ...ShapeI(v, a)...)`), stretched to 2 by an Alloc and averaged back: `sum(alloc(w, [..., 2, ...]), a, keepdims) / 2`, v exactly | Alloc's pullback summing a cotangent down to a target of unknown length that is 1 at run time (`sumToShapeOf`'s split and sum): the named lowerings' Allocs stretch only static 1s, and no elementwise op broadcasts an unknown 1 |
 * | `fill` (about half the cases, its own race) | a case node's positional value v becomes `second(u, v)`, u a fresh input of v's run-time shape declared with unknown lengths; or, half the time, the mean of `second(u, v)` over u's extra leading axis (`sum(·, 0) / shape_i(u, 0)`), u declared `(?, ...v's type)` and fed 2 copies' worth (v exactly) | `local_second_to_alloc` and every rule that drops an operand: a's unknown length checked against b's, which the rule must keep (judgement 3); a b of lower rank than the output beside an operand of unknown length (`standsFor`, `conformTo`'s Alloc reading u's run-time length, checked mode's `stretchesTo`), where a wrong Alloc length changes the mean |
 * | `alloc-view` (about a third of the cases, its own race) | a view of an Alloc of v put back together into v: `join(v[:1], alloc(v, [2, …])[k, 1:])`, the same with `:-1` and `v[-1:]`, `alloc(v, [2, …])[k, ::-1][::-1]`, v's first row picked by an int (`alloc(v, [2, …])[k, 0]`, given its axis back by an Alloc and joined to `v[1:]`), or a new axis of run-time length `shape_i(v, 0) + 1` (or of length 2), sliced `[-1:]` and summed, or indexed `[0]` | `local_subtensor_of_alloc`'s declines (a slice that narrows or reverses an axis v spans, an int on it, a slice of unknown length) and its rewrite of a value of lower rank; checked mode's promise for it, which must decline with it, also where the Alloc's recorded length is staler than its inputs |
 * | `constant-block` (its own race) | `v * (sum(alloc(c, lengths)) - d)`, a factor of exactly 1: a 3 × 4 block of 0.25, a 64 × 64 block of 2⁻¹² (4,096 elements, the limit), or a 64 × 65 one (4,160) | constant folding of a result larger than every input, and its decline over the size limit, which checked mode's normal form must share (the cases' constant-only nodes are DimShuffles of scalars) |
 * | `broadcast-producer` (its own race) | `v * (tanh(sum(v, 0)) · 0 + 1)`, with or without keepdims: v exactly | an elementwise chain of another shape than its reader, which fusion keeps apart and checked mode's fusion promise must excuse (the lowerings dimshuffle every operand to full rank first) |
 * | `reshape-lengths` (its own race; a v whose first two lengths are unknown) | `reshape(v, [shape_i(v, 0), …])`, or v reshaped to its own lengths swapped or to those of v transposed (another variable's), summed down the first axis and put back | `useless_reshape` on lengths known only at run time: it must fire on v's own lengths in order (and checked mode promise it), and tell them from the same lengths in another order or read off another variable |
 * | `stale-twin` (its own race) | `(neg(reshape(v, v's lengths)) + neg(v)) · -0.5`: v exactly | once the Reshape is dropped, two equal nodes whose recorded types differ (one still records the unknown lengths it was built with): the merge must keep the refined one, and checked mode's merge promise must compare them |
 * | `signed-zero` (its own race) | `v + exp(-1 / pow(cast(v < v) · -1, 0.5))`: pow of a computed -0, off the gradient's path, which is +0, so v exactly | `local_pow_half_to_sqrt`'s decline for a base that may be -0 (`sqrt(-0)` is -0, and the term would be `exp(+inf)`), and checked mode's promise, which must decline with it |
 * | `shared-fill` (its own race) | `v + (sum(inc(F, [0.5, 0.25], :)) + sum(F·F)) · 0`, F = alloc([0, 1], [n + 2]); `v + sum(inc(E, [], [])) + sum(E·E)`, E = alloc([], [n]); or `v + sum(Z·v) + sum(Z·Z)`, Z = alloc(0, v's lengths + n); n = `sum(cast(v < v))`, a length computed as 0: v exactly | an Alloc of a constant fill that two nodes read, with an update op on it whose fill is partly zero or empty, or an elementwise op reading a zero fill first: the inplace pass leaves each out of place with no fresh copy (it copies only an update op's all-zero, non-empty fill), and checked mode's inplace promise must not ask for one |
 *
 * Every rebuilt graph also has **boundary outputs** ({@link boundaryOutputs}): a fresh input b
 * handed back through a copy (`identity(b)`, `cast(b, float64)`, `b * 1`, `b + -0`), `Shape(b)`
 * and `ShapeI(b, 0)` of static lengths, folds of constants (`neg([0.5, -2])`, `neg(exp(0.5))`), and `b[2:] * []`,
 * each a graph output read by nothing else. The rules decline every one (no caller's array and
 * no constant's buffer comes back as an output; an empty constant is no neutral operand), and
 * checked mode's normal forms must decline with them: before, no generated graph had such a
 * node, so a form that forgot the exemption passed every property. They are not in the graph
 * without forms.
 *
 * The forms are drawn from the lowered graph's own structure, each target by a race keyed by
 * its ancestry ({@link structuralKeys}), so a finding reproduces from the case alone, and
 * shrinks like any other: deleting an unrelated node keeps every form on the rest (deleting one
 * under a form redraws it; the reducer then tries renamed inputs, `REROLLS` in shrink.ts). Half the
 * cases (seeded by the case) are built with shape-erasure's unknown
 * lengths, so the Shape reads and the lower-rank operands also meet lengths known only at run
 * time.
 *
 * Judged three times:
 * 1. The rebuilt graph's every node value and direct gradient, compiled in checked FAST_RUN,
 *    against the same graph compiled in checked NONE (the rewrites on forms they never saw; NONE's
 *    required passes must run, in order). The boundary outputs against their known values, and
 *    none of them may share b's buffer.
 * 2. When every form keeps the values (all but `float32-part`, whose cast rounds, and the scaled
 *    variants), the NONE results against the static case's NONE results: the forms' own
 *    pullbacks (SpecifyShape, Reshape, Alloc over ShapeI lengths) and the meaning of the rebuild.
 *    The scale-split factors are powers of two, so `(v * A) * (1 / A)` is v exactly (barring
 *    overflow and subnormals, which the comparison's slack covers).
 * 3. With an input NONE may refuse: one axis of unknown length made one longer (the fill form's
 *    u, whose only reader is `second(u, v)`; else, over shape-erasure's lengths, a seeded case
 *    input). A rewrite may neither turn NONE's length error into values (a dropped run-time
 *    check: the rules promise to keep every one, docs/semantics.md) nor refuse what NONE
 *    computes; where both compute, the values must agree. No new compile: the two functions
 *    compiled for judgement 1 run once more.
 * 4. The pushforward duality on the rebuilt graph (`properties/duality.ts`, as pushforward-duality
 *    judges the case's): Σ ⟨w, J u⟩ over every rebuilt float node a wrt reaches, from the ops'
 *    forward rules and from the double pullback, against ⟨Jᵀ w, u⟩ from one pullback, in NONE,
 *    with cotangents of the values' run-time shapes. The forms' positional ops (SpecifyShape, an
 *    Alloc of a lower-rank value, `second` with a lower-rank operand, pow) meet their forward
 *    rules nowhere else, and the double pullback runs through a positional graph instead of
 *    stopping at the lazy Pullback nodes of a named one. One more compile.
 *
 * The rebuild goes through each op's own `makeNode`, as a user's code would; an op refusing a
 * form's operand is the engine refusing a valid graph, and propagates as an error. A form
 * construction that throws is recorded as such, naming the form, so the report tells a harness
 * slip from an engine one.
 */
import { type Apply, Constant, type Variable } from "../src/graph/basic.js";
import { type DType, TensorType, isFloat } from "../src/graph/type.js";
import { ancestors, toposort } from "../src/graph/traversal.js";
import { NDArray } from "../src/ndarray/ndarray.js";
import { compile } from "../src/compile/function.js";
import { RewriteContext } from "../src/rewriting/engine.js";
import { grad } from "../src/grad/driver.js";
import { lower } from "../src/xtensor/lower.js";
import { XTensorFromTensor } from "../src/xtensor/basic.js";
import { XTensorType } from "../src/xtensor/type.js";
import { constant, tensor } from "../src/tensor/basic.js";
import { Elemwise, add, cast, div, exp, identity, lt, mul, neg, pow, second, square, sub, tanh } from "../src/tensor/elemwise.js";
import { Join, alloc, dimshuffle, join, reshape, shape, shapeI, specifyShape } from "../src/tensor/shape.js";
import { sum } from "../src/tensor/reduce.js";
import { cumsum } from "../src/tensor/cumulative.js";
import { AdvancedIncSubtensor, IncSubtensor, incSubtensor, setSubtensor, subtensor } from "../src/tensor/indexing.js";
import type { Case, CaseTypes } from "../src/case/format.js";
import { type BuiltCase, buildCase, zeroGradient } from "../src/case/build.js";
import { mulberry32 } from "../oracles/finiteDiff.js";
import { compareRecords, toArrayValue } from "./compare.js";
import { type DualityVerdict, dualityJudgement, dualityTargets } from "./duality.js";
import { type ErasureReference, erasureOf } from "./erasure.js";
import type { ArrayValue, Check } from "./types.js";

/** The forms, in the order of the table above. */
export const FORMS = ["scale-split", "neutral", "shape-read", "specify-shape", "identity", "float32-part", "zero-update", "fill", "power", "stretch", "alloc-view", "constant-block", "broadcast-producer", "reshape-lengths", "stale-twin", "signed-zero", "shared-fill"] as const;
export type Form = (typeof FORMS)[number];
/** The forms that run their own races, each on at most one target (the rest are drawn per target). */
const OWN_RACE = ["fill", "power", "stretch", "alloc-view", "constant-block", "broadcast-producer", "reshape-lengths", "stale-twin", "signed-zero", "shared-fill"] as const;
type OwnRace = (typeof OWN_RACE)[number];
const DRAWN: readonly Form[] = FORMS.filter((f) => !(OWN_RACE as readonly Form[]).includes(f));

/** One form spliced in: where, and how it is described in a verdict. */
export interface Splice {
  readonly form: Form;
  /** `mul#4` (the lowered node's op and its position in the lowered graph's toposort), and the variant. */
  readonly at: string;
  /** The form keeps every value (up to rounding), so the static case's results judge it too. */
  readonly keepsValues: boolean;
}

/** The rebuilt graph: every case node's rebuilt variable, the cost, and the splices made. */
export interface FormsGraph {
  /** Case node id → its variable in the rebuilt graph. */
  readonly nodes: ReadonlyMap<string, Variable>;
  readonly cost: Variable;
  readonly splices: readonly Splice[];
  /** The case's static lengths were declared unknown for these inputs' axes (shape-erasure's labels). */
  readonly erased: readonly string[];
  /**
   * The `fill` form: v's value became `second(u, v)`, u a fresh input fed `value` (of v's run-time
   * shape, or with an extra leading axis when `lead`: then v's value is the mean over it).
   */
  readonly fill?: { readonly v: Variable; readonly u: Variable; readonly value: NDArray; readonly lead: boolean };
  /** The boundary outputs ({@link boundaryOutputs}): not in the graph without forms. */
  readonly boundary?: Boundary;
}

/** The boundary outputs: a fresh input b fed `value`, and outputs that read it (or constants) directly. */
export interface Boundary {
  readonly b: Variable;
  readonly value: NDArray;
  readonly outputs: readonly { readonly label: string; readonly v: Variable; readonly expected: NDArray }[];
}

/**
 * Outputs at the graph's boundary, which no lowering writes: a graph input handed back through a
 * copy (identity, a same-dtype cast, a product with 1, a sum with -0), a static shape read and a
 * fold of constants, each a graph output itself. The rules decline every one (no caller's array,
 * and no constant's own buffer, may come back as an output), and checked mode's normal forms must
 * decline with them: a form that promised a rewrite there would call the compile broken. Their
 * values are known exactly, and no output of the compiled function may share b's buffer.
 */
export function boundaryOutputs(): Boundary {
  const b = tensor("xgrad_boundary", { shape: [2], dtype: "float64" });
  const value = NDArray.fromFlat([0.75, -1.5], [2], "float64");
  const folded = constant([0.5, -2], "float64");
  return {
    b,
    value,
    outputs: [
      { label: "identity(b)", v: identity(b), expected: value },
      { label: "cast(b, float64)", v: cast(b, "float64"), expected: value },
      { label: "b * 1", v: mul(b, constant(1, "float64")), expected: value },
      { label: "b + -0", v: add(b, constant(-0, "float64")), expected: value },
      { label: "shape(b)", v: shape(b), expected: NDArray.fromFlat([2], [1], "int64") },
      { label: "shape_i(b, 0)", v: shapeI(b, 0), expected: NDArray.fromFlat([2], [], "int64") },
      { label: "neg([0.5, -2])", v: neg(folded), expected: NDArray.fromFlat([-0.5, 2], [2], "float64") },
      // Two elementwise ops over a 0-d constant: folded down to the graph output's node, which
      // stays; with canonicalize left out (checked-sensitivity's exclude), a pair fusion leaves
      // alone (its loop would read nothing but inlined constants).
      { label: "neg(exp(0.5))", v: neg(exp(constant(0.5, "float64"))), expected: NDArray.fromFlat([-Math.exp(0.5)], [], "float64") },
      // An empty constant is no neutral operand: its "every element is 1" holds vacuously.
      { label: "b[2:] * []", v: mul(subtensor(b, [{ start: 2, stop: null, step: null }]), constant(NDArray.fromFlat([], [0], "float64"))), expected: NDArray.fromFlat([], [0], "float64") },
    ],
  };
}

/** A positional tensor output of a float dtype, the only kind a value form is spliced on. */
function floatTensor(v: Variable): boolean {
  return v.type instanceof TensorType && isFloat(v.type.dtype);
}

/**
 * The op a form may give a float32 operand, and which of its inputs may take it: only where the
 * node's output stays float64 (another operand is float64, or the slot is an update op's y with
 * a float64 x), so that no reader downstream sees another dtype (an update op would refuse a
 * float64 y into a float32 x).
 */
function float32Slots(node: Apply): number[] {
  const f64 = (v: Variable): boolean => v.type instanceof TensorType && v.type.dtype === "float64";
  const withAnotherF64 = (): number[] => node.inputs.flatMap((v, i) => (f64(v) && node.inputs.some((w, j) => j !== i && f64(w)) ? [i] : []));
  if (node.op instanceof Join) return withAnotherF64();
  if ((node.op instanceof IncSubtensor || node.op instanceof AdvancedIncSubtensor) && f64(node.inputs[0]) && f64(node.inputs[1])) return [1];
  if (node.op instanceof Elemwise && ["add", "sub", "mul"].includes(node.op.props.scalar) && node.op.props.inplace === null) return withAnotherF64();
  return [];
}

/** A constant of `lengths` (a null length becomes 1, broadcast) filled by `fill(k)`, of v's dtype. */
function arrayConstant(v: Variable, lengths: readonly (number | null)[], fill: (k: number) => number): Constant {
  const shp = lengths.map((s) => s ?? 1);
  const size = shp.reduce((a, b) => a * b, 1);
  const flat = Array.from({ length: size }, (_, k) => fill(k));
  const nest = (axis: number, off: number): unknown => {
    if (axis === shp.length) return flat[off];
    const stride = shp.slice(axis + 1).reduce((a, b) => a * b, 1);
    return Array.from({ length: shp[axis] }, (_, i) => nest(axis + 1, off + i * stride));
  };
  return constant(nest(0, 0) as never, (v.type as TensorType).dtype);
}

/** v's trailing `k` static lengths (the shape of an operand that broadcasts against v). */
function trailing(v: Variable, k: number): (number | null)[] {
  const s = (v.type as TensorType).shape;
  return s.slice(s.length - k);
}

/**
 * The lengths of v as graph values: `Shape(v)[i]` or `ShapeI(v, i)`, by a coin. A static 1 stays
 * the number 1: read at run time it would be an unknown length, which positional broadcasting
 * refuses to stretch, so the form would change the graph's meaning.
 */
function lengthsOf(v: Variable, rand: () => number): (number | Variable)[] {
  const st = (v.type as TensorType).shape;
  if (rand() < 0.5) {
    const s = shape(v);
    return st.map((len, i) => (len === 1 ? 1 : subtensor(s, [i])));
  }
  return st.map((len, i) => (len === 1 ? 1 : shapeI(v, i)));
}

/**
 * The `stretch` form on v, which has an axis of static length 1: that axis read as unknown
 * (a Reshape to v's lengths with ShapeI(v, a) there), stretched to 2 by an Alloc and averaged
 * back, `(v + v) / 2`: v exactly. Alloc's pullback must then sum the cotangent down to a target
 * whose length is unknown and 1 at run time (sumToShapeOf's split and sum), which no named
 * lowering asks (their Allocs stretch only static 1s, and an unknown 1 is never broadcast by an
 * elementwise op).
 */
function stretchSplice(v: Variable, rand: () => number): { out: Variable; variant: string } {
  const st = (v.type as TensorType).shape;
  const ones = st.flatMap((len, i) => (len === 1 ? [i] : []));
  const a = ones[Math.floor(rand() * ones.length)];
  const lens = lengthsOf(v, rand);
  const w = reshape(v, lens.map((l, i) => (i === a ? shapeI(v, a) : l)));
  const stretched = alloc(w, lens.map((l, i) => (i === a ? 2 : l)));
  return { out: div(sum(stretched, [a], true), constant(2, (v.type as TensorType).dtype)), variant: `axis ${a} of length 1 read as unknown, stretched to 2 by an Alloc and averaged back` };
}

/** Splice `form` on v; returns the replacement and the variant's description. */
function splice(form: Exclude<Form, "float32-part" | OwnRace>, v: Variable, rand: () => number): { out: Variable; variant: string; keepsValues?: false } {
  const nd = (v.type as TensorType).ndim;
  switch (form) {
    case "scale-split": {
      // A spans v's trailing k axes (k from 1 to v's rank): of lower rank unless k is the rank,
      // broadcast over the leading axes.
      const k = nd === 0 ? 0 : 1 + Math.floor(rand() * nd);
      const lens = trailing(v, k);
      const size = lens.reduce<number>((a, s) => a * (s ?? 1), 1);
      // Entries 1, 2 and 0.5 (powers of two, so A * B is exactly 1), at least one 1 and, with two
      // or more entries, at least one other: a constant only partly neutral.
      const factors = Array.from({ length: size }, (): number => [1, 2, 0.5][Math.floor(rand() * 3)]);
      factors[Math.floor(rand() * size)] = 1;
      if (size > 1 && !factors.some((f) => f !== 1)) factors[(factors.indexOf(1) + 1) % size] = 2;
      const a = arrayConstant(v, lens, (i) => factors[i]);
      const shp = `(${lens.map((s) => s ?? 1).join(", ")})`;
      // Scaled (B with no 1) only in float64: scaling by up to 4 leaves the generator's accuracy
      // domain for float32 patterns the stabilize rules rewrite (log(1 - sigmoid(x)) beyond
      // |x| = 4), where NONE's plain form and FAST_RUN's stable one rightly differ.
      if (rand() < 0.5 || (v.type as TensorType).dtype !== "float64") return { out: mul(mul(v, a), arrayConstant(v, lens, (i) => 1 / factors[i])), variant: `A of shape ${shp}, B = 1 / A` };
      const b = arrayConstant(v, lens, () => (rand() < 0.5 ? 2 : 0.5));
      return { out: mul(mul(v, a), b), variant: `A of shape ${shp}, B of 2s and 0.5s`, keepsValues: false };
    }
    case "neutral": {
      const k = nd === 0 || rand() < 0.5 ? 0 : 1 + Math.floor(rand() * nd);
      const which = Math.floor(rand() * 6);
      // x + -0 is x for every float x; x + 0 turns -0 into +0, so the rule (rightly) leaves it.
      const neutral = which < 2 ? -0 : which < 3 ? 0 : 1;
      const c = k === 0 ? constant(neutral, (v.type as TensorType).dtype) : arrayConstant(v, trailing(v, k), () => neutral);
      const shp = k === 0 ? "0-d" : `(${trailing(v, k).map((s) => s ?? 1).join(", ")})`;
      const built = [
        () => ({ out: add(v, c), variant: `v + -0s ${shp}` }),
        () => ({ out: add(c, v), variant: `-0s ${shp} + v` }),
        () => ({ out: sub(v, c), variant: `v - zeros ${shp}` }),
        () => ({ out: mul(v, c), variant: `v * ones ${shp}` }),
        () => ({ out: mul(c, v), variant: `ones ${shp} * v` }),
        () => ({ out: div(v, c), variant: `v / ones ${shp}` }),
      ][which];
      return built();
    }
    case "shape-read": {
      const how = Math.floor(rand() * (nd >= 2 ? 4 : 3));
      const lens = lengthsOf(v, rand);
      if (how <= 1) {
        const r = how === 0 ? reshape(v, lens) : alloc(v, lens);
        const what = how === 0 ? "reshape to its own lengths" : "alloc to its own lengths";
        // Read through neg(neg(·)) half the time (exact): once the rewrites drop the Reshape or
        // Alloc, that reader keeps the unknown lengths it was built with while its input knows
        // them, the stale type checked mode's type check and the rules must accept.
        return rand() < 0.5 ? { out: neg(neg(r)), variant: `${what}, read through neg(neg(·))` } : { out: r, variant: what };
      }
      // An Alloc whose value has fewer axes than its output, indexed back by an int on the new axis.
      if (how === 2) {
        // The int on the new axis, and on v's first axis nothing, or a slice that covers it
        // written another way: step 1, start 0, or start 0 and stop its static length (which
        // local_subtensor_of_alloc rewrites only when the axis is one v is broadcast along, and
        // checked mode's normal form, conservative, never asks it to).
        const k = Math.floor(rand() * 2);
        const first = (v.type as TensorType).shape[0];
        const which = Math.floor(rand() * 4);
        const al = alloc(v, [2, ...lens]);
        const slices: Record<number, { start: number | null; stop: number | null; step: number | null }> = {
          1: { start: null, stop: null, step: 1 },
          2: { start: 0, stop: null, step: null },
          3: { start: 0, stop: first, step: null },
        };
        const sl = slices[which];
        if (sl === undefined) return { out: subtensor(al, [k]), variant: "alloc with a leading axis of 2, indexed back" };
        return { out: subtensor(al, [k, sl]), variant: `alloc with a leading axis of 2, indexed back, v's first axis as ${sl.start ?? ""}:${sl.stop ?? ""}${sl.step === null ? "" : `:${sl.step}`}` };
      }
      const swapped = [lens[1], lens[0], ...lens.slice(2)];
      const st = (v.type as TensorType).shape;
      if (st.every((s) => s !== null) && (v.type as TensorType).dtype === "float64" && rand() < 0.5) {
        // Something must read the swapped layout, or a rule that takes the swapped Reshape for a
        // useless one would give back v unchanged: scale it, position by position.
        const scale = arrayConstant(v, [st[1], st[0], ...st.slice(2)], () => (rand() < 0.5 ? 2 : 0.5));
        return { out: reshape(mul(reshape(v, swapped), scale), lens), variant: "reshape to axes 0 and 1 swapped, scaled, and back", keepsValues: false };
      }
      if (st.some((s) => s === null) && (v.type as TensorType).dtype === "float64" && rand() < 0.5) {
        // No constant can scale a layout of unknown lengths position by position; a running sum
        // down the swapped layout's first axis reads it as well. Over lengths read through ShapeI,
        // this is the Reshape a rule must not take for useless because its lengths are the
        // input's own, in another order.
        return { out: reshape(cumsum(reshape(v, swapped), 0), lens), variant: "reshape to axes 0 and 1 swapped, summed down axis 0, and back", keepsValues: false };
      }
      return { out: reshape(reshape(v, swapped), lens), variant: "reshape to axes 0 and 1 swapped, and back" };
    }
    case "specify-shape":
      return { out: specifyShape(v, (v.type as TensorType).shape), variant: `to (${(v.type as TensorType).shape.map((s) => s ?? "?").join(", ")})` };
    case "identity":
      return rand() < 0.5 ? { out: identity(v), variant: "identity" } : { out: cast(v, (v.type as TensorType).dtype), variant: "cast to its own dtype" };
    case "zero-update": {
      // 0 + v is v (a -0 becomes +0, equal in every comparison), and Z·Z is 0 whatever v holds.
      // Fusion puts the add and Z·Z in one loop, which reads Z beside the update's result, so the
      // update cannot overwrite Z itself: a fresh copy of Z is the only in-place write, and the
      // copy must never be merged back.
      const st = (v.type as TensorType).shape;
      const lens = st.every((l) => l !== null) ? (st as number[]) : lengthsOf(v, rand);
      const z = alloc(constant(0, (v.type as TensorType).dtype), lens);
      const full = { start: null, stop: null, step: null };
      const k = Math.floor(rand() * (nd + 1));
      const idx = Array.from({ length: k }, () => full);
      const where = k === 0 ? "no index" : `${k} full slice${k === 1 ? "" : "s"}`;
      const zWhat = `Z = alloc(0, ${st.every((l) => l !== null) ? "static lengths" : "lengths read through Shape"})`;
      const how = Math.floor(rand() * 4);
      if (how === 3) {
        // The same over ones: no fresh copy may be made of a buffer that is not zero-filled, so
        // the update stays out of place, and checked mode must not call it a missed copy.
        const ones = alloc(constant(1, (v.type as TensorType).dtype), lens);
        return { out: add(incSubtensor(ones, v, idx), mul(ones, ones)), variant: `inc(O, v, ${where}) + O·O, O = alloc(1, …): v + 2`, keepsValues: false };
      }
      if (how < 2) {
        // A third of the float64 ones write v rounded to float32 into Z (float64): the update's
        // pullback must cast y's cotangent back to float32 (sumToShapeOf), as float32-part asks of
        // the update ops a case writes itself, which are far rarer than this form.
        const y32 = (v.type as TensorType).dtype === "float64" && rand() < 1 / 3;
        const y = y32 ? cast(v, "float32") : v;
        const u = how === 0 ? setSubtensor(z, y, idx) : incSubtensor(z, y, idx);
        const yWhat = y32 ? "f32(v)" : "v";
        return { out: add(u, mul(z, z)), variant: `${how === 0 ? "set" : "inc"}(Z, ${yWhat}, ${where}) + Z·Z, ${zWhat}`, ...(y32 ? { keepsValues: false as const } : {}) };
      }
      // Two updates of one Z: each needs a fresh copy, two equal Allocs both overwritten in
      // place, which no merge may join (PyTensor PR #2355). (v + v) / 2 is v exactly.
      const both = mul(add(incSubtensor(z, v, idx), setSubtensor(z, v, idx)), constant(0.5, (v.type as TensorType).dtype));
      return { out: add(both, mul(z, z)), variant: `(inc(Z, v, ${where}) + set(Z, v, ${where})) * 0.5 + Z·Z, ${zWhat}` };
    }
  }
}

/**
 * The `power` form: every way the pow specializations fire or must decline. On a float64 v only:
 * it changes the value, which in float32 could leave the accuracy domain of the stabilize
 * patterns downstream (as for scale-split's scaled variant).
 */
function powerSplice(v: Variable, rand: () => number): { out: Variable; variant: string } {
  const c = (x: number, dtype: DType): Variable => constant(x, dtype);
  switch (Math.floor(rand() * 5)) {
    case 0:
      return { out: pow(v, c(2, "float64")), variant: "pow(v, 2)" };
    case 1:
      return { out: pow(exp(v), c(0.5, "float64")), variant: "pow(exp(v), 0.5)" };
    case 2:
      // A square is never -0 or -inf either; of exp(v), so no kink at v = 0.
      return { out: pow(square(exp(v)), c(0.5, "float64")), variant: "pow(square(exp(v)), 0.5)" };
    case 3:
      return { out: pow(v, c(3, "float64")), variant: "pow(v, 3) (no rule: another exponent)" };
    default:
      // int32's pow rounds through doubles, its square wraps exactly: the rule declines it.
      return { out: cast(pow(cast(v, "int32"), c(2, "int32")), "float64"), variant: "cast(pow(cast(v, int32), 2), float64) (no rule: int32)" };
  }
}

/** A slice, written out: `null`s are the defaults. */
function sl(start: number | null, stop: number | null, step: number | null): { start: number | null; stop: number | null; step: number | null } {
  return { start, stop, step };
}

/**
 * The `alloc-view` form: a view of an Alloc of v that `local_subtensor_of_alloc` must decline, or
 * may take only by reading the right lengths, each put back together into v exactly. shape-read's
 * `alloc(v, [2, ...])[k]` indexes only the new axis, which v is broadcast along; here the view
 * also narrows v's own first axis (by a start, a stop or a reversal: no longer a full slice),
 * picks one of its rows by an int, or slices a new axis whose length is known only at run time
 * (`shape_i(v, 0) + 1`, read through a Shape node the fold removes, or not, when v's length is
 * static: then the Alloc's recorded type is staler than its inputs).
 */
function allocViewSplice(v: Variable, rand: () => number): { out: Variable; variant: string } {
  const lens = lengthsOf(v, rand);
  const al = alloc(v, [2, ...lens]);
  const k = Math.floor(rand() * 2);
  const runTime = (): Variable => add(shapeI(v, 0), constant(1, "int64"));
  switch (Math.floor(rand() * 6)) {
    case 0:
      return { out: join(0, subtensor(v, [sl(null, 1, null)]), subtensor(al, [k, sl(1, null, null)])), variant: `join(v[:1], alloc(v, [2, …])[${k}, 1:])` };
    case 1:
      return { out: join(0, subtensor(al, [k, sl(null, -1, null)]), subtensor(v, [sl(-1, null, null)])), variant: `join(alloc(v, [2, …])[${k}, :-1], v[-1:])` };
    case 2:
      return { out: subtensor(subtensor(al, [k, sl(null, null, -1)]), [sl(null, null, -1)]), variant: `alloc(v, [2, …])[${k}, ::-1][::-1]` };
    case 3: {
      // v's first row, picked by an int on an axis v spans, given its axis back by an Alloc (a
      // value of lower rank than its output) and joined to the other rows.
      const row = alloc(subtensor(al, [k, 0]), [1, ...lens.slice(1)]);
      return { out: join(0, row, subtensor(v, [sl(1, null, null)])), variant: `join(alloc(alloc(v, [2, …])[${k}, 0], [1, …]), v[1:])` };
    }
    case 4: {
      // The last copy along a new axis of run-time length: the view's length is unknown, so the
      // rule must decline (the Alloc's whole length would give L copies to the sum). A third of
      // the time the new axis is 2 long: the view's length is then known, and the rule rewrites
      // it to an Alloc of v itself (the new axis is not one of v's).
      const known = rand() < 1 / 3;
      const lead = known ? 2 : runTime();
      return { out: sum(subtensor(alloc(v, [lead, ...lens]), [sl(-1, null, null)]), [0]), variant: `sum(alloc(v, [${known ? "2" : "shape_i(v, 0) + 1"}, …])[-1:], 0)` };
    }
    default:
      return { out: subtensor(alloc(v, [runTime(), ...lens]), [0]), variant: "alloc(v, [shape_i(v, 0) + 1, …])[0]" };
  }
}

/**
 * The `constant-block` form: `v * (sum(alloc(c, lengths)) - d)`, a factor of exactly 1 built from
 * a constant-only Alloc. A small block (3 × 4 of 0.25, more elements than any of its inputs) folds
 * away, and so does one of exactly the limit (64 × 64 of 2⁻¹², 4,096 elements); a large one (64 × 65 of 2⁻¹², 4,160 elements) is over the fold limit (4,096) and larger
 * than every input, so it stays for run time, and checked mode's normal form must say so too. The
 * cases' only constant-only nodes are DimShuffles of scalars, no larger than their inputs.
 */
function constantBlockSplice(v: Variable, rand: () => number): { out: Variable; variant: string } {
  const dtype = (v.type as TensorType).dtype;
  if (rand() < 0.5) {
    // Half of these at the limit itself: 64 × 64 of 2⁻¹² is 4,096 elements, still folded.
    if (rand() < 0.5) return { out: mul(v, sum(alloc(constant(2 ** -12, dtype), [64, 64]))), variant: "v * sum(alloc(2^-12, [64, 64])): folded, at the fold limit" };
    const s = sum(alloc(constant(0.25, dtype), [3, 4]));
    return { out: mul(v, sub(s, constant(2, dtype))), variant: "v * (sum(alloc(0.25, [3, 4])) - 2): folded" };
  }
  // 4,160 · 2⁻¹² = 1.015625, every partial sum exact in float32 too.
  const s = sum(alloc(constant(2 ** -12, dtype), [64, 65]));
  return { out: mul(v, sub(s, constant(0.015625, dtype))), variant: "v * (sum(alloc(2^-12, [64, 65])) - 0.015625): over the fold limit" };
}

/**
 * The `broadcast-producer` form: `v * (tanh(r) · 0 + 1)`, r = `sum(v, 0)` (of lower rank than v,
 * or of length 1 on axis 0 with keepdims): an elementwise chain of another shape than the node
 * that reads it, which fusion keeps apart (a loop has one shape) and checked mode's fusion promise
 * must excuse. The lowerings dimshuffle every operand to full rank first, so no case has one. tanh
 * is bounded, so the factor is exactly 1 and its gradient path exactly 0.
 */
function broadcastProducerSplice(v: Variable, rand: () => number): { out: Variable; variant: string } {
  const dtype = (v.type as TensorType).dtype;
  const keep = rand() < 0.5;
  const one = add(mul(tanh(sum(v, [0], keep)), constant(0, dtype)), constant(1, dtype));
  return { out: mul(v, one), variant: `v * (tanh(sum(v, 0${keep ? ", keepdims" : ""})) · 0 + 1)` };
}

/**
 * The `reshape-lengths` form, on a v whose first two lengths are unknown: a Reshape whose
 * lengths are graph values read through ShapeI, which `useless_reshape` must tell apart. v's own
 * lengths in order (useless: the rule must fire, and checked mode's normal form must promise it,
 * which no lowering writes over lengths known only at run time); v's own lengths with axes 0 and
 * 1 swapped, or the lengths of v transposed (another variable's: equal to the swapped ones at run
 * time, not v's own), read between by a running sum down the first axis and put back, so a rule
 * that took either Reshape for useless would change the values.
 */
function reshapeLengthsSplice(v: Variable, rand: () => number): { out: Variable; variant: string; keepsValues?: false } {
  const st = (v.type as TensorType).shape;
  // A static 1 stays the number 1 (read at run time it would be an unknown length, which broadcasting refuses to stretch).
  const lengths = (x: Variable): (number | Variable)[] => (x.type as TensorType).shape.map((l, i) => (l === 1 ? 1 : shapeI(x, i)));
  const own = lengths(v);
  const which = st.length < 2 ? 0 : Math.floor(rand() * 3);
  if (which === 0) return { out: reshape(v, own), variant: "reshape(v, [shape_i(v, 0), …])" };
  if (which === 1) {
    const swapped = [own[1], own[0], ...own.slice(2)];
    return { out: reshape(cumsum(reshape(v, swapped), 0), own), variant: "reshape(cumsum(reshape(v, [shape_i(v, 1), shape_i(v, 0), …]), 0), v's lengths)", keepsValues: false };
  }
  const t = dimshuffle(v, [1, 0, ...st.slice(2).map((_, i) => i + 2)]);
  return { out: reshape(cumsum(reshape(v, lengths(t)), 0), own), variant: "reshape(cumsum(reshape(v, [shape_i(vᵀ, 0), shape_i(vᵀ, 1), …]), 0), v's lengths)", keepsValues: false };
}

/**
 * The `stale-twin` form: `(neg(reshape(v, v's lengths)) + neg(v)) · -0.5`, v exactly. Once the
 * rewrites drop the Reshape (its lengths are v's own), the two negations are equal nodes on the
 * same input whose recorded types differ: the one that read the Reshape still records the unknown
 * lengths it was built with. The merge must keep the more refined of the two (replacing it by the
 * vaguer one is a type error), and checked mode's merge promise must compare them as equal
 * nodes. No lowering writes two equal nodes of different types.
 */
function staleTwinSplice(v: Variable, rand: () => number): { out: Variable; variant: string } {
  const dtype = (v.type as TensorType).dtype;
  const twin = add(neg(reshape(v, lengthsOf(v, rand))), neg(v));
  return { out: mul(twin, constant(-0.5, dtype)), variant: "(neg(reshape(v, v's lengths)) + neg(v)) · -0.5" };
}

/**
 * The `signed-zero` form: `v + exp(-1 / pow(z, 0.5))` with `z = cast(v < v) · -1`, a computed -0
 * (off the gradient's path: the comparison is discrete). `pow(-0, 0.5)` is +0, so the term is
 * `exp(-inf) = 0` and the result v; `sqrt(-0)` is -0, which would make it `exp(+inf)`. So
 * `local_pow_half_to_sqrt` must decline a base that may be -0 (computed by a mul, not by an op
 * that never gives -0), and checked mode must not promise it there. The generator keeps pow's
 * base positive, and power's bases are exp and square.
 */
function signedZeroSplice(v: Variable): { out: Variable; variant: string } {
  const dtype = (v.type as TensorType).dtype;
  const z = mul(cast(lt(v, v), dtype), constant(-1, dtype));
  return { out: add(v, exp(div(constant(-1, dtype), pow(z, constant(0.5, dtype))))), variant: "v + exp(-1 / pow(cast(v < v) · -1, 0.5)): pow of a computed -0" };
}

/**
 * The `shared-fill` form: an Alloc of a constant fill that two nodes read, so neither may write
 * into it, one of them an update op or an elementwise op taking it as its first input, which the
 * inplace pass must leave out of place with no fresh copy (it copies only an update op's
 * all-zero, non-empty fill):
 * - `(sum(inc(F, y, :)) + sum(F·F)) · 0`, F = alloc([0, 1], [n + 2]), y = [0.5, 0.25], and n a
 *   length computed as 0 (`sum(cast(v < v))`, so nothing folds the Alloc): a fill partly zero;
 * - `sum(inc(E, e, [])) + sum(E·E)`, E = alloc(e, [n]), e an empty constant: a fill of no
 *   element;
 * - `sum(Z·v) + sum(Z·Z)`, Z = alloc(0, v's lengths plus that computed 0): a zero fill read first
 *   by an elementwise op, not an update op.
 * Each term is exactly 0, so `v + term` is v. Checked mode's inplace promise must not ask these
 * for a fresh copy; before, no generated graph had one, so a promise asking more passed.
 */
function sharedFillSplice(v: Variable, rand: () => number): { out: Variable; variant: string } {
  const t = v.type as TensorType;
  const dtype = t.dtype;
  const n0 = sum(cast(lt(v, v), "int64"));
  const how = Math.floor(rand() * 3);
  if (how === 0) {
    const f = alloc(constant([0, 1], dtype), [add(n0, constant(2, "int64"))]);
    const full = { start: null, stop: null, step: null };
    const term = mul(add(sum(incSubtensor(f, constant([0.5, 0.25], dtype), [full])), sum(mul(f, f))), constant(0, dtype));
    return { out: add(v, term), variant: "v + (sum(inc(F, [0.5, 0.25], :)) + sum(F·F)) · 0, F = alloc([0, 1], [n + 2]), n computed as 0" };
  }
  if (how === 1) {
    const empty = (): Variable => constant(NDArray.fromNested([], dtype, "shared-fill"), dtype);
    const e = alloc(empty(), [n0]);
    return { out: add(v, add(sum(incSubtensor(e, empty(), [])), sum(mul(e, e)))), variant: "v + sum(inc(E, [], [])) + sum(E·E), E = alloc([], [n]), n computed as 0" };
  }
  // A static 1 stays 1 (as in lengthsOf: an unknown length is never stretched).
  const z = alloc(constant(0, dtype), t.shape.map((len, i) => (len === 1 ? 1 : add(shapeI(v, i), n0))));
  return { out: add(v, add(sum(mul(z, v)), sum(mul(z, z)))), variant: "v + sum(Z·v) + sum(Z·Z), Z = alloc(0, v's lengths + a computed 0)" };
}

/** FNV-1a of a string, finished by murmur3's mixer (FNV's low bits mix poorly on short keys). */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return mix(h, 0);
}

/** murmur3's 32-bit finalizer of `key ^ salt`: one key, many independent draws. */
function mix(key: number, salt: number): number {
  let h = (key ^ salt) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A draw in (0, 1) from a key and a salt. */
function uniform(key: number, salt: number): number {
  return (mix(key, salt) + 0.5) / 2 ** 32;
}

/** A variable's type without its static lengths: the shrinker shortens dims. */
function typeTag(v: Variable): string {
  if (v.type instanceof TensorType) return `tensor:${v.type.dtype}:${v.type.ndim}`;
  if (v.type instanceof XTensorType) return `xtensor:${v.type.dtype}:${JSON.stringify(v.type.dims)}`;
  return v.type.key();
}

/**
 * Every variable's structural key in a graph (`order`, a toposort): a hash of its op, output
 * index, dtype and rank and its inputs' keys, a graph input by name, dtype and rank, a constant
 * by its value. It depends on the variable's own ancestry only, never on the case's other nodes
 * nor on static lengths. The forms are drawn from these keys, not from the case seed: the
 * shrinker deletes nodes and shortens dims, and every such step would redraw forms drawn from
 * the whole case, so a finding a form made would not shrink past it (the zoo's fault 5, whose
 * repro stopped at 11 nodes: a zero-update form on a value found it, redrawn away by each step).
 * The price: two cases that share a subgraph draw the same forms on it (a value read straight
 * from an input of one name, dtype and dims always takes the same form when it wins), so the
 * variety comes from the rest of the graph; the ancestry of most nodes differs between cases.
 */
function structuralKeys(order: readonly Apply[]): (v: Variable) => number {
  const keys = new Map<Variable, number>();
  const keyOf = (v: Variable): number => {
    let k = keys.get(v);
    if (k === undefined) {
      // Not an output of `order`: a graph input or a constant.
      k = hash32(v instanceof Constant ? `c:${v.signature()}` : `in:${v.name ?? "?"}:${typeTag(v)}`);
      keys.set(v, k);
    }
    return k;
  };
  for (const n of order) {
    const head = `${n.op.hash()}(${n.inputs.map(keyOf).join(",")})`;
    n.outputs.forEach((o, j) => keys.set(o, hash32(`${head}#${j}:${typeTag(o)}`)));
  }
  return keyOf;
}

/**
 * A race between keyed candidates: each draws an exponential time of rate `weight` from its own
 * key and `salt`; those in before `window` win, the first `most` of them. With `atLeastOne`, the
 * earliest wins when none is in time. A candidate's time depends on its key alone, so a
 * winner still wins in any smaller graph that keeps it (deleting a rival cannot push it out).
 */
function race<T extends { readonly key: number; readonly weight: number }>(cands: readonly T[], salt: number, window: number, most: number, atLeastOne: boolean): T[] {
  const timed = cands.map((c, i) => ({ c, i, t: -Math.log(uniform(c.key, salt)) / c.weight }));
  // Ties (equal keys: one computation lowered twice) keep graph order.
  timed.sort((x, y) => x.t - y.t || x.i - y.i);
  const won = timed.filter((x) => x.t < window).slice(0, most);
  return (won.length === 0 && atLeastOne ? timed.slice(0, 1) : won).map((x) => x.c);
}

/**
 * The races' windows. About one to three forms on a case of typical size (one is the floor,
 * three the cap); the power form on about a third of them, the stretch form on about a quarter
 * (of the mutation suite's cases, whose candidates with a length-1 axis are fewer), the fill
 * form on about half (a case with fewer candidates takes them less often, a larger one more).
 */
const FORMS_WINDOW = 0.03;
const POWER_WINDOW = 0.006;
const STRETCH_WINDOW = 0.03;
const ALLOC_VIEW_WINDOW = 0.012;
const CONSTANT_BLOCK_WINDOW = 0.006;
const BROADCAST_PRODUCER_WINDOW = 0.006;
const RESHAPE_LENGTHS_WINDOW = 0.1;
const STALE_TWIN_WINDOW = 0.008;
const SIGNED_ZERO_WINDOW = 0.006;
const SHARED_FILL_WINDOW = 0.008;
const FILL_WINDOW = 0.14;

/** Whether a case (by its seed) builds its forms graph with shape-erasure's unknown lengths: half of them. */
function erasedBuild(seed: number): boolean {
  return ((Math.imul((seed ^ 0x2545f491) >>> 0, 0x9e3779b1) >>> 17) & 1) === 0;
}

/**
 * Lower the case's graph and rebuild it with one to three drawn forms spliced in. Null when
 * the lowered graph has no node a form applies to.
 */
export function formsGraph(c: Case, types: CaseTypes, seed: number): { built: BuiltCase; graph: FormsGraph; plain: FormsGraph } | null {
  const erasure = erasedBuild(seed) ? erasureOf(c) : null;
  const b = buildCase(c, types, erasure === null ? {} : { staticShapes: erasure.staticShapes });
  const ids = [...b.nodes.keys()];
  // Checked: lowering verified after every rewrite (public API; the pass list it runs is its own).
  const lowered = lower([...ids.map((id) => b.nodes.get(id) as Variable), b.cost], { checked: true });
  const order = toposort(lowered);
  const keyOf = structuralKeys(order);

  // Candidates: a float output of a positional node (never a graph input, never a named value at
  // the boundary), or a float64 operand `float32Slots` allows, for float32-part. A value on the
  // cost's own graph, where the gradient meets the form too, races three times as fast as one
  // off it (a node's value is lowered apart from the cost's use of it, so the graph holds both;
  // the salt tells the two copies apart).
  const onCost = new Set(toposort([lowered[lowered.length - 1]]));
  const valueTargets = order.flatMap((n) =>
    n.outputs.filter(floatTensor).map((o) => ({ n, o, key: mix(keyOf(o), onCost.has(n) ? 0x3c6ef372 : 0xa54ff53a), weight: onCost.has(n) ? 3 : 1 })),
  );
  // A Join's part or an update op's y races six times as fast as a binary elementwise slot:
  // their pullbacks' cast back to float32 (Join's slices, sumToShapeOf) is what the form is for,
  // and the elementwise slots, far more common, would otherwise take nearly every cast.
  const castTargets = order.flatMap((n) =>
    float32Slots(n).map((slot) => ({ n, slot, key: mix(keyOf(n.outputs[0]), 0x510e527f + slot), weight: n.op instanceof Elemwise ? 0.5 : 3 })),
  );
  if (valueTargets.length === 0 && castTargets.length === 0) return null;

  const onValue = new Map<Variable, { form: Form; key: number }>();
  const onSlot = new Map<Apply, number>();
  for (const t of race([...valueTargets, ...castTargets], 0xd1b54a32, FORMS_WINDOW, 3, true)) {
    if ("slot" in t) {
      if (!onSlot.has(t.n)) onSlot.set(t.n, t.slot);
      continue;
    }
    const { o } = t;
    const forms = DRAWN.filter((f) => f !== "float32-part" && ((f !== "shape-read" && f !== "zero-update") || (o.type as TensorType).ndim >= 1));
    onValue.set(o, { form: forms[Math.floor(uniform(t.key, 0x9b05688c) * forms.length)], key: t.key });
  }

  const fill = fillTarget(ids, lowered, types, keyOf);
  // The power form's target: a float64 value, on the cost's graph three times as likely.
  const f64 = (t: { o: Variable }): boolean => (t.o.type as TensorType).dtype === "float64";
  const ranked = (t: { o: Variable }): boolean => (t.o.type as TensorType).ndim >= 1;
  // Each of these forms on at most one target, in the order applied on a shared target. Each race
  // has its own salts, so adding a form redraws none of the others.
  const ownRaces: { form: OwnRace; won: (typeof valueTargets)[number] | null; salt: number; make: (v: Variable, rand: () => number) => { out: Variable; variant: string; keepsValues?: false }; keepsValues: boolean }[] = [
    { form: "power", won: race(valueTargets.filter(f64), 0x1f83d9ab, POWER_WINDOW, 1, false)[0] ?? null, salt: 0x90e3f00d, make: powerSplice, keepsValues: false },
    // The stretch form's target: a value with an axis of static length 1.
    { form: "stretch", won: race(valueTargets.filter((t) => (t.o.type as TensorType).shape.includes(1)), 0x2545f491, STRETCH_WINDOW, 1, false)[0] ?? null, salt: 0x68e31da4, make: stretchSplice, keepsValues: true },
    { form: "alloc-view", won: race(valueTargets.filter(ranked), 0x6a09e667, ALLOC_VIEW_WINDOW, 1, false)[0] ?? null, salt: 0xbb67ae85, make: allocViewSplice, keepsValues: true },
    { form: "constant-block", won: race(valueTargets, 0x3c6ef373, CONSTANT_BLOCK_WINDOW, 1, false)[0] ?? null, salt: 0xa54ff53b, make: constantBlockSplice, keepsValues: true },
    { form: "broadcast-producer", won: race(valueTargets.filter(ranked), 0x9b05688d, BROADCAST_PRODUCER_WINDOW, 1, false)[0] ?? null, salt: 0x1f83d9ac, make: broadcastProducerSplice, keepsValues: true },
    // Lengths read through ShapeI stay graph values only where they are unknown: both the swapped ones.
    { form: "reshape-lengths", won: race(valueTargets.filter((t) => (t.o.type as TensorType).ndim >= 1 && (t.o.type as TensorType).shape.slice(0, 2).every((l) => l === null)), 0x510e5280, RESHAPE_LENGTHS_WINDOW, 1, false)[0] ?? null, salt: 0x5be0cd19, make: reshapeLengthsSplice, keepsValues: true },
    { form: "stale-twin", won: race(valueTargets.filter(ranked), 0x6c62272e, STALE_TWIN_WINDOW, 1, false)[0] ?? null, salt: 0x07bb0142, make: staleTwinSplice, keepsValues: true },
    { form: "signed-zero", won: race(valueTargets, 0x2127599b, SIGNED_ZERO_WINDOW, 1, false)[0] ?? null, salt: 0x3b8d4ee1, make: signedZeroSplice, keepsValues: true },
    { form: "shared-fill", won: race(valueTargets.filter(ranked), 0x243f6a88, SHARED_FILL_WINDOW, 1, false)[0] ?? null, salt: 0x85a308d3, make: sharedFillSplice, keepsValues: true },
  ];

  const splices: Splice[] = [];
  const memo = new Map<Variable, Variable>();
  const label = (n: Apply, pos: number): string => `${n.op.toString()}#${pos}`;
  order.forEach((n, pos) => {
    const ins = n.inputs.map((v) => memo.get(v) ?? v);
    const slot = onSlot.get(n);
    if (slot !== undefined) {
      ins[slot] = cast(ins[slot], "float32");
      splices.push({ form: "float32-part", at: `input ${slot} of ${label(n, pos)}`, keepsValues: false });
    }
    const rebuilt = ins.every((v, i) => v === n.inputs[i]) ? n : n.op.makeNode(...ins);
    n.outputs.forEach((o, k) => {
      let out = rebuilt.outputs[k];
      const drawn = onValue.get(o);
      const form = drawn?.form;
      // (The OWN_RACE forms are never in onValue: they run their own races, below; the test narrows splice's type.)
      if (drawn !== undefined && form !== undefined && form !== "float32-part" && !(OWN_RACE as readonly Form[]).includes(form)) {
        let made: ReturnType<typeof splice>;
        try {
          made = splice(form as Exclude<Form, "float32-part" | OwnRace>, out, mulberry32(mix(drawn.key, 0x7f4a7c15)));
        } catch (e) {
          throw new Error(`positional-forms: building ${form} on ${label(n, pos)} failed (a harness defect): ${e instanceof Error ? e.message : String(e)}`);
        }
        out = made.out;
        splices.push({ form, at: `${label(n, pos)} (${made.variant})`, keepsValues: made.keepsValues ?? true });
      }
      for (const r of ownRaces) {
        if (r.won === null || o !== r.won.o) continue;
        let made: { out: Variable; variant: string; keepsValues?: false };
        try {
          made = r.make(out, mulberry32(mix(r.won.key, r.salt)));
        } catch (e) {
          throw new Error(`positional-forms: building ${r.form} on ${label(n, pos)} failed (a harness defect): ${e instanceof Error ? e.message : String(e)}`);
        }
        out = made.out;
        splices.push({ form: r.form, at: `${label(n, pos)} (${made.variant})`, keepsValues: r.keepsValues && made.keepsValues !== false });
      }
      if (fill !== null && o === fill.v) {
        const shown = `u a fresh input of shape (${(fill.u.type as TensorType).shape.map((l) => l ?? "?").join(", ")})`;
        if (fill.lead) {
          // Two copies of v summed, then halved by u's length read at run time: v exactly, so an
          // Alloc of the wrong length (or a lost read of u) shows, also when judgement 3 makes u longer.
          out = div(sum(second(fill.u, out), [0]), cast(shapeI(fill.u, 0), (out.type as TensorType).dtype));
          splices.push({ form: "fill", at: `${label(n, pos)} (the mean of second(u, v) over u's leading axis, ${shown} fed 2 copies' worth; node ${fill.vId}'s value)`, keepsValues: true });
        } else {
          out = second(fill.u, out);
          splices.push({ form: "fill", at: `${label(n, pos)} (second(u, v), ${shown}; node ${fill.vId}'s value)`, keepsValues: true });
        }
      }
      if (out !== o) memo.set(o, out);
    });
  });
  const at = (v: Variable): Variable => memo.get(v) ?? v;
  const nodes = new Map(ids.map((id, k) => [id, at(lowered[k])] as const));
  const erased = erasure?.erased ?? [];
  const plain = { nodes: new Map(ids.map((id, k) => [id, lowered[k]] as const)), cost: lowered[lowered.length - 1], splices: [], erased };
  const graph = { nodes, cost: at(lowered[lowered.length - 1]), splices, erased, boundary: boundaryOutputs(), ...(fill === null ? {} : { fill: { v: fill.v, u: fill.u, value: fill.value, lead: fill.lead } }) };
  return { built: b, graph, plain };
}

/**
 * The `fill` form's target, in about half the cases (its own race): v, the
 * positional value of a case node (a float of one axis or more; the case's static types give its
 * run-time shape), and u, a fresh graph input of v's run-time shape declared with unknown lengths
 * (a 1 stays static: an unknown length is never stretched). `second(u, v)` is v, and checks at run
 * time that u's lengths are v's: a rule that drops u there (`local_second_to_alloc`) must keep
 * that check, whether v's own lengths are known or not.
 *
 * Half the time (a draw keyed by v, as the race is) u has one more axis, leading, of unknown
 * length and run-time length 2, its others declared as v's type declares them: `second(u, v)`
 * then broadcasts v along it, which the rule may write as an Alloc of v reading u's run-time
 * length (v of lower rank than the output, beside an operand of unknown length), and the case
 * reads the mean over that axis, `(v + v) / 2`: v exactly (a mean of 3 copies is v only within
 * an ulp, which a comparison downstream turned into a false alarm). Where v's type leaves a
 * length unknown, u's is too and the rule must decline (u's length there is checked against v's).
 */
function fillTarget(ids: readonly string[], lowered: readonly Variable[], types: CaseTypes, keyOf: (v: Variable) => number): { v: Variable; u: Variable; value: NDArray; vId: string; lead: boolean } | null {
  // A named node's lowered value is XTensorFromTensor of its positional value, in its dims order.
  const positional = (v: Variable): Variable => (v.owner !== null && v.owner.op instanceof XTensorFromTensor ? v.owner.inputs[0] : v);
  const targets = ids.flatMap((vId, k) => {
    const v = positional(lowered[k]);
    const shape = types.get(vId)?.shape;
    return floatTensor(v) && v.owner !== null && shape !== undefined && shape.length === v.type.ndim && shape.length > 0 ? [{ v, vId, shape, key: keyOf(v), weight: 1 }] : [];
  });
  const [won] = race(targets, 0x5eca11ed, FILL_WINDOW, 1, false);
  if (won === undefined) return null;
  const { v, vId, shape, key } = won;
  const dtype = (v.type as TensorType).dtype;
  if (uniform(key, 0x3f84d5b5) < 0.5) {
    const u = tensor("xgrad_fill", { shape: [null, ...(v.type as TensorType).shape], dtype });
    return { v, u, value: NDArray.zeros([2, ...shape], dtype), vId, lead: true };
  }
  const u = tensor("xgrad_fill", { shape: shape.map((l) => (l === 1 ? 1 : null)), dtype });
  return { v, u, value: NDArray.zeros(shape, dtype), vId, lead: false };
}

/** A run's case node values and direct gradient; the boundary outputs, and those sharing b's buffer. */
type FormsRun = { values: Record<string, ArrayValue>; grads: Record<string, ArrayValue>; boundary: Record<string, ArrayValue>; aliased: string[] };

/** The forms spliced in, and the inputs whose lengths were declared unknown, for messages. */
export function describeForms(g: FormsGraph): string {
  const boundary = g.boundary === undefined ? "" : `, and the boundary outputs (${g.boundary.outputs.length}, of a fresh input b and constants)`;
  return `${g.splices.map((s) => `${s.form} at ${s.at}`).join(", ")}${g.erased.length > 0 ? ` (lengths of ${g.erased.join(", ")} unknown)` : ""}${boundary}`;
}

/**
 * The case's lowered graph with its seeded forms as a function's inputs and outputs, labelled
 * for messages, with the forms spliced in (the graph checked-sensitivity's silenced rule and lost
 * fresh copy also run on), or null when no form applies.
 */
export function formsSource(c: Case, types: CaseTypes, seed: number): { label: string; inputs: Variable[]; outputs: Variable[]; forms: Form[] } | null {
  const made = formsGraph(c, types, seed);
  if (made === null) return null;
  const { inputs, outputs } = formsFunction(made.built, made.graph);
  return { label: `the lowered graph with ${describeForms(made.graph)}`, inputs, outputs, forms: made.graph.splices.map((s) => s.form) };
}

/**
 * The rebuilt graph as a function's inputs and outputs: every case node's value, then the direct
 * gradient's non-null parts (`gradAt[i]`: wrt i's output, or -1 when it is disconnected), then
 * the boundary outputs from `boundaryAt` on.
 */
export function formsFunction(b: BuiltCase, g: FormsGraph): { inputs: Variable[]; outputs: Variable[]; gradAt: number[]; boundaryAt: number } {
  const outputs: Variable[] = [...g.nodes.keys()].map((id) => g.nodes.get(id) as Variable);
  const gs = b.wrt.length > 0 ? grad(g.cost, b.wrt, { disconnectedInputs: "ignore" }) : [];
  const gradAt = gs.map((v) => (v === null ? -1 : outputs.push(v) - 1));
  const boundaryAt = outputs.length;
  outputs.push(...(g.boundary?.outputs.map((o) => o.v) ?? []));
  return { inputs: formsInputs(b, g), outputs, gradAt, boundaryAt };
}

/** The rebuilt graph's inputs: the case's, then the fill form's u, then the boundary's b. */
function formsInputs(b: BuiltCase, g: FormsGraph): Variable[] {
  return [...b.inputs.values(), ...(g.fill === undefined ? [] : [g.fill.u]), ...(g.boundary === undefined ? [] : [g.boundary.b])];
}

/**
 * Every node's value and the direct gradient of the rebuilt graph, compiled in `mode`, at the
 * case's values; `at` runs the same compiled function on other input values. Checked in both
 * modes by default: NONE's required passes must run, in order, and keep their promises too (no
 * other property compiles NONE checked).
 */
function formsResults(b: BuiltCase, g: FormsGraph, mode: "FAST_RUN" | "NONE", checked = true): FormsRun & { at: (inputs: readonly NDArray[]) => FormsRun } {
  const ids = [...g.nodes.keys()];
  const { inputs, outputs: outs, gradAt, boundaryAt } = formsFunction(b, g);
  const f = compile(inputs, outs, { mode, checked, onOptError: "raise", ctx: new RewriteContext({ checked, onOptError: "raise" }) });
  const names = [...b.inputs.keys()];
  const at = (args: readonly NDArray[]): FormsRun => {
    const res = f(...args);
    const values: Record<string, ArrayValue> = {};
    // The original node's variable carries the dims: lowering keeps a named value's dims order.
    ids.forEach((id, k) => (values[id] = toArrayValue(b.nodes.get(id) as Variable, res[k])));
    const grads: Record<string, ArrayValue> = {};
    b.wrtNames.forEach((name, i) => {
      const w = b.wrt[i];
      grads[name] = gradAt[i] < 0 ? zeroGradient(w, args[names.indexOf(name)]) : toArrayValue(outs[gradAt[i]], res[gradAt[i]]);
    });
    const boundary: Record<string, ArrayValue> = {};
    const aliased: string[] = [];
    g.boundary?.outputs.forEach((o, k) => {
      const r = res[boundaryAt + k];
      boundary[o.label] = toArrayValue(o.v, r);
      if (args.some((a) => r.sharesBuffer(a))) aliased.push(o.label);
    });
    return { values, grads, boundary, aliased };
  };
  return { ...at(caseInputs(b, g)), at };
}

/** The rebuilt graph's input values: the case's, then the fill form's u, then the boundary's b. */
function caseInputs(b: BuiltCase, g: FormsGraph): NDArray[] {
  return [...b.values.values(), ...(g.fill === undefined ? [] : [g.fill.value]), ...(g.boundary === undefined ? [] : [g.boundary.value])];
}

/**
 * An input NONE may refuse: one input, at one axis whose length the build left unknown (and is
 * more than 1), one longer, its last slice repeated. The fill form's u when there is one (its
 * only reader is `second(u, v)`, so the only check that refuses it is the one a rule could
 * drop); else a seeded input of the case, over shape-erasure's unknown lengths. Null when no
 * such axis exists.
 */
function longerInput(b: BuiltCase, g: FormsGraph, seed: number): { label: string; inputs: NDArray[] } | null {
  const names = [...b.inputs.keys()];
  const all = caseInputs(b, g);
  const vars = formsInputs(b, g);
  const slots = vars.flatMap((v, k) => (v.type as TensorType).shape.flatMap((len, axis) => (len === null && all[k].shape[axis] > 1 ? [{ k, axis }] : [])));
  const fillSlots = slots.filter((s) => s.k === names.length);
  const pool = fillSlots.length > 0 ? fillSlots : g.erased.length > 0 ? slots : [];
  if (pool.length === 0) return null;
  const pick = pool[(Math.imul((seed ^ 0x10e9e7) >>> 0, 0x9e3779b1) >>> 0) % pool.length];
  const name = pick.k < names.length ? names[pick.k] : "the fill form's u";
  const n = all[pick.k].shape[pick.axis];
  return { label: `${name} one longer on axis ${pick.axis} (${n} → ${n + 1})`, inputs: all.map((x, k) => (k === pick.k ? repeatLast(x, pick.axis) : x)) };
}

/** x with its last slice along `axis` repeated once. */
function repeatLast(x: NDArray, axis: number): NDArray {
  const shape = [...x.shape];
  shape[axis]++;
  const src = x.toFlat();
  const inner = x.shape.slice(axis + 1).reduce((a, k) => a * k, 1);
  const outer = x.shape.slice(0, axis).reduce((a, k) => a * k, 1);
  const n = x.shape[axis];
  const out: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i <= n; i++) {
      const from = (o * n + Math.min(i, n - 1)) * inner;
      for (let k = 0; k < inner; k++) out.push(Number(src[from + k]));
    }
  }
  return NDArray.fromFlat(out, shape, x.dtype);
}

/**
 * The duality Σ ⟨w, J u⟩ = ⟨Jᵀ w, u⟩ over every rebuilt float case node a wrt reaches (the cost
 * included), at the case's values: J u from the ops' forward rules and from the double pullback.
 */
function formsDuality(b: BuiltCase, g: FormsGraph, values: Readonly<Record<string, ArrayValue>>, any32: boolean, seed: number): DualityVerdict {
  const ids = dualityTargets(g.nodes, b.wrt);
  const outs = ids.length > 0 ? ids.map((id) => g.nodes.get(id) as Variable) : [g.cost];
  // Erased lengths are unknown to the types: the cotangents take the values' run-time shapes.
  const outShapes = ids.length > 0 ? ids.map((id) => values[id].shape) : [[]];
  return dualityJudgement({ inputs: formsInputs(b, g), values: caseInputs(b, g), wrt: b.wrt, outs, outShapes, any32, seed: seed ^ 0x4f1bbcdc });
}

/**
 * Judge `c` with seeded positional forms spliced into its lowered graph: `pass`, `fail` naming
 * the forms and the first differing value, or `inconclusive` when no lowered node takes a form.
 * An engine exception on the rebuilt graph is an error check (`onError`, given the forms), unless
 * the lowered graph without forms fails the same compiles: that is not about the forms but
 * rewrite-soundness's finding, and its repro shrinks further there.
 */
export function positionalFormsCheck(c: Case, types: CaseTypes, seed: number, ref: ErasureReference, onError: (e: Error, during: string) => Check): Check {
  const property = "positional-forms";
  const made = formsGraph(c, types, seed);
  if (made === null) return { property, status: "inconclusive", reason: "the lowered graph has no positional float node to splice a form on" };
  const { built: b, graph: g, plain } = made;
  const what = `with ${describeForms(g)},`;
  let run: ReturnType<typeof formsResults>;
  let none: ReturnType<typeof formsResults>;
  try {
    none = formsResults(b, g, "NONE");
    run = formsResults(b, g, "FAST_RUN");
  } catch (e) {
    try {
      // rewrite-soundness's compiles: NONE unchecked (a checked NONE compile is this property's own).
      formsResults(b, plain, "NONE", false);
      formsResults(b, plain, "FAST_RUN");
    } catch (plainError) {
      const first = (plainError instanceof Error ? plainError.message : String(plainError)).split("\n")[0];
      return { property, status: "inconclusive", reason: `the lowered graph without forms fails the same compiles (rewrite-soundness reports it): ${first}` };
    }
    return onError(e instanceof Error ? e : new Error(String(e)), what.slice(0, -1));
  }
  // A float32 value on the rebuilt graph (the case's own, float32-part's, zero-update's f32(v))
  // rounds every path through it: the rewrites and the duality are then judged at float32's
  // tolerance. Read from the graph, not from the forms' descriptions.
  const float32 = ancestors([...g.nodes.values(), g.cost]).some((v) => v.type.dtype === "float32");
  const rtol = float32 ? Math.max(ref.rtol, 1e-4) : ref.rtol;
  const results = [
    compareRecords(run.values, none.values, `${what} the checked FAST_RUN value of node`, rtol, ref.slack),
    compareRecords(run.grads, none.grads, `${what} the checked FAST_RUN direct gradient`, rtol, ref.slack),
  ];
  // The boundary outputs' values are known exactly, and none may hand back the caller's array.
  if (g.boundary !== undefined) {
    const expected = Object.fromEntries(g.boundary.outputs.map((o) => [o.label, toArrayValue(o.v, o.expected)]));
    results.push(compareRecords(run.boundary, expected, `${what} the checked FAST_RUN boundary output`, ref.rtol), compareRecords(none.boundary, expected, `${what} the NONE boundary output`, ref.rtol));
    for (const [mode, r] of [["checked FAST_RUN", run], ["NONE", none]] as const) {
      if (r.aliased.length > 0) return { property, status: "fail", reason: `${what} the ${mode} function returned the caller's own array b as its boundary output ${r.aliased.join(", ")}`, maxAbsErr: 0, maxRelErr: 0 };
    }
  }
  if (g.splices.every((s) => s.keepsValues)) {
    results.push(compareRecords(none.values, ref.values, `${what} the NONE value of node`, ref.rtol, ref.slack));
    if (ref.grads !== null) results.push(compareRecords(none.grads, ref.grads, `${what} the NONE direct gradient`, ref.rtol, ref.slack));
  }
  // 3. Over unknown lengths, an input NONE may refuse: a rewrite must neither turn NONE's length
  // error into values (a dropped run-time check) nor refuse what NONE computes.
  const longer = results.every((x) => x.ok) ? longerInput(b, g, seed) : null;
  if (longer !== null) {
    const attempt = (r: typeof run): { ok: true; res: FormsRun } | { ok: false; msg: string } => {
      try {
        return { ok: true, res: r.at(longer.inputs) };
      } catch (e) {
        return { ok: false, msg: (e instanceof Error ? e.message : String(e)).split("\n")[0] };
      }
    };
    const n1 = attempt(none);
    const f1 = attempt(run);
    if (!n1.ok && f1.ok) {
      return { property, status: "fail", reason: `${what} with ${longer.label}, an input NONE refuses (${n1.msg}), the checked FAST_RUN function returned values: a rewrite dropped a run-time length check`, maxAbsErr: Infinity, maxRelErr: Infinity };
    }
    if (n1.ok && !f1.ok) {
      return { property, status: "fail", reason: `${what} with ${longer.label}, which NONE computes, the checked FAST_RUN function raised: ${f1.msg}`, maxAbsErr: Infinity, maxRelErr: Infinity };
    }
    if (n1.ok && f1.ok) {
      results.push(
        compareRecords(f1.res.values, n1.res.values, `${what} with ${longer.label}, the checked FAST_RUN value of node`, rtol, ref.slack),
        compareRecords(f1.res.grads, n1.res.grads, `${what} with ${longer.label}, the checked FAST_RUN direct gradient`, rtol, ref.slack),
      );
    }
  }
  // 4. The pushforward duality on the rebuilt graph: the forward rules of the positional ops the
  // lowerings never write, and the double pullback through a positional graph.
  if (results.every((x) => x.ok) && b.wrt.length > 0) {
    let k: DualityVerdict;
    try {
      k = formsDuality(b, g, none.values, float32, seed);
    } catch (e) {
      return onError(e instanceof Error ? e : new Error(String(e)), `${what} the pushforward duality`);
    }
    if (k.status === "fail") return { property, status: "fail", reason: `${what} the pushforward duality: ${k.reason ?? ""}`, maxAbsErr: k.maxAbsErr, maxRelErr: k.maxRelErr };
  }
  const bads = results.filter((x) => !x.ok);
  const bad = bads.find((x) => x.nonFinite !== true);
  const maxAbsErr = Math.max(...results.map((x) => x.maxAbsErr));
  const maxRelErr = Math.max(...results.map((x) => x.maxRelErr));
  if (bad !== undefined) return { property, status: "fail", reason: bad.reason ?? "mismatch", maxAbsErr: bad.maxAbsErr, maxRelErr: bad.maxRelErr };
  // NaN against ±inf on both sides (a scaled value pushed out of an op's domain): the order of
  // two derivations' sums decides that (inf − inf), so the comparison cannot judge it.
  if (bads.length > 0) return { property, status: "inconclusive", reason: `non-finite on both sides, which the order of the sums decides: ${bads[0].reason ?? ""}` };
  return { property, status: "pass", reason: g.splices.map((s) => `${s.form} at ${s.at}`).join("; "), maxAbsErr, maxRelErr };
}
