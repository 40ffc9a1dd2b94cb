/**
 * Index (`isel`) and IndexUpdate (`x.isel(...).set(y)` / `.inc(y)`).
 *
 * An indexer per dim is an int (the dim is dropped), a slice (numpy semantics, the dim is
 * kept) or an integer xtensor (vectorized indexing: its dims replace the indexed dim, and
 * indexers sharing a dim name are zipped pointwise). The result dims are xarray's: walking x's
 * dims in order, a sliced dim contributes itself, an array contributes its own dims, an int
 * contributes nothing, and each name is kept at its first appearance.
 */
import { Apply, type Variable } from "../graph/basic.js";
import { isInt } from "../graph/type.js";
import { InvariantError, OpInputError } from "../errors.js";
import { normalizeSlice } from "../ndarray/ndarray.js";
import { constant } from "../tensor/basic.js";
import {
  type BasicIndex,
  advancedIncSubtensor,
  advancedSetSubtensor,
  advancedSubtensor,
  incSubtensor,
  setSubtensor,
  subtensor,
} from "../tensor/indexing.js";
import { arange, dimshuffle, shapeI, transpose as ptTranspose } from "../tensor/shape.js";
import { values } from "./basic.js";
import { cast } from "./elemwise.js";
import { XOp } from "./op.js";
import { type NamedArg, lowerAligned, requireDim, requireX, unionDims, wrapLowered, xtype } from "./common.js";
import { XTensorType, type XTensorLike, type XTensorVariable, fmtDims, isXTensorVariable, xconstant } from "./type.js";

/** A slice as an object (null or missing bounds mean numpy's defaults). */
export interface SliceIndex {
  readonly start?: number | null;
  readonly stop?: number | null;
  readonly step?: number | null;
}

/** A slice as a tuple `[start, stop, step]`, as in the case format. */
export type SliceTuple = readonly [number | null, (number | null)?, (number | null)?];

/** One indexer of `isel`: an int, a slice, or an integer xtensor (vectorized). */
export type Indexer = number | SliceIndex | SliceTuple | XTensorVariable;

/** The canonical indexer of one dim in op props; `arg` numbers the index arrays from 0. */
export type IndexSpec = { readonly int: number } | { readonly slice: readonly [number | null, number | null, number | null] } | { readonly arg: number };

const FULL: IndexSpec = { slice: [null, null, null] };

function isFull(s: IndexSpec): boolean {
  return "slice" in s && s.slice.every((v) => v === null);
}

/** The static result of indexing: the view's dims and lengths. */
interface IndexResult {
  readonly dims: string[];
  readonly shape: (number | null)[];
}

/**
 * Check an indexed node's inputs against its specs and compute the indexed view's dims. Shared
 * by Index and IndexUpdate so that both agree on what the view is.
 */
function analyse(op: string, x: XTensorType, idx: readonly IndexSpec[], arrays: readonly Variable[]): IndexResult {
  if (idx.length !== x.ndim) throw new OpInputError(`${op}: ${idx.length} index specs for x ${fmtDims(x.dims)}`);
  const used = new Set<number>();
  const parts: NamedArg[] = [];
  idx.forEach((s, p) => {
    const d = x.dims[p];
    const len = x.shape[p];
    if ("int" in s) {
      if (!Number.isInteger(s.int)) throw new OpInputError(`${op}: index ${s.int} for dim "${d}" is not an integer`);
      if (len !== null && (s.int >= len || s.int < -len)) {
        throw new OpInputError(`${op}: index ${s.int} is out of range for dim "${d}" of length ${len} in x ${fmtDims(x.dims)}`);
      }
    } else if ("slice" in s) {
      const [start, stop, step] = s.slice;
      for (const b of s.slice) if (b !== null && !Number.isInteger(b)) throw new OpInputError(`${op}: slice bound ${b} for dim "${d}" is not an integer`);
      if (step === 0) throw new OpInputError(`${op}: slice step for dim "${d}" cannot be zero`);
      const n = len === null ? null : normalizeSlice(len, start, stop, step).count;
      parts.push({ label: `x sliced along "${d}"`, type: new XTensorType("int64", [d], [n]) });
    } else {
      const a = arrays[s.arg];
      if (a === undefined || used.has(s.arg)) throw new InvariantError(`${op}: bad index-array reference ${s.arg} for dim "${d}"`);
      used.add(s.arg);
      const at = xtype(op, `the indexer for dim "${d}"`, a);
      if (!isInt(at.dtype)) throw new OpInputError(`${op}: the indexer for dim "${d}" must be an integer xtensor, got dtype ${at.dtype} with dims ${fmtDims(at.dims)}`);
      parts.push({ label: `the indexer for dim "${d}"`, type: at });
    }
  });
  if (used.size !== arrays.length) throw new InvariantError(`${op}: ${arrays.length} index arrays but ${used.size} referenced`);
  return unionDims(op, parts);
}

