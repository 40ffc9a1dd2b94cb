/**
 * The TensorFlow.js oracle: an independent second implementation of a case.
 *
 * It reads the **case** (parsed JSON plus the validator's static types), never the engine's
 * graph: nothing here imports `src/graph`, `src/tensor`, `src/xtensor`, `src/rewriting`,
 * `src/grad` or `src/compile`. Named dims are kept by a tiny `{dims, t}` wrapper that aligns by
 * name with transposes and reshapes, so a dims bug in the engine cannot be mirrored here.
 *
 * tfjs runs in float32 only (see `shared/notes/toolchain.md`), so every comparison is made with
 * a float32 tolerance, and a point the oracle cannot judge is `inconclusive`, never `fail`.
 *
 * Gradients: `tf.grads` of the cost w.r.t. the wrt inputs. Ops whose tfjs form has no gradient
 * are rewritten with differentiable primitives:
 * - non-float nodes (comparisons, `all`/`any`, casts to int/bool, index arrays) are piecewise
 *   constant, so they are evaluated once, outside the differentiated function, and enter it as
 *   constants: that is how `where` with a computed condition is differentiated;
 * - `dot` is transpose + reshape + batched `matMul`;
 * - `cumprod` is a running product of slices;
 * - `isel` is one `gather` from the flattened input, with indices computed in JS;
 * - `set`/`inc` are a one-hot `matMul` scatter (with a keep-mask for `set`);
 * - `var`/`std` are written out with `ddof`.
 */
import type * as tfjs from "@tensorflow/tfjs";
import type { Case, CaseArg, CaseDType, CaseNode, CaseTypes, Indexer, VarType } from "../src/case/format.js";
import { isFloatDtype, isIntDtype } from "../src/case/format.js";
import { normalizeSlice, resolveWrt } from "../src/case/parse.js";

type TF = typeof tfjs;
type Tensor = tfjs.Tensor;
type TfDtype = "float32" | "int32" | "bool";

/** One array computed by tfjs: flat data in C order of `shape` (bools as 0/1). */
export interface TfjsArray {
  /** Present for xtensors: the dims order of `data`. */
  dims?: string[];
  shape: number[];
  /** The tfjs dtype that ran: float32, int32 or bool. */
  dtype: string;
  data: number[];
}

/** Why the oracle could not judge a case, or a point it should not be trusted at. */
export interface TfjsNote {
  op: string;
  nodeId: string;
  reason: string;
}

/** Result of running a case under tfjs. */
export interface TfjsResult {
  /** The tfjs backend that ran (`tensorflow` for tfjs-node, else `cpu`). */
  backend: string;
  /** Every node's forward value. */
  values: Record<string, TfjsArray>;
  /** Gradient of the cost for each wrt input (typed like the input). */
  grads?: Record<string, Omit<TfjsArray, "dtype">>;
  /** Set when some op could not be evaluated or differentiated in tfjs. */
  unsupported?: TfjsNote;
  /** Non-smooth points met on the forward pass (exact ties, abs at 0): conventions may differ. */
  nonSmooth?: TfjsNote[];
  /** Longest path from an input to each node, in ops; sets the float32 tolerance. */
  depth: Record<string, number>;
  /** `depth` of the cost node. */
  costDepth: number;
  /** Wall time of the tfjs evaluation (forward + gradient), microseconds. */
  micros: number;
}

// ---------------------------------------------------------------------------------------------
// loading

let loading: Promise<{ tf: TF; backend: string }> | null = null;

/**
 * Load tfjs once: `@tensorflow/tfjs-node` if it loads (native kernels), else `@tensorflow/tfjs`
 * on the `cpu` backend. tfjs-node throws plain Errors when its native part is missing, so every
 * error falls back, not only MODULE_NOT_FOUND.
 */
export function loadTfjs(): Promise<{ tf: TF; backend: string }> {
  loading ??= (async () => {
    let tf: TF;
    try {
      // A variable specifier: the package is optional and usually absent, so it must not be a
      // static dependency of the type checker either.
      const nodePkg = "@tensorflow/tfjs-node";
      tf = (await import(nodePkg)) as TF;
    } catch {
      tf = await import("@tensorflow/tfjs");
      await tf.setBackend("cpu");
    }
    tf.enableProdMode();
    await tf.ready();
    return { tf, backend: tf.getBackend() };
  })();
  return loading;
}

// ---------------------------------------------------------------------------------------------
// named wrapper

/** A tfjs tensor with its dims (null for positional tensors). The tensor's axes are in dims order. */
interface NT {
  dims: string[] | null;
  t: Tensor;
}

function tfDtype(d: CaseDType): TfDtype {
  return isFloatDtype(d) ? "float32" : isIntDtype(d) ? "int32" : "bool";
}

function prod(xs: readonly number[]): number {
  return xs.reduce((p, x) => p * x, 1);
}

/** Where index arrays' values come from: the case's inputs (the parser guarantees that). */
type IndexSource = (name: string) => { dims: string[]; shape: number[]; data: number[] };

/**
 * Evaluates case nodes with tfjs. `differentiable` selects the forms that `tf.grad` accepts;
 * both forms compute the same values.
 */
class Evaluator {
  constructor(
    private readonly tf: TF,
    private readonly types: CaseTypes,
    private readonly indexSource: IndexSource,
  ) {}

