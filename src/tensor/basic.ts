/**
 * Positional tensor variables, constants, and numpy 2 (NEP 50) dtype promotion.
 */
import { Constant, Variable } from "../graph/basic.js";
import { type DType, type Shape, TensorType, isFloat, isInt } from "../graph/type.js";
import { NDArray, type Nested } from "../ndarray/ndarray.js";
import { OpInputError } from "../errors.js";

/** A positional tensor variable. */
export type TensorVariable = Variable<TensorType>;

/** Things op builders accept as a positional operand: a variable, or a JS number (weakly typed). */
export type TensorLike = Variable | number;

/** A root positional tensor variable (a graph input). */
export function tensor(name: string | null, opts: { shape: Shape; dtype?: DType }): TensorVariable {
  return new Variable(new TensorType(opts.dtype ?? "float64", opts.shape), null, 0, name);
}

/** A 0-d float64 tensor input. */
export function scalar(name: string | null, dtype: DType = "float64"): TensorVariable {
  return tensor(name, { shape: [], dtype });
}

/** A positional constant from a number, nested array or NDArray. */
export function constant(value: Nested | NDArray, dtype?: DType, name: string | null = null): Constant<TensorType> {
  const arr =
    value instanceof NDArray
      ? dtype && dtype !== value.dtype
        ? value.astype(dtype)
        : value
      : NDArray.fromNested(value, dtype ?? defaultDtypeOf(value), "constant");
  return new Constant(new TensorType(arr.dtype, arr.shape), arr, name);
}

function defaultDtypeOf(value: Nested): DType {
  const flat: (number | boolean)[] = [];
  const walk = (v: Nested): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else flat.push(v);
  };
  walk(value);
  if (flat.length > 0 && flat.every((v) => typeof v === "boolean")) return "bool";
  return "float64";
}

/** True when `v` is a positional tensor variable. */
export function isTensorVariable(v: unknown): v is TensorVariable {
  return v instanceof Variable && v.type instanceof TensorType;
}

/**
 * The tensor variable for an operand. Numbers become 0-d constants of `dtypeForNumber` (the
 * caller resolves weak typing first). Named (xtensor) variables are refused: use `.values`.
 */
export function asTensor(v: TensorLike, dtypeForNumber: DType = "float64", opName = "asTensor"): TensorVariable {
  if (typeof v === "number") return constant(v, dtypeForNumber);
  if (!(v instanceof Variable)) throw new OpInputError(`${opName}: expected a tensor variable or a number, got ${String(v)}`);
  if (!(v.type instanceof TensorType)) {
    throw new OpInputError(`${opName}: expected a positional tensor, got ${v.type.toString()} (use .values to convert a named tensor)`);
  }
  return v as TensorVariable;
}

// ---- dtype promotion (numpy 2, NEP 50) ----

const KIND_RANK: Record<DType, number> = { bool: 0, int32: 1, int64: 1, float32: 2, float64: 2 };

/** Promote two strongly typed dtypes, as numpy's `result_type` does for arrays. */
export function promote2(a: DType, b: DType): DType {
  if (a === b) return a;
  if (a === "bool") return b;
  if (b === "bool") return a;
  if (isInt(a) && isInt(b)) return "int64";
  if (isFloat(a) && isFloat(b)) return "float64";
  // int with float: int32 and int64 need more mantissa than float32 has, so numpy gives float64.
  return "float64";
}

/** Promote any number of strongly typed dtypes. */
export function upcast(...dtypes: DType[]): DType {
  if (dtypes.length === 0) throw new OpInputError("upcast: no dtypes");
  return dtypes.reduce(promote2);
}

/** The weak kind of a JS number: integers are weak ints, others weak floats. */
export function weakKind(v: number): "int" | "float" {
  return Number.isInteger(v) ? "int" : "float";
}

/**
 * The result dtype of mixing variables with JS numbers under NEP 50: numbers are weak, so they
 * only raise the kind (bool → int → float), never the precision. `float32 * 2.5` is float32,
 * `int32 * 2` is int32, `int32 * 2.5` is float64, `bool + 1` is int64.
 */
export function resultDtype(args: readonly (Variable | number)[]): DType {
  const strong = args.filter((a): a is Variable => typeof a !== "number").map((a) => a.type.dtype);
  const weak = args.filter((a): a is number => typeof a === "number").map(weakKind);
  let dt: DType | null = strong.length > 0 ? upcast(...strong) : null;
  for (const w of weak) {
    if (dt === null) dt = w === "int" ? "int64" : "float64";
    else if (w === "float" && KIND_RANK[dt] < 2) dt = "float64";
    else if (w === "int" && KIND_RANK[dt] < 1) dt = "int64";
  }
  return dt ?? "float64";
}

/** The float dtype a computation on `dtype` produces (ints and bool go to float64). */
export function floatDtype(dtype: DType): DType {
  return isFloat(dtype) ? dtype : "float64";
}
