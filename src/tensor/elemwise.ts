/**
 * Elementwise ops: the scalar table `SCALAR_OPS`, the `Elemwise` op that maps one scalar op
 * over broadcast tensors, the fused `Composite` op, and the public builders.
 *
 * Every scalar op's rules sit in its table entry: arity, output dtype rule, value, pullback and
 * the test domain the harness draws inputs from. The table is checked with
 * `satisfies Record<ScalarName, ScalarSpec>`, so adding a name without its rules does not compile.
 *
 * Broadcasting follows numpy (inputs right-aligned) with PyTensor's static rule: only an axis
 * whose *static* length is 1 broadcasts. An axis of unknown (`null`) length must match the
 * output's length at run time; a mismatch is a DataError. This is what makes the pullback rule
 * exact: the cotangent is summed over exactly the statically broadcast axes (reference §5.6).
 */
import { Apply, Constant, Variable } from "../graph/basic.js";
import { type AliasMap, DISCONNECTED, type Disconnected, type GradTerm, Op, stableStringify } from "../graph/op.js";
import { type DType, type Shape, TensorType, isDiscrete, isFloat, shapeToString } from "../graph/type.js";
import { NDArray, allocBuffer, coerce, fmtShape, sizeOf, type TypedBuffer } from "../ndarray/ndarray.js";
import { type Kernel, type KernelBody, coerceExpr, generateKernel, patternOf, planLoop, runKernel } from "../ndarray/kernels.js";
import { DataError, OpInputError } from "../errors.js";
import { type TensorLike, type TensorVariable, asTensor, constant, floatDtype, resultDtype, upcast } from "./basic.js";
import { sum } from "./reduce.js";

// ---------------------------------------------------------------------------------------------
// The scalar table
// ---------------------------------------------------------------------------------------------

/** Every scalar op name. */
export type ScalarName =
  | "add" | "sub" | "mul" | "div" | "neg" | "pow" | "abs" | "sign" | "maximum" | "minimum"
  | "exp" | "log" | "log1p" | "expm1" | "sqrt" | "square" | "sin" | "cos" | "tanh" | "sigmoid" | "softplus"
  | "lt" | "gt" | "le" | "ge" | "eq" | "ne" | "logicalAnd" | "logicalOr" | "logicalNot"
  | "where" | "cast" | "identity" | "second";

/**
 * How a scalar op's output dtype follows from its input dtypes:
 * - `upcast`: numpy promotion of all inputs (`add`, `maximum`, ...);
 * - `float`: promotion, then ints and bool go to float64 (`div`, `exp`, ...);
 * - `bool`: always bool (comparisons, logical ops);
 * - `second`: the dtype of the second input (`second` fills x's shape with y's values);
 * - `where`: promotion of the two value inputs (the condition does not take part);
 * - `cast`: the `dtype` prop.
 */
export type DtypeRule = "upcast" | "float" | "bool" | "second" | "where" | "cast";

/**
 * The test domain of one input: draw from `[lo, hi]`, and keep at least `margin` away from
 * every point in `avoid` (kinks, poles, ties with a constant). `bool: true` marks a condition
 * input, drawn from {0, 1} and given as a bool tensor.
 */
export interface InputDomain {
  readonly lo: number;
  readonly hi: number;
  readonly avoid: readonly number[];
  readonly margin: number;
  readonly bool?: boolean;
}

/**
 * A constraint between inputs: `apart` means `|x[a] - x[b]| >= margin` at every element
 * (after broadcasting), which keeps `maximum`/`minimum` and comparisons off their ties.
 */
export interface DomainRelation {
  readonly kind: "apart";
  readonly inputs: readonly [number, number];
  readonly margin: number;
}

/**
 * Where an op's value and gradient may be checked numerically: one `InputDomain` per input,
 * relations between inputs, and whether the op has a gradient at all (`differentiable: false`
 * for comparisons and logical ops, whose outputs are bool). Finite-difference steps must be
 * smaller than every margin.
 */
export interface ScalarDomain {
  readonly inputs: readonly InputDomain[];
  readonly relations: readonly DomainRelation[];
  readonly differentiable: boolean;
}

/**
 * A scalar pullback: given the op's inputs, its output and the cotangent `g` (all tensors, `g`
 * and `out` at the output's shape), one gradient term per input at the output's shape, or null
 * when that input is disconnected. Elemwise sums the terms back to each input's shape and dtype.
 */
export type ScalarPullback = (inputs: readonly TensorVariable[], out: TensorVariable, g: TensorVariable) => (TensorVariable | null)[];

/**
 * A scalar pushforward: given the op's inputs, its output and one tangent per input (null when
 * that input has none; at least one has), the output's tangent, or null when the output does
 * not depend on any input that has one. A term may have any shape that broadcasts to the
 * output's: Elemwise broadcasts it. Written from the derivative, not from `pullback`, so that
 * `pushforward-duality` compares two independent statements of each op's Jacobian.
 */
export type ScalarPushforward = (inputs: readonly TensorVariable[], out: TensorVariable, tangents: readonly (TensorVariable | null)[]) => TensorVariable | null;

/** Every rule of one scalar op. */
export interface ScalarSpec {
  readonly arity: 1 | 2 | 3;
  readonly dtype: DtypeRule;
  /** The value on JS doubles. Elemwise converts the result to the output dtype. */
  readonly impl: (...args: number[]) => number;
  /** Exact replacements for `impl` when the output has this dtype (int32 `mul` needs `Math.imul`). */
  readonly implFor?: Partial<Record<DType, (...args: number[]) => number>>;
  /** numpy refuses this op on bool inputs (`-` and `neg` of bool are errors there). */
  readonly noBool?: boolean;
  /** Per input: does the output depend on it at all? Defaults to all true. */
  readonly connected?: readonly boolean[];
  readonly pullback: ScalarPullback;
  readonly pushforward: ScalarPushforward;
  readonly domain: ScalarDomain;
}

/** The default input domain: moderate values where every smooth op is well conditioned. */
const REAL: InputDomain = { lo: -3, hi: 3, avoid: [], margin: 0 };
const dom = (inputs: InputDomain[], relations: DomainRelation[] = [], differentiable = true): ScalarDomain => ({ inputs, relations, differentiable });
const avoid = (points: number[], margin: number, lo = -3, hi = 3): InputDomain => ({ lo, hi, avoid: points, margin });
const positive = (lo: number, hi = 3): InputDomain => ({ lo, hi, avoid: [], margin: 0 });
const apart = (margin: number): DomainRelation => ({ kind: "apart", inputs: [0, 1], margin });
const COND: InputDomain = { lo: 0, hi: 1, avoid: [], margin: 0, bool: true };
const none = (n: number): ScalarPullback => () => new Array<null>(n).fill(null);
/** The pushforward of an op with a discrete output (Elemwise never calls it). */
const noTangent: ScalarPushforward = () => null;
/** The tangents that exist, summed (null when none does). */
const total = (...ts: readonly (TensorVariable | null)[]): TensorVariable | null =>
  ts.reduce<TensorVariable | null>((acc, t) => (t === null ? acc : acc === null ? t : add(acc, t)), null);
/** `t · ∂` for a tangent that exists; the partial derivative is only built then. */
const times = (t: TensorVariable | null, partial: () => TensorLike): TensorVariable | null => (t === null ? null : mul(t, partial()));

/** numpy's truthiness on doubles: NaN is nonzero, hence true. */
const truthy = (v: number): boolean => v !== 0;

