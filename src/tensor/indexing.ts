/**
 * numpy indexing: basic (`Subtensor`, a view), advanced (`AdvancedSubtensor`, a gather) and the
 * update ops (`IncSubtensor`, `AdvancedIncSubtensor`, set or inc, optionally in place).
 *
 * Every indexed read or write is driven by one table of element offsets into x's buffer, in the
 * C order of the indexed view. The update kernels walk that table, so repeated advanced indices
 * accumulate under `inc` (np.add.at) and the last write in view order wins under `set`.
 *
 * numpy's placement rule for advanced indices (ints count as advanced when any array is
 * present): when all advanced entries are adjacent, their broadcast dims replace them in place;
 * when a slice separates them, the broadcast dims go to the front.
 */
import { Apply, Variable } from "../graph/basic.js";
import { type AliasMap, DISCONNECTED, type Disconnected, type GradTerm, Op, UndefinedGrad, linearPushforward } from "../graph/op.js";
import { type DType, TensorType, isFloat, isInt, shapeToString } from "../graph/type.js";
import { NDArray, coerce, fmtShape, normalizeSlice, sizeOf } from "../ndarray/ndarray.js";
import { DataError, OpInputError } from "../errors.js";
import { type TensorLike, asTensor, constant, upcast } from "./basic.js";
import { eq, where, zerosLike } from "./elemwise.js";
import { alloc, arange, lengthOf, reshape, shapeOf, sumToShapeOf } from "./shape.js";

/** A basic index entry: an int (negative counts from the end) or a slice with optional bounds. */
export type BasicIndex = number | { start: number | null; stop: number | null; step: number | null };

/** A slice as stored in op props: every bound explicit (null = numpy's default). */
export type SliceProp = {
  readonly start: number | null;
  readonly stop: number | null;
  readonly step: number | null;
};

/** An index entry as stored in advanced op props: an int, a slice, or `"array"` (the next index input). */
export type AdvIndexProp = number | SliceProp | "array";

/** Update mode of the inc/set ops. */
export type IncMode = "set" | "inc";

const FULL: SliceProp = Object.freeze({ start: null, stop: null, step: null });

function isSlice(e: AdvIndexProp): e is SliceProp {
  return typeof e === "object" && e !== null;
}

/** Validate and canonicalise one static index entry. */
function canonEntry(op: string, pos: number, e: BasicIndex): number | SliceProp {
  if (typeof e === "number") {
    if (!Number.isInteger(e)) throw new OpInputError(`${op}: index entry ${pos} must be an integer, got ${e}`);
    return e;
  }
  if (typeof e !== "object" || e === null) throw new OpInputError(`${op}: index entry ${pos} must be an int or a slice, got ${String(e)}`);
  const bound = (name: "start" | "stop" | "step"): number | null => {
    const v = e[name] ?? null;
    if (v !== null && !Number.isInteger(v)) throw new OpInputError(`${op}: slice ${name} at index entry ${pos} must be an integer or null, got ${v}`);
    return v;
  };
  const s = { start: bound("start"), stop: bound("stop"), step: bound("step") };
  if (s.step === 0) throw new OpInputError(`${op}: slice step at index entry ${pos} is 0`);
  return Object.freeze(s);
}

function idxToString(idx: readonly AdvIndexProp[]): string {
  const f = (v: number | null): string => (v === null ? "" : String(v));
  return `[${idx.map((e) => (e === "array" ? "<array>" : typeof e === "number" ? String(e) : `${f(e.start)}:${f(e.stop)}${e.step === null ? "" : `:${e.step}`}`)).join(", ")}]`;
}

/** The wrapped position of int index `i` on an axis of length n, or a DataError naming op, axis, index and length. */
function wrapIndex(op: string, axis: number, i: number, n: number): number {
  const j = i < 0 ? i + n : i;
  if (j < 0 || j >= n) throw new DataError(`${op}: index ${i} is out of range for axis ${axis} with length ${n}`);
  return j;
}

/** Static length of a slice, when the axis length is known. */
function staticSliceLength(n: number | null, s: SliceProp): number | null {
  return n === null ? null : normalizeSlice(n, s.start, s.stop, s.step).count;
}

