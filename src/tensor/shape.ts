/**
 * Shape ops: DimShuffle, Reshape, Join, Alloc, SpecifyShape, Shape, ShapeI and Arange.
 *
 * Every rule of an op sits beside it: makeNode (static type inference), perform, pullback and
 * connection pattern. DimShuffle, Reshape (of C-contiguous data) and SpecifyShape return views
 * that share the input's buffer and declare it in `viewMap`; Alloc and Join always return fresh
 * buffers, so in-place consumers may write into them.
 *
 * Length arguments are int scalar Variables (numbers become int64 constants). A constant length
 * is known statically and shows up in the output type; a symbolic one gives a `null` length.
 */
import { Apply, Constant, Variable } from "../graph/basic.js";
import { DISCONNECTED, type Disconnected, type GradTerm, Op, linearPushforward } from "../graph/op.js";
import { TensorType, isFloat, isInt, shapeToString } from "../graph/type.js";
import { NDArray, allocBuffer, coerce, cStrides, fmtShape, sizeOf } from "../ndarray/ndarray.js";
import { DataError, OpInputError } from "../errors.js";
import { type TensorLike, type TensorVariable, asTensor, constant, resultDtype, upcast } from "./basic.js";
import { add, cast, zerosLike } from "./elemwise.js";
import { sum } from "./reduce.js";
import { advancedSubtensor, subtensor } from "./indexing.js";

// ---- shared helpers ----

/** Normalise a possibly negative axis against `ndim` (axes may go up to `ndim - 1 + extra`). */
function normAxis(op: string, arg: string, axis: number, ndim: number, extra = 0): number {
  const n = ndim + extra;
  if (!Number.isInteger(axis) || axis < -n || axis >= n) {
    throw new OpInputError(`${op}: ${arg} ${axis} is out of range for ndim ${ndim}`);
  }
  return axis < 0 ? axis + n : axis;
}

/** The tensor for a length operand: an int scalar variable, or an int64 constant from a number. */
function asLength(op: string, arg: string, v: number | Variable): TensorVariable {
  if (typeof v === "number") {
    if (!Number.isInteger(v)) throw new OpInputError(`${op}: ${arg} must be an integer, got ${v}`);
    return constant(v, "int64");
  }
  const t = asTensor(v, "int64", op);
  if (!isInt(t.type.dtype) || t.type.ndim !== 0) {
    throw new OpInputError(`${op}: ${arg} must be an integer scalar, got ${t.type.toString()}`);
  }
  return t;
}

/** The value of an int scalar when it is a constant, else null. */
export function constantInt(v: Variable): number | null {
  if (!(v instanceof Constant) || v.value.ndim !== 0) return null;
  return v.value.data[v.value.offset];
}

/** Read an int scalar input at run time. */
function readInt(a: NDArray): number {
  return a.data[a.offset];
}

/** The static type of a positional tensor input, or an OpInputError naming the op and argument. */
function tensorTypeOf(op: string, arg: string, v: Variable): TensorType {
  if (!(v.type instanceof TensorType)) throw new OpInputError(`${op}: ${arg} must be a positional tensor, got ${v.type.toString()}`);
  return v.type;
}

/** `x.shape[i]` as a number when static, else a ShapeI node: the cheapest length expression. */
export function lengthOf(x: Variable, i: number): number | Variable {
  const s = x.type.shape[i];
  return s === null ? shapeI(x, i) : s;
}

/** Every length of `x`, static where known, for rebuilding x's shape in a pullback. */
export function shapeOf(x: Variable): (number | Variable)[] {
  return x.type.shape.map((_, i) => lengthOf(x, i));
}

/**
 * Sum `g` (shaped like a broadcast of `target`) back to `target`'s shape: the adjoint of numpy
 * broadcasting. Leading axes are summed away; an axis where target is statically 1 and `g` is
 * not is summed with keepdims. An axis whose target length is unknown may or may not have been
 * broadcast: there `g` is reshaped to `(t, -1)` on that axis and the new `-1` axis is summed,
 * which is a plain sum when t = 1 and the identity when t equals g's length. The result is cast
 * to target's dtype when both are floats.
 */
