/**
 * A second, deliberately naive evaluator of `xgrad-case/1` cases with xarray semantics.
 *
 * Property tests compare the engine's lowered graphs against this interpreter, so it must share
 * no code with the engine: it does not import `src/` at all, reads the case through the local
 * structural types below, and evaluates every named op directly on "dims dictionaries" (a name
 * → position map per element) instead of lowering to positional ops. Every op walks its output
 * element by element with an odometer and looks each input element up by name. That is slow and
 * obviously correct, which is the point: clarity over speed.
 *
 * The rules are those of `/work/shared/spec/semantics.md` and, where that is silent, of xarray
 * 2026.9 / numpy 2.4 as pinned by `test/xtensor/fixtures/golden.json`, which this module must
 * reproduce exactly (see `reference.test.ts`).
 *
 * Numbers are held as float64. Consequences, all deliberate:
 * - float32 results are rounded with `Math.fround` after every op. For + − × ÷ and sqrt this is
 *   bit-identical to float32 arithmetic (float64 has more than 2·24+2 bits, so double rounding is
 *   harmless); for transcendental functions and reductions numpy's float32 kernels may differ in
 *   the last few ulps, so compare float32 values with a float32 tolerance.
 * - int64 is exact only up to 2^53; int32 wraps like numpy (`| 0`).
 * - bool is 0/1.
 */

/** dtypes of the case format. */
export type RefDtype = "float64" | "float32" | "int64" | "int32" | "bool";

/** A nested input value: nested arrays in dims order, or a scalar for 0-d. */
export type RefNested = number | boolean | RefNested[];

/** Structural view of one case input (only what the reference reads). */
export interface RefCaseInput {
  name: string;
  kind: "xtensor" | "tensor";
  dims?: string[];
  shape: number[];
  dtype: string;
  value: RefNested;
}

/** Structural view of one case node: an op, its args and its op-specific fields. */
export interface RefCaseNode {
  id: string;
  op: string;
  args: (string | number)[];
  [field: string]: unknown;
}

/** Structural view of a case (`xgrad-case/1`). */
export interface RefCase {
  format?: string;
  name?: string;
  inputs: RefCaseInput[];
  nodes: RefCaseNode[];
  cost: string;
  wrt?: string[];
}

/** One evaluated value. `dims` is present exactly for xtensors; `data` is flat in C order. */
export interface RefValue {
  dims?: string[];
  shape: number[];
  dtype: RefDtype;
  data: number[];
}

/** Raised for any case the reference cannot or will not evaluate; names the node and op. */
export class RefEvalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RefEvalError";
  }
}

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

/** An array value. `dims` is null for positional tensors. */
interface Arr {
  readonly dims: string[] | null;
  readonly shape: number[];
  readonly dtype: RefDtype;
  readonly data: number[];
}

/** A number argument: a NEP 50 "weak" scalar whose kind comes from whether it is integral. */
interface Weak {
  readonly weak: true;
  readonly value: number;
  readonly isInt: boolean;
}

type Operand = Arr | Weak;

const DTYPES: readonly RefDtype[] = ["float64", "float32", "int64", "int32", "bool"];

function isWeak(v: Operand): v is Weak {
  return (v as Weak).weak === true;
}

