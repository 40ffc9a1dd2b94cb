/**
 * Shape ops on named tensors: transpose, rename, stack, unstack, concat, expandDims, squeeze
 * and broadcast, each with its lowering to positional shape ops.
 */
import { Apply, type Variable } from "../graph/basic.js";
import { OpInputError } from "../errors.js";
import { upcast } from "../tensor/basic.js";
import { cast as ptCast, mul as ptMul } from "../tensor/elemwise.js";
import { broadcastTo, dimshuffle, join, lengthOf, reshape, squeeze as ptSqueeze, transpose as ptTranspose } from "../tensor/shape.js";
import { Rename, values } from "./basic.js";
import { XOp } from "./op.js";
import { argLabel, dimLengthAmong, lowerAligned, requireDim, requireX, unionDims, wrapLowered, xtype } from "./common.js";
import { XTensorType, type XTensorVariable, fmtDims } from "./type.js";

/** Product of lengths, folded statically where possible. */
function product(lens: readonly (number | Variable)[]): number | Variable {
  let num = 1;
  let sym: Variable | null = null;
  for (const l of lens) {
    if (typeof l === "number") num *= l;
    else sym = sym === null ? l : ptMul(sym, l);
  }
  if (sym === null) return num;
  return num === 1 ? sym : ptMul(sym, num);
}

function isIdentity(perm: readonly number[]): boolean {
  return perm.every((p, i) => p === i);
}

// ---------------------------------------------------------------- transpose

/** Permute dims into exactly the order `dims`. */
export class Transpose extends XOp {
  readonly name = "Transpose";
  readonly props: { readonly dims: readonly string[] };

  constructor(dims: readonly string[]) {
    super();
    this.props = { dims: [...dims] };
  }

  makeNode(x: Variable): Apply {
    const xt = xtype("transpose", "x", x);
    const dims = this.props.dims;
    if (dims.length !== xt.ndim || new Set(dims).size !== dims.length || !dims.every((d) => xt.dims.includes(d))) {
      throw new OpInputError(`transpose: dims ${fmtDims(dims)} are not a permutation of x's dims ${fmtDims(xt.dims)}`);
    }
    return new Apply(this, [x], [new XTensorType(xt.dtype, dims, dims.map((d) => xt.lengthOf(d) ?? null))]);
  }

  lower(node: Apply): Variable[] {
    const xt = node.inputs[0].type as XTensorType;
    const perm = this.props.dims.map((d) => xt.dims.indexOf(d));
    return [wrapLowered("transpose", ptTranspose(values(node.inputs[0]), perm), node.outputs[0].type as XTensorType)];
  }
}

/**
 * Permute x's dims. No dims reverses them; one `"..."` stands for every unlisted dim, in x's
 * order. The identity permutation returns x itself.
 */
export function transpose(x: XTensorVariable, dims: readonly string[] = []): XTensorVariable {
  const xv = requireX("transpose", "x", x);
  const xd = xv.dims;
  let order: string[];
  if (dims.length === 0) order = [...xd].reverse();
  else {
    const ell = dims.filter((d) => d === "...").length;
    if (ell > 1) throw new OpInputError(`transpose: at most one "..." is allowed, got dims ${fmtDims(dims)}`);
    const named = dims.filter((d) => d !== "...");
    const seen = new Set<string>();
    for (const d of named) {
      if (seen.has(d)) throw new OpInputError(`transpose: duplicate dim "${d}" in dims ${fmtDims(dims)}`);
      seen.add(d);
      requireDim("transpose", "x", xv.type, d);
    }
    if (ell === 0) order = named;
    else {
      const rest = xd.filter((d) => !seen.has(d));
      const at = dims.indexOf("...");
      order = [...dims.slice(0, at), ...rest, ...dims.slice(at + 1)];
    }
  }
  if (order.length === xd.length && order.every((d, i) => d === xd[i])) return xv;
  return new Transpose(order).makeNode(xv).out as XTensorVariable;
}