  /**
   * `x` laid out for `dims`: its own dims permuted into `dims`' order, with length-1 axes for
   * the dims it lacks, so tfjs broadcasting aligns it by name.
   */
  conform(x: NT, dims: readonly string[]): Tensor {
    const xd = x.dims ?? [];
    if (xd.length === 0) return x.t.reshape(dims.map(() => 1));
    const present = dims.filter((d) => xd.includes(d));
    const perm = present.map((d) => xd.indexOf(d));
    const t = perm.every((p, i) => p === i) ? x.t : this.tf.transpose(x.t, perm);
    return t.reshape(dims.map((d) => (xd.includes(d) ? x.t.shape[xd.indexOf(d)] : 1)));
  }

  /** `x` broadcast to exactly `dims`/`shape`. */
  expand(x: NT, dims: readonly string[], shape: readonly number[]): Tensor {
    return this.tf.broadcastTo(this.conform(x, dims), [...shape]);
  }

  cast(t: Tensor, d: TfDtype): Tensor {
    return t.dtype === d ? t : this.tf.cast(t, d);
  }

  /** Evaluate one node from its evaluated args; the result is laid out as `types` says. */
  node(n: CaseNode, args: NT[], out: VarType): NT {
    const tf = this.tf;
    const odt = tfDtype(out.dtype);
    const dims = out.dims ?? null;
    const res = (t: Tensor): NT => ({ dims: dims === null ? null : [...dims], t: this.cast(t, odt) });
    const x = args[0];
    const xt = (): VarType => this.types.get(n.args[0] as string) as VarType;
    /** Elemwise operands in the output layout, cast to `d`. */
    const operands = (d: TfDtype): Tensor[] => args.map((a) => this.cast(dims === null ? a.t : this.conform(a, dims), d));
    // Arithmetic on bool (add = or, mul = and, ...) runs in int32 and is cast back.
    const arith: TfDtype = odt === "bool" ? "int32" : odt;
    const axesOf = (names: readonly string[]): number[] => names.map((d) => (x.dims ?? []).indexOf(d));

    switch (n.op) {
      case "neg": return res(tf.neg(operands(arith)[0]));
      case "exp": return res(tf.exp(operands("float32")[0]));
      case "log": return res(tf.log(operands("float32")[0]));
      case "log1p": return res(tf.log1p(operands("float32")[0]));
      case "expm1": return res(tf.expm1(operands("float32")[0]));
      case "sqrt": return res(tf.sqrt(operands("float32")[0]));
      case "square": return res(tf.square(operands(arith)[0]));
      case "abs": return res(tf.abs(operands(arith)[0]));
      case "sin": return res(tf.sin(operands("float32")[0]));
      case "cos": return res(tf.cos(operands("float32")[0]));
      case "tanh": return res(tf.tanh(operands("float32")[0]));
      case "sigmoid": return res(tf.sigmoid(operands("float32")[0]));
      case "softplus": return res(tf.softplus(operands("float32")[0]));
      case "add": { const [a, b] = operands(arith); return res(tf.add(a, b)); }
      case "sub": { const [a, b] = operands(arith); return res(tf.sub(a, b)); }
      case "mul": { const [a, b] = operands(arith); return res(tf.mul(a, b)); }
      case "div": { const [a, b] = operands("float32"); return res(tf.div(a, b)); }
      case "pow": { const [a, b] = operands(arith); return res(tf.pow(a, b)); }
      // tfjs's Maximum/Minimum gradients do not reduce over broadcast axes: broadcast first.
      case "maximum": { const [a, b] = operands(arith).map((t) => tf.broadcastTo(t, out.shape)); return res(tf.maximum(a, b)); }
      case "minimum": { const [a, b] = operands(arith).map((t) => tf.broadcastTo(t, out.shape)); return res(tf.minimum(a, b)); }
      case "lt": case "gt": case "le": case "ge": case "eq": case "ne": {
        const anyFloat = n.args.some((a, i) => (typeof a === "number" ? !Number.isInteger(a) : args[i].t.dtype === "float32"));
        const [a, b] = operands(anyFloat ? "float32" : "int32");
        const f = { lt: tf.less, gt: tf.greater, le: tf.lessEqual, ge: tf.greaterEqual, eq: tf.equal, ne: tf.notEqual }[n.op];
        return res(f(a, b));
      }
      case "where": {
        const [c] = operands("bool");
        const [, a, b] = operands(arith);
        return res(tf.where(tf.broadcastTo(c, out.shape), tf.broadcastTo(a, out.shape), tf.broadcastTo(b, out.shape)));
      }
      case "cast": return res(x.t);
      case "sum": case "prod": case "mean": case "max": case "min": case "all": case "any": case "var": case "std": {
        let axes: number[];
        if (x.dims === null) {
          const nd = x.t.rank;
          const ax = "axes" in n && n.axes != null ? n.axes : x.t.shape.map((_, i) => i);
          axes = ax.map((a) => (a < 0 ? a + nd : a));
        } else {
          axes = axesOf("dims" in n && n.dims != null ? n.dims : x.dims);
        }
        if (axes.length === 0 && n.op !== "var" && n.op !== "std") return res(n.op === "all" || n.op === "any" ? this.cast(x.t, "bool") : x.t);
        switch (n.op) {
          case "sum": return res(tf.sum(this.cast(x.t, odt === "bool" ? "int32" : odt), axes));
          case "prod": return res(tf.prod(this.cast(x.t, odt), axes));
          case "mean": return res(tf.mean(this.cast(x.t, "float32"), axes));
          case "max": return res(tf.max(this.cast(x.t, arith), axes));
          case "min": return res(tf.min(this.cast(x.t, arith), axes));
          case "all": return res(tf.all(this.cast(x.t, "bool"), axes));
          case "any": return res(tf.any(this.cast(x.t, "bool"), axes));
          default: {
            // var = sum((x - mean)^2) / (N - ddof); tf.moments has no ddof.
            const xf = this.cast(x.t, "float32");
            const count = prod(axes.map((a) => x.t.shape[a]));
            const ddof = ("ddof" in n ? n.ddof : undefined) ?? 0;
            const dev = axes.length === 0 ? tf.zerosLike(xf) : tf.sub(xf, tf.mean(xf, axes, true));
            const sq = tf.square(dev);
            const v = tf.div(axes.length === 0 ? sq : tf.sum(sq, axes), count - ddof);
            return res(n.op === "var" ? v : tf.sqrt(v));
          }
        }
      }
      case "cumsum": case "cumprod": {
        const axis = (x.dims ?? []).indexOf(n.dim);
        const len = x.t.shape[axis];
        if (n.op === "cumsum") {
          // tfjs's Cumsum gradient returns the wrong shape for a non-last axis: move it last.
          const last = x.t.rank - 1;
          if (axis === last) return res(tf.cumsum(this.cast(x.t, arith), axis));
          const perm = x.t.shape.map((_, i) => i);
          [perm[axis], perm[last]] = [perm[last], perm[axis]];
          return res(tf.transpose(tf.cumsum(tf.transpose(this.cast(x.t, arith), perm), last), perm));
        }
        if (len === 0) return res(x.t);
        // tf.cumprod has no gradient: a running product of unit-width slices instead.
        const xa = this.cast(x.t, arith);
        const parts: Tensor[] = [];
        const size = x.t.shape.map((s, i) => (i === axis ? 1 : s));
        let run: Tensor | null = null;
        for (let i = 0; i < len; i++) {
          const begin = x.t.shape.map((_, j) => (j === axis ? i : 0));
          const s = tf.slice(xa, begin, size);
          run = run === null ? s : tf.mul(run, s);
          parts.push(run);
        }
        return res(tf.concat(parts, axis));
      }
      case "dot": return res(this.dot(args[0], args[1], out, odt));
      case "transpose": return res(tf.transpose(x.t, (dims ?? []).map((d) => (x.dims ?? []).indexOf(d))));
      case "rename": return res(x.t);
      case "stack": {
        const kept = (x.dims ?? []).filter((d) => !n.from.includes(d));
        const perm = [...kept, ...n.from].map((d) => (x.dims ?? []).indexOf(d));
        return res(tf.transpose(x.t, perm).reshape(out.shape));
      }
      case "unstack": {
        const kept = (x.dims ?? []).filter((d) => d !== n.dim);
        const perm = [...kept, n.dim].map((d) => (x.dims ?? []).indexOf(d));
        return res(tf.transpose(x.t, perm).reshape(out.shape));
      }
      case "concat": {
        const od = dims ?? [];
        const axis = od.indexOf(n.dim);
        const parts = args.map((a) => {
          // Each input is broadcast to the output's dims, with its own extent (1 if it lacks
          // the dim, or for a new dim) along the concat axis.
          const shape = out.shape.map((s, i) => (i === axis ? ((a.dims ?? []).includes(n.dim) ? a.t.shape[(a.dims ?? []).indexOf(n.dim)] : 1) : s));
          return this.cast(this.expand(a, od, shape), arith);
        });
        return res(tf.concat(parts, axis));
      }
      case "expand_dims": return res(tf.broadcastTo(tf.expandDims(x.t, 0), out.shape));
      case "squeeze": return res(x.t.reshape(out.shape));
      case "isel": {
        const idx = this.viewIndex(n.args[0] as string, n.indexers, n.args, out);
        if (idx.length === 0) return res(tf.zeros(out.shape, x.t.dtype));
        return res(tf.gather(x.t.reshape([-1]), tf.tensor1d(idx, "int32")).reshape(out.shape));
      }
      case "set": case "inc": return res(this.update(n, args, xt(), out, odt));
      case "values": return { dims: null, t: this.cast(x.t, odt) };
      case "as_xtensor": return res(x.t);
    }
  }

