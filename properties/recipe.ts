/**
 * Recipes: plain-data programs that build valid `xgrad-case/1` cases, so that shrinking a
 * recipe (deleting steps, lowering numbers) can never produce an invalid case.
 *
 * A {@link Recipe} is a list of steps, each an op name from the case-format table plus a few
 * small integers `p` (abstract choices, never concrete dims or node ids). {@link buildFromRecipe}
 * interprets the steps in order against the graph built so far:
 * - every choice is taken modulo what currently exists: "the k-th most recent float node",
 *   "a subset of this node's dims given by these bits", "the j-th factorisation of this
 *   length". Choice 0 is always the simplest (most recent node, no extra dims, first mode), so
 *   shrinking numbers towards 0 simplifies the graph;
 * - a step whose op cannot apply is **repaired** deterministically (another candidate node,
 *   fewer reduced dims, an adapter such as `exp(tanh(x))` in front of `log`, or a fresh input
 *   drawn from the op's domain) or, when nothing fits (e.g. `squeeze` with no length-1 dim
 *   anywhere), **skipped**;
 * - fresh inputs (partners of binary ops, index arrays, update values) are created by the step
 *   that uses them and their values are seeded from the step's content, so deleting one step
 *   neither invalidates nor perturbs the others.
 *
 * Every node's type is inferred here with the rules of `semantics.md` (mirroring
 * `src/case/parse.ts`), and the contract tests check 100% of built cases with `parseTypedCase`.
 *
 * **Values.** Each node carries a conservative value set and a distinctness gap
 * (`domains.ts`). An op is applied to a node only if the set satisfies the op's domain from the
 * engine's tables (`SCALAR_OPS`, `REDUCE_DOMAINS`, `CUM_DOMAINS`) and its result stays within
 * ±CAP: log/sqrt/pow-base sets are bounded below by the table's lower bound; div denominators,
 * prod/cumprod inputs and abs inputs keep the table's margin away from 0; maximum/minimum and
 * lt/gt/le/ge get a partner whose difference set keeps the `apart` margin (a constant or a
 * fresh input placed in a gap of the other's set, or beyond it); max/min reductions need the
 * node's gap ≥ the table's `distinct`; std needs the gap-implied variance bound inside sqrt's
 * domain. Nothing is filtered after the fact: the values are drawn from sets chosen so that
 * the domains hold at every node. Inputs use two-decimal values; float constants in args are
 * never integral (an integral number in args is a weak int, and is used as one on purpose).
 *
 * **Rewrite patterns.** A rewrite-soundness check can only judge a rewrite that fires, and
 * several FAST_RUN rules match shapes a random mix almost never builds. So about a quarter of
 * the steps of a few ops build such a shape instead ({@link Builder.pattern}; some 4% of all
 * steps), always inside the domains above: `log(add(1, x))` (local_log1p), `log(sigmoid(x))`,
 * `log(sub(1, sigmoid(x)))` (log, add and sigmoid steps, sometimes in float32), `pow(x, 2)` and
 * `pow(exp(..), 0.5)` (pow), an int or bool `x * 0` (mul), `isel` of a size ≥ 2 `expand_dims`
 * (Subtensor of Alloc), a double `expand_dims` (a reduction of a reduction in the gradient), and
 * a positional same-dtype `cast`. The choice is read from the high bits of a step's last
 * choice, so a step whose choice is "none" (0, the shrink target) builds what it always built.
 *
 * **Integer values on a float path.** The same choice in cast, dot, mul, transpose, expand_dims,
 * concat, rename and isel steps builds {@link Builder.intRoute}: a float cast to int64/int32 (its
 * input kept INT_CAST_MARGIN off the integers, `domains.ts`) or a small int data input, through
 * one or two structural ops (in a third of them then `+ 2` or `· 3`, int arithmetic with a weak
 * int constant), into a `mul` or `dot` with a float or (after a cast) a cast back to
 * float: the differentiator must hand no gradient to the int and zeros to what was cast (each in
 * some 7–10% of cases; the driver bug `transpose(cast(z, int64))` dotted with a float was one).
 */
import type { Case, CaseArg, CaseDType, CaseInput, CaseNode, CaseOp, Indexer, SliceSpec } from "../src/case/format.js";
import { isFloatDtype, nestValue, UNARY_OPS, BINARY_OPS, COMPARE_OPS } from "../src/case/format.js";
import { normalizeSlice, promote2, resultDtype } from "../src/case/parse.js";
import { mulberry32 } from "../oracles/finiteDiff.js";
import type { ScalarName } from "../src/tensor/elemwise.js";
import {
  type VSet, CAP, SAFETY, absSet, addSet, apart, apartMargin, capped, cumDomain, cumprodN, cumsumN, distinctEnough, divSet,
  drawSetFor, hi, hull, intCastDrawSet, intCastSafe, iv, lo, mapMono, maxAbs, maxSet, minSet, mulSet, point, powSet, prodN,
  reduceDomain, satisfies, scalarDomain, scaleSet, squareSet, subSet, sumN, trigSet, truncSet, union, varianceLowerBound, width,
} from "./domains.js";

/** One recipe step: a case op and abstract choices (small non-negative integers). */
export interface RecipeStep {
  op: CaseOp;
  p: number[];
}

/** A whole recipe. All fields are plain data; see the module comment. */
export interface Recipe {
  /** Lengths of the dims a, b, c, d (1..4). */
  lens: number[];
  /** Choices for the root input (its dims and value set). */
  root: number;
  /** Seeds every drawn value together with the content of the step that draws it. */
  seed: number;
  steps: RecipeStep[];
}

/** Options of {@link buildFromRecipe}. */
export interface BuildOptions {
  /** Largest element count of any node (default 256). */
  maxElems?: number;
  /** Allow casts to float32 (default true). */
  float32?: boolean;
  /** Case name. */
  name?: string;
}

/** The dim alphabet: small, so names collide and broadcast. */
export const DIM_ALPHABET = ["a", "b", "c", "d"] as const;
/** Extra dim names, used only when a node already holds the whole alphabet. */
const EXTRA_DIMS = ["e", "f", "g", "h"];
const ALL_NAMES = [...DIM_ALPHABET, ...EXTRA_DIMS];

// ---------------------------------------------------------------------------------------------
// Deterministic choices and values

/**
 * Reads a step's choices in order. Choice i uses p[i mod |p|] (mixed for i ≥ |p|), so an
 * all-zero p makes every choice 0: the most recent node, no subset, identity permutation.
 */
class Chooser {
  private i = 0;
  private j = 0;
  constructor(private readonly p: readonly number[]) {}
  /**
   * The choice of an extra pattern ({@link Builder.pattern}), in 0..n-1 for n dividing 8: read
   * from the step's choices from the last one backwards (p[7], then p[6], ...), by their high
   * bits (⌊v / 32⌋ of a choice in 0..255), with its own counter. The ordinary choices above are
   * untouched by it, so a step whose pattern choice is "none" builds exactly what it built
   * before patterns existed; 0 (the shrink target) is always "none".
   */
  side(n: number): number {
    const P = this.p.length;
    if (P === 0 || n <= 1) return 0;
    const v = Math.abs(this.p[P - 1 - (this.j++ % P)]);
    return Number.isFinite(v) ? Math.floor(v / 32) % n : 0;
  }
  /** A fresh chooser over the same choices (its ordinary choices start again at choice 0). */
  fork(): Chooser { return new Chooser(this.p); }
  int(n: number): number {
    const k = this.i++;
    if (n <= 1) return 0;
    const P = this.p.length;
    if (P === 0) return 0;
    const v = k < P ? this.p[k] : this.p[k % P] * 7 + Math.floor(k / P) * this.p[(k + 1) % P];
    return Math.abs(v) % n;
  }
  bool(): boolean { return this.int(2) === 1; }
  /** True with probability about 1/n (false at p = 0). */
  rare(n: number): boolean { return this.int(n) === n - 1; }
  pick<T>(xs: readonly T[]): T { return xs[this.int(xs.length)]; }
  /** The most recent element for choice 0. */
  recent<T>(xs: readonly T[]): T { return xs[xs.length - 1 - this.int(xs.length)]; }
  /** A permutation (identity for choice 0). */
  perm<T>(xs: readonly T[]): T[] {
    const out = [...xs];
    for (let i = out.length - 1; i > 0; i--) {
      const j = i - this.int(i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }
  subset<T>(xs: readonly T[]): T[] { return xs.filter(() => this.bool()); }
}

/** 32-bit FNV-1a over a string. */
function hashStr(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193); }
  return h >>> 0;
}

/** The seeded PRNG (mulberry32) shared with the finite-difference oracle. */
const rng = mulberry32;

/** Two decimals; never -0 (JSON would write it as 0, and the round trip must be exact). */
const round2 = (v: number): number => Math.round(v * 100) / 100 + 0;
const prod = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);

/** Spacing of the grid distinct inputs are drawn from. */
const DISTINCT_SPACING = 0.15;

/**
 * n two-decimal values inside `set`. With `distinct`, pairwise DISTINCT_SPACING apart (a
 * random choice of grid points), when the set has room; `gap` reports what was achieved.
 */
function drawValues(set: VSet, n: number, r: () => number, distinct: boolean, spacing = DISTINCT_SPACING): { vals: number[]; gap: number } {
  if (n <= 1 && set.length === 1 && set[0][0] === set[0][1]) return { vals: n === 1 ? [set[0][0]] : [], gap: Infinity };
  if (distinct) {
    const grid: number[] = [];
    for (const [a, b] of set) {
      const start = Math.ceil(a * 100 - 1e-9) / 100;
      for (let k = 0; ; k++) {
        const v = round2(start + k * spacing);
        if (v > b) break;
        grid.push(v);
      }
    }
    if (grid.length >= n) {
      for (let i = grid.length - 1; i > 0; i--) {
        const j = Math.floor(r() * (i + 1));
        [grid[i], grid[j]] = [grid[j], grid[i]];
      }
      return { vals: grid.slice(0, n), gap: n <= 1 ? Infinity : spacing - 1e-9 };
    }
  }
  const weights = set.map(([a, b]) => Math.max(b - a, 0.05));
  const total = weights.reduce((a, b) => a + b, 0);
  const vals: number[] = [];
  for (let i = 0; i < n; i++) {
    let u = r() * total;
    let k = 0;
    while (k < set.length - 1 && u > weights[k]) { u -= weights[k]; k++; }
    const [a, b] = set[k];
    let v = round2(a + r() * (b - a));
    if (v < a) v = Math.ceil(a * 100 - 1e-9) / 100;
    if (v > b) v = Math.floor(b * 100 + 1e-9) / 100;
    if (v < a || v > b) v = a; // a piece narrower than 0.01 with non-round ends
    vals.push(v);
  }
  return { vals, gap: n <= 1 ? Infinity : 0 };
}


// ---------------------------------------------------------------------------------------------
// Types and dtype rules (mirroring src/case/parse.ts)

type Kind = "xtensor" | "tensor";

/** What the builder knows about one input or node. */
interface Info {
  id: string;
  kind: Kind;
  /** [] for positional tensors. */
  dims: string[];
  shape: number[];
  dtype: CaseDType;
  /** Conservative set of element values (bool: {0, 1}). */
  set: VSet;
  /** Lower bound on |v_i − v_j| over distinct elements; Infinity when size ≤ 1. */
  gap: number;
  role: "node" | "data" | "index" | "weight";
  /** For positional tensors from `values(x)`: x's dims. */
  srcDims?: string[];
}

// Dtype rules are the case format's own (src/case/parse.ts), so the generator can never disagree
// with the validator about a node's dtype.

/** The kind rank of a dtype: bool 0, ints 1, floats 2. */
const KIND: Record<CaseDType, number> = { bool: 0, int32: 1, int64: 1, float32: 2, float64: 2 };

const FLOAT_RESULT = new Set<string>(["div", "exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tanh", "sigmoid", "softplus"]);

type Operand = Info | number;
const isNum = (o: Operand): o is number => typeof o === "number";
const argOf = (o: Operand): CaseArg => (isNum(o) ? o : o.id);
const setOf = (o: Operand): VSet => (isNum(o) ? point(o) : o.set);
const sizeOf = (i: { shape: number[] }): number => prod(i.shape);

