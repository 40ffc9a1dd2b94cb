/**
 * Toy ops for testing graph machinery without math (PyTensor `tests/graph/utils.py`'s MyOp).
 */
import { Apply, Constant, Variable } from "../../src/graph/basic.js";
import { Op, type AliasMap } from "../../src/graph/op.js";
import { TensorType, type Shape } from "../../src/graph/type.js";
import { NDArray } from "../../src/ndarray/ndarray.js";

/** The toy type: float64 vectors of unknown length unless a shape is given. */
export function toyType(shape: Shape = [null]): TensorType {
  return new TensorType("float64", shape);
}

/** A named root variable of the toy type. */
export function toyVar(name: string, shape: Shape = [null]): Variable {
  return new Variable(toyType(shape), null, 0, name);
}

/** A toy constant (a vector of the given values). */
export function toyConst(values: number[], name: string | null = null): Constant {
  return new Constant(toyType([values.length]), NDArray.fromFlat(values, [values.length]), name);
}

/** Options of a toy op. */
export interface MyOpOptions {
  readonly nout?: number;
  readonly viewMap?: AliasMap;
  readonly destroyMap?: AliasMap;
  /** Output shape; default: the first input's shape (or `[null]`). */
  readonly outShape?: Shape;
}

/** An op with no math: equality by name and options, outputs typed like the first input. */
export class MyOp extends Op {
  readonly name: string;
  readonly props: { readonly [k: string]: string | number | null };
  override readonly viewMap: AliasMap;
  override readonly destroyMap: AliasMap;
  constructor(
    name: string,
    readonly opts: MyOpOptions = {},
  ) {
    super();
    this.name = name;
    this.viewMap = opts.viewMap ?? {};
    this.destroyMap = opts.destroyMap ?? {};
    this.props = {
      nout: opts.nout ?? 1,
      view: JSON.stringify(this.viewMap),
      destroy: JSON.stringify(this.destroyMap),
      shape: opts.outShape === undefined ? null : JSON.stringify(opts.outShape),
    };
  }
  makeNode(...inputs: Variable[]): Apply {
    const shape = this.opts.outShape ?? (inputs.length > 0 ? inputs[0].type.shape : [null]);
    return new Apply(this, inputs, Array.from({ length: this.opts.nout ?? 1 }, () => toyType(shape)));
  }
}

/** Common toy ops. */
export const op1 = new MyOp("op1");
export const op2 = new MyOp("op2");
export const op3 = new MyOp("op3");
/** Output 0 is a view of input 0. */
export const viewOp = new MyOp("view", { viewMap: { 0: [0] } });
/** Output 0 is written into input 0. */
export const destroyOp = new MyOp("destroy", { destroyMap: { 0: [0] } });
/** A two-output op. */
export const twoOut = new MyOp("two", { nout: 2 });

/** Apply `op` and return its single output. */
export function ap(op: Op, ...inputs: Variable[]): Variable {
  return op.makeNode(...inputs).out;
}