  /**
   * dot as one batched matMul: shared uncontracted dims are the batch, contracted shared dims the
   * inner dimension. A contracted dim present in only one input is summed out first.
   */
  private dot(x: NT, y: NT, out: VarType, odt: TfDtype): Tensor {
    const tf = this.tf;
    const xd = x.dims ?? [];
    const yd = y.dims ?? [];
    const od = out.dims ?? [];
    const contracted = [...xd, ...yd].filter((d) => !od.includes(d));
    const onlyX = contracted.filter((d) => !yd.includes(d));
    const onlyY = contracted.filter((d) => !xd.includes(d));
    const sumOut = (a: NT, drop: string[]): NT => {
      if (drop.length === 0) return a;
      const ad = a.dims ?? [];
      return { dims: ad.filter((d) => !drop.includes(d)), t: tf.sum(a.t, drop.map((d) => ad.indexOf(d))) };
    };
    const xs = sumOut({ dims: xd, t: this.cast(x.t, "float32") }, onlyX);
    const ys = sumOut({ dims: yd, t: this.cast(y.t, "float32") }, onlyY);
    const x2 = xs.dims ?? [];
    const y2 = ys.dims ?? [];
    const B = x2.filter((d) => y2.includes(d) && od.includes(d));
    const C = x2.filter((d) => y2.includes(d) && !od.includes(d));
    const X = x2.filter((d) => !y2.includes(d));
    const Y = y2.filter((d) => !x2.includes(d));
    const len = (a: NT, d: string): number => a.t.shape[(a.dims ?? []).indexOf(d)];
    const nb = prod(B.map((d) => len(xs, d)));
    const nc = prod(C.map((d) => len(xs, d)));
    const nx = prod(X.map((d) => len(xs, d)));
    const ny = prod(Y.map((d) => len(ys, d)));
    const xm = tf.transpose(xs.t, [...B, ...X, ...C].map((d) => x2.indexOf(d))).reshape([nb, nx, nc]);
    const ym = tf.transpose(ys.t, [...B, ...C, ...Y].map((d) => y2.indexOf(d))).reshape([nb, nc, ny]);
    const prodDims = [...B, ...X, ...Y];
    const shape = [...B.map((d) => len(xs, d)), ...X.map((d) => len(xs, d)), ...Y.map((d) => len(ys, d))];
    // matMul of a zero-length inner dimension is an empty sum: zeros, which tfjs may not give.
    const m = nc === 0 ? tf.zeros([nb, nx, ny]) : tf.matMul(xm, ym);
    const r = m.reshape(shape);
    const t = tf.transpose(r, od.map((d) => prodDims.indexOf(d)));
    // ints and bools are multiplied in float32 (exact below 2^24) and cast back; bool dot is "any".
    return odt === "bool" ? tf.notEqual(t, 0) : t;
  }

