/**
 * Localization: which op a failure is first seen at.
 *
 * A failing check says *that* a case is wrong, not *where*. Signatures (property × failure class ×
 * first failing op kind × error class) need the where, so that two cases hitting the same broken
 * rule deduplicate, and so that the shrinker can refuse a reduction that trades one bug for
 * another.
 *
 * For a `fail` check we cut the graph after each float node k in case order and ask the same
 * property about the prefix (the "cut-point" search of delta debugging, and what Hypothesis'
 * `target` does by hand): the nodes up to k, a fixed weight `w` with node k's type, and the cost
 * `sum(mul(node_k, w))`. Random-looking weights make every element of node k matter, exactly as
 * the generator's own cost does. The first k whose prefix fails names the op. For an `error`
 * check the engine already names the op in its message (`opFromMessage`).
 *
 * Everything is deterministic: the weights come from a fixed-seed generator per cut, and the
 * properties seed themselves from the case text.
 */
import type { Case, CaseArg, CaseInput, CaseNode, CaseTypes, CaseValue, VarType } from "../src/case/format.js";
import { isFloatDtype } from "../src/case/format.js";
import { parseTypedCase, resolveWrt } from "../src/case/parse.js";
import { mulberry32 } from "../oracles/finiteDiff.js";
import { opFromMessage, runProperties } from "./properties.js";
import type { Check, PropertyName } from "./types.js";

/** Where a failure is first seen. */
export interface Localization {
  /** The case op kind of the first failing node (e.g. "rename"), or the op an error names. */
  readonly failingOp: string;
  /** The id of that node, or "" when an error message names an op but no case node. */
  readonly nodeId: string;
}

/** Options of {@link localize}. */
export interface LocalizeOptions {
  /** Runs the property on a sub-case (default: `runProperties` with only that property). Tests inject counters here. */
  readonly runCheck?: (c: Case, property: PropertyName) => Promise<Check | undefined>;
}

/** Properties whose claim is only about gradients: a prefix without a `wrt` input cannot fail them. */
const GRADIENT_ONLY: ReadonlySet<PropertyName> = new Set<PropertyName>([
  "direct-vs-lowered", "perNode-vs-lowered", "direct-vs-finiteDiff", "direct-vs-tfjs", "second-order", "pushforward-duality",
  "grad-composition", "kink-conventions",
]);

/** The default sub-case runner: the one property, nothing else. */
export async function runOneProperty(c: Case, property: PropertyName): Promise<Check | undefined> {
  const r = await runProperties(c, { properties: [property] });
  return r.verdict.checks.find((k) => k.property === property);
}

/**
 * The first failing op kind of `failingCheck` on case `c`, or null when it cannot be told (an
 * error naming no op, or a mismatch no prefix reproduces).
 *
 * - `error`: the check's `failingOp`, else the op `opFromMessage` finds in its reason; the node id
 *   when the message names one (`node "d" (dot): ...`).
 * - `fail`: the first float node k (in case order) whose cut sub-case — nodes ≤ k, a weight input
 *   of node k's type (values in [0.5, 1.5), not differentiated) and the cost
 *   `sum(mul(node_k, w))`, with `wrt` restricted to the inputs node k depends on — fails the
 *   same property.
 */
export async function localize(c: Case, failingCheck: Check, opts: LocalizeOptions = {}): Promise<Localization | null> {
  if (failingCheck.status === "error") {
    const op = failingCheck.failingOp ?? opFromMessage(failingCheck.reason ?? "");
    if (op === null || op === "") return null;
    const m = /node "([A-Za-z_][A-Za-z0-9_]*)"/.exec(failingCheck.reason ?? "");
    return { failingOp: op, nodeId: m !== null ? m[1] : "" };
  }
  if (failingCheck.status !== "fail") return null;
  const run = opts.runCheck ?? runOneProperty;
  const { types } = parseTypedCase(c);
  for (let k = 0; k < c.nodes.length; k++) {
    const sub = cutCase(c, types, k);
    if (sub === null) continue;
    if (GRADIENT_ONLY.has(failingCheck.property) && (sub.wrt ?? []).length === 0) continue;
    const check = await run(sub, failingCheck.property);
    if (check?.status === "fail") return { failingOp: c.nodes[k].op, nodeId: c.nodes[k].id };
  }
  return null;
}

