/**
 * The full Jacobian of a small positional expression, by one pullback per output element.
 *
 * PyTensor builds it with a Scan over the rows; xgrad has no loops, so the rows are unrolled:
 * the graph grows with the number of output elements, which is why the expression's shape
 * must be static and this is meant for small outputs (tests, oracles, Hessians of tiny models).
 */
import { type Variable } from "../graph/basic.js";
import { TensorType } from "../graph/type.js";
import { GradError } from "../errors.js";
import { NDArray } from "../ndarray/ndarray.js";
import { constant } from "../tensor/basic.js";
import { expandDims, join, reshape, shapeOf } from "../tensor/shape.js";
import { type PullbackOptions, pullback } from "./driver.js";

/**
 * d expression / d wrt, of shape `expression.shape ++ wrt.shape` for each wrt (a single result
 * when `wrt` is a single variable). `expression` must be a positional float tensor with a fully
 * static shape; `wrt` must be positional. Options are `pullback`'s, applied to every row.
 */
export function jacobian(expression: Variable, wrt: Variable, options?: Omit<PullbackOptions, "returnDisconnected">): Variable;
export function jacobian(expression: Variable, wrt: readonly Variable[], options?: Omit<PullbackOptions, "returnDisconnected">): Variable[];
export function jacobian(expression: Variable, wrt: Variable | readonly Variable[], options: Omit<PullbackOptions, "returnDisconnected"> = {}): Variable | Variable[] {
  const ws = Array.isArray(wrt) ? (wrt as readonly Variable[]) : [wrt as Variable];
  const et = expression.type;
  if (!(et instanceof TensorType) || et.shape.some((s) => s === null) || (et.dtype !== "float64" && et.dtype !== "float32")) {
    throw new GradError(`jacobian: the expression must be a positional float tensor with a static shape, got ${et.toString()}`);
  }
  ws.forEach((w, k) => {
    if (!(w.type instanceof TensorType)) throw new GradError(`jacobian: wrt[${k}] must be positional, got ${w.type.toString()}`);
  });
  const shape = et.shape as readonly number[];
  const n = shape.reduce((p, s) => p * s, 1);
  if (n === 0) throw new GradError(`jacobian: the expression ${et.toString()} has no elements`);
  // One row per output element: the pullback of the one-hot cotangent e_k.
  const rows = Array.from({ length: n }, (_, k) => {
    const e = NDArray.zeros(shape, et.dtype);
    e.data[k] = 1;
    return pullback([expression], ws, [constant(e)], { ...options, returnDisconnected: "zero" });
  });
  const result = ws.map((w, k) => {
    if (n === 1) return reshape(rows[0][k], [...shape, ...shapeOf(w)]);
    const stacked = join(0, ...rows.map((r) => expandDims(r[k], 0)));
    return reshape(stacked, [...shape, ...shapeOf(w)]);
  });
  return Array.isArray(wrt) ? result : result[0];
}