  /**
   * Flat offsets into `x` of every element of the indexed view, in C order of the view.
   * Each view position is addressed **by dim name**: a kept or sliced dim reads its own output
   * coordinate, an index array reads the output coordinates of its dims. This one rule gives
   * both xarray's outer and vectorized indexing; which dims the view has, and in which order,
   * comes from the validator's static types.
   */
  viewIndex(xId: string, indexers: Record<string, Indexer>, nodeArgs: readonly CaseArg[], view: VarType): number[] {
    const xt = this.types.get(xId) as VarType;
    const xd = xt.dims ?? [];
    const vd = view.dims ?? [];
    const strides = xd.map((_, i) => prod(xt.shape.slice(i + 1)));
    const total = prod(view.shape);
    const out = new Array<number>(total);
    const coord = new Array<number>(vd.length).fill(0);
    const at = (d: string): number => coord[vd.indexOf(d)];
    const readers = xd.map((d, i): (() => number) => {
      const n = xt.shape[i];
      const ix = Object.prototype.hasOwnProperty.call(indexers, d) ? indexers[d] : undefined;
      if (ix === undefined) return () => at(d);
      if (typeof ix === "number") { const v = ix < 0 ? ix + n : ix; return () => v; }
      if ("slice" in ix) { const s = normalizeSlice(ix.slice, n); return () => s.start + s.step * at(d); }
      const src = this.indexSource(nodeArgs[ix.arg] as string);
      const st = src.dims.map((_, j) => prod(src.shape.slice(j + 1)));
      return () => {
        let off = 0;
        src.dims.forEach((ad, j) => { off += at(ad) * st[j]; });
        const v = src.data[off];
        return v < 0 ? v + n : v;
      };
    });
    for (let k = 0; k < total; k++) {
      let rem = k;
      for (let j = vd.length - 1; j >= 0; j--) { coord[j] = rem % view.shape[j]; rem = Math.floor(rem / view.shape[j]); }
      let off = 0;
      for (let i = 0; i < xd.length; i++) off += readers[i]() * strides[i];
      out[k] = off;
    }
    return out;
  }

  /**
   * set/inc as a one-hot scatter: `out = x ⊙ keep + S·y`, where S[j, v] = 1 when view element v
   * writes x element j. For `inc`, S holds every write (repeated indices accumulate) and keep is
   * all ones. For `set`, S holds only the last write to each j (numpy's last-write-wins) and keep
   * zeroes written elements, so the gradient to overwritten `y` elements is exactly 0.
   */
  private update(n: CaseNode & { op: "set" | "inc" }, args: NT[], xt: VarType, out: VarType, odt: TfDtype): Tensor {
    const tf = this.tf;
    const viewType = isel(this.types, n, xt);
    const idx = this.viewIndex(n.args[0] as string, n.indexers, n.args, viewType);
    const nx = prod(xt.shape);
    const nv = idx.length;
    const y = args[1];
    const vd = viewType.dims ?? [];
    const yv = this.cast(this.expand(y, vd, viewType.shape), "float32").reshape([nv, 1]);
    const S = new Float32Array(nx * nv);
    const keep = new Float32Array(nx).fill(1);
    if (n.op === "inc") idx.forEach((j, v) => { S[j * nv + v] += 1; });
    else {
      const last = new Map<number, number>();
      idx.forEach((j, v) => last.set(j, v));
      for (const [j, v] of last) { S[j * nv + v] = 1; keep[j] = 0; }
    }
    const xf = this.cast(args[0].t, "float32").reshape([nx]);
    const scat = nv === 0 ? tf.zeros([nx]) : tf.matMul(tf.tensor2d(S, [nx, nv]), yv).reshape([nx]);
    const r = tf.add(n.op === "inc" ? xf : tf.mul(xf, tf.tensor1d(keep)), scat).reshape(out.shape);
    return odt === "bool" ? tf.notEqual(r, 0) : r;
  }
}

