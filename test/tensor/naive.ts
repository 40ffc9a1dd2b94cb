/**
 * Naive references and generators for the elementwise, reduction and cumulative tests: slow,
 * obviously-correct loops over multi-indices, strided NDArray views with random layouts, and
 * samplers that honour the scalar test domains.
 */
import { mulberry32 } from "../../oracles/finiteDiff.js";
import fc from "fast-check";
import type { DType } from "../../src/graph/type.js";
import { NDArray, coerce, sizeOf } from "../../src/ndarray/ndarray.js";
import type { DomainRelation, InputDomain } from "../../src/tensor/elemwise.js";

/** Every multi-index of `shape` in C order. */
export function* indices(shape: readonly number[]): Generator<number[]> {
  const n = sizeOf(shape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    yield [...idx];
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

/** numpy broadcasting of concrete shapes (no static rule; the tests build compatible shapes). */
export function broadcastShapes(shapes: readonly (readonly number[])[]): number[] {
  const nd = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(nd).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const d = i + nd - s.length;
      if (s[i] !== 1) out[d] = s[i];
    }
  }
  return out;
}

/** The element of `a` seen at output multi-index `idx` under broadcasting. */
export function readBroadcast(a: NDArray, idx: readonly number[]): number {
  const lead = idx.length - a.ndim;
  const ai = a.shape.map((s, i) => (s === 1 ? 0 : idx[i + lead]));
  return a.get(...ai);
}

/** A naive elementwise loop: f on every broadcast element, stored as `dtype`. */
export function naiveElemwise(f: (...v: number[]) => number, values: readonly NDArray[], dtype: DType): NDArray {
  const shape = broadcastShapes(values.map((v) => v.shape));
  const c = coerce(dtype);
  const flat: number[] = [];
  for (const idx of indices(shape)) flat.push(c(f(...values.map((v) => readBroadcast(v, idx)))));
  return NDArray.fromFlat(flat, shape, dtype);
}

/** A layout: the axis order the base buffer is stored in, and a step per logical axis. */
export interface Layout {
  readonly perm: readonly number[];
  readonly steps: readonly number[];
}

/** Layouts for `ndim` axes: any permutation, steps in {1, 2, -1, -2}. */
export function layoutArb(ndim: number): fc.Arbitrary<Layout> {
  const perm = fc.shuffledSubarray(
    Array.from({ length: ndim }, (_, i) => i),
    { minLength: ndim, maxLength: ndim },
  );
  const steps = fc.array(fc.constantFrom(1, 2, -1, -2), { minLength: ndim, maxLength: ndim });
  return fc.record({ perm, steps });
}

/**
 * An NDArray holding `src`'s values through a non-trivial view: the base buffer is stored with
 * axes in `perm` order, padded by the step, filled with NaN garbage, sliced with the steps
 * (negative steps start from the end) and transposed back.
 */
export function stridedCopy(src: NDArray, layout: Layout): NDArray {
  const nd = src.ndim;
  const { perm, steps } = layout;
  const baseShape = perm.map((p) => Math.max(1, src.shape[p] * Math.abs(steps[p])));
  const base = NDArray.full(baseShape, Number.NaN, src.dtype);
  let view = base;
  for (let j = 0; j < nd; j++) {
    const p = perm[j];
    const s = steps[p];
    const n = src.shape[p];
    view = view.sliceAxis(j, s > 0 ? 0 : baseShape[j] - 1, n, s);
  }
  // view axis j is logical axis perm[j]; invert.
  const inv = new Array<number>(nd);
  perm.forEach((p, j) => (inv[p] = j));
  const out = view.transpose(inv);
  out.assign(src);
  return out;
}

/** A seeded uniform generator in [0, 1): the harness's own mulberry32. */
export const rng: (seed: number) => () => number = mulberry32;

/** A value drawn from an input domain (rejection sampling away from the avoided points). */
export function sampleDomain(d: InputDomain, r: () => number): number {
  if (d.bool) return r() < 0.5 ? 0 : 1;
  for (let tries = 0; tries < 1000; tries++) {
    const v = d.lo + (d.hi - d.lo) * r();
    if (d.avoid.every((p) => Math.abs(v - p) >= d.margin)) return v;
  }
  throw new Error(`sampleDomain: could not sample ${JSON.stringify(d)}`);
}

/**
 * Arrays for each input of an op, drawn from its domains and satisfying its relations (by
 * resampling the second input of an `apart` pair at the offending broadcast elements).
 */
export function sampleInputs(domains: readonly InputDomain[], relations: readonly DomainRelation[], shapes: readonly (readonly number[])[], seed: number): NDArray[] {
  const r = rng(seed);
  const arrs = domains.map((d, i) => {
    const n = sizeOf(shapes[i]);
    return NDArray.fromFlat(Array.from({ length: n }, () => sampleDomain(d, r)), shapes[i], d.bool ? "bool" : "float64");
  });
  for (const rel of relations) {
    const [a, b] = rel.inputs;
    const shape = broadcastShapes(shapes);
    for (let round = 0; round < 100; round++) {
      let bad = false;
      for (const idx of indices(shape)) {
        if (Math.abs(readBroadcast(arrs[a], idx) - readBroadcast(arrs[b], idx)) < rel.margin) {
          bad = true;
          const lead = idx.length - arrs[b].ndim;
          arrs[b].set(
            arrs[b].shape.map((s, i) => (s === 1 ? 0 : idx[i + lead])),
            sampleDomain(domains[b], r),
          );
        }
      }
      if (!bad) break;
      if (round === 99) throw new Error("sampleInputs: could not satisfy the relations");
    }
  }
  return arrs;
}

/** Element-wise closeness with NaN equal to NaN; returns a description of the first mismatch. */
export function mismatch(actual: NDArray, expected: NDArray, tol = 0): string | null {
  if (actual.dtype !== expected.dtype) return `dtype ${actual.dtype} vs ${expected.dtype}`;
  if (actual.shape.join() !== expected.shape.join()) return `shape (${actual.shape}) vs (${expected.shape})`;
  const a = actual.toFlat();
  const e = expected.toFlat();
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) && Number.isNaN(e[i])) continue;
    if (Object.is(a[i], e[i])) continue;
    if (!(Math.abs(a[i] - e[i]) <= tol * Math.max(1, Math.abs(e[i])))) return `element ${i}: ${a[i]} vs ${e[i]}`;
  }
  return null;
}
