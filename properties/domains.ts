/**
 * Value sets and op domains for the case generator.
 *
 * The generator keeps, for every node it builds, a conservative **value set**: a short sorted
 * union of closed intervals that contains every element of the node's value, whatever values
 * the inputs take inside their own sets. A union rather than one interval, because gaps are
 * what make the interesting non-smooth ops checkable: an input drawn from [-2,-0.3] ∪ [0.3,2]
 * can go through `abs`, `div`, `prod` or `gt(x, 0)` with mixed signs and still stay a margin
 * away from every kink. It also keeps a **gap**: a lower bound on |v_i - v_j| over any two
 * elements of the node (Infinity for a single element), which is what `max`/`min` reductions
 * need to be free of ties, and what `std` needs to stay away from a zero variance.
 *
 * Domains are read from the engine's op tables (`SCALAR_OPS[op].domain`, `REDUCE_DOMAINS`,
 * `CUM_DOMAINS`), never restated here. One reading rule: the tables' default real range
 * [-3, 3] (the bounds of `add`'s domain) is where inputs are drawn, not a limit on
 * intermediate values, so a bound equal to it is widened to ±{@link CAP}; every other bound
 * (prod's ±2, log's 0.1, pow's base 0.2) is hard. Every margin is enlarged by {@link SAFETY}
 * so that rounding in float32 casts and in interval arithmetic never matters.
 */
import { SCALAR_OPS, type InputDomain, type ScalarName } from "../src/tensor/elemwise.js";
import { REDUCE_DOMAINS, type ReduceKind } from "../src/tensor/reduce.js";
import { CUM_DOMAINS } from "../src/tensor/cumulative.js";

/** One closed interval `[lo, hi]`. */
export type Piece = readonly [number, number];
/** A sorted union of disjoint closed intervals. Never empty for a float node. */
export type VSet = readonly Piece[];

/** Every float node's values stay within ±CAP (keeps finite differences well conditioned). */
export const CAP = 30;
/** Added to every margin and distinctness requirement. */
export const SAFETY = 0.02;
/** Unions are merged down to this many pieces (closest pieces first). */
const MAX_PIECES = 4;

const REAL = SCALAR_OPS.add.domain.inputs[0];

// ---------------------------------------------------------------------------------------------
// Set algebra

/** Sort, merge overlaps, and merge the closest pieces until at most MAX_PIECES remain. */
export function norm(pieces: readonly Piece[]): VSet {
  const ps = pieces.filter((p) => !Number.isNaN(p[0]) && !Number.isNaN(p[1]))
    .map((p) => [Math.min(p[0], p[1]), Math.max(p[0], p[1])] as [number, number])
    .sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const p of ps) {
    const last = out[out.length - 1];
    if (last !== undefined && p[0] <= last[1]) last[1] = Math.max(last[1], p[1]);
    else out.push([p[0], p[1]]);
  }
  while (out.length > MAX_PIECES) {
    let best = 0;
    for (let i = 1; i < out.length - 1; i++) if (out[i + 1][0] - out[i][1] < out[best + 1][0] - out[best][1]) best = i;
    out.splice(best, 2, [out[best][0], out[best + 1][1]]);
  }
  return out;
}

/** `[lo, hi]` as a set. */
export const iv = (lo: number, hi: number): VSet => [[lo, hi]];
/** The set holding only `c`. */
export const point = (c: number): VSet => [[c, c]];
export const lo = (s: VSet): number => s[0][0];
export const hi = (s: VSet): number => s[s.length - 1][1];
export const width = (s: VSet): number => hi(s) - lo(s);
export const maxAbs = (s: VSet): number => Math.max(Math.abs(lo(s)), Math.abs(hi(s)));
export const hull = (s: VSet): VSet => iv(lo(s), hi(s));
export const union = (...ss: VSet[]): VSet => norm(ss.flat());

/** Pieces mapped through a monotone function (`inc`: increasing). */
export function mapMono(s: VSet, f: (v: number) => number, inc = true): VSet {
  return norm(s.map(([a, b]) => (inc ? [f(a), f(b)] : [f(b), f(a)]) as Piece));
}

function pairwise(a: VSet, b: VSet, f: (p: Piece, q: Piece) => Piece): VSet {
  return norm(a.flatMap((p) => b.map((q) => f(p, q))));
}

