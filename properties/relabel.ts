/**
 * Relabelling bypasses: a reduction of the graph reducer (`shrink.ts`) that removes a chain of
 * nodes which only relabel an earlier value, and renames dims downstream so the rest of the
 * graph still means the same thing.
 *
 * Why: `values` → `as_xtensor` (or `rename`) gives the same numbers in the same C order under
 * new dim names. Deleting such a node one at a time either breaks types (a positional tensor
 * where an xtensor was read) or leaves downstream nodes and inputs aligned by the *old* names,
 * so a weight that varied along a relabelled dim becomes an outer product or a broadcast and a
 * failure that depended on it disappears. A 1-minimal reducer cannot get past that; it needs the
 * bypass and the substitution in one step.
 *
 * Soundness. Let N be a node whose value is, element for element in C order, the value of an
 * earlier S of the same kind and shape (a chain of `values`, `as_xtensor`, `rename` and
 * order-preserving `transpose` nodes from S to N). Let σ map N's dims to S's dims by position.
 * Let D be the nodes that depend on N (N excluded), R the inputs read only by D, and U every dim
 * name of a value in D, of N, of R, and of every other value a node of D reads. Extend σ to π
 * on U: σ on N's dims, a fresh name for any other name that σ's range already takes (a clash),
 * identity otherwise; π is injective on U by construction. Every op of `xgrad-case/1` is
 * equivariant under an injective renaming of dim names (alignment and every dim parameter are
 * by name; output dims orders follow the argument orders, never the names' spelling), so
 * applying π to the parameters of D's nodes and to R's dims, and reading S where D read N,
 * gives a graph in which every node of D computes the same array as before under π-renamed
 * dims, provided π fixes the dims of every value D reads from outside (checked: otherwise the
 * candidate is skipped). The cost is 0-d, so its value and every gradient's numbers are
 * unchanged. The reducer still re-checks the failure: the engine may of course behave
 * differently, which is the point.
 */
import type { Case, CaseArg, CaseNode, CaseTypes, VarType } from "../src/case/format.js";

/** One relabelling bypass of a case. */
export interface RelabelBypass {
  /** The bypassed node: its users read `source` instead. */
  readonly node: string;
  /** The earlier value holding the same numbers in the same order. */
  readonly source: string;
  /** Nodes deleted: `node` and the chain nodes between it and `source` that nothing else reads. */
  readonly removed: readonly string[];
  /** The dim renaming applied downstream (only names that change). */
  readonly renaming: ReadonlyMap<string, string>;
  /** Inputs whose dims were renamed (read only downstream of `node`). */
  readonly retypedInputs: readonly string[];
  /** The edited case (not validated here: the reducer parses every candidate). */
  readonly case: Case;
}

interface Plan {
  readonly node: string;
  readonly source: string;
  readonly removed: readonly string[];
  /** Node index of `node`, for a deterministic tie-break. */
  readonly index: number;
}

/**
 * The arg whose numbers `n` returns unchanged in C order (only labels or the kind change), or
 * null. A transpose counts only when it keeps the dims order: a real permutation moves data,
 * and bypassing it needs no renaming anyway (`delete-node` does that).
 */
