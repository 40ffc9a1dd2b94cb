/**
 * Array comparison for the engine-vs-engine properties (direct vs lowered, FAST_RUN vs NONE).
 *
 * Both sides are float64 (or float32) computations of the same mathematical quantity along
 * different code paths, so they differ only by rounding: a different summation order, a fused
 * kernel. The tolerance is relative to the largest magnitude in the array (an element that is
 * small by cancellation carries the rounding of the large terms that produced it), scaled by
 * the dtype's unit roundoff with generous headroom: the bugs the harness hunts (a transposed
 * cotangent, a lost term, a wrong factor) are relative errors of order 1e-2 and above.
 */
import type { CaseNode } from "../src/case/format.js";
import type { Variable } from "../src/graph/basic.js";
import type { NDArray } from "../src/ndarray/ndarray.js";
import { XTensorType } from "../src/xtensor/type.js";
import type { ArrayValue } from "./types.js";

/** A computed array in the verdict's format: flat C-order data, with dims for an xtensor. */
export function toArrayValue(v: Variable, a: NDArray): ArrayValue {
  const base = { shape: [...a.shape], dtype: a.dtype, data: a.toFlat() };
  return v.type instanceof XTensorType ? { dims: [...v.type.dims], ...base } : base;
}

/** Result of comparing two arrays. */
export interface ArrayComparison {
  readonly ok: boolean;
  readonly reason?: string;
  readonly maxAbsErr: number;
  readonly maxRelErr: number;
  /**
   * The mismatch is between two non-finite values (NaN against ±inf, or infinities of opposite
   * signs). Two algebraically equal expressions evaluated in different orders can legitimately
   * do that (inf − inf against inf), so a comparison of two derivations of one quantity cannot
   * judge it; a finite value against a non-finite one stays a mismatch.
   */
  readonly nonFinite?: true;
}

/** Relative tolerance for engine-vs-engine comparisons, by the least precise dtype involved. */
export function engineRtol(dtype: string): number {
  // float64: 2^-52 ≈ 2.2e-16, with ~4.5e6 headroom; float32: 2^-23 ≈ 1.2e-7, with ~850.
  return dtype === "float32" ? 1e-4 : 1e-9;
}

/**
 * An absolute slack for engine-vs-engine comparisons: 64 units of roundoff of the dtype, times
 * the magnitude of the computation (the largest finite value among the case's inputs and
 * forward values). An array that is ~0 as a whole by cancellation (a gradient whose terms cancel
 * exactly: `where(b, x, x) − x`) carries the rounding of its terms, not of itself, and two paths
 * summing the same terms in another order differ there by a few ulps of the terms (seed 2
 * case 1976: 8.9e-16 against 0). The relative tolerance alone, scaled by that array, would call
 * it a mismatch. 64 ulps of the values is still orders of magnitude below the errors the
 * harness hunts (a lost term or a wrong factor is a relative error of 1e-2 or more of a term).
 */
export function cancellationSlack(dtype: "float32" | "float64", magnitude: number): number {
  return 64 * (dtype === "float32" ? 2 ** -23 : 2 ** -52) * magnitude;
}

/**
 * Compare `a` (claimed) with `b` (reference): same dims order, shape and dtype, and every
 * element within `rtol · (S + max(|a|, |b|)) + slack`, where S is the largest |b| in the array
 * and `slack` an absolute allowance ({@link cancellationSlack}; 0 by default). Equal non-finite
 * values match; a non-finite value against a finite one does not.
 */