function isFloat(d: RefDtype): boolean {
  return d === "float64" || d === "float32";
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Calls `fn` with every multi-index of `shape` in C order (last axis fastest). */
function forEachIndex(shape: readonly number[], fn: (idx: number[]) => void): void {
  const n = size(shape);
  const idx = shape.map(() => 0);
  for (let k = 0; k < n; k++) {
    fn(idx);
    for (let ax = shape.length - 1; ax >= 0; ax--) {
      if (++idx[ax] < shape[ax]) break;
      idx[ax] = 0;
    }
  }
}

/** Flat C-order offset of a multi-index. */
function offset(shape: readonly number[], idx: readonly number[]): number {
  let off = 0;
  for (let ax = 0; ax < shape.length; ax++) off = off * shape[ax] + idx[ax];
  return off;
}

/** Element of a named array at the positions given by name (extra names are ignored). */
function atNamed(a: Arr, pos: ReadonlyMap<string, number>): number {
  const dims = a.dims as string[];
  return a.data[offset(a.shape, dims.map((d) => pos.get(d) as number))];
}

function posMap(dims: readonly string[], idx: readonly number[]): Map<string, number> {
  return new Map(dims.map((d, i) => [d, idx[i]]));
}

/** Rounds a float64 result to what `dtype` can hold, as numpy's kernels would. */
function fit(dtype: RefDtype, v: number): number {
  switch (dtype) {
    case "float64":
      return v;
    case "float32":
      return Math.fround(v);
    case "int64":
      return v;
    case "int32":
      return v | 0; // numpy int32 arithmetic wraps modulo 2^32
    case "bool":
      return v !== 0 ? 1 : 0; // NaN is truthy, as in numpy
  }
}

/** numpy's `astype`: float→int truncates toward zero, anything→bool is "nonzero". */
function castValue(dtype: RefDtype, v: number): number {
  if (dtype === "int64" || dtype === "int32") return fit(dtype, Math.trunc(v));
  return fit(dtype, v);
}

// ---------------------------------------------------------------------------------------------
// dtype promotion (numpy 2, NEP 50)
// ---------------------------------------------------------------------------------------------

/** Promotion of two strong (array) dtypes over xgrad's five dtypes. */
function promoteStrong(a: RefDtype, b: RefDtype): RefDtype {
  if (a === b) return a;
  if (a === "bool") return b;
  if (b === "bool") return a;
  if (isFloat(a) && isFloat(b)) return "float64";
  if (!isFloat(a) && !isFloat(b)) return "int64"; // int32 with int64
  // float32 cannot represent every int32/int64, so numpy goes to float64; float64 absorbs all.
  return "float64";
}

/**
 * Result dtype of an elemwise op. Numbers are weak (NEP 50): a weak int takes the array's dtype
 * (bool becomes int64, the default int), a weak float takes the array's float dtype or float64.
 */
function resultDtype(ops: readonly Operand[]): RefDtype {
  const strong = ops.filter((o): o is Arr => !isWeak(o));
  const weak = ops.filter(isWeak);
  if (strong.length === 0) return weak.every((w) => w.isInt) ? "int64" : "float64";
  let d = strong.map((s) => s.dtype).reduce(promoteStrong);
  for (const w of weak) {
    if (w.isInt) d = d === "bool" ? "int64" : d;
    else d = isFloat(d) ? d : "float64";
  }
  return d;
}

/** sum/prod/cumsum/cumprod accumulate ints in numpy's default integer, int64. */
function accumulateDtype(d: RefDtype): RefDtype {
  return d === "bool" || d === "int32" ? "int64" : d;
}

// ---------------------------------------------------------------------------------------------
// Elemwise
// ---------------------------------------------------------------------------------------------

type Unary = (x: number) => number;

/** Unary ops whose result is a float even for int inputs. */
const FLOAT_UNARY: Record<string, Unary> = {
  exp: Math.exp,
  log: Math.log,
  log1p: Math.log1p,
  expm1: Math.expm1,
  sqrt: Math.sqrt,
  sin: Math.sin,
  cos: Math.cos,
  tanh: Math.tanh,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  // log(1 + e^x) without overflow for large x: max(x, 0) + log1p(e^-|x|).
  softplus: (x) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))),
};

/** Unary ops that keep the input's dtype. */
const SAME_UNARY: Record<string, Unary> = {
  neg: (x) => -x,
  abs: Math.abs,
  square: (x) => x * x,
};

type Binary = (x: number, y: number) => number;

const ARITH: Record<string, Binary> = {
  add: (x, y) => x + y,
  sub: (x, y) => x - y,
  mul: (x, y) => x * y,
  div: (x, y) => x / y,
  pow: (x, y) => Math.pow(x, y),
  maximum: (x, y) => (Number.isNaN(x) || Number.isNaN(y) ? NaN : Math.max(x, y)),
  minimum: (x, y) => (Number.isNaN(x) || Number.isNaN(y) ? NaN : Math.min(x, y)),
};

const COMPARE: Record<string, Binary> = {
  lt: (x, y) => (x < y ? 1 : 0),
  gt: (x, y) => (x > y ? 1 : 0),
  le: (x, y) => (x <= y ? 1 : 0),
  ge: (x, y) => (x >= y ? 1 : 0),
  eq: (x, y) => (x === y ? 1 : 0),
  ne: (x, y) => (x !== y ? 1 : 0),
};

/**
 * Applies `fn` pointwise. Named operands are aligned by name: output dims are in order of first
 * appearance and equal names must have equal lengths (no size-1 broadcasting between them).
 * Positional operands use numpy broadcasting (right-aligned, size 1 stretches).
 */
