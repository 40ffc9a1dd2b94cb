/**
 * Coverage features of cases, in the spirit of `fc.statistics`: which ops, which parent→child
 * op pairs, and which bug-prone dims patterns (square shapes, swaps, missing-dim concat,
 * vectorized isel over shared dims, ...) a run actually exercised.
 *
 * Works on any valid case (generated, corpus or hand-written). The cost tail the generator
 * appends (`sum(w · sink)` terms, their `as_xtensor` wrappers and the `add` chain) is recognised
 * structurally and left out of op and pair counts, so they describe the graph under test.
 */
import { isFloatDtype, type Case, type CaseNode, type Indexer } from "../src/case/format.js";
import { caseTypes } from "../src/case/parse.js";

/** Ids of the cost tail: walked down from `cost` through add / sum / as_xtensor and weighted muls. */
export function costTail(c: Case): Set<string> {
  const byId = new Map(c.nodes.map((n) => [n.id, n]));
  const wrt = new Set(c.wrt ?? []);
  const weights = new Set(c.inputs.filter((i) => isFloatDtype(i.dtype) && c.wrt !== undefined && !wrt.has(i.name)).map((i) => i.name));
  const tail = new Set<string>();
  const walk = (id: string): void => {
    const n = byId.get(id);
    if (n === undefined || tail.has(id)) return;
    const strArgs = (n.args as (string | number)[]).filter((a): a is string => typeof a === "string");
    if (n.op === "add" || n.op === "sum" || n.op === "as_xtensor") {
      tail.add(id);
      strArgs.forEach((a) => walk(a));
    } else if (n.op === "mul" && strArgs.some((a) => weights.has(a))) {
      tail.add(id);
    }
  };
  walk(c.cost);
  return tail;
}

const sameOrder = (a: readonly string[], order: readonly string[]): boolean => {
  const idx = a.map((d) => order.indexOf(d));
  return idx.every((v, i) => i === 0 || idx[i - 1] < v);
};

