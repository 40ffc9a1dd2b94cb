/**
 * Graph objects: Variable, Constant and Apply.
 *
 * `Apply.inputs` is mutable on purpose: a FunctionGraph rewires nodes in place, and every such
 * mutation must go through `FunctionGraph.changeNodeInput` so that its features hear about it.
 */
import type { NDArray } from "../ndarray/ndarray.js";
import type { Op } from "./op.js";
import type { Type } from "./type.js";

let nextId = 0;

/** Factories for variable subclasses, keyed by `Type.kind` (xtensor variables carry methods). */
const variableFactories = new Map<string, (type: Type, owner: Apply | null, index: number, name: string | null) => Variable>();

/** Register the Variable subclass built for a type family. */
export function registerVariableClass(kind: string, make: (type: Type, owner: Apply | null, index: number, name: string | null) => Variable): void {
  variableFactories.set(kind, make);
}

/** A Variable of the class registered for `type.kind`. */
export function makeVariable(type: Type, owner: Apply | null = null, index = 0, name: string | null = null): Variable {
  const make = variableFactories.get(type.kind);
  return make ? make(type, owner, index, name) : new Variable(type, owner, index, name);
}

/** A value in a graph: a root (no owner) or the `index`-th output of an Apply. */
export class Variable<T extends Type = Type> {
  /** Creation order; used only for deterministic tie-breaking, never for identity. */
  readonly id: number = nextId++;
  constructor(
    readonly type: T,
    public owner: Apply | null = null,
    public index = 0,
    public name: string | null = null,
  ) {}

  /** A fresh root variable of the same type and name. */
  cloneRoot(): Variable<T> {
    return makeVariable(this.type, null, 0, this.name) as Variable<T>;
  }

  toString(): string {
    if (this.name !== null) return this.name;
    if (this.owner) return `${this.owner.op.toString()}.${this.index}`;
    return `<${this.type.toString()}>`;
  }
}

/** A root variable with a fixed value. Constants with equal signatures are interchangeable. */
export class Constant<T extends Type = Type> extends Variable<T> {
  constructor(
    type: T,
    readonly value: NDArray,
    name: string | null = null,
  ) {
    super(type, null, 0, name);
  }

  private sig: string | undefined;

  /** Type plus data: two constants with equal signatures hold the same value. */
  signature(): string {
    if (this.sig === undefined) {
      const data = this.value.toFlat().map((v) => (Object.is(v, -0) ? "-0" : String(v)));
      this.sig = `${this.type.key()}|${data.join(",")}`;
    }
    return this.sig;
  }

  override toString(): string {
    if (this.name !== null) return this.name;
    return this.value.ndim === 0 ? String(this.value.toFlat()[0]) : `Constant${JSON.stringify(this.value.toNested())}`;
  }
}

/** True when `v` is a Constant. */
export function isConstant(v: Variable): v is Constant {
  return v instanceof Constant;
}

/** An application of an Op to input variables, producing output variables. */
export class Apply {
  readonly outputs: Variable[];
  constructor(
    readonly op: Op,
    public inputs: Variable[],
    outputTypes: readonly Type[],
  ) {
    this.outputs = outputTypes.map((t, i) => makeVariable(t, this, i));
  }

  /** The single output; an error for multi-output nodes. */
  get out(): Variable {
    if (this.outputs.length !== 1) throw new Error(`${this.op.toString()} has ${this.outputs.length} outputs, not 1`);
    return this.outputs[0];
  }

  /** Rebuild this node on other inputs through `op.makeNode`, so types are re-inferred. */
  cloneWithNewInputs(inputs: readonly Variable[]): Apply {
    return this.op.makeNode(...inputs);
  }

  toString(): string {
    return `${this.op.toString()}(${this.inputs.map((i) => i.toString()).join(", ")})`;
  }
}
