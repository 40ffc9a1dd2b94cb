/**
 * Finite-difference gradient oracle: an engine-independent judge of claimed derivatives.
 *
 * It only ever sees black-box float64 functions, so it imports nothing from `src/`. Each check
 * draws seeded random directions `u`, estimates the directional derivative `D_u f` by central
 * differences at three step sizes, and compares it with what the claim implies (`⟨g, u⟩` for a
 * gradient, `jvp(u)`, or `⟨vjp(w), u⟩ / w`): the random-projection scheme of JAX's `check_grads`
 * and torch's fast gradcheck, which tests every entry of the claim at once without one
 * evaluation per entry.
 *
 * Verdicts:
 * - `fail` only with positive evidence: the three estimates converge the way a smooth function's
 *   do, and the claim lies outside the estimate's error bar by more than both the absolute and
 *   the relative tolerance;
 * - `inconclusive` when the point is not provably smooth along some direction (estimates that do
 *   not converge, one-sided slopes that differ, non-finite or throwing evaluations nearby);
 * - `pass` otherwise.
 * A non-smooth point therefore never produces a `fail`, whatever convention the claim follows.
 */

/** Named float64 buffers: the inputs of a function, a direction, or a gradient. */
export type Point = Readonly<Record<string, Float64Array>>;

/** A black-box scalar function of named float64 inputs (a case's cost). */
export type ScalarFn = (inputs: Point) => number;

/** A black-box vector function of named float64 inputs (e.g. a gradient function). */
export type PointFn = (inputs: Point) => Point;

/** What is claimed about the derivative of a scalar function at the point. Give any subset. */
export interface GradientClaim {
  /** The claimed gradient, one buffer per input of the point (same names and lengths). */
  grad?: Point;
  /** Claimed forward-mode derivative: `jvp(u) = ⟨∇f, u⟩`. */
  jvp?: (tangent: Point) => number;
  /** Claimed reverse-mode derivative: `vjp(w) = w · ∇f` for a scalar cotangent `w`. */
  vjp?: (cotangent: number) => Point;
}

/** Knobs of the finite-difference checks. Every field has a conservative default. */
export interface FiniteDiffOptions {
  /** Seed of the direction generator (mulberry32). Default 0x5eed. */
  seed?: number;
  /** Number of random directions. Default 3. */
  directions?: number;
  /** Largest relative step: element i moves by at most `step · 1.5 · max(1, |x_i|)`. Default 1e-3. */
  step?: number;
  /** Relative tolerance, applied after subtracting the estimate's error bar. Default 1e-6. */
  rtol?: number;
  /** Absolute tolerance, applied after subtracting the estimate's error bar. Default 1e-10. */
  atol?: number;
  /**
   * Assumed relative accuracy of one evaluation of f, as a fraction of the largest |f| seen.
   * Default 64·2⁻⁵² ≈ 1.4e-14: a few dozen roundings, enough for the small graphs the harness
   * builds. An underestimate makes estimates disagree and yields `inconclusive`, not `fail`.
   */
  noise?: number;
}

/** Outcome of a check. Errors are the worst over all compared quantities. */
export interface FiniteDiffVerdict {
  status: "pass" | "fail" | "inconclusive";
  /** Why the verdict is `fail` or `inconclusive`. */
  reason?: string;
  /** Largest |claimed − estimated|. */
  maxAbsErr: number;
  /** Largest |claimed − estimated| / (|claimed| + |estimated|). */
  maxRelErr: number;
  /** Number of random directions probed. */
  directions: number;
}

const EPS = 2 ** -52;

/**
 * mulberry32: a tiny, fast 32-bit PRNG, deterministic from its seed. Enough to draw directions;
 * not for anything statistical.
 *
 * @returns a function giving uniform floats in [0, 1).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A random direction scaled to the point: `u_i = ±U[0.5, 1.5) · max(1, |x_i|)`.
 *
 * Scaling by the value gives every element a step relative to its own magnitude (a fixed
 * absolute step is lost in the rounding of large entries and too coarse for small ones); the
 * magnitude floor of 0.5 makes every entry move, so no entry of a claim escapes the projection.
 */
