/**
 * Build an engine graph from an `xgrad-case/1` case, and evaluate it.
 *
 * `buildCase` uses only what a user of the library would: the named API (`src/xtensor`) for
 * xtensors and the positional builders (`src/tensor`) for tensors. It never lowers, so the graph
 * it returns is exactly what a user writing the case by hand would get, named ops included: the
 * harness differentiates and compiles that graph, and lowering is the engine's job.
 *
 * The parser (`parse.ts`) infers every node's type with its own, independent reading of the
 * semantics. The builder checks the engine's type of each node against it, so a disagreement
 * between the two (or an engine refusal of a case the parser accepted) is reported as a
 * `CaseBuildError` naming the node, instead of surfacing later as a wrong number.
 *
 * `evaluateCaseEngine` and `caseGradients` produce the `values` and `grads` sections of the
 * `xgrad check --json` verdict, each from one compiled function.
 */
import type { RewriteContext } from "../rewriting/engine.js";
import { compile } from "../compile/function.js";
import { XgradError } from "../errors.js";
import type { Variable } from "../graph/basic.js";
import type { DType } from "../graph/type.js";
import { grad, lowerThenGrad } from "../grad/driver.js";
import { NDArray } from "../ndarray/ndarray.js";
import type { Mode } from "../rewriting/db.js";
import { type TensorLike, type TensorVariable, tensor } from "../tensor/basic.js";
import * as pe from "../tensor/elemwise.js";
import { sum as ptSum } from "../tensor/reduce.js";
import * as X from "../xtensor/index.js";
import type {
  BinaryOp, Case, CaseDType, CaseNode, CaseTypes, CaseValue, CompareOp, Indexer, ReduceOp, UnaryOp, VarType,
} from "./format.js";
import { caseTypes, resolveWrt } from "./parse.js";

/**
 * The engine refused, or typed differently, a case node that the parser accepted. One of the two
 * has a bug; the message names the node id, the op and the engine's own message.
 */
export class CaseBuildError extends XgradError {
  override name = "CaseBuildError";
  constructor(
    /** The case id of the node being built. */
    readonly nodeId: string,
    /** Its case op. */
    readonly op: string,
    /** What went wrong (the engine's message, or the type disagreement). */
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`node "${nodeId}" (${op}): ${detail}`, options);
  }
}

/** A case built into an engine graph. Maps are keyed by case name/id, in case order. */
export interface BuiltCase {
  /** The case the graph was built from. */
  readonly case: Case;
  /** The parser's static type of every input and node. */
  readonly types: CaseTypes;
  /** One root variable per case input, named after it. */
  readonly inputs: ReadonlyMap<string, Variable>;
  /**
   * The variable of every node, named after its id. A node whose builder returns its argument
   * unchanged (a `cast` to the same dtype, an identity `transpose`) maps to that argument, which
   * keeps its own name: renaming it would rename the earlier node or input too.
   */
  readonly nodes: ReadonlyMap<string, Variable>;
  /** The variable of the cost node. */
  readonly cost: Variable;
  /** The names gradients are taken with respect to (`wrt`, or every float input). */
  readonly wrtNames: readonly string[];
  /** The input variables of `wrtNames`, in the same order. */
  readonly wrt: readonly Variable[];
  /** Every input's value, as an NDArray of its declared dtype and shape. */
  readonly values: ReadonlyMap<string, NDArray>;
}

/**
 * One array in the verdict's `values` / `grads` format: flat data in C order of the array's own
 * layout (for an xtensor, its dims order), bools as 0/1. Positional tensors have no `dims`.
 */
export interface VerdictArray {
  dims?: string[];
  shape: number[];
  dtype: CaseDType;
  data: number[];
}

/** How to compile an evaluation: the rewrite mode and whether to verify after every rewrite. */
export interface CaseRunOptions {
  /** Default "NONE" (the verdict's values come from the unoptimised evaluation). */
  readonly mode?: Mode;
  /** Default false. */
  readonly checked?: boolean;
  /** A rewrite context to compile with (its counters then say which rewrites fired). */
  readonly ctx?: RewriteContext;
}

