/**
 * Reductions: `Reduce` with kinds sum, prod, max, min, all, any over a sorted set of axes, and
 * the builders `sum prod max min all any`.
 *
 * dtypes follow numpy: sum and prod of ints and bool give int64 (float dtypes are kept), max and
 * min keep the dtype, all and any give bool (a non-bool input counts as `x != 0`, NaN is true).
 * An empty reduction gives the identity (0 for sum, 1 for prod, true for all, false for any);
 * max and min of an empty axis are an error, as in numpy. Sums accumulate in float64 and round
 * once to the output dtype.
 */
import { Apply, Variable } from "../graph/basic.js";
import { DISCONNECTED, type Disconnected, type GradTerm, Op } from "../graph/op.js";
import { type DType, TensorType, isDiscrete, shapeToString } from "../graph/type.js";
import { NDArray, fmtShape } from "../ndarray/ndarray.js";
import { planLoop } from "../ndarray/kernels.js";
import { DataError, OpInputError } from "../errors.js";
import { type TensorLike, type TensorVariable, asTensor, resultDtype } from "./basic.js";
import { type InputDomain, div, eq, mul, second } from "./elemwise.js";
import { dimshuffle } from "./shape.js";

/** The reduction kinds. */
export type ReduceKind = "sum" | "prod" | "max" | "min" | "all" | "any";

const KINDS: readonly ReduceKind[] = ["sum", "prod", "max", "min", "all", "any"];

/**
 * The test domain of a reduction: the input's element domain, and `distinct`, the minimum gap
 * between any two elements that meet in one reduction (null when ties do not matter). max and
 * min need distinct elements because finite differences disagree with any tie convention; prod's
 * pullback divides by x, so it needs inputs away from 0.
 */
export interface ReduceDomain {
  readonly input: InputDomain;
  readonly distinct: number | null;
  readonly differentiable: boolean;
}

/** Test domains per reduction kind (see `ReduceDomain`). */
export const REDUCE_DOMAINS = {
  sum: { input: { lo: -3, hi: 3, avoid: [], margin: 0 }, distinct: null, differentiable: true },
  prod: { input: { lo: -2, hi: 2, avoid: [0], margin: 0.3 }, distinct: null, differentiable: true },
  max: { input: { lo: -3, hi: 3, avoid: [], margin: 0 }, distinct: 0.1, differentiable: true },
  min: { input: { lo: -3, hi: 3, avoid: [], margin: 0 }, distinct: 0.1, differentiable: true },
  all: { input: { lo: 0, hi: 1, avoid: [], margin: 0, bool: true }, distinct: null, differentiable: false },
  any: { input: { lo: 0, hi: 1, avoid: [], margin: 0, bool: true }, distinct: null, differentiable: false },
} as const satisfies Record<ReduceKind, ReduceDomain>;

/** The output dtype of a reduction of `dtype`. */
export function reduceDtype(kind: ReduceKind, dtype: DType): DType {
  switch (kind) {
    case "sum":
    case "prod":
      return isDiscrete(dtype) ? "int64" : dtype;
    case "max":
    case "min":
      return dtype;
    case "all":
    case "any":
      return "bool";
  }
}

/** Reduce the elements `data[b + j*s]`, j < n. `n` is at least 1 for max and min. */
function reduceStrided(kind: ReduceKind, data: ArrayLike<number>, b: number, n: number, s: number): number {
  switch (kind) {
    case "sum": {
      let acc = 0;
      for (let j = 0; j < n; j++) acc += data[b + j * s];
      return acc;
    }
    case "prod": {
      let acc = 1;
      for (let j = 0; j < n; j++) acc *= data[b + j * s];
      return acc;
    }
    case "max": {
      let acc = data[b];
      // `v !== v` makes NaN win and stick, as numpy's max propagates NaN.
      for (let j = 1; j < n && acc === acc; j++) {
        const v = data[b + j * s];
        if (v > acc || v !== v) acc = v;
      }
      return acc;
    }
    case "min": {
      let acc = data[b];
      for (let j = 1; j < n && acc === acc; j++) {
        const v = data[b + j * s];
        if (v < acc || v !== v) acc = v;
      }
      return acc;
    }
    case "all":
      for (let j = 0; j < n; j++) if (data[b + j * s] === 0) return 0;
      return 1;
    case "any":
      for (let j = 0; j < n; j++) if (data[b + j * s] !== 0) return 1;
      return 0;
  }
}

