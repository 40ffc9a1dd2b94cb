/**
 * Canonicalization rules (PyTensor `tensor/rewriting/basic.py`, `math.py`, `shape.py`,
 * `subtensor.py`): simplifications that put the graph in a normal form the later passes
 * recognise, each registered with `registerCanonicalize`.
 *
 * Soundness policy. A canonicalization must give bit-identical values on every input that the
 * unrewritten graph accepts, including NaN, ±inf and -0.0, and must not drop a run-time shape
 * check that the original graph would have made. Where PyTensor folds an identity that is not
 * exact under IEEE 754 (`x * 0 → 0`, `x + 0 → x` for floats), we do not, and the rule says why.
 * The shared helpers below (`constantFlat`, `conformTo`) are used by stabilize and specialize too.
 */
import { type Apply, Constant, type Variable } from "../graph/basic.js";
import { type FunctionGraph, isOutputNode } from "../graph/fgraph.js";
import { TensorType, isDiscrete, isFloat } from "../graph/type.js";
import type { NDArray } from "../ndarray/ndarray.js";
import { Elemwise, cast } from "../tensor/elemwise.js";
import { Reduce } from "../tensor/reduce.js";
import { Alloc, DimShuffle, Reshape, Shape, ShapeI, alloc, constantInt, dimshuffle, shapeI } from "../tensor/shape.js";
import { AdvancedIncSubtensor, IncSubtensor, type SliceProp, Subtensor } from "../tensor/indexing.js";
import { constant } from "../tensor/basic.js";
import { inputOwnedBy, nodeRewriter, type NodeRewriter } from "./engine.js";
import { registerCanonicalize } from "./db.js";

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/** The flat values of a positional tensor constant, or null for anything else. */
export function constantFlat(v: Variable): number[] | null {
  if (!(v instanceof Constant) || !(v.type instanceof TensorType)) return null;
  return v.value.toFlat();
}

/**
 * True when `v` is a tensor constant whose every element satisfies `pred` (and has at least one
 * element: an empty constant is no evidence about the values it broadcasts against).
 */
export function isConstantFill(v: Variable, pred: (x: number) => boolean): boolean {
  const flat = constantFlat(v);
  return flat !== null && flat.length > 0 && flat.every(pred);
}

/** True for `1`, `1.0`, `true` (no -0/NaN subtleties: 1 is exact in every dtype). */
export const isOne = (x: number): boolean => x === 1;

/** True for +0 or -0. */
export const isZero = (x: number): boolean => x === 0;

/**
 * Express `x` with the exact type of `out`, the output of the elementwise `node` that `x` stands
 * in for: cast to out's dtype, then broadcast to out's shape with an Alloc whose unknown lengths
 * are read from node's inputs. Returns null when that could drop a run-time check: an axis of x
 * with unknown length where out's length is known or comes from elsewhere would have been
 * checked against the other operands by Elemwise, but Alloc would broadcast a length-1 value
 * silently. So x may differ from out only by leading axes and statically-1 axes.
 */
export function conformTo(x: Variable, out: Variable, node: Apply): Variable | null {
  const ot = out.type;
  const xt = x.type;
  if (!(ot instanceof TensorType) || !(xt instanceof TensorType)) return null;
  const shape = staticOutShape(out, node);
  if (!standsFor(x, out, node, shape)) return null;
  const v = xt.dtype === ot.dtype ? x : cast(x, ot.dtype);
  if (xt.ndim === ot.ndim && xt.shape.every((s, i) => s === shape[i])) return v;
  const lens = outputLengths(out, node);
  return lens === null ? null : alloc(v, lens);
}

/**
 * True when x may stand in for out, the output of elementwise `node`, with no run-time length
 * check lost: x reaches out's shape (as the node's inputs now determine it, see
 * {@link staticOutShape}) by adding leading axes and stretching statically-1 axes only, and at
 * every axis each input length of the node that is unknown is still checked or carried:
 * - where x's length is unknown, it must be the only unknown one there (x carries it; a second
 *   input of unknown length is checked against x by the node);
 * - where x's length is static and not 1, no input may be unknown there (the node checks that
 *   input against x's length; `second(u, exp(x))` with u of unknown length and x of length 3
 *   became `exp(x)`, a value where NONE raises, found by positional-forms' length check);
 * - where x is 1 or lacks the axis, one unknown input may give out's length (the Alloc reads it)
 *   only when no static length there would have been checked against it.
 */