/** Positional basic index for a spec (arrays become full slices: they are applied later). */
function basicOf(s: IndexSpec): BasicIndex {
  if ("int" in s) return s.int;
  if ("slice" in s) return { start: s.slice[0], stop: s.slice[1], step: s.slice[2] };
  return { start: null, stop: null, step: null };
}

/** 0..n-1 (then sliced by `s`) along one dim, as an int64 index array placed in `target`. */
function rangeIndex(t: Variable, axis: number, s: IndexSpec, dim: string, target: readonly string[]): Variable {
  const n = t.type.shape[axis];
  let r: Variable;
  if (n !== null) {
    const { start, count, step } = "slice" in s ? normalizeSlice(n, ...s.slice) : { start: 0, count: n, step: 1 };
    r = constant(Array.from({ length: count }, (_, i) => start + i * step), "int64");
  } else {
    r = arange(0, shapeI(t, axis), 1);
    if ("slice" in s && !isFull(s)) r = subtensor(r, [basicOf(s)]);
  }
  const order = target.map((d) => (d === dim ? 0 : ("x" as const)));
  return dimshuffle(r, order);
}

/**
 * Lower `x[idx]` to positional indexing, returning the result with axes in `out` order.
 *
 * Basic indices (ints, slices) are applied first with a view-producing Subtensor. The index
 * arrays, plus an arange for any remaining dim that an array shares by name, then go to one
 * AdvancedSubtensor, each spread over the advanced dims in output order. numpy puts the
 * broadcast dims where the first advanced index was when the advanced indices are
 * consecutive, and in front otherwise; we compute which happened and transpose to `out`.
 */
function lowerIndex(x: Variable, idx: readonly IndexSpec[], arrays: readonly Variable[], out: readonly string[]): Variable {
  const xt = x.type as XTensorType;
  let t: Variable = values(x);
  if (!idx.every((s) => isFull(s) || "arg" in s)) t = subtensor(t, idx.map(basicOf));
  if (arrays.length === 0) return t;
  const kept = xt.dims.filter((_, p) => !("int" in idx[p]));
  const keptSpecs = idx.filter((s) => !("int" in s));
  const arrayDims = new Set(arrays.flatMap((a) => (a.type as XTensorType).dims));
  const adv = out.filter((d) => arrayDims.has(d));
  const isAdv = kept.map((d, p) => "arg" in keptSpecs[p] || arrayDims.has(d));
  const index = kept.map((d, p): BasicIndex | Variable => {
    const s = keptSpecs[p];
    // Each array's axes land on its dims' positions among the advanced dims ('x' elsewhere),
    // so numpy's broadcasting of the index arrays is exactly xarray's zipping by name.
    if ("arg" in s) return lowerAligned(arrays[s.arg], adv);
    // The slice was already applied by the Subtensor; a shared dim needs only 0..n-1.
    if (arrayDims.has(d)) return rangeIndex(t, p, FULL, d, adv);
    return { start: null, stop: null, step: null };
  });
  const r = advancedSubtensor(t, index);
  const first = isAdv.indexOf(true);
  const last = isAdv.lastIndexOf(true);
  const consecutive = isAdv.slice(first, last + 1).every((b) => b);
  const basicDims = kept.filter((_, p) => !isAdv[p]);
  const actual = consecutive ? [...kept.slice(0, first), ...adv, ...kept.slice(last + 1)] : [...adv, ...basicDims];
  if (actual.length !== out.length || !out.every((d) => actual.includes(d))) {
    throw new InvariantError(`isel: lowered dims ${fmtDims(actual)} do not match ${fmtDims(out)}`);
  }
  const perm = out.map((d) => actual.indexOf(d));
  return perm.every((p, i) => p === i) ? r : ptTranspose(r, perm);
}

