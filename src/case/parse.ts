/**
 * Parser and static validator for `xgrad-case/1`.
 *
 * Everything is checked before anything runs: the JSON shape of the case, every value against
 * its declared shape and dtype, and every node's output type (dims, shape, dtype), inferred with
 * the rules of `semantics.md` (xarray is the truth). The first problem found is reported as a
 * `CaseError` whose message starts with the JSON path of the offending field
 * (`nodes[3].dims: "q" is not a dim of x (a, b)`), so a bad case never reaches the engine and
 * never produces a stack trace. Parsing is pure data handling: nothing in a case is executed.
 */
import { XgradError } from "../errors.js";
import {
  BINARY_OPS, CASE_DTYPES, CASE_FORMAT, CASE_OPS, COMPARE_OPS, UNARY_OPS,
  isFloatDtype, isIntDtype,
} from "./format.js";
import type {
  Case, CaseArg, CaseDType, CaseInput, CaseNode, CaseOp, CaseTypes, CaseValue, Indexer,
  SliceSpec, VarType,
} from "./format.js";

/** A malformed case. `path` is the JSON path of the offending field (`nodes[3].dims`). */
export class CaseError extends XgradError {
  override name = "CaseError";
  constructor(
    readonly path: string,
    readonly detail: string,
    readonly source?: string,
  ) {
    super(`${source !== undefined ? `${source}: ` : ""}${path}: ${detail}`);
  }
}

/** A parsed, validated case together with every input's and node's static type. */
export interface TypedCase {
  case: Case;
  types: CaseTypes;
}

/**
 * Validate `json` (already `JSON.parse`d) as an `xgrad-case/1` case and return a fresh copy.
 *
 * @param source - a file name or label, prefixed to error messages.
 * @throws CaseError naming the JSON path and what was expected.
 */
export function parseCase(json: unknown, source?: string): Case {
  return parseTypedCase(json, source).case;
}

/** Like {@link parseCase}, also returning the inferred {@link CaseTypes}. */
export function parseTypedCase(json: unknown, source?: string): TypedCase {
  try {
    return new Parser().parse(json);
  } catch (e) {
    if (e instanceof CaseError && source !== undefined) throw new CaseError(e.path, e.detail, source);
    throw e;
  }
}

/** Parse JSON text; a syntax error becomes a `CaseError` at path `$`. */
export function readCase(text: string, source?: string): TypedCase {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new CaseError("$", `not valid JSON (${(e as Error).message})`, source);
  }
  return parseTypedCase(json, source);
}

/** The static types of a case object (validating it fully, as `parseCase` does). */
export function caseTypes(c: Case): CaseTypes {
  return parseTypedCase(c).types;
}

/** The inputs gradients are taken with respect to: `wrt`, or every float input when absent. */
export function resolveWrt(c: Case): string[] {
  return c.wrt !== undefined ? [...c.wrt] : c.inputs.filter((i) => isFloatDtype(i.dtype)).map((i) => i.name);
}

/**
 * numpy's `slice(start, stop, step).indices(n)` plus the resulting length.
 * Out-of-range bounds clamp, as in numpy; a zero step is rejected by the parser before this runs.
 */
export function normalizeSlice(spec: SliceSpec, n: number): { start: number; step: number; length: number } {
  const step = spec[2] ?? 1;
  const [lower, upper] = step > 0 ? [0, n] : [-1, n - 1];
  const clamp = (v: number | null, dflt: number): number =>
    v === null ? dflt : v < 0 ? Math.max(v + n, lower) : Math.min(v, upper);
  const start = clamp(spec[0], step > 0 ? lower : upper);
  const stop = clamp(spec[1], step > 0 ? upper : lower);
  const length = step > 0 ? Math.max(0, Math.ceil((stop - start) / step)) : Math.max(0, Math.ceil((start - stop) / -step));
  return { start, step, length };
}

// ---------------------------------------------------------------------------------------------
// helpers

/**
 * Names (inputs, nodes, dims) are identifiers. This keeps them readable in messages, keeps JSON
 * key order stable (integer-like keys would be reordered by every JSON engine), and rules out
 * `__proto__`, which would corrupt the plain-object maps that reports build from names.
 */
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

type Json = unknown;
type Obj = Record<string, Json>;

function fail(path: string, detail: string): never {
  throw new CaseError(path, detail);
}

function describe(v: Json): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "object") return "an object";
  return String(v);
}

function isObj(v: Json): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function obj(v: Json, path: string): Obj {
  if (!isObj(v)) fail(path, `expected an object, got ${describe(v)}`);
  return v;
}

function arr(v: Json, path: string): Json[] {
  if (!Array.isArray(v)) fail(path, `expected an array, got ${describe(v)}`);
  return v;
}

function str(v: Json, path: string): string {
  if (typeof v !== "string") fail(path, `expected a string, got ${describe(v)}`);
  return v;
}

function int(v: Json, path: string, min = -Infinity): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v)) fail(path, `expected an integer, got ${describe(v)}`);
  if (v < min) fail(path, `expected an integer >= ${min}, got ${v}`);
  return v;
}

function name(v: Json, path: string, what: string): string {
  const s = str(v, path);
  if (!NAME_RE.test(s) || s === "__proto__") fail(path, `${JSON.stringify(s)} is not a valid ${what} (expected an identifier: letters, digits, _)`);
  return s;
}

function checkFields(o: Obj, path: string, allowed: readonly string[], required: readonly string[], what: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) fail(`${path}.${k}`, `unknown field for ${what} (allowed: ${allowed.join(", ")})`);
  }
  for (const k of required) if (!(k in o)) fail(`${path}.${k}`, `missing (required for ${what})`);
}