export function standsFor(x: Variable, out: Variable, node: Apply, shape = staticOutShape(out, node)): boolean {
  const lead = out.type.ndim - x.type.ndim;
  if (!coversStatically(x.type.shape, shape)) return false;
  return shape.every((len, d) => {
    const unknown = lengthsAt(node, out, d).filter((r) => r.len === null).length;
    const own = d >= lead ? x.type.shape[d - lead] : 1;
    if (own === null) return unknown <= 1;
    if (own !== 1) return unknown === 0;
    return unknown === 0 || (unknown === 1 && len === null);
  });
}

/** The inputs of elementwise `node` that reach axis `d` of its output `out`, with their length there. */
function lengthsAt(node: Apply, out: Variable, d: number): { readonly w: Variable; readonly axis: number; readonly len: number | null }[] {
  return node.inputs.flatMap((w) => {
    const axis = d - (out.type.ndim - w.type.ndim);
    return axis >= 0 ? [{ w, axis, len: w.type.shape[axis] }] : [];
  });
}

/**
 * True when a value of shape x reaches shape out by adding leading axes and stretching
 * statically-1 axes only, so that every other length of x equals out's, statically.
 */
function coversStatically(x: readonly (number | null)[], out: readonly (number | null)[]): boolean {
  const lead = out.length - x.length;
  return lead >= 0 && x.every((a, i) => a === out[i + lead] || a === 1);
}

/**
 * Out's static shape, with each length its recorded type leaves unknown filled in where an
 * input of elementwise `node` has a static length other than 1 there (the broadcast, as a fresh
 * inference would give it; the others are checked against it at run time).
 *
 * Out's recorded type may know less than its inputs do now: a rewrite may have replaced an input
 * by a variable of a more refined type (a Reshape to `ShapeI` lengths folded to a constant, or
 * removed) without re-inferring the node's output. An unknown length is never refined to a
 * static 1, even where every input is 1 there: a static 1 broadcasts, so out's readers would
 * stretch a value whose unknown length they used to check (an invalid input that raised would
 * give a result). Inputs of conflicting static lengths leave it unknown (the node raises at run time).
 */
function staticOutShape(out: Variable, node: Apply): (number | null)[] {
  return out.type.shape.map((s, d) => {
    if (s !== null) return s;
    const known = lengthsAt(node, out, d).flatMap((r) => (r.len !== null && r.len !== 1 ? [r.len] : []));
    return known.length > 0 && known.every((l) => l === known[0]) ? known[0] : null;
  });
}

/**
 * Length expressions for out, the output of elementwise `node`: static lengths as numbers (a
 * length out's stale type leaves unknown but the inputs determine, too: see
 * {@link staticOutShape}), an unknown one as `ShapeI` of an input that has an unknown length
 * there. Elemwise checked every such input against the output at run time, so any of them gives
 * the length.
 */
export function outputLengths(out: Variable, node: Apply): (number | Variable)[] | null {
  const ot = out.type;
  const known = staticOutShape(out, node);
  const lens: (number | Variable)[] = [];
  for (let d = 0; d < ot.ndim; d++) {
    const s = known[d];
    if (s !== null) {
      lens.push(s);
      continue;
    }
    const src = lengthsAt(node, out, d).find((r) => r.len === null);
    if (src === undefined) return null;
    lens.push(shapeI(src.w, src.axis));
  }
  return lens;
}

/** The op of `v`'s owner when it is a (non-in-place) Elemwise applying `scalar`, else null. */
export function elemwiseOwner(v: Variable, ...scalars: string[]): Apply | null {
  const o = v.owner;
  if (o === null || !(o.op instanceof Elemwise) || o.op.props.inplace !== null) return null;
  return scalars.length === 0 || scalars.includes(o.op.props.scalar) ? o : null;
}

function scalarOf(node: Apply): string | null {
  return node.op instanceof Elemwise && node.op.props.inplace === null ? node.op.props.scalar : null;
}

/** A pre-filter (`NodeRewriter.matches`): the node is a non-in-place Elemwise applying one of `scalars`. */
export function appliesScalar(...scalars: string[]): (node: Apply) => boolean {
  return (node) => node.op instanceof Elemwise && node.op.props.inplace === null && scalars.includes(node.op.props.scalar);
}