function elemwise(ctx: string, ops: readonly Operand[], dtype: RefDtype, fn: (xs: number[]) => number): Arr {
  const arrays = ops.filter((o): o is Arr => !isWeak(o));
  if (arrays.length === 0) throw new RefEvalError(`${ctx}: needs at least one array operand`);
  const named = arrays.every((a) => a.dims !== null);
  if (!named && arrays.some((a) => a.dims !== null)) {
    throw new RefEvalError(`${ctx}: mixes named and positional operands`);
  }
  if (named) {
    const sizes = new Map<string, number>();
    for (const a of arrays) {
      (a.dims as string[]).forEach((d, i) => {
        const seen = sizes.get(d);
        if (seen !== undefined && seen !== a.shape[i]) {
          throw new RefEvalError(`${ctx}: dim "${d}" has length ${seen} and ${a.shape[i]}`);
        }
        sizes.set(d, a.shape[i]);
      });
    }
    const dims = [...sizes.keys()]; // Map keeps insertion order = first appearance
    const shape = dims.map((d) => sizes.get(d) as number);
    const data: number[] = [];
    forEachIndex(shape, (idx) => {
      const pos = posMap(dims, idx);
      data.push(fit(dtype, fn(ops.map((o) => (isWeak(o) ? o.value : atNamed(o, pos))))));
    });
    return { dims, shape, dtype, data };
  }
  const rank = Math.max(...arrays.map((a) => a.shape.length));
  const shape: number[] = [];
  for (let ax = 0; ax < rank; ax++) {
    let len = 1;
    for (const a of arrays) {
      const j = ax - (rank - a.shape.length);
      if (j < 0 || a.shape[j] === 1) continue;
      if (len !== 1 && len !== a.shape[j]) {
        throw new RefEvalError(`${ctx}: shapes ${arrays.map((b) => `(${b.shape})`).join(", ")} do not broadcast`);
      }
      len = a.shape[j];
    }
    shape.push(len);
  }
  const data: number[] = [];
  forEachIndex(shape, (idx) => {
    const xs = ops.map((o) => {
      if (isWeak(o)) return o.value;
      const lead = rank - o.shape.length;
      return o.data[offset(o.shape, o.shape.map((len, j) => (len === 1 ? 0 : idx[lead + j])))];
    });
    data.push(fit(dtype, fn(xs)));
  });
  return { dims: null, shape, dtype, data };
}

// ---------------------------------------------------------------------------------------------
// Reductions
// ---------------------------------------------------------------------------------------------

/** A reducer gets the values in C order and `r`, the rounding of the accumulator's dtype. */
type Reducer = (xs: number[], r: (v: number) => number, ddof: number) => number;

// Accumulating through `r` mirrors numpy's float32 accumulator (sequential for short rows), so
// small float32 reductions agree bit for bit; for float64 and ints `r` is the identity.
const total = (xs: number[], r: (v: number) => number): number => xs.reduce((a, b) => r(a + b), 0);
const mean = (xs: number[], r: (v: number) => number): number => r(total(xs, r) / xs.length);
const variance = (xs: number[], r: (v: number) => number, ddof: number): number => {
  const m = mean(xs, r);
  const ss = xs.reduce((a, x) => r(a + r(r(x - m) * r(x - m))), 0);
  // numpy divides by max(n - ddof, 0): ddof >= n gives inf or nan, not an error.
  return r(ss / Math.max(xs.length - ddof, 0));
};

const REDUCERS: Record<string, { fn: Reducer; dtype: (d: RefDtype) => RefDtype }> = {
  sum: { fn: total, dtype: accumulateDtype },
  prod: { fn: (xs, r) => xs.reduce((a, b) => r(a * b), 1), dtype: accumulateDtype },
  mean: { fn: mean, dtype: (d) => (isFloat(d) ? d : "float64") },
  max: { fn: (xs) => Math.max(...xs), dtype: (d) => d },
  min: { fn: (xs) => Math.min(...xs), dtype: (d) => d },
  all: { fn: (xs) => (xs.every((x) => x !== 0) ? 1 : 0), dtype: () => "bool" },
  any: { fn: (xs) => (xs.some((x) => x !== 0) ? 1 : 0), dtype: () => "bool" },
  var: { fn: variance, dtype: (d) => (isFloat(d) ? d : "float64") },
  std: { fn: (xs, r, ddof) => r(Math.sqrt(variance(xs, r, ddof))), dtype: (d) => (isFloat(d) ? d : "float64") },
};

/** Reduces the axes in `axes` (positions into `x.shape`); kept axes keep their order. */
function reduceAxes(ctx: string, x: Arr, kind: string, axes: readonly number[], ddof: number): Arr {
  const r = REDUCERS[kind];
  const keep = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const outShape = keep.map((i) => x.shape[i]);
  const redShape = axes.map((i) => x.shape[i]);
  if ((kind === "max" || kind === "min") && size(redShape) === 0) {
    throw new RefEvalError(`${ctx}: ${kind} of an empty selection`);
  }
  const dtype = r.dtype(x.dtype);
  const data: number[] = [];
  forEachIndex(outShape, (o) => {
    const xs: number[] = [];
    forEachIndex(redShape, (rd) => {
      const full = new Array<number>(x.shape.length);
      keep.forEach((ax, i) => (full[ax] = o[i]));
      axes.forEach((ax, i) => (full[ax] = rd[i]));
      xs.push(x.data[offset(x.shape, full)]);
    });
    const round = dtype === "float32" ? Math.fround : (v: number): number => v;
    data.push(fit(dtype, r.fn(xs, round, ddof)));
  });
  const dims = x.dims === null ? null : keep.map((i) => (x.dims as string[])[i]);
  return { dims, shape: outShape, dtype, data };
}