export const addSet = (a: VSet, b: VSet): VSet => pairwise(a, b, (p, q) => [p[0] + q[0], p[1] + q[1]]);
export const subSet = (a: VSet, b: VSet): VSet => pairwise(a, b, (p, q) => [p[0] - q[1], p[1] - q[0]]);
export function mulSet(a: VSet, b: VSet): VSet {
  return pairwise(a, b, (p, q) => {
    const c = [p[0] * q[0], p[0] * q[1], p[1] * q[0], p[1] * q[1]].map((v) => (Number.isNaN(v) ? 0 : v));
    return [Math.min(...c), Math.max(...c)];
  });
}
/** a / b; b must not contain 0 (callers check the div domain first). */
export function divSet(a: VSet, b: VSet): VSet {
  return mulSet(a, norm(b.map(([x, y]) => [1 / y, 1 / x] as Piece)));
}
/** x^y for x > 0: exp(y log x). */
export function powSet(a: VSet, b: VSet): VSet {
  return mapMono(mulSet(mapMono(a, Math.log), b), Math.exp);
}
export const scaleSet = (s: VSet, k: number): VSet => mapMono(s, (v) => v * k, k >= 0);
export const maxSet = (a: VSet, b: VSet): VSet => pairwise(a, b, (p, q) => [Math.max(p[0], q[0]), Math.max(p[1], q[1])]);
export const minSet = (a: VSet, b: VSet): VSet => pairwise(a, b, (p, q) => [Math.min(p[0], q[0]), Math.min(p[1], q[1])]);

/** Sum of n elements of s (hull). */
export const sumN = (s: VSet, n: number): VSet => (n === 0 ? point(0) : iv(n * lo(s), n * hi(s)));
/** Product of n elements of s. */
export function prodN(s: VSet, n: number): VSet {
  let out: VSet = point(1);
  for (let i = 0; i < n; i++) out = mulSet(out, s);
  return out;
}
/** Partial sums of 1..n elements of s. */
export const cumsumN = (s: VSet, n: number): VSet => iv(Math.min(lo(s), n * lo(s)), Math.max(hi(s), n * hi(s)));
/** Partial products of 1..n elements of s. */
export function cumprodN(s: VSet, n: number): VSet {
  let acc = s;
  let out = s;
  for (let i = 1; i < n; i++) { acc = mulSet(acc, s); out = union(out, acc); }
  return out;
}

/** The image of s under sin or cos (piecewise, using the critical points inside each piece). */
export function trigSet(s: VSet, f: typeof Math.sin): VSet {
  return norm(s.map(([a, b]) => {
    if (b - a >= 2 * Math.PI) return [-1, 1] as Piece;
    const vals = [f(a), f(b)];
    for (let k = Math.ceil(a / (Math.PI / 2)); k * (Math.PI / 2) <= b; k++) vals.push(f(k * (Math.PI / 2)));
    return [Math.min(...vals), Math.max(...vals)] as Piece;
  }));
}

/** |s| and s². */
export function absSet(s: VSet): VSet {
  return norm(s.map(([a, b]) => (a >= 0 ? [a, b] : b <= 0 ? [-b, -a] : [0, Math.max(-a, b)]) as Piece));
}
export const squareSet = (s: VSet): VSet => mapMono(absSet(s), (v) => v * v);

// ---------------------------------------------------------------------------------------------
// Domains

/** True when no element of s lies within `m` of `p`. */
export function avoids(s: VSet, p: number, m: number): boolean {
  return s.every(([a, b]) => b <= p - m || a >= p + m);
}

/** A table bound equal to the default real range is widened to ±CAP (see the module comment). */
export function effectiveBounds(d: InputDomain): [number, number] {
  return [d.lo <= REAL.lo ? -CAP : d.lo, d.hi >= REAL.hi ? CAP : d.hi];
}

/** Does every value of s satisfy the input domain `d` (bounds, avoided points with margin)? */
export function satisfies(s: VSet, d: InputDomain): boolean {
  const [l, h] = effectiveBounds(d);
  if (lo(s) < l || hi(s) > h) return false;
  return d.avoid.every((p) => avoids(s, p, d.margin + (d.margin > 0 ? SAFETY : 0)));
}