function relabelledArg(n: CaseNode, types: CaseTypes): string | null {
  const a = n.args[0];
  if (typeof a !== "string") return null;
  switch (n.op) {
    case "values": case "as_xtensor": case "rename":
      return a;
    case "transpose": {
      const tn = types.get(n.id);
      const ta = types.get(a);
      if (tn === undefined || ta === undefined) return null;
      return sameList(tn.dims ?? [], ta.dims ?? []) ? a : null;
    }
    default:
      return null;
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function refs(n: CaseNode): string[] {
  return (n.args as readonly CaseArg[]).filter((a): a is string => typeof a === "string");
}

/**
 * Every relabelling bypass of `c` (see the module comment), most nodes removed first, then
 * latest node first. Lazy: the cheap plans are listed and sorted up front, each case is built
 * only when asked for, so a reducer that stops early pays for nothing else.
 *
 * @param types - the case's static types (`parseTypedCase(c).types`).
 */
export function* relabelBypasses(c: Case, types: CaseTypes): Generator<RelabelBypass> {
  const byId = new Map(c.nodes.map((n, i) => [n.id, { n, i }] as const));
  const users = new Map<string, Set<string>>();
  for (const n of c.nodes) for (const a of refs(n)) {
    let s = users.get(a);
    if (s === undefined) users.set(a, (s = new Set()));
    s.add(n.id);
  }
  const plans: Plan[] = [];
  c.nodes.forEach((n, index) => {
    // The cost itself is handled by the `cost` pass (an earlier 0-d node becomes the cost).
    if (n.id === c.cost || (users.get(n.id)?.size ?? 0) === 0) return;
    const tn = types.get(n.id);
    if (tn === undefined) return;
    const chain = [n.id];
    for (let cur: CaseNode | undefined = n; cur !== undefined; ) {
      const a = relabelledArg(cur, types);
      if (a === null) break;
      const ta = types.get(a);
      if (ta === undefined) break;
      // Same kind: N's users type-check against it (an xtensor read where an xtensor was).
      if (ta.kind === tn.kind && ta.dtype === tn.dtype && ta.shape.length === tn.shape.length && ta.shape.every((s, i) => s === tn.shape[i])) {
        plans.push({ node: n.id, source: a, removed: removable(chain, users, c.cost), index });
      }
      cur = byId.get(a)?.n;
      chain.push(a);
    }
  });
  plans.sort((p, q) => q.removed.length - p.removed.length || q.index - p.index);
  for (const p of plans) {
    const b = buildBypass(c, types, p, users, byId);
    if (b !== null) yield b;
  }
}

/**
 * The prefix of `chain` (N first, walking towards the source) that can go once N's users read
 * the source: N, then each chain node whose only readers are already going. The first one
 * something else reads stays, and so does everything before it.
 */
function removable(chain: readonly string[], users: ReadonlyMap<string, ReadonlySet<string>>, cost: string): string[] {
  const out = [chain[0]];
  for (const m of chain.slice(1)) {
    if (m === cost || ![...(users.get(m) ?? [])].every((u) => out.includes(u))) break;
    out.push(m);
  }
  return out;
}

function buildBypass(
  c: Case, types: CaseTypes, p: Plan, users: ReadonlyMap<string, ReadonlySet<string>>, byId: ReadonlyMap<string, { n: CaseNode }>,
): RelabelBypass | null {
  const tn = types.get(p.node) as VarType;
  const ts = types.get(p.source) as VarType;
  // D: everything downstream of the bypassed node (nodes are in dependency order).
  const down = new Set<string>();
  for (const n of c.nodes.slice(p.index + 1)) if (refs(n).some((a) => a === p.node || down.has(a))) down.add(n.id);
  // R: inputs only D reads; their dims follow the renaming. The source keeps its dims: it is
  // what D reads in N's place.
  const retyped = c.inputs
    .filter((i) => i.kind === "xtensor" && i.name !== p.source && users.has(i.name) && [...(users.get(i.name) ?? [])].every((u) => down.has(u)))
    .map((i) => i.name);
  const inR = new Set(retyped);
  const dimsOf = (name: string): readonly string[] => types.get(name)?.dims ?? [];

  const sigma = new Map<string, string>();
  (tn.dims ?? []).forEach((d, i) => sigma.set(d, (ts.dims ?? [])[i]));
  const range = new Set(sigma.values());
  const universe = new Set<string>(dimsOf(p.node));
  const outside = new Set<string>();
  for (const id of down) {
    for (const d of dimsOf(id)) universe.add(d);
    for (const a of refs((byId.get(id) as { n: CaseNode }).n)) {
      for (const d of dimsOf(a)) universe.add(d);
      if (a !== p.node && !down.has(a) && !inR.has(a)) outside.add(a);
    }
  }
  for (const r of retyped) for (const d of dimsOf(r)) universe.add(d);

  // Fresh names avoid every dim name of the case, not only U: a name D does not use may still
  // be used upstream, and a clash there would be harmless but confusing to read.
  const taken = new Set<string>();
  for (const t of types.values()) for (const d of t.dims ?? []) taken.add(d);
  const fresh = freshNames(taken);
  const pi = new Map<string, string>();
  for (const d of universe) pi.set(d, sigma.get(d) ?? (range.has(d) ? fresh.next().value as string : d));
  const f = (d: string): string => pi.get(d) ?? d;
  for (const a of outside) if (dimsOf(a).some((d) => f(d) !== d)) return null;

  const out = structuredClone(c);
  const gone = new Set(p.removed);
  out.nodes = out.nodes.filter((n) => !gone.has(n.id));
  for (const n of out.nodes) {
    if (!down.has(n.id)) continue;
    (n.args as CaseArg[]).forEach((a, i) => {
      if (a === p.node) (n.args as CaseArg[])[i] = p.source;
    });
    renameNodeDims(n, f);
  }
  for (const i of out.inputs) if (inR.has(i.name) && i.kind === "xtensor") i.dims = i.dims.map(f);
  const renaming = new Map([...pi].filter(([k, v]) => k !== v));
  return { node: p.node, source: p.source, removed: p.removed, renaming, retypedInputs: retyped.filter((r) => dimsOf(r).some((d) => f(d) !== d)), case: out };
}

/** Single letters first (readable repros), then d0, d1, ... */
function* freshNames(taken: ReadonlySet<string>): Generator<string> {
  for (let k = 0; k < 26; k++) {
    const s = String.fromCharCode(97 + k);
    if (!taken.has(s)) yield s;
  }
  for (let k = 0; ; k++) if (!taken.has(`d${k}`)) yield `d${k}`;
}

/**
 * Apply a dim renaming to every parameter of `n` that names dims (the op table of
 * `case-format.md`), in place. Positional parameters (`axes`) and "..." are left alone.
 */
export function renameNodeDims(n: CaseNode, f: (d: string) => string): void {
  const g = (d: string): string => (d === "..." ? d : f(d));
  switch (n.op) {
    case "sum": case "prod": case "mean": case "max": case "min": case "all": case "any": case "var": case "std":
      if (Array.isArray(n.dims)) n.dims = n.dims.map(g);
      break;
    case "dot":
      if (Array.isArray(n.dims)) n.dims = n.dims.map(g);
      break;
    case "cumsum": case "cumprod": case "concat": case "expand_dims":
      n.dim = g(n.dim);
      break;
    case "transpose": case "squeeze": case "as_xtensor":
      n.dims = n.dims.map(g);
      break;
    case "rename":
      n.map = Object.fromEntries(Object.entries(n.map).map(([k, v]) => [g(k), g(v)]));
      break;
    case "stack":
      n.dim = g(n.dim);
      n.from = n.from.map(g);
      break;
    case "unstack":
      n.dim = g(n.dim);
      n.to = n.to.map(([name, size]) => [g(name), size]);
      break;
    case "isel": case "set": case "inc":
      n.indexers = Object.fromEntries(Object.entries(n.indexers).map(([k, v]) => [g(k), v]));
      break;
    default:
      break;
  }
}