/** The indexed view's type for set/inc (isel's rules; the validator already checked them). */
function isel(types: CaseTypes, n: CaseNode & { op: "set" | "inc" }, xt: VarType): VarType {
  // The view is what `isel` with the same indexers gives; the validator stores node types only,
  // so recompute it from a synthetic isel through the same by-name rule (outer vs vectorized).
  const xd = xt.dims ?? [];
  const arrays = Object.entries(n.indexers).filter(([, ix]) => typeof ix === "object" && "arg" in ix)
    .map(([d, ix]) => ({ d, t: types.get(n.args[(ix as { arg: number }).arg] as string) as VarType }));
  const outer = arrays.every((a) => (a.t.dims ?? []).length === 1) && new Set(arrays.map((a) => (a.t.dims ?? [])[0])).size === arrays.length;
  const dims: string[] = [];
  const shape: number[] = [];
  const push = (d: string, s: number): void => { if (!dims.includes(d)) { dims.push(d); shape.push(s); } };
  xd.forEach((d, i) => {
    const ix = Object.prototype.hasOwnProperty.call(n.indexers, d) ? n.indexers[d] : undefined;
    if (ix === undefined) push(d, xt.shape[i]);
    else if (typeof ix === "number") return;
    else if ("slice" in ix) push(d, normalizeSlice(ix.slice, xt.shape[i]).length);
    else {
      const at = types.get(n.args[ix.arg] as string) as VarType;
      if (outer) push((at.dims ?? [])[0], at.shape[0]);
      else (at.dims ?? []).forEach((ad, j) => push(ad, at.shape[j]));
    }
  });
  return { kind: "xtensor", dims, shape, dtype: xt.dtype };
}

// ---------------------------------------------------------------------------------------------
// running a case

function flatten(v: unknown): number[] {
  if (Array.isArray(v)) return v.flatMap(flatten);
  return [typeof v === "boolean" ? (v ? 1 : 0) : (v as number)];
}

/** Longest path from any input, in ops. */
function depths(c: Case): Record<string, number> {
  const d: Record<string, number> = {};
  for (const i of c.inputs) d[i.name] = 0;
  for (const n of c.nodes) d[n.id] = 1 + Math.max(0, ...n.args.map((a) => (typeof a === "number" ? 0 : d[a])));
  const out: Record<string, number> = {};
  for (const n of c.nodes) out[n.id] = d[n.id];
  return out;
}

function toArray(nt: NT): TfjsArray {
  const a: TfjsArray = { shape: [...nt.t.shape], dtype: nt.t.dtype, data: Array.from(nt.t.dataSync(), Number) };
  if (nt.dims !== null) return { dims: [...nt.dims], ...a };
  return a;
}

/** Record exact ties and kinks on the forward pass, where gradient conventions may differ. */
function kinks(tf: TF, n: CaseNode, args: NT[], outT: Tensor, out: VarType): string | null {
  if (!isFloatDtype(out.dtype)) return null;
  const any = (t: Tensor): boolean => (tf.any(t).dataSync()[0] ?? 0) !== 0;
  switch (n.op) {
    case "abs": return any(tf.equal(args[0].t, 0)) ? "abs at exactly 0" : null;
    case "sqrt": return any(tf.equal(args[0].t, 0)) ? "sqrt at exactly 0" : null;
    case "maximum": case "minimum": return tieElemwise(tf, args, out) ? `${n.op} with tied arguments` : null;
    case "max": case "min": {
      // A tie is when more positions equal the extreme than there are outputs.
      const x = args[0];
      const red = (x.dims ?? []).filter((d) => !(out.dims ?? []).includes(d));
      if (red.length === 0) return null;
      const ext = { dims: out.dims ?? [], t: outT };
      const ev = new Evaluator(tf, new Map(), () => { throw new Error("unused"); });
      const hits = tf.sum(tf.cast(tf.equal(x.t, ev.conform(ext, x.dims ?? [])), "int32")).dataSync()[0];
      return hits > outT.size ? `${n.op} with tied maxima` : null;
    }
    default: return null;
  }
}

function tieElemwise(tf: TF, args: NT[], out: VarType): boolean {
  const ev = new Evaluator(tf, new Map(), () => { throw new Error("unused"); });
  const [a, b] = args.map((x) => (out.dims === undefined ? x.t : ev.conform(x, out.dims ?? [])));
  return (tf.any(tf.equal(tf.cast(a, "float32"), tf.cast(b, "float32"))).dataSync()[0] ?? 0) !== 0;
}

/**
 * Run a case under tfjs: every node's forward value and, when the cost is reachable, the
 * gradient of the cost for each wrt input. Never throws for an op tfjs cannot do: the result
 * says `unsupported` instead.
 */