// ---------------------------------------------------------------------------------------------
// Indexing
// ---------------------------------------------------------------------------------------------

/** Python's `slice(start, stop, step).indices(n)`, expanded to the selected positions. */
function slicePositions(ctx: string, spec: readonly (number | null)[], n: number): number[] {
  const step = spec[2] ?? 1;
  if (step === 0) throw new RefEvalError(`${ctx}: slice step cannot be zero`);
  const clamp = (v: number | null, dflt: number, lo: number, hi: number): number => {
    if (v === null) return dflt;
    const w = v < 0 ? v + n : v;
    return Math.min(Math.max(w, lo), hi);
  };
  const out: number[] = [];
  if (step > 0) {
    const start = clamp(spec[0], 0, 0, n);
    const stop = clamp(spec[1], n, 0, n);
    for (let i = start; i < stop; i += step) out.push(i);
  } else {
    const start = clamp(spec[0], n - 1, -1, n - 1);
    const stop = clamp(spec[1], -1, -1, n - 1);
    for (let i = start; i > stop; i += step) out.push(i);
  }
  return out;
}

/** What one dim of `x` is indexed by. */
type DimSel = { kind: "int"; at: number } | { kind: "positions"; at: number[] } | { kind: "array"; arr: Arr };

/**
 * xarray's `isel` on a named array, returned as output dims/shape plus, per output element, the
 * flat offset into `x` it reads. Shared by `isel` (read) and `set`/`inc` (write through the view).
 *
 * Output dims (xarray's `_broadcast_indexes_*`): walk x's dims in order; a sliced or unindexed
 * dim contributes itself, an int contributes nothing, an index array contributes its own dims
 * (those not already present). Equal names are zipped pointwise: an index array may carry one
 * of x's kept dims, and then pairs its positions with that dim's (sliced) positions.
 */
function iselView(ctx: string, x: Arr, node: RefCaseNode, args: Operand[], firstIndexArg: number):
  { dims: string[]; shape: number[]; source: number[] } {
  const xdims = named(ctx, x);
  const indexers = field<Record<string, unknown>>(node, "indexers");
  for (const d of Object.keys(indexers)) {
    if (!xdims.includes(d)) throw new RefEvalError(`${ctx}: indexer "${d}" is not a dim of (${xdims.join(", ")})`);
  }
  const sels: DimSel[] = xdims.map((d, ax) => {
    const n = x.shape[ax];
    const spec = indexers[d];
    if (spec === undefined) return { kind: "positions", at: slicePositions(ctx, [null, null, null], n) };
    if (typeof spec === "number") {
      const at = spec < 0 ? spec + n : spec;
      if (!Number.isInteger(spec) || at < 0 || at >= n) {
        throw new RefEvalError(`${ctx}: index ${spec} is out of range for dim "${d}" of length ${n}`);
      }
      return { kind: "int", at };
    }
    const obj = spec as { slice?: (number | null)[]; arg?: number };
    if (obj.slice !== undefined) return { kind: "positions", at: slicePositions(ctx, obj.slice, n) };
    const k = obj.arg as number;
    const arr = args[k];
    if (k < firstIndexArg || arr === undefined || isWeak(arr) || arr.dims === null ||
        (arr.dtype !== "int64" && arr.dtype !== "int32")) {
      throw new RefEvalError(`${ctx}: indexer "${d}" must name an integer xtensor among args[${firstIndexArg}..]`);
    }
    for (const v of arr.data) {
      if (v < -n || v >= n) throw new RefEvalError(`${ctx}: index ${v} is out of range for dim "${d}" of length ${n}`);
    }
    return { kind: "array", arr };
  });
  const sizes = new Map<string, number>();
  const claim = (d: string, len: number): void => {
    const seen = sizes.get(d);
    if (seen !== undefined && seen !== len) {
      throw new RefEvalError(`${ctx}: dim "${d}" has length ${seen} and ${len} among the indexers`);
    }
    sizes.set(d, len);
  };
  sels.forEach((s, ax) => {
    if (s.kind === "positions") claim(xdims[ax], s.at.length);
    else if (s.kind === "array") (s.arr.dims as string[]).forEach((d, i) => claim(d, s.arr.shape[i]));
  });
  const dims = [...sizes.keys()];
  const shape = dims.map((d) => sizes.get(d) as number);
  const source: number[] = [];
  forEachIndex(shape, (idx) => {
    const pos = posMap(dims, idx);
    const xi = sels.map((s, ax) => {
      if (s.kind === "int") return s.at;
      if (s.kind === "positions") return s.at[pos.get(xdims[ax]) as number];
      const v = atNamed(s.arr, pos);
      return v < 0 ? v + x.shape[ax] : v;
    });
    source.push(offset(x.shape, xi));
  });
  return { dims, shape, source };
}

