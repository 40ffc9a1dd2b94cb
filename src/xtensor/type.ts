/**
 * The named-dim type, its variable class (which carries the xarray-like methods), and the
 * root builders `xtensor` and `xconstant`.
 *
 * The methods delegate to the op modules. Those modules import this one, so the imports form a
 * cycle; that is safe under ESM because nothing here uses an imported value at module
 * evaluation time, only inside method bodies.
 */
import { Variable, makeVariable, registerVariableClass } from "../graph/basic.js";
import { type DType, type Shape, type Type, shapeIsSuper, shapeToString } from "../graph/type.js";
import { OpInputError } from "../errors.js";
import { NDArray, type Nested } from "../ndarray/ndarray.js";
import { type TensorVariable, constant } from "../tensor/basic.js";
import { asXTensor, values } from "./basic.js";
import * as ew from "./elemwise.js";
import * as red from "./reduce.js";
import { cumprod, cumsum } from "./cumulative.js";
import { type DotDims, dot } from "./dot.js";
import { expandDims, rename, squeeze, stack, transpose, unstack } from "./shape.js";
import { type Indexer, inc, isel, set } from "./indexing.js";
// For its side effect: registers the lower_xtensor pass whenever named tensors are in use.
import "./lower.js";

/** Render dims as `(a, b)`; used in every error message so that dims read the same everywhere. */
export function fmtDims(dims: readonly string[]): string {
  return `(${dims.join(", ")})`;
}

/**
 * Check a list of dim names: an array of unique non-empty strings, none of them `"..."` (which
 * stands for "the other dims" in transpose). Errors name `op`.
 */
export function checkDimNames(op: string, dims: readonly string[]): void {
  // A bare string would otherwise be iterated character by character.
  if (!Array.isArray(dims)) throw new OpInputError(`${op}: dims must be an array of names, got ${JSON.stringify(dims)}`);
  const seen = new Set<string>();
  for (const d of dims) {
    if (typeof d !== "string" || d.length === 0) throw new OpInputError(`${op}: dims must be non-empty strings, got ${JSON.stringify(d)} in ${fmtDims(dims)}`);
    if (d === "...") throw new OpInputError(`${op}: "..." is not a valid dim name in ${fmtDims(dims)}`);
    if (seen.has(d)) throw new OpInputError(`${op}: duplicate dim "${d}" in ${fmtDims(dims)}`);
    seen.add(d);
  }
}

/**
 * A named-dim tensor type: `dims` (unique, ordered: the order is the memory layout), one static
 * length per dim (null = known only at run time) and a dtype. Dims order is part of equality:
 * `(a, b)` and `(b, a)` are different types, because a positional view of one is the transpose
 * of the other.
 */
export class XTensorType implements Type {
  readonly kind = "xtensor";
  readonly dims: readonly string[];
  readonly shape: Shape;

  constructor(
    readonly dtype: DType,
    dims: readonly string[],
    shape?: Shape,
  ) {
    checkDimNames("XTensorType", dims);
    const sh = shape ?? dims.map(() => null);
    if (sh.length !== dims.length) {
      throw new OpInputError(`XTensorType: shape ${shapeToString(sh)} has ${sh.length} lengths but dims ${fmtDims(dims)} has ${dims.length}`);
    }
    for (const s of sh) {
      if (s !== null && (!Number.isInteger(s) || s < 0)) throw new OpInputError(`XTensorType: invalid static length ${s} in shape ${shapeToString(sh)}`);
    }
    this.dims = Object.freeze([...dims]);
    this.shape = Object.freeze([...sh]);
  }

  get ndim(): number {
    return this.dims.length;
  }

  /** The static length of `dim`, null when unknown; `undefined` when `dim` is not a dim. */
  lengthOf(dim: string): number | null | undefined {
    const i = this.dims.indexOf(dim);
    return i < 0 ? undefined : this.shape[i];
  }

  equals(other: Type): boolean {
    return other instanceof XTensorType && this.key() === other.key();
  }

  /** Same dtype, same dims in the same order, and `other` knows every length this type knows. */
  isSuper(other: Type): boolean {
    return (
      other instanceof XTensorType &&
      other.dtype === this.dtype &&
      other.dims.length === this.dims.length &&
      other.dims.every((d, i) => d === this.dims[i]) &&
      shapeIsSuper(this.shape, other.shape)
    );
  }

  key(): string {
    // JSON keeps dim names containing separators unambiguous.
    return `xtensor:${this.dtype}:${JSON.stringify(this.dims)}:${this.shape.map((s) => (s === null ? "?" : s)).join(",")}`;
  }

  toString(): string {
    const parts = this.dims.map((d, i) => `${d}=${this.shape[i] === null ? "?" : this.shape[i]}`);
    return `XTensor(${this.dtype}, dims=(${parts.join(", ")}))`;
  }