export function sumToShapeOf(g: Variable, target: Variable): Variable {
  const gt = tensorTypeOf("sumToShapeOf", "g", g);
  const tt = tensorTypeOf("sumToShapeOf", "target", target);
  const lead = gt.ndim - tt.ndim;
  if (lead < 0) throw new OpInputError(`sumToShapeOf: g ${shapeToString(gt.shape)} has fewer axes than target ${shapeToString(tt.shape)}`);
  let out: Variable = g;
  if (lead > 0) out = sum(out, Array.from({ length: lead }, (_, i) => i), false);
  const keepAxes: number[] = [];
  for (let i = 0; i < tt.ndim; i++) {
    if (tt.shape[i] === 1 && out.type.shape[i] !== 1) keepAxes.push(i);
  }
  if (keepAxes.length > 0) out = sum(out, keepAxes, true);
  // Ambiguous axes (target length unknown, g's not statically equal): split and sum.
  for (let i = 0; i < tt.ndim; i++) {
    const ts = tt.shape[i];
    const gs = out.type.shape[i];
    if (ts !== null || gs === 1) continue;
    const parts: (number | Variable)[] = [];
    for (let j = 0; j < out.type.ndim; j++) {
      if (j === i) parts.push(lengthOf(target, i), -1);
      else parts.push(lengthOf(out, j));
    }
    out = sum(reshape(out, parts), [i + 1], false);
  }
  if (out.type.dtype !== tt.dtype && isFloat(tt.dtype) && isFloat(out.type.dtype)) out = cast(out, tt.dtype);
  return out;
}

// ---- DimShuffle ----

/**
 * Permute, drop and insert axes: `order[j]` is the input axis shown as output axis j, or `"x"`
 * for a new length-1 axis. Input axes missing from `order` are dropped and must have static
 * length 1. A view: the output shares x's buffer.
 */
export class DimShuffle extends Op {
  readonly name = "DimShuffle";
  readonly props: { readonly inputNdim: number; readonly order: readonly (number | "x")[] };
  override readonly viewMap = { 0: [0] };
  /** Input axes absent from `order` (each of length 1). */
  readonly drop: readonly number[];

  constructor(inputNdim: number, order: readonly (number | "x")[]) {
    super();
    const seen = new Set<number>();
    for (const o of order) {
      if (o === "x") continue;
      if (!Number.isInteger(o) || o < 0 || o >= inputNdim) {
        throw new OpInputError(`DimShuffle: order entry ${o} is out of range for an input of ndim ${inputNdim} (order ${JSON.stringify(order)})`);
      }
      if (seen.has(o)) throw new OpInputError(`DimShuffle: axis ${o} appears twice in order ${JSON.stringify(order)}`);
      seen.add(o);
    }
    this.drop = Array.from({ length: inputNdim }, (_, i) => i).filter((i) => !seen.has(i));
    this.props = { inputNdim, order: Object.freeze([...order]) };
  }

  makeNode(...inputs: Variable[]): Apply {
    if (inputs.length !== 1) throw new OpInputError(`DimShuffle: expected 1 input, got ${inputs.length}`);
    const t = tensorTypeOf("DimShuffle", "x", inputs[0]);
    if (t.ndim !== this.props.inputNdim) {
      throw new OpInputError(`DimShuffle: x has shape ${shapeToString(t.shape)} (ndim ${t.ndim}) but the op expects ndim ${this.props.inputNdim}`);
    }
    for (const d of this.drop) {
      if (t.shape[d] !== 1) {
        throw new OpInputError(`DimShuffle: cannot drop axis ${d} of x with shape ${shapeToString(t.shape)}: its static length must be 1`);
      }
    }
    const shape = this.props.order.map((o) => (o === "x" ? 1 : t.shape[o]));
    return new Apply(this, [inputs[0]], [new TensorType(t.dtype, shape)]);
  }

  override perform(_node: Apply, [x]: readonly NDArray[]): NDArray[] {
    if (x.ndim !== this.props.inputNdim) throw new DataError(`DimShuffle: x has shape ${fmtShape(x.shape)}, expected ndim ${this.props.inputNdim}`);
    for (const d of this.drop) {
      if (x.shape[d] !== 1) throw new DataError(`DimShuffle: dropped axis ${d} of x with shape ${fmtShape(x.shape)} has length ${x.shape[d]}, not 1`);
    }
    const shape: number[] = [];
    const strides: number[] = [];
    for (const o of this.props.order) {
      shape.push(o === "x" ? 1 : x.shape[o]);
      strides.push(o === "x" ? 0 : x.strides[o]);
    }
    return [new NDArray(x.dtype, shape, x.data, strides, x.offset)];
  }