/** Reduce the elements `data[b + rel[j]]` (reduced axes that do not coalesce into one). */
function reduceOffsets(kind: ReduceKind, data: ArrayLike<number>, b: number, rel: Int32Array): number {
  const n = rel.length;
  let acc: number;
  switch (kind) {
    case "sum":
      acc = 0;
      for (let j = 0; j < n; j++) acc += data[b + rel[j]];
      return acc;
    case "prod":
      acc = 1;
      for (let j = 0; j < n; j++) acc *= data[b + rel[j]];
      return acc;
    case "max":
      acc = data[b + rel[0]];
      for (let j = 1; j < n && acc === acc; j++) {
        const v = data[b + rel[j]];
        if (v > acc || v !== v) acc = v;
      }
      return acc;
    case "min":
      acc = data[b + rel[0]];
      for (let j = 1; j < n && acc === acc; j++) {
        const v = data[b + rel[j]];
        if (v < acc || v !== v) acc = v;
      }
      return acc;
    case "all":
      for (let j = 0; j < n; j++) if (data[b + rel[j]] === 0) return 0;
      return 1;
    case "any":
      for (let j = 0; j < n; j++) if (data[b + rel[j]] !== 0) return 1;
      return 0;
  }
}

/** The order that re-inserts the reduced axes of an ndim-`n` input as length-1 axes. */
function keepdimsOrder(n: number, axes: readonly number[]): (number | "x")[] {
  const order: (number | "x")[] = [];
  let k = 0;
  for (let i = 0; i < n; i++) order.push(axes.includes(i) ? "x" : k++);
  return order;
}

/**
 * Reduce x over `axes` (sorted, unique, non-negative; `[]` reduces nothing but still applies
 * the kind's dtype rule). The reduced axes are removed from the output.
 */
export class Reduce extends Op {
  readonly name = "Reduce";
  readonly props: { readonly kind: ReduceKind; readonly axes: readonly number[] };

  constructor(kind: ReduceKind, axes: readonly number[]) {
    super();
    if (!KINDS.includes(kind)) throw new OpInputError(`Reduce: unknown kind ${JSON.stringify(kind)}`);
    const sorted = [...axes].sort((a, b) => a - b);
    sorted.forEach((a, i) => {
      if (!Number.isInteger(a) || a < 0) throw new OpInputError(`Reduce{${kind}}: axes must be non-negative integers, got ${JSON.stringify(axes)}`);
      if (i > 0 && sorted[i - 1] === a) throw new OpInputError(`Reduce{${kind}}: axis ${a} is repeated in ${JSON.stringify(axes)}`);
    });
    this.props = { kind, axes: Object.freeze(sorted) };
  }

  override toString(): string {
    return `Reduce{${this.props.kind}, axes=[${this.props.axes.join(",")}]}`;
  }

  override makeNode(...inputs: Variable[]): Apply {
    const op = this.toString();
    if (inputs.length !== 1) throw new OpInputError(`${op}: expected 1 input, got ${inputs.length}`);
    const t = inputs[0].type;
    if (!(t instanceof TensorType)) throw new OpInputError(`${op}: x must be a positional tensor, got ${t.toString()}`);
    const { kind, axes } = this.props;
    for (const a of axes) {
      if (a >= t.ndim) throw new OpInputError(`${op}: axis ${a} is out of range for x with shape ${shapeToString(t.shape)}`);
      if ((kind === "max" || kind === "min") && t.shape[a] === 0) {
        throw new OpInputError(`${op}: cannot take the ${kind} over axis ${a} of x with shape ${shapeToString(t.shape)}: it is empty`);
      }
    }
    const shape = t.shape.filter((_, i) => !axes.includes(i));
    return new Apply(this, inputs, [new TensorType(reduceDtype(kind, t.dtype), shape)]);
  }

  override perform(node: Apply, [x]: readonly NDArray[]): NDArray[] {
    const { kind, axes } = this.props;
    const keptShape: number[] = [];
    const keptStrides: number[] = [];
    const redShape: number[] = [];
    const redStrides: number[] = [];
    for (let i = 0; i < x.ndim; i++) {
      if (axes.includes(i)) {
        redShape.push(x.shape[i]);
        redStrides.push(x.strides[i]);
      } else {
        keptShape.push(x.shape[i]);
        keptStrides.push(x.strides[i]);
      }
    }
    let n = 1;
    for (const s of redShape) n *= s;
    if (n === 0 && (kind === "max" || kind === "min")) {
      throw new DataError(`${this.toString()}: cannot take the ${kind} of an empty axis (x has shape ${fmtShape(x.shape)})`);
    }
    const out = NDArray.zeros(keptShape, node.outputs[0].type.dtype);
    const bases = new NDArray(x.dtype, keptShape, x.data, keptStrides, x.offset).offsets();
    const plan = planLoop(redShape, [redStrides]);
    const data = x.data;
    const od = out.data;
    if (plan.shape.length === 1) {
      // The reduced block coalesces into one strided run: no offset table needed.
      const s = plan.strides[0][0];
      for (let k = 0; k < bases.length; k++) od[k] = reduceStrided(kind, data, bases[k], n, s);
    } else {
      const rel = new NDArray(x.dtype, redShape, data, redStrides, 0).offsets();
      for (let k = 0; k < bases.length; k++) od[k] = reduceOffsets(kind, data, bases[k], rel);
    }
    return [out];
  }

  override connectionPattern(): boolean[][] {
    return [[true]];
  }