// ---------------------------------------------------------------------------------------------
// The interpreter
// ---------------------------------------------------------------------------------------------

function field<T>(node: RefCaseNode, name: string): T {
  return node[name] as T;
}

function named(ctx: string, x: Operand): string[] {
  if (isWeak(x) || x.dims === null) throw new RefEvalError(`${ctx}: needs an xtensor argument`);
  return x.dims;
}

function arr(ctx: string, x: Operand | undefined): Arr {
  if (x === undefined || isWeak(x)) throw new RefEvalError(`${ctx}: needs an array argument`);
  return x;
}

function dimIndex(ctx: string, x: Arr, d: string): number {
  const i = named(ctx, x).indexOf(d);
  if (i < 0) throw new RefEvalError(`${ctx}: "${d}" is not a dim of (${(x.dims as string[]).join(", ")})`);
  return i;
}

function checkUnique(ctx: string, dims: readonly string[]): void {
  if (new Set(dims).size !== dims.length) throw new RefEvalError(`${ctx}: dims (${dims.join(", ")}) are not unique`);
}

/** Relabels or re-lays-out a named array: `out[pos] = x[map(pos)]` for every output element. */
function gather(x: Arr, dims: string[], shape: number[], src: (pos: Map<string, number>) => number): Arr {
  const data: number[] = [];
  forEachIndex(shape, (idx) => data.push(x.data[src(posMap(dims, idx))]));
  return { dims, shape, dtype: x.dtype, data };
}