/** Vectorized/basic selection `x.isel(...)`; inputs are x then the index arrays. */
export class Index extends XOp {
  readonly name = "Index";
  readonly props: { readonly idx: readonly IndexSpec[] };

  constructor(idx: readonly IndexSpec[]) {
    super();
    this.props = { idx: idx.map(canonical) };
  }

  makeNode(x: Variable, ...arrays: Variable[]): Apply {
    const xt = xtype("isel", "x", x);
    const r = analyse("isel", xt, this.props.idx, arrays);
    return new Apply(this, [x, ...arrays], [new XTensorType(xt.dtype, r.dims, r.shape)]);
  }

  lower(node: Apply): Variable[] {
    const [x, ...arrays] = node.inputs;
    const out = node.outputs[0].type as XTensorType;
    return [wrapLowered("isel", lowerIndex(x, this.props.idx, arrays, out.dims), out)];
  }
}

/** The mode of an index update: overwrite (last write wins on repeats) or accumulate. */
export type UpdateMode = "set" | "inc";

/**
 * `x` with the positions selected by `idx` overwritten by (`set`) or incremented by (`inc`)
 * `y`, which is aligned by name to the indexed view. Inputs are x, y, then the index arrays;
 * the output has x's type.
 */
export class IndexUpdate extends XOp {
  readonly name = "IndexUpdate";
  readonly props: { readonly mode: UpdateMode; readonly idx: readonly IndexSpec[] };

  constructor(mode: UpdateMode, idx: readonly IndexSpec[]) {
    super();
    if (mode !== "set" && mode !== "inc") throw new OpInputError(`IndexUpdate: unknown mode "${String(mode)}"`);
    this.props = { mode, idx: idx.map(canonical) };
  }

  makeNode(x: Variable, y: Variable, ...arrays: Variable[]): Apply {
    const op = this.props.mode;
    const xt = xtype(op, "x", x);
    const yt = xtype(op, "y", y);
    const view = analyse(op, xt, this.props.idx, arrays);
    for (const d of yt.dims) {
      if (!view.dims.includes(d)) throw new OpInputError(`${op}: dim "${d}" of y ${fmtDims(yt.dims)} is not a dim of the indexed view ${fmtDims(view.dims)}`);
    }
    unionDims(op, [
      { label: "the indexed view", type: new XTensorType(xt.dtype, view.dims, view.shape) },
      { label: "y", type: yt },
    ]);
    if (yt.dtype !== xt.dtype) throw new OpInputError(`${op}: y has dtype ${yt.dtype} but x has ${xt.dtype} (the builder casts y)`);
    return new Apply(this, [x, y, ...arrays], [xt]);
  }

