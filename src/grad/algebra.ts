/**
 * The cotangent algebra of a type family: the handful of graph builders the grad driver needs
 * to seed, accumulate, cast and align cotangents.
 *
 * The driver is family-agnostic: it never imports a builder directly. Each type family
 * (`Type.kind`: "tensor", "xtensor", ...) registers its algebra here, so that summing two named
 * cotangents uses the named `add` (which aligns by name) and summing two positional ones uses
 * the positional `add`. This also keeps the driver testable with toy type families, as
 * PyTensor tests graph machinery with toy ops.
 */
import { Constant, type Variable } from "../graph/basic.js";
import type { DType, Type } from "../graph/type.js";
import { GradError } from "../errors.js";

/** Graph builders for the cotangents of one type family. Every method builds graph. */
export interface CotangentAlgebra {
  /** Zeros of `like`'s type, with `dtype` (a float dtype; cotangents of discrete values are float). */
  zerosLike(like: Variable, dtype: DType): Variable;
  /** Ones of `like`'s type with `dtype`: the seed cotangent of a cost. */
  onesLike(like: Variable, dtype: DType): Variable;
  /** `a + b`, both of this family and (for named families) already aligned to the same dims. */
  add(a: Variable, b: Variable): Variable;
  /** `v` converted to `dtype`. */
  cast(v: Variable, dtype: DType): Variable;
  /** A fresh copy of `v`: stands in for an input that the node destroys (see the driver). */
  copy(v: Variable): Variable;
  /** ⟨a, b⟩ summed over every element, as a 0-d variable (for Hessian-vector products). */
  vdot(a: Variable, b: Variable): Variable;
  /**
   * True when `v` is provably zero by inspection of its graph (a zero constant, zeros_like, a
   * product with a zero factor...). Conservative: false means "could not prove it".
   */
  isZero(v: Variable): boolean;
  /** Named families only: reorder `v`'s dims to `dims` (a permutation), moving values by name. */
  transpose?(v: Variable, dims: readonly string[]): Variable;
  /**
   * `v` with its static lengths refined to `shape` (null: keep v's own), checked at run time.
   * Families without it cannot have a gradient's static type refined (see `expandPullbackNode`).
   */
  specifyShape?(v: Variable, shape: readonly (number | null)[]): Variable;
}

const algebras = new Map<string, CotangentAlgebra>();

/**
 * Register the cotangent algebra of a type family (`Type.kind`). A later registration for the
 * same kind replaces the earlier one.
 */
export function registerCotangentAlgebra(kind: string, algebra: CotangentAlgebra): void {
  algebras.set(kind, algebra);
}

/** The algebra of `type`'s family; a GradError naming the family when none is registered. */
export function algebraFor(type: Type): CotangentAlgebra {
  const a = algebras.get(type.kind);
  if (a === undefined) {
    throw new GradError(
      `grad: no cotangent algebra is registered for type family "${type.kind}" (${type.toString()}); ` +
        `import the module that registers it (src/grad/tensor-algebra.ts for positional tensors)`,
    );
  }
  return a;
}

/** The dim names of a named type, or null for positional types. */
export function dimsOf(type: Type): readonly string[] | null {
  const d = (type as { readonly dims?: unknown }).dims;
  return Array.isArray(d) ? (d as readonly string[]) : null;
}

/** Ops that pass zeros through from their first input (views, relabels, broadcasts, reshapes). `broadcastTo` builds an Alloc. */
const ZERO_PRESERVING_OPS = new Set([
  "DimShuffle",
  "Reshape",
  "Alloc",
  "SpecifyShape",
  "TensorFromXTensor",
  "XTensorFromTensor",
  "Rename",
  "Transpose",
]);

/**
 * A structural zero test shared by the built-in algebras, in the spirit of PyTensor's
 * `_is_zero`: a constant whose every element is 0, a fill with a zero value (`zerosLike`), and
 * elementwise or shape ops that keep zeros zero. Bounded, so a long chain costs at most
 * `budget` visits; running out of budget answers false ("not proven"), which is always safe.
 */
export function provablyZero(v: Variable, budget = 64): boolean {
  // Every variable on the stack must be zero for v to be zero (an AND over the chosen inputs).
  const stack: Variable[] = [v];
  while (stack.length > 0) {
    if (budget-- <= 0) return false;
    const x = stack.pop() as Variable;
    if (x.owner === null) {
      if (!(x instanceof Constant) || !x.value.toFlat().every((e) => e === 0)) return false;
      continue;
    }
    const { op, inputs } = x.owner;
    const scalar = (op.props as { readonly scalar?: unknown }).scalar;
    if (typeof scalar === "string") {
      if (scalar === "second") stack.push(inputs[1]);
      else if (scalar === "identity" || scalar === "neg" || scalar.startsWith("cast")) stack.push(inputs[0]);
      else if (scalar === "add" || scalar === "sub") stack.push(...inputs);
      else if (scalar === "mul") {
        // One zero factor suffices: prove the first factor that is provable, cheaply.
        if (!inputs.some((f) => provablyZero(f, Math.min(budget, 16)))) return false;
      } else return false;
    } else if (ZERO_PRESERVING_OPS.has(op.name)) stack.push(inputs[0]);
    else return false;
  }
  return true;
}