// ---------------------------------------------------------------- rename

/**
 * Relabel dims by `{old: new}`, all at once (so `{a: "b", b: "a"}` swaps the labels). Values
 * do not move. Every old name must be a dim of x, and the result must have unique dims.
 */
export function rename(x: XTensorVariable, map: Readonly<Record<string, string>>): XTensorVariable {
  const xv = requireX("rename", "x", x);
  for (const old of Object.keys(map)) requireDim("rename", "x", xv.type, old);
  const dims = xv.dims.map((d) => (Object.hasOwn(map, d) ? map[d] : d));
  const dup = dims.find((d, i) => dims.indexOf(d) !== i);
  if (dup !== undefined) throw new OpInputError(`rename: renaming x ${fmtDims(xv.dims)} gives duplicate dim "${dup}" in ${fmtDims(dims)}`);
  if (dims.every((d, i) => d === xv.dims[i])) return xv;
  return new Rename(dims).makeNode(xv).out as XTensorVariable;
}

// ---------------------------------------------------------------- stack / unstack

/**
 * Flatten `dims` into one new dim appended last. The flattening order is the order given in
 * `dims` (the first listed varies slowest), as in xarray; PyTensor uses x's own order instead.
 */
export class Stack extends XOp {
  readonly name = "Stack";
  /** `dims` keeps the given order: it is the flattening order, not a set. */
  readonly props: { readonly dim: string; readonly dims: readonly string[] };

  constructor(dim: string, dims: readonly string[]) {
    super();
    this.props = { dim, dims: [...dims] };
  }

  makeNode(x: Variable): Apply {
    const xt = xtype("stack", "x", x);
    const { dim, dims } = this.props;
    if (dims.length === 0) throw new OpInputError(`stack: no dims to stack into "${dim}"`);
    if (xt.dims.includes(dim)) throw new OpInputError(`stack: new dim "${dim}" already exists in x ${fmtDims(xt.dims)}`);
    const seen = new Set<string>();
    for (const d of dims) {
      if (seen.has(d)) throw new OpInputError(`stack: duplicate dim "${d}" in dims ${fmtDims(dims)}`);
      seen.add(d);
      requireDim("stack", "x", xt, d);
    }
    const keep = xt.dims.filter((d) => !seen.has(d));
    const lens = dims.map((d) => xt.lengthOf(d) ?? null);
    const len = lens.every((l): l is number => l !== null) ? lens.reduce((a, b) => a * b, 1) : null;
    return new Apply(this, [x], [new XTensorType(xt.dtype, [...keep, dim], [...keep.map((d) => xt.lengthOf(d) ?? null), len])]);
  }

  lower(node: Apply): Variable[] {
    const xt = node.inputs[0].type as XTensorType;
    const keep = xt.dims.filter((d) => !this.props.dims.includes(d));
    const perm = [...keep, ...this.props.dims].map((d) => xt.dims.indexOf(d));
    let t: Variable = values(node.inputs[0]);
    if (!isIdentity(perm)) t = ptTranspose(t, perm);
    if (this.props.dims.length > 1) {
      const lens = perm.map((_, i) => lengthOf(t, i));
      t = reshape(t, [...lens.slice(0, keep.length), product(lens.slice(keep.length))]);
    }
    return [wrapLowered("stack", t, node.outputs[0].type as XTensorType)];
  }
}

/** Stack `dims` (in the given order, first slowest) into `newDim`, appended last. */
export function stack(x: XTensorVariable, newDim: string, dims: readonly string[]): XTensorVariable {
  return new Stack(newDim, dims).makeNode(requireX("stack", "x", x)).out as XTensorVariable;
}

/** Split `dim` into new dims of the given sizes (C order), appended last. */
export class UnStack extends XOp {
  readonly name = "UnStack";
  readonly props: { readonly dim: string; readonly to: readonly (readonly [string, number])[] };