/** A pre-filter: input `i` of the node is computed by a non-in-place Elemwise (applying one of `scalars`, when given). */
export function inputFromScalar(i: number, ...scalars: string[]): (node: Apply) => boolean {
  return (node) => i < node.inputs.length && elemwiseOwner(node.inputs[i], ...scalars) !== null;
}

/** A pre-filter: the node is a non-in-place Elemwise applying one of `scalars`, with a constant operand. */
export function appliesScalarToConstant(...scalars: string[]): (node: Apply) => boolean {
  const applies = appliesScalar(...scalars);
  return (node) => applies(node) && node.inputs.some((v) => v instanceof Constant);
}

const inputFromScalar0 = inputFromScalar(0);

/** True when every input of the node is a constant (constant folding's pre-filter). */
function allInputsConstant(node: Apply): boolean {
  for (const v of node.inputs) if (!(v instanceof Constant)) return false;
  return true;
}

/**
 * True when `v` is read by a graph output. The VM returns a constant output as the same array on
 * every call, so a caller that mutates one result would change the next call's: rules that
 * produce constants leave graph outputs symbolic (PyTensor's Alloc declines for this reason).
 */
export function isGraphOutput(fg: FunctionGraph, v: Variable): boolean {
  return (fg.clients.get(v) ?? []).some(([c]) => isOutputNode(c));
}

/**
 * True when replacing `node`'s output by `x` would hand the caller's own input array back as a
 * graph output. Copying ops (identity, cast, x * 1) give a fresh array in NONE; after the
 * rewrite the caller would get its argument back, and mutating one would change the other.
 * (View ops already alias their input in NONE, so removing them changes nothing a caller sees.)
 */
function wouldReturnInput(fg: FunctionGraph, node: Apply, x: Variable): boolean {
  return x.owner === null && !(x instanceof Constant) && isGraphOutput(fg, node.outputs[0]);
}

/** Register a canonicalization and return it (so tests can name it). */
function canon(rw: NodeRewriter, tags: readonly string[] = []): NodeRewriter {
  registerCanonicalize(rw, tags);
  return rw;
}

// ---------------------------------------------------------------------------------------------
// Constant folding
// ---------------------------------------------------------------------------------------------

/**
 * Folding never stores a constant larger than this many elements, unless it is no larger than
 * one of the node's inputs (which already lives in the graph). Ops that expand a small input
 * into a big array (Alloc, Arange, broadcasting) stay symbolic above the limit: a constant is
 * held for the function's lifetime, while the symbolic node allocates only while it runs.
 */
export const MAX_FOLD_ELEMENTS = 4096;

/**
 * Evaluate a node whose inputs are all constants, once, at compile time. Not folded:
 * - ops without `perform` (named ops, lazy Pullback nodes: they must be rewritten, not run);
 * - in-place ops (their perform would write into a constant's buffer);
 * - non-tensor outputs, and outputs over the size limit above;
 * - graph outputs (see `isGraphOutput`);
 * - buffers an update op reads in slot 0 (IncSubtensor x): a constant can never be destroyed, so
 *   folding would forbid the in-place update later (PyTensor's `Alloc.do_constant_folding`);
 * - nodes whose perform throws: the error belongs to run time, exactly as without rewriting.
 */
export const constantFolding = canon(
  nodeRewriter("constant_folding", null, (fg, node) => {
    const op = node.op;
    if (typeof op.perform !== "function" || Object.keys(op.destroyMap).length > 0) return null;
    if (!node.inputs.every((v) => v instanceof Constant)) return null;
    if (!node.outputs.every((o) => o.type instanceof TensorType)) return null;
    let limit = MAX_FOLD_ELEMENTS;
    for (const v of node.inputs) limit = Math.max(limit, (v as Constant).value.size);
    for (const o of node.outputs) {
      if (isGraphOutput(fg, o)) return null;
      for (const [c, i] of fg.clients.get(o) ?? []) {
        if (i === 0 && (c.op instanceof IncSubtensor || c.op instanceof AdvancedIncSubtensor)) return null;
      }
    }
    let values: NDArray[];
    try {
      values = op.perform(
        node,
        node.inputs.map((v) => (v as Constant).value),
      );
    } catch {
      return null;
    }
    const out: Variable[] = [];
    for (let k = 0; k < node.outputs.length; k++) {
      const t = node.outputs[k].type;
      const a = values[k];
      if (a === undefined || a.dtype !== t.dtype || a.ndim !== t.ndim || a.size > limit) return null;
      // A copy: a view op's result shares the input constant's buffer, and constants must not alias.
      out.push(constant(a.copy(), t.dtype));
    }
    return out;
  }, allInputsConstant),
  ["fast_compile"],
);