/** Two sets whose elementwise difference stays at least `margin` (+SAFETY) from 0. */
export function apart(a: VSet, b: VSet, margin: number): boolean {
  return avoids(subSet(a, b), 0, margin + SAFETY);
}

/** Within ±CAP: every float node must be. */
export const capped = (s: VSet): boolean => lo(s) >= -CAP && hi(s) <= CAP;

/**
 * A set to draw a fresh input from so that it satisfies `d`: the table's own [lo, hi] minus
 * a (margin + 2·SAFETY)-neighbourhood of every avoided point, endpoints rounded inward to
 * two decimals.
 */
export function drawSetFor(d: InputDomain): VSet {
  const m = d.margin > 0 ? d.margin + 2 * SAFETY : 0;
  let pieces: Piece[] = [[d.lo, d.hi]];
  for (const p of d.avoid) {
    pieces = pieces.flatMap(([a, b]) => {
      const out: Piece[] = [];
      if (a <= p - m) out.push([a, p - m]);
      if (b >= p + m) out.push([p + m, b]);
      return out;
    });
  }
  // log's domain starts at 0.1 exactly; keep draws strictly inside with a small inset.
  return norm(pieces.map(([a, b]) => [Math.ceil((a + SAFETY) * 100) / 100, Math.floor(b * 100) / 100] as Piece));
}

/** The domain of input `i` of a scalar op. */
export const scalarDomain = (op: ScalarName, i = 0): InputDomain => SCALAR_OPS[op].domain.inputs[i];
/** The apart-margin a scalar op needs between its two inputs, or null. */
export function apartMargin(op: ScalarName): number | null {
  const r = SCALAR_OPS[op].domain.relations.find((x) => x.kind === "apart");
  return r === undefined ? null : r.margin;
}
/** The domain of a reduction's input and its distinctness requirement. */
export const reduceDomain = (k: ReduceKind): { input: InputDomain; distinct: number | null } => REDUCE_DOMAINS[k];
/** The domain of cumsum (`add`) or cumprod (`mul`) inputs. */
export const cumDomain = (mode: "add" | "mul"): InputDomain => CUM_DOMAINS[mode];

/**
 * A cast to an integer dtype truncates toward zero (numpy's `astype`): piecewise constant, with a
 * jump at every integer. The engine's table gives `cast` the dtype-blind real domain (its float
 * casts are smooth), so this one rule is stated here: every value cast to an int keeps
 * INT_CAST_MARGIN (+SAFETY) from every integer, i.e. its fractional part stays in [0.2, 0.8], so
 * finite differences see a flat function and tfjs's float32 rounding never changes the integer.
 */
export const INT_CAST_MARGIN = 0.2;

/** Does every value of s keep INT_CAST_MARGIN + SAFETY from every integer? */
export function intCastSafe(s: VSet): boolean {
  const m = INT_CAST_MARGIN + SAFETY;
  return s.every(([a, b]) => {
    const k = Math.floor(a);
    return Number.isFinite(a) && Number.isFinite(b) && a - k >= m && b <= k + 1 - m;
  });
}

/** The integers a cast truncates the values of s to (toward zero, never -0). */
export const truncSet = (s: VSet): VSet => mapMono(s, (v) => Math.trunc(v) + 0);

/**
 * A set to draw a fresh input that is cast to an int: [k + 0.25, k + 0.75] for each k in ks (at
 * most four, so that {@link norm} never merges two pieces across an integer).
 */
export const intCastDrawSet = (ks: readonly number[]): VSet => norm(ks.slice(0, MAX_PIECES).map((k) => [k + 0.25, k + 0.75] as Piece));

/** Is `gap` enough for a reduction that needs elements `distinct` apart? */
export const distinctEnough = (gap: number, distinct: number | null): boolean => distinct === null || gap >= distinct + SAFETY;

/**
 * A lower bound on the population variance of n values pairwise at least g apart: evenly
 * spaced values are the tightest, with variance g²(n²−1)/12.
 */
export const varianceLowerBound = (g: number, n: number): number => (n < 2 || !Number.isFinite(g) ? 0 : (g * g * (n * n - 1)) / 12);