function evalNode(node: RefCaseNode, env: ReadonlyMap<string, Arr>): Arr {
  const ctx = `node "${node.id}" (${node.op})`;
  const args: Operand[] = node.args.map((a, i) => {
    if (typeof a === "number") return { weak: true, value: a, isInt: Number.isInteger(a) };
    const v = env.get(a);
    if (v === undefined) throw new RefEvalError(`${ctx}: args[${i}] "${a}" is not an input or an earlier node`);
    return v;
  });
  const op = node.op;
  const x = args[0];

  if (op in FLOAT_UNARY || op in SAME_UNARY) {
    const a = arr(ctx, x);
    if (a.dtype === "bool") {
      // numpy gives float16 (exp) or raises (neg): neither is an xgrad dtype.
      if (op !== "abs" && op !== "square") throw new RefEvalError(`${ctx}: not defined on bool`);
    }
    const floaty = op in FLOAT_UNARY;
    const dtype = floaty ? (isFloat(a.dtype) ? a.dtype : "float64") : a.dtype;
    const f = floaty ? FLOAT_UNARY[op] : SAME_UNARY[op];
    return elemwise(ctx, [a], dtype, ([v]) => f(v));
  }
  if (op in ARITH) {
    const strong = args.filter((o) => !isWeak(o)) as Arr[];
    if (op === "sub" && strong.length === 2 && strong.every((s) => s.dtype === "bool")) {
      throw new RefEvalError(`${ctx}: numpy does not subtract bools`);
    }
    let dtype = resultDtype(args);
    if (op === "div" && !isFloat(dtype)) dtype = "float64"; // true division
    const f = ARITH[op];
    return elemwise(ctx, args, dtype, ([a, b]) => {
      if (op === "pow" && !isFloat(dtype) && b < 0) {
        throw new RefEvalError(`${ctx}: integers to negative integer powers are not allowed`);
      }
      return f(a, b);
    });
  }
  if (op in COMPARE) {
    const f = COMPARE[op];
    return elemwise(ctx, args, "bool", ([a, b]) => f(a, b));
  }
  if (op === "where") {
    return elemwise(ctx, args, resultDtype(args.slice(1)), ([c, a, b]) => (c !== 0 ? a : b));
  }
  if (op === "cast") {
    const dtype = field<RefDtype>(node, "dtype");
    if (!DTYPES.includes(dtype)) throw new RefEvalError(`${ctx}: unknown dtype ${String(dtype)}`);
    return elemwise(ctx, [arr(ctx, x)], dtype, ([v]) => castValue(dtype, v));
  }

  if (op in REDUCERS) {
    const a = arr(ctx, x);
    const ddof = field<number | undefined>(node, "ddof") ?? 0;
    let axes: number[];
    if (a.dims === null) {
      if (op !== "sum") throw new RefEvalError(`${ctx}: only sum is defined on positional tensors`);
      const given = field<number[] | null | undefined>(node, "axes");
      axes = given == null ? a.shape.map((_, i) => i) : given.map((ax) => {
        if (!Number.isInteger(ax) || ax < -a.shape.length || ax >= a.shape.length) {
          throw new RefEvalError(`${ctx}: axis ${ax} is out of range for a ${a.shape.length}-d tensor`);
        }
        return ax < 0 ? ax + a.shape.length : ax;
      });
    } else {
      // An absent `dims` means every dim, like null (case-format.md).
      const dims = field<string[] | null | undefined>(node, "dims");
      axes = dims == null ? a.shape.map((_, i) => i) : dims.map((d) => dimIndex(ctx, a, d));
    }
    return reduceAxes(ctx, a, op, [...new Set(axes)], ddof);
  }
  if (op === "cumsum" || op === "cumprod") {
    const a = arr(ctx, x);
    const ax = dimIndex(ctx, a, field<string>(node, "dim"));
    const dtype = accumulateDtype(a.dtype);
    const data = a.data.slice();
    // Walk every line along `ax`; the running total is rounded like numpy's accumulator.
    forEachIndex(a.shape.map((n, i) => (i === ax ? 1 : n)), (idx) => {
      let acc = op === "cumsum" ? 0 : 1;
      for (let k = 0; k < a.shape[ax]; k++) {
        const full = idx.slice();
        full[ax] = k;
        const o = offset(a.shape, full);
        acc = fit(dtype, op === "cumsum" ? acc + a.data[o] : acc * a.data[o]);
        data[o] = acc;
      }
    });
    return { dims: a.dims, shape: a.shape, dtype, data };
  }

  if (op === "dot") {
    const a = arr(ctx, x);
    const b = arr(ctx, args[1]);
    const ad = named(ctx, a);
    const bd = named(ctx, b);
    const sizes = new Map<string, number>();
    for (const [v, dims] of [[a, ad], [b, bd]] as const) {
      dims.forEach((d, i) => {
        const seen = sizes.get(d);
        if (seen !== undefined && seen !== v.shape[i]) {
          throw new RefEvalError(`${ctx}: dim "${d}" has length ${seen} in x but ${v.shape[i]} in y`);
        }
        sizes.set(d, v.shape[i]);
      });
    }
    const spec = field<string[] | null | "...">(node, "dims");
    const contracted = spec === null ? ad.filter((d) => bd.includes(d)) : spec === "..." ? [...sizes.keys()] : spec;
    for (const d of contracted) {
      if (!sizes.has(d)) throw new RefEvalError(`${ctx}: "${d}" is not a dim of either input`);
    }
    const dims = [...sizes.keys()].filter((d) => !contracted.includes(d));
    const shape = dims.map((d) => sizes.get(d) as number);
    const cshape = contracted.map((d) => sizes.get(d) as number);
    const dtype = resultDtype([a, b]);
    const data: number[] = [];
    forEachIndex(shape, (idx) => {
      let acc = 0;
      forEachIndex(cshape, (cidx) => {
        const pos = posMap([...dims, ...contracted], [...idx, ...cidx]);
        // Products and the running sum are rounded to the result dtype, as einsum accumulates.
        acc = fit(dtype, acc + fit(dtype, atNamed(a, pos) * atNamed(b, pos)));
      });
      data.push(fit(dtype, acc));
    });
    return { dims, shape, dtype, data };
  }
  if (op === "transpose") {
    const a = arr(ctx, x);
    const ad = named(ctx, a);
    const spec = field<string[]>(node, "dims");
    const listed = spec.filter((d) => d !== "...");
    listed.forEach((d) => dimIndex(ctx, a, d));
    const ell = spec.indexOf("...");
    if (spec.filter((d) => d === "...").length > 1) throw new RefEvalError(`${ctx}: more than one "..."`);
    const rest = ad.filter((d) => !listed.includes(d));
    if (ell < 0 && rest.length > 0) throw new RefEvalError(`${ctx}: (${spec.join(", ")}) is not a permutation of (${ad.join(", ")})`);
    const dims = ell < 0 ? listed : [...spec.slice(0, ell), ...rest, ...spec.slice(ell + 1)];
    checkUnique(ctx, dims);
    const shape = dims.map((d) => a.shape[ad.indexOf(d)]);
    return gather(a, dims, shape, (pos) => offset(a.shape, ad.map((d) => pos.get(d) as number)));
  }
  if (op === "rename") {
    const a = arr(ctx, x);
    const ad = named(ctx, a);
    const map = field<Record<string, string>>(node, "map");
    Object.keys(map).forEach((d) => dimIndex(ctx, a, d));
    // All at once, so {a: b, b: a} swaps labels; values do not move.
    const dims = ad.map((d) => (Object.prototype.hasOwnProperty.call(map, d) ? map[d] : d));
    checkUnique(ctx, dims);
    return { dims, shape: a.shape, dtype: a.dtype, data: a.data };
  }
  if (op === "stack") {
    const a = arr(ctx, x);
    const ad = named(ctx, a);
    const from = field<string[]>(node, "from");
    const z = field<string>(node, "dim");
    from.forEach((d) => dimIndex(ctx, a, d));
    const rest = ad.filter((d) => !from.includes(d));
    const dims = [...rest, z];
    checkUnique(ctx, dims);
    const fshape = from.map((d) => a.shape[ad.indexOf(d)]);
    const shape = [...rest.map((d) => a.shape[ad.indexOf(d)]), size(fshape)];
    return gather(a, dims, shape, (pos) => {
      // z enumerates `from` in the order given (first listed slowest), not x's own order.
      let zi = pos.get(z) as number;
      for (let k = from.length - 1; k >= 0; k--) {
        pos.set(from[k], zi % fshape[k]);
        zi = Math.floor(zi / fshape[k]);
      }
      return offset(a.shape, ad.map((d) => pos.get(d) as number));
    });
  }
  if (op === "unstack") {
    const a = arr(ctx, x);
    const ad = named(ctx, a);
    const z = field<string>(node, "dim");
    const to = field<[string, number][]>(node, "to");
    const zlen = a.shape[dimIndex(ctx, a, z)];
    if (size(to.map(([, s]) => s)) !== zlen) {
      throw new RefEvalError(`${ctx}: sizes ${to.map(([, s]) => s).join("×")} do not multiply to ${zlen}`);
    }
    const rest = ad.filter((d) => d !== z);
    const dims = [...rest, ...to.map(([n]) => n)];
    checkUnique(ctx, dims);
    const shape = [...rest.map((d) => a.shape[ad.indexOf(d)]), ...to.map(([, s]) => s)];
    return gather(a, dims, shape, (pos) => {
      pos.set(z, offset(to.map(([, s]) => s), to.map(([n]) => pos.get(n) as number)));
      return offset(a.shape, ad.map((d) => pos.get(d) as number));
    });
  }
  if (op === "concat") {
    const xs = args.map((v) => arr(ctx, v));
    xs.forEach((v) => named(ctx, v));
    const dim = field<string>(node, "dim");
    const sizes = new Map<string, number>();
    for (const v of xs) {
      (v.dims as string[]).forEach((d, i) => {
        if (d === dim) return;
        const seen = sizes.get(d);
        if (seen !== undefined && seen !== v.shape[i]) throw new RefEvalError(`${ctx}: dim "${d}" has length ${seen} and ${v.shape[i]}`);
        sizes.set(d, v.shape[i]);
      });
    }
    const isNew = xs.every((v) => !(v.dims as string[]).includes(dim));
    // Union by first appearance; an existing dim keeps its place in that order, a new one goes first.
    const union: string[] = [];
    for (const v of xs) for (const d of v.dims as string[]) if (!union.includes(d)) union.push(d);
    const dims = isNew ? [dim, ...union] : union;
    // An input lacking an existing `dim` counts as one slice broadcast over the other dims.
    const lens = xs.map((v) => (isNew ? 1 : (v.dims as string[]).includes(dim) ? v.shape[(v.dims as string[]).indexOf(dim)] : 1));
    const shape = dims.map((d) => (d === dim ? lens.reduce((p, q) => p + q, 0) : (sizes.get(d) as number)));
    const dtype = resultDtype(xs);
    const data: number[] = [];
    forEachIndex(shape, (idx) => {
      const pos = posMap(dims, idx);
      let at = pos.get(dim) as number;
      let k = 0;
      while (at >= lens[k]) at -= lens[k++];
      const v = xs[k];
      pos.set(dim, at);
      data.push(fit(dtype, atNamed(v, pos)));
    });
    return { dims, shape, dtype, data };
  }
  if (op === "expand_dims") {
    const a = arr(ctx, x);
    const ad = named(ctx, a);
    const d = field<string>(node, "dim");
    const n = field<number | undefined>(node, "size") ?? 1;
    const dims = [d, ...ad];
    checkUnique(ctx, dims);
    return gather(a, dims, [n, ...a.shape], (pos) => offset(a.shape, ad.map((e) => pos.get(e) as number)));
  }
  if (op === "squeeze") {
    const a = arr(ctx, x);
    const ad = named(ctx, a);
    const drop = field<string[]>(node, "dims");
    for (const d of drop) {
      if (a.shape[dimIndex(ctx, a, d)] !== 1) throw new RefEvalError(`${ctx}: dim "${d}" does not have length 1`);
    }
    const keep = ad.map((_, i) => i).filter((i) => !drop.includes(ad[i]));
    return { dims: keep.map((i) => ad[i]), shape: keep.map((i) => a.shape[i]), dtype: a.dtype, data: a.data };
  }
  if (op === "isel") {
    const a = arr(ctx, x);
    const v = iselView(ctx, a, node, args, 1);
    return { dims: v.dims, shape: v.shape, dtype: a.dtype, data: v.source.map((o) => a.data[o]) };
  }
  if (op === "set" || op === "inc") {
    const a = arr(ctx, x);
    const y = args[1];
    const v = iselView(ctx, a, node, args, 2);
    let ys: number[];
    if (y === undefined) throw new RefEvalError(`${ctx}: needs a value to write`);
    if (isWeak(y)) ys = v.source.map(() => y.value);
    else {
      const yd = named(ctx, y);
      for (const d of yd) {
        const i = v.dims.indexOf(d);
        if (i < 0) throw new RefEvalError(`${ctx}: y dim "${d}" is not a dim of the indexed view (${v.dims.join(", ")})`);
        if (v.shape[i] !== y.shape[yd.indexOf(d)]) throw new RefEvalError(`${ctx}: y dim "${d}" has length ${y.shape[yd.indexOf(d)]}, the view ${v.shape[i]}`);
      }
      ys = [];
      forEachIndex(v.shape, (idx) => ys.push(atNamed(y, posMap(v.dims, idx))));
    }
    const data = a.data.slice();
    // C order over the view: repeated positions accumulate (inc) or the last write wins (set).
    v.source.forEach((o, k) => {
      data[o] = op === "inc" ? fit(a.dtype, data[o] + ys[k]) : castValue(a.dtype, ys[k]);
    });
    return { dims: a.dims, shape: a.shape, dtype: a.dtype, data };
  }
  if (op === "values") {
    const a = arr(ctx, x);
    named(ctx, a);
    return { dims: null, shape: a.shape, dtype: a.dtype, data: a.data };
  }
  if (op === "as_xtensor") {
    const a = arr(ctx, x);
    if (a.dims !== null) throw new RefEvalError(`${ctx}: needs a positional tensor`);
    const dims = field<string[]>(node, "dims");
    if (dims.length !== a.shape.length) throw new RefEvalError(`${ctx}: ${dims.length} dims for a ${a.shape.length}-d tensor`);
    checkUnique(ctx, dims);
    return { dims, shape: a.shape, dtype: a.dtype, data: a.data };
  }
  throw new RefEvalError(`${ctx}: unknown op`);
}