export function randomDirection(x: Point, rand: () => number): Point {
  const out: Record<string, Float64Array> = {};
  for (const k of Object.keys(x)) {
    out[k] = x[k].map((v) => (rand() < 0.5 ? -1 : 1) * (0.5 + rand()) * Math.max(1, Math.abs(v)));
  }
  return out;
}

function inner(a: Point, b: Point): number {
  let s = 0;
  for (const k of Object.keys(b)) {
    const ak = a[k];
    const bk = b[k];
    if (ak === undefined || ak.length !== bk.length) {
      throw new RangeError(`finiteDiff: claim "${k}" has ${ak?.length ?? "no"} entries, the point ${bk.length}`);
    }
    for (let i = 0; i < bk.length; i++) s += ak[i] * bk[i];
  }
  return s;
}

/** Σ|a_i|·|b_i|: the scale of the rounding error of `inner(a, b)`. */
function innerAbs(a: Point, b: Point): number {
  let s = 0;
  for (const k of Object.keys(b)) for (let i = 0; i < b[k].length; i++) s += Math.abs(a[k][i] * b[k][i]);
  return s;
}

function axpy(x: Point, t: number, u: Point): Point {
  const out: Record<string, Float64Array> = {};
  for (const k of Object.keys(x)) out[k] = x[k].map((v, i) => v + t * u[k][i]);
  return out;
}

function flat(p: Point, keys: readonly string[]): Float64Array {
  const parts = keys.map((k) => {
    const v = p[k];
    if (v === undefined) throw new RangeError(`finiteDiff: the function's result lacks "${k}"`);
    return v;
  });
  const out = new Float64Array(parts.reduce((n, v) => n + v.length, 0));
  let o = 0;
  for (const v of parts) {
    out.set(v, o);
    o += v.length;
  }
  return out;
}

/** Central-difference estimate of `D_u F` with its error bar, or the reason it cannot be trusted. */
interface Probe {
  estimate: Float64Array;
  /** Error bar of each estimate component (truncation + rounding, with a safety factor). */
  bound: Float64Array;
  /** Set when the point is not smooth along `u`, or F is not finite or throws nearby. */
  trouble?: string;
}

/**
 * Estimates the directional derivative of a vector function along `u`.
 *
 * Steps t₀ = h, t₁ = h/2, t₂ = h/4 give central differences D_k = (F(x+t_k u) − F(x−t_k u))/2t_k,
 * whose error is c₂t² + c₄t⁴ + …  for a smooth F. Hence:
 * - Richardson R_k = (4D_{k+1} − D_k)/3 cancels the t² term. R₁ is the estimate. For a smooth F
 *   |R₀ − R₁| (≈ 15/16 of R₀'s t⁴ error, so ≥ R₁'s) bounds its truncation error. The bound also
 *   adds |D₁ − D₂|, the plain two-step disagreement: it exceeds R₁'s error even when a kink lies
 *   between the reach of t₂ and t₁ (there R₀ and R₁ can agree by accident while both are off by
 *   up to |D₁ − D₂|/3), and for a smooth F it only costs ~F‴·t² of sensitivity, far below the
 *   errors a wrong gradient makes.
 * - Rounding: each F value carries an absolute error δ = noise·max|F|, so D_k carries δ/t_k and
 *   R₁ carries (4δ/t₂ + δ/t₁)/3 = 6δ/h.
 * - Smoothness guard 1 (convergence): D₀ − D₁ ≈ 4(D₁ − D₂). Differences that shrink by less than
 *   half, beyond rounding, mean the step sizes straddle a kink or a domain edge.
 * - Smoothness guard 2 (neighbours on both sides): the second difference divided by t,
 *   J_k = (F(x+t_k u) − 2F(x) + F(x−t_k u))/t_k, is the gap between the one-sided slopes:
 *   J = jump + F''·t + O(t³), where `jump` is 0 for a smooth F and the change of slope at a kink
 *   through x (where the symmetric D_k agree perfectly and would hide the non-smoothness).
 *   Curvature can dwarf the jump, so it is extrapolated away: A_k = 2J_{k+1} − J_k = jump + O(t³).
 *   For a smooth F, A₁ ≈ A₀/8; at a kink A₁ ≈ A₀ ≈ jump.
 */
