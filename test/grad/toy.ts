/**
 * Toy type families and ops for testing the grad driver's mechanics without any real math, in
 * the spirit of PyTensor's tests/graph/utils.py. Two families: "toy" (positional) and "toyx"
 * (named: dims), each with its own cotangent algebra, so the driver is exercised through its
 * family-agnostic interface only. Every op is elementwise over equal shapes (no broadcasting).
 */
import { Apply, Constant, Variable } from "../../src/graph/basic.js";
import { DISCONNECTED, type Disconnected, type GradTerm, Op, UndefinedGrad } from "../../src/graph/op.js";
import { type DType, type Shape, type Type, isFloat, shapeIsSuper, shapeToString } from "../../src/graph/type.js";
import { NDArray } from "../../src/ndarray/ndarray.js";
import { type CotangentAlgebra, registerCotangentAlgebra } from "../../src/grad/algebra.js";

/** A toy type: "toy" is positional, "toyx" carries dims. */
export class ToyType implements Type {
  readonly shape: Shape;
  constructor(
    readonly kind: "toy" | "toyx",
    readonly dtype: DType,
    shape: Shape,
    readonly dims: readonly string[] | null = null,
  ) {
    this.shape = [...shape];
  }
  get ndim(): number {
    return this.shape.length;
  }
  equals(o: Type): boolean {
    return o.key() === this.key();
  }
  isSuper(o: Type): boolean {
    return o instanceof ToyType && o.kind === this.kind && o.dtype === this.dtype && shapeIsSuper(this.shape, o.shape) && String(o.dims) === String(this.dims);
  }
  key(): string {
    return `${this.kind}:${this.dtype}:${this.shape.join(",")}:${this.dims?.join(",") ?? ""}`;
  }
  toString(): string {
    return `${this.kind === "toy" ? "Toy" : "ToyX"}(${this.dtype}, ${this.dims ? `dims=(${this.dims.join(", ")}), ` : ""}shape=${shapeToString(this.shape)})`;
  }
  withShape(shape: Shape): ToyType {
    return new ToyType(this.kind, this.dtype, shape, this.dims);
  }
  withDtype(dtype: DType): ToyType {
    return new ToyType(this.kind, dtype, this.shape, this.dims);
  }
}

/** A positional toy root. */
export function toy(name: string, shape: Shape = [], dtype: DType = "float64"): Variable {
  return new Variable(new ToyType("toy", dtype, shape), null, 0, name);
}

/** A named toy root. */
export function toyx(name: string, dims: readonly string[], shape: Shape, dtype: DType = "float64"): Variable {
  return new Variable(new ToyType("toyx", dtype, shape, dims), null, 0, name);
}

/** A toy constant. */
export function toyConst(value: number, dtype: DType = "float64"): Constant {
  return new Constant(new ToyType("toy", dtype, []), NDArray.scalar(value, dtype));
}

const mapFlat = (arrs: readonly NDArray[], dtype: DType, f: (...xs: number[]) => number): NDArray => {
  const flats = arrs.map((a) => a.toFlat());
  return NDArray.fromFlat(
    flats[0].map((_, k) => f(...flats.map((fl) => fl[k]))),
    arrs[0].shape,
    dtype,
  );
};

function sameShape(op: string, a: Variable, b: Variable): void {
  if (a.type.kind !== b.type.kind || String(a.type.shape) !== String(b.type.shape) || String((a.type as ToyType).dims) !== String((b.type as ToyType).dims)) {
    throw new Error(`${op}: operand types differ: ${a.type.toString()} vs ${b.type.toString()}`);
  }
}

/** Base of the binary elementwise toy ops: output type = first input's, dtype float64 unless both are float32. */
abstract class ToyBinary extends Op {
  override readonly props = {};
  makeNode(a: Variable, b: Variable): Apply {
    sameShape(this.name, a, b);
    const dt: DType = a.type.dtype === b.type.dtype ? a.type.dtype : "float64";
    return new Apply(this, [a, b], [a.type.withDtype(dt)]);
  }
}

