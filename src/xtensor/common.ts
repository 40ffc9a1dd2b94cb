/**
 * Helpers every named-op family shares: argument checks with precise messages, name-based
 * union of dims, and the two halves of every lowering (`lowerAligned` into positional land,
 * `wrapLowered` back out).
 */
import type { Variable } from "../graph/basic.js";
import { TensorType } from "../graph/type.js";
import { InvariantError, OpInputError } from "../errors.js";
import { dimshuffle, shapeI, specifyShape } from "../tensor/shape.js";
import { asXTensor, values } from "./basic.js";
import { type DimsArg, XTensorType, type XTensorVariable, fmtDims, isXTensorVariable } from "./type.js";

/** The input as a named variable, or an error naming the op and the argument. */
export function requireX(op: string, arg: string, v: unknown): XTensorVariable {
  if (isXTensorVariable(v)) return v;
  const what = v !== null && typeof v === "object" && "type" in v ? (v as Variable).type.toString() : JSON.stringify(v);
  throw new OpInputError(`${op}: ${arg} must be a named tensor, got ${what}`);
}

/** The type of a named input (for makeNode, whose inputs are plain Variables). */
export function xtype(op: string, arg: string, v: Variable): XTensorType {
  if (!(v.type instanceof XTensorType)) throw new OpInputError(`${op}: ${arg} must be a named tensor, got ${v.type.toString()}`);
  return v.type;
}

/** Check that `dim` is one of `x`'s dims. */
export function requireDim(op: string, arg: string, x: XTensorType, dim: string): number {
  const i = x.dims.indexOf(dim);
  if (i < 0) throw new OpInputError(`${op}: dim "${dim}" is not a dim of ${arg} ${fmtDims(x.dims)}`);
  return i;
}

/**
 * Resolve a dims argument against `x`: null/undefined means every dim (in x's order); a single
 * string is one dim. Every dim must exist in x and appear once.
 */
export function resolveDims(op: string, arg: string, x: XTensorType, dims: DimsArg): string[] {
  if (dims === null || dims === undefined) return [...x.dims];
  const list = typeof dims === "string" ? [dims] : [...dims];
  const seen = new Set<string>();
  for (const d of list) {
    if (seen.has(d)) throw new OpInputError(`${op}: duplicate dim "${d}" in dims ${fmtDims(list)}`);
    seen.add(d);
    requireDim(op, arg, x, d);
  }
  return list;
}

/** A named argument: its label in messages and its type. */
export interface NamedArg {
  readonly label: string;
  readonly type: XTensorType;
}

/**
 * The union of the args' dims in order of first appearance (the first arg's dims, then each
 * later arg's new dims in its order), with their static lengths. Two args that share a dim must
 * agree on its length: there is no size-1 broadcasting between dims of the same name.
 */
export function unionDims(op: string, args: readonly NamedArg[], exclude: readonly string[] = []): { dims: string[]; shape: (number | null)[] } {
  const dims: string[] = [];
  const shape: (number | null)[] = [];
  const from: string[] = [];
  for (const { label, type } of args) {
    type.dims.forEach((d, i) => {
      if (exclude.includes(d)) return;
      const len = type.shape[i];
      const j = dims.indexOf(d);
      if (j < 0) {
        dims.push(d);
        shape.push(len);
        from.push(label);
      } else if (len !== null) {
        if (shape[j] !== null && shape[j] !== len) {
          throw new OpInputError(`${op}: dim "${d}" has length ${shape[j]} in ${from[j]} but ${len} in ${label}`);
        }
        if (shape[j] === null) {
          shape[j] = len;
          from[j] = label;
        }
      }
    });
  }
  return { dims, shape };
}

/** The label of argument `i` in messages: x, y, z for up to three args, else `args[i]`. */
export function argLabel(i: number, n: number): string {
  return n <= 3 ? ["x", "y", "z"][i] : `args[${i}]`;
}

/**
 * `x`'s values with axes permuted into `outDims` order, with a broadcastable length-1 axis
 * wherever x lacks a dim: name-broadcasting becomes numpy broadcasting.
 */
export function lowerAligned(x: Variable, outDims: readonly string[]): Variable {
  const xt = xtype("lowerAligned", "x", x);
  for (const d of xt.dims) {
    if (!outDims.includes(d)) throw new InvariantError(`lowerAligned: dim "${d}" of ${fmtDims(xt.dims)} is not in the target ${fmtDims(outDims)}`);
  }
  const order = outDims.map((d) => {
    const i = xt.dims.indexOf(d);
    return i < 0 ? ("x" as const) : i;
  });
  const t = values(x);
  const identity = order.length === xt.ndim && order.every((o, i) => o === i);
  return identity ? t : dimshuffle(t, order);
}

/**
 * Label a lowered positional result with the named output type `out`. When positional type
 * inference knows less about a length than the named op did, a `specifyShape` restores it, so
 * the replacement is always accepted by `out.isSuper`. A dtype disagreement means the named
 * op's dtype rule and the positional one differ: a bug, reported rather than patched over.
 */
export function wrapLowered(op: string, t: Variable, out: XTensorType): XTensorVariable {
  if (!(t.type instanceof TensorType)) throw new InvariantError(`${op}: lowering produced ${String(t.type)}, not a positional tensor`);
  if (t.type.dtype !== out.dtype) {
    throw new InvariantError(`${op}: lowering produced dtype ${t.type.dtype} but the named op declares ${out.dtype}`);
  }
  if (t.type.ndim !== out.ndim) {
    throw new InvariantError(`${op}: lowering produced ${t.type.ndim} axes for dims ${fmtDims(out.dims)}`);
  }
  let needSpecify = false;
  out.shape.forEach((s, i) => {
    const have = t.type.shape[i];
    if (s === null) return;
    if (have === null) needSpecify = true;
    else if (have !== s) throw new InvariantError(`${op}: lowering produced length ${have} for dim "${out.dims[i]}", expected ${s}`);
  });
  return asXTensor(needSpecify ? specifyShape(t, out.shape) : t, out.dims);
}


/**
 * The run-time length of dim `d` among named inputs: a number when any input knows it
 * statically, else a `shapeI` of the first input that has it. (Inputs sharing a dim agree on
 * its length, checked when the node was built.)
 */
export function dimLengthAmong(inputs: readonly Variable[], d: string): number | Variable {
  let first: Variable | null = null;
  for (const v of inputs) {
    const len = xtype("dimLengthAmong", "x", v).lengthOf(d);
    if (len === undefined) continue;
    if (len !== null) return len;
    first ??= v;
  }
  if (first === null) throw new InvariantError(`dimLengthAmong: no input has dim "${d}"`);
  const t = first.type as XTensorType;
  return shapeI(values(first), t.dims.indexOf(d));
}
