/**
 * The three conversions between named and positional tensors. They are the only xtensor ops
 * that run and the only ones with pullbacks: at run time each is the identity (the output is a
 * view of the input, declared in `viewMap`), and every named op lowers to positional ops
 * between a `TensorFromXTensor` and an `XTensorFromTensor`.
 */
import { Apply, Variable } from "../graph/basic.js";
import { type Disconnected, type GradTerm, Op, linearPushforward } from "../graph/op.js";
import { TensorType } from "../graph/type.js";
import { OpInputError } from "../errors.js";
import type { NDArray } from "../ndarray/ndarray.js";
import { type TensorVariable, constant } from "../tensor/basic.js";
import { transpose as ptTranspose } from "../tensor/shape.js";
import { XTensorType, type XTensorVariable, checkDimNames, fmtDims, isXTensorVariable } from "./type.js";

function checkDims(op: string, dims: readonly string[]): readonly string[] {
  checkDimNames(op, dims);
  return Object.freeze([...dims]);
}

/**
 * The permutation that reorders a cotangent `g` (same dim set, maybe another order) into
 * `dims`, or null when it is already in that order. Cotangents are aligned by name, never by
 * position: a square shape must not hide a transpose.
 */
function permutationTo(op: string, g: XTensorVariable, dims: readonly string[]): number[] | null {
  const gd = g.type.dims;
  if (gd.length !== dims.length || !dims.every((d) => gd.includes(d))) {
    throw new OpInputError(`${op}: cotangent dims ${fmtDims(gd)} are not a permutation of the output dims ${fmtDims(dims)}`);
  }
  if (dims.every((d, i) => gd[i] === d)) return null;
  return dims.map((d) => gd.indexOf(d));
}

/** The positional values of a cotangent, with axes in the order of `dims`. */
function alignedValues(op: string, g: Variable, dims: readonly string[]): Variable {
  if (!isXTensorVariable(g)) {
    throw new OpInputError(`${op}: expected a named cotangent with dims ${fmtDims(dims)}, got ${g.type.toString()}`);
  }
  const perm = permutationTo(op, g, dims);
  const t = values(g);
  return perm === null ? t : ptTranspose(t, perm);
}

/** Named → positional: the tensor with axes in dims order. */
export class TensorFromXTensor extends Op {
  readonly name = "TensorFromXTensor";
  readonly props = {};
  override readonly viewMap = { 0: [0] };

  makeNode(x: Variable): Apply {
    if (!(x.type instanceof XTensorType)) throw new OpInputError(`values: expected a named tensor, got ${x.type.toString()}`);
    return new Apply(this, [x], [new TensorType(x.type.dtype, x.type.shape)]);
  }

  override perform(_node: Apply, inputs: readonly NDArray[]): NDArray[] {
    return [inputs[0]];
  }

  /** d/dx of a relabel is the relabel of the cotangent: name g's axes with x's dims. */
  override pullback(inputs: readonly Variable[], _outputs: readonly Variable[], cotangents: readonly Variable[]): GradTerm[] {
    const x = inputs[0].type as XTensorType;
    return [asXTensor(cotangents[0], x.dims)];
  }
  /** A relabel is linear: dx unlabelled the same way. */
  override pushforward(inputs: readonly Variable[], outputs: readonly Variable[], tangents: readonly (Variable | Disconnected)[]): (Variable | Disconnected)[] {
    return linearPushforward(this, inputs, outputs, tangents, [0]);
  }
}

/** Positional → named: label the tensor's axes, in order, with `dims`. */
export class XTensorFromTensor extends Op {
  readonly name = "XTensorFromTensor";
  readonly props: { readonly dims: readonly string[] };
  override readonly viewMap = { 0: [0] };

  constructor(dims: readonly string[]) {
    super();
    this.props = { dims: checkDims("asXTensor", dims) };
  }

  makeNode(t: Variable): Apply {
    const dims = this.props.dims;
    if (!(t.type instanceof TensorType)) {
      throw new OpInputError(`asXTensor: expected a positional tensor, got ${t.type.toString()} (use rename or transpose to relabel a named tensor)`);
    }
    if (t.type.ndim !== dims.length) {
      throw new OpInputError(`asXTensor: tensor has ${t.type.ndim} axes but dims ${fmtDims(dims)} has ${dims.length}`);
    }
    return new Apply(this, [t], [new XTensorType(t.type.dtype, dims, t.type.shape)]);
  }

