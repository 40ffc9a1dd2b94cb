/**
 * XElemwise: any positional scalar op applied to named inputs aligned by name.
 *
 * Output dims are the union of the inputs' dims in order of first appearance; inputs sharing a
 * dim must agree on its length. Numbers are weak 0-d operands (NEP 50): they take the dtype the
 * strong operands settle on, so `float32 * 2.5` stays float32.
 */
import { Apply, type Variable } from "../graph/basic.js";
import type { DType } from "../graph/type.js";
import { OpInputError } from "../errors.js";
import { resultDtype } from "../tensor/basic.js";
import { type ScalarName, cast as ptCast, elemwise as ptElemwise, isScalarName, scalarOutDtype, scalarSpec } from "../tensor/elemwise.js";
import { XOp } from "./op.js";
import { argLabel, lowerAligned, unionDims, wrapLowered, xtype } from "./common.js";
import { transpose } from "./shape.js";
import { XTensorType, type XTensorLike, type XTensorVariable, isXTensorVariable, xconstant } from "./type.js";

/** A positional scalar op applied to named inputs. `dtype` is the target of `cast`, else null. */
export class XElemwise extends XOp {
  readonly name = "XElemwise";
  readonly props: { readonly scalar: ScalarName; readonly dtype: DType | null };

  constructor(scalar: ScalarName, dtype: DType | null = null) {
    super();
    if (!isScalarName(scalar)) throw new OpInputError(`XElemwise: unknown scalar op ${JSON.stringify(scalar)}`);
    if ((scalar === "cast") !== (dtype !== null)) throw new OpInputError(`XElemwise: a target dtype is required for cast and only for cast (scalar "${scalar}")`);
    this.props = { scalar, dtype };
  }

  makeNode(...inputs: Variable[]): Apply {
    const op = this.props.scalar;
    const arity = scalarSpec(op).arity;
    if (inputs.length !== arity) throw new OpInputError(`${op}: expected ${arity} arguments, got ${inputs.length}`);
    const args = inputs.map((v, i) => ({ label: argLabel(i, inputs.length), type: xtype(op, argLabel(i, inputs.length), v) }));
    const { dims, shape } = unionDims(op, args);
    // The positional scalar table's dtype rule, so the named and positional rules cannot drift.
    const dtype = scalarOutDtype(this.props.scalar, args.map((a) => a.type.dtype), this.props.dtype, op);
    return new Apply(this, inputs, [new XTensorType(dtype, dims, shape)]);
  }

  /**
   * The scalar table's connections, as the positional Elemwise declares them: `second` reads
   * only x's shape, `where`'s condition only selects. Without it the driver, meeting the named
   * op (perNode through a graph that holds a lazy gradient's seed), warned that its rule's
   * DISCONNECTED contradicted the default all-connected pattern.
   */
  override connectionPattern(node: Apply): boolean[][] {
    const c = scalarSpec(this.props.scalar).connected;
    return node.inputs.map((_, i) => [c?.[i] ?? true]);
  }

  lower(node: Apply): Variable[] {
    const out = node.outputs[0].type as XTensorType;
    const ts = node.inputs.map((x) => lowerAligned(x, out.dims));
    const t = this.props.dtype !== null ? ptCast(ts[0], this.props.dtype) : ptElemwise(this.props.scalar, ...ts);
    return [wrapLowered(this.props.scalar, t, out)];
  }
}

/**
 * Named operands for an elemwise op: numbers become 0-d constants of the dtype the strong
 * operands promote to under NEP 50. `promoteOver` selects the operands that take part in
 * promotion (where's condition does not).
 */
function operands(op: string, args: readonly XTensorLike[], promoteOver: readonly boolean[] = args.map(() => true)): XTensorVariable[] {
  args.forEach((a, i) => {
    if (typeof a !== "number" && !isXTensorVariable(a)) {
      const what = a !== null && typeof a === "object" && "type" in a ? (a as Variable).type.toString() : JSON.stringify(a);
      throw new OpInputError(`${op}: ${argLabel(i, args.length)} must be a named tensor or a number, got ${what}`);
    }
  });
  const dtype = resultDtype(args.filter((_, i) => promoteOver[i]));
  return args.map((a, i) => (typeof a === "number" ? xconstant(a, [], promoteOver[i] ? dtype : "bool") : a));
}

/** Apply the positional scalar op `scalar` to named operands (the generic elemwise builder). */
export function xelemwise(scalar: ScalarName, ...args: XTensorLike[]): XTensorVariable {
  return new XElemwise(scalar).makeNode(...operands(scalar, args)).out as XTensorVariable;
}