  /** The transpose of a permutation is its inverse: output axis j goes back to input axis order[j]; "x" axes are dropped and dropped axes come back as "x". */
  override pullback(_inputs: readonly Variable[], [out]: readonly Variable[], [g]: readonly Variable[]): GradTerm[] {
    let gg = g;
    // Dropping an "x" axis of g needs its static length to be 1.
    if (this.props.order.some((o, j) => o === "x" && g.type.shape[j] !== 1)) gg = specifyShape(g, out.type.shape as (number | null)[]);
    const inv: (number | "x")[] = new Array<number | "x">(this.props.inputNdim).fill("x");
    this.props.order.forEach((o, j) => {
      if (o !== "x") inv[o] = j;
    });
    return [dimshuffle(gg, inv)];
  }

  /** A permutation (with axes of length 1 added or dropped) is linear: the same shuffle of dx. */
  override pushforward(inputs: readonly Variable[], outputs: readonly Variable[], tangents: readonly (Variable | Disconnected)[]): (Variable | Disconnected)[] {
    return linearPushforward(this, inputs, outputs, tangents, [0], zerosLike);
  }
}

/** Permute, drop (static length 1) and insert (`"x"`) axes of x; a view. */
export function dimshuffle(x: TensorLike, order: readonly (number | "x")[]): Variable {
  const t = asTensor(x, "float64", "dimshuffle");
  return new DimShuffle(t.type.ndim, order).makeNode(t).out;
}

/** Permute the axes of x (`perm` defaults to reversing them); a view. */
export function transpose(x: TensorLike, perm?: readonly number[]): Variable {
  const t = asTensor(x, "float64", "transpose");
  const n = t.type.ndim;
  const p = perm ? perm.map((a) => normAxis("transpose", "axis", a, n)) : Array.from({ length: n }, (_, i) => n - 1 - i);
  if (p.length !== n || new Set(p).size !== n) {
    throw new OpInputError(`transpose: perm ${JSON.stringify(perm)} is not a permutation of the ${n} axes of x with shape ${shapeToString(t.type.shape)}`);
  }
  return dimshuffle(t, p);
}

/** Insert a length-1 axis at `axis` (negative counts from the end of the result); a view. */
export function expandDims(x: TensorLike, axis: number): Variable {
  const t = asTensor(x, "float64", "expandDims");
  const n = t.type.ndim;
  const a = normAxis("expandDims", "axis", axis, n, 1);
  const order: (number | "x")[] = Array.from({ length: n }, (_, i) => i);
  order.splice(a, 0, "x");
  return dimshuffle(t, order);
}

/**
 * Remove length-1 axes (default: every axis statically known to be 1). An axis whose static
 * length is unknown is first asserted to be 1 by a SpecifyShape, as PyTensor's squeeze does.
 */
export function squeeze(x: TensorLike, axes?: readonly number[]): Variable {
  let t: Variable = asTensor(x, "float64", "squeeze");
  const shp = t.type.shape;
  const ax = axes ? axes.map((a) => normAxis("squeeze", "axis", a, shp.length)) : shp.flatMap((s, i) => (s === 1 ? [i] : []));
  for (const a of ax) {
    if (shp[a] !== null && shp[a] !== 1) throw new OpInputError(`squeeze: axis ${a} of x with shape ${shapeToString(shp)} has length ${shp[a]}, not 1`);
  }
  if (ax.some((a) => shp[a] === null)) t = specifyShape(t, shp.map((s, i) => (ax.includes(i) ? 1 : s)));
  return dimshuffle(
    t,
    shp.flatMap((_, i) => (ax.includes(i) ? [] : [i])),
  );
}

// ---- Reshape ----

/** Resolve a `-1` entry of a reshape target for `size` elements; errors name the shapes. */
function resolveReshape(inShape: readonly number[], target: number[]): number[] {
  const size = sizeOf(inShape);
  const neg = target.indexOf(-1);
  if (neg >= 0) {
    let rest = 1;
    target.forEach((s, i) => {
      if (i !== neg) rest *= s;
    });
    // A zero-sized rest makes -1 ambiguous; numpy raises, we pick 0 only when size is 0 too.
    if (rest === 0) {
      if (size !== 0) throw new DataError(`Reshape: cannot reshape x with shape ${fmtShape(inShape)} to ${JSON.stringify(target)}`);
      target[neg] = 0;
    } else {
      if (size % rest !== 0) throw new DataError(`Reshape: cannot reshape x with shape ${fmtShape(inShape)} (${size} elements) to ${JSON.stringify(target)}`);
      target[neg] = size / rest;
    }
  }
  for (const s of target) {
    if (s < 0) throw new DataError(`Reshape: negative length in target shape ${JSON.stringify(target)}`);
  }
  if (sizeOf(target) !== size) throw new DataError(`Reshape: cannot reshape x with shape ${fmtShape(inShape)} (${size} elements) to ${fmtShape(target)}`);
  return target;
}

