/**
 * Test helpers for tensor ops: evaluate a graph without the compiler (toposort + perform), and
 * a central finite-difference gradient check.
 */
import { Constant, Variable } from "../../src/graph/basic.js";
import { tensor } from "../../src/tensor/basic.js";
import { toposort } from "../../src/graph/traversal.js";
import { NDArray } from "../../src/ndarray/ndarray.js";

/** Evaluate `outputs` given values for the root variables (constants evaluate to their value). */
export function evalGraph(outputs: readonly Variable[], givens: ReadonlyMap<Variable, NDArray> | [Variable, NDArray][] = []): NDArray[] {
  const env = new Map<Variable, NDArray>(givens instanceof Map ? givens : (givens as [Variable, NDArray][]));
  const valueOf = (v: Variable): NDArray => {
    const got = env.get(v);
    if (got) return got;
    if (v instanceof Constant) return v.value;
    throw new Error(`evalGraph: no value for ${v.toString()}`);
  };
  for (const node of toposort(outputs)) {
    if (!node.op.perform) throw new Error(`evalGraph: ${node.op.toString()} has no perform`);
    const outs = node.op.perform(node, node.inputs.map(valueOf));
    node.outputs.forEach((o, i) => env.set(o, outs[i]));
  }
  return outputs.map(valueOf);
}

/** Evaluate a single output. */
export function evalOne(output: Variable, givens: [Variable, NDArray][] = []): NDArray {
  return evalGraph([output], givens)[0];
}

/**
 * Central finite differences of `f` (returning a scalar) at `x`: d f / d x_i ≈
 * (f(x + h e_i) - f(x - h e_i)) / 2h, in float64.
 */
export function finiteDiff(f: (x: NDArray) => number, x: NDArray, h = 1e-6): NDArray {
  const base = x.copy();
  const out = NDArray.zeros(base.shape, "float64");
  for (let i = 0; i < base.size; i++) {
    const v = base.data[i];
    base.data[i] = v + h;
    const fp = f(base.copy());
    base.data[i] = v - h;
    const fm = f(base.copy());
    base.data[i] = v;
    out.data[i] = (fp - fm) / (2 * h);
  }
  return out;
}

/** A deterministic pseudo-random float64 array in [-1, 1) (mulberry32). */
export function randArray(shape: readonly number[], seed = 1): NDArray {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = NDArray.zeros(shape, "float64");
  for (let i = 0; i < out.size; i++) out.data[i] = next() * 2 - 1;
  return out;
}

/** Max absolute difference between two same-shaped arrays' values. */
export function maxAbsDiff(a: NDArray, b: NDArray): number {
  const fa = a.toFlat();
  const fb = b.toFlat();
  if (fa.length !== fb.length || a.shape.join() !== b.shape.join()) throw new Error(`shape mismatch ${a.shape} vs ${b.shape}`);
  let m = 0;
  for (let i = 0; i < fa.length; i++) m = Math.max(m, Math.abs(fa[i] - fb[i]));
  return m;
}

/** Options of `checkPullback`. */
export interface PullbackCheck {
  /** Give the root variables (and the cotangent) unknown static lengths, exercising ShapeI paths. */
  readonly dynamic?: boolean;
  /** Indices of the values to check (default: every float value). */
  readonly wrt?: readonly number[];
  readonly tol?: number;
  readonly seed?: number;
}

/**
 * Check a single node's pullback against central finite differences: with out = build(vars) and
 * a fixed random cotangent r, the pullback term for input j must equal d(sum(r * out))/d x_j.
 * Terms for a variable used in several input slots are summed.
 */
export function checkPullback(build: (vars: Variable[]) => Variable, values: readonly NDArray[], opts: PullbackCheck = {}): void {
  const vars = values.map((v, i) => tensor(`x${i}`, { shape: opts.dynamic ? v.shape.map(() => null) : v.shape, dtype: v.dtype }));
  const out = build(vars);
  const node = out.owner;
  if (!node || !node.op.pullback) throw new Error("checkPullback: build must return the output of an op with a pullback");
  const givens = (xs: readonly NDArray[]): [Variable, NDArray][] => vars.map((v, i) => [v, xs[i]]);
  const outVal = evalOne(out, givens(values));
  const r = randArray(outVal.shape, opts.seed ?? 7);
  const g = tensor("g", { shape: opts.dynamic ? outVal.shape.map(() => null) : out.type.shape, dtype: out.type.dtype });
  const terms = node.op.pullback(node.inputs, node.outputs, [g]);
  const wrt = opts.wrt ?? values.flatMap((v, i) => (v.dtype === "float64" ? [i] : []));
  for (const j of wrt) {
    let analytic: NDArray | null = null;
    node.inputs.forEach((inp, slot) => {
      if (inp !== vars[j]) return;
      const t = terms[slot];
      if (!(t instanceof Variable)) throw new Error(`checkPullback: input ${j} (slot ${slot}) got a non-variable term ${JSON.stringify(t)}`);
      if (t.type.ndim !== vars[j].type.ndim || t.type.dtype !== vars[j].type.dtype) {
        throw new Error(`checkPullback: term for input ${j} has type ${t.type.toString()}, expected ${vars[j].type.toString()}`);
      }
      const val = evalOne(t, [...givens(values), [g, r]]);
      if (analytic === null) analytic = val.copy();
      else for (let i = 0; i < analytic.size; i++) analytic.data[i] += val.toFlat()[i];
    });
    if (analytic === null) throw new Error(`checkPullback: input ${j} is not an input of the node`);
    const f = (xj: NDArray): number => {
      const xs = values.map((v, i) => (i === j ? xj : v));
      const o = evalOne(out, givens(xs)).toFlat();
      const rf = r.toFlat();
      let s = 0;
      for (let i = 0; i < o.length; i++) s += rf[i] * o[i];
      return s;
    };
    const numeric = finiteDiff(f, values[j]);
    const err = maxAbsDiff(analytic, numeric);
    if (!(err <= (opts.tol ?? 1e-6))) {
      throw new Error(`checkPullback: input ${j}: analytic ${JSON.stringify((analytic as NDArray).toNested())} vs numeric ${JSON.stringify(numeric.toNested())} (max err ${err})`);
    }
  }
}