// ---------------------------------------------------------------------------------------------
// Useless nodes
// ---------------------------------------------------------------------------------------------

/** `dimshuffle(x, [0, 1, ..., n-1])` → x. */
export const uselessDimshuffle = canon(
  nodeRewriter("useless_dimshuffle", [DimShuffle], (_fg, node) => {
    const { inputNdim, order } = (node.op as DimShuffle).props;
    return order.length === inputNdim && order.every((o, i) => o === i) ? [node.inputs[0]] : null;
  }, (node) => {
    const { inputNdim, order } = (node.op as DimShuffle).props;
    return order.length === inputNdim && order.every((o, i) => o === i);
  }),
  ["fast_compile"],
);

/**
 * `reshape(x, lens)` → x when the result has x's shape: either both static shapes are fully
 * known and equal, or every length is x's own (a constant equal to x's static length, or
 * `ShapeI(x, i)`), which is what gradients of reshapes build.
 */
export const uselessReshape = canon(
  nodeRewriter("useless_reshape", [Reshape], (_fg, node) => {
    const [x, ...lens] = node.inputs;
    const xs = x.type.shape;
    if (lens.length !== xs.length) return null;
    const ok = lens.every((l, i) => {
      const c = constantInt(l);
      if (c !== null) return c === xs[i];
      const o = l.owner;
      return o !== null && o.op instanceof ShapeI && o.op.props.i === i && o.inputs[0] === x;
    });
    return ok ? [x] : null;
  }),
  ["fast_compile"],
);

/**
 * `identity(x)` → x, and `cast(x, dtype)` → x when x already has that dtype. Both are copies,
 * so the result now aliases x; inside the graph that is safe because in-place rewrites consult
 * the DestroyHandler, which sees the aliasing. At the graph boundary it is not (see
 * `wouldReturnInput`).
 */
export const uselessCastIdentity = canon(
  nodeRewriter("useless_cast_identity", [Elemwise], (fg, node) => {
    const s = scalarOf(node);
    const x = node.inputs[0];
    if (wouldReturnInput(fg, node, x)) return null;
    if (s === "identity" || (s === "cast" && x.type.dtype === node.outputs[0].type.dtype)) {
      return x.type.isSuper(node.outputs[0].type) && node.outputs[0].type.isSuper(x.type) ? [x] : null;
    }
    return null;
  }, appliesScalar("identity", "cast")),
  ["fast_compile"],
);

// ---------------------------------------------------------------------------------------------
// DimShuffle
// ---------------------------------------------------------------------------------------------

/** `ds(ds(x, o1), o2)` → `ds(x, o1 ∘ o2)`: output axis j reads inner axis o2[j], i.e. x axis o1[o2[j]]. */
export const dimshuffleMerge = canon(
  nodeRewriter("local_dimshuffle_merge", [DimShuffle], (_fg, node) => {
    const inner = node.inputs[0].owner;
    if (inner === null || !(inner.op instanceof DimShuffle)) return null;
    const o1 = inner.op.props.order;
    const order = (node.op as DimShuffle).props.order.map((o) => (o === "x" ? "x" : o1[o]));
    return [dimshuffle(inner.inputs[0], order)];
  }, inputOwnedBy(DimShuffle)),
  ["fast_compile"],
);

/**
 * `ds(elemwise(a, b))` → `elemwise(ds'(a), ds'(b))`, where ds' first left-pads each operand to
 * the output's rank (numpy's right alignment) and then applies the same order. Only when the
 * Elemwise has no other client: otherwise it would be computed twice. Pushing dimshuffles
 * towards the inputs lets them merge and vanish, and leaves Elemwise chains contiguous for fusion.
 */