function probe(F: (p: Point) => Float64Array, x: Point, f0: Float64Array, u: Point, opts: Required<FiniteDiffOptions>): Probe {
  const h = opts.step;
  const ts = [h, h / 2, h / 4];
  const plus: Float64Array[] = [];
  const minus: Float64Array[] = [];
  for (const t of ts) {
    for (const [sign, into] of [[1, plus], [-1, minus]] as const) {
      let v: Float64Array;
      try {
        v = F(axpy(x, sign * t, u));
      } catch (e) {
        return { estimate: f0, bound: f0, trouble: `the function throws at a neighbour (step ${sign * t}): ${(e as Error).message}` };
      }
      if (v.length !== f0.length) throw new RangeError(`finiteDiff: the function returned ${v.length} values, then ${f0.length}`);
      if (!v.every(Number.isFinite)) {
        return { estimate: f0, bound: f0, trouble: `the function is not finite near the point (step ${sign * t} along a direction)` };
      }
      into.push(v);
    }
  }
  const n = f0.length;
  const estimate = new Float64Array(n);
  const bound = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const fmax = Math.max(Math.abs(f0[i]), ...plus.map((v) => Math.abs(v[i])), ...minus.map((v) => Math.abs(v[i])));
    const delta = Math.max(opts.noise * fmax, Number.MIN_VALUE);
    const D = ts.map((t, k) => (plus[k][i] - minus[k][i]) / (2 * t));
    const J = ts.map((t, k) => (plus[k][i] - 2 * f0[i] + minus[k][i]) / t);
    const R0 = (4 * D[1] - D[0]) / 3;
    const R1 = (4 * D[2] - D[1]) / 3;
    // Rounding allowances, with a safety factor of 4 over the one-sigma-ish estimates above.
    const noiseDelta = 4 * (delta / ts[1] + delta / ts[2]);
    // A₁ = 2J₂ − J₁ carries 2·4δ/t₂ + 4δ/t₁ of rounding.
    const noiseA = 4 * (8 * delta / ts[2] + 4 * delta / ts[1]);
    const d0 = D[0] - D[1];
    const d1 = D[1] - D[2];
    if (Math.abs(d1) > 0.5 * Math.abs(d0) + noiseDelta) {
      return {
        estimate, bound,
        trouble: `not smooth at the point: central differences at steps ${ts[1]} and ${ts[2]} disagree by ` +
          `${Math.abs(d1).toExponential(2)}, which is not a quarter of ${Math.abs(d0).toExponential(2)} at the larger steps`,
      };
    }
    const A0 = 2 * J[1] - J[0];
    const A1 = 2 * J[2] - J[1];
    if (Math.abs(A1) > noiseA && Math.abs(A1) > 0.5 * Math.abs(A0)) {
      return {
        estimate, bound,
        trouble: `not smooth at the point: one-sided slopes differ by ${Math.abs(A1).toExponential(2)} ` +
          `and do not close as the step shrinks (a kink)`,
      };
    }
    estimate[i] = R1;
    bound[i] = 3 * (Math.abs(R0 - R1) + Math.abs(d1) + 6 * delta / h);
  }
  return { estimate, bound };
}

function withDefaults(opts: FiniteDiffOptions | undefined): Required<FiniteDiffOptions> {
  return {
    seed: opts?.seed ?? 0x5eed,
    directions: opts?.directions ?? 3,
    step: opts?.step ?? 1e-3,
    rtol: opts?.rtol ?? 1e-6,
    atol: opts?.atol ?? 1e-10,
    noise: opts?.noise ?? 64 * EPS,
  };
}