  /**
   * - sum: every x element feeds the output once, so dx = g broadcast back over the axes;
   * - prod: d(prod x)/dx_j = prod_{i≠j} x_i = out/x_j, so dx = g·out/x (exact only where x ≠ 0:
   *   the domain keeps inputs away from 0);
   * - max/min: dx = (x == out)·g, with the cotangent going to every tied position (PyTensor);
   * - all/any: bool outputs, disconnected.
   */
  override pullback([x]: readonly Variable[], [out]: readonly Variable[], [g]: readonly Variable[]): GradTerm[] {
    const { kind, axes } = this.props;
    if (isDiscrete(x.type.dtype) || isDiscrete(out.type.dtype)) return [DISCONNECTED];
    const order = keepdimsOrder(x.type.ndim, axes);
    const gE = dimshuffle(g, order);
    switch (kind) {
      case "sum":
        return [second(x, gE)];
      case "prod":
        return [div(mul(gE, dimshuffle(out, order)), x)];
      case "max":
      case "min":
        return [mul(eq(x, dimshuffle(out, order)), gE)];
      case "all":
      case "any":
        return [DISCONNECTED];
    }
  }

  /**
   * - sum: linear, so the same sum of dx;
   * - prod: d out = Σ_j (out / x_j) dx_j = out · sum(dx / x) (x ≠ 0, as for the pullback);
   * - max/min: d out = Σ dx_j over the positions j equal to out: the pullback's tie convention
   *   (every tied position), so that the two rules stay each other's transpose at a tie;
   * - all/any: bool outputs, disconnected.
   */
  override pushforward([x]: readonly Variable[], [out]: readonly Variable[], [dx]: readonly (Variable | Disconnected)[]): (Variable | Disconnected)[] {
    const { kind, axes } = this.props;
    if (!(dx instanceof Variable) || isDiscrete(out.type.dtype)) return [DISCONNECTED];
    const sumOver = (v: Variable): Variable => new Reduce("sum", axes).makeNode(v).out;
    switch (kind) {
      case "sum":
        return [sumOver(dx)];
      case "prod":
        return [mul(out, sumOver(div(dx, x)))];
      case "max":
      case "min":
        return [sumOver(mul(eq(x, dimshuffle(out, keepdimsOrder(x.type.ndim, axes))), dx))];
      case "all":
      case "any":
        return [DISCONNECTED];
    }
  }
}

/** Normalise a reduction's `axes` argument against ndim: null means all, negatives count from the end. */
export function normalizeAxes(op: string, axes: readonly number[] | null | undefined, ndim: number, shape: string): number[] {
  if (axes === null || axes === undefined) return Array.from({ length: ndim }, (_, i) => i);
  const out: number[] = [];
  for (const a of axes) {
    if (!Number.isInteger(a) || a < -ndim || a >= ndim) throw new OpInputError(`${op}: axis ${a} is out of range for x with shape ${shape}`);
    const b = a < 0 ? a + ndim : a;
    if (out.includes(b)) throw new OpInputError(`${op}: axis ${a} is repeated in axes ${JSON.stringify(axes)} (x has shape ${shape})`);
    out.push(b);
  }
  return out.sort((p, q) => p - q);
}

function reduce(kind: ReduceKind, x: TensorLike, axes: readonly number[] | null | undefined, keepdims: boolean): TensorVariable {
  const t = asTensor(x, resultDtype([x]), kind);
  const ax = normalizeAxes(kind, axes, t.type.ndim, shapeToString(t.type.shape));
  const r = new Reduce(kind, ax).makeNode(t).out;
  return (keepdims ? dimshuffle(r, keepdimsOrder(t.type.ndim, ax)) : r) as TensorVariable;
}

/** Sum over `axes` (null or omitted: all axes). Ints and bool sum to int64. */
export function sum(x: TensorLike, axes?: readonly number[] | null, keepdims = false): TensorVariable {
  return reduce("sum", x, axes, keepdims);
}

/** Product over `axes` (null or omitted: all axes). Ints and bool multiply to int64. */
export function prod(x: TensorLike, axes?: readonly number[] | null, keepdims = false): TensorVariable {
  return reduce("prod", x, axes, keepdims);
}

/** Maximum over `axes`; NaN propagates; an empty axis is an error. */
export function max(x: TensorLike, axes?: readonly number[] | null, keepdims = false): TensorVariable {
  return reduce("max", x, axes, keepdims);
}

/** Minimum over `axes`; NaN propagates; an empty axis is an error. */
export function min(x: TensorLike, axes?: readonly number[] | null, keepdims = false): TensorVariable {
  return reduce("min", x, axes, keepdims);
}

/** True where every element over `axes` is nonzero (bool). */
export function all(x: TensorLike, axes?: readonly number[] | null, keepdims = false): TensorVariable {
  return reduce("all", x, axes, keepdims);
}

/** True where some element over `axes` is nonzero (bool). */
export function any(x: TensorLike, axes?: readonly number[] | null, keepdims = false): TensorVariable {
  return reduce("any", x, axes, keepdims);
}