export const dimshuffleLift = canon(
  nodeRewriter("local_dimshuffle_lift", [DimShuffle], (fg, node) => {
    const x = node.inputs[0];
    const ew = elemwiseOwner(x);
    if (ew === null || (fg.clients.get(x)?.length ?? 0) !== 1) return null;
    const nd = x.type.ndim;
    const order = (node.op as DimShuffle).props.order;
    const ins = ew.inputs.map((a) => {
      const pad = nd - a.type.ndim;
      const full = pad === 0 ? a : dimshuffle(a, [...Array.from({ length: pad }, () => "x" as const), ...Array.from({ length: a.type.ndim }, (_, i) => i)]);
      return dimshuffle(full, order);
    });
    const out = ew.op.makeNode(...ins).outputs[0];
    return node.outputs[0].type.isSuper(out.type) ? [out] : null;
  }, (node, fg) => inputFromScalar0(node) && (fg.clients.get(node.inputs[0])?.length ?? 0) === 1),
);

// ---------------------------------------------------------------------------------------------
// Arithmetic identities
// ---------------------------------------------------------------------------------------------

/**
 * Neutral elements, exact under IEEE 754:
 * - `x * 1`, `1 * x`, `x / 1` → x (also for NaN, ±inf, -0);
 * - `x - 0` → x (`-0 - 0` is -0);
 * - `x + 0`, `0 + x` → x only when the zero is -0.0, or x is int/bool: for a float x, `-0.0 + 0.0`
 *   is +0.0, so folding would flip the sign of zero and `1 / (x + 0)` would change from -inf to
 *   +inf. PyTensor folds it anyway; we diverge on purpose.
 * The result is cast and broadcast to the original output's type (`conformTo`).
 */
export const neutralElement = canon(
  nodeRewriter("local_neutral_element", [Elemwise], (fg, node) => {
    const s = scalarOf(node);
    const out = node.outputs[0];
    const [a, b] = node.inputs;
    const pick = (): Variable | null => {
      switch (s) {
        case "mul":
          if (isConstantFill(b, isOne)) return a;
          if (isConstantFill(a, isOne)) return b;
          return null;
        case "div":
          return isConstantFill(b, isOne) ? a : null;
        case "sub":
          return isConstantFill(b, isZero) ? a : null;
        case "add": {
          const zeroFor = (x: Variable, z: Variable): boolean => isConstantFill(z, (v) => v === 0 && (isDiscrete(x.type.dtype) || Object.is(v, -0)));
          if (zeroFor(a, b)) return a;
          if (zeroFor(b, a)) return b;
          return null;
        }
        default:
          return null;
      }
    };
    const x = pick();
    if (x === null || x instanceof Constant) return null;
    // The identity must hold in the output dtype: e.g. bool + False stays bool (logical or).
    const r = conformTo(x, out, node);
    return r === null || (r === x && wouldReturnInput(fg, node, x)) ? null : [r];
  }, appliesScalarToConstant("mul", "div", "sub", "add")),
  ["fast_compile"],
);

/**
 * `x * 0` → zeros, only for int and bool x. For floats it is unsound: `inf * 0` and `NaN * 0`
 * are NaN, not 0. PyTensor's `local_mul_zero` folds it for floats too; we do not.
 */
export const mulByZero = canon(
  nodeRewriter("local_mul_zero", [Elemwise], (_fg, node) => {
    if (scalarOf(node) !== "mul") return null;
    const out = node.outputs[0];
    const [a, b] = node.inputs;
    const x = isConstantFill(b, isZero) ? a : isConstantFill(a, isZero) ? b : null;
    if (x === null || isFloat(out.type.dtype) || isFloat(x.type.dtype)) return null;
    // Without x's run-time length checks against the constant, an invalid input would no longer
    // raise: require the lengths to agree statically (as the inputs determine them now).
    if (!standsFor(x, out, node)) return null;
    const lens = outputLengths(out, node);
    return lens === null ? null : [alloc(constant(0, out.type.dtype), lens)];
  }, appliesScalarToConstant("mul")),
  ["fast_compile"],
);

// ---------------------------------------------------------------------------------------------
// Reductions
// ---------------------------------------------------------------------------------------------

/**
 * `red(red(x, a1), a2)` → `red(x, a1 ∪ a2')` for the same kind, where a2' maps the outer axes
 * (numbered on the inner result) back to x's axes. Only when the inner reduction has no other
 * client. Exact for max/min/all/any; for sum and prod it reassociates (one rounding instead of
 * two), the float tolerance every reduction already has. Dtypes agree: sum/prod of ints is
 * int64 either way, all/any is bool either way.
 */