function dimList(v: Json, path: string): string[] {
  const a = arr(v, path);
  const out: string[] = [];
  a.forEach((d, i) => {
    const n = name(d, `${path}[${i}]`, "dim name");
    if (out.includes(n)) fail(`${path}[${i}]`, `duplicate dim ${JSON.stringify(n)}`);
    out.push(n);
  });
  return out;
}

function fmtDims(dims: readonly string[]): string {
  return `(${dims.join(", ")})`;
}

/** `x (a, b)` for xtensors, `W (shape [3, 2])` for tensors, `1.5` for constants. */
function descVar(id: CaseArg, t: VarType): string {
  if (typeof id === "number") return String(id);
  return t.kind === "xtensor" ? `${id} ${fmtDims(t.dims ?? [])}` : `${id} (shape [${t.shape.join(", ")}])`;
}

function sizeOf(t: VarType, dim: string): number {
  return t.shape[(t.dims ?? []).indexOf(dim)];
}

// ---- dtype rules (numpy 2, NEP 50) ----

const KIND: Record<CaseDType, number> = { bool: 0, int32: 1, int64: 1, float32: 2, float64: 2 };

/** Promote two strongly typed case dtypes (numpy 2). */
export function promote2(a: CaseDType, b: CaseDType): CaseDType {
  if (a === b) return a;
  if (a === "bool") return b;
  if (b === "bool") return a;
  if (KIND[a] === 1 && KIND[b] === 1) return "int64";
  // float with float widens; int with float needs float64 mantissa in numpy.
  return "float64";
}

/** Mixed strong dtypes and weak JS numbers: numbers raise the kind, never the precision. */
export function resultDtype(strong: CaseDType[], weak: number[]): CaseDType {
  let dt: CaseDType | null = strong.length > 0 ? strong.reduce(promote2) : null;
  for (const w of weak) {
    const isInt = Number.isInteger(w);
    if (dt === null) dt = isInt ? "int64" : "float64";
    else if (!isInt && KIND[dt] < 2) dt = "float64";
    else if (isInt && KIND[dt] < 1) dt = "int64";
  }
  return dt ?? "float64";
}

function floatOf(d: CaseDType): CaseDType {
  return isFloatDtype(d) ? d : "float64";
}

/** The dtype `sum`/`prod`/`cumsum` produce: ints and bool accumulate in int64. */
function accumDtype(d: CaseDType): CaseDType {
  return isFloatDtype(d) ? d : "int64";
}

// ---- value checking ----

function checkScalar(v: Json, dtype: CaseDType, path: string): void {
  if (dtype === "bool") {
    if (typeof v !== "boolean") fail(path, `expected a bool (true/false), got ${describe(v)}`);
    return;
  }
  if (typeof v !== "number" || !Number.isFinite(v)) fail(path, `expected a finite ${dtype} number, got ${describe(v)}`);
  if (isIntDtype(dtype)) {
    if (!Number.isSafeInteger(v)) fail(path, `expected an integer (${dtype}), got ${v}`);
    if (dtype === "int32" && (v < -(2 ** 31) || v >= 2 ** 31)) fail(path, `${v} is out of int32 range`);
  }
}

function copyValue(v: Json, shape: readonly number[], dtype: CaseDType, path: string, depth = 0): CaseValue {
  if (depth === shape.length) {
    if (Array.isArray(v)) fail(path, `expected a scalar at depth ${depth} (shape [${shape.join(", ")}]), got an array`);
    checkScalar(v, dtype, path);
    return v as number | boolean;
  }
  if (!Array.isArray(v)) fail(path, `expected an array of ${shape[depth]} at depth ${depth} (shape [${shape.join(", ")}]), got ${describe(v)}`);
  if (v.length !== shape[depth]) {
    fail(path, `expected ${shape[depth]} elements at depth ${depth} (shape [${shape.join(", ")}]), got ${v.length} (ragged or wrong shape)`);
  }
  return v.map((e, i) => copyValue(e, shape, dtype, `${path}[${i}]`, depth + 1));
}

function flatValues(v: CaseValue): number[] {
  if (Array.isArray(v)) return v.flatMap(flatValues);
  return [Number(v)];
}

// ---- the parser ----

const TOP_FIELDS = ["format", "name", "inputs", "nodes", "cost", "wrt"] as const;
const INPUT_FIELDS = ["name", "kind", "dims", "shape", "dtype", "value"] as const;

/** Op-specific fields (beyond id, op, args), and which of them are required. */
function opFields(op: CaseOp): { allowed: string[]; required: string[] } {
  const f = (allowed: string[], required: string[] = allowed) => ({ allowed, required });
  switch (op) {
    case "cast": return f(["dtype"]);
    case "sum": return f(["dims", "axes"], []);
    case "prod": case "mean": case "max": case "min": case "all": case "any": return f(["dims"], []);
    case "var": case "std": return f(["dims", "ddof"], []);
    case "cumsum": case "cumprod": return f(["dim"]);
    case "dot": return f(["dims"]);
    case "transpose": return f(["dims"]);
    case "rename": return f(["map"]);
    case "stack": return f(["dim", "from"]);
    case "unstack": return f(["dim", "to"]);
    case "concat": return f(["dim"]);
    case "expand_dims": return f(["dim", "size"], ["dim"]);
    case "squeeze": return f(["dims"]);
    case "isel": case "set": case "inc": return f(["indexers"]);
    case "as_xtensor": return f(["dims"]);
    default: return f([]);
  }
}

type ArgInfo = { ref: CaseArg; t: VarType };

/** Classification of one isel indexer after validation. */
type IndexerKind =
  | { kind: "int" }
  | { kind: "slice"; length: number }
  | { kind: "arg"; k: number; dims: string[]; shape: number[] };