/**
 * The scalar table. Pullback comments give the math; `g` is the output cotangent and `out` the
 * output value.
 */
export const SCALAR_OPS = {
  add: {
    arity: 2, dtype: "upcast", impl: (a, b) => a + b,
    pullback: (_x, _o, g) => [g, g],
    pushforward: (_x, _o, [dx, dy]) => total(dx, dy),
    domain: dom([REAL, REAL]),
  },
  sub: {
    arity: 2, dtype: "upcast", noBool: true, impl: (a, b) => a - b,
    pullback: (_x, _o, g) => [g, neg(g)],
    pushforward: (_x, _o, [dx, dy]) => total(dx, dy === null ? null : neg(dy)),
    domain: dom([REAL, REAL]),
  },
  // d(xy) = y dx + x dy
  mul: {
    arity: 2, dtype: "upcast", impl: (a, b) => a * b, implFor: { int32: Math.imul },
    pullback: ([x, y], _o, g) => [mul(g, y), mul(g, x)],
    pushforward: ([x, y], _o, [dx, dy]) => total(times(dx, () => y), times(dy, () => x)),
    domain: dom([REAL, REAL]),
  },
  // d(x/y) = dx/y - (x/y²) dy = dx/y - out/y dy
  div: {
    arity: 2, dtype: "float", impl: (a, b) => a / b,
    pullback: ([, y], o, g) => [div(g, y), neg(div(mul(g, o), y))],
    pushforward: ([, y], o, [dx, dy]) => div(total(dx, times(dy, () => neg(o))) as TensorVariable, y),
    domain: dom([REAL, avoid([0], 0.5)]),
  },
  neg: {
    arity: 1, dtype: "upcast", noBool: true, impl: (a) => -a,
    pullback: (_x, _o, g) => [neg(g)],
    pushforward: (_x, _o, [dx]) => (dx === null ? null : neg(dx)),
    domain: dom([REAL]),
  },
  // d(x^y) = y x^(y-1) dx + x^y log(x) dy; exact only for x > 0, hence the domain. An int base
  // with a negative int exponent truncates (numpy raises); int results are exact below 2^53.
  pow: {
    arity: 2, dtype: "upcast", impl: (a, b) => Math.pow(a, b),
    pullback: ([x, y], o, g) => [mul(g, mul(y, pow(x, sub(y, 1)))), mul(g, mul(o, log(x)))],
    pushforward: ([x, y], o, [dx, dy]) => total(times(dx, () => mul(y, pow(x, sub(y, 1)))), times(dy, () => mul(o, log(x)))),
    domain: dom([positive(0.2, 3), REAL]),
  },
  // abs'(x) = sign(x), so abs'(0) = 0 (PyTensor's convention).
  abs: {
    arity: 1, dtype: "upcast", impl: Math.abs,
    pullback: ([x], _o, g) => [mul(g, sign(x))],
    pushforward: ([x], _o, [dx]) => times(dx, () => sign(x)),
    domain: dom([avoid([0], 0.1)]),
  },
  // sign is piecewise constant: its derivative is 0 away from 0.
  sign: {
    arity: 1, dtype: "upcast", impl: Math.sign,
    pullback: (_x, _o, g) => [zerosLike(g)],
    pushforward: (_x, o) => zerosLike(o),
    domain: dom([avoid([0], 0.1)]),
  },
  // The cotangent goes to the first argument at a tie (x >= y), PyTensor's convention.
  maximum: {
    arity: 2, dtype: "upcast", impl: (a, b) => (a >= b || a !== a ? a : b),
    pullback: ([x, y], _o, g) => [mul(g, ge(x, y)), mul(g, lt(x, y))],
    pushforward: ([x, y], _o, [dx, dy]) => where(ge(x, y), dx ?? 0, dy ?? 0),
    domain: dom([REAL, REAL], [apart(0.1)]),
  },
  minimum: {
    arity: 2, dtype: "upcast", impl: (a, b) => (a <= b || a !== a ? a : b),
    pullback: ([x, y], _o, g) => [mul(g, le(x, y)), mul(g, gt(x, y))],
    pushforward: ([x, y], _o, [dx, dy]) => where(le(x, y), dx ?? 0, dy ?? 0),
    domain: dom([REAL, REAL], [apart(0.1)]),
  },
  // exp' = exp = out
  exp: { arity: 1, dtype: "float", impl: Math.exp, pullback: (_x, o, g) => [mul(g, o)], pushforward: (_x, o, [dx]) => times(dx, () => o), domain: dom([REAL]) },
  // log' = 1/x
  log: {
    arity: 1, dtype: "float", impl: Math.log,
    pullback: ([x], _o, g) => [div(g, x)],
    pushforward: ([x], _o, [dx]) => (dx === null ? null : div(dx, x)),
    domain: dom([positive(0.1)]),
  },
  // log1p' = 1/(1+x)
  log1p: {
    arity: 1, dtype: "float", impl: Math.log1p,
    pullback: ([x], _o, g) => [div(g, add(x, 1))],
    pushforward: ([x], _o, [dx]) => (dx === null ? null : div(dx, add(x, 1))),
    domain: dom([positive(-0.9)]),
  },
  // expm1' = exp = out + 1
  expm1: {
    arity: 1, dtype: "float", impl: Math.expm1,
    pullback: (_x, o, g) => [mul(g, add(o, 1))],
    pushforward: (_x, o, [dx]) => times(dx, () => add(o, 1)),
    domain: dom([REAL]),
  },
  // sqrt' = 1/(2 sqrt x) = 0.5/out
  sqrt: {
    arity: 1, dtype: "float", impl: Math.sqrt,
    pullback: (_x, o, g) => [div(mul(g, 0.5), o)],
    pushforward: (_x, o, [dx]) => (dx === null ? null : div(dx, mul(o, 2))),
    domain: dom([positive(0.1)]),
  },
  // (x²)' = 2x
  square: {
    arity: 1, dtype: "upcast", impl: (a) => a * a, implFor: { int32: (a) => Math.imul(a, a) },
    pullback: ([x], _o, g) => [mul(g, mul(x, 2))],
    pushforward: ([x], _o, [dx]) => times(dx, () => mul(x, 2)),
    domain: dom([REAL]),
  },
  sin: {
    arity: 1, dtype: "float", impl: Math.sin,
    pullback: ([x], _o, g) => [mul(g, cos(x))],
    pushforward: ([x], _o, [dx]) => times(dx, () => cos(x)),
    domain: dom([REAL]),
  },
  cos: {
    arity: 1, dtype: "float", impl: Math.cos,
    pullback: ([x], _o, g) => [neg(mul(g, sin(x)))],
    pushforward: ([x], _o, [dx]) => times(dx, () => neg(sin(x))),
    domain: dom([REAL]),
  },
  // tanh' = 1 - tanh² = 1 - out²
  tanh: {
    arity: 1, dtype: "float", impl: Math.tanh,
    pullback: (_x, o, g) => [mul(g, sub(1, square(o)))],
    pushforward: (_x, o, [dx]) => times(dx, () => sub(1, square(o))),
    domain: dom([REAL]),
  },
  // σ' = σ(1 - σ); each branch only exponentiates a non-positive number, so neither overflows.
  sigmoid: {
    arity: 1, dtype: "float", impl: (a) => (a >= 0 ? 1 / (1 + Math.exp(-a)) : Math.exp(a) / (1 + Math.exp(a))),
    pullback: (_x, o, g) => [mul(g, mul(o, sub(1, o)))],
    pushforward: (_x, o, [dx]) => times(dx, () => mul(o, sub(1, o))),
    domain: dom([REAL]),
  },
  // softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|), which never overflows; softplus' = σ(x).
  softplus: {
    arity: 1, dtype: "float", impl: (a) => (a > 0 ? a + Math.log1p(Math.exp(-a)) : Math.log1p(Math.exp(a))),
    pullback: ([x], _o, g) => [mul(g, sigmoid(x))],
    pushforward: ([x], _o, [dx]) => times(dx, () => sigmoid(x)),
    domain: dom([REAL]),
  },
  lt: {
    arity: 2, dtype: "bool", impl: (a, b) => (a < b ? 1 : 0),
    pullback: none(2),
    pushforward: noTangent,
    domain: dom([REAL, REAL], [apart(0.1)], false),
  },
  gt: {
    arity: 2, dtype: "bool", impl: (a, b) => (a > b ? 1 : 0),
    pullback: none(2),
    pushforward: noTangent,
    domain: dom([REAL, REAL], [apart(0.1)], false),
  },
  le: {
    arity: 2, dtype: "bool", impl: (a, b) => (a <= b ? 1 : 0),
    pullback: none(2),
    pushforward: noTangent,
    domain: dom([REAL, REAL], [apart(0.1)], false),
  },
  ge: {
    arity: 2, dtype: "bool", impl: (a, b) => (a >= b ? 1 : 0),
    pullback: none(2),
    pushforward: noTangent,
    domain: dom([REAL, REAL], [apart(0.1)], false),
  },
  eq: {
    arity: 2, dtype: "bool", impl: (a, b) => (a === b ? 1 : 0),
    pullback: none(2),
    pushforward: noTangent,
    domain: dom([REAL, REAL], [], false),
  },
  ne: {
    arity: 2, dtype: "bool", impl: (a, b) => (a !== b ? 1 : 0),
    pullback: none(2),
    pushforward: noTangent,
    domain: dom([REAL, REAL], [], false),
  },
  logicalAnd: {
    arity: 2, dtype: "bool", impl: (a, b) => (truthy(a) && truthy(b) ? 1 : 0),
    pullback: none(2),
    pushforward: noTangent,
    domain: dom([COND, COND], [], false),
  },
  logicalOr: {
    arity: 2, dtype: "bool", impl: (a, b) => (truthy(a) || truthy(b) ? 1 : 0),
    pullback: none(2),
    pushforward: noTangent,
    domain: dom([COND, COND], [], false),
  },
  logicalNot: {
    arity: 1, dtype: "bool", impl: (a) => (truthy(a) ? 0 : 1),
    pullback: none(1),
    pushforward: noTangent,
    domain: dom([COND], [], false),
  },
  // The condition only selects: it is disconnected. dx = where(c, g, 0), dy = where(c, 0, g).
  where: {
    arity: 3,
    dtype: "where",
    impl: (c, a, b) => (truthy(c) ? a : b),
    connected: [false, true, true],
    pullback: ([c], _o, g) => [null, where(c, g, 0), where(c, 0, g)],
    pushforward: ([c], _o, [, dx, dy]) => where(c, dx ?? 0, dy ?? 0),
    domain: dom([COND, REAL, REAL]),
  },
  // A cast's Jacobian is the identity; Elemwise casts the cotangent back to x's dtype.
  cast: { arity: 1, dtype: "cast", impl: (a) => a, pullback: (_x, _o, g) => [g], pushforward: (_x, _o, [dx]) => dx, domain: dom([REAL]) },
  identity: { arity: 1, dtype: "upcast", impl: (a) => a, pullback: (_x, _o, g) => [g], pushforward: (_x, _o, [dx]) => dx, domain: dom([REAL]) },
  // second(x, y) only reads x's shape, so x is disconnected.
  second: {
    arity: 2, dtype: "second", impl: (_a, b) => b, connected: [false, true],
    pullback: (_x, _o, g) => [null, g],
    pushforward: (_x, _o, [, dy]) => dy,
    domain: dom([REAL, REAL]),
  },
} as const satisfies Record<ScalarName, ScalarSpec>;