/** a + b. */
export class ToyAdd extends ToyBinary {
  override readonly name = "ToyAdd";
  override perform(node: Apply, [a, b]: readonly NDArray[]): NDArray[] {
    return [mapFlat([a, b], node.outputs[0].type.dtype, (x, y) => x + y)];
  }
  override pullback(_i: readonly Variable[], _o: readonly Variable[], [g]: readonly Variable[]): GradTerm[] {
    return [g, g];
  }
  override pushforward(_i: readonly Variable[], _o: readonly Variable[], [ta, tb]: readonly (Variable | Disconnected)[]): (Variable | Disconnected)[] {
    if (ta instanceof Variable && tb instanceof Variable) return [add(ta, tb)];
    return [ta instanceof Variable ? ta : tb];
  }
}

/** a * b. */
export class ToyMul extends ToyBinary {
  override readonly name = "ToyMul";
  override perform(node: Apply, [a, b]: readonly NDArray[]): NDArray[] {
    return [mapFlat([a, b], node.outputs[0].type.dtype, (x, y) => x * y)];
  }
  // d(ab) = b da + a db
  override pullback([a, b]: readonly Variable[], _o: readonly Variable[], [g]: readonly Variable[]): GradTerm[] {
    return [mul(g, b), mul(g, a)];
  }
  override pushforward([a, b]: readonly Variable[], _o: readonly Variable[], [ta, tb]: readonly (Variable | Disconnected)[]): (Variable | Disconnected)[] {
    const terms = [ta instanceof Variable ? mul(ta, b) : null, tb instanceof Variable ? mul(a, tb) : null].filter((t): t is Variable => t !== null);
    return [terms.length === 2 ? add(terms[0], terms[1]) : terms[0]];
  }
}

/** fill(x, value): x's type (or `dtype`) filled with a constant; depends on x's shape only. */
export class ToyFill extends Op {
  override readonly name = "ToyFill";
  override readonly props: { readonly value: number; readonly dtype: DType | null };
  constructor(value: number, dtype: DType | null = null) {
    super();
    this.props = { value, dtype };
  }
  makeNode(x: Variable): Apply {
    return new Apply(this, [x], [x.type.withDtype(this.props.dtype ?? x.type.dtype)]);
  }
  override perform(node: Apply, [x]: readonly NDArray[]): NDArray[] {
    return [NDArray.full(x.shape, this.props.value, node.outputs[0].type.dtype)];
  }
  override connectionPattern(): boolean[][] {
    return [[false]];
  }
  override pullback(): GradTerm[] {
    return [DISCONNECTED];
  }
  override pushforward(): (Variable | Disconnected)[] {
    return [DISCONNECTED];
  }
}

/** A dtype conversion. The cotangent of a discrete input is float zeros, as PyTensor's Cast gives. */
export class ToyCast extends Op {
  override readonly name = "ToyCast";
  override readonly props: { readonly dtype: DType };
  constructor(dtype: DType) {
    super();
    this.props = { dtype };
  }
  makeNode(x: Variable): Apply {
    return new Apply(this, [x], [x.type.withDtype(this.props.dtype)]);
  }
  override perform(node: Apply, [x]: readonly NDArray[]): NDArray[] {
    return [x.astype(this.props.dtype)];
  }
  override pullback([x]: readonly Variable[], [out]: readonly Variable[], [g]: readonly Variable[]): GradTerm[] {
    if (!isFloat(x.type.dtype)) return [fill(x, 0, "float64")];
    if (!isFloat(out.type.dtype)) return [fill(x, 0)];
    return [cast(g, x.type.dtype)];
  }
  override pushforward([x]: readonly Variable[], [out]: readonly Variable[], [t]: readonly (Variable | Disconnected)[]): (Variable | Disconnected)[] {
    if (!(t instanceof Variable) || !isFloat(out.type.dtype) || !isFloat(x.type.dtype)) return [DISCONNECTED];
    return [cast(t, out.type.dtype)];
  }
}