/** Accumulates comparisons into a verdict: any inconclusive wins over fail, fail over pass. */
class Tally {
  maxAbsErr = 0;
  maxRelErr = 0;
  failure: string | undefined;
  trouble: string | undefined;
  /** A JVP/VJP pair that is not mutually transposed is wrong whether or not f is smooth. */
  identityFailure: string | undefined;

  constructor(private readonly opts: Required<FiniteDiffOptions>) {}

  /**
   * Compares a claim with an estimate whose error bar is `bound`. `scale` floors the relative
   * denominator (used for vectors, so that a tiny component is judged relative to the vector).
   */
  compare(what: string, claimed: number, estimate: number, bound: number, scale = 0): void {
    const abs = Math.abs(claimed - estimate);
    const denom = Math.max(Math.abs(claimed) + Math.abs(estimate), scale, Number.MIN_VALUE);
    this.maxAbsErr = Math.max(this.maxAbsErr, abs);
    this.maxRelErr = Math.max(this.maxRelErr, abs / denom);
    if (!Number.isFinite(claimed)) {
      this.failure ??= `${what}: the claim is ${claimed}`;
      return;
    }
    const excess = abs - bound;
    if (excess > this.opts.atol && excess / denom > this.opts.rtol) {
      this.failure ??= `${what}: claimed ${claimed}, finite differences give ${estimate} ± ${bound.toExponential(2)}`;
    }
  }

  verdict(directions: number): FiniteDiffVerdict {
    const base = { maxAbsErr: this.maxAbsErr, maxRelErr: this.maxRelErr, directions };
    if (this.identityFailure !== undefined) return { status: "fail", reason: this.identityFailure, ...base };
    if (this.trouble !== undefined) return { status: "inconclusive", reason: this.trouble, ...base };
    if (this.failure !== undefined) return { status: "fail", reason: this.failure, ...base };
    return { status: "pass", ...base };
  }
}

/**
 * Checks claimed first derivatives of a scalar function at a point.
 *
 * For each seeded random direction `u` (see {@link randomDirection}) it compares with the
 * finite-difference estimate of `D_u f`:
 * - `⟨grad, u⟩` when `claim.grad` is given;
 * - `jvp(u)` when `claim.jvp` is given;
 * - `⟨vjp(w), u⟩ / w` for a random cotangent `w` when `claim.vjp` is given, and, when both
 *   `jvp` and `vjp` are given, the inner-product identity `w · jvp(u) = ⟨vjp(w), u⟩`, which needs
 *   no finite differences and is checked even where f is not smooth.
 *
 * @param f - the function; it must not mutate its argument.
 * @param x - the point: exactly the float inputs to differentiate (close over integer inputs,
 *   index arrays and anything held constant inside `f`). Every entry is perturbed.
 * @returns `pass`, `fail` (with the first offending comparison) or `inconclusive` (with why the
 *   point cannot be judged).
 */