function checkStaticInt(op: string, axis: number, i: number, n: number | null): void {
  if (n !== null && (i < -n || i >= n)) throw new OpInputError(`${op}: index ${i} is out of range for axis ${axis} with static length ${n}`);
}

function checkIdxLength(op: string, idx: readonly unknown[], t: TensorType): void {
  if (idx.length > t.ndim) throw new OpInputError(`${op}: ${idx.length} index entries for x with shape ${shapeToString(t.shape)} (ndim ${t.ndim})`);
}

function tensorArg(op: string, arg: string, v: Variable): TensorType {
  if (!(v.type instanceof TensorType)) throw new OpInputError(`${op}: ${arg} must be a positional tensor, got ${v.type.toString()}`);
  return v.type;
}

// ---- basic indexing ----

/** Static output shape of basic indexing. */
function basicShape(op: string, t: TensorType, idx: readonly (number | SliceProp)[]): (number | null)[] {
  checkIdxLength(op, idx, t);
  const out: (number | null)[] = [];
  for (let d = 0; d < t.ndim; d++) {
    const e = d < idx.length ? idx[d] : FULL;
    if (typeof e === "number") checkStaticInt(op, d, e, t.shape[d]);
    else out.push(staticSliceLength(t.shape[d], e));
  }
  return out;
}

/** The basic-indexed view of `x` (shares its buffer). */
function basicView(op: string, x: NDArray, idx: readonly (number | SliceProp)[]): NDArray {
  if (idx.length > x.ndim) throw new DataError(`${op}: ${idx.length} index entries for x with shape ${fmtShape(x.shape)}`);
  const shape: number[] = [];
  const strides: number[] = [];
  let off = x.offset;
  for (let d = 0; d < x.ndim; d++) {
    const e = d < idx.length ? idx[d] : FULL;
    const n = x.shape[d];
    if (typeof e === "number") {
      off += wrapIndex(op, d, e, n) * x.strides[d];
    } else {
      const s = normalizeSlice(n, e.start, e.stop, e.step);
      shape.push(s.count);
      strides.push(x.strides[d] * s.step);
      if (s.count > 0) off += s.start * x.strides[d];
    }
  }
  return new NDArray(x.dtype, shape, x.data, strides, off);
}

/** `x[idx]` with static ints and slices (any step, negative ints from the end). A view. */
export class Subtensor extends Op {
  readonly name = "Subtensor";
  readonly props: { readonly idx: readonly (number | SliceProp)[] };
  override readonly viewMap = { 0: [0] };
  constructor(idx: readonly BasicIndex[]) {
    super();
    this.props = { idx: Object.freeze(idx.map((e, i) => canonEntry("Subtensor", i, e))) };
  }
  makeNode(...inputs: Variable[]): Apply {
    if (inputs.length !== 1) throw new OpInputError(`Subtensor: expected 1 input, got ${inputs.length}`);
    const t = tensorArg("Subtensor", "x", inputs[0]);
    return new Apply(this, [inputs[0]], [new TensorType(t.dtype, basicShape("Subtensor", t, this.props.idx))]);
  }
  override perform(_node: Apply, [x]: readonly NDArray[]): NDArray[] {
    return [basicView("Subtensor", x, this.props.idx)];
  }
  /** Indexing selects entries, so its adjoint scatters: dx = zeros_like(x) with g added at idx. */
  override pullback([x]: readonly Variable[], _outputs: readonly Variable[], [g]: readonly Variable[]): GradTerm[] {
    return [onlyFloat(x, () => incSubtensor(zerosLike(x), g, this.props.idx))];
  }
  /** Selecting is linear: the same view of dx. */
  override pushforward(inputs: readonly Variable[], outputs: readonly Variable[], tangents: readonly (Variable | Disconnected)[]): (Variable | Disconnected)[] {
    return linearPushforward(this, inputs, outputs, tangents, [0], zerosLike);
  }
}

/** The term for a float input, DISCONNECTED for an integer or bool one (it has no gradient). */
function onlyFloat(v: Variable, term: () => Variable): GradTerm {
  return isFloat(v.type.dtype) ? term() : DISCONNECTED;
}