/** An identity copy (the toy algebra's `copy`). */
export class ToyCopy extends Op {
  override readonly name = "ToyCopy";
  override readonly props = {};
  makeNode(x: Variable): Apply {
    return new Apply(this, [x], [x.type]);
  }
  override perform(_n: Apply, [x]: readonly NDArray[]): NDArray[] {
    return [x.copy()];
  }
  override pullback(_i: readonly Variable[], _o: readonly Variable[], [g]: readonly Variable[]): GradTerm[] {
    return [g];
  }
}

/** Round to int64: a discrete output that is connected to x, with a provably zero pullback. */
export class ToyRound extends Op {
  override readonly name = "ToyRound";
  override readonly props = {};
  makeNode(x: Variable): Apply {
    return new Apply(this, [x], [x.type.withDtype("int64")]);
  }
  override perform(_n: Apply, [x]: readonly NDArray[]): NDArray[] {
    return [mapFlat([x], "int64", Math.round)];
  }
  override pullback([x]: readonly Variable[]): GradTerm[] {
    return [fill(x, 0)];
  }
}

/** pick(x, i) = x · 1 with an integer "index" i: x's gradient is g, i's is undefined. */
export class ToyPick extends Op {
  override readonly name = "ToyPick";
  override readonly props = {};
  makeNode(x: Variable, i: Variable): Apply {
    return new Apply(this, [x, i], [x.type]);
  }
  override perform(_n: Apply, [x]: readonly NDArray[]): NDArray[] {
    return [x.copy()];
  }
  override pullback(_i: readonly Variable[], _o: readonly Variable[], [g]: readonly Variable[]): GradTerm[] {
    return [g, new UndefinedGrad("an integer index has no gradient")];
  }
}

/** Two outputs: [2x (float), round(x) (int64)]. */
export class ToyTwoOut extends Op {
  override readonly name = "ToyTwoOut";
  override readonly props = {};
  makeNode(x: Variable): Apply {
    return new Apply(this, [x], [x.type, x.type.withDtype("int64")]);
  }
  override perform(_n: Apply, [x]: readonly NDArray[]): NDArray[] {
    return [mapFlat([x], x.dtype, (v) => 2 * v), mapFlat([x], "int64", Math.round)];
  }
  override connectionPattern(): boolean[][] {
    return [[true, true]];
  }
  // Only the float output carries gradient; the int output's cotangent is ignored (zero term).
  override pullback([x]: readonly Variable[], _o: readonly Variable[], [g0]: readonly Variable[]): GradTerm[] {
    return [add(g0, g0)];
  }
}

/** a * b written into a's buffer (destroyMap {0: [0]}). Records the inputs its pullback saw. */
export class ToyMulInplace extends ToyBinary {
  override readonly name = "ToyMulInplace";
  override readonly destroyMap = { 0: [0] };
  static seen: Variable[][] = [];
  override perform(node: Apply, [a, b]: readonly NDArray[]): NDArray[] {
    a.assign(mapFlat([a, b], a.dtype, (x, y) => x * y));
    return [a];
  }
  override pullback(inputs: readonly Variable[], _o: readonly Variable[], [g]: readonly Variable[]): GradTerm[] {
    ToyMulInplace.seen.push([...inputs]);
    return [mul(g, inputs[1]), mul(g, inputs[0])];
  }
}

/** Named transpose: output dims are `dims` (a permutation); values move with their names. */
export class ToyTranspose extends Op {
  override readonly name = "ToyTranspose";
  override readonly props: { readonly dims: readonly string[] };
  constructor(dims: readonly string[]) {
    super();
    this.props = { dims: [...dims] };
  }
  makeNode(x: Variable): Apply {
    const t = x.type as ToyType;
    const from = t.dims as readonly string[];
    const shape = this.props.dims.map((d) => t.shape[from.indexOf(d)]);
    return new Apply(this, [x], [new ToyType("toyx", t.dtype, shape, this.props.dims)]);
  }
  override perform(node: Apply, [x]: readonly NDArray[]): NDArray[] {
    const from = (node.inputs[0].type as ToyType).dims as readonly string[];
    return [x.transpose(this.props.dims.map((d) => from.indexOf(d))).copy()];
  }
  override pullback([x]: readonly Variable[], _o: readonly Variable[], [g]: readonly Variable[]): GradTerm[] {
    return [transpose(g, (x.type as ToyType).dims as readonly string[])];
  }
}