/** Elemwise result type (name alignment for xtensors, numpy broadcasting for tensors), or null. */
function elemType(op: string, args: Operand[]): { kind: Kind; dims: string[]; shape: number[]; dtype: CaseDType } | null {
  const strong = args.filter((a): a is Info => !isNum(a));
  if (strong.length === 0) return null;
  const kind = strong[0].kind;
  if (strong.some((a) => a.kind !== kind)) return null;
  let dims: string[] = [];
  let shape: number[] = [];
  if (kind === "xtensor") {
    for (const a of strong) {
      for (let j = 0; j < a.dims.length; j++) {
        const k = dims.indexOf(a.dims[j]);
        if (k < 0) { dims.push(a.dims[j]); shape.push(a.shape[j]); } else if (shape[k] !== a.shape[j]) return null;
      }
    }
  } else {
    const nd = Math.max(...strong.map((a) => a.shape.length));
    shape = new Array<number>(nd).fill(1);
    for (const a of strong) {
      for (let j = 0; j < a.shape.length; j++) {
        const k = nd - a.shape.length + j;
        if (shape[k] === 1) shape[k] = a.shape[j];
        else if (a.shape[j] !== 1 && a.shape[j] !== shape[k]) return null;
      }
    }
    dims = [];
  }
  const valueArgs = op === "where" ? args.slice(1) : args;
  const rd = resultDtype(valueArgs.filter((a): a is Info => !isNum(a)).map((a) => a.dtype), valueArgs.filter(isNum));
  let dtype: CaseDType;
  if ((COMPARE_OPS as readonly string[]).includes(op)) dtype = "bool";
  else if (op === "where") dtype = rd;
  else if (FLOAT_RESULT.has(op)) dtype = isFloatDtype(rd) ? rd : "float64";
  else dtype = rd;
  return { kind, dims, shape, dtype };
}

// ---------------------------------------------------------------------------------------------
// Value-set transfer for unary ops: the image and the minimum |f'| (0 if not monotone).

const sig = (v: number): number => 1 / (1 + Math.exp(-v));
const UNARY_TF: Record<(typeof UNARY_OPS)[number], { set: (s: VSet) => VSet; deriv: (s: VSet) => number }> = {
  neg: { set: (s) => scaleSet(s, -1), deriv: () => 1 },
  exp: { set: (s) => mapMono(s, Math.exp), deriv: (s) => Math.exp(lo(s)) },
  log: { set: (s) => mapMono(s, Math.log), deriv: (s) => 1 / hi(s) },
  log1p: { set: (s) => mapMono(s, Math.log1p), deriv: (s) => 1 / (1 + hi(s)) },
  expm1: { set: (s) => mapMono(s, Math.expm1), deriv: (s) => Math.exp(lo(s)) },
  sqrt: { set: (s) => mapMono(s, Math.sqrt), deriv: (s) => 0.5 / Math.sqrt(hi(s)) },
  square: { set: squareSet, deriv: (s) => (lo(s) > 0 ? 2 * lo(s) : hi(s) < 0 ? -2 * hi(s) : 0) },
  abs: { set: absSet, deriv: (s) => (lo(s) > 0 || hi(s) < 0 ? 1 : 0) },
  sin: { set: (s) => trigSet(s, Math.sin), deriv: () => 0 },
  cos: { set: (s) => trigSet(s, Math.cos), deriv: () => 0 },
  tanh: { set: (s) => mapMono(s, Math.tanh), deriv: (s) => 1 - Math.tanh(maxAbs(s)) ** 2 },
  sigmoid: { set: (s) => mapMono(s, sig), deriv: (s) => sig(maxAbs(s)) * (1 - sig(maxAbs(s))) },
  softplus: { set: (s) => mapMono(s, (v) => (v > 0 ? v + Math.log1p(Math.exp(-v)) : Math.log1p(Math.exp(v)))), deriv: (s) => sig(lo(s)) },
};

/** s widened by SAFETY on both sides: a set that satisfies a domain this way keeps SAFETY to spare. */
const widened = (s: VSet): VSet => union(addSet(s, point(-SAFETY)), addSet(s, point(SAFETY)));

const scaleGap = (g: number, k: number): number => (g === Infinity ? Infinity : Math.max(0, g * k));

/**
 * Gap of x ⊕ y (add/sub) from the operands' gaps and widths: two distinct output positions
 * differ in x's position only (≥ gx), in y's only (≥ gy), or in both (≥ max(gx − wy, gy − wx)).
 */
function sumGap(x: Operand, y: Operand): number {
  if (isNum(x) || isNum(y)) return isNum(x) ? (isNum(y) ? Infinity : y.gap) : x.gap;
  const nontriv = (a: Info, b: Info): boolean => a.dims.some((d, i) => a.shape[i] > 1 && !b.dims.includes(d));
  const xs = sizeOf(x) > 1;
  const ys = sizeOf(y) > 1;
  if (x.kind === "tensor") return !ys ? x.gap : !xs ? y.gap : 0;
  let g = Infinity;
  if (nontriv(x, y)) g = Math.min(g, x.gap);
  if (nontriv(y, x)) g = Math.min(g, y.gap);
  if (xs && ys) g = Math.min(g, Math.max(x.gap - width(y.set), y.gap - width(x.set)));
  return Math.max(0, g);
}

// ---------------------------------------------------------------------------------------------
// The builder

/** Float constants (never integral) and weak ints used as the second operand. */
const CONSTS = [0.5, 1.5, -0.75, 2, 0.25, -1, 3, -2.5, 1.25, -0.4];

class Builder {
  readonly inputs: CaseInput[] = [];
  readonly nodes: CaseNode[] = [];
  readonly infos: Info[] = [];
  private nNode = 0;
  private nInput = 0;
  private stepKey = "root";
  private freshInStep = 0;
  readonly maxElems: number;
  readonly float32: boolean;

  constructor(readonly recipe: Recipe, opts: BuildOptions) {
    this.maxElems = opts.maxElems ?? 256;
    this.float32 = opts.float32 ?? true;
  }

  len(d: string): number {
    const i = (DIM_ALPHABET as readonly string[]).indexOf(d);
    const l = i >= 0 ? this.recipe.lens[i] : 2;
    return Number.isInteger(l) && l >= 1 && l <= 6 ? l : 2;
  }

  beginStep(step: RecipeStep, index: number): void {
    this.stepKey = `${step.op}:${step.p.join(",")}:${index === 0 ? "first" : ""}`;
    this.freshInStep = 0;
  }

  private rngFor(tag: string): () => number {
    return rng(hashStr(`${this.recipe.seed}|${this.stepKey}|${this.freshInStep++}|${tag}`));
  }

  // ---- inputs and nodes ----

  /** A fresh float (or int data) input drawn from `set`. */
  fresh(kind: Kind, dims: string[], shape: number[], set: VSet, o: { distinct?: boolean; spacing?: number; dtype?: CaseDType; role?: Info["role"] } = {}): Info {
    const dtype = o.dtype ?? "float64";
    const r = this.rngFor("v");
    const n = prod(shape);
    const prefix = o.role === "weight" ? "w" : KIND[dtype] === 1 ? "k" : "x";
    let vals: (number | boolean)[];
    let gap: number;
    let vset = set;
    if (KIND[dtype] === 1) {
      const l = Math.ceil(lo(set));
      const h = Math.floor(hi(set));
      vals = Array.from({ length: n }, () => l + Math.floor(r() * (h - l + 1)));
      gap = n <= 1 ? Infinity : 0;
      vset = iv(l, h);
    } else {
      ({ vals, gap } = drawValues(set, n, r, o.distinct ?? false, o.spacing));
    }
    const name = `${prefix}${this.nInput++}`;
    const value = nestValue(vals, shape);
    this.inputs.push(kind === "xtensor" ? { name, kind, dims: [...dims], shape: [...shape], dtype, value } : { name, kind, shape: [...shape], dtype, value });
    const info: Info = { id: name, kind, dims: kind === "xtensor" ? [...dims] : [], shape: [...shape], dtype, set: vset, gap, role: o.role ?? "data" };
    this.infos.push(info);
    return info;
  }

  /**
   * The float dtype of a fresh partner of a structural op (dot, concat, an inc/set update): the
   * other float width than `like` about one time in four, so the pullbacks' casts back to each
   * input's dtype are exercised (dx of a float32 x from a float64 contraction, a float32 update
   * summed from a float64 cotangent). Drawn from the step's content, not from its choices, so
   * recipes keep their meaning and shrink the same way; never float32 when float32 is off.
   * `narrowOnly`: only float64 → float32 (an update may not be wider than what it writes into).
   */
  partnerDtype(like: CaseDType, narrowOnly = false): CaseDType {
    const other = like === "float32" ? "float64" : "float32";
    if (!this.float32 || (narrowOnly && other === "float64")) return like === "float32" ? "float32" : "float64";
    const r = rng(hashStr(`${this.recipe.seed}|${this.stepKey}|${this.freshInStep}|dtype`))();
    return r < 0.25 ? other : like === "float32" ? "float32" : "float64";
  }

  /** A fresh integer index array with the given values (flat, C order). */
  freshIndex(dims: string[], shape: number[], vals: number[], dtype: CaseDType): Info {
    const name = `i${this.nInput++}`;
    this.inputs.push({ name, kind: "xtensor", dims: [...dims], shape: [...shape], dtype, value: nestValue(vals, shape) });
    const info: Info = { id: name, kind: "xtensor", dims: [...dims], shape: [...shape], dtype, set: iv(Math.min(...vals), Math.max(...vals)), gap: 0, role: "index" };
    this.infos.push(info);
    return info;
  }

  emit(op: CaseOp, args: CaseArg[], fields: Record<string, unknown>, t: { kind: Kind; dims: string[]; shape: number[]; dtype: CaseDType }, set: VSet, gap: number, id?: string): Info {
    const nid = id ?? `n${this.nNode++}`;
    this.nodes.push({ id: nid, op, args, ...fields } as unknown as CaseNode);
    const size = prod(t.shape);
    const info: Info = { id: nid, kind: t.kind, dims: [...t.dims], shape: [...t.shape], dtype: t.dtype, set, gap: size <= 1 ? Infinity : gap, role: "node" };
    this.infos.push(info);
    return info;
  }

  /** Emit an elemwise node (type inferred); null when the args do not align. */
  elem(op: CaseOp, args: Operand[], set: VSet, gap: number): Info | null {
    const t = elemType(op, args);
    if (t === null || prod(t.shape) > this.maxElems) return null;
    const s = t.dtype === "bool" ? norm01() : set;
    return this.emit(op, args.map(argOf), {}, t, s, gap);
  }

  // ---- candidates ----

  /** Float nodes and data inputs (not index arrays or weights). */
  floats(kind?: Kind): Info[] {
    return this.infos.filter((i) => isFloatDtype(i.dtype) && (i.role === "node" || i.role === "data") && (kind === undefined || i.kind === kind));
  }
  bools(): Info[] { return this.infos.filter((i) => i.dtype === "bool" && i.kind === "xtensor"); }

  /** Pick the first element, in recency order starting at the chooser's pick, that passes `ok`. */
  pickOk<T>(c: Chooser, xs: readonly T[], ok: (x: T) => boolean): T | undefined {
    if (xs.length === 0) return undefined;
    const start = c.int(xs.length);
    for (let k = 0; k < xs.length; k++) {
      const x = xs[xs.length - 1 - ((start + k) % xs.length)];
      if (ok(x)) return x;
    }
    return undefined;
  }

  /** Dim names not in `used`, alphabet first. */
  unused(used: readonly string[]): string[] {
    return ALL_NAMES.filter((n) => !used.includes(n));
  }

  /**
   * A new dim's name, one of the first `k` names `used` leaves free, or null when `used` holds
   * every name (a node of eight dims: seed 5 case 2044 stacked one into a dim named undefined,
   * which the case parser refused, a crash of the harness reported as a finding).
   */
  newDim(c: Chooser, used: readonly string[], k = 2): string | null {
    const free = this.unused(used).slice(0, k);
    return free.length === 0 ? null : c.pick(free);
  }

