/**
 * Conversion and validation of run-time input values against a variable's static type.
 * Errors are DataErrors naming the input, with the expected and received shape and dtype.
 */
import type { Variable } from "../graph/basic.js";
import { type DType, isFloat, isInt, shapeToString } from "../graph/type.js";
import { DataError } from "../errors.js";
import { NDArray, type Nested, fmtShape } from "../ndarray/ndarray.js";

/** What a compiled function accepts for one input. */
export type InputValue = NDArray | Nested | Float64Array | Float32Array | Int32Array | Uint8Array;

const BUFFER_DTYPES: Record<string, readonly DType[]> = {
  Float64Array: ["float64", "int64"],
  Float32Array: ["float32"],
  Int32Array: ["int32"],
  Uint8Array: ["bool"],
};

function describe(v: Variable): string {
  return v.name !== null ? `input "${v.name}"` : `input ${v.toString()}`;
}

function expected(v: Variable): string {
  const dims = (v.type as { dims?: readonly string[] }).dims;
  return `${dims ? `dims (${dims.join(", ")}) ` : ""}shape ${shapeToString(v.type.shape)} ${v.type.dtype}`;
}

function checkShape(v: Variable, shape: readonly number[], dtype: string): void {
  const st = v.type.shape;
  const ok = st.length === shape.length && st.every((s, i) => s === null || s === shape[i]);
  if (!ok) throw new DataError(`${describe(v)}: expected ${expected(v)}, got shape ${fmtShape(shape)} ${dtype}`);
}

function checkValues(v: Variable, arr: NDArray, source: NDArray): void {
  const dtype = v.type.dtype;
  if (isFloat(dtype)) return;
  const flat = source.toFlat();
  for (let i = 0; i < flat.length; i++) {
    const x = flat[i];
    if (isInt(dtype) && !Number.isInteger(x)) {
      throw new DataError(`${describe(v)}: expected ${expected(v)}, got a non-integer value ${x} at flat position ${i}`);
    }
    if (dtype === "bool" && x !== 0 && x !== 1) {
      throw new DataError(`${describe(v)}: expected ${expected(v)}, got a non-boolean value ${x} at flat position ${i}`);
    }
  }
  void arr;
}

/**
 * Turn a user value into an NDArray of `v`'s dtype and static shape. NDArrays and typed arrays
 * must already have the right dtype (no silent precision change); nested JS arrays are checked
 * for raggedness, integrality (int dtypes) and 0/1-ness (bool).
 */
export function toInputArray(v: Variable, value: InputValue): NDArray {
  const dtype = v.type.dtype;
  if (value instanceof NDArray) {
    if (value.dtype !== dtype) throw new DataError(`${describe(v)}: expected ${expected(v)}, got dtype ${value.dtype}`);
    checkShape(v, value.shape, value.dtype);
    return value;
  }
  if (ArrayBuffer.isView(value)) {
    const kind = value.constructor.name;
    const allowed = BUFFER_DTYPES[kind];
    if (!allowed || !allowed.includes(dtype)) throw new DataError(`${describe(v)}: expected ${expected(v)}, got a ${kind}`);
    const shape = v.type.shape;
    if (shape.some((s) => s === null)) {
      throw new DataError(`${describe(v)}: a flat ${kind} needs a fully static shape, but the type is ${expected(v)}; pass an NDArray or nested array`);
    }
    const arr = NDArray.fromFlat(value, shape as number[], dtype);
    checkValues(v, arr, arr);
    return arr;
  }
  if (typeof value !== "number" && typeof value !== "boolean" && !Array.isArray(value)) {
    throw new DataError(`${describe(v)}: expected ${expected(v)}, got ${value === null ? "null" : typeof value}`);
  }
  const raw = NDArray.fromNested(value, "float64", describe(v));
  checkShape(v, raw.shape, Array.isArray(value) || typeof value === "number" ? "array" : "bool");
  checkValues(v, raw, raw);
  return dtype === "float64" ? raw : raw.astype(dtype);
}