/**
 * Reshape x (C order) to `ndim` lengths given as int scalar inputs; one may be -1. A view when
 * x is C-contiguous, otherwise a copy, so `viewMap` is declared.
 */
export class Reshape extends Op {
  readonly name = "Reshape";
  readonly props: { readonly ndim: number };
  override readonly viewMap = { 0: [0] };
  constructor(ndim: number) {
    super();
    if (!Number.isInteger(ndim) || ndim < 0) throw new OpInputError(`Reshape: ndim must be a non-negative integer, got ${ndim}`);
    this.props = { ndim };
  }

  makeNode(...inputs: Variable[]): Apply {
    const n = this.props.ndim;
    if (inputs.length !== n + 1) throw new OpInputError(`Reshape: expected x and ${n} lengths, got ${inputs.length} inputs`);
    const t = tensorTypeOf("Reshape", "x", inputs[0]);
    const lens = inputs.slice(1).map((v, i) => asLength("Reshape", `length ${i}`, v));
    const consts = lens.map(constantInt);
    const negs = consts.flatMap((c, i) => (c === -1 ? [i] : []));
    if (negs.length > 1) throw new OpInputError(`Reshape: at most one length may be -1, got ${JSON.stringify(consts)}`);
    for (const [i, c] of consts.entries()) {
      if (c !== null && c < -1) throw new OpInputError(`Reshape: length ${i} is ${c}; lengths must be >= 0 or -1`);
    }
    const shape: (number | null)[] = consts.map((c) => (c === -1 ? null : c));
    const inSize = t.shape.every((s) => s !== null) ? sizeOf(t.shape as number[]) : null;
    const known = shape.every((s, i) => s !== null || negs[0] === i);
    if (inSize !== null && known) {
      const rest = sizeOf(shape.filter((s): s is number => s !== null));
      if (negs.length === 1) {
        if (rest !== 0 && inSize % rest === 0) shape[negs[0]] = inSize / rest;
        else if (!(rest === 0 && inSize === 0)) {
          throw new OpInputError(`Reshape: cannot reshape x with shape ${shapeToString(t.shape)} to ${JSON.stringify(consts)}`);
        }
      } else if (rest !== inSize) {
        throw new OpInputError(`Reshape: cannot reshape x with shape ${shapeToString(t.shape)} (${inSize} elements) to ${shapeToString(shape)}`);
      }
    }
    if (n === 0 && inSize !== null && inSize !== 1) throw new OpInputError(`Reshape: cannot reshape x with shape ${shapeToString(t.shape)} to ()`);
    return new Apply(this, [inputs[0], ...lens], [new TensorType(t.dtype, shape)]);
  }

  override perform(_node: Apply, [x, ...lens]: readonly NDArray[]): NDArray[] {
    const target = resolveReshape(x.shape, lens.map(readInt));
    if (x.isCContiguous()) return [new NDArray(x.dtype, target, x.data, cStrides(target), x.offset)];
    return [new NDArray(x.dtype, target, x.copy().data)];
  }

  override connectionPattern(node: Apply): boolean[][] {
    return node.inputs.map((_, i) => [i === 0]);
  }

  /** Reshape is a linear bijection of the flat data, so its adjoint reshapes back: dx = reshape(g, x.shape). */
  override pullback([x, ...lens]: readonly Variable[], _outputs: readonly Variable[], [g]: readonly Variable[]): GradTerm[] {
    return [reshape(g, shapeOf(x)), ...lens.map((): GradTerm => DISCONNECTED)];
  }

  /** Linear in x, the lengths are parameters: dx reshaped the same way. */
  override pushforward(inputs: readonly Variable[], outputs: readonly Variable[], tangents: readonly (Variable | Disconnected)[]): (Variable | Disconnected)[] {
    return linearPushforward(this, inputs, outputs, tangents, [0], zerosLike);
  }
}