/** The gradient paths of the verdict that the engine computes. */
export type CaseGradStrategy = "lazy" | "perNode" | "lowered";

// ---------------------------------------------------------------------------------------------
// op tables: `satisfies` makes an op missing from a table a compile error, not a runtime gap.

type NamedUnary = (x: X.XTensorLike) => X.XTensorVariable;
type NamedBinary = (x: X.XTensorLike, y: X.XTensorLike) => X.XTensorVariable;
type PosUnary = (x: TensorLike) => TensorVariable;
type PosBinary = (x: TensorLike, y: TensorLike) => TensorVariable;

const UNARY = {
  neg: [X.neg, pe.neg], exp: [X.exp, pe.exp], log: [X.log, pe.log], log1p: [X.log1p, pe.log1p],
  expm1: [X.expm1, pe.expm1], sqrt: [X.sqrt, pe.sqrt], square: [X.square, pe.square], abs: [X.abs, pe.abs],
  sin: [X.sin, pe.sin], cos: [X.cos, pe.cos], tanh: [X.tanh, pe.tanh], sigmoid: [X.sigmoid, pe.sigmoid],
  softplus: [X.softplus, pe.softplus],
} satisfies Record<UnaryOp, readonly [NamedUnary, PosUnary]>;

const BINARY = {
  add: [X.add, pe.add], sub: [X.sub, pe.sub], mul: [X.mul, pe.mul], div: [X.div, pe.div], pow: [X.pow, pe.pow],
  maximum: [X.maximum, pe.maximum], minimum: [X.minimum, pe.minimum],
  lt: [X.lt, pe.lt], gt: [X.gt, pe.gt], le: [X.le, pe.le], ge: [X.ge, pe.ge], eq: [X.eq, pe.eq], ne: [X.ne, pe.ne],
} satisfies Record<BinaryOp | CompareOp, readonly [NamedBinary, PosBinary]>;

const NAMED_REDUCE = {
  sum: X.sum, prod: X.prod, mean: X.mean, max: X.max, min: X.min, all: X.all, any: X.any,
} satisfies Record<ReduceOp, (x: X.XTensorVariable, opts: X.ReduceOptions) => X.XTensorVariable>;

// ---------------------------------------------------------------------------------------------
// building

/**
 * Build the engine graph of a case. Every input becomes a root variable named after it (an
 * `xtensor` or a positional `tensor` of the declared static shape and dtype), every node the
 * variable its op's public builder returns, named after its id; numbers in `args` are weak 0-d
 * constants (NEP 50).
 *
 * @param types - the case's static types from `parseTypedCase`. When omitted the case is
 *   validated here (`caseTypes`); when given, the case is trusted to be the one they describe.
 * @param opts.staticShapes - the static shape to declare for some inputs instead of the case's
 *   own (each length the case's, or null for unknown); the values stay the case's. The engine
 *   must give the same results either way (the `shape-erasure` property).
 * @throws CaseError when `types` is omitted and the case is malformed.
 * @throws CaseBuildError when the engine refuses a node, or types it differently from the parser.
 */