class Parser {
  private readonly types = new Map<string, VarType>();
  private readonly inputs = new Map<string, CaseInput>();
  /** Node ids in order, so a reference to a later node can be reported as such. */
  private nodeIds: string[] = [];

  parse(json: Json): TypedCase {
    const top = obj(json, "$");
    if (!("format" in top)) fail("format", `missing; expected "${CASE_FORMAT}"`);
    if (top.format !== CASE_FORMAT) fail("format", `expected "${CASE_FORMAT}", got ${describe(top.format)} (only version 1 is supported)`);
    checkFields(top, "$", TOP_FIELDS, ["inputs", "nodes", "cost"], "a case");
    const out: Case = { format: CASE_FORMAT } as Case;
    if ("name" in top) out.name = str(top.name, "name");

    out.inputs = arr(top.inputs, "inputs").map((v, i) => this.input(v, `inputs[${i}]`));
    const rawNodes = arr(top.nodes, "nodes");
    this.nodeIds = rawNodes.map((n) => (isObj(n) && typeof n.id === "string" ? n.id : ""));
    out.nodes = rawNodes.map((v, i) => this.node(v, `nodes[${i}]`, i));

    const cost = str(top.cost, "cost");
    if (this.inputs.has(cost)) fail("cost", `${JSON.stringify(cost)} is an input; cost must be the id of a node`);
    const ct = this.types.get(cost);
    if (ct === undefined) fail("cost", `${JSON.stringify(cost)} is not a node id`);
    if (ct.shape.length !== 0) fail("cost", `must be 0-d, but ${descVar(cost, ct)} has shape [${ct.shape.join(", ")}]`);
    if (!isFloatDtype(ct.dtype)) fail("cost", `must be a float node, but ${cost} is ${ct.dtype}`);
    out.cost = cost;

    if ("wrt" in top) {
      const w = arr(top.wrt, "wrt");
      out.wrt = w.map((v, i) => {
        const p = `wrt[${i}]`;
        const n = str(v, p);
        const inp = this.inputs.get(n);
        if (inp === undefined) fail(p, `${JSON.stringify(n)} is not an input${this.types.has(n) ? " (it is a node; wrt names inputs)" : ""}`);
        if (!isFloatDtype(inp.dtype)) fail(p, `${JSON.stringify(n)} is a ${inp.dtype} input; only float inputs have gradients`);
        if (w.indexOf(v) !== i) fail(p, `duplicate ${JSON.stringify(n)}`);
        return n;
      });
    }
    return { case: out, types: this.types };
  }

  private input(v: Json, path: string): CaseInput {
    const o = obj(v, path);
    const kind = o.kind;
    if (kind !== "xtensor" && kind !== "tensor") {
      if (!("kind" in o)) fail(`${path}.kind`, `missing (required: "xtensor" or "tensor")`);
      fail(`${path}.kind`, `expected "xtensor" or "tensor", got ${describe(kind)}`);
    }
    const required = kind === "xtensor" ? ["name", "kind", "dims", "shape", "dtype", "value"] : ["name", "kind", "shape", "dtype", "value"];
    const allowed = kind === "xtensor" ? INPUT_FIELDS : INPUT_FIELDS.filter((f) => f !== "dims");
    checkFields(o, path, allowed, required, `a${kind === "xtensor" ? "n xtensor" : " tensor"} input`);
    const n = name(o.name, `${path}.name`, "input name");
    if (this.inputs.has(n)) fail(`${path}.name`, `duplicate input name ${JSON.stringify(n)}`);
    const shape = arr(o.shape, `${path}.shape`).map((s, i) => int(s, `${path}.shape[${i}]`, 0));
    const dtype = this.dtype(o.dtype, `${path}.dtype`);
    let dims: string[] | undefined;
    if (kind === "xtensor") {
      dims = dimList(o.dims, `${path}.dims`);
      if (dims.length !== shape.length) fail(`${path}.shape`, `has ${shape.length} lengths but dims ${fmtDims(dims)} has ${dims.length}`);
    }
    const value = copyValue(o.value, shape, dtype, `${path}.value`);
    const inp: CaseInput = kind === "xtensor"
      ? { name: n, kind, dims: dims as string[], shape, dtype, value }
      : { name: n, kind, shape, dtype, value };
    this.inputs.set(n, inp);
    this.types.set(n, kind === "xtensor" ? { kind, dims: [...(dims as string[])], shape: [...shape], dtype } : { kind, shape: [...shape], dtype });
    return inp;
  }

  private dtype(v: Json, path: string): CaseDType {
    if (typeof v !== "string" || !(CASE_DTYPES as readonly string[]).includes(v)) {
      fail(path, `expected one of ${CASE_DTYPES.join(", ")}, got ${describe(v)}`);
    }
    return v as CaseDType;
  }

  private node(v: Json, path: string, index: number): CaseNode {
    const o = obj(v, path);
    if (!("id" in o)) fail(`${path}.id`, "missing");
    const id = name(o.id, `${path}.id`, "node id");
    if (this.inputs.has(id)) fail(`${path}.id`, `${JSON.stringify(id)} collides with an input name`);
    if (this.types.has(id)) fail(`${path}.id`, `duplicate node id ${JSON.stringify(id)}`);
    if (!("op" in o)) fail(`${path}.op`, "missing");
    const op = str(o.op, `${path}.op`);
    if (!(CASE_OPS as readonly string[]).includes(op)) fail(`${path}.op`, `unknown op ${JSON.stringify(op)}`);
    const cop = op as CaseOp;
    const { allowed, required } = opFields(cop);
    checkFields(o, path, ["id", "op", "args", ...allowed], ["args", ...required], `op "${op}"`);
    const rawArgs = arr(o.args, `${path}.args`);
    const args: ArgInfo[] = rawArgs.map((a, i) => this.arg(a, `${path}.args[${i}]`, index));
    const node = { id, op: cop, args: args.map((a) => a.ref) } as Record<string, unknown>;
    const t = this.infer(cop, o, node, args, path);
    this.types.set(id, t);
    return node as unknown as CaseNode;
  }