  /** Fresh partner dims for x: a subset of x's dims and maybe one new dim, in random order. */
  partnerDims(c: Chooser, x: Info): { dims: string[]; shape: number[] } {
    if (x.kind === "tensor") {
      // numpy broadcasting: a suffix of x's shape with some axes set to 1, sometimes one more
      // leading axis.
      const k = c.int(x.shape.length + 1);
      const shape = x.shape.slice(x.shape.length - k).map((l) => (c.rare(3) ? 1 : l));
      if (c.rare(4)) shape.unshift(this.len(c.pick(DIM_ALPHABET)));
      return { dims: [], shape };
    }
    const dims = c.subset(x.dims);
    if (c.rare(3)) {
      const nu = this.unused(x.dims).filter((d) => (DIM_ALPHABET as readonly string[]).includes(d));
      if (nu.length > 0) dims.push(c.pick(nu));
    }
    const order = c.perm(dims);
    return { dims: order, shape: order.map((d) => (x.dims.includes(d) ? x.shape[x.dims.indexOf(d)] : this.len(d))) };
  }

  /** Same lengths on shared names (xtensors) or broadcastable (tensors), within the size cap. */
  compatible(op: string, x: Info, y: Info): boolean {
    const t = elemType(op, [x, y]);
    return t !== null && prod(t.shape) <= this.maxElems;
  }

  // ---- adapters (deterministic repairs that put a node into a domain) ----

  /** exp(tanh(x)) ∈ [0.37, 2.72]: positive, for log/sqrt/log1p and pow's base. */
  positive(x: Info): Info | null {
    const t = this.elem("tanh", [x], mapMono(x.set, Math.tanh), scaleGap(x.gap, UNARY_TF.tanh.deriv(x.set)));
    if (t === null) return null;
    return this.elem("exp", [t], mapMono(t.set, Math.exp), scaleGap(t.gap, Math.exp(lo(t.set))));
  }

  /**
   * exp(0.5·tanh(x)) · s with s a fresh ±1 input: both signs, |v| ∈ [0.6, 1.65]. For div
   * denominators, abs, prod and cumprod.
   */
  signed(c: Chooser, x: Info): Info | null {
    const t = this.elem("tanh", [x], mapMono(x.set, Math.tanh), 0);
    if (t === null) return null;
    const h = this.elem("mul", [t, 0.5], scaleSet(t.set, 0.5), 0);
    if (h === null) return null;
    const e = this.elem("exp", [h], mapMono(h.set, Math.exp), 0);
    if (e === null) return null;
    const pd = this.partnerDims(c, x);
    const s = this.fresh(x.kind, pd.dims, pd.shape, union(point(-1), point(1)));
    return this.elem("mul", [e, s], mulSet(e.set, s.set), 0);
  }

  /** A fresh input with the dims of (a random part of) the alphabet, drawn from `set`. */
  freshLeaf(c: Chooser, set: VSet, distinct = false, maxSize = this.maxElems, spacing?: number): Info {
    let dims = c.perm(c.subset([...DIM_ALPHABET]));
    while (dims.length > 0 && prod(dims.map((d) => this.len(d))) > maxSize) dims = dims.slice(1);
    if (dims.length === 0 && c.bool()) dims = [DIM_ALPHABET[0]];
    return this.fresh("xtensor", dims, dims.map((d) => this.len(d)), set, { distinct, spacing });
  }

  // ---- steps ----

  step(op: CaseOp, c: Chooser): void {
    if (this.pattern(op, c)) return;
    if ((UNARY_OPS as readonly string[]).includes(op)) return void this.unary(op as (typeof UNARY_OPS)[number], c);
    if ((BINARY_OPS as readonly string[]).includes(op) || (COMPARE_OPS as readonly string[]).includes(op)) return void this.binary(op, c);
    switch (op) {
      case "where": return void this.where(c);
      case "cast": return void this.cast(c);
      case "sum": case "prod": case "mean": case "max": case "min": case "all": case "any": case "var": case "std":
        return void this.reduce(op, c);
      case "cumsum": case "cumprod": return void this.cum(op, c);
      case "dot": return void this.dot(c);
      case "transpose": return void this.transpose(c);
      case "rename": return void this.rename(c);
      case "stack": return void this.stack(c);
      case "unstack": return void this.unstack(c);
      case "concat": return void this.concat(c);
      case "expand_dims": return void this.expandDims(c);
      case "squeeze": return void this.squeeze(c);
      case "isel": return void this.isel(c);
      case "set": case "inc": return void this.update(op, c);
      case "values": return void this.values(c);
      case "as_xtensor": return void this.asXTensor(c);
      default: return;
    }
  }

  // ---- extra patterns (the rewrites' own shapes; see the module comment) ----

  /**
   * Some steps of a few ops build, instead of their ordinary node, a small pattern that a
   * FAST_RUN rewrite matches exactly, so that rewrite-soundness judges that rewrite: the pattern
   * choice ({@link Chooser.side}, 0..7) picks it; 0 and the values an op does not use build the
   * ordinary step, as does a pattern that cannot apply. About a quarter of these ops' steps,
   * some 4% of all steps. The pattern's own choices come from a fresh chooser over the step's
   * choices, so they shrink towards the simplest form like every other step.
   */
  pattern(op: CaseOp, c: Chooser): boolean {
    const k = c.side(8);
    if (k === 0) return false;
    const pc = c.fork();
    let r: Info | null;
    switch (op) {
      case "log": r = k === 1 ? this.logOnePlus(pc) : k === 2 ? this.logSigmoid(pc, true) : k === 3 ? this.logSigmoid(pc, false) : null; break;
      case "add": r = k === 1 ? this.logOnePlus(pc) : null; break;
      case "sigmoid": r = k === 1 ? this.logSigmoid(pc, false) : k === 2 ? this.logSigmoid(pc, true) : null; break;
      case "pow": r = k === 1 ? this.powConst(pc, 2) : k <= 3 ? this.powConst(pc, 0.5) : null; break;
      case "mul": r = k <= 2 ? this.mulZero(pc) : k <= 4 ? this.intRoute(pc, k === 3 ? "input" : "cast", undefined, "mul") : null; break;
      case "isel": r = k <= 2 ? this.iselOfExpand(pc) : k <= 4 ? this.intRoute(pc, k === 3 ? "input" : "cast", "isel") : null; break;
      case "expand_dims": r = k <= 2 ? this.expandTwice(pc) : k <= 4 ? this.intRoute(pc, k === 3 ? "input" : "cast", "expand_dims") : null; break;
      case "cast": r = k <= 2 ? this.castSame(pc) : k <= 4 ? this.intRoute(pc, "cast") : null; break;
      case "dot": r = k <= 2 ? this.intRoute(pc, k === 1 ? "input" : "cast", undefined, "dot") : null; break;
      case "transpose": case "concat": case "rename":
        r = k <= 2 ? this.intRoute(pc, k === 1 ? "input" : "cast", op) : null; break;
      default: return false;
    }
    return r !== null;
  }

  /** x cast to float32 (the gap shrinks by float32 rounding, as in {@link cast}). */
  toFloat32(x: Info): Info {
    const gap = x.gap === Infinity ? Infinity : Math.max(0, x.gap - maxAbs(x.set) * 2 ** -22);
    return this.emit("cast", [x.id], { dtype: "float32" }, { kind: x.kind, dims: x.dims, shape: x.shape, dtype: "float32" }, x.set, gap);
  }

  /** The case op of the node `id` (undefined for an input). */
  opOf(id: string): CaseOp | undefined {
    for (let k = this.nodes.length - 1; k >= 0; k--) if (this.nodes[k].id === id) return this.nodes[k].op;
    return undefined;
  }

  /**
   * `log(add(x, 1))` or `log(add(1, x))` (local_log1p, then log1p(x) in FAST_RUN): x keeps both
   * log's bound for 1 + x and log1p's for x, with a SAFETY margin to spare (float32 rounding of
   * 1 + x); sometimes x is cast to float32 first. Repair: 0.5·tanh(x) ∈ (−0.5, 0.5).
   */
  logOnePlus(c: Chooser): Info | null {
    const ok = (x: Info): boolean => {
      const s = addSet(x.set, point(1));
      return satisfies(widened(x.set), scalarDomain("log1p")) && satisfies(widened(s), scalarDomain("log")) && capped(s);
    };
    let x = this.pickOk(c, this.floats(), ok);
    if (x === undefined) {
      const base = c.recent(this.floats());
      const t = this.elem("tanh", [base], mapMono(base.set, Math.tanh), 0);
      const h = t === null ? null : this.elem("mul", [t, 0.5], scaleSet(t.set, 0.5), 0);
      if (h === null || !ok(h)) return null;
      x = h;
    }
    if (this.float32 && x.dtype === "float64" && c.rare(3)) x = this.toFloat32(x);
    const a = this.elem("add", c.bool() ? [1, x] : [x, 1], addSet(x.set, point(1)), x.gap);
    if (a === null) return null;
    return this.elem("log", [a], mapMono(a.set, Math.log), scaleGap(a.gap, UNARY_TF.log.deriv(a.set)));
  }

  /**
   * `log(sigmoid(x))` (local_log_sigmoid) or `log(sub(1, sigmoid(x)))` (local_log1msigm): x such
   * that σ(x), resp. 1 − σ(x), keeps log's bound with a SAFETY margin; sometimes in float32.
   * Repair: tanh(x), whose σ lies in [0.26, 0.74].
   */
  logSigmoid(c: Chooser, oneMinus: boolean): Info | null {
    const inner = (s: VSet): VSet => (oneMinus ? subSet(point(1), mapMono(s, sig)) : mapMono(s, sig));
    // The plain form loses what the rewrite keeps once σ(x) rounds toward 1 (or 1 − σ(x) toward
    // 1): log(fl(σ(x))) is 0 where −softplus(−x) is −e^{−x}, an absolute error of one ulp of 1,
    // which is a relative error of ulp·e^{|x|}. |x| ≤ 4 keeps it under 4e-6 in float32 (which the
    // pattern may cast to), |x| ≤ 25 under 1e-5 of the float64 tolerance. A float32 cast of
    // expm1(3) = 19 once made FAST_RUN and NONE differ by 100 % on that element.
    const limit = this.float32 ? 4 : 25;
    const ok = (x: Info): boolean => maxAbs(x.set) <= limit && satisfies(widened(inner(x.set)), scalarDomain("log"));
    let x = this.pickOk(c, this.floats(), ok);
    if (x === undefined) {
      const base = c.recent(this.floats());
      const t = this.elem("tanh", [base], mapMono(base.set, Math.tanh), 0);
      if (t === null || !ok(t)) return null;
      x = t;
    }
    if (this.float32 && x.dtype === "float64" && c.rare(4)) x = this.toFloat32(x);
    const s = this.elem("sigmoid", [x], mapMono(x.set, sig), scaleGap(x.gap, UNARY_TF.sigmoid.deriv(x.set)));
    if (s === null) return null;
    const arg = oneMinus ? this.elem("sub", [1, s], subSet(point(1), s.set), s.gap) : s;
    if (arg === null) return null;
    return this.elem("log", [arg], mapMono(arg.set, Math.log), scaleGap(arg.gap, UNARY_TF.log.deriv(arg.set)));
  }

  /**
   * `pow(x, 2)` (local_pow_2_to_square) or `pow(x, 0.5)` (local_pow_half_to_sqrt) with x inside
   * pow's base domain. The half power is rewritten only when x's producer rules out −0 and −inf
   * (the engine's list in specialize.ts: exp, sigmoid, softplus, square, abs), so x is such a
   * node. Repair: exp, sigmoid or softplus of tanh(x), chosen, so that each producer the rule
   * lists is met (positive and bounded away from 0 on tanh's range).
   */
  powConst(c: Chooser, e: 2 | 0.5): Info | null {
    const producers: readonly string[] = ["exp", "sigmoid", "softplus", "square", "abs"];
    const ok = (x: Info): boolean => satisfies(widened(x.set), scalarDomain("pow", 0)) && capped(powSet(x.set, point(e)))
      && (e === 2 || producers.includes(this.opOf(x.id) ?? ""));
    let x = this.pickOk(c, this.floats(), ok);
    if (x === undefined) {
      const src = c.recent(this.floats());
      const op = c.pick(["exp", "sigmoid", "softplus"] as const);
      const t = op === "exp" ? null : this.elem("tanh", [src], mapMono(src.set, Math.tanh), scaleGap(src.gap, UNARY_TF.tanh.deriv(src.set)));
      const p = op === "exp" ? this.positive(src) : t === null ? null : this.elem(op, [t], UNARY_TF[op].set(t.set), scaleGap(t.gap, UNARY_TF[op].deriv(t.set)));
      if (p === null || !ok(p)) return null;
      x = p;
    }
    const d = e === 2 ? 2 * lo(x.set) : 0.5 / Math.sqrt(hi(x.set));
    return this.elem("pow", [x, e], powSet(x.set, point(e)), scaleGap(x.gap, d));
  }