/** `x[idx]` with ints and slices only: a view. */
export function subtensor(x: TensorLike, idx: readonly BasicIndex[]): Variable {
  return new Subtensor(idx).makeNode(asTensor(x, "float64", "subtensor")).out;
}

// ---- advanced indexing: the offset plan ----

/** Static broadcast of index-array shapes (numpy rules); unknown lengths stay unknown unless fixed by another array. */
function staticBroadcast(op: string, shapes: readonly (readonly (number | null)[])[]): (number | null)[] {
  const nd = Math.max(0, ...shapes.map((s) => s.length));
  const out: (number | null)[] = new Array<number | null>(nd).fill(1);
  for (let d = 0; d < nd; d++) {
    let known: number | null = 1;
    let anyUnknown = false;
    for (const s of shapes) {
      const j = d - (nd - s.length);
      if (j < 0) continue;
      const v = s[j];
      if (v === null) anyUnknown = true;
      else if (v !== 1) {
        if (known !== 1 && known !== v) {
          throw new OpInputError(`${op}: index arrays with shapes ${shapes.map(shapeToString).join(", ")} do not broadcast (axis ${d}: ${known} vs ${v})`);
        }
        known = v;
      }
    }
    out[d] = known !== 1 ? known : anyUnknown ? null : 1;
  }
  return out;
}

/** Positions of the advanced entries (arrays, and ints when any array is present). */
function advancedPositions(idx: readonly AdvIndexProp[]): number[] {
  const hasArray = idx.includes("array");
  return idx.flatMap((e, d) => (e === "array" || (hasArray && typeof e === "number") ? [d] : []));
}

function isConsecutive(pos: readonly number[]): boolean {
  return pos.length === 0 || pos[pos.length - 1] - pos[0] + 1 === pos.length;
}

/** Static output shape of advanced indexing. */
function advancedShape(op: string, t: TensorType, idx: readonly AdvIndexProp[], arrays: readonly TensorType[]): (number | null)[] {
  checkIdxLength(op, idx, t);
  const full: AdvIndexProp[] = [...idx, ...new Array<AdvIndexProp>(t.ndim - idx.length).fill(FULL)];
  const adv = advancedPositions(full);
  let a = 0;
  const arrShapes: (readonly (number | null)[])[] = [];
  full.forEach((e, d) => {
    if (e === "array") arrShapes.push(arrays[a++].shape);
    else if (typeof e === "number") checkStaticInt(op, d, e, t.shape[d]);
  });
  const b = staticBroadcast(op, arrShapes);
  const slices = full.flatMap((e, d) => (isSlice(e) ? [staticSliceLength(t.shape[d], e)] : []));
  if (adv.length === 0) return slices;
  if (!isConsecutive(adv)) return [...b, ...slices];
  const before = full.slice(0, adv[0]).length; // all slices
  return [...slices.slice(0, before), ...b, ...slices.slice(before)];
}

/**
 * The element offsets (into `x.data`) of `x[idx]` in the C order of the result, and its shape.
 * Index arrays are broadcast against each other; their combined offsets form one "table" axis
 * that is placed in front or in place per numpy's rule. One Int32Array per call, none per element.
 */