  private arg(a: Json, path: string, index: number): ArgInfo {
    if (typeof a === "number") {
      if (!Number.isFinite(a)) fail(path, `expected a finite number, got ${a}`);
      return { ref: a, t: { kind: "tensor", shape: [], dtype: Number.isInteger(a) ? "int64" : "float64" } };
    }
    if (typeof a !== "string") fail(path, `expected an input/node name or a number, got ${describe(a)}`);
    const t = this.types.get(a);
    if (t === undefined) {
      const later = this.nodeIds.indexOf(a);
      if (later === index) fail(path, `${JSON.stringify(a)} is this node itself; args may use only inputs and earlier nodes`);
      if (later > index) fail(path, `${JSON.stringify(a)} is defined later (nodes[${later}]); args may use only inputs and earlier nodes`);
      fail(path, `${JSON.stringify(a)} is not an input or an earlier node`);
    }
    return { ref: a, t };
  }

  /** Check arity and which args may be numbers, then dispatch to the op's type rule. */
  private infer(op: CaseOp, o: Obj, node: Record<string, unknown>, args: ArgInfo[], path: string): VarType {
    const arity = (n: number, max = n): void => {
      if (args.length < n || args.length > max) {
        const want = max === Infinity ? `at least ${n}` : n === max ? `${n}` : `${n} to ${max}`;
        fail(`${path}.args`, `${op} takes ${want} arg${n === 1 && max === 1 ? "" : "s"}, got ${args.length}`);
      }
    };
    const refs = (from = 0, allowNumbers: number[] = []): void => {
      args.forEach((a, i) => {
        if (i >= from && typeof a.ref === "number" && !allowNumbers.includes(i)) fail(`${path}.args[${i}]`, `${op} needs an input or node here, not a number`);
      });
    };
    const xt = (i: number): VarType => {
      const a = args[i];
      if (a.t.kind !== "xtensor") fail(`${path}.args[${i}]`, `${op} needs an xtensor, but ${descVar(a.ref, a.t)} is a positional tensor (use as_xtensor)`);
      return a.t;
    };

    if ((UNARY_OPS as readonly string[]).includes(op)) {
      arity(1); refs();
      return this.elemwise(op, args, path);
    }
    if ((BINARY_OPS as readonly string[]).includes(op) || (COMPARE_OPS as readonly string[]).includes(op)) {
      arity(2);
      return this.elemwise(op, args, path);
    }
    switch (op) {
      case "where":
        arity(3);
        return this.elemwise(op, args, path);
      case "cast": {
        arity(1); refs();
        const dt = this.dtype(o.dtype, `${path}.dtype`);
        node.dtype = dt;
        return { ...args[0].t, dtype: dt };
      }
      case "sum": case "prod": case "mean": case "max": case "min": case "all": case "any":
      case "var": case "std": {
        arity(1); refs();
        const x = args[0].t;
        let outDims: string[] | undefined;
        let outShape: number[];
        if (x.kind === "tensor") {
          if (op !== "sum") fail(`${path}.args[0]`, `${op} needs an xtensor (on positional tensors only sum, with axes, is in xgrad-case/1), but ${descVar(args[0].ref, x)} is positional`);
          if ("dims" in o) fail(`${path}.dims`, `${args[0].ref} is a positional tensor; use axes`);
          const axes = this.axes(o, node, x, path);
          outShape = x.shape.filter((_, i) => !axes.includes(i));
        } else {
          if ("axes" in o) fail(`${path}.axes`, `${args[0].ref} is an xtensor; use dims`);
          const red = this.reduceDims(o, node, args[0], path);
          // numpy (and so xarray) refuses max/min over nothing: they have no identity element.
          const empty = (op === "max" || op === "min") ? red.find((d) => sizeOf(x, d) === 0) : undefined;
          if (empty !== undefined) fail(`${path}.dims`, `${op} over dim ${JSON.stringify(empty)} of ${descVar(args[0].ref, x)}, which has length 0 (max/min of nothing is undefined)`);
          outDims = (x.dims ?? []).filter((d) => !red.includes(d));
          outShape = outDims.map((d) => sizeOf(x, d));
        }
        if (op === "var" || op === "std") {
          if ("ddof" in o) node.ddof = int(o.ddof, `${path}.ddof`, 0);
        }
        const dtype: CaseDType =
          op === "sum" || op === "prod" ? accumDtype(x.dtype)
          : op === "all" || op === "any" ? "bool"
          : op === "max" || op === "min" ? x.dtype
          : floatOf(x.dtype);
        return outDims !== undefined ? { kind: "xtensor", dims: outDims, shape: outShape, dtype } : { kind: "tensor", shape: outShape, dtype };
      }
      case "cumsum": case "cumprod": {
        arity(1); refs();
        const x = xt(0);
        node.dim = this.existingDim(o.dim, `${path}.dim`, args[0]);
        return { ...x, dims: [...(x.dims ?? [])], shape: [...x.shape], dtype: accumDtype(x.dtype) };
      }
      case "dot": return this.dot(o, node, args, path, arity, refs, xt);
      case "transpose": {
        arity(1); refs();
        const x = xt(0);
        const xd = x.dims ?? [];
        const given = arr(o.dims, `${path}.dims`);
        const named: string[] = [];
        let ellipsis = -1;
        given.forEach((d, i) => {
          const p = `${path}.dims[${i}]`;
          if (d === "...") {
            if (ellipsis >= 0) fail(p, `only one "..." is allowed`);
            ellipsis = i;
            return;
          }
          const n = this.existingDim(d, p, args[0]);
          if (named.includes(n)) fail(p, `duplicate dim ${JSON.stringify(n)}`);
          named.push(n);
        });
        node.dims = given.map((d) => d as string);
        let dims: string[];
        if (ellipsis < 0) {
          if (named.length !== xd.length) {
            const missing = xd.filter((d) => !named.includes(d));
            fail(`${path}.dims`, `must be a permutation of ${descVar(args[0].ref, x)}; missing ${missing.map((m) => JSON.stringify(m)).join(", ")} (or add "...")`);
          }
          dims = named;
        } else {
          const rest = xd.filter((d) => !named.includes(d));
          dims = [...named.slice(0, ellipsis), ...rest, ...named.slice(ellipsis)];
        }
        return { kind: "xtensor", dims, shape: dims.map((d) => sizeOf(x, d)), dtype: x.dtype };
      }
      case "rename": {
        arity(1); refs();
        const x = xt(0);
        const m = obj(o.map, `${path}.map`);
        const map: Record<string, string> = {};
        for (const [k, v] of Object.entries(m)) {
          const p = `${path}.map.${k}`;
          this.existingDim(k, p, args[0], "key");
          map[k] = name(v, p, "dim name");
        }
        node.map = map;
        // All at once: each position is relabelled from the original dims, so {a: b, b: a} swaps.
        const dims = (x.dims ?? []).map((d) => (Object.prototype.hasOwnProperty.call(map, d) ? map[d] : d));
        const dup = dims.find((d, i) => dims.indexOf(d) !== i);
        if (dup !== undefined) fail(`${path}.map`, `renaming ${descVar(args[0].ref, x)} gives ${fmtDims(dims)}, which repeats ${JSON.stringify(dup)}; dims must be unique`);
        return { kind: "xtensor", dims, shape: [...x.shape], dtype: x.dtype };
      }
      case "stack": {
        arity(1); refs();
        const x = xt(0);
        const nd = name(o.dim, `${path}.dim`, "dim name");
        if ((x.dims ?? []).includes(nd)) fail(`${path}.dim`, `${JSON.stringify(nd)} is already a dim of ${descVar(args[0].ref, x)}`);
        const from = dimList(o.from, `${path}.from`);
        if (from.length === 0) fail(`${path}.from`, "must list at least one dim to stack");
        from.forEach((d, i) => this.existingDim(d, `${path}.from[${i}]`, args[0]));
        node.dim = nd;
        node.from = from;
        const kept = (x.dims ?? []).filter((d) => !from.includes(d));
        const len = from.reduce((p, d) => p * sizeOf(x, d), 1);
        return { kind: "xtensor", dims: [...kept, nd], shape: [...kept.map((d) => sizeOf(x, d)), len], dtype: x.dtype };
      }
      case "unstack": {
        arity(1); refs();
        const x = xt(0);
        const dim = this.existingDim(o.dim, `${path}.dim`, args[0]);
        const kept = (x.dims ?? []).filter((d) => d !== dim);
        const to = arr(o.to, `${path}.to`);
        if (to.length === 0) fail(`${path}.to`, "must list at least one [name, size] pair");
        const pairs: [string, number][] = to.map((pr, i) => {
          const p = `${path}.to[${i}]`;
          const a = arr(pr, p);
          if (a.length !== 2) fail(p, `expected [name, size], got ${a.length} elements`);
          const n = name(a[0], `${p}[0]`, "dim name");
          if (kept.includes(n)) fail(`${p}[0]`, `${JSON.stringify(n)} is already a dim of ${descVar(args[0].ref, x)}`);
          return [n, int(a[1], `${p}[1]`, 0)];
        });
        pairs.forEach(([n], i) => {
          if (pairs.findIndex((q) => q[0] === n) !== i) fail(`${path}.to[${i}][0]`, `duplicate dim ${JSON.stringify(n)}`);
        });
        const prod = pairs.reduce((p, [, s]) => p * s, 1);
        const len = sizeOf(x, dim);
        if (prod !== len) fail(`${path}.to`, `sizes ${pairs.map(([, s]) => s).join("×")} = ${prod} do not multiply out to the length ${len} of dim ${JSON.stringify(dim)}`);
        node.dim = dim;
        node.to = pairs;
        return {
          kind: "xtensor",
          dims: [...kept, ...pairs.map(([n]) => n)],
          shape: [...kept.map((d) => sizeOf(x, d)), ...pairs.map(([, s]) => s)],
          dtype: x.dtype,
        };
      }
      case "concat": {
        arity(1, Infinity); refs();
        args.forEach((_, i) => xt(i));
        const dim = name(o.dim, `${path}.dim`, "dim name");
        node.dim = dim;
        const exists = args.some((a) => (a.t.dims ?? []).includes(dim));
        const sizes = new Map<string, number>();
        const order: string[] = [];
        if (!exists) order.push(dim);
        args.forEach((a, i) => {
          (a.t.dims ?? []).forEach((d, j) => {
            if (d === dim) { if (!order.includes(d)) order.push(d); return; }
            const prev = sizes.get(d);
            if (prev === undefined) { sizes.set(d, a.t.shape[j]); order.push(d); }
            else if (prev !== a.t.shape[j]) fail(`${path}.args[${i}]`, `dim ${JSON.stringify(d)} has length ${a.t.shape[j]} in ${a.ref} but ${prev} in an earlier input`);
          });
        });
        // A new dim gets one slice per input; an existing one sums, an input lacking it counting as 1.
        sizes.set(dim, exists ? args.reduce((p, a) => p + ((a.t.dims ?? []).includes(dim) ? sizeOf(a.t, dim) : 1), 0) : args.length);
        const dtype = args.map((a) => a.t.dtype).reduce(promote2);
        return { kind: "xtensor", dims: order, shape: order.map((d) => sizes.get(d) as number), dtype };
      }
      case "expand_dims": {
        arity(1); refs();
        const x = xt(0);
        const nd = name(o.dim, `${path}.dim`, "dim name");
        if ((x.dims ?? []).includes(nd)) fail(`${path}.dim`, `${JSON.stringify(nd)} is already a dim of ${descVar(args[0].ref, x)}`);
        node.dim = nd;
        let size = 1;
        if ("size" in o) size = node.size = int(o.size, `${path}.size`, 0);
        return { kind: "xtensor", dims: [nd, ...(x.dims ?? [])], shape: [size, ...x.shape], dtype: x.dtype };
      }
      case "squeeze": {
        arity(1); refs();
        const x = xt(0);
        const dims = dimList(o.dims, `${path}.dims`);
        dims.forEach((d, i) => {
          this.existingDim(d, `${path}.dims[${i}]`, args[0]);
          if (sizeOf(x, d) !== 1) fail(`${path}.dims[${i}]`, `dim ${JSON.stringify(d)} of ${descVar(args[0].ref, x)} has length ${sizeOf(x, d)}; only length-1 dims can be squeezed`);
        });
        node.dims = dims;
        const kept = (x.dims ?? []).filter((d) => !dims.includes(d));
        return { kind: "xtensor", dims: kept, shape: kept.map((d) => sizeOf(x, d)), dtype: x.dtype };
      }
      case "isel": {
        arity(1, Infinity); refs();
        xt(0);
        return this.isel(o, node, args, 1, path).view;
      }
      case "set": case "inc": {
        arity(2, Infinity); refs(0, [1]);
        const x = xt(0);
        const { view } = this.isel(o, node, args, 2, path);
        const y = args[1];
        if (y.t.kind === "tensor" && typeof y.ref !== "number") fail(`${path}.args[1]`, `${op} needs an xtensor or a number, but ${descVar(y.ref, y.t)} is positional`);
        const vd = view.dims ?? [];
        (y.t.dims ?? []).forEach((d, j) => {
          if (!vd.includes(d)) fail(`${path}.args[1]`, `dim ${JSON.stringify(d)} of ${descVar(y.ref, y.t)} is not a dim of the indexed view ${fmtDims(vd)}`);
          if (sizeOf(view, d) !== y.t.shape[j]) fail(`${path}.args[1]`, `dim ${JSON.stringify(d)} has length ${y.t.shape[j]} in ${y.ref} but ${sizeOf(view, d)} in the indexed view`);
        });
        // numpy casts on assignment; we only allow casts that keep the kind or widen it, so a
        // float update is never silently truncated into an int array.
        const yd = typeof y.ref === "number" ? resultDtype([x.dtype], [y.ref]) : y.t.dtype;
        if (KIND[yd] > KIND[x.dtype]) fail(`${path}.args[1]`, `cannot ${op} ${yd} values into ${descVar(args[0].ref, x)}, which is ${x.dtype}`);
        return { kind: "xtensor", dims: [...(x.dims ?? [])], shape: [...x.shape], dtype: x.dtype };
      }
      case "values": {
        arity(1); refs();
        const x = xt(0);
        return { kind: "tensor", shape: [...x.shape], dtype: x.dtype };
      }
      case "as_xtensor": {
        arity(1); refs();
        const t = args[0].t;
        if (t.kind !== "tensor") fail(`${path}.args[0]`, `as_xtensor needs a positional tensor, but ${descVar(args[0].ref, t)} is an xtensor`);
        const dims = dimList(o.dims, `${path}.dims`);
        if (dims.length !== t.shape.length) fail(`${path}.dims`, `gives ${dims.length} dims to ${descVar(args[0].ref, t)}, which has ${t.shape.length} axes`);
        node.dims = dims;
        return { kind: "xtensor", dims, shape: [...t.shape], dtype: t.dtype };
      }
      default:
        // Unreachable: every name in CASE_OPS has a case above or is unary/binary/compare.
        return fail(`${path}.op`, `unknown op ${JSON.stringify(op)}`);
    }
  }