function flatten(ctx: string, value: RefNested, shape: readonly number[], dtype: RefDtype): number[] {
  const out: number[] = [];
  const walk = (v: RefNested, depth: number): void => {
    if (depth === shape.length) {
      if (Array.isArray(v)) throw new RefEvalError(`${ctx}: value is nested deeper than shape (${shape.join(", ")})`);
      const n = typeof v === "boolean" ? (v ? 1 : 0) : v;
      if ((dtype === "int64" || dtype === "int32") && !Number.isInteger(n)) throw new RefEvalError(`${ctx}: ${n} is not an integer`);
      out.push(castValue(dtype, n));
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) throw new RefEvalError(`${ctx}: value does not match shape (${shape.join(", ")})`);
    v.forEach((w) => walk(w, depth + 1));
  };
  walk(value, 0);
  return out;
}

/**
 * Evaluates every input and node of a case with xarray semantics.
 *
 * @param caseJson - a parsed `xgrad-case/1` object (only the fields this module reads are used).
 * @returns the value of every input and every node, keyed by input name or node id; `dims` is
 *   present exactly for xtensors, `data` is flat in C order of the value's own dims, bool as 0/1.
 * @throws RefEvalError naming the node and op when the case is outside what the reference
 *   evaluates (a malformed case, an invalid op application, or a dtype numpy would leave
 *   xgrad's five dtypes for).
 */