  lower(node: Apply): Variable[] {
    const [x, y, ...arrays] = node.inputs;
    const xt = x.type as XTensorType;
    const idx = this.props.idx;
    const t = values(x);
    const view = analyse(this.props.mode, xt, idx, arrays);
    let index: (BasicIndex | Variable)[];
    if (arrays.length === 0) {
      index = idx.map(basicOf);
    } else {
      // Every dim gets an advanced index (ints as 0-d arrays, slices and untouched dims as
      // ranges) spread over the view's dims: with only advanced indices numpy lays the result
      // out in broadcast order, which is the view's order, so y aligns with no transpose.
      index = idx.map((s, p) => {
        if ("int" in s) return constant(s.int, "int64");
        if ("arg" in s) return lowerAligned(arrays[s.arg], view.dims);
        return rangeIndex(t, p, s, xt.dims[p], view.dims);
      });
    }
    const basic = arrays.length === 0;
    // y gets a length-1 axis for each view dim it lacks; the update ops broadcast it (numpy).
    const ya = lowerAligned(y, view.dims);
    let r: Variable;
    if (basic) r = this.props.mode === "set" ? setSubtensor(t, ya, index as BasicIndex[]) : incSubtensor(t, ya, index as BasicIndex[]);
    else r = this.props.mode === "set" ? advancedSetSubtensor(t, ya, index) : advancedIncSubtensor(t, ya, index);
    return [wrapLowered(this.props.mode, r, xt)];
  }
}

function canonical(s: IndexSpec): IndexSpec {
  if ("slice" in s) {
    const [start, stop, step] = s.slice;
    // A step of 1 is numpy's default; store it as null so equal slices compare equal.
    return { slice: [start ?? null, stop ?? null, step === 1 ? null : (step ?? null)] };
  }
  return s;
}

function toSpec(dim: string, ix: Indexer, arrays: XTensorVariable[]): IndexSpec {
  if (typeof ix === "number") return { int: ix };
  if (isXTensorVariable(ix)) {
    arrays.push(ix);
    return { arg: arrays.length - 1 };
  }
  if (Array.isArray(ix)) {
    const t = ix as SliceTuple;
    if ((t as readonly unknown[]).length === 0 || t.length > 3) throw new OpInputError(`isel: slice for dim "${dim}" must be [start, stop, step], got ${JSON.stringify(t)}`);
    return { slice: [t[0] ?? null, t[1] ?? null, t[2] ?? null] };
  }
  if (ix !== null && typeof ix === "object" && !("type" in ix)) {
    const o = ix as SliceIndex;
    return { slice: [o.start ?? null, o.stop ?? null, o.step ?? null] };
  }
  throw new OpInputError(`isel: indexer for dim "${dim}" must be an int, a slice or an integer xtensor, got ${String(ix)}`);
}

/**
 * Select by dim name. Unlisted dims are kept whole. Index arrays are passed to the node in x's
 * dim order, so the same selection always builds the same node.
 */
export function isel(x: XTensorVariable, indexers: Readonly<Record<string, Indexer>>): XTensorVariable {
  const xv = requireX("isel", "x", x);
  for (const d of Object.keys(indexers)) requireDim("isel", "x", xv.type, d);
  const arrays: XTensorVariable[] = [];
  const idx = xv.dims.map((d) => (Object.hasOwn(indexers, d) ? toSpec(d, indexers[d], arrays) : FULL));
  return new Index(idx).makeNode(xv, ...arrays).out as XTensorVariable;
}

function update(mode: UpdateMode, view: XTensorVariable, y: XTensorLike): XTensorVariable {
  const node = view.owner;
  if (node === null || !(node.op instanceof Index)) {
    throw new OpInputError(`${mode}: expected the result of isel(...), got ${view.toString()}`);
  }
  const [x, ...arrays] = node.inputs as XTensorVariable[];
  const yv = typeof y === "number" ? xconstant(y, [], x.type.dtype) : cast(requireX(mode, "y", y), x.type.dtype);
  return new IndexUpdate(mode, node.op.props.idx).makeNode(x, yv, ...arrays).out as XTensorVariable;
}

/** `x.isel(...).set(y)`: x with the selected positions set to y (last write wins on repeats). */
export function set(view: XTensorVariable, y: XTensorLike): XTensorVariable {
  return update("set", view, y);
}

/** `x.isel(...).inc(y)`: x with y added at the selected positions (repeats accumulate). */
export function inc(view: XTensorVariable, y: XTensorLike): XTensorVariable {
  return update("inc", view, y);
}