  private existingDim(v: Json, path: string, a: ArgInfo, what = "dim"): string {
    const n = str(v, path);
    if (!(a.t.dims ?? []).includes(n)) fail(path, `${JSON.stringify(n)} is not a dim of ${descVar(a.ref, a.t)}${what === "key" ? " (map keys must be existing dims)" : ""}`);
    return n;
  }

  private reduceDims(o: Obj, node: Record<string, unknown>, a: ArgInfo, path: string): string[] {
    if (!("dims" in o)) return [...(a.t.dims ?? [])];
    if (o.dims === null) { node.dims = null; return [...(a.t.dims ?? [])]; }
    const dims = dimList(o.dims, `${path}.dims`);
    dims.forEach((d, i) => this.existingDim(d, `${path}.dims[${i}]`, a));
    node.dims = dims;
    return dims;
  }

  private axes(o: Obj, node: Record<string, unknown>, x: VarType, path: string): number[] {
    const all = x.shape.map((_, i) => i);
    if (!("axes" in o)) return all;
    if (o.axes === null) { node.axes = null; return all; }
    const raw = arr(o.axes, `${path}.axes`);
    const seen: number[] = [];
    const given = raw.map((v, i) => {
      const p = `${path}.axes[${i}]`;
      const ax = int(v, p);
      const nd = x.shape.length;
      if (ax < -nd || ax >= nd) fail(p, `axis ${ax} is out of range for a tensor with ${nd} axes`);
      const norm = ax < 0 ? ax + nd : ax;
      if (seen.includes(norm)) fail(p, `duplicate axis ${ax}`);
      seen.push(norm);
      return ax;
    });
    node.axes = given;
    return seen;
  }