  /**
   * `mul(k, 0)` or `mul(0, k)` for a bool k (a comparison) or an int k (int data), which
   * local_mul_zero folds to zeros (never for floats, where inf·0 is NaN). The int64 zeros are
   * then added to a float node when one aligns (x + 0·k = x), so they reach the cost.
   */
  mulZero(c: Chooser): Info | null {
    let k: Info | undefined;
    if (!c.bool()) {
      k = this.pickOk(c, this.bools(), () => true);
      if (k === undefined) k = this.condition(c) ?? undefined;
    } else {
      k = this.pickOk(c, this.infos.filter((i) => KIND[i.dtype] === 1 && i.kind === "xtensor" && (i.role === "data" || i.role === "node")), () => true);
      if (k === undefined) {
        const x = c.recent(this.floats("xtensor"));
        const pd = this.partnerDims(c, x);
        k = this.fresh("xtensor", pd.dims, pd.shape, iv(-3, 3), { dtype: c.bool() ? "int32" : "int64" });
      }
    }
    if (k === undefined) return null;
    const m = this.elem("mul", c.bool() ? [0, k] : [k, 0], point(0), 0);
    if (m === null) return null;
    const mm = m;
    const y = this.pickOk(c, this.floats("xtensor"), (i) => this.compatible("add", i, mm));
    if (y !== undefined) {
      const s = addSet(y.set, m.set);
      if (capped(s)) this.elem("add", [y, m], s, sumGap(y, m));
    }
    return m;
  }

  /**
   * `isel(expand_dims(x, d, size ≥ 2), {d: int or slice})`: the expansion lowers to an Alloc and
   * the selection to a Subtensor of it (local_subtensor_of_alloc). Half the time one of x's own
   * dims is indexed too, by an int or a slice that is not written as the whole axis: on a dim
   * x spans (length ≥ 2) the view no longer equals x broadcast, so the rule must decline; on a
   * length-1 dim of x it still applies (a static 1 broadcasts), dropping the dim for an int.
   */
  iselOfExpand(c: Chooser): Info | null {
    const x = this.pickOk(c, this.floats("xtensor"), (i) => i.dims.length <= 3 && prod(i.shape) * 2 <= this.maxElems);
    if (x === undefined) return null;
    const d = this.newDim(c, x.dims);
    if (d === null) return null;
    let size = 2 + c.int(2);
    if (prod(x.shape) * size > this.maxElems) size = 2;
    const e = this.emit("expand_dims", [x.id], { dim: d, size }, { kind: "xtensor", dims: [d, ...x.dims], shape: [size, ...x.shape], dtype: x.dtype }, x.set, 0);
    const indexers: Record<string, Indexer> = {};
    const dims: string[] = [];
    const shape: number[] = [];
    // One indexer per dim (d first, then x's), written into `indexers`; the dims it keeps go to
    // dims/shape, in e's order.
    const index = (dim: string, len: number, narrow: boolean): void => {
      const mode = c.int(3);
      if (mode === 1) {
        const spec = this.sliceSpec(c, len, narrow);
        indexers[dim] = { slice: spec };
        dims.push(dim);
        shape.push(normalizeSlice(spec, len).length);
      } else {
        indexers[dim] = mode === 2 ? -1 - c.int(len) : c.int(len);
      }
    };
    index(d, size, true);
    const own = x.dims.length > 0 && c.bool() ? c.int(x.dims.length) : -1;
    x.dims.forEach((xd, j) => {
      if (j === own) index(xd, x.shape[j], false);
      else { dims.push(xd); shape.push(x.shape[j]); }
    });
    // A selection keeps x's spacing unless d survives with two or more (equal) entries.
    const dKept = dims.includes(d) ? shape[dims.indexOf(d)] : 1;
    return this.emit("isel", [e.id], { indexers }, { kind: "xtensor", dims, shape, dtype: x.dtype }, x.set, dKept === 1 ? x.gap : 0);
  }

  /**
   * A non-empty slice of an axis of length `len`, never written as the whole axis (start, stop
   * and step all null: that view lowers to no Subtensor index). With `narrow`, never the whole
   * axis in order either; without it, a slice that keeps everything (`[0, null, 1]`) may come,
   * which a rewrite must not mistake for a full slice by its spelling alone.
   */
  sliceSpec(c: Chooser, len: number, narrow: boolean): SliceSpec {
    const steps = [null, 1, -1, 2, -2];
    const step = steps[c.int(steps.length)];
    const bound = (): number | null => (c.bool() ? null : c.int(2 * len + 2) - len - 1);
    let spec: SliceSpec = [bound(), bound(), step];
    const ns = normalizeSlice(spec, len);
    if (narrow) {
      if (ns.length === 0 || (ns.length === len && ns.step === 1)) spec = [1, null, step];
      if (normalizeSlice(spec, len).length === 0) spec = [1, null, null];
    } else if (ns.length === 0 || (spec[0] === null && spec[1] === null && (spec[2] === null || spec[2] === 1))) {
      spec = [0, null, 1];
    }
    return spec;
  }

  /**
   * `expand_dims(expand_dims(x, d1, s1 ≥ 2), d2, s2 ≥ 2)`: the gradient sums the cotangent over
   * d2 and then over d1, a reduction of a reduction with one client (local_reduce_of_reduce).
   * A forward `sum(sum(x))` does not fire it: every case node is an output of rewrite-soundness's
   * compile, so the inner sum has a second client and the rule rightly declines.
   */
  expandTwice(c: Chooser): Info | null {
    // At most 4 dims after both: tfjs has no tile gradient for rank 5 (its oracle would say
    // inconclusive on the whole case).
    const x = this.pickOk(c, this.floats("xtensor"), (i) => i.dims.length <= 2 && prod(i.shape) * 4 <= this.maxElems);
    if (x === undefined) return null;
    const d1 = this.newDim(c, x.dims);
    const d2 = d1 === null ? null : this.newDim(c, [d1, ...x.dims]);
    if (d1 === null || d2 === null) return null;
    let s1 = 2 + c.int(2);
    let s2 = 2 + c.int(2);
    if (prod(x.shape) * s1 * s2 > this.maxElems) { s1 = 2; s2 = 2; }
    const e1 = this.emit("expand_dims", [x.id], { dim: d1, size: s1 }, { kind: "xtensor", dims: [d1, ...x.dims], shape: [s1, ...x.shape], dtype: x.dtype }, x.set, 0);
    return this.emit("expand_dims", [e1.id], { dim: d2, size: s2 }, { kind: "xtensor", dims: [d2, ...e1.dims], shape: [s2, ...e1.shape], dtype: x.dtype }, x.set, 0);
  }

  /**
   * A positional `cast` to the tensor's own dtype (useless_cast_identity). Only positional: the
   * case builder maps a named same-dtype cast to its argument (X.cast returns x), so no graph
   * node would exist. The argument is a node (a `values`), never an input: a graph output
   * equal to an input is left alone on purpose (wouldReturnInput).
   */
  castSame(c: Chooser): Info | null {
    const t = this.pickOk(c, this.floats("tensor").filter((i) => i.role === "node"), () => true) ?? this.values(c);
    if (t === null) return null;
    const info = this.emit("cast", [t.id], { dtype: t.dtype }, { kind: "tensor", dims: [], shape: t.shape, dtype: t.dtype }, t.set, t.gap);
    if (t.srcDims !== undefined) info.srcDims = [...t.srcDims];
    return info;
  }

  // ---- integer values on a float path (the differentiator's discrete-input handling) ----

  /**
   * An integer value routed through a structural op into float computation: the source is an
   * int data input (small values, `"input"`) or a float value cast to int64/int32 (`"cast"`);
   * the route is `transpose`, `expand_dims`, `concat`, `rename` or `isel` (sometimes two of them),
   * and the consumer a `mul` or `dot` with a float value, or (a cast source only) a cast back to
 * float, so every case keeps a float wrt. The gradient
   * through the int value is zero and through the int input there is none, but every rule on
   * the route sees a float cotangent arrive at an int output (PyTensor guards each rule for it).
   * A value cast to int keeps its fractional part in [0.2, 0.8] (`intCastSafe`), so finite
   * differences, tfjs and second order agree on the zero. `route` and `consumer` fix the host
   * step's own op; otherwise the chooser picks them. Null when nothing applies (the ordinary
   * step is built instead).
   */
  intRoute(c: Chooser, source: "input" | "cast", route?: CaseOp, consumer?: "mul" | "dot" | "cast"): Info | null {
    const k0 = source === "input" ? this.intInput(c) : this.castToInt(c);
    if (k0 === null) return null;
    const routes: CaseOp[] = ["transpose", "expand_dims", "concat", "rename", "isel"];
    let k = this.structural(c, route ?? c.pick(routes), k0);
    if (k === null) return null;
    if (c.rare(4)) k = this.structural(c, c.pick(routes), k) ?? k;
    // Integer arithmetic with a weak int constant (+2 or ·3, same dtype): canonicalize's neutral
    // elements are +0 and ·1 only, so a rule that folds any int constant as neutral changes values.
    if (c.rare(3)) {
      const mul = c.bool();
      k = this.elem(mul ? "mul" : "add", [k, mul ? 3 : 2], mul ? scaleSet(k.set, 3) : addSet(k.set, point(2)), 0) ?? k;
    }
    // An int input is never only cast back: the float product keeps a float wrt in the case.
    const cons = consumer ?? (["mul", "dot", "cast"] as const)[c.int(source === "input" ? 2 : 3)];
    if (cons === "cast") {
      const to: CaseDType = this.float32 && c.rare(3) ? "float32" : "float64";
      return this.emit("cast", [k.id], { dtype: to }, { kind: "xtensor", dims: k.dims, shape: k.shape, dtype: to }, k.set, 0);
    }
    if (cons === "dot") {
      // A contraction beyond the cap falls back to the elementwise product.
      const d = this.dot(c, k);
      if (d !== null) return d;
    }
    const kk = k;
    const ok = (f: Info): boolean => this.compatible("mul", kk, f) && capped(mulSet(kk.set, f.set));
    let f = c.bool() ? this.pickOk(c, this.floats("xtensor"), ok) : undefined;
    if (f === undefined) {
      const pd = this.partnerDims(c, k);
      f = this.fresh("xtensor", pd.dims, pd.shape, iv(-2, 2), { dtype: this.partnerDtype("float64") });
      if (!ok(f)) return null;
    }
    return this.elem("mul", c.bool() ? [f, k] : [k, f], mulSet(k.set, f.set), 0);
  }

  /** A fresh int64 or int32 data input with small values (−3..3), of one or more dims. */
  intInput(c: Chooser): Info {
    let dims = c.perm(c.subset([...DIM_ALPHABET]));
    while (dims.length > 1 && prod(dims.map((d) => this.len(d))) > 64) dims = dims.slice(1);
    if (dims.length === 0) dims = c.pick([["a", "b"], ["b"], ["c", "a"]]);
    return this.fresh("xtensor", dims, dims.map((d) => this.len(d)), iv(-3, 3), { dtype: c.rare(3) ? "int32" : "int64" });
  }

