/**
 * Cumulative sums and products along one axis: `CumOp` and the builders `cumsum`, `cumprod`.
 *
 * The output has x's shape. dtypes follow `sum`: ints and bool accumulate in int64, floats keep
 * their dtype. Each partial result is stored (and so rounded) before the next step, which is
 * what numpy's sequential cumsum does in float32.
 */
import { Apply, Variable } from "../graph/basic.js";
import { DISCONNECTED, type Disconnected, type GradTerm, Op } from "../graph/op.js";
import { TensorType, isDiscrete, shapeToString } from "../graph/type.js";
import { NDArray } from "../ndarray/ndarray.js";
import { OpInputError } from "../errors.js";
import { type TensorLike, type TensorVariable, asTensor, resultDtype } from "./basic.js";
import { type InputDomain, div, mul } from "./elemwise.js";
import { reduceDtype } from "./reduce.js";
import { type BasicIndex, subtensor } from "./indexing.js";

/** The accumulation modes. */
export type CumMode = "add" | "mul";

/**
 * Test domains per mode: cumprod's pullback divides by x, so its inputs stay away from 0
 * (and in a range where long products neither overflow nor vanish).
 */
export const CUM_DOMAINS = {
  add: { lo: -3, hi: 3, avoid: [], margin: 0 },
  mul: { lo: -2, hi: 2, avoid: [0], margin: 0.3 },
} as const satisfies Record<CumMode, InputDomain>;

/** x reversed along `axis` (a step -1 slice). */
function reverse(x: Variable, axis: number): TensorVariable {
  const full: BasicIndex = { start: null, stop: null, step: null };
  const idx: BasicIndex[] = Array.from({ length: x.type.ndim }, (_, i) => (i === axis ? { start: null, stop: null, step: -1 } : full));
  return subtensor(x, idx) as TensorVariable;
}

/** Cumulative sum (`mode: "add"`) or product (`mode: "mul"`) of x along `axis`. */
export class CumOp extends Op {
  readonly name = "CumOp";
  readonly props: { readonly mode: CumMode; readonly axis: number };

  constructor(mode: CumMode, axis: number) {
    super();
    if (mode !== "add" && mode !== "mul") throw new OpInputError(`CumOp: unknown mode ${JSON.stringify(mode)}`);
    if (!Number.isInteger(axis) || axis < 0) throw new OpInputError(`CumOp{${mode}}: axis must be a non-negative integer, got ${axis}`);
    this.props = { mode, axis };
  }

  override toString(): string {
    return `CumOp{${this.props.mode}, axis=${this.props.axis}}`;
  }

  override makeNode(...inputs: Variable[]): Apply {
    const op = this.toString();
    if (inputs.length !== 1) throw new OpInputError(`${op}: expected 1 input, got ${inputs.length}`);
    const t = inputs[0].type;
    if (!(t instanceof TensorType)) throw new OpInputError(`${op}: x must be a positional tensor, got ${t.toString()}`);
    if (this.props.axis >= t.ndim) throw new OpInputError(`${op}: axis ${this.props.axis} is out of range for x with shape ${shapeToString(t.shape)}`);
    return new Apply(this, inputs, [new TensorType(reduceDtype(this.props.mode === "add" ? "sum" : "prod", t.dtype), t.shape)]);
  }

  override perform(node: Apply, [x]: readonly NDArray[]): NDArray[] {
    const axis = this.props.axis;
    const out = NDArray.zeros(x.shape, node.outputs[0].type.dtype);
    const n = x.shape[axis];
    if (out.size === 0) return [out];
    // One line per position of the other axes; `indexAxis(axis, 0)` gives the line starts.
    const xb = x.indexAxis(axis, 0).offsets();
    const ob = out.indexAxis(axis, 0).offsets();
    const xs = x.strides[axis];
    const os = out.strides[axis];
    const xd = x.data;
    const od = out.data;
    const isAdd = this.props.mode === "add";
    for (let k = 0; k < xb.length; k++) {
      let px = xb[k];
      let po = ob[k];
      let acc = isAdd ? 0 : 1;
      for (let j = 0; j < n; j++, px += xs, po += os) {
        od[po] = isAdd ? acc + xd[px] : acc * xd[px];
        // Read back the stored value so each partial is rounded to the output dtype.
        acc = od[po];
      }
    }
    return [out];
  }

  override connectionPattern(): boolean[][] {
    return [[true]];
  }

  /**
   * out_i = Σ_{j≤i} x_j, so dx_j = Σ_{i≥j} g_i: a *reversed* cumulative sum of g.
   * For the product, d out_i / d x_j = out_i / x_j for i ≥ j, so dx = revcumsum(out·g) / x,
   * exact only where x ≠ 0 (the domain keeps inputs away from 0).
   */
  override pullback([x]: readonly Variable[], [out]: readonly Variable[], [g]: readonly Variable[]): GradTerm[] {
    if (isDiscrete(x.type.dtype) || isDiscrete(out.type.dtype)) return [DISCONNECTED];
    const axis = this.props.axis;
    const revCumsum = (v: Variable): TensorVariable => reverse(cumsum(reverse(v, axis), axis), axis);
    if (this.props.mode === "add") return [revCumsum(g)];
    return [div(revCumsum(mul(out, g)), x)];
  }

  /**
   * The sum is linear: cumsum(dx). For the product, d out_i = Σ_{j≤i} (out_i / x_j) dx_j, so
   * d out = out · cumsum(dx / x) (x ≠ 0, as for the pullback).
   */
  override pushforward([x]: readonly Variable[], [out]: readonly Variable[], [dx]: readonly (Variable | Disconnected)[]): (Variable | Disconnected)[] {
    if (!(dx instanceof Variable) || isDiscrete(out.type.dtype)) return [DISCONNECTED];
    const along = (v: Variable): Variable => new CumOp("add", this.props.axis).makeNode(v).out;
    return [this.props.mode === "add" ? along(dx) : mul(out, along(div(dx, x)))];
  }
}

function cumulative(mode: CumMode, x: TensorLike, axis: number): TensorVariable {
  const op = mode === "add" ? "cumsum" : "cumprod";
  const t = asTensor(x, resultDtype([x]), op);
  const nd = t.type.ndim;
  if (!Number.isInteger(axis) || axis < -nd || axis >= nd) throw new OpInputError(`${op}: axis ${axis} is out of range for x with shape ${shapeToString(t.type.shape)}`);
  return new CumOp(mode, axis < 0 ? axis + nd : axis).makeNode(t).out as TensorVariable;
}

/** Cumulative sum along `axis` (negative counts from the end); ints and bool accumulate in int64. */
export function cumsum(x: TensorLike, axis: number): TensorVariable {
  return cumulative("add", x, axis);
}

/** Cumulative product along `axis` (negative counts from the end); ints and bool accumulate in int64. */
export function cumprod(x: TensorLike, axis: number): TensorVariable {
  return cumulative("mul", x, axis);
}