export function checkGradient(f: ScalarFn, x: Point, claim: GradientClaim, options?: FiniteDiffOptions): FiniteDiffVerdict {
  const opts = withDefaults(options);
  const rand = mulberry32(opts.seed);
  const tally = new Tally(opts);
  const F = (p: Point): Float64Array => Float64Array.of(f(p));
  const f0 = F(x);
  if (!Number.isFinite(f0[0])) {
    return { status: "inconclusive", reason: `the function is ${f0[0]} at the point`, maxAbsErr: 0, maxRelErr: 0, directions: 0 };
  }
  const w = 0.5 + rand();
  const vjpW = claim.vjp?.(w);
  for (let d = 0; d < opts.directions; d++) {
    const u = randomDirection(x, rand);
    const p = probe(F, x, f0, u, opts);
    const est = p.estimate[0];
    const bound = p.bound[0];
    if (claim.jvp !== undefined && vjpW !== undefined) {
      const a = w * claim.jvp(u);
      const b = inner(vjpW, u);
      // Both sides are exact up to the rounding of an inner product over the point.
      const tol = 64 * EPS * (innerAbs(vjpW, u) + Math.abs(a)) + opts.atol;
      if (Math.abs(a - b) > tol && Math.abs(a - b) > opts.rtol * (Math.abs(a) + Math.abs(b))) {
        tally.identityFailure ??= `direction ${d}: w·jvp(u) = ${a} but ⟨vjp(w), u⟩ = ${b}: the pair is not transposed`;
      }
    }
    if (p.trouble !== undefined) {
      tally.trouble ??= `direction ${d}: ${p.trouble}`;
      continue;
    }
    // x ± t·u is rounded, so the step actually taken differs from t·u by up to ε|x_i| ≤
    // ε·|u_i|/0.5 per entry; through a claim c that moves the estimate by at most
    // 2ε/t₂ · Σ|c_i u_i|. The claim's own inner product rounds at 64ε · Σ|c_i u_i|. Both are
    // far below rtol unless ⟨c, u⟩ cancels almost completely, and are added to the error bar
    // where the claim is known entry by entry (for a bare jvp they are left to rtol).
    const rounding = (c: Point): number => (2 * EPS / (opts.step / 4) + 64 * EPS) * innerAbs(c, u);
    if (claim.grad !== undefined) {
      tally.compare(`direction ${d}: ⟨grad, u⟩`, inner(claim.grad, u), est, bound + rounding(claim.grad));
    }
    if (claim.jvp !== undefined) {
      tally.compare(`direction ${d}: jvp(u)`, claim.jvp(u), est, bound);
    }
    if (vjpW !== undefined) {
      tally.compare(`direction ${d}: ⟨vjp(w), u⟩/w`, inner(vjpW, u) / w, est, bound + rounding(vjpW) / w);
    }
  }
  return tally.verdict(opts.directions);
}

/**
 * Checks a claimed Hessian-vector product against the central difference of the gradient.
 *
 * For each seeded random direction `v`, `hvp(v)` must match `D_v g` component-wise, where `g` is
 * the (trusted or separately checked) gradient function. Components are judged relative to the
 * whole vector (`max_j |claimed_j| + |estimate_j|`), so a near-zero entry is not held to a
 * relative tolerance of its own.
 *
 * @param g - the gradient function x ↦ ∇f(x), named like the point.
 * @param hvp - the claim: v ↦ H(x)·v, named like the point.
 */
export function checkHessianVectorProduct(
  g: PointFn,
  x: Point,
  hvp: ((v: Point) => Point) | Readonly<Record<string, (v: Point) => Point>>,
  options?: FiniteDiffOptions,
): FiniteDiffVerdict {
  // Several claimed products (labelled) are judged against the same finite-difference probes,
  // which cost far more than the claims.
  const claims: [string, (v: Point) => Point][] = typeof hvp === "function" ? [["hvp", hvp]] : Object.entries(hvp);
  const opts = withDefaults(options);
  const rand = mulberry32(opts.seed);
  const tally = new Tally(opts);
  const keys = Object.keys(x);
  const F = (p: Point): Float64Array => flat(g(p), keys);
  const g0 = F(x);
  if (!g0.every(Number.isFinite)) {
    return { status: "inconclusive", reason: "the gradient is not finite at the point", maxAbsErr: 0, maxRelErr: 0, directions: 0 };
  }
  for (let d = 0; d < opts.directions; d++) {
    const v = randomDirection(x, rand);
    const p = probe(F, x, g0, v, opts);
    if (p.trouble !== undefined) {
      tally.trouble ??= `direction ${d}: ${p.trouble}`;
      continue;
    }
    for (const [label, fn] of claims) {
      const claimed = flat(fn(v), keys);
      if (claimed.length !== g0.length) throw new RangeError(`finiteDiff: ${label} returned ${claimed.length} values, the gradient ${g0.length}`);
      let scale = 0;
      for (let i = 0; i < claimed.length; i++) scale = Math.max(scale, Math.abs(claimed[i]) + Math.abs(p.estimate[i]));
      for (let i = 0; i < claimed.length; i++) {
        tally.compare(`direction ${d}: ${label}(v)[${i}]`, claimed[i], p.estimate[i], p.bound[i] + 64 * EPS * scale, scale);
      }
    }
  }
  return tally.verdict(opts.directions);
}