/** Reshape x in C order; `shape` entries are ints (one may be -1) or int scalar variables. */
export function reshape(x: TensorLike, shape: readonly (number | Variable)[]): Variable {
  const t = asTensor(x, "float64", "reshape");
  const lens = shape.map((s, i) => asLength("reshape", `length ${i}`, s));
  return new Reshape(shape.length).makeNode(t, ...lens).out;
}

// ---- Join ----

/** numpy `concatenate` along `axis`, with dtype upcast. Always a fresh buffer. */
export class Join extends Op {
  readonly name = "Join";
  readonly props: { readonly axis: number };
  constructor(axis: number) {
    super();
    if (!Number.isInteger(axis) || axis < 0) throw new OpInputError(`Join: axis must be a non-negative integer (normalise negatives in the builder), got ${axis}`);
    this.props = { axis };
  }

  makeNode(...inputs: Variable[]): Apply {
    if (inputs.length === 0) throw new OpInputError("Join: needs at least one input");
    const types = inputs.map((v, i) => tensorTypeOf("Join", `input ${i}`, v));
    const nd = types[0].ndim;
    const ax = this.props.axis;
    if (ax >= nd) throw new OpInputError(`Join: axis ${ax} is out of range for input 0 with shape ${shapeToString(types[0].shape)}`);
    const shape: (number | null)[] = [...types[0].shape];
    for (let k = 1; k < types.length; k++) {
      const tk = types[k];
      if (tk.ndim !== nd) {
        throw new OpInputError(`Join: input ${k} has shape ${shapeToString(tk.shape)} (ndim ${tk.ndim}) but input 0 has shape ${shapeToString(types[0].shape)} (ndim ${nd})`);
      }
      for (let d = 0; d < nd; d++) {
        if (d === ax) continue;
        const a = shape[d];
        const b = tk.shape[d];
        if (a !== null && b !== null && a !== b) {
          throw new OpInputError(
            `Join: along axis ${ax}, input ${k} with shape ${shapeToString(tk.shape)} does not match the other inputs (${shapeToString(types[0].shape)}) at axis ${d}: ${b} vs ${a}`,
          );
        }
        if (a === null) shape[d] = b;
      }
    }
    let total: number | null = 0;
    for (const tk of types) total = total === null || tk.shape[ax] === null ? null : total + (tk.shape[ax] as number);
    shape[ax] = total;
    const dtype = upcast(...types.map((tk) => tk.dtype));
    return new Apply(this, inputs, [new TensorType(dtype, shape)]);
  }

  override perform(node: Apply, xs: readonly NDArray[]): NDArray[] {
    const ax = this.props.axis;
    const shape = [...xs[0].shape];
    let total = 0;
    for (let k = 0; k < xs.length; k++) {
      const xk = xs[k];
      for (let d = 0; d < shape.length; d++) {
        if (d !== ax && xk.shape[d] !== shape[d]) {
          throw new DataError(`Join: along axis ${ax}, input ${k} with shape ${fmtShape(xk.shape)} does not match input 0 with shape ${fmtShape(xs[0].shape)} at axis ${d}`);
        }
      }
      total += xk.shape[ax];
    }
    shape[ax] = total;
    const dtype = node.outputs[0].type.dtype;
    const out = NDArray.zeros(shape, dtype);
    let start = 0;
    for (const xk of xs) {
      const n = xk.shape[ax];
      if (n > 0) copyInto(out.sliceAxis(ax, start, n, 1), xk);
      start += n;
    }
    return [out];
  }

  /** Concatenation is a block stack, so its adjoint slices: dx_k = g[..., off_k : off_k + n_k, ...]. */
  override pullback(inputs: readonly Variable[], _outputs: readonly Variable[], [g]: readonly Variable[]): GradTerm[] {
    const ax = this.props.axis;
    const lens = inputs.map((v) => v.type.shape[ax]);
    const terms: GradTerm[] = [];
    let off: number | Variable = 0;
    for (let k = 0; k < inputs.length; k++) {
      const n = lens[k];
      let gk: Variable;
      const lead = Array.from({ length: ax }, () => ({ start: null, stop: null, step: null }));
      if (typeof off === "number" && n !== null) {
        gk = subtensor(g, [...lead, { start: off, stop: off + n, step: 1 }]);
      } else {
        // Dynamic bounds cannot live in Subtensor's static props: gather with an arange index.
        gk = advancedSubtensor(g, [...lead, arange(off, add(off, lengthOf(inputs[k], ax)), 1)]);
      }
      terms.push(castLike(gk, inputs[k]));
      off = typeof off === "number" && n !== null ? off + n : add(off, lengthOf(inputs[k], ax));
    }
    return terms;
  }