export function buildCase(c: Case, types?: CaseTypes, opts: { readonly staticShapes?: ReadonlyMap<string, readonly (number | null)[]> } = {}): BuiltCase {
  const ts = types ?? caseTypes(c);
  const env = new Map<string, Variable>();
  const inputs = new Map<string, Variable>();
  const values = new Map<string, NDArray>();
  for (const inp of c.inputs) {
    const dtype = inp.dtype as DType;
    const shape = opts.staticShapes?.get(inp.name) ?? inp.shape;
    if (shape.length !== inp.shape.length || shape.some((s, i) => s !== null && s !== inp.shape[i])) {
      throw new CaseBuildError(inp.name, "input", `a declared static shape [${shape.map((s) => s ?? "?").join(", ")}] that contradicts the value's shape [${inp.shape.join(", ")}]`);
    }
    const v = inp.kind === "xtensor" ? X.xtensor(inp.name, { dims: inp.dims, shape, dtype }) : tensor(inp.name, { shape, dtype });
    inputs.set(inp.name, v);
    env.set(inp.name, v);
    // fromFlat with the declared shape, not fromNested: a nested array cannot show the lengths
    // after a zero-length axis.
    values.set(inp.name, NDArray.fromFlat(flatten(inp.value), inp.shape, dtype));
  }
  const known = new Set<Variable>(env.values());
  const nodes = new Map<string, Variable>();
  for (const node of c.nodes) {
    const want = ts.get(node.id);
    if (want === undefined) throw new CaseBuildError(node.id, node.op, "the supplied case types have no entry for this node");
    let v: Variable;
    try {
      const args = node.args.map((a) => (typeof a === "number" ? a : lookup(env, a, node)));
      v = buildNode(node, args, want);
    } catch (e) {
      if (e instanceof CaseBuildError) throw e;
      const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      throw new CaseBuildError(node.id, node.op, `the engine rejected a node the case parser accepted: ${msg}`, { cause: e });
    }
    checkType(node, v, want);
    if (!known.has(v)) {
      v.name = node.id;
      known.add(v);
    }
    env.set(node.id, v);
    nodes.set(node.id, v);
  }
  const cost = nodes.get(c.cost);
  if (cost === undefined) throw new CaseBuildError(c.cost, "cost", "the cost is not a node id");
  const wrtNames = resolveWrt(c);
  const wrt = wrtNames.map((n) => {
    const v = inputs.get(n);
    if (v === undefined) throw new CaseBuildError(n, "wrt", "not an input name");
    return v;
  });
  return { case: c, types: ts, inputs, nodes, cost, wrtNames, wrt, values };
}

function lookup(env: ReadonlyMap<string, Variable>, name: string, node: CaseNode): Variable {
  const v = env.get(name);
  if (v === undefined) throw new CaseBuildError(node.id, node.op, `arg "${name}" is not an input or an earlier node`);
  return v;
}

function flatten(v: CaseValue): number[] {
  if (Array.isArray(v)) return v.flatMap(flatten);
  return [Number(v)];
}

type Arg = Variable | number;

/** The named variable behind an arg; the parser guarantees the kind, this only narrows it. */
function xarg(a: Arg, node: CaseNode, i: number): X.XTensorVariable {
  if (!X.isXTensorVariable(a)) throw new CaseBuildError(node.id, node.op, `args[${i}] should be an xtensor but the engine has ${String(a)}`);
  return a;
}

/** A named operand (xtensor or weak number) for the elemwise builders. */
function xlike(a: Arg, node: CaseNode, i: number): X.XTensorLike {
  return typeof a === "number" ? a : xarg(a, node, i);
}

/** Case indexers → the named API's, with `{arg: k}` resolved to `args[k]`. */
function indexers(spec: Readonly<Record<string, Indexer>>, args: readonly Arg[], node: CaseNode): Record<string, X.Indexer> {
  const out: Record<string, X.Indexer> = {};
  for (const [d, ix] of Object.entries(spec)) {
    if (typeof ix === "number") out[d] = ix;
    else if ("slice" in ix) out[d] = ix.slice;
    else out[d] = xarg(args[ix.arg], node, ix.arg);
  }
  return out;
}