export function advancedOffsets(op: string, x: NDArray, idx: readonly AdvIndexProp[], arrays: readonly NDArray[]): { shape: number[]; offsets: Int32Array } {
  if (idx.length > x.ndim) throw new DataError(`${op}: ${idx.length} index entries for x with shape ${fmtShape(x.shape)}`);
  const nd = x.ndim;
  const full: AdvIndexProp[] = [...idx, ...new Array<AdvIndexProp>(nd - idx.length).fill(FULL)];
  const adv = advancedPositions(full);
  // Broadcast shape of the index arrays (ints are 0-d).
  const arrAt: (NDArray | null)[] = new Array<NDArray | null>(nd).fill(null);
  let a = 0;
  full.forEach((e, d) => {
    if (e === "array") arrAt[d] = arrays[a++];
  });
  const bnd = Math.max(0, ...arrAt.map((r) => (r ? r.ndim : 0)));
  const bshape = new Array<number>(bnd).fill(1);
  for (const r of arrAt) {
    if (!r) continue;
    for (let i = 0; i < r.ndim; i++) {
      const j = bnd - r.ndim + i;
      const v = r.shape[i];
      if (v === 1) continue;
      if (bshape[j] !== 1 && bshape[j] !== v) {
        throw new DataError(`${op}: index arrays with shapes ${arrAt.filter((q): q is NDArray => q !== null).map((q) => fmtShape(q.shape)).join(", ")} do not broadcast`);
      }
      bshape[j] = v;
    }
  }
  const bsize = sizeOf(bshape);
  // table[b] = sum over advanced axes of stride * wrapped index, at broadcast position b.
  const table = new Int32Array(bsize);
  let scalarPart = 0;
  for (const d of adv) {
    const e = full[d];
    const n = x.shape[d];
    const st = x.strides[d];
    if (typeof e === "number") {
      scalarPart += wrapIndex(op, d, e, n) * st;
      continue;
    }
    const r = arrAt[d] as NDArray;
    const ro = r.broadcastTo(bshape).offsets();
    const rd = r.data;
    for (let b = 0; b < bsize; b++) {
      const i = rd[ro[b]];
      const j = i < 0 ? i + n : i;
      if (j < 0 || j >= n) throw new DataError(`${op}: index ${i} is out of range for axis ${d} with length ${n}`);
      table[b] += j * st;
    }
  }
  // Virtual axes: slices, plus the table axis; each contributes stride * i or table[i].
  const vlen: number[] = [];
  const vstride: number[] = [];
  const vtab: (Int32Array | null)[] = [];
  const outShape: number[] = [];
  let base = x.offset + scalarPart;
  const pushTable = (): void => {
    vlen.push(bsize);
    vstride.push(0);
    vtab.push(table);
    outShape.push(...bshape);
  };
  const front = adv.length > 0 && !isConsecutive(adv);
  if (front) pushTable();
  for (let d = 0; d < nd; d++) {
    const e = full[d];
    if (adv.length > 0 && !front && d === adv[0]) pushTable();
    if (!isSlice(e)) continue;
    const s = normalizeSlice(x.shape[d], e.start, e.stop, e.step);
    vlen.push(s.count);
    vstride.push(x.strides[d] * s.step);
    vtab.push(null);
    outShape.push(s.count);
    if (s.count > 0) base += s.start * x.strides[d];
  }
  const total = sizeOf(vlen);
  const offsets = new Int32Array(total);
  if (total === 0) return { shape: outShape, offsets };
  const nv = vlen.length;
  if (nv === 0) {
    offsets[0] = base;
    return { shape: outShape, offsets };
  }
  const last = nv - 1;
  const L = vlen[last];
  const lt = vtab[last];
  const ls = vstride[last];
  const ctr = new Int32Array(nv);
  // A table axis contributes table[0] even at counter 0, so the first row needs it too.
  const outerAt = (): number => {
    let o = base;
    for (let q = 0; q < last; q++) {
      const t = vtab[q];
      o += t ? t[ctr[q]] : ctr[q] * vstride[q];
    }
    return o;
  };
  let k = 0;
  let outer = outerAt();
  for (;;) {
    if (lt) for (let i = 0; i < L; i++) offsets[k++] = outer + lt[i];
    else for (let i = 0, o = outer; i < L; i++, o += ls) offsets[k++] = o;
    let d = last - 1;
    while (d >= 0) {
      if (++ctr[d] < vlen[d]) break;
      ctr[d] = 0;
      d--;
    }
    if (d < 0) break;
    outer = outerAt();
  }
  return { shape: outShape, offsets };
}

/** Split a builder index into props entries and the index-array inputs. */
function splitAdvanced(op: string, idx: readonly (BasicIndex | Variable)[]): { props: AdvIndexProp[]; arrays: Variable[] } {
  const props: AdvIndexProp[] = [];
  const arrays: Variable[] = [];
  idx.forEach((e, i) => {
    if (e instanceof Variable) {
      const t = tensorArg(op, `index entry ${i}`, e);
      if (!isInt(t.dtype)) throw new OpInputError(`${op}: index entry ${i} must be an integer array, got ${t.toString()}`);
      props.push("array");
      arrays.push(e);
    } else props.push(canonEntry(op, i, e));
  });
  return { props, arrays };
}