  override perform(_node: Apply, inputs: readonly NDArray[]): NDArray[] {
    return [inputs[0]];
  }

  /** Unlabel the cotangent, after transposing it by name into the output's dims order. */
  override pullback(_inputs: readonly Variable[], _outputs: readonly Variable[], cotangents: readonly Variable[]): GradTerm[] {
    return [alignedValues("XTensorFromTensor.pullback", cotangents[0], this.props.dims)];
  }
  /** A relabel is linear: dx labelled the same way. */
  override pushforward(inputs: readonly Variable[], outputs: readonly Variable[], tangents: readonly (Variable | Disconnected)[]): (Variable | Disconnected)[] {
    return linearPushforward(this, inputs, outputs, tangents, [0]);
  }
}

/** Positional relabel of a named tensor: the values do not move, only the names change. */
export class Rename extends Op {
  readonly name = "Rename";
  readonly props: { readonly dims: readonly string[] };
  override readonly viewMap = { 0: [0] };

  constructor(newDims: readonly string[]) {
    super();
    this.props = { dims: checkDims("rename", newDims) };
  }

  makeNode(x: Variable): Apply {
    const dims = this.props.dims;
    if (!(x.type instanceof XTensorType)) throw new OpInputError(`rename: expected a named tensor, got ${x.type.toString()}`);
    if (x.type.ndim !== dims.length) {
      throw new OpInputError(`rename: x has dims ${fmtDims(x.type.dims)} but the new dims ${fmtDims(dims)} have ${dims.length} names`);
    }
    return new Apply(this, [x], [x.type.withDims(dims)]);
  }

  override perform(_node: Apply, inputs: readonly NDArray[]): NDArray[] {
    return [inputs[0]];
  }

  /**
   * Relabel the cotangent back to x's dims, positionally. The cotangent is first put in the
   * output's dims order by name. (PyTensor's version called `rename(g, dims=...)`, which asks
   * to rename a dim literally called "dims".)
   */
  override pullback(inputs: readonly Variable[], _outputs: readonly Variable[], cotangents: readonly Variable[]): GradTerm[] {
    const xDims = (inputs[0].type as XTensorType).dims;
    const g = cotangents[0];
    const dims = this.props.dims;
    if (isXTensorVariable(g) && permutationTo("Rename.pullback", g, dims) === null) {
      return [new Rename(xDims).makeNode(g).out];
    }
    return [asXTensor(alignedValues("Rename.pullback", g, dims), xDims)];
  }
  /** A relabel is linear: dx (aligned to x's dims order) renamed the same way. */
  override pushforward(inputs: readonly Variable[], outputs: readonly Variable[], tangents: readonly (Variable | Disconnected)[]): (Variable | Disconnected)[] {
    return linearPushforward(this, inputs, outputs, tangents, [0]);
  }
}

/** `x.values`: the positional tensor behind a named one, axes in dims order. */
export function values(x: Variable): TensorVariable {
  return new TensorFromXTensor().makeNode(x).out as TensorVariable;
}

/**
 * Label a positional tensor's axes with `dims` (a 0-d tensor needs none); a number becomes a
 * 0-d float64 constant. A named tensor is returned unchanged when `dims` is omitted or equal to
 * its own; relabelling it is refused, since that is what `rename`/`transpose` are for.
 */
export function asXTensor(t: Variable | number, dims?: readonly string[]): XTensorVariable {
  const v = typeof t === "number" ? constant(t) : t;
  if (isXTensorVariable(v)) {
    if (dims === undefined || (dims.length === v.type.ndim && dims.every((d, i) => d === v.type.dims[i]))) return v;
    throw new OpInputError(`asXTensor: x already has dims ${fmtDims(v.type.dims)}, not ${fmtDims(dims)} (use rename or transpose)`);
  }
  if (!(v instanceof Variable)) throw new OpInputError(`asXTensor: expected a variable or a number, got ${String(v)}`);
  if (dims === undefined && v.type.ndim !== 0) {
    throw new OpInputError(`asXTensor: a tensor with ${v.type.ndim} axes needs dims`);
  }
  return new XTensorFromTensor(dims ?? []).makeNode(v).out as XTensorVariable;
}