  withShape(shape: Shape): XTensorType {
    return new XTensorType(this.dtype, this.dims, shape);
  }

  withDtype(dtype: DType): XTensorType {
    return new XTensorType(dtype, this.dims, this.shape);
  }

  withDims(dims: readonly string[]): XTensorType {
    return new XTensorType(this.dtype, dims, this.shape);
  }
}

/** What the named builders accept as an operand: an xtensor variable or a JS number (weak, 0-d). */
export type XTensorLike = XTensorVariable | number;

/** A dims argument of the reductions: one dim, a list, or null/undefined for every dim. */
export type DimsArg = string | readonly string[] | null | undefined;

/** Options of `sum prod mean max min all any`. */
export interface ReduceOptions {
  readonly dims?: DimsArg;
}

/** Options of `var` and `std`: `ddof` is the delta degrees of freedom (divide by n − ddof). */
export interface VarOptions extends ReduceOptions {
  readonly ddof?: number;
}

/**
 * A variable of named-dim type. Every `Apply` output and root of `XTensorType` is built as this
 * class (via `registerVariableClass`), so graph code never has to cast before calling methods.
 */
export class XTensorVariable extends Variable<XTensorType> {
  /** The dim names, in layout order. */
  get dims(): readonly string[] {
    return this.type.dims;
  }
  get ndim(): number {
    return this.type.ndim;
  }
  get dtype(): DType {
    return this.type.dtype;
  }
  /** The positional tensor with axes in dims order (free at run time). */
  get values(): TensorVariable {
    return values(this);
  }

  // ---- elemwise ----
  add(y: XTensorLike): XTensorVariable {
    return ew.add(this, y);
  }
  sub(y: XTensorLike): XTensorVariable {
    return ew.sub(this, y);
  }
  mul(y: XTensorLike): XTensorVariable {
    return ew.mul(this, y);
  }
  div(y: XTensorLike): XTensorVariable {
    return ew.div(this, y);
  }
  pow(y: XTensorLike): XTensorVariable {
    return ew.pow(this, y);
  }
  maximum(y: XTensorLike): XTensorVariable {
    return ew.maximum(this, y);
  }
  minimum(y: XTensorLike): XTensorVariable {
    return ew.minimum(this, y);
  }
  lt(y: XTensorLike): XTensorVariable {
    return ew.lt(this, y);
  }
  gt(y: XTensorLike): XTensorVariable {
    return ew.gt(this, y);
  }
  le(y: XTensorLike): XTensorVariable {
    return ew.le(this, y);
  }
  ge(y: XTensorLike): XTensorVariable {
    return ew.ge(this, y);
  }
  eq(y: XTensorLike): XTensorVariable {
    return ew.eq(this, y);
  }
  ne(y: XTensorLike): XTensorVariable {
    return ew.ne(this, y);
  }
  logicalAnd(y: XTensorLike): XTensorVariable {
    return ew.logicalAnd(this, y);
  }
  logicalOr(y: XTensorLike): XTensorVariable {
    return ew.logicalOr(this, y);
  }
  neg(): XTensorVariable {
    return ew.neg(this);
  }
  abs(): XTensorVariable {
    return ew.abs(this);
  }
  sign(): XTensorVariable {
    return ew.sign(this);
  }
  exp(): XTensorVariable {
    return ew.exp(this);
  }
  log(): XTensorVariable {
    return ew.log(this);
  }
  log1p(): XTensorVariable {
    return ew.log1p(this);
  }
  expm1(): XTensorVariable {
    return ew.expm1(this);
  }
  sqrt(): XTensorVariable {
    return ew.sqrt(this);
  }
  square(): XTensorVariable {
    return ew.square(this);
  }
  sin(): XTensorVariable {
    return ew.sin(this);
  }
  cos(): XTensorVariable {
    return ew.cos(this);
  }
  tanh(): XTensorVariable {
    return ew.tanh(this);
  }
  sigmoid(): XTensorVariable {
    return ew.sigmoid(this);
  }
  softplus(): XTensorVariable {
    return ew.softplus(this);
  }
  logicalNot(): XTensorVariable {
    return ew.logicalNot(this);
  }
  /**
   * xarray's `x.where(cond, other)`: keep x where cond holds, else `other`. As in xarray the
   * result's dims start with x's own dims (then any new dims of cond and other).
   */
  where(cond: XTensorLike, other: XTensorLike): XTensorVariable {
    return ew.whereLike(this, cond, other);
  }
  /** Convert to another dtype (numpy casting: floats truncate toward zero). */
  cast(dtype: DType): XTensorVariable {
    return ew.cast(this, dtype);
  }
  /** Alias of `cast`, as in xarray. */
  astype(dtype: DType): XTensorVariable {
    return ew.cast(this, dtype);
  }
  zerosLike(dtype?: DType): XTensorVariable {
    return ew.zerosLike(this, dtype);
  }
  onesLike(dtype?: DType): XTensorVariable {
    return ew.onesLike(this, dtype);
  }
  fullLike(value: XTensorLike, dtype?: DType): XTensorVariable {
    return ew.fullLike(this, value, dtype);
  }