  /**
   * `cast(z, int64 | int32)` of a float xtensor kept off the integers: an existing node whose
   * set already is, or (choice 0) a fresh input drawn from [k + 0.25, k + 0.75] pieces (a wrt
   * that reaches the cost only through the int), or a computed `add(mul(tanh(x), 0.25), h)` on a
   * recent float node with h a half-integer constant or a fresh input of half-integers (so
   * elements truncate to different ints).
   */
  castToInt(c: Chooser): Info | null {
    const mode = c.int(3);
    let z: Info | undefined;
    if (mode === 0) {
      z = this.pickOk(c, this.floats("xtensor"), (i) => intCastSafe(i.set));
      if (z === undefined) {
        const ks = c.perm([-2, -1, 0, 1]).slice(0, 1 + c.int(4));
        let dims = c.perm(c.subset([...DIM_ALPHABET]));
        while (dims.length > 1 && prod(dims.map((d) => this.len(d))) > 64) dims = dims.slice(1);
        if (dims.length === 0) dims = ["b", "a"];
        z = this.fresh("xtensor", dims, dims.map((d) => this.len(d)), intCastDrawSet(ks));
      }
    } else {
      const x = c.recent(this.floats("xtensor"));
      const t = this.elem("tanh", [x], mapMono(x.set, Math.tanh), 0);
      const q = t === null ? null : this.elem("mul", [t, 0.25], scaleSet(t.set, 0.25), 0);
      if (q === null) return null;
      let h: Operand = c.pick([0.5, -0.5, 1.5, -1.5, 2.5]);
      if (mode === 2) {
        const pd = this.partnerDims(c, q);
        const halves = c.perm([-1.5, -0.5, 0.5, 1.5, 2.5]).slice(0, 2 + c.int(3));
        h = this.fresh("xtensor", pd.dims, pd.shape, union(...halves.map((v) => point(v))));
      }
      const a = this.elem("add", c.bool() ? [q, h] : [h, q], addSet(q.set, setOf(h)), 0);
      if (a === null) return null;
      z = a;
    }
    if (!intCastSafe(z.set)) return null;
    const to: CaseDType = c.rare(3) ? "int32" : "int64";
    return this.emit("cast", [z.id], { dtype: to }, { kind: z.kind, dims: z.dims, shape: z.shape, dtype: to }, truncSet(z.set), 0);
  }

  /**
   * One structural op on k (any dtype): a non-identity `transpose`, `expand_dims`, `concat` with
   * itself or a fresh small int input, `rename`, or `isel`; ops that need more dims than k has
   * fall back to `expand_dims`. Null when the result would be too large.
   */
  structural(c: Chooser, op: CaseOp, k: Info): Info | null {
    const t = (dims: string[], shape: number[], dtype = k.dtype): { kind: Kind; dims: string[]; shape: number[]; dtype: CaseDType } => ({ kind: "xtensor", dims, shape, dtype });
    if (op === "transpose" && k.dims.length >= 2) {
      let perm = c.perm(k.dims);
      if (perm.join() === k.dims.join()) perm = [...k.dims].reverse();
      return this.emit("transpose", [k.id], { dims: perm }, t(perm, perm.map((d) => k.shape[k.dims.indexOf(d)])), k.set, 0);
    }
    if (op === "rename" && k.dims.length >= 1) {
      const d = c.pick(k.dims);
      const to = this.newDim(c, k.dims);
      if (to === null) return null;
      const map = { [d]: to };
      return this.emit("rename", [k.id], { map }, t(k.dims.map((e) => map[e] ?? e), k.shape), k.set, 0);
    }
    if (op === "isel" && k.dims.length >= 1) {
      const r = this.indexers(c, k, 1, c.rare(3));
      if (r !== null && Object.keys(r.indexers).length > 0) {
        return this.emit("isel", [k.id, ...r.idx.map((i) => i.id)], { indexers: r.indexers }, t(r.view.dims, r.view.shape), k.set, 0);
      }
    }
    if (op === "concat") {
      const existing = k.dims.length > 0 && c.bool();
      const dim = existing ? c.pick(k.dims) : this.newDim(c, k.dims);
      if (dim === null) return null;
      let other = k;
      if (c.bool()) {
        const dims = c.perm(k.dims);
        const shape = dims.map((d) => (d === dim ? 1 + c.int(2) : k.shape[k.dims.indexOf(d)]));
        other = this.fresh("xtensor", dims, shape, iv(-3, 3), { dtype: KIND[k.dtype] === 1 ? k.dtype : "int64" });
      }
      const parts = [k, other];
      if (!this.concatOk(dim, parts)) return null;
      const ct = this.concatType(dim, parts);
      if (prod(ct.shape) > this.maxElems) return null;
      return this.emit("concat", parts.map((p) => p.id), { dim }, ct, union(k.set, other.set), 0);
    }
    const name = this.newDim(c, k.dims);
    if (name === null) return null;
    const size = 1 + c.int(3);
    if (prod(k.shape) * size > this.maxElems) return null;
    return this.emit("expand_dims", [k.id], size === 1 ? { dim: name } : { dim: name, size }, t([name, ...k.dims], [size, ...k.shape]), k.set, 0);
  }

  unary(op: (typeof UNARY_OPS)[number], c: Chooser): Info | null {
    const dom = scalarDomain(op as ScalarName);
    const tf = UNARY_TF[op];
    const ok = (x: Info): boolean => satisfies(x.set, dom) && capped(tf.set(x.set));
    let x = this.pickOk(c, this.floats(), ok);
    if (x === undefined) {
      const base = c.recent(this.floats());
      const needsPositive = dom.lo > -1;
      const repaired = needsPositive ? this.positive(base) : dom.avoid.length > 0 ? this.signed(c, base) : this.elem("tanh", [base], mapMono(base.set, Math.tanh), 0);
      x = repaired !== null && ok(repaired) ? repaired : this.freshLeaf(c, drawSetFor(dom));
    }
    return this.elem(op, [x], tf.set(x.set), scaleGap(x.gap, tf.deriv(x.set)));
  }

  /** Constants in the gaps of s (and beyond it) that keep `margin` from every element. */
  apartConstants(s: VSet, margin: number): number[] {
    const m = margin + 2 * SAFETY;
    const out: number[] = [];
    const fix = (v: number): number => (Number.isInteger(v) ? v + 0.05 : v);
    for (let i = 0; i + 1 < s.length; i++) {
      const mid = fix(round2((s[i][1] + s[i + 1][0]) / 2));
      if (mid - s[i][1] >= m && s[i + 1][0] - mid >= m) out.push(mid);
    }
    out.push(fix(round2(hi(s) + m + 0.25)), fix(round2(lo(s) - m - 0.25)));
    return out;
  }

  /** Sets for a fresh partner that keep `margin` from every element of s: gaps, above, below. */
  apartSets(s: VSet, margin: number): VSet[] {
    const m = margin + 3 * SAFETY;
    const out: VSet[] = [];
    for (let i = 0; i + 1 < s.length; i++) {
      const a = Math.ceil((s[i][1] + m) * 100) / 100;
      const b = Math.floor((s[i + 1][0] - m) * 100) / 100;
      if (b >= a) out.push(iv(a, b));
    }
    const up = Math.ceil((hi(s) + m) * 100) / 100;
    const dn = Math.floor((lo(s) - m) * 100) / 100;
    out.push(iv(up, up + 1.5), iv(dn - 1.5, dn));
    return out;
  }

  /**
   * A second operand for x: an existing compatible node (x itself included: x·x), a fresh
   * input (float, sometimes int data), or a constant, whichever first passes `accept`, starting
   * from the mode the chooser picks.
   */
  partner(c: Chooser, op: string, x: Info, accept: (y: Operand) => boolean, freshSets: VSet[], consts: number[]): Operand | null {
    const mode = c.int(4);
    const tryMode = (m: number): Operand | null => {
      switch (m) {
        case 0: return this.pickOk(c, this.floats(x.kind).filter((y) => this.compatible(op, x, y)), (y) => accept(y)) ?? null;
        case 1: {
          const pd = this.partnerDims(c, x);
          const probe = { ...x, id: "?", dims: pd.dims, shape: pd.shape, gap: 0, role: "data" as const };
          if (!this.compatible(op, x, probe)) return null;
          if (c.rare(6) && !(COMPARE_OPS as readonly string[]).includes(op) && op !== "pow" && op !== "div") {
            const intSet = iv(-3, 3);
            if (accept({ ...probe, set: intSet })) return this.fresh(x.kind, pd.dims, pd.shape, intSet, { dtype: c.bool() ? "int32" : "int64" });
          }
          const start = c.int(Math.max(freshSets.length, 1));
          for (let k = 0; k < freshSets.length; k++) {
            const s = freshSets[(start + k) % freshSets.length];
            if (accept({ ...probe, set: s })) return this.fresh(x.kind, pd.dims, pd.shape, s, { distinct: c.bool() });
          }
          return null;
        }
        case 2: {
          const start = c.int(Math.max(consts.length, 1));
          for (let k = 0; k < consts.length; k++) {
            const v = consts[(start + k) % consts.length];
            if (accept(v)) return v;
          }
          return null;
        }
        default: return accept(x) ? x : null;
      }
    };
    for (let k = 0; k < 4; k++) {
      const r = tryMode((mode + k) % 4);
      if (r !== null) return r;
    }
    return null;
  }

  binary(op: CaseOp, c: Chooser): Info | null {
    const sop = op as ScalarName;
    const margin = apartMargin(sop);
    const xs = this.floats();
    const x0 = c.recent(xs);
    let x: Info = x0;
    // Which side x takes: div and pow may put a partner first; sub/lt/... swap for variety.
    const swap = c.rare(3);
    const transfer = (a: VSet, b: VSet): VSet => {
      switch (op) {
        case "add": return addSet(a, b);
        case "sub": return subSet(a, b);
        case "mul": return mulSet(a, b);
        case "div": return divSet(a, b);
        case "pow": return powSet(a, b);
        case "maximum": return maxSet(a, b);
        case "minimum": return minSet(a, b);
        default: return norm01();
      }
    };
    const order = (y: Operand): [Operand, Operand] => (swap ? [y, x] : [x, y]);
    const accept = (y: Operand): boolean => {
      const [a, b] = order(y);
      const sa = setOf(a);
      const sb = setOf(b);
      if (!satisfies(sa, scalarDomain(sop, 0)) || !satisfies(sb, scalarDomain(sop, 1))) return false;
      if (margin !== null && !apart(sa, sb, margin)) return false;
      if (margin !== null && !isNum(y) && y.id === x.id) return false;
      return capped(transfer(sa, sb));
    };
    let freshSets: VSet[];
    let consts = CONSTS;
    if (margin !== null) {
      freshSets = this.apartSets(x.set, margin);
      consts = this.apartConstants(x.set, margin);
    } else if (op === "div") {
      freshSets = swap ? [iv(-2, 2)] : [drawSetFor(scalarDomain("div", 1))];
      consts = [1.5, -2, 0.75, 4, -0.6];
    } else if (op === "pow") {
      freshSets = swap ? [iv(0.3, 2), iv(0.5, 1.5)] : [iv(-1, 1), iv(0.5, 1.5), iv(-0.5, 0.5)];
      consts = swap ? [1.5, 0.5, 2.5] : [2, 0.5, 1.5, -0.5, 3, -1];
    } else {
      freshSets = [iv(-2, 2), union(iv(-2, -0.3), iv(0.3, 2)), iv(0.3, 2)];
    }
    // Sometimes the neutral or absorbing constant (x + 0, x * 1, x * 0): algebraic folds only
    // fire on literal constants, and x * 0 is where NaN-unsafe folding hides. 0 and 1 are weak
    // ints, so the operand keeps its own dtype.
    const neutral = (op === "add" || op === "sub" || op === "mul") && c.rare(4) ? c.pick([0, 1]) : null;
    // Put x into the domain of its own slot first (pow's base, div's denominator).
    const slot = swap ? 1 : 0;
    if (!satisfies(x.set, scalarDomain(sop, slot))) {
      const r = op === "pow" ? this.positive(x) : this.signed(c, x);
      if (r === null || !satisfies(r.set, scalarDomain(sop, slot))) return null;
      x = r;
      if (margin !== null) { freshSets = this.apartSets(x.set, margin); consts = this.apartConstants(x.set, margin); }
    }
    let y = neutral !== null && accept(neutral) ? neutral : this.partner(c, op, x, accept, freshSets, consts);
    if (y === null) {
      // Squash x and retry with a constant: tanh keeps everything bounded.
      const t = this.elem("tanh", [x], mapMono(x.set, Math.tanh), 0);
      if (t === null) return null;
      x = t;
      const cs = margin !== null ? this.apartConstants(x.set, margin) : consts;
      y = cs.find((v) => accept(v)) ?? null;
      if (y === null) return null;
    }
    const [a, b] = order(y);
    let gap = 0;
    if (op === "add" || op === "sub") gap = sumGap(a, b);
    else if (op === "mul" && isNum(y)) gap = scaleGap(x.gap, Math.abs(y));
    else if (op === "div" && !swap && isNum(y)) gap = scaleGap(x.gap, 1 / Math.abs(y));
    else if (op === "pow" && !swap && isNum(y) && y !== 0) gap = scaleGap(x.gap, Math.min(...[lo(x.set), hi(x.set)].map((v) => Math.abs(y as number) * v ** ((y as number) - 1))));
    return this.elem(op, [a, b], transfer(setOf(a), setOf(b)), gap);
  }