/** One node: dispatch on the op, and on the output kind the parser inferred for elemwise ops. */
function buildNode(node: CaseNode, args: readonly Arg[], want: VarType): Variable {
  const named = want.kind === "xtensor";
  const x0 = (): X.XTensorVariable => xarg(args[0], node, 0);
  const pos = (i: number): TensorLike => args[i];
  switch (node.op) {
    case "neg": case "exp": case "log": case "log1p": case "expm1": case "sqrt": case "square": case "abs":
    case "sin": case "cos": case "tanh": case "sigmoid": case "softplus": {
      const [nf, pf] = UNARY[node.op];
      return named ? nf(xlike(args[0], node, 0)) : pf(pos(0));
    }
    case "add": case "sub": case "mul": case "div": case "pow": case "maximum": case "minimum":
    case "lt": case "gt": case "le": case "ge": case "eq": case "ne": {
      const [nf, pf] = BINARY[node.op];
      return named ? nf(xlike(args[0], node, 0), xlike(args[1], node, 1)) : pf(pos(0), pos(1));
    }
    case "where":
      return named ? X.where(xlike(args[0], node, 0), xlike(args[1], node, 1), xlike(args[2], node, 2)) : pe.where(pos(0), pos(1), pos(2));
    case "cast":
      return named ? X.cast(x0(), node.dtype as DType) : pe.cast(pos(0), node.dtype as DType);
    case "sum": case "prod": case "mean": case "max": case "min": case "all": case "any":
      // Only `sum` is allowed on positional tensors (with `axes`); the parser enforces it.
      if (!named) return ptSum(pos(0), node.axes ?? null);
      return NAMED_REDUCE[node.op](x0(), { dims: node.dims ?? null });
    case "var":
      return X.variance(x0(), { dims: node.dims ?? null, ddof: node.ddof ?? 0 });
    case "std":
      return X.std(x0(), { dims: node.dims ?? null, ddof: node.ddof ?? 0 });
    case "cumsum":
      return X.cumsum(x0(), node.dim);
    case "cumprod":
      return X.cumprod(x0(), node.dim);
    case "dot":
      return X.dot(x0(), xarg(args[1], node, 1), node.dims);
    case "transpose":
      return X.transpose(x0(), node.dims);
    case "rename":
      return X.rename(x0(), node.map);
    case "stack":
      return X.stack(x0(), node.dim, node.from);
    case "unstack":
      return X.unstack(x0(), node.dim, node.to);
    case "concat":
      return X.concat(args.map((a, i) => xarg(a, node, i)), node.dim);
    case "expand_dims":
      return X.expandDims(x0(), node.dim, node.size ?? 1);
    case "squeeze":
      return X.squeeze(x0(), node.dims);
    case "isel":
      return X.isel(x0(), indexers(node.indexers, args, node));
    case "set": case "inc": {
      // The case writes `x.isel(indexers).set(y)`; the view node only carries the selection.
      const view = X.isel(x0(), indexers(node.indexers, args, node));
      const y = xlike(args[1], node, 1);
      return node.op === "set" ? X.set(view, y) : X.inc(view, y);
    }
    case "values":
      return X.values(x0());
    case "as_xtensor":
      return X.asXTensor(args[0], node.dims);
  }
}

/**
 * The engine's static type must be the parser's: same kind, dims (in order) and dtype, and every
 * length the engine knows must be the parser's. Two independent type inferences that disagree
 * mean one of them is wrong, and values computed from either would mislead.
 */
function checkType(node: CaseNode, v: Variable, want: VarType): void {
  const fail = (what: string): never => {
    throw new CaseBuildError(node.id, node.op, `the engine infers ${v.type.toString()} but the case parser infers ${describeType(want)} (${what})`);
  };
  const isNamed = X.isXTensorVariable(v);
  if (isNamed !== (want.kind === "xtensor")) fail("kind");
  if (isNamed) {
    const dims = v.type.dims;
    const wd = want.dims ?? [];
    if (dims.length !== wd.length || dims.some((d, i) => d !== wd[i])) fail("dims");
  }
  if (v.type.dtype !== want.dtype) fail("dtype");
  const shape = v.type.shape;
  if (shape.length !== want.shape.length || shape.some((s, i) => s !== null && s !== want.shape[i])) fail("shape");
}

function describeType(t: VarType): string {
  return t.kind === "xtensor"
    ? `xtensor ${t.dtype} (${(t.dims ?? []).map((d, i) => `${d}=${t.shape[i]}`).join(", ")})`
    : `tensor ${t.dtype} [${t.shape.join(", ")}]`;
}

// ---------------------------------------------------------------------------------------------
// evaluation

/** A compiled forward evaluation of every node. */
export type CaseEvaluator = ((values?: ReadonlyMap<string, NDArray>) => Record<string, VerdictArray>) & {
  /** Every node's value as the compiled function returns it (case order), buffers included. */
  readonly raw: (values?: ReadonlyMap<string, NDArray>) => NDArray[];
};

/**
 * Compile every node's value as one function of the case inputs (one compile, so shared
 * subgraphs run once). The returned evaluator takes input values by name (default: the case's
 * own, `built.values`; missing names fall back to them), which lets finite differences re-run
 * the graph without recompiling.
 */