function canonAdvanced(op: string, idx: readonly AdvIndexProp[]): readonly AdvIndexProp[] {
  return Object.freeze(idx.map((e, i) => (e === "array" ? e : canonEntry(op, i, e))));
}

/** Rebuild a builder index from props and the node's index inputs. */
function joinAdvanced(idx: readonly AdvIndexProp[], arrays: readonly Variable[]): (BasicIndex | Variable)[] {
  let a = 0;
  return idx.map((e) => (e === "array" ? arrays[a++] : e));
}

function checkIndexArrays(op: string, idx: readonly AdvIndexProp[], arrays: readonly Variable[]): TensorType[] {
  const want = idx.filter((e) => e === "array").length;
  if (arrays.length !== want) throw new OpInputError(`${op}: index ${idxToString(idx)} needs ${want} index arrays, got ${arrays.length}`);
  return arrays.map((v, i) => {
    const t = tensorArg(op, `index array ${i}`, v);
    if (!isInt(t.dtype)) throw new OpInputError(`${op}: index array ${i} must have an integer dtype, got ${t.toString()}`);
    return t;
  });
}

/** numpy advanced indexing `x[idx]` where some entries are int arrays (inputs after x). A gather into a fresh buffer. */
export class AdvancedSubtensor extends Op {
  readonly name = "AdvancedSubtensor";
  readonly props: { readonly idx: readonly AdvIndexProp[] };
  constructor(idx: readonly AdvIndexProp[]) {
    super();
    this.props = { idx: canonAdvanced("AdvancedSubtensor", idx) };
  }
  makeNode(...inputs: Variable[]): Apply {
    if (inputs.length === 0) throw new OpInputError("AdvancedSubtensor: expected x and index arrays");
    const t = tensorArg("AdvancedSubtensor", "x", inputs[0]);
    const at = checkIndexArrays("AdvancedSubtensor", this.props.idx, inputs.slice(1));
    return new Apply(this, inputs, [new TensorType(t.dtype, advancedShape("AdvancedSubtensor", t, this.props.idx, at))]);
  }
  override perform(_node: Apply, [x, ...arrays]: readonly NDArray[]): NDArray[] {
    const { shape, offsets } = advancedOffsets("AdvancedSubtensor", x, this.props.idx, arrays);
    const out = NDArray.zeros(shape, x.dtype);
    const od = out.data;
    const xd = x.data;
    for (let k = 0; k < offsets.length; k++) od[k] = xd[offsets[k]];
    return [out];
  }
  /** A gather's adjoint is a scatter-add: dx = zeros_like(x) with g accumulated at idx (repeats add up). */
  override pullback([x, ...arrays]: readonly Variable[], _outputs: readonly Variable[], [g]: readonly Variable[]): GradTerm[] {
    return [onlyFloat(x, () => advancedIncSubtensor(zerosLike(x), g, joinAdvanced(this.props.idx, arrays))), ...arrays.map(() => new UndefinedGrad("integer index input of AdvancedSubtensor"))];
  }
  /** A gather is linear in x (the index arrays are parameters): the same gather of dx. */
  override pushforward(inputs: readonly Variable[], outputs: readonly Variable[], tangents: readonly (Variable | Disconnected)[]): (Variable | Disconnected)[] {
    return linearPushforward(this, inputs, outputs, tangents, [0], zerosLike);
  }
}

/** numpy indexing with int-array entries (Variables); falls back to `subtensor` when there are none. */
export function advancedSubtensor(x: TensorLike, idx: readonly (BasicIndex | Variable)[]): Variable {
  const t = asTensor(x, "float64", "advancedSubtensor");
  const { props, arrays } = splitAdvanced("advancedSubtensor", idx);
  if (arrays.length === 0) return subtensor(t, props as BasicIndex[]);
  return new AdvancedSubtensor(props).makeNode(t, ...arrays).out;
}