export function evaluateCase(caseJson: unknown): Record<string, RefValue> {
  const c = caseJson as RefCase;
  if (c === null || typeof c !== "object" || !Array.isArray(c.inputs) || !Array.isArray(c.nodes)) {
    throw new RefEvalError("case: expected an object with inputs and nodes");
  }
  const env = new Map<string, Arr>();
  for (const inp of c.inputs) {
    const ctx = `input "${inp.name}"`;
    const dtype = inp.dtype as RefDtype;
    if (!DTYPES.includes(dtype)) throw new RefEvalError(`${ctx}: unknown dtype ${inp.dtype}`);
    if (env.has(inp.name)) throw new RefEvalError(`${ctx}: duplicate name`);
    const dims = inp.kind === "xtensor" ? (inp.dims ?? []) : null;
    if (dims !== null) {
      if (dims.length !== inp.shape.length) throw new RefEvalError(`${ctx}: dims and shape differ in length`);
      checkUnique(ctx, dims);
    }
    env.set(inp.name, { dims, shape: inp.shape.slice(), dtype, data: flatten(ctx, inp.value, inp.shape, dtype) });
  }
  for (const node of c.nodes) {
    if (env.has(node.id)) throw new RefEvalError(`node "${node.id}": id is already used`);
    env.set(node.id, evalNode(node, env));
  }
  const out: Record<string, RefValue> = {};
  for (const [k, v] of env) {
    out[k] = v.dims === null
      ? { shape: v.shape, dtype: v.dtype, data: v.data }
      : { dims: v.dims, shape: v.shape, dtype: v.dtype, data: v.data };
  }
  return out;
}
