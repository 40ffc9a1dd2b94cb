/**
 * XReduce (sum prod max min all any over a set of dims) and the reductions built from it by
 * composition: mean, var (`variance`) and std.
 *
 * XReduce keeps its input's dtype; the builders do the dtype work up front, as numpy does:
 * sum and prod of ints or bools run in int64, all/any see `x != 0`, and mean divides by the
 * element count so that ints give float64 and float32 stays float32.
 */
import { Apply, type Variable } from "../graph/basic.js";
import { type DType, isDiscrete, isFloat } from "../graph/type.js";
import { OpInputError } from "../errors.js";
import { all as ptAll, any as ptAny, max as ptMax, min as ptMin, prod as ptProd, sum as ptSum } from "../tensor/reduce.js";
import { mul as ptMul } from "../tensor/elemwise.js";
import { shapeI } from "../tensor/shape.js";
import { asXTensor, values } from "./basic.js";
import { cast, div, ne, sqrt, square, sub } from "./elemwise.js";
import { XOp } from "./op.js";
import { requireX, resolveDims, wrapLowered, xtype } from "./common.js";
import { type ReduceOptions, type VarOptions, XTensorType, type XTensorLike, type XTensorVariable, fmtDims } from "./type.js";

/** The reductions XReduce can lower, each to its positional builder. */
export type ReduceKind = "sum" | "prod" | "max" | "min" | "all" | "any";

const POSITIONAL = {
  sum: ptSum,
  prod: ptProd,
  max: ptMax,
  min: ptMin,
  all: ptAll,
  any: ptAny,
} satisfies Record<ReduceKind, (x: Variable, axes: number[]) => Variable>;

/** Reduce `dims` (stored sorted: their order does not matter) with `kind`; dtype unchanged. */
export class XReduce extends XOp {
  readonly name = "XReduce";
  readonly props: { readonly kind: ReduceKind; readonly dims: readonly string[] };

  constructor(kind: ReduceKind, dims: readonly string[]) {
    super();
    if (!(kind in POSITIONAL)) throw new OpInputError(`XReduce: unknown reduction "${String(kind)}"`);
    const sorted = [...new Set(dims)].sort();
    if (sorted.length !== dims.length) throw new OpInputError(`${kind}: duplicate dim in dims ${fmtDims(dims)}`);
    this.props = { kind, dims: sorted };
  }

  makeNode(x: Variable): Apply {
    const { kind, dims } = this.props;
    const xt = xtype(kind, "x", x);
    resolveDims(kind, "x", xt, dims);
    if ((kind === "all" || kind === "any") && xt.dtype !== "bool") throw new OpInputError(`${kind}: x must be bool, got ${xt.dtype} (the builder maps it through x != 0)`);
    const keep = xt.dims.map((_, i) => i).filter((i) => !dims.includes(xt.dims[i]));
    return new Apply(this, [x], [new XTensorType(xt.dtype, keep.map((i) => xt.dims[i]), keep.map((i) => xt.shape[i]))]);
  }

  lower(node: Apply): Variable[] {
    const x = node.inputs[0].type as XTensorType;
    const axes = this.props.dims.map((d) => x.dims.indexOf(d)).sort((a, b) => a - b);
    const t = POSITIONAL[this.props.kind](values(node.inputs[0]), axes);
    return [wrapLowered(this.props.kind, t, node.outputs[0].type as XTensorType)];
  }
}

function reduce(kind: ReduceKind, x: XTensorVariable, dims: readonly string[]): XTensorVariable {
  // Reducing over no dims is the identity (after the builder's dtype adjustment), as in xarray.
  if (dims.length === 0) return x;
  return new XReduce(kind, dims).makeNode(x).out as XTensorVariable;
}

/** numpy's accumulator dtype for sum/prod/cumsum/cumprod: ints and bool widen to int64. */
export function accumulatorInput(x: XTensorVariable): XTensorVariable {
  return isDiscrete(x.type.dtype) ? cast(x, "int64") : x;
}

/** Sum over `dims` (default: all). Ints and bool sum in int64. */
export function sum(x: XTensorVariable, opts: ReduceOptions = {}): XTensorVariable {
  const xv = requireX("sum", "x", x);
  return reduce("sum", accumulatorInput(xv), resolveDims("sum", "x", xv.type, opts.dims));
}