  /** A bool condition: a comparison of a float node against a constant or partner kept apart. */
  condition(c: Chooser): Info | null {
    const mode = c.int(3);
    if (mode === 2) {
      // eq(x, transpose(x)): all true, but only if alignment is by name.
      const x = this.pickOk(c, this.floats("xtensor"), (i) => i.dims.length >= 2);
      if (x !== undefined) {
        const t = this.emit("transpose", [x.id], { dims: [...x.dims].reverse() }, { ...x, dims: [...x.dims].reverse(), shape: [...x.shape].reverse() }, x.set, x.gap);
        return this.elem(c.bool() ? "ne" : "eq", [x, t], norm01(), 0);
      }
    }
    const ops: CaseOp[] = ["gt", "lt", "ge", "le"];
    const r = this.binary(ops[c.int(4)], c);
    return r === null || r.kind !== "xtensor" || r.dtype !== "bool" ? null : r;
  }

  where(c: Chooser): Info | null {
    let cond = this.pickOk(c, this.bools(), () => true);
    if (cond === undefined || c.rare(3)) cond = this.condition(c) ?? cond;
    if (cond === undefined) return null;
    const cd = cond;
    const x = this.pickOk(c, this.floats("xtensor"), (i) => this.compatible("where", cd, i));
    const xv: Operand = x ?? c.pick(CONSTS);
    const yMode = c.int(3);
    let y: Operand = c.pick(CONSTS);
    if (yMode === 1 && x !== undefined) {
      const pd = this.partnerDims(c, x);
      y = this.fresh("xtensor", pd.dims, pd.shape, iv(-2, 2));
    } else if (yMode === 2) {
      y = this.pickOk(c, this.floats("xtensor"), (i) => this.compatible("where", cd, i) && (x === undefined || this.compatible("where", x, i))) ?? y;
    }
    const args: Operand[] = c.rare(4) ? [cond, y, xv] : [cond, xv, y];
    const t = elemType("where", args);
    if (t === null || !isFloatDtype(t.dtype)) return null;
    return this.elem("where", args, union(setOf(args[1]), setOf(args[2])), 0);
  }

  cast(c: Chooser): Info | null {
    const cands = this.infos.filter((i) => (i.role === "node" || i.role === "data") && (isFloatDtype(i.dtype) || i.dtype === "bool"));
    const x = c.recent(cands);
    let to: CaseDType;
    if (x.dtype === "bool") to = this.float32 && c.rare(3) ? "float32" : "float64";
    else if (x.dtype === "float32") to = "float64";
    else to = this.float32 ? "float32" : "float64";
    const set = x.dtype === "bool" ? union(point(0), point(1)) : x.set;
    const gap = to === "float32" && x.gap !== Infinity ? Math.max(0, x.gap - maxAbs(set) * 2 ** -22) : x.dtype === "bool" ? 0 : x.gap;
    return this.emit("cast", [x.id], { dtype: to }, { kind: x.kind, dims: x.dims, shape: x.shape, dtype: to }, set, gap);
  }

  /** Reduce dims chosen by the chooser: a list in random order, null, absent (all), or []. */
  private reduceDims(c: Chooser, x: Info): { field: Record<string, unknown>; red: string[] } {
    const mode = c.int(5);
    if (mode === 1) return { field: { dims: null }, red: [...x.dims] };
    if (mode === 2) return { field: {}, red: [...x.dims] };
    const red = mode === 3 ? c.perm(x.dims) : c.perm(c.subset(x.dims));
    return { field: { dims: red }, red };
  }

  reduce(op: "sum" | "prod" | "mean" | "max" | "min" | "all" | "any" | "var" | "std", c: Chooser): Info | null {
    if (op === "all" || op === "any") {
      let x = this.pickOk(c, this.bools(), () => true);
      if (x === undefined) x = this.condition(c) ?? undefined;
      if (x === undefined) return null;
      const { field, red } = this.reduceDims(c, x);
      const kept = x.dims.filter((d) => !red.includes(d));
      return this.emit(op, [x.id], field, { kind: "xtensor", dims: kept, shape: kept.map((d) => x.shape[x.dims.indexOf(d)]), dtype: "bool" }, norm01(), 0);
    }
    // Positional sum with axes, on a tensor from `values`.
    const tensors = this.floats("tensor");
    if (op === "sum" && (tensors.length > 0 ? c.bool() : c.rare(4))) {
      const x = tensors.length > 0 ? c.recent(tensors) : (this.values(c) as Info);
      const nd = x.shape.length;
      const mode = c.int(3);
      let field: Record<string, unknown> = {};
      let axes = x.shape.map((_, i) => i);
      if (mode === 1) field = { axes: null };
      else if (mode === 2) {
        axes = c.perm(c.subset(axes));
        field = { axes: axes.map((a) => (c.bool() ? a - nd : a)) };
      }
      const keptShape = x.shape.filter((_, i) => !axes.includes(i));
      const set = sumN(hull(x.set), prod(axes.map((a) => x.shape[a])));
      // Beyond the cap: fall through to a named reduction, which repairs by reducing less.
      if (capped(set)) return this.emit("sum", [x.id], field, { kind: "tensor", dims: [], shape: keptShape, dtype: x.dtype }, set, 0);
    }
    const dom = reduceDomain(op === "mean" || op === "var" || op === "std" ? "sum" : op);
    const xs = this.floats("xtensor");
    // The dims choice must not depend on how many candidates were tried: fixed salts.
    const salts = [c.int(256), c.int(256), c.int(256), c.int(256)];
    const plan = (x: Info): { field: Record<string, unknown>; red: string[]; set: VSet; gap: number } | null => {
      if (!satisfies(x.set, dom.input)) return null;
      const cc = new Chooser(salts);
      let { field, red } = this.reduceDims(cc, x);
      const n = (): number => prod(red.map((d) => x.shape[x.dims.indexOf(d)]));
      const outSet = (): VSet | null => {
        switch (op) {
          case "sum": return sumN(hull(x.set), n());
          case "mean": return hull(x.set);
          case "prod": return prodN(x.set, n());
          case "max": case "min": return n() >= 2 && !distinctEnough(x.gap, dom.distinct) ? null : x.set;
          case "var": case "std": {
            const ddof = (field as { ddof?: number }).ddof ?? 0;
            const k = n();
            if (k - ddof < 1) return null;
            const vhi = ((width(x.set) ** 2) / 4) * (k / (k - ddof));
            if (op === "var") return iv(0, vhi);
            const vlo = varianceLowerBound(x.gap, k);
            return satisfies(iv(vlo, vhi), scalarDomain("sqrt")) ? iv(Math.sqrt(vlo), Math.sqrt(vhi)) : null;
          }
        }
      };
      if (op === "var" || op === "std") {
        const dd = cc.int(3);
        if (dd > 0) field = { ...field, ddof: dd - 1 };
      }
      let s = outSet();
      // A max/min over values too close together is not repaired by reducing less: that ends,
      // more often than not, at the identity reduction over no dims, which leaves the max/min
      // pullback untested. Another operand (or a fresh distinct leaf) keeps the reduction real.
      if (s === null && (op === "max" || op === "min") && red.length > 0) return null;
      // Repair: reduce over fewer dims until the result is inside the domain and the cap.
      while ((s === null || !capped(s)) && red.length > 0) {
        red = red.slice(0, -1);
        field = { ...field, dims: red };
        s = outSet();
      }
      if (s === null || !capped(s)) return null;
      const gap = op === "max" || op === "min" ? x.gap : 0;
      return { field, red, set: s, gap };
    };
    let x = this.pickOk(c, xs, (i) => plan(i) !== null);
    if (x === undefined) {
      const base = c.recent(xs);
      const r = op === "prod" ? this.signed(c, base) : null;
      x = r !== null && plan(r) !== null ? r
        : op === "std" ? this.freshLeaf(c, iv(-3, 3), true, 8, 0.8)
        : this.freshLeaf(c, drawSetFor(dom.input), dom.distinct !== null, 40);
    }
    const pl = plan(x);
    if (pl === null) return null;
    const xx = x;
    const kept = x.dims.filter((d) => !pl.red.includes(d));
    const dtype: CaseDType = op === "mean" || op === "var" || op === "std" ? (isFloatDtype(x.dtype) ? x.dtype : "float64") : x.dtype;
    return this.emit(op, [x.id], pl.field, { kind: "xtensor", dims: kept, shape: kept.map((d) => xx.shape[xx.dims.indexOf(d)]), dtype }, pl.set, pl.gap);
  }

  cum(op: "cumsum" | "cumprod", c: Chooser): Info | null {
    const dom = cumDomain(op === "cumsum" ? "add" : "mul");
    const xs = this.floats("xtensor").filter((i) => i.dims.length > 0);
    const out = (x: Info, d: string): VSet => {
      const n = x.shape[x.dims.indexOf(d)];
      return op === "cumsum" ? cumsumN(x.set, n) : cumprodN(x.set, n);
    };
    const ok = (x: Info): boolean => satisfies(x.set, dom) && x.dims.some((d) => capped(out(x, d)));
    let x = this.pickOk(c, xs, ok);
    if (x === undefined) {
      const base = xs.length > 0 ? c.recent(xs) : undefined;
      const r = base !== undefined ? (op === "cumprod" ? this.signed(c, base) : this.elem("tanh", [base], mapMono(base.set, Math.tanh), 0)) : null;
      x = r !== null && ok(r) ? r : this.freshLeaf(c, drawSetFor(dom));
      if (x.dims.length === 0 || !ok(x)) return null;
    }
    const xx = x;
    const dims = x.dims.filter((d) => capped(out(xx, d)));
    const d = c.pick(dims);
    return this.emit(op, [x.id], { dim: d }, { kind: "xtensor", dims: x.dims, shape: x.shape, dtype: x.dtype }, out(x, d), 0);
  }

  /** `x0`: an int operand of {@link intRoute}, dotted with a float (never with itself). */
  dot(c: Chooser, x0?: Info): Info | null {
    const xs = this.floats("xtensor");
    const x = x0 ?? c.recent(xs);
    const mode = c.int(3);
    let y: Info | undefined;
    if (mode === 0) y = this.pickOk(c, xs, (i) => this.compatible("mul", x, i));
    if (mode === 2 && x0 === undefined) y = x; // dot(x, x)
    if (y === undefined) {
      const pd = this.partnerDims(c, x);
      if (c.bool() && pd.dims.length < 3) {
        const nu = this.unused([...x.dims, ...pd.dims]).filter((d) => (DIM_ALPHABET as readonly string[]).includes(d));
        if (nu.length > 0) { pd.dims.push(nu[0]); pd.shape.push(this.len(nu[0])); }
      }
      y = this.fresh("xtensor", pd.dims, pd.shape, iv(-2, 2), { dtype: this.partnerDtype(x.dtype) });
    }
    const yy = y;
    const union_ = [...x.dims, ...y.dims.filter((d) => !x.dims.includes(d))];
    const shared = x.dims.filter((d) => yy.dims.includes(d));
    // Modes 3 and 5 both sum a privately held dim when there is one (see below): twice as often.
    const dm = c.int(6);
    let field: string[] | null | "...";
    let contracted: string[];
    if (dm === 0) { field = null; contracted = shared; }
    else if (dm === 1) { field = "..."; contracted = union_; }
    else if (dm === 2) { field = []; contracted = []; }
    else if (dm === 3 || dm === 5) {
      // Shared dims plus one dim of only one operand: xarray sums it there alone, and the
      // pullback must broadcast it back (einsum's privately summed letter). Always one when there
      // is one: with an operand that also keeps other dims this is the pullback's rarest branch
      // (its broadcast order), and mode 4 already draws contractions of shared dims only.
      const priv = union_.filter((d) => !shared.includes(d));
      contracted = c.perm([...c.subset(shared), ...(priv.length > 0 ? [c.pick(priv)] : [])]);
      field = contracted;
    }
    else { contracted = c.perm(c.subset(union_)); field = contracted; }
    const len = (d: string): number => (x.dims.includes(d) ? x.shape[x.dims.indexOf(d)] : yy.shape[yy.dims.indexOf(d)]);
    const out = union_.filter((d) => !contracted.includes(d));
    const m = prod(contracted.map(len));
    const pset = mulSet(x.set, y.set);
    const set = m === 1 ? pset : sumN(hull(pset), m);
    if (!capped(set) || prod(out.map(len)) > this.maxElems) return null;
    return this.emit("dot", [x.id, y.id], { dims: field }, { kind: "xtensor", dims: out, shape: out.map(len), dtype: promote2(x.dtype, y.dtype) }, set, 0);
  }

