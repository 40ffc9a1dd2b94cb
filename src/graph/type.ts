/**
 * Static types of graph variables.
 *
 * A type is a value: two types are interchangeable exactly when `equals` says so. `isSuper`
 * is the static-shape refinement check used by `FunctionGraph.replace`: a variable of type T
 * may be replaced by one of type U when `T.isSuper(U)`, i.e. U knows at least as much as T.
 */

/** The dtypes xgrad supports. int64 is stored in a Float64Array: exact within ±2^53. */
export type DType = "float64" | "float32" | "int64" | "int32" | "bool";

/** Every dtype, in promotion-lattice order within each kind. */
export const DTYPES: readonly DType[] = ["bool", "int32", "int64", "float32", "float64"];

/** A static shape: a known length, or null where the length is only known at run time. */
export type Shape = readonly (number | null)[];

/** True for float32 and float64. */
export function isFloat(dtype: DType): boolean {
  return dtype === "float64" || dtype === "float32";
}

/** True for int32 and int64. */
export function isInt(dtype: DType): boolean {
  return dtype === "int64" || dtype === "int32";
}

/** True for the dtypes that have no gradient: ints and bool. */
export function isDiscrete(dtype: DType): boolean {
  return !isFloat(dtype);
}

/** The interface every static type implements. */
export interface Type {
  /** Discriminates type families ("tensor", "xtensor", ...). */
  readonly kind: string;
  readonly dtype: DType;
  readonly shape: Shape;
  readonly ndim: number;
  /** Structural equality, including every static length. */
  equals(other: Type): boolean;
  /** True when a variable of `other`'s type may stand where this type is expected. */
  isSuper(other: Type): boolean;
  /** A string that is equal for equal types. */
  key(): string;
  toString(): string;
  /** The same family of type with another dtype and/or shape. */
  withShape(shape: Shape): Type;
  withDtype(dtype: DType): Type;
}

/** Render a static shape as `(3, ?, 4)`. */
export function shapeToString(shape: Shape): string {
  return `(${shape.map((s) => (s === null ? "?" : String(s))).join(", ")}${shape.length === 1 ? "," : ""})`;
}

/** True when every known length of `sup` equals the matching length of `sub`. */
export function shapeIsSuper(sup: Shape, sub: Shape): boolean {
  if (sup.length !== sub.length) return false;
  for (let i = 0; i < sup.length; i++) {
    const a = sup[i];
    if (a !== null && a !== sub[i]) return false;
  }
  return true;
}

/** A positional tensor type: dtype plus a static shape. */
export class TensorType implements Type {
  readonly kind = "tensor";
  readonly shape: Shape;
  constructor(
    readonly dtype: DType,
    shape: Shape,
  ) {
    for (const s of shape) {
      if (s !== null && (!Number.isInteger(s) || s < 0)) {
        throw new TypeError(`TensorType: invalid static length ${s} in shape ${shapeToString(shape)}`);
      }
    }
    this.shape = Object.freeze([...shape]);
  }
  get ndim(): number {
    return this.shape.length;
  }
  equals(other: Type): boolean {
    return other instanceof TensorType && other.dtype === this.dtype && this.key() === other.key();
  }
  isSuper(other: Type): boolean {
    return other instanceof TensorType && other.dtype === this.dtype && shapeIsSuper(this.shape, other.shape);
  }
  key(): string {
    return `tensor:${this.dtype}:${this.shape.map((s) => (s === null ? "?" : s)).join(",")}`;
  }
  toString(): string {
    return `Tensor(${this.dtype}, shape=${shapeToString(this.shape)})`;
  }
  withShape(shape: Shape): TensorType {
    return new TensorType(this.dtype, shape);
  }
  withDtype(dtype: DType): TensorType {
    return new TensorType(dtype, this.shape);
  }
}

/** Shorthand for `new TensorType(dtype, shape)`. */
export function tensorType(dtype: DType, shape: Shape): TensorType {
  return new TensorType(dtype, shape);
}