/** Product over `dims` (default: all). Ints and bool multiply in int64. */
export function prod(x: XTensorVariable, opts: ReduceOptions = {}): XTensorVariable {
  const xv = requireX("prod", "x", x);
  return reduce("prod", accumulatorInput(xv), resolveDims("prod", "x", xv.type, opts.dims));
}

/** Maximum over `dims`; the dtype is kept. The gradient goes to every tied position. */
export function max(x: XTensorVariable, opts: ReduceOptions = {}): XTensorVariable {
  const xv = requireX("max", "x", x);
  return reduce("max", xv, resolveDims("max", "x", xv.type, opts.dims));
}

/** Minimum over `dims`; the dtype is kept. The gradient goes to every tied position. */
export function min(x: XTensorVariable, opts: ReduceOptions = {}): XTensorVariable {
  const xv = requireX("min", "x", x);
  return reduce("min", xv, resolveDims("min", "x", xv.type, opts.dims));
}

function truthy(x: XTensorVariable): XTensorVariable {
  return x.type.dtype === "bool" ? x : ne(x, 0);
}

/** True where every element over `dims` is nonzero (bool). */
export function all(x: XTensorVariable, opts: ReduceOptions = {}): XTensorVariable {
  const xv = requireX("all", "x", x);
  return reduce("all", truthy(xv), resolveDims("all", "x", xv.type, opts.dims));
}

/** True where some element over `dims` is nonzero (bool). */
export function any(x: XTensorVariable, opts: ReduceOptions = {}): XTensorVariable {
  const xv = requireX("any", "x", x);
  return reduce("any", truthy(xv), resolveDims("any", "x", xv.type, opts.dims));
}

/**
 * The number of elements reduced over `dims`: a weak JS number when every length is static
 * (so float32 stays float32 after dividing), else a 0-d xtensor of `floatDt`, for the same
 * reason: a strong int64 count would promote float32 to float64.
 */
function countOf(x: XTensorVariable, dims: readonly string[], floatDt: DType): XTensorLike {
  const lens = dims.map((d) => x.type.lengthOf(d) ?? null);
  if (lens.every((l): l is number => l !== null)) return lens.reduce((a, b) => a * b, 1);
  const t = values(x);
  const sizes = dims.map((d) => shapeI(t, x.type.dims.indexOf(d)));
  const n = sizes.reduce((a, b) => ptMul(a, b));
  return cast(asXTensor(n, []), floatDt);
}

function floatOf(dtype: DType): DType {
  return isFloat(dtype) ? dtype : "float64";
}

/** Mean over `dims` (default: all): sum / count. Ints and bool give float64. */
export function mean(x: XTensorVariable, opts: ReduceOptions = {}): XTensorVariable {
  const xv = requireX("mean", "x", x);
  const dims = resolveDims("mean", "x", xv.type, opts.dims);
  return div(sum(xv, { dims }), countOf(xv, dims, floatOf(xv.type.dtype)));
}

function varianceOf(op: string, x: XTensorVariable, opts: VarOptions): XTensorVariable {
  const xv = requireX(op, "x", x);
  const dims = resolveDims(op, "x", xv.type, opts.dims);
  const ddof = opts.ddof ?? 0;
  if (!Number.isInteger(ddof) || ddof < 0) throw new OpInputError(`${op}: ddof must be a non-negative integer, got ${ddof}`);
  const dev = sub(xv, mean(xv, { dims }));
  const n = countOf(xv, dims, floatOf(xv.type.dtype));
  return div(sum(square(dev), { dims }), typeof n === "number" ? n - ddof : ddof === 0 ? n : sub(n, ddof));
}

/**
 * Variance over `dims`: sum((x − mean)²) / (n − ddof), with ddof (default 0) the delta degrees
 * of freedom, as numpy and xarray define it. Exported as `variance` because `var` is reserved.
 */
export function variance(x: XTensorVariable, opts: VarOptions = {}): XTensorVariable {
  return varianceOf("var", x, opts);
}

/** Standard deviation over `dims`: √var, with the same `ddof`. */
export function std(x: XTensorVariable, opts: VarOptions = {}): XTensorVariable {
  return sqrt(varianceOf("std", x, opts));
}