/** The spec of a scalar op, typed as the general interface. */
export function scalarSpec(name: ScalarName): ScalarSpec {
  return SCALAR_OPS[name];
}

/** True when `name` is a scalar op name. */
export function isScalarName(name: string): name is ScalarName {
  return Object.prototype.hasOwnProperty.call(SCALAR_OPS, name);
}

/** The output dtype of a scalar op on inputs of these dtypes; an OpInputError if numpy refuses it. */
export function scalarOutDtype(name: ScalarName, dtypes: readonly DType[], castTo: DType | null, where: string = name): DType {
  const spec: ScalarSpec = SCALAR_OPS[name];
  if (spec.noBool && dtypes.every((d) => d === "bool")) {
    throw new OpInputError(`${where}: numpy does not define ${name} on bool inputs (got dtypes ${dtypes.join(", ")}); use logicalNot or logical ops`);
  }
  switch (spec.dtype) {
    case "upcast":
      return upcast(...dtypes);
    case "float":
      return floatDtype(upcast(...dtypes));
    case "bool":
      return "bool";
    case "second":
      return dtypes[1];
    case "where":
      return upcast(dtypes[1], dtypes[2]);
    case "cast":
      if (castTo === null) throw new OpInputError(`${where}: cast needs a target dtype`);
      return castTo;
  }
}

/** The scalar function used for an output dtype (an exact integer variant when one exists). */
function implOf(name: ScalarName, outDtype: DType): (...args: number[]) => number {
  const spec: ScalarSpec = SCALAR_OPS[name];
  return spec.implFor?.[outDtype] ?? spec.impl;
}

// ---------------------------------------------------------------------------------------------
// Broadcasting
// ---------------------------------------------------------------------------------------------

/**
 * The static output shape of broadcasting `shapes` (right-aligned): a known length other than 1
 * wins; unknown lengths give unknown; all-1 (or missing) gives 1. Two different known lengths
 * other than 1 are an OpInputError naming the op and every shape.
 */
export function broadcastStaticShape(op: string, shapes: readonly Shape[]): (number | null)[] {
  const nd = Math.max(0, ...shapes.map((s) => s.length));
  const out: (number | null)[] = [];
  for (let d = 0; d < nd; d++) {
    let len: number | null = 1;
    let known: number | null = null;
    for (const s of shapes) {
      const i = d - (nd - s.length);
      if (i < 0) continue;
      const l = s[i];
      if (l === 1) continue;
      if (l === null) {
        if (known === null) len = null;
        continue;
      }
      if (known !== null && known !== l) {
        throw new OpInputError(`${op}: shapes ${shapes.map(shapeToString).join(", ")} do not broadcast: axis ${d} has lengths ${known} and ${l}`);
      }
      known = l;
      len = l;
    }
    out.push(len);
  }
  return out;
}

/**
 * The run-time output shape, and per input its strides aligned to that shape (0 on broadcast
 * axes). Only statically-1 axes broadcast; any other length must equal the output's.
 */