  constructor(dim: string, to: readonly (readonly [string, number])[]) {
    super();
    this.props = { dim, to: to.map(([n, s]) => [n, s] as const) };
  }

  makeNode(x: Variable): Apply {
    const xt = xtype("unstack", "x", x);
    const { dim, to } = this.props;
    requireDim("unstack", "x", xt, dim);
    if (to.length === 0) throw new OpInputError(`unstack: no new dims to unstack "${dim}" into`);
    const keep = xt.dims.filter((d) => d !== dim);
    const names = to.map(([n]) => n);
    for (const [n, s] of to) {
      if (!Number.isInteger(s) || s < 0) throw new OpInputError(`unstack: size of new dim "${n}" must be a non-negative integer, got ${s}`);
      if (keep.includes(n)) throw new OpInputError(`unstack: new dim "${n}" already exists in x ${fmtDims(xt.dims)}`);
      if (names.indexOf(n) !== names.lastIndexOf(n)) throw new OpInputError(`unstack: duplicate new dim "${n}" in ${fmtDims(names)}`);
    }
    const total = to.reduce((a, [, s]) => a * s, 1);
    const len = xt.lengthOf(dim);
    if (len !== null && len !== undefined && len !== total) {
      throw new OpInputError(`unstack: sizes ${fmtDims(to.map(([, s]) => String(s)))} of ${fmtDims(names)} multiply to ${total} but dim "${dim}" of x has length ${len}`);
    }
    return new Apply(this, [x], [new XTensorType(xt.dtype, [...keep, ...names], [...keep.map((d) => xt.lengthOf(d) ?? null), ...to.map(([, s]) => s)])]);
  }

  lower(node: Apply): Variable[] {
    const xt = node.inputs[0].type as XTensorType;
    const axis = xt.dims.indexOf(this.props.dim);
    const perm = [...xt.dims.map((_, i) => i).filter((i) => i !== axis), axis];
    let t: Variable = values(node.inputs[0]);
    if (!isIdentity(perm)) t = ptTranspose(t, perm);
    const lens = perm.slice(0, -1).map((_, i) => lengthOf(t, i));
    t = reshape(t, [...lens, ...this.props.to.map(([, s]) => s)]);
    return [wrapLowered("unstack", t, node.outputs[0].type as XTensorType)];
  }
}

/** Split `dim` into `to = [[name, size], ...]` (C order: the first varies slowest), appended last. */
export function unstack(x: XTensorVariable, dim: string, to: readonly (readonly [string, number])[]): XTensorVariable {
  return new UnStack(dim, to).makeNode(requireX("unstack", "x", x)).out as XTensorVariable;
}

// ---------------------------------------------------------------- concat

/**
 * Concatenate along `dim`. Output dims: the union of the inputs' dims in first-appearance
 * order, with `dim` first when no input has it (its length is then the number of inputs).
 * Otherwise its length is the sum of the inputs' lengths, an input lacking it counting as one
 * slice broadcast along the other dims.
 */
export class Concat extends XOp {
  readonly name = "Concat";
  readonly props: { readonly dim: string };

  constructor(dim: string) {
    super();
    this.props = { dim };
  }

  makeNode(...xs: Variable[]): Apply {
    const { dim } = this.props;
    if (xs.length === 0) throw new OpInputError(`concat: needs at least one input`);
    const args = xs.map((v, i) => ({ label: argLabel(i, xs.length), type: xtype("concat", argLabel(i, xs.length), v) }));
    const other = unionDims("concat", args, [dim]);
    const present = args.some((a) => a.type.dims.includes(dim));
    let dims: string[];
    let shape: (number | null)[];
    if (!present) {
      dims = [dim, ...other.dims];
      shape = [xs.length, ...other.shape];
    } else {
      // First-appearance order including `dim`, wherever it first shows up.
      dims = [...new Set(args.flatMap((a) => a.type.dims))];
      const lens = args.map((a) => (a.type.dims.includes(dim) ? (a.type.lengthOf(dim) ?? null) : 1));
      const total = lens.every((l): l is number => l !== null) ? lens.reduce((p, q) => p + q, 0) : null;
      shape = dims.map((d) => (d === dim ? total : other.shape[other.dims.indexOf(d)]));
    }
    const dtype = upcast(...args.map((a) => a.type.dtype));
    return new Apply(this, xs, [new XTensorType(dtype, dims, shape)]);
  }