  /** Concatenation is jointly linear in its inputs: the tangents joined, zeros for an input without one. */
  override pushforward(inputs: readonly Variable[], outputs: readonly Variable[], tangents: readonly (Variable | Disconnected)[]): (Variable | Disconnected)[] {
    return linearPushforward(this, inputs, outputs, tangents, inputs.map((_, i) => i), zerosLike);
  }
}

/** Cast a float cotangent to the float dtype of its primal, so pullbacks return the input's type. */
function castLike(g: Variable, x: Variable): Variable {
  if (g.type.dtype !== x.type.dtype && isFloat(g.type.dtype) && isFloat(x.type.dtype)) return cast(g, x.type.dtype);
  return g;
}

/** Copy `src` (same shape, any dtype) into the strided view `dst`, converting to dst's dtype. */
function copyInto(dst: NDArray, src: NDArray): void {
  const d = dst.offsets();
  const s = src.offsets();
  const c = coerce(dst.dtype);
  const dd = dst.data;
  const sd = src.data;
  if (dst.dtype === src.dtype || dst.dtype === "float64" || dst.dtype === "int64") {
    for (let i = 0; i < d.length; i++) dd[d[i]] = sd[s[i]];
  } else {
    for (let i = 0; i < d.length; i++) dd[d[i]] = c(sd[s[i]]);
  }
}

/** Concatenate tensors along `axis` (negative counts from the end), numpy style. */
export function join(axis: number, ...xs: TensorLike[]): Variable {
  const dt = resultDtype(xs);
  const ts = xs.map((x) => asTensor(x, dt, "join"));
  if (ts.length === 0) throw new OpInputError("join: needs at least one input");
  const ax = normAxis("join", "axis", axis, ts[0].type.ndim);
  return new Join(ax).makeNode(...ts).out;
}

// ---- Alloc ----

/**
 * Broadcast `value` to a shape given by int scalar inputs (numpy rules: value's axes align with
 * the trailing output axes; each is 1 or equal). The output is a fresh buffer, never a view.
 */
export class Alloc extends Op {
  readonly name = "Alloc";
  readonly props = {};

  makeNode(...inputs: Variable[]): Apply {
    if (inputs.length === 0) throw new OpInputError("Alloc: expected a value and lengths");
    const vt = tensorTypeOf("Alloc", "value", inputs[0]);
    const lens = inputs.slice(1).map((v, i) => asLength("Alloc", `length ${i}`, v));
    const n = lens.length;
    if (vt.ndim > n) throw new OpInputError(`Alloc: value with shape ${shapeToString(vt.shape)} has more axes than the ${n} requested lengths`);
    const lead = n - vt.ndim;
    const shape: (number | null)[] = lens.map(constantInt);
    for (let i = 0; i < n; i++) {
      const s = shape[i];
      if (s !== null && s < 0) throw new OpInputError(`Alloc: length ${i} is ${s}; lengths must be >= 0`);
      if (i < lead) continue;
      const v = vt.shape[i - lead];
      if (v === null || v === 1) continue;
      if (s === null) shape[i] = v;
      else if (s !== v) {
        throw new OpInputError(`Alloc: cannot broadcast value with shape ${shapeToString(vt.shape)} to ${shapeToString(shape)}: axis ${i - lead} has length ${v}, not 1 or ${s}`);
      }
    }
    return new Apply(this, [inputs[0], ...lens], [new TensorType(vt.dtype, shape)]);
  }

  override perform(_node: Apply, [v, ...lens]: readonly NDArray[]): NDArray[] {
    const shape = lens.map(readInt);
    const out = NDArray.zeros(shape, v.dtype);
    if (out.size === 0) return [out];
    let src: NDArray;
    try {
      src = v.broadcastTo(shape);
    } catch {
      throw new DataError(`Alloc: cannot broadcast value with shape ${fmtShape(v.shape)} to ${fmtShape(shape)}`);
    }
    if (v.size === 1) out.data.fill(v.data[v.offset]);
    else copyInto(out, src);
    return [out];
  }

  override connectionPattern(node: Apply): boolean[][] {
    return node.inputs.map((_, i) => [i === 0]);
  }

