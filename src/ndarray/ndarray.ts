/**
 * NDArray: a strided view over a typed-array buffer.
 *
 * Views (transpose, slicing, broadcasting, reshape of contiguous data) share the buffer, so an
 * in-place kernel that writes through one view is visible through every other view of the same
 * buffer. That is deliberate: destroy-handler bugs must show up as wrong numbers.
 */
import type { DType } from "../graph/type.js";
import { DataError } from "../errors.js";

export { DataError };

/** The typed arrays behind each dtype. int64 lives in a Float64Array (exact within ±2^53). */
export type TypedBuffer = Float64Array | Float32Array | Int32Array | Uint8Array;

/** A nested JS array of numbers/booleans, or a scalar. */
export type Nested = number | boolean | Nested[];

/** Allocate a zeroed buffer for `dtype`. */
export function allocBuffer(dtype: DType, n: number): TypedBuffer {
  switch (dtype) {
    case "float64":
    case "int64":
      return new Float64Array(n);
    case "float32":
      return new Float32Array(n);
    case "int32":
      return new Int32Array(n);
    case "bool":
      return new Uint8Array(n);
  }
}

/**
 * The conversion applied when a JS number is stored as `dtype`, following numpy's casting:
 * floats truncate toward zero for ints, int32 wraps modulo 2^32, bool is `v != 0`.
 */
export function coerce(dtype: DType): (v: number) => number {
  switch (dtype) {
    case "float64":
      return (v) => v;
    case "float32":
      return Math.fround;
    case "int64":
      return (v) => (Number.isFinite(v) ? Math.trunc(v) + 0 : 0);
    case "int32":
      return (v) => v | 0;
    case "bool":
      return (v) => (v !== 0 ? 1 : 0); // numpy: bool(NaN) is True
  }
}

/** C-order (row-major) strides for `shape`, in elements. */
export function cStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/** Product of the lengths. */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

/** Render a concrete shape as `(3, 4)`. */
export function fmtShape(shape: readonly number[]): string {
  return `(${shape.join(", ")}${shape.length === 1 ? "," : ""})`;
}



/** A strided n-dimensional array. */
export class NDArray {
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  constructor(
    readonly dtype: DType,
    shape: readonly number[],
    readonly data: TypedBuffer,
    strides?: readonly number[],
    readonly offset = 0,
  ) {
    this.shape = Object.freeze([...shape]);
    this.strides = Object.freeze(strides ? [...strides] : cStrides(shape));
  }

  /** A zero-filled C-contiguous array. */
  static zeros(shape: readonly number[], dtype: DType = "float64"): NDArray {
    return new NDArray(dtype, shape, allocBuffer(dtype, sizeOf(shape)));
  }

  /** An array of one repeated value. */
  static full(shape: readonly number[], value: number, dtype: DType = "float64"): NDArray {
    const a = NDArray.zeros(shape, dtype);
    a.data.fill(coerce(dtype)(value));
    return a;
  }

  /** A 0-d array. */
  static scalar(value: number | boolean, dtype: DType = "float64"): NDArray {
    return NDArray.full([], Number(value), dtype);
  }

  /** A C-contiguous array from flat C-order data; values are coerced to `dtype`. */
  static fromFlat(flat: ArrayLike<number>, shape: readonly number[], dtype: DType = "float64"): NDArray {
    const n = sizeOf(shape);
    if (flat.length !== n) {
      throw new DataError(`fromFlat: ${flat.length} values do not fill shape ${fmtShape(shape)} (${n} elements)`);
    }
    const buf = allocBuffer(dtype, n);
    const c = coerce(dtype);
    for (let i = 0; i < n; i++) buf[i] = c(Number(flat[i]));
    return new NDArray(dtype, shape, buf);
  }

  /**
   * Build from a nested JS array (or a number). The shape is inferred; a ragged array or a
   * non-numeric leaf is a DataError naming `what` and the offending path.
   */
  static fromNested(value: Nested, dtype: DType = "float64", what = "value"): NDArray {
    const shape: number[] = [];
    let probe: Nested = value;
    while (Array.isArray(probe)) {
      shape.push(probe.length);
      if (probe.length === 0) break;
      probe = probe[0];
    }
    const flat: number[] = [];
    const walk = (v: Nested, depth: number, path: string): void => {
      if (depth === shape.length) {
        if (Array.isArray(v)) throw new DataError(`${what}${path}: ragged nested array (expected a number at depth ${depth}, got an array)`);
        if (typeof v === "boolean") flat.push(v ? 1 : 0);
        else if (typeof v === "number") flat.push(v);
        else throw new DataError(`${what}${path}: expected a number, got ${JSON.stringify(v)}`);
        return;
      }
      if (!Array.isArray(v)) throw new DataError(`${what}${path}: ragged nested array (expected an array of length ${shape[depth]} at depth ${depth}, got a number)`);
      if (v.length !== shape[depth]) throw new DataError(`${what}${path}: ragged nested array (expected length ${shape[depth]} at depth ${depth}, got ${v.length})`);
      for (let i = 0; i < v.length; i++) walk(v[i], depth + 1, `${path}[${i}]`);
    };
    walk(value, 0, "");
    return NDArray.fromFlat(flat, shape, dtype);
  }