  lower(node: Apply): Variable[] {
    const out = node.outputs[0].type as XTensorType;
    const axis = out.dims.indexOf(this.props.dim);
    const pieces = node.inputs.map((x) => {
      const xt = x.type as XTensorType;
      let t = lowerAligned(x, out.dims);
      if (t.type.dtype !== out.dtype) t = ptCast(t, out.dtype);
      if (out.dims.some((d) => d !== this.props.dim && !xt.dims.includes(d))) {
        const target = out.dims.map((d, i) => (i === axis ? (xt.dims.includes(d) ? lengthOf(t, i) : 1) : dimLengthAmong(node.inputs, d)));
        t = broadcastTo(t, target);
      }
      return t;
    });
    return [wrapLowered("concat", join(axis, ...pieces), out)];
  }
}

/** Concatenate `xs` along `dim` (see `Concat`). */
export function concat(xs: readonly XTensorVariable[], dim: string): XTensorVariable {
  const vs = xs.map((x, i) => requireX("concat", argLabel(i, xs.length), x));
  return new Concat(dim).makeNode(...vs).out as XTensorVariable;
}

// ---------------------------------------------------------------- expandDims / squeeze

/** Add a new dim of length `size` at the front. */
export class ExpandDims extends XOp {
  readonly name = "ExpandDims";
  readonly props: { readonly dim: string; readonly size: number };

  constructor(dim: string, size: number) {
    super();
    if (!Number.isInteger(size) || size < 0) throw new OpInputError(`expandDims: size of dim "${dim}" must be a non-negative integer, got ${size}`);
    this.props = { dim, size };
  }

  makeNode(x: Variable): Apply {
    const xt = xtype("expandDims", "x", x);
    if (xt.dims.includes(this.props.dim)) throw new OpInputError(`expandDims: dim "${this.props.dim}" already exists in x ${fmtDims(xt.dims)}`);
    return new Apply(this, [x], [new XTensorType(xt.dtype, [this.props.dim, ...xt.dims], [this.props.size, ...xt.shape])]);
  }

  lower(node: Apply): Variable[] {
    const xt = node.inputs[0].type as XTensorType;
    let t = dimshuffle(values(node.inputs[0]), ["x", ...xt.dims.map((_, i) => i)]);
    if (this.props.size !== 1) t = broadcastTo(t, [this.props.size, ...xt.dims.map((_, i) => lengthOf(t, i + 1))]);
    return [wrapLowered("expandDims", t, node.outputs[0].type as XTensorType)];
  }
}

/** Add `dim` with length `size` (default 1) at the front. */
export function expandDims(x: XTensorVariable, dim: string, size = 1): XTensorVariable {
  return new ExpandDims(dim, size).makeNode(requireX("expandDims", "x", x)).out as XTensorVariable;
}

/** Remove length-1 dims (stored sorted). A dim of unknown static length is checked at run time. */
export class Squeeze extends XOp {
  readonly name = "Squeeze";
  readonly props: { readonly dims: readonly string[] };

  constructor(dims: readonly string[]) {
    super();
    this.props = { dims: [...new Set(dims)].sort() };
  }

  makeNode(x: Variable): Apply {
    const xt = xtype("squeeze", "x", x);
    for (const d of this.props.dims) {
      const len = xt.shape[requireDim("squeeze", "x", xt, d)];
      if (len !== null && len !== 1) throw new OpInputError(`squeeze: dim "${d}" has length ${len} in x ${fmtDims(xt.dims)}, not 1`);
    }
    const keep = xt.dims.map((_, i) => i).filter((i) => !this.props.dims.includes(xt.dims[i]));
    return new Apply(this, [x], [new XTensorType(xt.dtype, keep.map((i) => xt.dims[i]), keep.map((i) => xt.shape[i]))]);
  }