export async function runTfjs(c: Case, types: CaseTypes): Promise<TfjsResult> {
  const { tf, backend } = await loadTfjs();
  const depth = depths(c);
  const costDepth = depth[c.cost] ?? 1;
  const values: Record<string, TfjsArray> = {};
  const nonSmooth: TfjsNote[] = [];
  const inputVals = new Map(c.inputs.map((i) => [i.name, flatten(i.value)]));
  for (const i of c.inputs) {
    const bad = isIntDtype(i.dtype) ? (inputVals.get(i.name) ?? []).find((v) => v < -(2 ** 31) || v >= 2 ** 31) : undefined;
    if (bad !== undefined) {
      return { backend, values, depth, costDepth, micros: 0, unsupported: { op: "input", nodeId: i.name, reason: `tfjs has no int64: value ${bad} of ${i.name} does not fit int32` } };
    }
  }
  const indexSource: IndexSource = (name) => {
    const t = types.get(name) as VarType;
    return { dims: t.dims ?? [], shape: t.shape, data: inputVals.get(name) ?? [] };
  };
  const ev = new Evaluator(tf, types, indexSource);
  const wrt = resolveWrt(c);
  let grads: TfjsResult["grads"];
  let unsupported: TfjsNote | undefined;
  const t0 = performance.now();
  let current: CaseNode | null = null;
  let phase = "forward";
  try {
    tf.tidy(() => {
      const inputNT = (name: string, t: Tensor): NT => ({ dims: types.get(name)?.kind === "xtensor" ? [...((types.get(name) as VarType).dims ?? [])] : null, t });
      const constants = new Map<string, NT>();
      for (const i of c.inputs) {
        const t = types.get(i.name) as VarType;
        constants.set(i.name, inputNT(i.name, tf.tensor(inputVals.get(i.name) ?? [], t.shape, tfDtype(i.dtype))));
      }
      const argNT = (env: Map<string, NT>, a: CaseArg): NT => (typeof a === "number" ? { dims: [], t: tf.scalar(a, Number.isInteger(a) ? "int32" : "float32") } : (env.get(a) as NT));

      // Forward pass: every node, any tfjs op allowed.
      for (const n of c.nodes) {
        current = n;
        const args = n.args.map((a) => argNT(constants, a));
        const out = types.get(n.id) as VarType;
        const r = ev.node(n, args, out);
        constants.set(n.id, r);
        values[n.id] = toArray(r);
        const k = kinks(tf, n, args, r.t, out);
        if (k !== null) nonSmooth.push({ op: n.op, nodeId: n.id, reason: k });
      }
      current = null;

      // Gradient pass. Only float nodes downstream of a wrt input are recomputed inside the
      // differentiated function; everything else (ints, bools, comparisons, index arrays,
      // constants) enters as the forward value, so tf.grad never meets a comparison.
      phase = "gradient";
      const live = new Set(wrt);
      for (const n of c.nodes) {
        if (isFloatDtype((types.get(n.id) as VarType).dtype) && n.args.some((a) => typeof a === "string" && live.has(a))) live.add(n.id);
      }
      const reach = new Set<string>([c.cost]);
      for (let i = c.nodes.length - 1; i >= 0; i--) {
        const n = c.nodes[i];
        if (reach.has(n.id) && live.has(n.id)) for (const a of n.args) if (typeof a === "string" && live.has(a)) reach.add(a);
      }
      const connected = wrt.filter((w) => reach.has(w));
      const g: Record<string, Omit<TfjsArray, "dtype">> = {};
      const zeros = (w: string): Omit<TfjsArray, "dtype"> => {
        const t = types.get(w) as VarType;
        const z = { shape: [...t.shape], data: new Array<number>(prod(t.shape)).fill(0) };
        return t.dims !== undefined ? { dims: [...t.dims], ...z } : z;
      };
      for (const w of wrt) if (!connected.includes(w)) g[w] = zeros(w);
      if (connected.length > 0) {
        const f = (...xs: Tensor[]): Tensor => {
          const env = new Map(constants);
          connected.forEach((w, i) => env.set(w, inputNT(w, xs[i])));
          for (const n of c.nodes) {
            if (!live.has(n.id)) continue;
            current = n;
            env.set(n.id, ev.node(n, n.args.map((a) => argNT(env, a)), types.get(n.id) as VarType));
          }
          current = null;
          return (env.get(c.cost) as NT).t.reshape([]);
        };
        const gs = tf.grads(f)(connected.map((w) => (constants.get(w) as NT).t));
        connected.forEach((w, i) => {
          const t = types.get(w) as VarType;
          const a = { shape: [...gs[i].shape], data: Array.from(gs[i].dataSync(), Number) };
          g[w] = t.dims !== undefined ? { dims: [...t.dims], ...a } : a;
        });
      }
      grads = g;
    });
  } catch (e) {
    const n = current as CaseNode | null;
    const msg = e instanceof Error ? e.message : String(e);
    unsupported = { op: n?.op ?? "gradient", nodeId: n?.id ?? c.cost, reason: `tfjs ${phase} failed: ${msg}` };
  }
  const micros = Math.round((performance.now() - t0) * 1000);
  const result: TfjsResult = { backend, values, depth, costDepth, micros };
  if (grads !== undefined && unsupported === undefined) result.grads = grads;
  if (unsupported !== undefined) result.unsupported = unsupported;
  if (nonSmooth.length > 0) result.nonSmooth = nonSmooth;
  return result;
}

// ---------------------------------------------------------------------------------------------
// comparison

/** A float64 reference array (the engine's, as in a verdict's `values`/`grads`). */
export interface RefArray {
  dims?: string[];
  shape: number[];
  dtype?: string;
  /** Flat, C order; bools as 0/1 or true/false. */
  data: (number | boolean)[];
}

/** What the tfjs result is compared against. */
export interface TfjsReference {
  values?: Record<string, RefArray>;
  grads?: Record<string, RefArray>;
}

/** One oracle check. */
export interface OracleCheck {
  status: "pass" | "fail" | "inconclusive";
  reason?: string;
  maxAbsErr: number;
  maxRelErr: number;
}

/** float32 unit roundoff, 2^-24. */
export const F32_EPS = 2 ** -24;

/**
 * Relative tolerance for a value `depth` ops from the inputs.
 *
 * Why 1e-3·√depth: each float32 op adds about one unit roundoff u ≈ 6e-8, and independent
 * rounding errors grow like √depth, so a conditioning amplification up to ~1.7e4 per op is
 * still accepted as noise. That is generous on purpose: the bugs this oracle exists to find
 * (a transposed or relabelled cotangent, a missing term, a wrong factor such as N vs N−ddof with
 * N ≤ 100, a sign) change values by ≥ 1e-2 relative, so they still fail, while honest float32
 * error practically never does. The gradient uses twice the cost's depth (the backward pass
 * retraces the forward one).
 */
export function f32Rtol(depth: number): number {
  return 1e-3 * Math.sqrt(Math.max(1, depth));
}

interface ArrayCmp {
  ok: boolean;
  finite: boolean;
  maxAbs: number;
  maxRel: number;
  worst: string;
}