/** Feature tags of one case: `op:x`, `pair:x>y`, and pattern tags (see the source for the list). */
export function caseFeatures(c: Case): string[] {
  const types = caseTypes(c);
  const tail = costTail(c);
  const f = new Set<string>();
  const nodes = c.nodes.filter((n) => !tail.has(n.id));
  const byId = new Map(c.nodes.map((n) => [n.id, n]));
  const inputs = new Map(c.inputs.map((i) => [i.name, i]));
  const dimsOf = (id: string): string[] => types.get(id)?.dims ?? [];
  const users = new Map<string, Set<string>>();
  const strArgs = (n: CaseNode): string[] => (n.args as (string | number)[]).filter((a): a is string => typeof a === "string");

  for (const n of nodes) {
    f.add(`op:${n.op}`);
    const args = strArgs(n);
    for (const a of args) {
      const p = byId.get(a);
      if (p !== undefined) f.add(`pair:${p.op}>${n.op}`);
      if (!users.has(a)) users.set(a, new Set());
      users.get(a)?.add(n.id);
    }
    if (new Set(args).size < args.length) f.add("repeated-input");
    for (const a of n.args) {
      if (typeof a === "number") f.add(Number.isInteger(a) ? "weak-int-const" : "float-const");
    }
    const t = types.get(n.id);
    if (t !== undefined && t.shape.length >= 2 && t.shape.every((l) => l === t.shape[0] && l > 1)) f.add("square-shape");
    const x = args[0];
    const xd = x !== undefined ? dimsOf(x) : [];
    switch (n.op) {
      case "rename": {
        const m = n.map;
        const ks = Object.keys(m);
        if (ks.some((k) => m[m[k]] === k && m[k] !== k)) f.add("rename-swap");
        else if (ks.length >= 3) f.add("rename-cycle");
        else f.add("rename-new-name");
        break;
      }
      case "concat": {
        const exists = args.some((a) => dimsOf(a).includes(n.dim));
        f.add(exists ? "concat-existing-dim" : "concat-new-dim");
        if (exists && args.some((a) => !dimsOf(a).includes(n.dim))) f.add("concat-missing-dim");
        if (new Set(args).size < args.length) f.add("concat-self");
        if (args.length >= 3) f.add("concat-3-inputs");
        break;
      }
      case "stack":
        if (n.from.length >= 2) f.add(sameOrder(n.from, xd) ? "stack-input-order" : "stack-reordered");
        break;
      case "unstack":
        if (n.to.some(([nm]) => nm === n.dim)) f.add("unstack-reuses-name");
        if (n.to.length >= 2) f.add("unstack-split");
        break;
      case "transpose":
        if (n.dims.includes("...")) f.add("transpose-ellipsis");
        break;
      case "dot": {
        const yd = dimsOf(args[1]);
        if (args[0] === args[1]) f.add("dot-self");
        if (n.dims === null) f.add("dot-shared");
        else if (n.dims === "...") f.add("dot-all");
        else if (n.dims.length === 0) f.add("dot-none");
        else {
          f.add("dot-list");
          if (n.dims.some((d) => !(xd.includes(d) && yd.includes(d)))) f.add("dot-nonshared-dim");
          // A dim summed inside one operand while that operand keeps another: the pullback's
          // broadcast-back branch with a non-trivial order (einsum's privately summed letter).
          const summed = n.dims;
          const privateSum = (o: readonly string[], other: readonly string[]): boolean =>
            o.some((d) => summed.includes(d) && !other.includes(d)) && o.some((d) => other.includes(d) || !summed.includes(d));
          if (args[0] !== args[1] && (privateSum(xd, yd) || privateSum(yd, xd))) f.add("dot-private-sum");
        }
        break;
      }
      case "sum": case "prod": case "mean": case "max": case "min": case "all": case "any": case "var": case "std": {
        const dn = n as { dims?: string[] | null; axes?: number[] | null; ddof?: number };
        if ("axes" in dn) f.add(dn.axes !== null && dn.axes !== undefined && dn.axes.some((a) => a < 0) ? "sum-negative-axes" : "sum-axes");
        else if (!("dims" in dn)) f.add("reduce-dims-absent");
        else if (dn.dims === null) f.add("reduce-dims-null");
        else if (dn.dims !== undefined && dn.dims.length === 0) f.add("reduce-dims-empty");
        else if (dn.dims !== undefined) {
          f.add(dn.dims.length < xd.length ? "reduce-subset" : "reduce-all-listed");
          if (dn.dims.length >= 2 && !sameOrder(dn.dims, xd)) f.add("reduce-reordered");
        }
        if (dn.ddof !== undefined && dn.ddof > 0) f.add("var-ddof");
        break;
      }
      case "isel": case "set": case "inc": {
        const first = n.op === "isel" ? 1 : 2;
        const ix = n.indexers as Record<string, Indexer>;
        const arrays: string[][] = [];
        for (const [d, v] of Object.entries(ix)) {
          if (typeof v === "number") f.add(v < 0 ? "isel-negative-int" : "isel-int");
          else if ("slice" in v) {
            f.add((v.slice[2] ?? 1) < 0 ? "isel-negative-step" : "isel-slice");
            if (v.slice.slice(0, 2).some((b) => b !== null && b < 0)) f.add("isel-negative-bound");
          } else {
            const id = n.args[v.arg] as string;
            const ad = dimsOf(id);
            arrays.push(ad);
            if (ad.length >= 2) f.add("isel-2d-array");
            if (ad.some((a) => xd.includes(a) && ix[a] === undefined)) f.add("isel-array-over-kept-dim");
            const inp = inputs.get(id);
            const vals = inp !== undefined ? (inp.value as unknown as number[]).flat(4) as number[] : [];
            const n0 = types.get(x)?.shape[xd.indexOf(d)] ?? 0;
            const normed = vals.map((q) => (q < 0 ? q + n0 : q));
            if (vals.some((q) => q < 0)) f.add("isel-negative-index");
            if (new Set(normed).size < normed.length) f.add(`${n.op}-repeated-indices`);
          }
        }
        if (arrays.length > 0) f.add(`${n.op}-vectorized`);
        const flat = arrays.flat();
        if (new Set(flat).size < flat.length) f.add("isel-zipped-arrays");
        if (n.op !== "isel" && typeof n.args[1] !== "number") {
          const yd = dimsOf(n.args[1] as string);
          const vd = xd; // update values align by name to the view
          if (yd.length >= 2 && !sameOrder(yd.filter((d) => vd.includes(d)), vd)) f.add("update-permuted-value");
        }
        void first;
        break;
      }
      case "as_xtensor": {
        const src = byId.get(x);
        if (src?.op === "values") {
          const orig = dimsOf(src.args[0] as string);
          if (n.dims.join() === orig.join()) f.add("values-roundtrip");
          else if ([...n.dims].sort().join() === [...orig].sort().join()) f.add("relabel-permuted");
          else f.add("relabel-new-names");
        }
        break;
      }
      case "where":
        if (typeof n.args[0] === "string" && byId.has(n.args[0])) f.add("where-computed-cond");
        break;
      case "cast":
        if (n.dtype === "float32") f.add("cast-float32");
        if (types.get(x)?.dtype === "float32" && n.dtype === "float64") f.add("float32-roundtrip");
        if (types.get(x)?.dtype === "bool") f.add("cast-bool");
        break;
      case "expand_dims":
        if ((n.size ?? 1) > 1) f.add("expand-size>1");
        break;
      case "eq": case "ne":
        if (byId.get(args[1])?.op === "transpose" && strArgs(byId.get(args[1]) as CaseNode)[0] === args[0]) f.add("compare-with-own-transpose");
        break;
      default:
        break;
    }
    if (t !== undefined && t.kind === "tensor" && n.args.length >= 2 && n.op !== "sum") {
      const shapes = args.map((a) => (types.get(a)?.shape ?? []).join());
      if (new Set(shapes).size > 1) f.add("positional-broadcast");
    }
    if (t !== undefined && t.kind === "xtensor" && n.args.length >= 2 && !["concat", "dot", "isel", "set", "inc"].includes(n.op)) {
      const ds = args.map((a) => dimsOf(a).join());
      if (new Set(ds).size > 1) f.add("named-broadcast");
    }
  }
  for (const [, us] of users) if (us.size >= 2) f.add("diamond");
  // An integer value (a float cast to int, or an int data input) routed through at least one
  // structural op into a float node: every rule on the route meets a float cotangent at an int.
  const STRUCTURAL = ["transpose", "expand_dims", "concat", "rename", "isel", "stack", "unstack", "squeeze"];
  const isInt = (id: string): boolean => /^int/.test(types.get(id)?.dtype ?? "");
  const dataArgs = (n: CaseNode): string[] => (n.op === "isel" ? [n.args[0] as string] : strArgs(n));
  const reachesFloat = (start: string): boolean => {
    const seen = new Set<string>();
    const walk = (id: string, hops: number): boolean => {
      for (const u of users.get(id) ?? []) {
        const n = byId.get(u) as CaseNode;
        if (!dataArgs(n).includes(id)) continue;
        if (isFloatDtype(types.get(u)?.dtype ?? "bool")) { if (hops > 0) return true; continue; }
        if (STRUCTURAL.includes(n.op) && isInt(u) && !seen.has(u)) { seen.add(u); if (walk(u, hops + 1)) return true; }
      }
      return false;
    };
    return walk(start, 0);
  };
  for (const n of nodes) {
    if (n.op === "cast" && isInt(n.id) && isFloatDtype(types.get(n.args[0] as string)?.dtype ?? "bool")) {
      f.add("cast-float-to-int");
      if (reachesFloat(n.id)) f.add("int-cast-structural-to-float");
    }
  }
  for (const i of c.inputs) if (isInt(i.name) && reachesFloat(i.name)) f.add("int-input-structural-to-float");
  for (const i of c.inputs) {
    if (i.dtype === "int64" || i.dtype === "int32") {
      const usedAsData = nodes.some((n) => n.args[0] === i.name || (n.args[1] === i.name && !["set", "inc", "isel"].includes(n.op)));
      if (usedAsData) f.add("int-data-input");
    }
    if (i.kind === "tensor" && !tail.has(i.name)) f.add("positional-input");
  }
  const sums = c.nodes.filter((n) => tail.has(n.id) && n.op === "sum").length;
  if (sums >= 2) f.add("multi-sink");
  return [...f].sort();
}

/** How many of the given cases have each feature (the fc.statistics view, as counts). */
export function featureCounts(cases: Iterable<Case>): { total: number; counts: Map<string, number> } {
  const counts = new Map<string, number>();
  let total = 0;
  for (const c of cases) {
    total++;
    for (const t of caseFeatures(c)) counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  return { total, counts };
}

/** A sorted text table: `feature  count  percent`, one line each, optionally filtered by prefix. */
export function formatFeatureCounts(stats: { total: number; counts: Map<string, number> }, prefix = ""): string {
  const rows = [...stats.counts].filter(([k]) => k.startsWith(prefix)).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const w = Math.max(8, ...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${String(v).padStart(6)}  ${((100 * v) / Math.max(stats.total, 1)).toFixed(1).padStart(5)}%`).join("\n");
}