export const reduceOfReduce = canon(
  nodeRewriter("local_reduce_of_reduce", [Reduce], (fg, node) => {
    const inner = node.inputs[0].owner;
    if (inner === null || !(inner.op instanceof Reduce)) return null;
    if ((fg.clients.get(node.inputs[0])?.length ?? 0) !== 1) return null;
    const outer = (node.op as Reduce).props;
    const { kind, axes: a1 } = inner.op.props;
    if (outer.kind !== kind) return null;
    const x = inner.inputs[0];
    const kept = Array.from({ length: x.type.ndim }, (_, i) => i).filter((i) => !a1.includes(i));
    const merged = [...a1, ...outer.axes.map((j) => kept[j])];
    const out = new Reduce(kind, merged).makeNode(x).outputs[0];
    return node.outputs[0].type.isSuper(out.type) ? [out] : null;
  }, inputOwnedBy(Reduce)),
);

// ---------------------------------------------------------------------------------------------
// Shapes
// ---------------------------------------------------------------------------------------------

/** `ShapeI(x, i)` → constant when x's length i is static (PyTensor `local_subtensor_shape_constant`). */
export const shapeIConstant = canon(
  nodeRewriter("local_shape_i_constant", [ShapeI], (fg, node) => {
    if (isGraphOutput(fg, node.outputs[0])) return null;
    const s = node.inputs[0].type.shape[(node.op as ShapeI).props.i];
    return s === null ? null : [constant(s, "int64")];
  }),
  ["fast_compile"],
);

/** `Shape(x)` → constant vector when x's whole shape is static. */
export const shapeConstant = canon(
  nodeRewriter("local_shape_constant", [Shape], (fg, node) => {
    if (isGraphOutput(fg, node.outputs[0])) return null;
    const s = node.inputs[0].type.shape;
    if (!s.every((d): d is number => d !== null)) return null;
    return [constant(s as number[], "int64")];
  }),
  ["fast_compile"],
);

/** True for a slice that keeps the whole axis in order. */
function isFullSlice(e: number | SliceProp): boolean {
  return typeof e !== "number" && e.start === null && e.stop === null && (e.step === null || e.step === 1);
}

/**
 * `alloc(v, shape)[idx]` → `alloc(v', shape')` when every axis that idx actually indexes is one
 * v is broadcast along (absent from v, or statically 1 in v): then every element of the view
 * equals v broadcast, and only the shape changes. v' drops v's int-indexed axes. Int indices
 * need the axis length to be static (Subtensor's static check then already proved them in
 * range; a run-time IndexError would otherwise vanish). A sliced axis needs the view's length to
 * be static or the slice to be full (then Alloc's length input is reused).
 */
export const subtensorOfAlloc = canon(
  nodeRewriter("local_subtensor_of_alloc", [Subtensor], (_fg, node) => {
    const al = node.inputs[0].owner;
    if (al === null || !(al.op instanceof Alloc)) return null;
    const [v, ...lens] = al.inputs;
    const nd = lens.length;
    const lead = nd - v.type.ndim;
    const idx = (node.op as Subtensor).props.idx;
    const outShape = node.outputs[0].type.shape;
    const newLens: (number | Variable)[] = [];
    const vOrder: number[] = [];
    let k = 0;
    for (let d = 0; d < nd; d++) {
      const e = d < idx.length ? idx[d] : null;
      const full = e === null || isFullSlice(e);
      const vAxis = d - lead;
      const vBroadcast = vAxis < 0 || v.type.shape[vAxis] === 1;
      if (!full && !vBroadcast) return null;
      if (typeof e === "number") {
        if (al.outputs[0].type.shape[d] === null) return null;
        continue;
      }
      if (vAxis >= 0) vOrder.push(vAxis);
      const s = outShape[k++];
      if (s !== null) newLens.push(s);
      else if (full) newLens.push(lens[d]);
      else return null;
    }
    const v2 = vOrder.length === v.type.ndim ? v : dimshuffle(v, vOrder);
    const out = alloc(v2, newLens);
    return node.outputs[0].type.isSuper(out.type) ? [out] : null;
  }, inputOwnedBy(Alloc)),
);

/** Every canonicalization defined here, by rule name (for tests and coverage reports). */
export const CANONICALIZE_RULES: readonly NodeRewriter[] = [
  constantFolding,
  uselessDimshuffle,
  uselessReshape,
  uselessCastIdentity,
  dimshuffleMerge,
  dimshuffleLift,
  neutralElement,
  mulByZero,
  reduceOfReduce,
  shapeIConstant,
  shapeConstant,
  subtensorOfAlloc,
];