/** A named op with no pullback, like an XOp (but runnable, for the tests): a·b elementwise. */
export class ToyNamedMul extends Op {
  override readonly name = "ToyNamedMul";
  override readonly props = {};
  makeNode(a: Variable, b: Variable): Apply {
    sameShape(this.name, a, b);
    return new Apply(this, [a, b], [a.type]);
  }
  override perform(_n: Apply, [a, b]: readonly NDArray[]): NDArray[] {
    return [mapFlat([a, b], a.dtype, (x, y) => x * y)];
  }
}

/** Σ x over every element, a 0-d result of the same family with no dims. */
export class ToySum extends Op {
  override readonly name = "ToySum";
  override readonly props = {};
  makeNode(x: Variable): Apply {
    const t = x.type as ToyType;
    return new Apply(this, [x], [new ToyType(t.kind, t.dtype, [], t.dims === null ? null : [])]);
  }
  override perform(node: Apply, [x]: readonly NDArray[]): NDArray[] {
    return [NDArray.scalar(x.toFlat().reduce((s, v) => s + v, 0), node.outputs[0].type.dtype)];
  }
  // d(Σx)/dx = 1: broadcast g back to x's shape.
  override pullback([x]: readonly Variable[], _o: readonly Variable[], [g]: readonly Variable[]): GradTerm[] {
    return [new ToyBroadcastLike().makeNode(g, x).out];
  }
}

/** broadcast a 0-d g to x's type (x's shape only matters). */
export class ToyBroadcastLike extends Op {
  override readonly name = "ToyBroadcastLike";
  override readonly props = {};
  makeNode(g: Variable, x: Variable): Apply {
    return new Apply(this, [g, x], [x.type.withDtype(g.type.dtype)]);
  }
  override perform(node: Apply, [g, x]: readonly NDArray[]): NDArray[] {
    return [NDArray.full(x.shape, g.toFlat()[0], node.outputs[0].type.dtype)];
  }
  override connectionPattern(): boolean[][] {
    return [[true], [false]];
  }
  override pullback([, x]: readonly Variable[], _o: readonly Variable[], [g]: readonly Variable[]): GradTerm[] {
    return [sum(g), DISCONNECTED];
  }
}

// Builders.
/** a + b. */
export const add = (a: Variable, b: Variable): Variable => new ToyAdd().makeNode(a, b).out;
/** a * b. */
export const mul = (a: Variable, b: Variable): Variable => new ToyMul().makeNode(a, b).out;
/** fill(x, value). */
export const fill = (x: Variable, value: number, dtype: DType | null = null): Variable => new ToyFill(value, dtype).makeNode(x).out;
/** cast. */
export const cast = (x: Variable, dtype: DType): Variable => (x.type.dtype === dtype ? x : new ToyCast(dtype).makeNode(x).out);
/** named transpose. */
export const transpose = (x: Variable, dims: readonly string[]): Variable => new ToyTranspose(dims).makeNode(x).out;
/** Σ x. */
export const sum = (x: Variable): Variable => new ToySum().makeNode(x).out;

const toyIsZero = (v: Variable): boolean => {
  if (v instanceof Constant) return v.value.toFlat().every((e) => e === 0);
  return v.owner !== null && v.owner.op instanceof ToyFill && v.owner.op.props.value === 0;
};

const toyAlgebra: CotangentAlgebra = {
  zerosLike: (like, dtype) => fill(like, 0, dtype),
  onesLike: (like, dtype) => fill(like, 1, dtype),
  add,
  cast,
  copy: (v) => new ToyCopy().makeNode(v).out,
  vdot: (a, b) => sum(mul(a, b)),
  isZero: toyIsZero,
};
registerCotangentAlgebra("toy", toyAlgebra);
registerCotangentAlgebra("toyx", { ...toyAlgebra, transpose });