  get ndim(): number {
    return this.shape.length;
  }

  get size(): number {
    return sizeOf(this.shape);
  }

  /** True when the elements are laid out in C order with no gaps, starting at `offset`. */
  isCContiguous(): boolean {
    let expect = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      if (this.shape[i] !== 1 && this.strides[i] !== expect) return false;
      expect *= this.shape[i];
    }
    return true;
  }

  /** True when both arrays are views of one buffer. */
  sharesBuffer(other: NDArray): boolean {
    return this.data.buffer === other.data.buffer;
  }

  /** Offsets into `data` of every element, in C order. */
  offsets(): Int32Array {
    const n = this.size;
    const out = new Int32Array(n);
    const nd = this.ndim;
    if (nd === 0) {
      if (n === 1) out[0] = this.offset;
      return out;
    }
    const idx = new Array<number>(nd).fill(0);
    let off = this.offset;
    for (let k = 0; k < n; k++) {
      out[k] = off;
      for (let d = nd - 1; d >= 0; d--) {
        idx[d]++;
        off += this.strides[d];
        if (idx[d] < this.shape[d]) break;
        off -= this.strides[d] * this.shape[d];
        idx[d] = 0;
      }
    }
    return out;
  }

  /** The element at a multi-index (no bounds check beyond the array's own). */
  get(...index: number[]): number {
    let off = this.offset;
    for (let d = 0; d < index.length; d++) off += index[d] * this.strides[d];
    return this.data[off];
  }

  /** Write one element (coerced to the dtype). */
  set(index: readonly number[], value: number): void {
    let off = this.offset;
    for (let d = 0; d < index.length; d++) off += index[d] * this.strides[d];
    this.data[off] = coerce(this.dtype)(value);
  }

  /** Flat C-order values as a fresh JS array. */
  toFlat(): number[] {
    const offs = this.offsets();
    const out = new Array<number>(offs.length);
    for (let i = 0; i < offs.length; i++) out[i] = this.data[offs[i]];
    return out;
  }

  /** Flat C-order values as a typed array; the buffer itself when already contiguous. */
  flatData(): TypedBuffer {
    if (this.isCContiguous()) return this.data.subarray(this.offset, this.offset + this.size) as TypedBuffer;
    return this.copy().data;
  }

  /** Nested JS arrays (booleans for bool arrays), or a number for 0-d. */
  toNested(): Nested {
    const flat = this.toFlat();
    const conv = this.dtype === "bool" ? (v: number): Nested => v !== 0 : (v: number): Nested => v;
    if (this.ndim === 0) return conv(flat[0]);
    let pos = 0;
    const build = (d: number): Nested[] => {
      const arr: Nested[] = [];
      for (let i = 0; i < this.shape[d]; i++) arr.push(d === this.ndim - 1 ? conv(flat[pos++]) : build(d + 1));
      return arr;
    };
    return build(0);
  }

  /** A C-contiguous copy with its own buffer. */
  copy(): NDArray {
    const out = NDArray.zeros(this.shape, this.dtype);
    const offs = this.offsets();
    for (let i = 0; i < offs.length; i++) out.data[i] = this.data[offs[i]];
    return out;
  }

  /** A copy converted to another dtype (numpy `astype`). */
  astype(dtype: DType): NDArray {
    if (dtype === this.dtype) return this.copy();
    const out = NDArray.zeros(this.shape, dtype);
    const offs = this.offsets();
    const c = coerce(dtype);
    for (let i = 0; i < offs.length; i++) out.data[i] = c(this.data[offs[i]]);
    return out;
  }

  /** Copy `src`'s values (same shape) into this array's elements, in place. */
  assign(src: NDArray): void {
    if (src.shape.length !== this.shape.length || src.shape.some((s, i) => s !== this.shape[i])) {
      throw new DataError(`assign: shape ${fmtShape(src.shape)} does not match ${fmtShape(this.shape)}`);
    }
    const dst = this.offsets();
    const so = src.offsets();
    const c = coerce(this.dtype);
    // Read everything first: src may overlap this array's buffer.
    const vals = new Float64Array(so.length);
    for (let i = 0; i < so.length; i++) vals[i] = src.data[so[i]];
    for (let i = 0; i < dst.length; i++) this.data[dst[i]] = c(vals[i]);
  }

  // ---- views: every method below shares the buffer ----

  /** Permute axes (a view). */
  transpose(perm: readonly number[]): NDArray {
    return new NDArray(this.dtype, perm.map((p) => this.shape[p]), this.data, perm.map((p) => this.strides[p]), this.offset);
  }

  /** Insert a length-1 axis at `axis` (a view). */
  expandDims(axis: number): NDArray {
    const shape = [...this.shape];
    const strides = [...this.strides];
    shape.splice(axis, 0, 1);
    strides.splice(axis, 0, 0);
    return new NDArray(this.dtype, shape, this.data, strides, this.offset);
  }

  /** Remove length-1 axes (a view). */
  squeezeAxes(axes: readonly number[]): NDArray {
    const keep = this.shape.map((_, i) => !axes.includes(i));
    for (const a of axes) {
      if (this.shape[a] !== 1) throw new DataError(`squeeze: axis ${a} has length ${this.shape[a]}, not 1`);
    }
    return new NDArray(this.dtype, this.shape.filter((_, i) => keep[i]), this.data, this.strides.filter((_, i) => keep[i]), this.offset);
  }

  /** Broadcast to `shape` with numpy rules, using zero strides (a read-only view in spirit). */
  broadcastTo(shape: readonly number[]): NDArray {
    const nd = shape.length;
    if (nd < this.ndim) throw new DataError(`broadcastTo: cannot broadcast ${fmtShape(this.shape)} to ${fmtShape(shape)}`);
    const strides = new Array<number>(nd).fill(0);
    for (let i = 0; i < this.ndim; i++) {
      const j = nd - this.ndim + i;
      const s = this.shape[i];
      if (s === shape[j]) strides[j] = this.strides[i];
      else if (s === 1) strides[j] = 0;
      else throw new DataError(`broadcastTo: cannot broadcast ${fmtShape(this.shape)} to ${fmtShape(shape)}`);
    }
    return new NDArray(this.dtype, shape, this.data, strides, this.offset);
  }

  /**
   * numpy basic slicing along one axis with already-normalised bounds: `start` is the first
   * index taken, `count` how many, `step` may be negative. A view.
   */
  sliceAxis(axis: number, start: number, count: number, step: number): NDArray {
    const shape = [...this.shape];
    const strides = [...this.strides];
    shape[axis] = count;
    strides[axis] = this.strides[axis] * step;
    const offset = count > 0 ? this.offset + start * this.strides[axis] : this.offset;
    return new NDArray(this.dtype, shape, this.data, strides, offset);
  }

  /** Take index `i` along `axis`, dropping the axis (a view). */
  indexAxis(axis: number, i: number): NDArray {
    const shape = this.shape.filter((_, d) => d !== axis);
    const strides = this.strides.filter((_, d) => d !== axis);
    return new NDArray(this.dtype, shape, this.data, strides, this.offset + i * this.strides[axis]);
  }

  /** Reshape: a view when the data is C-contiguous, otherwise a copy. */
  reshape(shape: readonly number[]): NDArray {
    if (sizeOf(shape) !== this.size) throw new DataError(`reshape: cannot reshape ${fmtShape(this.shape)} (${this.size} elements) to ${fmtShape(shape)}`);
    if (this.isCContiguous()) return new NDArray(this.dtype, shape, this.data, cStrides(shape), this.offset);
    const c = this.copy();
    return new NDArray(this.dtype, shape, c.data);
  }

  toString(): string {
    return `NDArray(${this.dtype}, ${fmtShape(this.shape)}, ${JSON.stringify(this.toNested())})`;
  }
}

/**
 * numpy's slice normalisation: the first index, the element count and the step of
 * `a[start:stop:step]` on an axis of length `n`. `null` bounds mean "default".
 */
export function normalizeSlice(n: number, start: number | null, stop: number | null, step: number | null): { start: number; count: number; step: number } {
  const st = step ?? 1;
  if (st === 0) throw new DataError("slice step cannot be zero");
  let lo: number;
  let hi: number;
  if (st > 0) {
    lo = start === null ? 0 : start < 0 ? Math.max(0, start + n) : Math.min(start, n);
    hi = stop === null ? n : stop < 0 ? Math.max(0, stop + n) : Math.min(stop, n);
    const count = hi > lo ? Math.ceil((hi - lo) / st) : 0;
    return { start: lo, count, step: st };
  }
  lo = start === null ? n - 1 : start < 0 ? Math.max(-1, start + n) : Math.min(start, n - 1);
  hi = stop === null ? -1 : stop < 0 ? Math.max(-1, stop + n) : Math.min(stop, n - 1);
  const count = lo > hi ? Math.ceil((lo - hi) / -st) : 0;
  return { start: lo, count, step: st };
}