  private elemwise(op: CaseOp, args: ArgInfo[], path: string): VarType {
    const strong = args.filter((a) => typeof a.ref !== "number");
    if (strong.length === 0) fail(`${path}.args`, `${op} needs at least one input or node arg, not only numbers`);
    const kinds = new Set(strong.map((a) => a.t.kind));
    if (kinds.size > 1) fail(`${path}.args`, `${op} mixes xtensor and positional tensor args; convert with as_xtensor or values`);
    let out: { dims?: string[]; shape: number[] };
    if (kinds.has("xtensor")) {
      // Align by name: dims in order of first appearance, same-named dims of equal length.
      const dims: string[] = [];
      const shape: number[] = [];
      args.forEach((a, i) => {
        (a.t.dims ?? []).forEach((d, j) => {
          const k = dims.indexOf(d);
          if (k < 0) { dims.push(d); shape.push(a.t.shape[j]); }
          else if (shape[k] !== a.t.shape[j]) fail(`${path}.args[${i}]`, `dim ${JSON.stringify(d)} has length ${a.t.shape[j]} in ${a.ref} but ${shape[k]} in an earlier arg (no broadcasting between same-named dims)`);
        });
      });
      out = { dims, shape };
    } else {
      // numpy broadcasting, right-aligned.
      const nd = Math.max(...args.map((a) => a.t.shape.length));
      const shape = new Array<number>(nd).fill(1);
      args.forEach((a, i) => {
        const s = a.t.shape;
        s.forEach((len, j) => {
          const k = nd - s.length + j;
          if (shape[k] === 1) shape[k] = len;
          else if (len !== 1 && len !== shape[k]) fail(`${path}.args[${i}]`, `shape [${s.join(", ")}] of ${a.ref} does not broadcast with [${shape.join(", ")}]`);
        });
      });
      out = { shape };
    }
    const sd = strong.map((a) => a.t.dtype);
    const weak = args.map((a) => a.ref).filter((r): r is number => typeof r === "number");
    let dtype: CaseDType;
    if (op === "where") {
      if (typeof args[0].ref === "number" || args[0].t.dtype !== "bool") fail(`${path}.args[0]`, `where needs a bool condition, got ${typeof args[0].ref === "number" ? "a number" : `${args[0].t.dtype} ${args[0].ref}`}`);
      const rest = args.slice(1);
      dtype = resultDtype(rest.filter((a) => typeof a.ref !== "number").map((a) => a.t.dtype), rest.map((a) => a.ref).filter((r): r is number => typeof r === "number"));
    } else {
      const rd = resultDtype(sd, weak);
      const noBool = (): void => {
        if (rd === "bool") fail(`${path}.args`, `${op} is not defined on bool (numpy would give int8 or refuse)`);
      };
      switch (op) {
        case "lt": case "gt": case "le": case "ge": case "eq": case "ne": dtype = "bool"; break;
        case "neg": case "square": case "sub": case "pow": noBool(); dtype = rd; break;
        case "abs": case "add": case "mul": case "maximum": case "minimum": dtype = rd; break;
        default: dtype = floatOf(rd); // div and the transcendental unary ops
      }
    }
    return out.dims !== undefined ? { kind: "xtensor", dims: out.dims, shape: out.shape, dtype } : { kind: "tensor", shape: out.shape, dtype };
  }

