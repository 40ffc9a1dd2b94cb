/**
 * The Op interface: ops are values with structural equality over their declared props.
 *
 * An op declares its parameters once, in `props`; equality and hashing derive from them, so two
 * ops built with equal parameters always compare equal (MergeOptimizer depends on this). Rules
 * for an op family live beside the op: makeNode, perform, pullback, pushforward,
 * connectionPattern.
 */
import type { NDArray } from "../ndarray/ndarray.js";
import { type Apply, Variable } from "./basic.js";
import { type DType, isFloat } from "./type.js";

/** JSON-like values allowed in op props. */
export type PropValue = string | number | boolean | null | readonly PropValue[] | { readonly [k: string]: PropValue };

/** Marker: the output does not depend on this input at all. */
export interface Disconnected {
  readonly kind: "disconnected";
}

/** The disconnected marker (a singleton). */
export const DISCONNECTED: Disconnected = Object.freeze({ kind: "disconnected" as const });

/** Marker: the gradient exists mathematically nowhere (integer index inputs), with the reason. */
export class UndefinedGrad {
  readonly kind = "undefined" as const;
  constructor(readonly reason: string) {}
}

/** What a pullback returns for one input. */
export type GradTerm = Variable | Disconnected | UndefinedGrad;

/** True for the disconnected marker. */
export function isDisconnected(t: unknown): t is Disconnected {
  return typeof t === "object" && t !== null && (t as { kind?: unknown }).kind === "disconnected";
}

/** True for an undefined-gradient marker. */
export function isUndefinedGrad(t: unknown): t is UndefinedGrad {
  return t instanceof UndefinedGrad;
}

/** Maps output index → the input indices it views or destroys. */
export type AliasMap = Readonly<Record<number, readonly number[]>>;

/** Deterministic JSON with sorted object keys, for op hashing. */
export function stableStringify(v: PropValue | undefined): string {
  if (v === undefined) return "null";
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map((x) => stableStringify(x)).join(",")}]`;
  const o = v as { readonly [k: string]: PropValue };
  return `{${Object.keys(o)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stableStringify(o[k])}`)
    .join(",")}}`;
}

/** Base class of every op. */
export abstract class Op {
  /** The op family's name, e.g. "Elemwise" or "XReduce". */
  abstract readonly name: string;
  /** The declared parameters. Equality and hash are over `name` and these, nothing else. */
  abstract readonly props: { readonly [k: string]: PropValue };
  /** Output i may alias input viewMap[i][0]. */
  readonly viewMap: AliasMap = {};
  /** Output i is written in place into input destroyMap[i][0]. */
  readonly destroyMap: AliasMap = {};

  private hashCache: string | undefined;

  /** A string equal for equal ops. */
  hash(): string {
    if (this.hashCache === undefined) this.hashCache = `${this.name}${stableStringify(this.props)}`;
    return this.hashCache;
  }

  /** Structural equality: same class and same props. */
  equals(other: Op): boolean {
    return this === other || (other.constructor === this.constructor && other.hash() === this.hash());
  }

  /** Check input types, infer output types, and build the node. Errors name the op and shapes. */
  abstract makeNode(...inputs: Variable[]): Apply;

  /**
   * Compute outputs from input values. Ops with a destroyMap write into the destroyed input's
   * buffer and return it (or a view of it); ops with a viewMap may return views of inputs.
   */
  perform?(node: Apply, inputs: readonly NDArray[]): NDArray[];

  /**
   * Vector-Jacobian product: one term per input, built as graph from public ops. `cotangents`
   * has one variable per output (the driver fills disconnected outputs with zeros).
   */
  pullback?(inputs: readonly Variable[], outputs: readonly Variable[], cotangents: readonly Variable[]): GradTerm[];

  /**
   * Jacobian-vector product, one tangent per output (DISCONNECTED for a discrete output, or
   * when no connected input has a tangent). `tangents` has one entry per input: DISCONNECTED
   * for a discrete input or one no wrt reaches; otherwise a float variable of the input's
   * type (its static shape refined to the input's). Each result must be of its output's type
   * family and static shape; the caller casts it to the output's dtype. Written independently
   * of `pullback`: `pushforward-duality` checks each against the other (src/grad/pushforward.ts).
   */
  pushforward?(inputs: readonly Variable[], outputs: readonly Variable[], tangents: readonly (Variable | Disconnected)[]): (Variable | Disconnected)[];

  /** connectionPattern(node)[i][j]: does output j depend (differentiably or not) on input i? */
  connectionPattern?(node: Apply): boolean[][];

  toString(): string {
    const keys = Object.keys(this.props);
    if (keys.length === 0) return this.name;
    return `${this.name}{${keys.map((k) => `${k}=${stableStringify(this.props[k])}`).join(", ")}}`;
  }
}

/**
 * The pushforward of an op that is jointly linear in the inputs `linear` (the values it moves,
 * concatenates, scatters or sums) and depends on the others only through their values as
 * parameters (lengths, indices): the op itself applied to the tangents. A linear input without
 * a tangent stands as zeros of its shape (`zeros`, in the float dtype of output 0; only needed
 * with several linear inputs). Every output is DISCONNECTED when none of them has one, and a
 * discrete output always is.
 */
export function linearPushforward(
  op: Op,
  inputs: readonly Variable[],
  outputs: readonly Variable[],
  tangents: readonly (Variable | Disconnected)[],
  linear: readonly number[],
  zeros?: (like: Variable, dtype: DType) => Variable,
): (Variable | Disconnected)[] {
  if (linear.every((i) => !(tangents[i] instanceof Variable))) return outputs.map(() => DISCONNECTED);
  const dtype = outputs[0].type.dtype;
  const args = inputs.map((v, i) => {
    if (!linear.includes(i)) return v;
    const t = tangents[i];
    if (t instanceof Variable) return t;
    if (zeros === undefined) throw new Error(`linearPushforward: ${op.toString()} has several linear inputs but no zeros builder`);
    return zeros(v, isFloat(dtype) ? dtype : "float64");
  });
  const res = op.makeNode(...args).outputs;
  return outputs.map((o, j) => (isFloat(o.type.dtype) ? res[j] : DISCONNECTED));
}

/** Build an Apply; a helper for makeNode implementations. */
export type OpClass = abstract new (...args: never[]) => Op;