// ---- updates ----

/** y must broadcast to the view's static shape (numpy rules) and must not need a downcast to x's dtype. */
function checkUpdateValue(op: string, xt: TensorType, yt: TensorType, view: readonly (number | null)[]): void {
  if (upcast(xt.dtype, yt.dtype) !== xt.dtype) {
    throw new OpInputError(`${op}: y of dtype ${yt.dtype} cannot be written into x of dtype ${xt.dtype} without a downcast`);
  }
  if (yt.ndim > view.length) {
    throw new OpInputError(`${op}: y with shape ${shapeToString(yt.shape)} has more axes than the indexed view ${shapeToString(view)}`);
  }
  for (let i = 0; i < yt.ndim; i++) {
    const a = yt.shape[i];
    const b = view[view.length - yt.ndim + i];
    if (a !== null && a !== 1 && b !== null && a !== b) {
      throw new OpInputError(`${op}: y with shape ${shapeToString(yt.shape)} does not broadcast to the indexed view ${shapeToString(view)} of x with shape ${shapeToString(xt.shape)}`);
    }
  }
}

/** The update as a value for the kernel: y, for a number a constant of x's dtype. */
function asUpdate(y: TensorLike, dtype: DType, op: string): Variable {
  // NEP 50: a weak float written into an int or bool x would be a silent truncation.
  if (typeof y === "number" && !Number.isInteger(y) && !isFloat(dtype)) {
    throw new OpInputError(`${op}: y = ${y} cannot be written into x of dtype ${dtype} without a downcast`);
  }
  return asTensor(y, dtype, op);
}

/**
 * Write `y` (broadcast to the view) at the element offsets `dst` of `target`: assign (`set`, the
 * last write wins) or accumulate (`inc`, repeats add up, as np.add.at).
 */
function scatter(op: string, target: NDArray, dst: Int32Array, viewShape: readonly number[], y: NDArray, mode: IncMode): void {
  let yb: NDArray;
  // y may alias the buffer being written (an in-place update of x with a view of x): read it first.
  const ysrc = y.sharesBuffer(target) ? y.copy() : y;
  try {
    yb = ysrc.broadcastTo(viewShape);
  } catch {
    throw new DataError(`${op}: y with shape ${fmtShape(y.shape)} does not broadcast to the indexed view ${fmtShape(viewShape)}`);
  }
  const so = yb.offsets();
  const td = target.data;
  const yd = yb.data;
  const n = dst.length;
  if (target.dtype === "bool") {
    const c = coerce("bool");
    if (mode === "set") for (let k = 0; k < n; k++) td[dst[k]] = c(yd[so[k]]);
    else for (let k = 0; k < n; k++) td[dst[k]] = c(td[dst[k]] + yd[so[k]]);
    return;
  }
  // Typed-array stores already round to float32 and wrap int32 as numpy's casts do.
  if (mode === "set") for (let k = 0; k < n; k++) td[dst[k]] = yd[so[k]];
  else for (let k = 0; k < n; k++) td[dst[k]] += yd[so[k]];
}

/** Props shared by the update ops. */
type UpdateProps<I> = {
  readonly idx: readonly I[];
  readonly mode: IncMode;
  readonly inplace: boolean;
};

function checkMode(op: string, mode: IncMode): void {
  if (mode !== "set" && mode !== "inc") throw new OpInputError(`${op}: mode must be "set" or "inc", got ${String(mode)}`);
}

/**
 * `x` with `x[idx]` set to (or incremented by) `y`, with basic indices. Not in place: copies x.
 * In place (`inplace: true`, made by the inplace pass via `withInplace()`): writes into x's buffer.
 */