  transpose(c: Chooser): Info | null {
    const x = this.pickOk(c, this.infos.filter((i) => i.kind === "xtensor" && i.role !== "index" && i.role !== "weight"), () => true);
    if (x === undefined) return null;
    const perm = c.perm(x.dims);
    let field: string[] = perm;
    let dims = perm;
    if (c.bool() && perm.length > 0) {
      // "..." stands for the unnamed dims in their original order.
      const named = perm.slice(0, c.int(perm.length + 1));
      const at = c.int(named.length + 1);
      field = [...named.slice(0, at), "...", ...named.slice(at)];
      const rest = x.dims.filter((d) => !named.includes(d));
      dims = [...named.slice(0, at), ...rest, ...named.slice(at)];
    }
    return this.emit("transpose", [x.id], { dims: field }, { kind: "xtensor", dims, shape: dims.map((d) => x.shape[x.dims.indexOf(d)]), dtype: x.dtype }, x.set, x.gap);
  }

  rename(c: Chooser): Info | null {
    const x = this.pickOk(c, this.infos.filter((i) => i.kind === "xtensor" && i.dims.length > 0 && (i.role === "node" || i.role === "data")), () => true);
    if (x === undefined) return null;
    const mode = c.int(3);
    const map: Record<string, string> = {};
    if (mode === 0 && x.dims.length >= 2) {
      const [p, q] = c.perm(x.dims);
      map[p] = q; map[q] = p; // a swap
    } else if (mode === 1 && x.dims.length >= 3) {
      const [p, q, r] = c.perm(x.dims);
      map[p] = q; map[q] = r; map[r] = p;
    } else {
      const d = c.pick(x.dims);
      const to = this.newDim(c, x.dims, 3);
      if (to === null) return null;
      map[d] = to;
    }
    const dims = x.dims.map((d) => map[d] ?? d);
    return this.emit("rename", [x.id], { map }, { kind: "xtensor", dims, shape: x.shape, dtype: x.dtype }, x.set, x.gap);
  }

  stack(c: Chooser): Info | null {
    const x = this.pickOk(c, this.floats("xtensor"), (i) => i.dims.length >= 1);
    if (x === undefined) return null;
    let from = c.perm(x.dims);
    from = from.slice(0, Math.max(1, from.length - c.int(from.length)));
    // Prefer an order different from the input's: that is where the two conventions differ.
    const inInputOrder = from.every((d, i) => i === 0 || x.dims.indexOf(from[i - 1]) < x.dims.indexOf(d));
    if (from.length >= 2 && inInputOrder && !c.rare(4)) from.reverse();
    const name = this.newDim(c, x.dims);
    if (name === null) return null;
    const kept = x.dims.filter((d) => !from.includes(d));
    const len = prod(from.map((d) => x.shape[x.dims.indexOf(d)]));
    return this.emit("stack", [x.id], { dim: name, from }, { kind: "xtensor", dims: [...kept, name], shape: [...kept.map((d) => x.shape[x.dims.indexOf(d)]), len], dtype: x.dtype }, x.set, x.gap);
  }

  unstack(c: Chooser): Info | null {
    const x = this.pickOk(c, this.floats("xtensor"), (i) => i.dims.length >= 1);
    if (x === undefined) return null;
    const d = c.recent(x.dims);
    const L = x.shape[x.dims.indexOf(d)];
    const kept = x.dims.filter((e) => e !== d);
    const facts: number[][] = [[L]];
    // Two new dims only while two names are free (the removed dim's own is one of them).
    if (this.unused(kept).length >= 2) for (let a = 1; a <= L; a++) if (L % a === 0) facts.push([a, L / a]);
    const sizes = c.pick(facts);
    // The removed dim's own name may be reused for a new dim.
    const names = c.perm(this.unused(kept).slice(0, 4)).slice(0, sizes.length);
    const to = names.map((n, i) => [n, sizes[i]] as [string, number]);
    return this.emit("unstack", [x.id], { dim: d, to }, { kind: "xtensor", dims: [...kept, ...names], shape: [...kept.map((e) => x.shape[x.dims.indexOf(e)]), ...sizes], dtype: x.dtype }, x.set, x.gap);
  }

  concat(c: Chooser): Info | null {
    const x = c.recent(this.floats("xtensor"));
    const existing = x.dims.length > 0 && !c.rare(3);
    const dim = existing ? c.pick(x.dims) : this.newDim(c, x.dims);
    if (dim === null) return null;
    const parts: Info[] = [x];
    const n = 1 + c.int(2);
    for (let k = 0; k < n; k++) {
      const mode = c.int(3);
      if (mode === 1) { parts.push(x); continue; } // concat(x, x)
      const other = mode === 2 ? this.pickOk(c, this.floats("xtensor"), (i) => i !== x && this.concatOk(dim, [...parts, i])) : undefined;
      if (other !== undefined) { parts.push(other); continue; }
      // A fresh input, sometimes lacking the dim (it then counts as one broadcast slice).
      let dims = c.perm(x.dims);
      if (existing && c.bool()) dims = dims.filter((d) => d !== dim);
      const shape = dims.map((d) => (d === dim ? 1 + c.int(3) : x.shape[x.dims.indexOf(d)]));
      parts.push(this.fresh("xtensor", dims, shape, iv(-2, 2), { dtype: this.partnerDtype(x.dtype) }));
    }
    if (!this.concatOk(dim, parts)) return null;
    const t = this.concatType(dim, parts);
    if (prod(t.shape) > this.maxElems) return null;
    return this.emit("concat", parts.map((p) => p.id), { dim }, t, union(...parts.map((p) => p.set)), 0);
  }

  private concatOk(dim: string, parts: Info[]): boolean {
    const sizes = new Map<string, number>();
    for (const p of parts) {
      for (let j = 0; j < p.dims.length; j++) {
        if (p.dims[j] === dim) continue;
        const prev = sizes.get(p.dims[j]);
        if (prev !== undefined && prev !== p.shape[j]) return false;
        sizes.set(p.dims[j], p.shape[j]);
      }
    }
    return true;
  }

  private concatType(dim: string, parts: Info[]): { kind: Kind; dims: string[]; shape: number[]; dtype: CaseDType } {
    const exists = parts.some((p) => p.dims.includes(dim));
    const order: string[] = exists ? [] : [dim];
    const sizes = new Map<string, number>();
    for (const p of parts) {
      p.dims.forEach((d, j) => {
        if (!order.includes(d)) order.push(d);
        if (d !== dim) sizes.set(d, p.shape[j]);
      });
    }
    sizes.set(dim, exists ? parts.reduce((s, p) => s + (p.dims.includes(dim) ? p.shape[p.dims.indexOf(dim)] : 1), 0) : parts.length);
    return { kind: "xtensor", dims: order, shape: order.map((d) => sizes.get(d) as number), dtype: parts.map((p) => p.dtype).reduce(promote2) };
  }

  expandDims(c: Chooser): Info | null {
    const x = this.pickOk(c, this.floats("xtensor"), (i) => i.dims.length < 6);
    if (x === undefined) return null;
    const name = this.newDim(c, x.dims);
    if (name === null) return null;
    const sz = c.int(4);
    const size = sz === 0 ? 1 : sz;
    if (prod(x.shape) * size > this.maxElems) return null;
    const field: Record<string, unknown> = sz === 0 ? { dim: name } : { dim: name, size };
    return this.emit("expand_dims", [x.id], field, { kind: "xtensor", dims: [name, ...x.dims], shape: [size, ...x.shape], dtype: x.dtype }, x.set, size === 1 ? x.gap : 0);
  }

  squeeze(c: Chooser): Info | null {
    const x = this.pickOk(c, this.floats("xtensor"), (i) => i.shape.includes(1));
    if (x === undefined) return null; // skipped: nothing to squeeze anywhere
    const ones = x.dims.filter((_, i) => x.shape[i] === 1);
    let dims = c.perm(c.subset(ones));
    if (dims.length === 0) dims = [ones[0]];
    const kept = x.dims.filter((d) => !dims.includes(d));
    return this.emit("squeeze", [x.id], { dims }, { kind: "xtensor", dims: kept, shape: kept.map((d) => x.shape[x.dims.indexOf(d)]), dtype: x.dtype }, x.set, x.gap);
  }