  // ---- reductions ----
  sum(opts: ReduceOptions = {}): XTensorVariable {
    return red.sum(this, opts);
  }
  prod(opts: ReduceOptions = {}): XTensorVariable {
    return red.prod(this, opts);
  }
  max(opts: ReduceOptions = {}): XTensorVariable {
    return red.max(this, opts);
  }
  min(opts: ReduceOptions = {}): XTensorVariable {
    return red.min(this, opts);
  }
  all(opts: ReduceOptions = {}): XTensorVariable {
    return red.all(this, opts);
  }
  any(opts: ReduceOptions = {}): XTensorVariable {
    return red.any(this, opts);
  }
  mean(opts: ReduceOptions = {}): XTensorVariable {
    return red.mean(this, opts);
  }
  var(opts: VarOptions = {}): XTensorVariable {
    return red.variance(this, opts);
  }
  std(opts: VarOptions = {}): XTensorVariable {
    return red.std(this, opts);
  }
  cumsum(dim: string): XTensorVariable {
    return cumsum(this, dim);
  }
  cumprod(dim: string): XTensorVariable {
    return cumprod(this, dim);
  }

  // ---- contraction and shape ----
  dot(y: XTensorVariable, dims: DotDims = null): XTensorVariable {
    return dot(this, y, dims);
  }
  /** Permute dims; no arguments reverses them; one `"..."` stands for the unlisted dims. */
  transpose(...dims: string[]): XTensorVariable {
    return transpose(this, dims);
  }
  rename(map: Readonly<Record<string, string>>): XTensorVariable {
    return rename(this, map);
  }
  stack(newDim: string, dims: readonly string[]): XTensorVariable {
    return stack(this, newDim, dims);
  }
  unstack(dim: string, to: readonly (readonly [string, number])[]): XTensorVariable {
    return unstack(this, dim, to);
  }
  expandDims(dim: string, size = 1): XTensorVariable {
    return expandDims(this, dim, size);
  }
  squeeze(dims?: string | readonly string[]): XTensorVariable {
    return squeeze(this, dims);
  }

  // ---- indexing ----
  /** Index by dim name; the result's `.set(y)` / `.inc(y)` build an update of this variable. */
  isel(indexers: Readonly<Record<string, Indexer>>): XTensorVariable {
    return isel(this, indexers);
  }
  /** Valid only on the result of `isel`: x with the selected positions replaced by `y`. */
  set(y: XTensorLike): XTensorVariable {
    return set(this, y);
  }
  /** Valid only on the result of `isel`: x with `y` added at the selected positions. */
  inc(y: XTensorLike): XTensorVariable {
    return inc(this, y);
  }
}

registerVariableClass("xtensor", (type, owner, index, name) => {
  if (!(type instanceof XTensorType)) throw new TypeError(`xtensor variable factory: got ${type.toString()}`);
  return new XTensorVariable(type, owner, index, name);
});

/** True when `v` is a variable of named-dim type. */
export function isXTensorVariable(v: unknown): v is XTensorVariable {
  return v instanceof XTensorVariable;
}

/** Options of `xtensor`. */
export interface XTensorOptions {
  readonly dims: readonly string[];
  /** One length per dim; null (or omitted) where the length is known only at run time. */
  readonly shape?: Shape;
  readonly dtype?: DType;
}

/** A root named-dim variable (a graph input). The dtype defaults to float64. */
export function xtensor(name: string | null, opts: XTensorOptions): XTensorVariable {
  return makeVariable(new XTensorType(opts.dtype ?? "float64", opts.dims, opts.shape), null, 0, name) as XTensorVariable;
}

/**
 * A named constant from a number, nested array or NDArray, labelled positionally by `dims`.
 * It is built as a positional Constant wrapped by `XTensorFromTensor`, so once the graph is
 * lowered the wrapper cancels and constant folding and merging see an ordinary Constant.
 * Numbers and nested numbers default to float64, nested booleans to bool.
 */
export function xconstant(value: Nested | NDArray, dims: readonly string[] = [], dtype?: DType): XTensorVariable {
  const c = constant(value, dtype);
  if (c.type.ndim !== dims.length) {
    throw new OpInputError(`xconstant: value has ${c.type.ndim} dims (shape ${shapeToString(c.type.shape)}) but dims ${fmtDims(dims)} has ${dims.length}`);
  }
  return asXTensor(c, dims);
}