export class IncSubtensor extends Op {
  readonly name = "IncSubtensor";
  readonly props: UpdateProps<number | SliceProp>;
  override readonly destroyMap: AliasMap;
  constructor(idx: readonly BasicIndex[], mode: IncMode, inplace = false) {
    super();
    checkMode("IncSubtensor", mode);
    this.props = { idx: Object.freeze(idx.map((e, i) => canonEntry("IncSubtensor", i, e))), mode, inplace };
    this.destroyMap = inplace ? { 0: [0] } : {};
  }
  /** The same update, writing into x's buffer. */
  withInplace(): IncSubtensor {
    return new IncSubtensor(this.props.idx, this.props.mode, true);
  }
  makeNode(...inputs: Variable[]): Apply {
    if (inputs.length !== 2) throw new OpInputError(`IncSubtensor: expected x and y, got ${inputs.length} inputs`);
    const xt = tensorArg("IncSubtensor", "x", inputs[0]);
    const yt = tensorArg("IncSubtensor", "y", inputs[1]);
    checkUpdateValue("IncSubtensor", xt, yt, basicShape("IncSubtensor", xt, this.props.idx));
    return new Apply(this, inputs, [xt]);
  }
  override perform(_node: Apply, [x, y]: readonly NDArray[]): NDArray[] {
    const target = this.props.inplace ? x : x.copy();
    const view = basicView("IncSubtensor", target, this.props.idx);
    scatter("IncSubtensor", target, view.offsets(), view.shape, y, this.props.mode);
    return [target];
  }
  /**
   * inc: out = x + P^T y, so dx = g and dy = unbroadcast(g[idx]).
   * set: out = x with x[idx] replaced, so dx = g with g[idx] = 0 and dy = unbroadcast(g[idx])
   * (basic indices never repeat, so every written position is a last write).
   */
  override pullback([x, y]: readonly Variable[], _outputs: readonly Variable[], [g]: readonly Variable[]): GradTerm[] {
    const idx = this.props.idx;
    const dx = onlyFloat(x, () => (this.props.mode === "inc" ? g : setSubtensor(g, 0, idx)));
    return [dx, onlyFloat(y, () => sumToShapeOf(subtensor(g, idx), y))];
  }
  /** Both modes are jointly linear in (x, y): the same update of dx by dy. */
  override pushforward(inputs: readonly Variable[], outputs: readonly Variable[], tangents: readonly (Variable | Disconnected)[]): (Variable | Disconnected)[] {
    return linearPushforward(this, inputs, outputs, tangents, [0, 1], zerosLike);
  }
}

/** `x` with `x[idx] += y` (basic indices; y broadcasts to the view). */
export function incSubtensor(x: TensorLike, y: TensorLike, idx: readonly BasicIndex[]): Variable {
  const xv = asTensor(x, "float64", "incSubtensor");
  return new IncSubtensor(idx, "inc").makeNode(xv, asUpdate(y, xv.type.dtype, "incSubtensor")).out;
}

/** `x` with `x[idx] = y` (basic indices; y broadcasts to the view). */
export function setSubtensor(x: TensorLike, y: TensorLike, idx: readonly BasicIndex[]): Variable {
  const xv = asTensor(x, "float64", "setSubtensor");
  return new IncSubtensor(idx, "set").makeNode(xv, asUpdate(y, xv.type.dtype, "setSubtensor")).out;
}

/**
 * `x` with `x[idx]` set to or incremented by `y`, numpy advanced indices (inputs x, y, then one
 * int array per `"array"` entry). `inc` accumulates repeated indices (np.add.at); `set` keeps
 * the last write in the view's C order.
 */