  /**
   * Indexers for x: ints (negative too), slices (negative steps and bounds, never empty), and
   * integer index arrays over a new dim, zipped on a shared new dim, over a kept dim of x
   * (vectorized, xarray's pointwise rule), or 2-d. Returns the args, indexers and view type.
   */
  indexers(c: Chooser, x: Info, firstArg: number, repeat: boolean): { idx: Info[]; indexers: Record<string, Indexer>; view: { dims: string[]; shape: number[] }; distinct: boolean; mult: number } | null {
    const indexers: Record<string, Indexer> = {};
    type Arr = { d: string; dims: string[]; shape: number[] };
    const arrays: Arr[] = [];
    const kinds = new Map<string, "int" | "slice" | "arr">();
    for (const d of c.perm(x.dims)) {
      const k = c.int(4);
      if (k === 1) kinds.set(d, "int");
      else if (k === 2) kinds.set(d, "slice");
      else if (k === 3) kinds.set(d, "arr");
    }
    const len = (d: string): number => x.shape[x.dims.indexOf(d)];
    const keptDims = x.dims.filter((d) => !kinds.has(d));
    const taken = new Set(x.dims);
    let sharedNew: { name: string; len: number } | null = null;
    for (const d of x.dims) {
      const kd = kinds.get(d);
      const n = len(d);
      if (kd === "int") indexers[d] = c.bool() ? -1 - c.int(n) : c.int(n);
      else if (kd === "slice") {
        const steps = [null, 1, -1, 2, -2];
        const step = steps[c.int(steps.length)];
        const bound = (): number | null => (c.bool() ? null : c.int(2 * n + 2) - n - 1);
        let spec: SliceSpec = [bound(), bound(), step];
        if (normalizeSlice(spec, n).length === 0) spec = [null, null, step];
        indexers[d] = { slice: spec };
      } else if (kd === "arr") {
        const form = c.int(4);
        let dims: string[];
        let shape: number[];
        if (form === 1 && keptDims.length > 0) {
          const kdim = c.pick(keptDims); // an array over a kept dim: zipped with it
          dims = [kdim]; shape = [len(kdim)];
        } else if (form === 2 && sharedNew !== null) {
          dims = [sharedNew.name]; shape = [sharedNew.len]; // zipped with an earlier array
        } else {
          // Every name taken (many arrays on a 4-d value): repair to a full slice of the dim.
          const free = ALL_NAMES.filter((m) => !taken.has(m));
          if (free.length === 0) {
            indexers[d] = { slice: [null, null, null] };
            continue;
          }
          const nm = free[0];
          taken.add(nm);
          const l = 1 + c.int(3);
          if (form === 3 && free.length >= 2) {
            const nm2 = free[1];
            taken.add(nm2);
            dims = [nm, nm2]; shape = [l, 1 + c.int(2)];
          } else {
            dims = [nm]; shape = [l];
            sharedNew = { name: nm, len: l };
          }
        }
        arrays.push({ d, dims, shape });
      }
    }
    // Index values: random in [-n, n), with repeats when asked (set/inc accumulate them).
    const idx: Info[] = [];
    let distinct = true;
    let mult = 1;
    arrays.forEach((a, j) => {
      const n = len(a.d);
      const size = prod(a.shape);
      const r = this.rngFor("idx");
      let vals: number[];
      const perm = Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i--) { const k = Math.floor(r() * (i + 1)); [perm[i], perm[k]] = [perm[k], perm[i]]; }
      if (!repeat && size <= n) vals = perm.slice(0, size);
      else vals = Array.from({ length: size }, () => Math.floor(r() * n));
      vals = vals.map((v) => (r() < 0.3 ? v - n : v));
      const norm = vals.map((v) => (v < 0 ? v + n : v));
      const counts = new Map<number, number>();
      norm.forEach((v) => counts.set(v, (counts.get(v) ?? 0) + 1));
      const m = Math.max(...counts.values());
      if (m > 1) distinct = false;
      mult *= m;
      idx.push(this.freshIndex(a.dims, a.shape, vals, c.rare(4) ? "int32" : "int64"));
      indexers[a.d] = { arg: firstArg + j };
    });
    // The view's type, as in parse.ts (xarray's _broadcast_indexes).
    const entries = x.dims.map((d) => ({ d, a: arrays.find((q) => q.d === d), k: kinds.get(d) }));
    const outerDims = entries.flatMap(({ d, a, k }) => (k === undefined || k === "slice" ? [d] : a !== undefined ? [a.dims[0]] : []));
    const outer = arrays.every((a) => a.dims.length === 1) && new Set(outerDims).size === outerDims.length;
    const dims: string[] = [];
    const sizes = new Map<string, number>();
    const sliceLen = (d: string): number => normalizeSlice((indexers[d] as { slice: SliceSpec }).slice, len(d)).length;
    for (const { d, a, k } of entries) {
      const add = (nm: string, l: number): boolean => {
        const prev = sizes.get(nm);
        if (prev !== undefined && prev !== l) return false;
        sizes.set(nm, l);
        if (!dims.includes(nm)) dims.push(nm);
        return true;
      };
      let ok = true;
      if (k === undefined) ok = add(d, len(d));
      else if (k === "slice") ok = add(d, sliceLen(d));
      else if (a !== undefined) {
        if (outer) ok = add(a.dims[0], a.shape[0]);
        else a.dims.forEach((ad, j) => { ok = add(ad, a.shape[j]) && ok; });
      }
      // A clash (a kept dim sliced shorter than an array zipped with it): drop this indexing.
      if (!ok) return null;
    }
    const shape = dims.map((d) => sizes.get(d) as number);
    if (prod(shape) > this.maxElems) return null;
    return { idx, indexers, view: { dims, shape }, distinct, mult };
  }

  isel(c: Chooser): Info | null {
    const x = this.pickOk(c, this.floats("xtensor"), (i) => i.dims.length >= 1);
    if (x === undefined) return null;
    const r = this.indexers(c, x, 1, c.rare(3));
    if (r === null) return null;
    return this.emit("isel", [x.id, ...r.idx.map((i) => i.id)], { indexers: r.indexers }, { kind: "xtensor", dims: r.view.dims, shape: r.view.shape, dtype: x.dtype }, x.set, r.distinct ? x.gap : 0);
  }

  update(op: "set" | "inc", c: Chooser): Info | null {
    const x = this.pickOk(c, this.floats("xtensor"), (i) => i.dims.length >= 1);
    if (x === undefined) return null;
    const r = this.indexers(c, x, 2, c.bool());
    if (r === null) return null;
    const view = r.view;
    const mode = c.int(3);
    let y: Operand;
    const fits = (i: Info): boolean => i.kind === "xtensor" && i.dims.every((d, j) => view.dims.includes(d) && view.shape[view.dims.indexOf(d)] === i.shape[j]) && KIND[i.dtype] <= KIND[x.dtype];
    if (mode === 0) y = c.pick(CONSTS);
    else {
      const ex = mode === 2 ? this.pickOk(c, this.floats("xtensor"), fits) : undefined;
      if (ex !== undefined) y = ex;
      else {
        // A fresh update aligned by name to a random subset of the view's dims, in random order.
        const dims = c.perm(c.subset(view.dims));
        y = this.fresh("xtensor", dims, dims.map((d) => view.shape[view.dims.indexOf(d)]), iv(-2, 2), { dtype: this.partnerDtype(x.dtype, true) });
      }
    }
    const ys = setOf(y);
    const set = op === "set" ? union(x.set, ys) : union(x.set, addSet(x.set, iv(Math.min(lo(ys), r.mult * lo(ys)), Math.max(hi(ys), r.mult * hi(ys)))));
    if (!capped(set)) return null;
    return this.emit(op, [x.id, argOf(y), ...r.idx.map((i) => i.id)], { indexers: r.indexers }, { kind: "xtensor", dims: x.dims, shape: x.shape, dtype: x.dtype }, set, 0);
  }

  values(c: Chooser): Info | null {
    const x = c.recent(this.floats("xtensor"));
    const info = this.emit("values", [x.id], {}, { kind: "tensor", dims: [], shape: x.shape, dtype: x.dtype }, x.set, x.gap);
    info.srcDims = [...x.dims];
    return info;
  }

  asXTensor(c: Chooser): Info | null {
    let t = this.pickOk(c, this.infos.filter((i) => i.kind === "tensor" && i.role === "node"), () => true);
    if (t === undefined || c.rare(3)) t = this.values(c) ?? undefined;
    if (t === undefined) return null;
    const nd = t.shape.length;
    let dims: string[];
    const mode = c.int(3);
    if (t.srcDims !== undefined && t.srcDims.length === nd && mode !== 2) {
      // Round trip, or a positional relabel with permuted names (a silent transpose when square).
      dims = mode === 0 ? c.perm(t.srcDims) : [...t.srcDims];
    } else {
      dims = c.perm(ALL_NAMES).slice(0, nd);
      if (nd > ALL_NAMES.length) return null;
    }
    return this.emit("as_xtensor", [t.id], { dims }, { kind: "xtensor", dims, shape: t.shape, dtype: t.dtype }, t.set, t.gap);
  }

  // ---- root and cost ----

  root(): void {
    const r = Math.abs(Math.trunc(this.recipe.root)) % 4096;
    const c = new Chooser([r % 7, (r >> 3) % 5, (r >> 5) % 3, r % 11]);
    const nd = [2, 1, 2, 3, 2, 0, 3][r % 7];
    const dims = c.perm([...DIM_ALPHABET]).slice(0, nd);
    const sets: VSet[] = [iv(-2, 2), union(iv(-2, -0.3), iv(0.3, 2)), iv(0.3, 2), iv(-3, 3), iv(-1, 1)];
    const set = sets[(r >> 3) % sets.length];
    this.fresh("xtensor", dims, dims.map((d) => this.len(d)), set, { distinct: ((r >> 6) & 1) === 0 });
  }

  /** `cost = Σ_k sum(w_k · sink_k)`; returns the cost id and wrt. */
  finish(): { cost: string; wrt: string[] } {
    this.stepKey = "cost";
    this.freshInStep = 0;
    const used = new Set(this.nodes.flatMap((n) => n.args.filter((a): a is string => typeof a === "string")));
    let sinks = this.infos.filter((i) => i.role === "node" && isFloatDtype(i.dtype) && !used.has(i.id));
    if (sinks.length === 0) {
      const fl = this.floats();
      sinks = [fl[fl.length - 1]];
    }
    const c = new Chooser([this.recipe.seed % 97, this.recipe.seed % 89, this.recipe.seed % 83]);
    const parts: Info[] = [];
    for (const s of sinks) {
      if (s.kind === "tensor") {
        const w = this.fresh("tensor", [], s.shape, iv(0.5, 1.49), { role: "weight" });
        const m = this.emit("mul", [s.id, w.id], {}, { kind: "tensor", dims: [], shape: s.shape, dtype: promote2(s.dtype, "float64") }, iv(-CAP * 1.5, CAP * 1.5), 0);
        const r = this.emit("sum", [m.id], {}, { kind: "tensor", dims: [], shape: [], dtype: m.dtype }, point(0), 0);
        parts.push(this.emit("as_xtensor", [r.id], { dims: [] }, { kind: "xtensor", dims: [], shape: [], dtype: m.dtype }, point(0), 0));
      } else {
        // Weights in a permuted dims order: the product must align them by name.
        const wd = c.perm(s.dims);
        const w = this.fresh("xtensor", wd, wd.map((d) => s.shape[s.dims.indexOf(d)]), iv(0.5, 1.49), { role: "weight" });
        const m = this.emit("mul", [s.id, w.id], {}, { kind: "xtensor", dims: s.dims, shape: s.shape, dtype: promote2(s.dtype, "float64") }, point(0), 0);
        parts.push(this.emit("sum", [m.id], { dims: null }, { kind: "xtensor", dims: [], shape: [], dtype: m.dtype }, point(0), 0));
      }
    }
    let acc = parts[0];
    for (let k = 1; k < parts.length; k++) {
      acc = this.emit("add", [acc.id, parts[k].id], {}, { kind: "xtensor", dims: [], shape: [], dtype: "float64" }, point(0), 0);
    }
    // Name the final node "cost" (rename it in place: it is the last node).
    const last = this.nodes[this.nodes.length - 1];
    last.id = "cost";
    acc.id = "cost";
    return { cost: "cost", wrt: this.connectedFloatInputs("cost") };
  }

  /** Float data inputs with a differentiable path to `cost` (weights excluded). */
  private connectedFloatInputs(cost: string): string[] {
    const byId = new Map(this.nodes.map((n) => [n.id, n]));
    const seen = new Set<string>();
    const stack = [cost];
    while (stack.length > 0) {
      const id = stack.pop() as string;
      if (seen.has(id)) continue;
      seen.add(id);
      const n = byId.get(id);
      if (n === undefined) continue;
      const all: CaseArg[] = n.args;
      let args: string[] = all.filter((a): a is string => typeof a === "string");
      if ((COMPARE_OPS as readonly string[]).includes(n.op) || n.op === "all" || n.op === "any") args = [];
      else if (n.op === "where") args = args.filter((a) => a !== n.args[0]);
      else if (n.op === "isel") args = [n.args[0] as string];
      else if (n.op === "set" || n.op === "inc") args = all.slice(0, 2).filter((a): a is string => typeof a === "string");
      stack.push(...args);
    }
    const weights = new Set(this.infos.filter((i) => i.role === "weight").map((i) => i.id));
    return this.inputs.filter((i) => isFloatDtype(i.dtype) && seen.has(i.name) && !weights.has(i.name)).map((i) => i.name);
  }
}

const norm01 = (): VSet => union(point(0), point(1));

/**
 * Build the case a recipe describes. Pure and total: every recipe (any step list, any
 * numbers) gives a valid case, and the same recipe always gives the same case.
 */
export function buildFromRecipe(recipe: Recipe, opts: BuildOptions = {}): Case {
  const b = new Builder(recipe, opts);
  b.root();
  recipe.steps.forEach((s, i) => {
    b.beginStep(s, i);
    const before = { n: b.nodes.length, i: b.inputs.length, infos: b.infos.length };
    try {
      b.step(s.op, new Chooser(s.p));
    } catch (e) {
      // A step must never break the case; a builder bug here is a bug, but the graph built so
      // far stays valid, so roll the step back rather than emit a half-built step.
      b.nodes.length = before.n;
      b.inputs.length = before.i;
      b.infos.length = before.infos;
      if (!(e instanceof StepSkipped)) throw e;
    }
  });
  const { cost, wrt } = b.finish();
  const c: Case = { format: "xgrad-case/1", inputs: b.inputs, nodes: b.nodes, cost, wrt };
  if (opts.name !== undefined) c.name = opts.name;
  return c;
}

/** Thrown by a step that cannot apply and has nothing to repair with. */
export class StepSkipped extends Error {}
