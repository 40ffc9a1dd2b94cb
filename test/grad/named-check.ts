/**
 * The checker behind the named-graph gradient matrix (named-matrix.test.ts, lazy.test.ts).
 *
 * One case is a 0-d cost over named (and positional) inputs. `checkCase`:
 *  1. builds the gradient by the three paths: the direct lazy `grad` (one `Pullback` node,
 *     expanded by the compiler), `grad(..., {gradStrategy: "perNode"})`, and `lowerThenGrad`;
 *  2. checks that every gradient has **exactly** its wrt's type (dims order included);
 *  3. compiles each in mode NONE and FAST_RUN, `checked: true`, `onOptError: "raise"`, and runs it;
 *  4. compares the six results with each other (|a − b| ≤ 1e-12·max(1, |a|, |b|));
 *  5. compares them with float64 central differences of the *compiled* forward cost, the step
 *     scaled to each value (h_i = 1e-5·max(1, |x_i|), divided by the representable x⁺ − x⁻).
 *
 * Every comparison returns its worst element instead of throwing, so that a test can also
 * assert that a comparison *fails* (a checker that cannot fail proves nothing).
 */
import { mulberry32 } from "../../oracles/finiteDiff.js";
import assert from "node:assert/strict";
import type { Variable } from "../../src/graph/basic.js";
import { compile } from "../../src/compile/function.js";
import { grad, lowerThenGrad } from "../../src/grad/driver.js";
import { NDArray } from "../../src/ndarray/ndarray.js";
import type { Mode } from "../../src/rewriting/db.js";

/** The three gradient paths for named graphs. */
export type Path = "lazy" | "perNode" | "lowerThenGrad";
export const PATHS: readonly Path[] = ["lazy", "perNode", "lowerThenGrad"];
export const MODES: readonly Mode[] = ["NONE", "FAST_RUN"];

/** Options shared by the three paths. */
export interface PathOptions {
  readonly considerConstant?: readonly Variable[];
  readonly disconnectedInputs?: "raise" | "warn" | "ignore";
}

/** d cost / d wrt by one path. */
export function gradBy(path: Path, cost: Variable, wrt: readonly Variable[], opts: PathOptions = {}): Variable[] {
  if (path === "lowerThenGrad") {
    return lowerThenGrad(cost, wrt, opts).map((g, k) => {
      if (g === null) throw new Error(`lowerThenGrad: no gradient for wrt[${k}]`);
      return g;
    });
  }
  return grad(cost, wrt, { ...opts, gradStrategy: path });
}

/** Deterministic values in [lo, hi), from the harness's mulberry32. */
export function rand(shape: readonly number[], seed: number, lo = -1, hi = 1): NDArray {
  const r = mulberry32(seed);
  const n = shape.reduce((p, s) => p * s, 1);
  return NDArray.fromFlat(Array.from({ length: n }, () => lo + (hi - lo) * r()), shape);
}

/**
 * Values spaced at least `gap` apart, in a seeded shuffled order: no ties for max/min, and no
 * finite-difference step (≤ 1e-5) can reorder them.
 */
export function distinct(shape: readonly number[], seed: number, gap = 0.15): NDArray {
  const n = shape.reduce((p, s) => p * s, 1);
  const keys = rand([n], seed).toFlat();
  const order = keys.map((k, i) => [k, i] as const).sort((p, q) => p[0] - q[0]);
  const flat = new Array<number>(n);
  order.forEach(([, i], rank) => (flat[i] = -1 + gap * rank + 0.03 * keys[i]));
  return NDArray.fromFlat(flat, shape);
}

/** Integers as an int64 array. */
export function ints(flat: readonly number[], shape: readonly number[] = [flat.length]): NDArray {
  return NDArray.fromFlat(flat, shape, "int64");
}

/** Compile `outputs` of `inputs` in `mode` (checked, raising on any rewrite failure) and run it once. */
export function runCompiled(inputs: readonly Variable[], outputs: readonly Variable[], values: readonly NDArray[], mode: Mode): number[][] {
  const f = compile(inputs, outputs, { mode, checked: true, onOptError: "raise" });
  return f(...values.map((v) => v.copy())).map((a) => a.toFlat());
}

/** The worst element of a comparison. */
export interface Worst {
  readonly ok: boolean;
  readonly at: string;
  readonly a: number;
  readonly b: number;
  readonly err: number;
}

/**
 * Compare arrays element by element: an element passes when |a − b| ≤ absTol + relTol·max(|a|, |b|).
 * Returns the worst element (largest error relative to its allowance).
 */
export function compare(a: readonly (readonly number[])[], b: readonly (readonly number[])[], relTol: number, absTol: number): Worst {
  let worst: Worst = { ok: true, at: "-", a: 0, b: 0, err: 0 };
  let score = -1;
  assert.equal(a.length, b.length, `compare: ${a.length} arrays vs ${b.length}`);
  a.forEach((arr, k) => {
    assert.equal(arr.length, b[k].length, `compare: array ${k} has ${arr.length} vs ${b[k].length} elements`);
    arr.forEach((x, i) => {
      const y = b[k][i];
      const err = Math.abs(x - y);
      if (!Number.isFinite(err)) throw new Error(`compare: non-finite value at [${k}][${i}]: ${x} vs ${y}`);
      const allowance = absTol + relTol * Math.max(Math.abs(x), Math.abs(y));
      if (err / allowance > score) {
        score = err / allowance;
        worst = { ok: err <= allowance, at: `[${k}][${i}]`, a: x, b: y, err };
      }
    });
  });
  return worst;
}