/**
 * The sub-case cut after node `k`: nodes `0..k`, the inputs they use, a weight input `w` of node
 * k's type and the cost `sum(mul(node_k, w))`. Null when node k is not float, or when the cut
 * does not validate (it always should; a refusal is treated as "cannot judge here").
 */
export function cutCase(c: Case, types: CaseTypes, k: number): Case | null {
  const node = c.nodes[k];
  const t = types.get(node.id);
  if (t === undefined || !isFloatDtype(t.dtype)) return null;
  const nodes = c.nodes.slice(0, k + 1).map((n) => structuredClone(n));
  const used = new Set<string>();
  for (const n of nodes) for (const a of n.args) if (typeof a === "string") used.add(a);
  const taken = new Set<string>([...c.inputs.map((i) => i.name), ...c.nodes.map((n) => n.id)]);
  const w = freshName("loc_w", taken);
  const prod = freshName("loc_wx", taken);
  const cost = freshName("loc_cost", taken);
  const rand = mulberry32(0x5eed ^ Math.imul(k + 1, 0x9e3779b1));
  const weight: CaseInput = t.kind === "xtensor"
    ? { name: w, kind: "xtensor", dims: [...(t.dims ?? [])], shape: [...t.shape], dtype: t.dtype, value: filled(t.shape, () => 0.5 + rand()) }
    : { name: w, kind: "tensor", shape: [...t.shape], dtype: t.dtype, value: filled(t.shape, () => 0.5 + rand()) };
  const inputs = c.inputs.filter((i) => used.has(i.name)).map((i) => structuredClone(i));
  const deps = ancestorsOf(c, node.id);
  const wrt = resolveWrt(c).filter((n) => deps.has(n) && used.has(n));
  const costNode: CaseNode = t.kind === "xtensor" ? { id: cost, op: "sum", args: [prod], dims: null } : { id: cost, op: "sum", args: [prod], axes: null };
  const sub: Case = {
    format: c.format,
    ...(c.name !== undefined ? { name: `${c.name} (cut after ${node.id})` } : {}),
    inputs: [...inputs, weight],
    nodes: [...nodes, { id: prod, op: "mul", args: [node.id, w] }, costNode],
    cost,
    wrt,
  };
  try {
    return parseTypedCase(sub).case;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// small graph utilities shared with the shrinker

/** `base`, or `base_2`, `base_3`, ... : the first not in `taken` (which it is then added to). */
export function freshName(base: string, taken: Set<string>): string {
  let n = base;
  for (let i = 2; taken.has(n); i++) n = `${base}_${i}`;
  taken.add(n);
  return n;
}

/** The names (inputs and node ids) `id` depends on, itself included. */
export function ancestorsOf(c: Case, id: string): Set<string> {
  const byId = new Map(c.nodes.map((n) => [n.id, n] as const));
  const out = new Set<string>();
  const stack = [id];
  while (stack.length > 0) {
    const v = stack.pop() as string;
    if (out.has(v)) continue;
    out.add(v);
    const n = byId.get(v);
    if (n !== undefined) for (const a of n.args) if (typeof a === "string") stack.push(a);
  }
  return out;
}

/** The string args of a node (references to inputs and earlier nodes). */
export function refsOf(n: CaseNode): string[] {
  return (n.args as readonly CaseArg[]).filter((a): a is string => typeof a === "string");
}

/** A nested array of `shape` filled in C order by `f`. */
export function filled(shape: readonly number[], f: () => number): CaseValue {
  const build = (d: number): CaseValue => (d === shape.length ? f() : Array.from({ length: shape[d] }, () => build(d + 1)));
  return build(0);
}

/** The static type of a name, or throws (a validated case always has one). */
export function typeOf(types: CaseTypes, name: string): VarType {
  const t = types.get(name);
  if (t === undefined) throw new Error(`no type for ${name}`);
  return t;
}
