/**
 * Finite-difference checks of the grad driver on real ops, in float64 with central differences.
 *
 * The error metric is PyTensor's `verify_grad` one: an element fails only when both its absolute
 * and its relative error exceed their tolerances (relative to |a| + |b|). `compareGrad` returns
 * the worst element instead of throwing, so that a test can also assert that a comparison
 * *fails* (a checker that cannot fail proves nothing).
 */
import type { Variable } from "../../src/graph/basic.js";
import { grad } from "../../src/grad/driver.js";
import { NDArray } from "../../src/ndarray/ndarray.js";
import { evalGraph } from "./eval.js";

/** The worst element of a comparison. */
export interface Comparison {
  readonly ok: boolean;
  readonly input: number;
  readonly index: number;
  readonly analytic: number;
  readonly numeric: number;
  readonly absErr: number;
  readonly relErr: number;
}

/** Tolerances and step. */
export interface FdOptions {
  readonly h?: number;
  readonly absTol?: number;
  readonly relTol?: number;
}

const DEFAULTS = { h: 1e-6, absTol: 1e-6, relTol: 1e-5 };

/** Compare two flat arrays element by element; the worst element (by min of scaled errors). */
export function compareArrays(analytic: readonly (readonly number[])[], numeric: readonly (readonly number[])[], opts: FdOptions = {}): Comparison {
  const { absTol, relTol } = { ...DEFAULTS, ...opts };
  let worst: Comparison = { ok: true, input: -1, index: -1, analytic: 0, numeric: 0, absErr: 0, relErr: 0 };
  let worstScore = -1;
  analytic.forEach((a, k) => {
    const n = numeric[k];
    if (a.length !== n.length) throw new Error(`compareArrays: input ${k} has ${a.length} analytic values but ${n.length} numeric`);
    a.forEach((av, i) => {
      const nv = n[i];
      const absErr = Math.abs(av - nv);
      const relErr = absErr / Math.max(Math.abs(av) + Math.abs(nv), 1e-8);
      if (!Number.isFinite(absErr)) throw new Error(`compareArrays: non-finite value at input ${k}[${i}]: ${av} vs ${nv}`);
      const score = Math.min(absErr / absTol, relErr / relTol);
      if (score > worstScore) {
        worstScore = score;
        worst = { ok: !(absErr > absTol && relErr > relTol), input: k, index: i, analytic: av, numeric: nv, absErr, relErr };
      }
    });
  });
  return worst;
}

/** Central differences of a scalar function of several arrays, with respect to each of them. */
export function numericGrad(f: (xs: readonly NDArray[]) => number, values: readonly NDArray[], h = DEFAULTS.h): number[][] {
  return values.map((v, k) => {
    const out: number[] = [];
    const flat = v.toFlat();
    for (let i = 0; i < flat.length; i++) {
      const at = (delta: number): number => {
        const moved = flat.slice();
        moved[i] += delta;
        return f(values.map((w, j) => (j === k ? NDArray.fromFlat(moved, v.shape, v.dtype) : w)));
      };
      out.push((at(h) - at(-h)) / (2 * h));
    }
    return out;
  });
}

/** Evaluate a 0-d output as a number. */
export function scalarAt(out: Variable, vars: readonly Variable[], values: readonly NDArray[]): number {
  return evalGraph([out], new Map(vars.map((v, k) => [v, values[k]] as const)))[0].toFlat()[0];
}

/**
 * grad(cost, vars) evaluated at `values`, against central differences of cost itself. The
 * gradient graph is built while `fn`-scoped overrides are active, so call it inside
 * `withPullbackOverride` to check an injected rule.
 */
export function compareGrad(cost: Variable, vars: readonly Variable[], values: readonly NDArray[], opts: FdOptions = {}): Comparison {
  const gs = grad(cost, vars, { disconnectedInputs: "ignore" });
  const givens = new Map(vars.map((v, k) => [v, values[k]] as const));
  const analytic = evalGraph(gs, givens).map((a) => a.toFlat());
  const numeric = numericGrad((xs) => scalarAt(cost, vars, xs), values, opts.h);
  return compareArrays(analytic, numeric, opts);
}

/** Throw with the worst element when the comparison fails. */
export function assertOk(c: Comparison, what = "gradient"): void {
  if (!c.ok) {
    throw new Error(`${what} disagrees with finite differences at input ${c.input}[${c.index}]: analytic ${c.analytic}, numeric ${c.numeric} (abs ${c.absErr.toExponential(2)}, rel ${c.relErr.toExponential(2)})`);
  }
}