function broadcastRuntime(op: Op, node: Apply, values: readonly NDArray[]): { shape: number[]; strides: number[][] } {
  const nd = node.outputs[0].type.ndim;
  const shape = new Array<number>(nd).fill(1);
  const owner = new Array<number>(nd).fill(-1);
  for (let k = 0; k < values.length; k++) {
    const v = values[k];
    const st = node.inputs[k].type.shape;
    if (v.ndim !== st.length) {
      throw new DataError(`${op}: input ${k} has shape ${fmtShape(v.shape)} but its type is ${shapeToString(st)}`);
    }
    const lead = nd - v.ndim;
    for (let i = 0; i < v.ndim; i++) {
      if (st[i] === 1) {
        if (v.shape[i] !== 1) throw new DataError(`${op}: input ${k} has shape ${fmtShape(v.shape)} but its type is ${shapeToString(st)}`);
        continue;
      }
      const d = i + lead;
      if (owner[d] < 0) {
        owner[d] = k;
        shape[d] = v.shape[i];
      } else if (shape[d] !== v.shape[i]) {
        throw new DataError(
          `${op}: input ${owner[d]} has length ${shape[d]} on axis ${d} but input ${k} has ${v.shape[i]} ` +
            `(shapes ${values.map((a) => fmtShape(a.shape)).join(", ")}; only statically length-1 axes broadcast)`,
        );
      }
    }
  }
  const strides = values.map((v) => {
    const s = new Array<number>(nd).fill(0);
    const lead = nd - v.ndim;
    for (let i = 0; i < v.ndim; i++) if (v.shape[i] !== 1) s[i + lead] = v.strides[i];
    return s;
  });
  return { shape, strides };
}

/** True when the array has a zero stride on an axis longer than 1: writing through it aliases. */
function selfOverlaps(a: NDArray): boolean {
  for (let d = 0; d < a.ndim; d++) if (a.strides[d] === 0 && a.shape[d] > 1) return true;
  return false;
}

function sameLayout(a: NDArray, b: NDArray): boolean {
  return a.offset === b.offset && a.shape.length === b.shape.length && a.strides.every((s, i) => s === b.strides[i] || a.shape[i] === 1);
}

// ---------------------------------------------------------------------------------------------
// The shared machinery of Elemwise and Composite
// ---------------------------------------------------------------------------------------------

/** Generated kernels shared by every op instance, keyed by what fixes their code. */
const KERNELS = new Map<string, Kernel[]>();

/**
 * A per-op cache of generated kernels keyed by dtype signature and inner-stride pattern, backed
 * by the module-wide `KERNELS`: rewrites create fresh but equal ops all the time, and compiling
 * a kernel costs far more than running a small one.
 */
class KernelCache {
  private readonly map = new Map<string, Kernel[]>();
  constructor(private readonly opKey: string) {}
  get(sig: string, pattern: number, nOut: number, nIn: number, body: () => KernelBody): Kernel {
    let arr = this.map.get(sig);
    if (arr === undefined) {
      const key = `${this.opKey}|${sig}`;
      arr = KERNELS.get(key);
      if (arr === undefined) {
        arr = [];
        KERNELS.set(key, arr);
      }
      this.map.set(sig, arr);
    }
    let k = arr[pattern];
    if (k === undefined) {
      k = generateKernel(nOut, nIn, pattern, body());
      arr[pattern] = k;
    }
    return k;
  }
}

/** What `runElementwise` needs from Elemwise and Composite. */
interface ElementwiseOp extends Op {
  readonly props: { readonly inplace: number | null };
  /** The kernel for this node's dtypes and a loop's inner-stride pattern. */
  kernelFor(node: Apply, pattern: number): Kernel;
}

/**
 * Run one broadcast loop: allocate outputs (or reuse the destroyed input's buffer for output 0),
 * plan the loop and call the kernel. Inputs that share the destroyed buffer with a different
 * layout are copied first, so an in-place write never clobbers a value still to be read.
 * This runs for every node the fuzzer evaluates, so it allocates only small arrays and builds
 * the op's name only for an error message.
 */
function runElementwise(op: ElementwiseOp, node: Apply, inputs: readonly NDArray[]): NDArray[] {
  const inplace = op.props.inplace;
  const { shape, strides } = broadcastRuntime(op, node, inputs);
  const outs: NDArray[] = [];
  let ins = inputs;
  let inStrides = strides;
  for (let j = 0; j < node.outputs.length; j++) {
    if (j === 0 && inplace !== null) {
      const target = inputs[inplace];
      if (selfOverlaps(target)) {
        throw new DataError(`${op.toString()}: cannot write in place into input ${inplace} with shape ${fmtShape(target.shape)} and strides (${target.strides.join(", ")}): it is a broadcast view`);
      }
      if (target.shape.length !== shape.length || target.shape.some((s, i) => s !== shape[i])) {
        throw new DataError(`${op.toString()}: in-place input ${inplace} has shape ${fmtShape(target.shape)} but the output has ${fmtShape(shape)}`);
      }
      if (target.dtype !== node.outputs[0].type.dtype) {
        throw new DataError(`${op.toString()}: in-place input ${inplace} has dtype ${target.dtype} but the output is ${node.outputs[0].type.dtype}`);
      }
      outs.push(target);
      if (inputs.some((v, k) => k !== inplace && v.sharesBuffer(target) && !sameLayout(v, target))) {
        ins = inputs.map((v, k) => (k !== inplace && v.sharesBuffer(target) && !sameLayout(v, target) ? v.copy() : v));
        inStrides = broadcastRuntime(op, node, ins).strides;
      }
      continue;
    }
    const dtype = node.outputs[j].type.dtype;
    outs.push(new NDArray(dtype, shape, allocBuffer(dtype, sizeOf(shape))));
  }
  const nOut = outs.length;
  const all: number[][] = new Array<number[]>(nOut + ins.length);
  const bufs: TypedBuffer[] = new Array<TypedBuffer>(nOut + ins.length);
  const offs: number[] = new Array<number>(nOut + ins.length);
  for (let j = 0; j < nOut; j++) {
    const o = outs[j];
    all[j] = o.strides.map((s, d) => (o.shape[d] === 1 ? 0 : s));
    bufs[j] = o.data;
    offs[j] = o.offset;
  }
  for (let k = 0; k < ins.length; k++) {
    all[nOut + k] = inStrides[k];
    bufs[nOut + k] = ins[k].data;
    offs[nOut + k] = ins[k].offset;
  }
  const plan = planLoop(shape, all);
  runKernel(op.kernelFor(node, patternOf(plan)), plan, bufs, offs);
  return outs;
}

/** Checks shared by Elemwise and Composite makeNode: tensor inputs, broadcast shape, in-place. */
function elementwiseOutShape(op: string, inputs: readonly Variable[], inplace: number | null, outDtype: DType): (number | null)[] {
  for (let k = 0; k < inputs.length; k++) {
    if (!(inputs[k].type instanceof TensorType)) throw new OpInputError(`${op}: input ${k} must be a positional tensor, got ${inputs[k].type.toString()}`);
  }
  const shape = broadcastStaticShape(op, inputs.map((v) => v.type.shape));
  if (inplace !== null) {
    if (!Number.isInteger(inplace) || inplace < 0 || inplace >= inputs.length) {
      throw new OpInputError(`${op}: inplace input ${inplace} is out of range for ${inputs.length} inputs`);
    }
    const t = inputs[inplace].type;
    if (t.dtype !== outDtype) throw new OpInputError(`${op}: cannot write in place into input ${inplace} of dtype ${t.dtype}: the output dtype is ${outDtype}`);
    // The destroyed input must not be broadcast: its type's length-1 axes are exactly the output's.
    if (t.ndim !== shape.length || t.shape.some((s, i) => s === 1 && shape[i] !== 1)) {
      throw new OpInputError(`${op}: cannot write in place into input ${inplace} with shape ${shapeToString(t.shape)}: it is broadcast to the output shape ${shapeToString(shape)}`);
    }
  }
  return shape;
}