  lower(node: Apply): Variable[] {
    const xt = node.inputs[0].type as XTensorType;
    const axes = this.props.dims.map((d) => xt.dims.indexOf(d)).sort((a, b) => a - b);
    return [wrapLowered("squeeze", ptSqueeze(values(node.inputs[0]), axes), node.outputs[0].type as XTensorType)];
  }
}

/**
 * Remove `dims`, each of which must have length 1. With no argument, removes every dim whose
 * static length is 1 (xarray's default).
 */
export function squeeze(x: XTensorVariable, dims?: string | readonly string[]): XTensorVariable {
  const xv = requireX("squeeze", "x", x);
  const list = dims === undefined ? xv.dims.filter((_, i) => xv.type.shape[i] === 1) : typeof dims === "string" ? [dims] : [...dims];
  const dup = list.find((d, i) => list.indexOf(d) !== i);
  if (dup !== undefined) throw new OpInputError(`squeeze: duplicate dim "${dup}" in dims ${fmtDims(list)}`);
  if (list.length === 0) return xv;
  return new Squeeze(list).makeNode(xv).out as XTensorVariable;
}

// ---------------------------------------------------------------- broadcast

/**
 * Broadcast every input against the others by name. Output i has the union of all inputs'
 * dims (minus `exclude`, first-appearance order) followed by input i's own excluded dims, in
 * `exclude` order. Excluded dims need not agree in length.
 */
export class Broadcast extends XOp {
  readonly name = "Broadcast";
  readonly props: { readonly exclude: readonly string[] };

  constructor(exclude: readonly string[] = []) {
    super();
    // Kept in the given order: it fixes where each input's excluded dims land.
    this.props = { exclude: [...exclude] };
  }

  makeNode(...xs: Variable[]): Apply {
    const { exclude } = this.props;
    if (xs.length === 0) throw new OpInputError(`broadcast: needs at least one input`);
    const dup = exclude.find((d, i) => exclude.indexOf(d) !== i);
    if (dup !== undefined) throw new OpInputError(`broadcast: duplicate dim "${dup}" in exclude ${fmtDims(exclude)}`);
    const args = xs.map((v, i) => ({ label: argLabel(i, xs.length), type: xtype("broadcast", argLabel(i, xs.length), v) }));
    const u = unionDims("broadcast", args, exclude);
    const outs = args.map(({ type }) => {
      const own = exclude.filter((d) => type.dims.includes(d));
      return new XTensorType(type.dtype, [...u.dims, ...own], [...u.shape, ...own.map((d) => type.lengthOf(d) ?? null)]);
    });
    return new Apply(this, xs, outs);
  }

  lower(node: Apply): Variable[] {
    return node.inputs.map((x, i) => {
      const out = node.outputs[i].type as XTensorType;
      const xt = x.type as XTensorType;
      let t = lowerAligned(x, out.dims);
      if (out.dims.some((d) => !xt.dims.includes(d))) {
        t = broadcastTo(
          t,
          out.dims.map((d, k) => (this.props.exclude.includes(d) ? lengthOf(t, k) : dimLengthAmong(node.inputs, d))),
        );
      }
      return wrapLowered("broadcast", t, out);
    });
  }
}

/** Broadcast `xs` against each other by name (see `Broadcast`); one output per input. */
export function broadcast(xs: readonly XTensorVariable[], opts: { readonly exclude?: readonly string[] } = {}): XTensorVariable[] {
  const vs = xs.map((x, i) => requireX("broadcast", argLabel(i, xs.length), x));
  return new Broadcast(opts.exclude ?? []).makeNode(...vs).outputs as XTensorVariable[];
}