  private dot(
    o: Obj, node: Record<string, unknown>, args: ArgInfo[], path: string,
    arity: (n: number) => void, refs: () => void, xt: (i: number) => VarType,
  ): VarType {
    arity(2); refs();
    const x = xt(0);
    const y = xt(1);
    const xd = x.dims ?? [];
    const yd = y.dims ?? [];
    for (const d of xd) {
      if (yd.includes(d) && sizeOf(x, d) !== sizeOf(y, d)) fail(`${path}.args`, `dot: dim ${JSON.stringify(d)} has length ${sizeOf(x, d)} in ${args[0].ref} but ${sizeOf(y, d)} in ${args[1].ref}`);
    }
    let contracted: string[];
    if (o.dims === null) { node.dims = null; contracted = xd.filter((d) => yd.includes(d)); }
    else if (o.dims === "...") { node.dims = "..."; contracted = [...xd, ...yd.filter((d) => !xd.includes(d))]; }
    else {
      if (!Array.isArray(o.dims)) fail(`${path}.dims`, `expected a list of dims, null or "...", got ${describe(o.dims)}`);
      contracted = dimList(o.dims, `${path}.dims`);
      contracted.forEach((d, i) => {
        if (!xd.includes(d) && !yd.includes(d)) fail(`${path}.dims[${i}]`, `${JSON.stringify(d)} is not a dim of ${descVar(args[0].ref, x)} or ${descVar(args[1].ref, y)}`);
      });
      node.dims = contracted;
    }
    const dims = [...xd, ...yd.filter((d) => !xd.includes(d))].filter((d) => !contracted.includes(d));
    return { kind: "xtensor", dims, shape: dims.map((d) => (xd.includes(d) ? sizeOf(x, d) : sizeOf(y, d))), dtype: promote2(x.dtype, y.dtype) };
  }