  /** Broadcasting copies each value element to many places, so its adjoint sums them: dvalue = sum of g over broadcast axes. */
  override pullback([v, ...lens]: readonly Variable[], _outputs: readonly Variable[], [g]: readonly Variable[]): GradTerm[] {
    return [sumToShapeOf(g, v), ...lens.map((): GradTerm => DISCONNECTED)];
  }

  /** Broadcasting is linear in the value: dvalue broadcast the same way. */
  override pushforward(inputs: readonly Variable[], outputs: readonly Variable[], tangents: readonly (Variable | Disconnected)[]): (Variable | Disconnected)[] {
    return linearPushforward(this, inputs, outputs, tangents, [0], zerosLike);
  }
}

/** A fresh tensor of `shape` filled by broadcasting `value` (numpy rules). */
export function alloc(value: TensorLike, shape: readonly (number | Variable)[]): Variable {
  const v = asTensor(value, resultDtype([value]), "alloc");
  const lens = shape.map((s, i) => asLength("alloc", `length ${i}`, s));
  return new Alloc().makeNode(v, ...lens).out;
}

/**
 * Broadcast x to `shape` (numpy rules). Implemented as an Alloc, so the result owns its
 * buffer: a consumer may safely write into it in place.
 */
export function broadcastTo(x: TensorLike, shape: readonly (number | Variable)[]): Variable {
  return alloc(x, shape);
}

// ---- SpecifyShape ----

/** Assert lengths of x: refines the static type; a run-time mismatch is a DataError. A view. */
export class SpecifyShape extends Op {
  readonly name = "SpecifyShape";
  readonly props: { readonly shape: readonly (number | null)[] };
  override readonly viewMap = { 0: [0] };
  constructor(shape: readonly (number | null)[]) {
    super();
    for (const s of shape) {
      if (s !== null && (!Number.isInteger(s) || s < 0)) throw new OpInputError(`SpecifyShape: invalid length ${s} in ${shapeToString(shape)}`);
    }
    this.props = { shape: Object.freeze([...shape]) };
  }

  makeNode(...inputs: Variable[]): Apply {
    if (inputs.length !== 1) throw new OpInputError(`SpecifyShape: expected 1 input, got ${inputs.length}`);
    const t = tensorTypeOf("SpecifyShape", "x", inputs[0]);
    const spec = this.props.shape;
    if (spec.length !== t.ndim) throw new OpInputError(`SpecifyShape: shape ${shapeToString(spec)} has ${spec.length} lengths but x has shape ${shapeToString(t.shape)}`);
    const shape = t.shape.map((s, i) => {
      const p = spec[i];
      if (p !== null && s !== null && p !== s) throw new OpInputError(`SpecifyShape: x has shape ${shapeToString(t.shape)}, incompatible with ${shapeToString(spec)} at axis ${i}`);
      return p ?? s;
    });
    return new Apply(this, [inputs[0]], [new TensorType(t.dtype, shape)]);
  }

  override perform(_node: Apply, [x]: readonly NDArray[]): NDArray[] {
    const spec = this.props.shape;
    if (x.ndim !== spec.length || spec.some((s, i) => s !== null && s !== x.shape[i])) {
      throw new DataError(`SpecifyShape: expected shape ${shapeToString(spec)}, got ${fmtShape(x.shape)}`);
    }
    return [x];
  }

  /** The identity on values: dx = g. */
  override pullback(_inputs: readonly Variable[], _outputs: readonly Variable[], [g]: readonly Variable[]): GradTerm[] {
    return [g];
  }

  /** The same assertion on dx, which has x's shape. */
  override pushforward(inputs: readonly Variable[], outputs: readonly Variable[], tangents: readonly (Variable | Disconnected)[]): (Variable | Disconnected)[] {
    return linearPushforward(this, inputs, outputs, tangents, [0], zerosLike);
  }
}

/** Assert x's lengths (null = unknown): the result has the refined static type. */
export function specifyShape(x: TensorLike, shape: readonly (number | null)[]): Variable {
  const t = asTensor(x, "float64", "specifyShape");
  return new SpecifyShape(shape).makeNode(t).out;
}

// ---- Shape, ShapeI ----