export function compareArrays(a: ArrayValue, b: ArrayValue, what: string, rtol = engineRtol(a.dtype === "float32" || b.dtype === "float32" ? "float32" : "float64"), slack = 0): ArrayComparison {
  const dimsA = a.dims?.join(", ");
  const dimsB = b.dims?.join(", ");
  if (dimsA !== dimsB) return { ok: false, reason: `${what}: dims (${dimsA ?? "positional"}) but the reference has (${dimsB ?? "positional"})`, maxAbsErr: Infinity, maxRelErr: Infinity };
  if (a.shape.length !== b.shape.length || a.shape.some((s, i) => s !== b.shape[i])) {
    return { ok: false, reason: `${what}: shape [${a.shape.join(", ")}] but the reference has [${b.shape.join(", ")}]`, maxAbsErr: Infinity, maxRelErr: Infinity };
  }
  if (a.dtype !== b.dtype) return { ok: false, reason: `${what}: dtype ${a.dtype} but the reference has ${b.dtype}`, maxAbsErr: Infinity, maxRelErr: Infinity };
  let scale = 0;
  for (const v of b.data) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  let maxAbs = 0;
  let maxRel = 0;
  let worst: string | undefined;
  for (let i = 0; i < a.data.length; i++) {
    const x = a.data[i];
    const y = b.data[i];
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      if (Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y))) continue;
      const both = !Number.isFinite(x) && !Number.isFinite(y);
      return { ok: false, reason: `${what}[${i}]: ${x} but the reference has ${y}`, maxAbsErr: Infinity, maxRelErr: Infinity, ...(both ? { nonFinite: true as const } : {}) };
    }
    const err = Math.abs(x - y);
    const rel = err / Math.max(Math.abs(x) + Math.abs(y), Number.MIN_VALUE);
    maxAbs = Math.max(maxAbs, err);
    if (err > 0) maxRel = Math.max(maxRel, rel);
    if (err > rtol * (scale + Math.max(Math.abs(x), Math.abs(y))) + slack && worst === undefined) {
      const plus = slack > 0 ? ` + slack ${slack.toExponential(3)}` : "";
      worst = `${what}[${i}]: ${x} but the reference has ${y} (|diff| ${err.toExponential(3)} > rtol ${rtol} × scale ${(scale + Math.max(Math.abs(x), Math.abs(y))).toExponential(3)}${plus})`;
    }
  }
  return worst === undefined ? { ok: true, maxAbsErr: maxAbs, maxRelErr: maxRel } : { ok: false, reason: worst, maxAbsErr: maxAbs, maxRelErr: maxRel };
}

/**
 * Bit for bit: the same dims, shape and dtype, and every element the same IEEE value (NaN
 * matches NaN; -0 does not match +0). For transformations promised to be exact.
 */
export function compareExactRecords(claimed: Readonly<Record<string, ArrayValue>>, reference: Readonly<Record<string, ArrayValue>>, what: string): ArrayComparison {
  const r = compareRecords(claimed, reference, what, 0, 0);
  if (!r.ok) return r;
  const show = (v: number): string => (Object.is(v, -0) ? "-0" : String(v));
  for (const [k, ref] of Object.entries(reference)) {
    const got = claimed[k];
    for (let i = 0; i < ref.data.length; i++) {
      if (!Object.is(got.data[i], ref.data[i]) && !(Number.isNaN(got.data[i]) && Number.isNaN(ref.data[i]))) {
        return { ok: false, reason: `${what} ${k}[${i}]: ${show(got.data[i])} but the reference has ${show(ref.data[i])} (bit-exact required)`, maxAbsErr: 0, maxRelErr: 0 };
      }
    }
  }
  return r;
}

/** Compare every named array of `claimed` with `reference`; the first disagreement wins. */
export function compareRecords(claimed: Readonly<Record<string, ArrayValue>>, reference: Readonly<Record<string, ArrayValue>>, what: string, rtol?: number, slack = 0): ArrayComparison {
  let maxAbs = 0;
  let maxRel = 0;
  const keys = Object.keys(reference);
  const extra = Object.keys(claimed).filter((k) => !(k in reference));
  if (extra.length > 0) return { ok: false, reason: `${what}: unexpected entries ${extra.join(", ")}`, maxAbsErr: Infinity, maxRelErr: Infinity };
  for (const k of keys) {
    const a = claimed[k];
    if (a === undefined) return { ok: false, reason: `${what}: no entry for ${k}`, maxAbsErr: Infinity, maxRelErr: Infinity };
    const r = compareArrays(a, reference[k], `${what} ${k}`, rtol, slack);
    if (!r.ok) return r;
    maxAbs = Math.max(maxAbs, r.maxAbsErr);
    maxRel = Math.max(maxRel, r.maxRelErr);
  }
  return { ok: true, maxAbsErr: maxAbs, maxRelErr: maxRel };
}