/** Throw with the worst element when a comparison fails. */
export function assertClose(w: Worst, what: string): void {
  if (!w.ok) throw new Error(`${what}: mismatch at ${w.at}: ${w.a} vs ${w.b} (|diff| ${w.err.toExponential(2)})`);
}

/** Relative step of the central differences (≈ ε^(1/3), the optimum for a smooth function). */
export const FD_STEP = 1e-5;
/** FD agreement: truncation O(h²) plus rounding O(ε·|f|/h) stay well below these for the cases. */
export const FD_REL = 1e-7;
export const FD_ABS = 1e-8;

/**
 * Central differences of the scalar `f` with respect to `values[k]` for each k in `which`. The step
 * is scaled to each value, and the quotient uses the representable difference x⁺ − x⁻.
 */
export function centralDiff(f: (xs: readonly NDArray[]) => number, values: readonly NDArray[], which: readonly number[]): number[][] {
  return which.map((k) => {
    const v = values[k];
    const flat = v.toFlat();
    return flat.map((x, i) => {
      const h = FD_STEP * Math.max(1, Math.abs(x));
      const at = (xi: number): number => {
        const moved = flat.slice();
        moved[i] = xi;
        return f(values.map((w, j) => (j === k ? NDArray.fromFlat(moved, v.shape, v.dtype) : w)));
      };
      const xp = x + h;
      const xm = x - h;
      return (at(xp) - at(xm)) / (xp - xm);
    });
  });
}

/** A compiled 0-d cost as a function of its inputs' values (mode NONE: no rewrites beyond the required ones). */
export function forward(inputs: readonly Variable[], cost: Variable): (xs: readonly NDArray[]) => number {
  const f = compile(inputs, [cost], { mode: "NONE", checked: false });
  return (xs) => f(...xs)[0].toFlat()[0];
}

/** A built case. */
export interface Built {
  /** Compile inputs (the graph's roots), and their values. */
  readonly inputs: readonly Variable[];
  readonly values: readonly NDArray[];
  readonly cost: Variable;
  /** What to differentiate with respect to (roots or interior variables). */
  readonly wrt: readonly Variable[];
  readonly opts?: PathOptions;
  /**
   * For higher-order cases: the cost differentiated on each path (built with that path's own
   * first gradient). `cost` is then the reference cost whose finite differences are taken.
   */
  readonly costFor?: (path: Path) => Variable;
  /**
   * The forward function for the finite differences, when `cost` itself is not it (an interior
   * wrt or considerConstant variable becomes an input there). Its `which` are the positions of
   * the wrt among its inputs, in wrt order. Default: `cost` over `inputs`, wrt located there.
   */
  readonly fd?: {
    readonly inputs: readonly Variable[];
    readonly values: readonly NDArray[];
    readonly cost: Variable;
    readonly which: readonly number[];
    /** The positions in `wrt` that `which` covers (default: all, in order). */
    readonly of?: readonly number[];
  };
}

/** What `checkCase` found: the six results by path and mode, and the finite differences. */
export interface CaseResult {
  readonly results: ReadonlyMap<string, number[][]>;
  readonly numeric: number[][];
  readonly grads: ReadonlyMap<Path, Variable[]>;
}

/** Run the whole matrix on one case; throws on the first disagreement. */
export function checkCase(b: Built, tight = 1e-12): CaseResult {
  const grads = new Map<Path, Variable[]>();
  const results = new Map<string, number[][]>();
  for (const path of PATHS) {
    const gs = gradBy(path, b.costFor?.(path) ?? b.cost, b.wrt, b.opts);
    gs.forEach((g, k) => {
      assert.ok(g.type.equals(b.wrt[k].type), `${path}: gradient ${k} has type ${g.type.toString()}, expected exactly ${b.wrt[k].type.toString()}`);
    });
    grads.set(path, gs);
    for (const mode of MODES) results.set(`${path}/${mode}`, runCompiled(b.inputs, gs, b.values, mode));
  }
  const base = results.get("lazy/NONE") as number[][];
  for (const [key, r] of results) assertClose(compare(r, base, tight, tight), `${key} vs lazy/NONE`);
  const fd = b.fd ?? { inputs: b.inputs, values: b.values, cost: b.cost, which: b.wrt.map((w) => b.inputs.indexOf(w)) };
  assert.ok(fd.which.every((k) => k >= 0), "every wrt must be an input of the FD function");
  const numeric = centralDiff(forward(fd.inputs, fd.cost), fd.values, fd.which);
  const of = b.fd?.of ?? b.wrt.map((_, k) => k);
  for (const [key, r] of results) assertClose(compare(of.map((k) => r[k]), numeric, FD_REL, FD_ABS), `${key} vs finite differences`);
  if (process.env.XGRAD_FD_DEBUG) {
    const w = compare(of.map((k) => base[k]), numeric, 1, 1e-300);
    const t = [...results.values()].map((r) => compare(r, base, 1, 1e-300).err).reduce((p, q) => Math.max(p, q), 0);
    console.log(`    fd worst ${w.at}: ${w.a} vs ${w.b} |diff| ${w.err.toExponential(2)}; paths max |diff| ${t.toExponential(2)}`);
  }
  return { results, numeric, grads };
}

/** The value of `v` (any root-computable variable) at the case's inputs, compiled in mode NONE. */
export function valueOf(inputs: readonly Variable[], values: readonly NDArray[], v: Variable): NDArray {
  return compile(inputs, [v], { mode: "NONE" })(...values.map((x) => x.copy()))[0];
}