export function caseEvaluator(built: BuiltCase, opts: CaseRunOptions = {}): CaseEvaluator {
  const ids = [...built.nodes.keys()];
  const outs = ids.map((id) => built.nodes.get(id) as Variable);
  const names = [...built.inputs.keys()];
  const f = compile(names.map((n) => built.inputs.get(n) as Variable), outs, { mode: opts.mode ?? "NONE", checked: opts.checked ?? false, ...(opts.ctx !== undefined ? { ctx: opts.ctx } : {}) });
  const raw = (values: ReadonlyMap<string, NDArray> = built.values): NDArray[] => f(...names.map((n) => values.get(n) ?? (built.values.get(n) as NDArray)));
  const evaluate = (values: ReadonlyMap<string, NDArray> = built.values): Record<string, VerdictArray> => {
    const res = raw(values);
    const out: Record<string, VerdictArray> = {};
    ids.forEach((id, k) => {
      out[id] = toVerdictArray(outs[k], res[k]);
    });
    return out;
  };
  return Object.assign(evaluate, { raw });
}

/**
 * Every node's forward value, keyed by node id in case order, in the verdict's `values` format,
 * from one compiled function.
 */
export function evaluateCaseEngine(built: BuiltCase, opts: CaseRunOptions = {}): Record<string, VerdictArray> {
  return caseEvaluator(built, opts)();
}

/**
 * The gradient of the cost with respect to every `wrt` input, keyed by input name, in the
 * verdict's `grads` format, by one path:
 * - `lazy`: `grad` with named regions differentiated through the lazy Pullback node;
 * - `perNode`: `grad` with each named node lowered inside its own rule;
 * - `lowered`: `lowerThenGrad`, the reference (lower the whole graph, then differentiate).
 *
 * All gradients of a path come from one compiled function. A `wrt` input the cost does not
 * depend on gets zeros, which is what finite differences see; the paths are compared with each
 * other and with finite differences, so a policy error would hide nothing. A gradient's `dims`
 * are those of the gradient variable the engine built, so a gradient in the wrong dims order
 * shows up as such rather than being relabelled here.
 *
 * @throws GradError when the engine cannot differentiate the cost (e.g. an undefined gradient).
 */
export function caseGradients(built: BuiltCase, strategy: CaseGradStrategy, opts: CaseRunOptions = {}): Record<string, VerdictArray> {
  const out: Record<string, VerdictArray> = {};
  if (built.wrt.length === 0) return out;
  const gs: (Variable | null)[] =
    strategy === "lowered"
      ? lowerThenGrad(built.cost, built.wrt, { disconnectedInputs: "ignore" })
      : grad(built.cost, built.wrt, { gradStrategy: strategy, disconnectedInputs: "ignore" });
  const live = gs.flatMap((g, i) => (g === null ? [] : [i]));
  const names = [...built.inputs.keys()];
  const f = compile(names.map((n) => built.inputs.get(n) as Variable), live.map((i) => gs[i] as Variable), { mode: opts.mode ?? "NONE", checked: opts.checked ?? false, ...(opts.ctx !== undefined ? { ctx: opts.ctx } : {}) });
  const res = f(...names.map((n) => built.values.get(n) as NDArray));
  const byIndex = new Map(live.map((i, k) => [i, res[k]] as const));
  built.wrtNames.forEach((name, i) => {
    const w = built.wrt[i];
    const g = gs[i];
    const arr = byIndex.get(i);
    // lowerThenGrad reports a disconnected input as null even under the "zero" policy.
    out[name] = g === null || arr === undefined ? zeroGradient(w, built.values.get(name) as NDArray) : toVerdictArray(g, arr);
  });
  return out;
}

function toVerdictArray(v: Variable, a: NDArray): VerdictArray {
  const base = { shape: [...a.shape], dtype: a.dtype as CaseDType, data: a.toFlat() };
  return X.isXTensorVariable(v) ? { dims: [...v.type.dims], ...base } : base;
}

/** The gradient of a `w` the cost cannot reach: zeros shaped like its value (its static shape may be unknown). */
export function zeroGradient(w: Variable, value: NDArray): VerdictArray {
  return toVerdictArray(w, NDArray.zeros(value.shape, w.type.dtype));
}