  /**
   * Validate `indexers` against `args[0]` and infer the indexed view's type. Index arrays are
   * `args[firstIndex..]`; each must be referenced by some `{arg: k}`.
   *
   * Result dims follow xarray's `Variable._broadcast_indexes`: when every index array is 1-d and
   * the result's dims (each kept dim, each array's dim) are distinct it is outer (orthogonal)
   * indexing, each array's dim replacing the dim it indexes in place; otherwise it is vectorized
   * indexing, and the result dims are the ordered union, walking x's dims, of kept dims and each
   * index array's dims. So an array over a kept dim `b` is zipped with `b` (`isel(a=i(b))` gives
   * `out[b, c] = x[i[b], b, c]`), not refused.
   */
  private isel(o: Obj, node: Record<string, unknown>, args: ArgInfo[], firstIndex: number, path: string): { view: VarType } {
    const x = args[0].t;
    const xd = x.dims ?? [];
    const ip = `${path}.indexers`;
    const raw = obj(o.indexers, ip);
    const byDim = new Map<string, IndexerKind>();
    const indexers: Record<string, Indexer> = {};
    const used = new Set<number>();
    for (const [d, v] of Object.entries(raw)) {
      const p = `${ip}.${d}`;
      this.existingDim(d, p, args[0], "key");
      const n = sizeOf(x, d);
      if (typeof v === "number") {
        const i = int(v, p);
        if (i < -n || i >= n) fail(p, `index ${i} is out of range for dim ${JSON.stringify(d)} of length ${n}`);
        indexers[d] = i;
        byDim.set(d, { kind: "int" });
      } else if (isObj(v) && "slice" in v) {
        checkFields(v, p, ["slice"], ["slice"], "a slice indexer");
        const s = arr(v.slice, `${p}.slice`);
        if (s.length !== 3) fail(`${p}.slice`, `expected [start, stop, step], got ${s.length} elements`);
        const spec = s.map((e, i) => (e === null ? null : int(e, `${p}.slice[${i}]`))) as SliceSpec;
        if (spec[2] === 0) fail(`${p}.slice[2]`, "step must not be 0");
        indexers[d] = { slice: spec };
        byDim.set(d, { kind: "slice", length: normalizeSlice(spec, n).length });
      } else if (isObj(v) && "arg" in v) {
        checkFields(v, p, ["arg"], ["arg"], "an array indexer");
        const k = int(v.arg, `${p}.arg`);
        if (k < firstIndex || k >= args.length) {
          fail(`${p}.arg`, `must name an index array in args[${firstIndex}..${args.length - 1}]${args.length <= firstIndex ? " (there is none)" : ""}, got ${k}`);
        }
        const a = args[k];
        const ap = `${path}.args[${k}]`;
        const inp = typeof a.ref === "string" ? this.inputs.get(a.ref) : undefined;
        // Index values are range-checked here, before anything runs; that needs them statically,
        // so index arrays must be inputs rather than computed nodes.
        if (inp === undefined) fail(ap, `index array must be an integer xtensor input (its values are range-checked before running), but ${JSON.stringify(a.ref)} is a node`);
        if (a.t.kind !== "xtensor" || !isIntDtype(a.t.dtype)) fail(ap, `index array ${descVar(a.ref, a.t)} must be an int32/int64 xtensor, got ${a.t.kind} ${a.t.dtype}`);
        if ((a.t.dims ?? []).length === 0) fail(ap, `index array ${a.ref} is 0-d; use an int indexer to drop a dim`);
        flatValues(inp.value).forEach((iv) => {
          if (iv < -n || iv >= n) fail(`inputs[${[...this.inputs.keys()].indexOf(inp.name)}].value`, `index ${iv} in ${inp.name} is out of range for dim ${JSON.stringify(d)} (length ${n}) of ${descVar(args[0].ref, x)} (used by ${p})`);
        });
        used.add(k);
        indexers[d] = { arg: k };
        byDim.set(d, { kind: "arg", k, dims: [...(a.t.dims ?? [])], shape: [...a.t.shape] });
      } else {
        fail(p, `expected an int, {"slice": [start, stop, step]} or {"arg": k}, got ${describe(v)}`);
      }
    }
    for (let k = firstIndex; k < args.length; k++) {
      if (!used.has(k)) fail(`${path}.args[${k}]`, `index array is not used by any indexer (expected {"arg": ${k}})`);
    }
    node.indexers = indexers;

    const arrays = [...byDim.values()].filter((e): e is Extract<IndexerKind, { kind: "arg" }> => e.kind === "arg");
    const entries = xd.map((d) => ({ d, e: byDim.get(d) }));
    const outDims: string[] = [];
    const sizes = new Map<string, number>();
    const add = (d: string, len: number, what: string): void => {
      const prev = sizes.get(d);
      if (prev !== undefined && prev !== len) fail(ip, `dim ${JSON.stringify(d)} would have length ${len} from ${what} but ${prev} from another indexer or kept dim`);
      sizes.set(d, len);
      if (!outDims.includes(d)) outDims.push(d);
    };
    // As xarray: kept dims count too, so an array over a kept dim makes the indexing vectorized.
    const outerDims = entries.flatMap(({ d, e }) => (e === undefined || e.kind === "slice" ? [d] : e.kind === "arg" ? [e.dims[0]] : []));
    const outer = arrays.every((a) => a.dims.length === 1) && new Set(outerDims).size === outerDims.length;
    if (outer) {
      for (const { d, e } of entries) {
        const [od, len] = e === undefined ? [d, sizeOf(x, d)] : e.kind === "slice" ? [d, e.length] : e.kind === "arg" ? [e.dims[0], e.shape[0]] : [null, 0];
        if (od === null) continue;
        outDims.push(od);
        sizes.set(od, len as number);
      }
    } else {
      for (const { d, e } of entries) {
        if (e === undefined) add(d, sizeOf(x, d), `kept dim ${d}`);
        else if (e.kind === "slice") add(d, e.length, `the slice on ${d}`);
        else if (e.kind === "arg") e.dims.forEach((ad, j) => add(ad, e.shape[j], `index array args[${e.k}]`));
      }
    }
    return { view: { kind: "xtensor", dims: outDims, shape: outDims.map((d) => sizes.get(d) as number), dtype: x.dtype } };
  }
}