/** The run-time shape of x as an int64 vector. Disconnected from x for differentiation. */
export class ShapeOp extends Op {
  readonly name = "Shape";
  readonly props = {};
  makeNode(...inputs: Variable[]): Apply {
    if (inputs.length !== 1) throw new OpInputError(`Shape: expected 1 input, got ${inputs.length}`);
    const t = tensorTypeOf("Shape", "x", inputs[0]);
    return new Apply(this, [inputs[0]], [new TensorType("int64", [t.ndim])]);
  }
  override perform(_node: Apply, [x]: readonly NDArray[]): NDArray[] {
    return [NDArray.fromFlat(x.shape, [x.ndim], "int64")];
  }
  override connectionPattern(): boolean[][] {
    return [[false]];
  }
  override pullback(): GradTerm[] {
    return [DISCONNECTED];
  }
}
export { ShapeOp as Shape };

/** The run-time length of axis `i` of x as an int64 scalar. Disconnected from x. */
export class ShapeI extends Op {
  readonly name = "ShapeI";
  readonly props: { readonly i: number };
  constructor(i: number) {
    super();
    if (!Number.isInteger(i) || i < 0) throw new OpInputError(`ShapeI: i must be a non-negative integer, got ${i}`);
    this.props = { i };
  }
  makeNode(...inputs: Variable[]): Apply {
    if (inputs.length !== 1) throw new OpInputError(`ShapeI: expected 1 input, got ${inputs.length}`);
    const t = tensorTypeOf("ShapeI", "x", inputs[0]);
    if (this.props.i >= t.ndim) throw new OpInputError(`ShapeI: axis ${this.props.i} is out of range for x with shape ${shapeToString(t.shape)}`);
    return new Apply(this, [inputs[0]], [new TensorType("int64", [])]);
  }
  override perform(_node: Apply, [x]: readonly NDArray[]): NDArray[] {
    if (this.props.i >= x.ndim) throw new DataError(`ShapeI: axis ${this.props.i} is out of range for x with shape ${fmtShape(x.shape)}`);
    return [NDArray.scalar(x.shape[this.props.i], "int64")];
  }
  override connectionPattern(): boolean[][] {
    return [[false]];
  }
  override pullback(): GradTerm[] {
    return [DISCONNECTED];
  }
}

/** The shape of x as an int64 vector (a graph node, even when the shape is static). */
export function shape(x: TensorLike): Variable {
  return new ShapeOp().makeNode(asTensor(x, "float64", "shape")).out;
}

/** The length of axis `i` of x (negative counts from the end) as an int64 scalar node. */
export function shapeI(x: TensorLike, i: number): Variable {
  const t = asTensor(x, "float64", "shapeI");
  return new ShapeI(normAxis("shapeI", "axis", i, t.type.ndim)).makeNode(t).out;
}

// ---- Arange ----

/** `[start, start + step, ...)` below `stop` (above it for negative steps), as int64. */
export class Arange extends Op {
  readonly name = "Arange";
  readonly props = {};
  makeNode(...inputs: Variable[]): Apply {
    if (inputs.length !== 3) throw new OpInputError(`Arange: expected start, stop, step, got ${inputs.length} inputs`);
    const [a, b, s] = (["start", "stop", "step"] as const).map((n, i) => asLength("Arange", n, inputs[i]));
    const [ca, cb, cs] = [a, b, s].map(constantInt);
    if (cs === 0) throw new OpInputError("Arange: step is 0");
    const len = ca !== null && cb !== null && cs !== null ? arangeLength(ca, cb, cs) : null;
    return new Apply(this, [a, b, s], [new TensorType("int64", [len])]);
  }
  override perform(_node: Apply, [a, b, s]: readonly NDArray[]): NDArray[] {
    const [start, stop, step] = [readInt(a), readInt(b), readInt(s)];
    if (step === 0) throw new DataError(`Arange: step is 0 (start ${start}, stop ${stop})`);
    const n = arangeLength(start, stop, step);
    const buf = allocBuffer("int64", n);
    for (let i = 0; i < n; i++) buf[i] = start + i * step;
    return [new NDArray("int64", [n], buf)];
  }
  override connectionPattern(): boolean[][] {
    return [[false], [false], [false]];
  }
  override pullback(): GradTerm[] {
    return [DISCONNECTED, DISCONNECTED, DISCONNECTED];
  }
}

function arangeLength(start: number, stop: number, step: number): number {
  return Math.max(0, Math.ceil((stop - start) / step));
}

/** An int64 vector `start, start + step, ...` stopping before `stop`; numbers or int scalars. */
export function arange(start: number | Variable, stop: number | Variable, step: number | Variable = 1): Variable {
  return new Arange().makeNode(asLength("arange", "start", start), asLength("arange", "stop", stop), asLength("arange", "step", step)).out;
}