/**
 * |a−b| ≤ rtol·(S + max(|a|,|b|)) elementwise, with S the largest magnitude in either array.
 * S makes the test norm-wise: an element that is small only because of cancellation inside a
 * sum or matMul carries the rounding error of the large terms that produced it, and that error
 * scales with the array's magnitude, not with the element's.
 */
function compareArrays(refIn: readonly (number | boolean)[], got: readonly number[], rtol: number, floor = 0): ArrayCmp {
  const ref = refIn.map(Number);
  let S = floor;
  let finite = true;
  for (let i = 0; i < ref.length; i++) {
    if (!Number.isFinite(ref[i]) || !Number.isFinite(got[i])) finite = false;
    else S = Math.max(S, Math.abs(ref[i]), Math.abs(got[i]));
  }
  let maxAbs = 0;
  let maxRel = 0;
  let ok = true;
  let worst = "";
  let worstRatio = -1;
  for (let i = 0; i < ref.length; i++) {
    const a = ref[i];
    const b = got[i];
    if (!Number.isFinite(a) || !Number.isFinite(b)) continue;
    const err = Math.abs(a - b);
    const mag = Math.max(Math.abs(a), Math.abs(b));
    const tol = rtol * (S + mag);
    maxAbs = Math.max(maxAbs, err);
    if (mag > 0) maxRel = Math.max(maxRel, err / mag);
    const ratio = tol > 0 ? err / tol : err > 0 ? Infinity : 0;
    if (ratio > worstRatio) { worstRatio = ratio; worst = `element ${i}: reference ${a}, tfjs ${b}, |diff| ${err.toPrecision(3)} > tol ${tol.toPrecision(3)}`; }
    if (err > tol) ok = false;
  }
  return { ok, finite, maxAbs, maxRel, worst };
}