type Unary = (x: XTensorLike) => XTensorVariable;
type Binary = (x: XTensorLike, y: XTensorLike) => XTensorVariable;
const unary = (name: ScalarName): Unary => (x) => xelemwise(name, x);
const binary = (name: ScalarName): Binary => (x, y) => xelemwise(name, x, y);

/** x + y, aligned by name. */
export const add: Binary = binary("add");
/** x − y, aligned by name. */
export const sub: Binary = binary("sub");
/** x · y, aligned by name. */
export const mul: Binary = binary("mul");
/** x / y (true division: ints give float64), aligned by name. */
export const div: Binary = binary("div");
/** x ** y, aligned by name. */
export const pow: Binary = binary("pow");
/** Elementwise maximum (at a tie the gradient goes to x). */
export const maximum: Binary = binary("maximum");
/** Elementwise minimum (at a tie the gradient goes to x). */
export const minimum: Binary = binary("minimum");
/** x < y (bool). */
export const lt: Binary = binary("lt");
/** x > y (bool). */
export const gt: Binary = binary("gt");
/** x ≤ y (bool). */
export const le: Binary = binary("le");
/** x ≥ y (bool). */
export const ge: Binary = binary("ge");
/** x == y (bool). */
export const eq: Binary = binary("eq");
/** x != y (bool). */
export const ne: Binary = binary("ne");
/** Logical and (bool). */
export const logicalAnd: Binary = binary("logicalAnd");
/** Logical or (bool). */
export const logicalOr: Binary = binary("logicalOr");
/** −x. */
export const neg: Unary = unary("neg");
/** |x| (the gradient at 0 is 0). */
export const abs: Unary = unary("abs");
/** sign(x). */
export const sign: Unary = unary("sign");
/** eˣ. */
export const exp: Unary = unary("exp");
/** Natural log. */
export const log: Unary = unary("log");
/** log(1 + x). */
export const log1p: Unary = unary("log1p");
/** eˣ − 1. */
export const expm1: Unary = unary("expm1");
/** √x. */
export const sqrt: Unary = unary("sqrt");
/** x². */
export const square: Unary = unary("square");
/** sin x. */
export const sin: Unary = unary("sin");
/** cos x. */
export const cos: Unary = unary("cos");
/** tanh x. */
export const tanh: Unary = unary("tanh");
/** 1 / (1 + e⁻ˣ). */
export const sigmoid: Unary = unary("sigmoid");
/** log(1 + eˣ). */
export const softplus: Unary = unary("softplus");
/** Logical not (bool). */
export const logicalNot: Unary = unary("logicalNot");
/** x itself, as a new variable (xarray's `copy`). */
export const identity: Unary = unary("identity");
/** y broadcast to the union of x's and y's dims (x supplies only dims and lengths). */
export const second: Binary = binary("second");

/**
 * `cond ? x : y` elementwise. Dims are the union of cond's, x's and y's in first-appearance
 * order; the dtype is x and y promoted (cond does not take part).
 */
export function where(cond: XTensorLike, x: XTensorLike, y: XTensorLike): XTensorVariable {
  return new XElemwise("where").makeNode(...operands("where", [cond, x, y], [false, true, true])).out as XTensorVariable;
}

/**
 * xarray's method form `x.where(cond, other)`: x where cond holds, else other. xarray puts x's
 * own dims first in the result, so this transposes `where(cond, x, other)` when cond or other
 * introduce dims ahead of x's.
 */
export function whereLike(x: XTensorVariable, cond: XTensorLike, other: XTensorLike): XTensorVariable {
  const r = where(cond, x, other);
  const order = [...x.dims, ...r.dims.filter((d) => !x.dims.includes(d))];
  return order.every((d, i) => r.dims[i] === d) ? r : transpose(r, order);
}

/** Convert to `dtype` (numpy casting). Casting to the same dtype returns x itself. */
export function cast(x: XTensorLike, dtype: DType): XTensorVariable {
  const [v] = operands("cast", [x]);
  if (v.type.dtype === dtype) return v;
  return new XElemwise("cast", dtype).makeNode(v).out as XTensorVariable;
}

/** An xtensor like x (same dims and lengths) filled with `value`, of dtype `dtype` (default x's). */
export function fullLike(x: XTensorVariable, value: XTensorLike, dtype?: DType): XTensorVariable {
  const dt = dtype ?? x.type.dtype;
  const v = typeof value === "number" ? xconstant(value, [], dt) : cast(value, dt);
  return new XElemwise("second").makeNode(x, v).out as XTensorVariable;
}

/** Zeros like x (dtype defaults to x's). */
export function zerosLike(x: XTensorVariable, dtype?: DType): XTensorVariable {
  return fullLike(x, 0, dtype);
}

/** Ones like x (dtype defaults to x's). */
export function onesLike(x: XTensorVariable, dtype?: DType): XTensorVariable {
  return fullLike(x, 1, dtype);
}