export class AdvancedIncSubtensor extends Op {
  readonly name = "AdvancedIncSubtensor";
  readonly props: UpdateProps<AdvIndexProp>;
  override readonly destroyMap: AliasMap;
  constructor(idx: readonly AdvIndexProp[], mode: IncMode, inplace = false) {
    super();
    checkMode("AdvancedIncSubtensor", mode);
    this.props = { idx: canonAdvanced("AdvancedIncSubtensor", idx), mode, inplace };
    this.destroyMap = inplace ? { 0: [0] } : {};
  }
  /** The same update, writing into x's buffer. */
  withInplace(): AdvancedIncSubtensor {
    return new AdvancedIncSubtensor(this.props.idx, this.props.mode, true);
  }
  makeNode(...inputs: Variable[]): Apply {
    if (inputs.length < 2) throw new OpInputError(`AdvancedIncSubtensor: expected x, y and index arrays, got ${inputs.length} inputs`);
    const xt = tensorArg("AdvancedIncSubtensor", "x", inputs[0]);
    const yt = tensorArg("AdvancedIncSubtensor", "y", inputs[1]);
    const at = checkIndexArrays("AdvancedIncSubtensor", this.props.idx, inputs.slice(2));
    checkUpdateValue("AdvancedIncSubtensor", xt, yt, advancedShape("AdvancedIncSubtensor", xt, this.props.idx, at));
    return new Apply(this, inputs, [xt]);
  }
  override perform(_node: Apply, [x, y, ...arrays]: readonly NDArray[]): NDArray[] {
    const target = this.props.inplace ? x : x.copy();
    const { shape, offsets } = advancedOffsets("AdvancedIncSubtensor", target, this.props.idx, arrays);
    scatter("AdvancedIncSubtensor", target, offsets, shape, y, this.props.mode);
    return [target];
  }
  /**
   * inc: out = x + P^T y with P a gather that may repeat rows, so dx = g and dy = unbroadcast(P g)
   * (an advanced inc pullback gathers). set: only the last write to each position survives, so
   * dx = g with g[idx] = 0, and dy = unbroadcast(mask * g[idx]) where mask marks the view
   * positions whose write survived: write ids 0..n-1 with set, read them back, compare.
   */
  override pullback([x, y, ...arrays]: readonly Variable[], _outputs: readonly Variable[], [g]: readonly Variable[]): GradTerm[] {
    const idx = joinAdvanced(this.props.idx, arrays);
    const undef = arrays.map(() => new UndefinedGrad("integer index input of AdvancedIncSubtensor"));
    // An integer x (or y) has no gradient: the update's output is then integer too.
    if (!isFloat(x.type.dtype)) return [DISCONNECTED, DISCONNECTED, ...undef];
    const gathered = advancedSubtensor(g, idx);
    if (this.props.mode === "inc") return [g, onlyFloat(y, () => sumToShapeOf(gathered, y)), ...undef];
    const n = lengthOf(reshape(gathered, [-1]), 0);
    const ids = reshape(arange(0, n, 1), shapeOf(gathered));
    const canvas = alloc(constant(-1, "int64"), shapeOf(x));
    const survivors = advancedSubtensor(advancedSetSubtensor(canvas, ids, idx), idx);
    const dy = where(eq(survivors, ids), gathered, 0);
    return [advancedSetSubtensor(g, 0, idx), onlyFloat(y, () => sumToShapeOf(dy, y)), ...undef];
  }
  /**
   * Both modes are jointly linear in (x, y) for fixed indices: the same update of dx by dy. With
   * set, the write that survives at a repeated position is the same one for values and tangents.
   */
  override pushforward(inputs: readonly Variable[], outputs: readonly Variable[], tangents: readonly (Variable | Disconnected)[]): (Variable | Disconnected)[] {
    return linearPushforward(this, inputs, outputs, tangents, [0, 1], zerosLike);
  }
}

function buildAdvancedUpdate(op: string, mode: IncMode, x: TensorLike, y: TensorLike, idx: readonly (BasicIndex | Variable)[]): Variable {
  const xv = asTensor(x, "float64", op);
  const yv = asUpdate(y, xv.type.dtype, op);
  const { props, arrays } = splitAdvanced(op, idx);
  if (arrays.length === 0) return new IncSubtensor(props as BasicIndex[], mode).makeNode(xv, yv).out;
  return new AdvancedIncSubtensor(props, mode).makeNode(xv, yv, ...arrays).out;
}

/** `x` with `x[idx] += y` under numpy advanced indexing; repeated indices accumulate. */
export function advancedIncSubtensor(x: TensorLike, y: TensorLike, idx: readonly (BasicIndex | Variable)[]): Variable {
  return buildAdvancedUpdate("advancedIncSubtensor", "inc", x, y, idx);
}

/** `x` with `x[idx] = y` under numpy advanced indexing; with repeated indices the last write wins. */
export function advancedSetSubtensor(x: TensorLike, y: TensorLike, idx: readonly (BasicIndex | Variable)[]): Variable {
  return buildAdvancedUpdate("advancedSetSubtensor", "set", x, y, idx);
}