/**
 * Forward values at special inputs. NaN means the math is undefined there (inf·0, inf − inf), so
 * a rewrite must keep NaN exactly where NONE has it: turning it into a number is the PyTensor
 * x·0 bug. Where NONE overflowed to ±inf, a stabilization (log(sigmoid x) → −softplus(−x)) may
 * legitimately give a finite value of the same sign. Finite NONE values must match.
 */
export function compareSpecial(fast: Record<string, ArrayValue>, none: Record<string, ArrayValue>, rtol: number, slack: number, nodes: readonly CaseNode[]): ArrayComparison {
  // Nodes where some zero has opposite signs on the two sides. Equal as numbers, so accepted;
  // but FAST_RUN's stabilizing rewrites legitimately move the sign of a zero (log(1 + x) →
  // log1p(x) gives -0 at x = -0, where log(1 + -0) is +0, as in PyTensor and numpy), and a pole
  // downstream turns it into an infinity of the other sign (seed 301 case 634: 1 / log(1 + √-0)).
  const flipped = new Set<string>();
  for (const [id, ref] of Object.entries(none)) {
    const got = fast[id];
    for (let i = 0; i < ref.data.length; i++) if (ref.data[i] === 0 && got.data[i] === 0 && !Object.is(ref.data[i], got.data[i])) flipped.add(id);
  }
  const args = new Map(nodes.map((n) => [n.id, n.args.filter((a): a is string => typeof a === "string")] as const));
  const afterFlip = (id: string): boolean => {
    const seen = new Set<string>();
    const stack = [...(args.get(id) ?? [])];
    while (stack.length > 0) {
      const a = stack.pop() as string;
      if (seen.has(a)) continue;
      seen.add(a);
      if (flipped.has(a)) return true;
      stack.push(...(args.get(a) ?? []));
    }
    return false;
  };
  for (const [id, ref] of Object.entries(none)) {
    const got = fast[id];
    // Finite values are judged as compareArrays judges them, relative to the array's largest
    // finite magnitude: an element near 0 (log(σ(x)) where σ(x) rounds to 1) carries the rounding
    // of the magnitudes that produced it, and a stabilization legitimately removes it (seed 1
    // case 1773: FAST_RUN −5e-9 where NONE rounded to 0).
    let scale = 0;
    for (const y of ref.data) if (Number.isFinite(y)) scale = Math.max(scale, Math.abs(y));
    for (let i = 0; i < ref.data.length; i++) {
      const x = got.data[i];
      const y = ref.data[i];
      const same =
        Number.isNaN(x) || Number.isNaN(y)
          ? Number.isNaN(x) && Number.isNaN(y)
          : !Number.isFinite(y)
            ? Math.sign(x) === Math.sign(y) || (x === -y && afterFlip(id))
            : Number.isFinite(x) && (x === y || Math.abs(x - y) <= rtol * (scale + Math.max(Math.abs(x), Math.abs(y))) + slack);
      if (!same) {
        return { ok: false, reason: `with IEEE special values in the inputs, FAST_RUN node ${id}[${i}] is ${x} but NONE gives ${y}`, maxAbsErr: Infinity, maxRelErr: Infinity };
      }
    }
  }
  return { ok: true, maxAbsErr: 0, maxRelErr: 0 };
}

/**
 * Null when each derivation ran as asked, else what ran instead. A property comparing two
 * derivations proves nothing if an option was ignored and both sides ran the same code, and the
 * values cannot show it (both are right while every rule is).
 */
export function derivationMismatch(got: readonly (string | null)[], asked: readonly string[]): string | null {
  const bad = asked.map((a, i) => [a, got[i]] as const).filter(([a, g]) => a !== g);
  return bad.length === 0 ? null : bad.map(([a, g]) => `asked for ${a}, ${g === null ? "no derivation was reported" : `it ran ${g}`}`).join("; ");
}