/**
 * Sum a gradient term (at the broadcast output shape) back to an input's shape: leading axes
 * are summed away, then every axis where the input is statically 1 and the term is not is
 * summed with keepdims. This is the adjoint of broadcasting under the static rule. The result
 * is cast to the input's dtype.
 */
export function sumToInput(term: TensorVariable, input: Variable): TensorVariable {
  let out = term;
  const lead = out.type.ndim - input.type.ndim;
  if (lead < 0) throw new OpInputError(`sumToInput: term ${shapeToString(out.type.shape)} has fewer axes than input ${shapeToString(input.type.shape)}`);
  if (lead > 0) out = sum(out, Array.from({ length: lead }, (_, i) => i));
  const keep: number[] = [];
  input.type.shape.forEach((s, i) => {
    if (s === 1 && out.type.shape[i] !== 1) keep.push(i);
  });
  if (keep.length > 0) out = sum(out, keep, true);
  if (out.type.dtype !== input.type.dtype) out = cast(out, input.type.dtype);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Elemwise
// ---------------------------------------------------------------------------------------------

/** The props of an Elemwise op. `dtype` is present only for `cast`. */
export type ElemwiseProps = {
  readonly scalar: ScalarName;
  readonly inplace: number | null;
  readonly dtype?: DType;
};

/**
 * Map one scalar op over broadcast inputs. With `inplace = k`, output 0 is written into input
 * k's buffer (`destroyMap = {0: [k]}`); input k must have the output's dtype and must not be
 * broadcast.
 */
export class Elemwise extends Op {
  readonly name = "Elemwise";
  readonly props: ElemwiseProps;
  override readonly destroyMap: AliasMap;
  private readonly kernels: KernelCache;

  constructor(scalar: ScalarName, opts: { inplace?: number | null; dtype?: DType } = {}) {
    super();
    if (!isScalarName(scalar)) throw new OpInputError(`Elemwise: unknown scalar op ${JSON.stringify(scalar)}`);
    const inplace = opts.inplace ?? null;
    if (scalar === "cast") {
      if (opts.dtype === undefined) throw new OpInputError("Elemwise{cast}: missing the target dtype");
      this.props = { scalar, inplace, dtype: opts.dtype };
    } else {
      if (opts.dtype !== undefined) throw new OpInputError(`Elemwise{${scalar}}: only cast takes a dtype (got ${opts.dtype})`);
      this.props = { scalar, inplace };
    }
    this.destroyMap = inplace === null ? {} : { 0: [inplace] };
    // The in-place flag does not change the loop: the output's strides are part of the pattern.
    this.kernels = new KernelCache(`Elemwise:${scalar}`);
  }

  /** The scalar op's rules. */
  get spec(): ScalarSpec {
    return SCALAR_OPS[this.props.scalar];
  }

  /** The same scalar op writing into input `k` (or not in place, for null). */
  withInplace(k: number | null): Elemwise {
    return new Elemwise(this.props.scalar, { inplace: k, dtype: this.props.dtype });
  }

  override toString(): string {
    const p = this.props;
    const extra = [p.dtype ?? null, p.inplace === null ? null : `inplace=${p.inplace}`].filter((s) => s !== null);
    return `Elemwise{${p.scalar}${extra.length ? `, ${extra.join(", ")}` : ""}}`;
  }

  override makeNode(...inputs: Variable[]): Apply {
    const op = this.toString();
    const spec = this.spec;
    if (inputs.length !== spec.arity) throw new OpInputError(`${op}: expected ${spec.arity} inputs, got ${inputs.length}`);
    for (let k = 0; k < inputs.length; k++) {
      if (!(inputs[k].type instanceof TensorType)) throw new OpInputError(`${op}: input ${k} must be a positional tensor, got ${inputs[k].type.toString()}`);
    }
    const dtype = scalarOutDtype(this.props.scalar, inputs.map((v) => v.type.dtype), this.props.dtype ?? null, op);
    const shape = elementwiseOutShape(op, inputs, this.props.inplace, dtype);
    return new Apply(this, inputs, [new TensorType(dtype, shape)]);
  }

  override perform(node: Apply, inputs: readonly NDArray[]): NDArray[] {
    return runElementwise(this, node, inputs);
  }

  /** The generated loop for this node's output dtype and a stride pattern (cached per op). */
  kernelFor(node: Apply, pattern: number): Kernel {
    const outDtype = node.outputs[0].type.dtype;
    const name = this.props.scalar;
    return this.kernels.get(outDtype, pattern, 1, node.inputs.length, () => {
      const fns: ((...a: number[]) => number)[] = [implOf(name, outDtype)];
      const fnIndex = fnIndexer(fns);
      return {
        fns,
        emit: (reads) => {
          // Float32Array and Int32Array stores round and wrap by themselves.
          const call = `f0(${reads.join(", ")})`;
          const v = outDtype === "float32" || outDtype === "int32" ? call : coerceExpr(outDtype, call, fnIndex);
          return { stmts: "", outs: [v] };
        },
      };
    });
  }

  override connectionPattern(node: Apply): boolean[][] {
    const c = this.spec.connected;
    return node.inputs.map((_, i) => [c?.[i] ?? true]);
  }

  /**
   * The scalar pullback at the output shape, then summed over broadcast axes back to each
   * input's shape and cast to its dtype. Discrete inputs, and every input of a discrete output,
   * are disconnected.
   */
  override pullback(inputs: readonly Variable[], outputs: readonly Variable[], cotangents: readonly Variable[]): GradTerm[] {
    const out = outputs[0] as TensorVariable;
    if (isDiscrete(out.type.dtype)) return inputs.map(() => DISCONNECTED);
    const terms = this.spec.pullback(inputs as TensorVariable[], out, cotangents[0] as TensorVariable);
    return inputs.map((x, i) => {
      const t = terms[i];
      if (t === null || isDiscrete(x.type.dtype)) return DISCONNECTED;
      return sumToInput(t, x);
    });
  }

  /** The scalar pushforward of the float inputs' tangents, broadcast to the output's shape. */
  override pushforward(inputs: readonly Variable[], outputs: readonly Variable[], tangents: readonly (Variable | Disconnected)[]): (Variable | Disconnected)[] {
    const out = outputs[0] as TensorVariable;
    const ts = floatTangents(inputs, tangents);
    if (isDiscrete(out.type.dtype) || ts.every((t) => t === null)) return [DISCONNECTED];
    const t = this.spec.pushforward(inputs as TensorVariable[], out, ts);
    return [t === null ? DISCONNECTED : broadcastTangent(t, out)];
  }
}

/** Per input, its tangent when it is float and has one, else null (scalar rules' convention). */
function floatTangents(inputs: readonly Variable[], tangents: readonly (Variable | Disconnected)[]): (TensorVariable | null)[] {
  return inputs.map((x, i) => {
    const t = tangents[i];
    return t instanceof Variable && isFloat(x.type.dtype) ? (t as TensorVariable) : null;
  });
}

/**
 * A tangent term at the output's shape: a term built from some inputs only (dx of `x + y` with
 * x of length 1 where y is not) is broadcast like the output, by `second`. This is the forward
 * counterpart of `sumToInput`.
 */
function broadcastTangent(t: TensorVariable, out: Variable): TensorVariable {
  const os = out.type.shape;
  const ts = t.type.shape;
  const lead = os.length - ts.length;
  return lead > 0 || ts.some((s, i) => s === 1 && os[i + lead] !== 1) ? second(out, t) : t;
}

// ---------------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------------

const opCache = new Map<string, Elemwise>();

function elemwiseOp(name: ScalarName, dtype?: DType): Elemwise {
  const key = dtype === undefined ? name : `${name}:${dtype}`;
  let op = opCache.get(key);
  if (op === undefined) {
    op = new Elemwise(name, { dtype });
    opCache.set(key, op);
  }
  return op;
}

/** The constant for a weak number operand, refusing values the dtype cannot hold (NEP 50). */
function weakConstant(op: string, v: number, dtype: DType): TensorVariable {
  if (dtype !== "bool" && !isFloat(dtype) && coerce(dtype)(v) !== v) {
    throw new OpInputError(`${op}: the number ${v} does not fit the operation's dtype ${dtype}`);
  }
  return constant(v, dtype);
}

/**
 * Apply the scalar op `name` elementwise. Numbers are weak (NEP 50): they take the dtype the
 * operation computes in. A `where` condition given as a number becomes a bool constant.
 */
export function elemwise(name: ScalarName, ...args: TensorLike[]): TensorVariable {
  if (!isScalarName(name)) throw new OpInputError(`elemwise: unknown scalar op ${JSON.stringify(name)}`);
  const spec: ScalarSpec = SCALAR_OPS[name];
  if (args.length !== spec.arity) throw new OpInputError(`${name}: expected ${spec.arity} arguments, got ${args.length}`);
  if (name === "cast") throw new OpInputError("elemwise: use cast(x, dtype) for cast");
  const valueArgs = spec.dtype === "where" ? args.slice(1) : args;
  const compute = resultDtype(valueArgs);
  const vars = args.map((a, i) => {
    if (typeof a !== "number") return asTensor(a, compute, name);
    if (spec.dtype === "where" && i === 0) return constant(truthy(a) ? 1 : 0, "bool");
    return weakConstant(name, a, compute);
  });
  return elemwiseOp(name).makeNode(...vars).out as TensorVariable;
}

/** x + y */
export const add = (x: TensorLike, y: TensorLike): TensorVariable => elemwise("add", x, y);
/** x - y */
export const sub = (x: TensorLike, y: TensorLike): TensorVariable => elemwise("sub", x, y);
/** x * y */
export const mul = (x: TensorLike, y: TensorLike): TensorVariable => elemwise("mul", x, y);
/** True division x / y: ints and bool give float64. */
export const div = (x: TensorLike, y: TensorLike): TensorVariable => elemwise("div", x, y);
/** -x */
export const neg = (x: TensorLike): TensorVariable => elemwise("neg", x);
/** x ** y */
export const pow = (x: TensorLike, y: TensorLike): TensorVariable => elemwise("pow", x, y);
/** |x| */
export const abs = (x: TensorLike): TensorVariable => elemwise("abs", x);
/** sign(x) in {-1, 0, 1} (NaN stays NaN). */
export const sign = (x: TensorLike): TensorVariable => elemwise("sign", x);
/** Elementwise maximum (NaN propagates). */
export const maximum = (x: TensorLike, y: TensorLike): TensorVariable => elemwise("maximum", x, y);
/** Elementwise minimum (NaN propagates). */
export const minimum = (x: TensorLike, y: TensorLike): TensorVariable => elemwise("minimum", x, y);
/** e^x */
export const exp = (x: TensorLike): TensorVariable => elemwise("exp", x);
/** Natural logarithm. */
export const log = (x: TensorLike): TensorVariable => elemwise("log", x);
/** log(1 + x), accurate near 0. */
export const log1p = (x: TensorLike): TensorVariable => elemwise("log1p", x);
/** e^x - 1, accurate near 0. */
export const expm1 = (x: TensorLike): TensorVariable => elemwise("expm1", x);
/** Square root. */
export const sqrt = (x: TensorLike): TensorVariable => elemwise("sqrt", x);
/** x * x */
export const square = (x: TensorLike): TensorVariable => elemwise("square", x);
/** sin(x) */
export const sin = (x: TensorLike): TensorVariable => elemwise("sin", x);
/** cos(x) */
export const cos = (x: TensorLike): TensorVariable => elemwise("cos", x);
/** tanh(x) */
export const tanh = (x: TensorLike): TensorVariable => elemwise("tanh", x);
/** 1 / (1 + e^-x), computed without overflow. */
export const sigmoid = (x: TensorLike): TensorVariable => elemwise("sigmoid", x);
/** log(1 + e^x), computed without overflow. */
export const softplus = (x: TensorLike): TensorVariable => elemwise("softplus", x);
/** x < y (bool) */
export const lt = (x: TensorLike, y: TensorLike): TensorVariable => elemwise("lt", x, y);
/** x > y (bool) */
export const gt = (x: TensorLike, y: TensorLike): TensorVariable => elemwise("gt", x, y);
/** x <= y (bool) */
export const le = (x: TensorLike, y: TensorLike): TensorVariable => elemwise("le", x, y);
/** x >= y (bool) */
export const ge = (x: TensorLike, y: TensorLike): TensorVariable => elemwise("ge", x, y);
/** x == y (bool) */
export const eq = (x: TensorLike, y: TensorLike): TensorVariable => elemwise("eq", x, y);
/** x != y (bool) */
export const ne = (x: TensorLike, y: TensorLike): TensorVariable => elemwise("ne", x, y);
/** x && y with numpy truthiness (bool). */
export const logicalAnd = (x: TensorLike, y: TensorLike): TensorVariable => elemwise("logicalAnd", x, y);
/** x || y with numpy truthiness (bool). */
export const logicalOr = (x: TensorLike, y: TensorLike): TensorVariable => elemwise("logicalOr", x, y);
/** !x with numpy truthiness (bool). */
export const logicalNot = (x: TensorLike): TensorVariable => elemwise("logicalNot", x);
/** `cond ? x : y` elementwise (numpy `where`, PyTensor `switch`); cond may be any dtype. */
export const where = (cond: TensorLike, x: TensorLike, y: TensorLike): TensorVariable => elemwise("where", cond, x, y);
/** x unchanged (a copy). */
export const identity = (x: TensorLike): TensorVariable => elemwise("identity", x);
/** The broadcast shape of x and y filled with y's values (PyTensor's `second`/`fill`). */
export const second = (x: TensorLike, y: TensorLike): TensorVariable => elemwise("second", x, y);

/** x converted to `dtype` with numpy's casting (truncation toward zero, int32 wrap-around). */
export function cast(x: TensorLike, dtype: DType): TensorVariable {
  const t = asTensor(x, typeof x === "number" ? resultDtype([x]) : "float64", "cast");
  return elemwiseOp("cast", dtype).makeNode(t).out as TensorVariable;
}

/** A tensor of x's shape and dtype filled with `value` (or of `dtype` when given). */
export function fullLike(x: TensorLike, value: number, dtype?: DType): TensorVariable {
  const t = asTensor(x, resultDtype([x]), "fullLike");
  const dt = dtype ?? t.type.dtype;
  return second(t, constant(coerce(dt)(value), dt));
}

/** Zeros of x's shape and dtype. */
export function zerosLike(x: TensorLike, dtype?: DType): TensorVariable {
  return fullLike(x, 0, dtype);
}

/** Ones of x's shape and dtype. */
export function onesLike(x: TensorLike, dtype?: DType): TensorVariable {
  return fullLike(x, 1, dtype);
}

// ---------------------------------------------------------------------------------------------
// Composite
// ---------------------------------------------------------------------------------------------

/**
 * One node of a Composite expression. Operands are references: `r < nin` is input r, and
 * `r >= nin` is the value of node `r - nin`, which must come earlier in the list (SSA order, so
 * shared subexpressions are written once).
 * - `{op, args}` applies a scalar op (`dtype` is required for and only for `cast`);
 * - `{const, dtype}` is a constant.
 */
export type CompositeNode =
  | { readonly op: ScalarName; readonly args: readonly number[]; readonly dtype?: DType }
  | { readonly const: number; readonly dtype: DType };

/**
 * The expression of a Composite: `nin` inputs, `nodes` in SSA order, and `outputs`, the
 * references computed as the op's outputs. Example: `exp(x) * y + 1` is
 * `{nin: 2, nodes: [{op: "exp", args: [0]}, {op: "mul", args: [2, 1]}, {const: 1, dtype: "float64"},
 * {op: "add", args: [3, 4]}], outputs: [5]}`.
 */
export type CompositeExpr = {
  readonly nin: number;
  readonly nodes: readonly CompositeNode[];
  readonly outputs: readonly number[];
};

/** Per reference, the dtype of its value for the given input dtypes. */
function compositeDtypes(op: string, expr: CompositeExpr, inDtypes: readonly DType[]): DType[] {
  const dts: DType[] = [...inDtypes];
  for (const n of expr.nodes) {
    if ("const" in n) dts.push(n.dtype);
    else dts.push(scalarOutDtype(n.op, n.args.map((a) => dts[a]), n.dtype ?? null, op));
  }
  return dts;
}

/**
 * A fused scalar expression over broadcast inputs, evaluated in one loop. Every intermediate is
 * rounded to its dtype exactly as the unfused Elemwise graph would store it, so fusing never
 * changes a value. All outputs have the broadcast shape of all inputs. `inplace = k` writes
 * output 0 into input k, as for Elemwise.
 */
export class Composite extends Op {
  readonly name = "Composite";
  readonly props: { readonly expr: CompositeExpr; readonly inplace: number | null };
  override readonly destroyMap: AliasMap;
  private readonly kernels: KernelCache;

  constructor(expr: CompositeExpr, opts: { inplace?: number | null } = {}) {
    super();
    const { nin, nodes, outputs } = expr;
    if (!Number.isInteger(nin) || nin < 0) throw new OpInputError(`Composite: nin must be a non-negative integer, got ${nin}`);
    const checkRef = (r: number, limit: number, where: string): void => {
      if (!Number.isInteger(r) || r < 0 || r >= limit) throw new OpInputError(`Composite: ${where} refers to ${r}, but only references 0..${limit - 1} exist there`);
    };
    const frozen: CompositeNode[] = nodes.map((n, i) => {
      if ("const" in n) {
        if (typeof n.const !== "number") throw new OpInputError(`Composite: node ${i} has a non-numeric constant`);
        return Object.freeze({ const: coerce(n.dtype)(n.const), dtype: n.dtype });
      }
      if (!isScalarName(n.op)) throw new OpInputError(`Composite: node ${i} has unknown scalar op ${JSON.stringify(n.op)}`);
      const spec: ScalarSpec = SCALAR_OPS[n.op];
      if (n.args.length !== spec.arity) throw new OpInputError(`Composite: node ${i} (${n.op}) has ${n.args.length} arguments, expected ${spec.arity}`);
      n.args.forEach((a) => checkRef(a, nin + i, `node ${i} (${n.op})`));
      if ((n.op === "cast") !== (n.dtype !== undefined)) throw new OpInputError(`Composite: node ${i} (${n.op}): a dtype is required for cast and only for cast`);
      return Object.freeze(n.dtype === undefined ? { op: n.op, args: Object.freeze([...n.args]) } : { op: n.op, args: Object.freeze([...n.args]), dtype: n.dtype });
    });
    if (outputs.length === 0) throw new OpInputError("Composite: needs at least one output");
    outputs.forEach((r, j) => checkRef(r, nin + nodes.length, `output ${j}`));
    const inplace = opts.inplace ?? null;
    this.props = { expr: { nin, nodes: Object.freeze(frozen), outputs: Object.freeze([...outputs]) }, inplace };
    this.destroyMap = inplace === null ? {} : { 0: [inplace] };
    this.kernels = new KernelCache(`Composite:${stableStringify(this.props.expr)}`);
  }

  /** The same expression writing output 0 into input `k` (or not in place, for null). */
  withInplace(k: number | null): Composite {
    return new Composite(this.props.expr, { inplace: k });
  }

  override toString(): string {
    return `Composite{${compositeToString(this.props.expr)}${this.props.inplace === null ? "" : `, inplace=${this.props.inplace}`}}`;
  }

  override makeNode(...inputs: Variable[]): Apply {
    const op = "Composite";
    const expr = this.props.expr;
    if (inputs.length !== expr.nin) throw new OpInputError(`${op}: expected ${expr.nin} inputs, got ${inputs.length}`);
    for (let k = 0; k < inputs.length; k++) {
      if (!(inputs[k].type instanceof TensorType)) throw new OpInputError(`${op}: input ${k} must be a positional tensor, got ${inputs[k].type.toString()}`);
    }
    const dts = compositeDtypes(op, expr, inputs.map((v) => v.type.dtype));
    const outDts = expr.outputs.map((r) => dts[r]);
    const shape = elementwiseOutShape(op, inputs, this.props.inplace, outDts[0]);
    return new Apply(this, inputs, outDts.map((d) => new TensorType(d, shape)));
  }

  override perform(node: Apply, inputs: readonly NDArray[]): NDArray[] {
    return runElementwise(this, node, inputs);
  }

  /** The generated loop for this node's input dtypes (they fix every intermediate's rounding). */
  kernelFor(node: Apply, pattern: number): Kernel {
    const expr = this.props.expr;
    const inDts = node.inputs.map((v) => v.type.dtype);
    return this.kernels.get(inDts.join(","), pattern, expr.outputs.length, expr.nin, () => compositeBody(expr, inDts));
  }

  override connectionPattern(node: Apply): boolean[][] {
    const expr = this.props.expr;
    // An intermediate of a bool or integer dtype carries no cotangent (every scalar pullback
    // returns DISCONNECTED through one), so it cuts the connection: `cast(x > y, float)` does not
    // connect x to the output. Without the cut the driver reads the pullback's correct
    // DISCONNECTED as a broken rule (found by grad-composition's rewritten-grad claim).
    const dts = compositeDtypes("Composite", expr, node.inputs.map((v) => v.type.dtype));
    // deps[r][i]: does reference r depend on input i through connected edges?
    const deps: boolean[][] = node.inputs.map((_, i) => node.inputs.map((__, k) => k === i));
    for (const [j, n] of expr.nodes.entries()) {
      const row = new Array<boolean>(expr.nin).fill(false);
      if (!("const" in n) && !isDiscrete(dts[expr.nin + j])) {
        const c = (SCALAR_OPS[n.op] as ScalarSpec).connected;
        n.args.forEach((a, k) => {
          if (c?.[k] === false) return;
          deps[a].forEach((d, i) => (row[i] ||= d));
        });
      }
      deps.push(row);
    }
    return node.inputs.map((_, i) => expr.outputs.map((r) => deps[r][i]));
  }

  /**
   * Expand the expression into ordinary Elemwise nodes on the inputs and run a local reverse
   * sweep with each node's pullback, accumulating cotangents with `add`. The expanded graph
   * computes exactly what the Composite computes, so its pullback is the Composite's.
   */
  override pullback(inputs: readonly Variable[], outputs: readonly Variable[], cotangents: readonly Variable[]): GradTerm[] {
    const expr = this.props.expr;
    const vals = expandComposite(expr, inputs as readonly TensorVariable[]);
    const cot = new Map<number, TensorVariable>();
    const accumulate = (r: number, g: TensorVariable): void => {
      const prev = cot.get(r);
      cot.set(r, prev === undefined ? g : add(prev, g));
    };
    expr.outputs.forEach((r, j) => {
      if (isFloat(outputs[j].type.dtype) && isFloat(vals[r].type.dtype)) accumulate(r, cotangents[j] as TensorVariable);
    });
    for (let r = vals.length - 1; r >= expr.nin; r--) {
      const g = cot.get(r);
      const owner = vals[r].owner;
      if (g === undefined || owner === null) continue;
      const n = expr.nodes[r - expr.nin];
      if ("const" in n) continue;
      const terms = owner.op.pullback!(owner.inputs, owner.outputs, [g]);
      n.args.forEach((a, k) => {
        const t = terms[k];
        if (t instanceof Variable) accumulate(a, t as TensorVariable);
      });
    }
    return inputs.map((x, i) => {
      const g = cot.get(i);
      if (g === undefined || isDiscrete(x.type.dtype)) return DISCONNECTED;
      return sumToInput(g, x);
    });
  }

  /** The expanded expression swept forward with each node's pushforward (as `pullback`, in reverse). */
  override pushforward(inputs: readonly Variable[], outputs: readonly Variable[], tangents: readonly (Variable | Disconnected)[]): (Variable | Disconnected)[] {
    const expr = this.props.expr;
    const vals = expandComposite(expr, inputs as readonly TensorVariable[]);
    const tan: (Variable | Disconnected)[] = floatTangents(inputs, tangents).map((t) => t ?? DISCONNECTED);
    for (let r = expr.nin; r < vals.length; r++) {
      const owner = vals[r].owner;
      const n = expr.nodes[r - expr.nin];
      tan.push("const" in n || owner === null ? DISCONNECTED : owner.op.pushforward!(owner.inputs, owner.outputs, n.args.map((a) => tan[a]))[0]);
    }
    return outputs.map((o, j) => {
      const t = tan[expr.outputs[j]];
      return t instanceof Variable && !isDiscrete(o.type.dtype) ? broadcastTangent(t as TensorVariable, o) : DISCONNECTED;
    });
  }
}

/** A readable one-line form of a Composite expression, e.g. `add(exp(i0), 1)`. */
export function compositeToString(expr: CompositeExpr): string {
  const strs: string[] = Array.from({ length: expr.nin }, (_, i) => `i${i}`);
  for (const n of expr.nodes) {
    if ("const" in n) strs.push(String(n.const));
    else strs.push(`${n.op}${n.dtype ? `<${n.dtype}>` : ""}(${n.args.map((a) => strs[a]).join(", ")})`);
  }
  return expr.outputs.map((r) => strs[r]).join("; ");
}

/** The name (`f<i>`) under which generated kernel code calls `f`, adding it to `fns` once. */
function fnIndexer(fns: ((...a: number[]) => number)[]): (f: (...a: number[]) => number) => string {
  return (f) => {
    let i = fns.indexOf(f);
    if (i < 0) i = fns.push(f) - 1;
    return `f${i}`;
  };
}

/** The kernel body of a Composite: SSA statements, each rounded to its node's dtype. */
function compositeBody(expr: CompositeExpr, inDtypes: readonly DType[]): KernelBody {
  const dts = compositeDtypes("Composite", expr, inDtypes);
  const fns: ((...a: number[]) => number)[] = [];
  const fnIndex = fnIndexer(fns);
  return {
    fns,
    emit: (reads) => {
      const names = [...reads];
      const stmts: string[] = [];
      expr.nodes.forEach((n, i) => {
        const r = expr.nin + i;
        const name = `t${i}`;
        const rhs = "const" in n ? String(n.const) : coerceExpr(dts[r], `${fnIndex(implOf(n.op, dts[r]))}(${n.args.map((a) => names[a]).join(", ")})`, fnIndex);
        stmts.push(`const ${name} = ${rhs};`);
        names.push(name);
      });
      return { stmts: stmts.join("\n"), outs: expr.outputs.map((r) => names[r]) };
    },
  };
}

/** The Composite expression rebuilt as Elemwise nodes on `inputs`; one variable per reference. */
export function expandComposite(expr: CompositeExpr, inputs: readonly TensorVariable[]): TensorVariable[] {
  const vals: TensorVariable[] = [...inputs];
  for (const n of expr.nodes) {
    if ("const" in n) vals.push(constant(n.const, n.dtype));
    else vals.push(elemwiseOp(n.op, n.dtype).makeNode(...n.args.map((a) => vals[a])).out as TensorVariable);
  }
  return vals;
}

/**
 * Build the Composite computing `outputs` from `inputs`, where every node between them is a
 * non-in-place Elemwise and every other leaf is a 0-d constant (inlined). Every output must have
 * the broadcast shape of all inputs (or record some of its lengths as unknown), since a
 * Composite computes all outputs at that shape.
 * Returns the op; apply it with `op.makeNode(...inputs)`.
 */
export function compositeFromGraph(inputs: readonly Variable[], outputs: readonly Variable[]): Composite {
  const refs = new Map<Variable, number>();
  inputs.forEach((v, i) => {
    if (refs.has(v)) throw new OpInputError(`compositeFromGraph: input ${i} (${v.toString()}) is listed twice`);
    refs.set(v, i);
  });
  const nodes: CompositeNode[] = [];
  const visit = (v: Variable): number => {
    const known = refs.get(v);
    if (known !== undefined) return known;
    let node: CompositeNode;
    if (v instanceof Constant && v.type instanceof TensorType && v.type.ndim === 0) {
      node = { const: v.value.data[v.value.offset], dtype: v.type.dtype };
    } else if (v.owner !== null && v.owner.op instanceof Elemwise && v.owner.op.props.inplace === null) {
      const p = v.owner.op.props;
      const args = v.owner.inputs.map(visit);
      node = p.dtype === undefined ? { op: p.scalar, args } : { op: p.scalar, args, dtype: p.dtype };
    } else {
      throw new OpInputError(`compositeFromGraph: ${v.toString()} is neither a listed input, a 0-d constant nor a non-in-place Elemwise output`);
    }
    nodes.push(node);
    const r = inputs.length + nodes.length - 1;
    refs.set(v, r);
    return r;
  };
  const outRefs = outputs.map(visit);
  const full = broadcastStaticShape("compositeFromGraph", inputs.map((v) => v.type.shape));
  // An output's recorded type may know less than the inputs do now (a rewrite replaced an input
  // by a refined variable without re-inferring the node), so an unknown length where the
  // broadcast knows one is accepted: the Composite's output is then the refinement, as when the
  // inplace pass rebuilds a node.
  outputs.forEach((o, j) => {
    if (o.type.ndim !== full.length || o.type.shape.some((s, d) => s !== null && s !== full[d])) {
      throw new OpInputError(`compositeFromGraph: output ${j} has shape ${shapeToString(o.type.shape)}, not the inputs' broadcast shape ${shapeToString(full)}`);
    }
  });
  return new Composite({ nin: inputs.length, nodes, outputs: outRefs });
}