function sameList(a: readonly unknown[] | undefined, b: readonly unknown[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function fmt(dims: readonly string[] | undefined): string {
  return dims === undefined ? "positional" : `(${dims.join(", ")})`;
}

/**
 * The size of the computation a gradient comes from: the largest forward magnitude (`cost`: at
 * least |cost|, better the largest |value| of any node) and the largest |input|. A gradient entry
 * is a sum of terms of size about value / |x|; when they cancel (x / x, log(x) / log(x), a
 * difference of equal paths), float32 leaves noise of that size times its rtol however small the
 * true entry.
 */
export interface GradientScale {
  readonly cost: number;
  readonly input: number;
  /**
   * The largest magnitude among the case's float inputs (weights included) and forward values.
   * A gradient's terms are products of weights and local derivatives; where they cancel exactly
   * (`where(b, x, x) − x` summed against weights), the float64 reference keeps a few ulps of them
   * and float32 tfjs gives 0, or the reverse. 64 float32 ulps of this magnitude are noise.
   */
  readonly magnitude?: number;
}

/**
 * Compare a float64 reference gradient (and, when given, its forward values) with tfjs.
 *
 * - `fail`: a gradient's dims, shape or values disagree beyond the float32 tolerance while the
 *   forward pass agrees;
 * - `inconclusive`: tfjs lacks the op, the forward values already differ beyond float32 noise
 *   (so the gradients are taken at different points), a non-smooth point was met, or some value
 *   is not finite;
 * - `pass` otherwise.
 */
export function compareWithTfjs(reference: TfjsReference, tfjs: TfjsResult, scale?: GradientScale): OracleCheck {
  const acc = { maxAbsErr: 0, maxRelErr: 0 };
  const inconclusive = (reason: string): OracleCheck => ({ status: "inconclusive", reason, ...acc });
  if (tfjs.unsupported !== undefined) {
    const u = tfjs.unsupported;
    return inconclusive(`tfjs cannot run op ${u.op} (node ${u.nodeId}): ${u.reason}`);
  }
  for (const [id, ref] of Object.entries(reference.values ?? {})) {
    const got = tfjs.values[id];
    if (got === undefined) continue;
    if (!sameList(ref.shape, got.shape) || !sameList(ref.dims, got.dims)) {
      return inconclusive(`forward value of ${id} is typed ${fmt(ref.dims)} [${ref.shape.join(", ")}] in the reference but ${fmt(got.dims)} [${got.shape.join(", ")}] in tfjs (see the forward check)`);
    }
    const r = compareArrays(ref.data, got.data, f32Rtol(tfjs.depth[id] ?? 1));
    if (!r.finite) return inconclusive(`forward value of ${id} is not finite`);
    if (!r.ok) return inconclusive(`tfjs forward differs at ${id} beyond float32 noise (${r.worst}); the gradients are taken at different points`);
  }
  if (tfjs.nonSmooth !== undefined) {
    const k = tfjs.nonSmooth[0];
    return inconclusive(`non-smooth point: ${k.reason} at node ${k.nodeId}; gradient conventions may differ`);
  }
  if (tfjs.grads === undefined) return inconclusive("tfjs computed no gradients");
  const rtol = f32Rtol(2 * tfjs.costDepth);
  // The backward pass mixes every gradient's terms (they share the cotangents of the forward
  // graph), so an input whose gradient is small only by cancellation carries float32 rounding of
  // the size of the largest gradient: the norm scale is taken over all of them.
  let globalScale = 0;
  for (const [w, got] of Object.entries(tfjs.grads)) {
    for (const v of got.data) if (Number.isFinite(v)) globalScale = Math.max(globalScale, Math.abs(v));
    for (const v of reference.grads?.[w]?.data ?? []) if (Number.isFinite(Number(v))) globalScale = Math.max(globalScale, Math.abs(Number(v)));
  }
  let firstFail: string | undefined;
  let nonFinite: string | undefined;
  let worstAbs = 0;
  for (const [w, got] of Object.entries(tfjs.grads)) {
    const ref = reference.grads?.[w];
    if (ref === undefined) { firstFail ??= `the reference has no gradient for ${w}`; worstAbs = Infinity; continue; }
    if (!sameList(ref.dims, got.dims)) {
      firstFail ??= `gradient of ${w} has dims ${fmt(ref.dims)} in the reference but the input's dims are ${fmt(got.dims)}`;
      worstAbs = Infinity; // a type error is never noise
      continue;
    }
    if (!sameList(ref.shape, got.shape)) { firstFail ??= `gradient of ${w} has shape [${ref.shape.join(", ")}], expected [${got.shape.join(", ")}]`; worstAbs = Infinity; continue; }
    const r = compareArrays(ref.data, got.data, rtol, globalScale);
    acc.maxAbsErr = Math.max(acc.maxAbsErr, r.maxAbs);
    acc.maxRelErr = Math.max(acc.maxRelErr, r.maxRel);
    if (!r.finite) nonFinite ??= `gradient of ${w} is not finite`;
    else if (!r.ok) {
      firstFail ??= `gradient of ${w} differs from tfjs at ${r.worst} (rtol ${rtol.toPrecision(2)})`;
      worstAbs = Math.max(worstAbs, r.maxAbs);
    }
  }
  const floor = scale === undefined ? 0 : Math.max((rtol * Math.abs(scale.cost)) / Math.max(1, scale.input), 64 * 2 ** -23 * (scale.magnitude ?? 0));
  if (firstFail !== undefined && worstAbs <= floor) {
    return inconclusive(`${firstFail}; but every difference is below the float32 noise of cancelling terms (the larger of rtol·max|value|/max(1,|x|) and 64 float32 ulps of the largest input or value: ${floor.toPrecision(3)})`);
  }
  if (firstFail !== undefined) return { status: "fail", reason: firstFail, ...acc };
  if (nonFinite !== undefined) return inconclusive(nonFinite);
  return { status: "pass", ...acc };
}

/**
 * Forward semantics check: the engine's node values against tfjs, end to end.
 *
 * Types must agree exactly: a node positional on one side and named on the other, a different
 * dims order, or a different shape is a `fail` (dims order is semantics, not noise). Values are
 * compared with the float32 tolerance; a value mismatch is a `fail` only at a node whose args
 * all matched and whose op moves or selects values without rounding (so float32 cannot explain
 * it), and `inconclusive` otherwise. Nodes absent from `engineValues` are skipped, and count as
 * unverified args for the nodes that use them.
 */
export function compareForwardWithTfjs(engineValues: Record<string, RefArray>, tfjs: TfjsResult, c: Case): OracleCheck {
  const acc = { maxAbsErr: 0, maxRelErr: 0 };
  if (tfjs.unsupported !== undefined) {
    const u = tfjs.unsupported;
    if (u.op === "input" || !(u.reason.startsWith("tfjs gradient"))) return { status: "inconclusive", reason: `tfjs cannot run op ${u.op} (node ${u.nodeId}): ${u.reason}`, ...acc };
  }
  const EXACT = new Set(["transpose", "rename", "stack", "unstack", "concat", "expand_dims", "squeeze", "isel", "set", "values", "as_xtensor", "neg", "abs", "maximum", "minimum", "max", "min", "where"]);
  const bad = new Set<string>();
  let compared = 0;
  let inconclusiveReason: string | undefined;
  for (const n of c.nodes) {
    const got = tfjs.values[n.id];
    if (got === undefined) continue;
    const ref = Object.prototype.hasOwnProperty.call(engineValues, n.id) ? engineValues[n.id] : undefined;
    // A node the engine did not report (a subset was passed) cannot be judged; its dependents
    // are still compared, with their args counted as unverified.
    if (ref === undefined) { bad.add(n.id); continue; }
    compared++;
    if (!sameList(ref.dims, got.dims)) return { status: "fail", reason: `node ${n.id} (${n.op}): engine dims ${fmt(ref.dims)} but the case semantics give ${fmt(got.dims)}`, ...acc };
    if (!sameList(ref.shape, got.shape)) return { status: "fail", reason: `node ${n.id} (${n.op}): engine shape [${ref.shape.join(", ")}] but the case semantics give [${got.shape.join(", ")}]`, ...acc };
    const r = compareArrays(ref.data, got.data, f32Rtol(tfjs.depth[n.id] ?? 1));
    acc.maxAbsErr = Math.max(acc.maxAbsErr, r.maxAbs);
    acc.maxRelErr = Math.max(acc.maxRelErr, r.maxRel);
    const argsOk = n.args.every((a) => typeof a === "number" || !bad.has(a));
    if (!r.finite) { inconclusiveReason ??= `node ${n.id} is not finite`; bad.add(n.id); continue; }
    if (!r.ok) {
      if (argsOk && EXACT.has(n.op)) return { status: "fail", reason: `node ${n.id} (${n.op}) differs from tfjs although its args agree: ${r.worst}`, ...acc };
      inconclusiveReason ??= `node ${n.id} (${n.op}) differs from tfjs beyond float32 noise: ${r.worst}`;
      bad.add(n.id);
    }
  }
  if (inconclusiveReason !== undefined) return { status: "inconclusive", reason: inconclusiveReason, ...acc };
  if (compared === 0) return { status: "inconclusive", reason: "no node values to compare", ...acc };
  return { status: "pass", ...acc };
}
