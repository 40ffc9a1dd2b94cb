/**
 * checked-sensitivity's `stale-index` corruption: one entry of the DestroyHandler's incremental
 * index goes stale, as a callback that updated the wrong entry would leave it, and checked mode
 * must name that entry word for word.
 *
 * Checked mode calls `checkConsistency` after every rewrite, and that call is two layers: a
 * fast path that counts instead of rebuilding (it must answer "consistent" only when the
 * rebuild would find nothing), and the rebuild, which names the first difference. The other
 * bookkeeping corruptions (`unheard-*`, `lost-prune`) come from real lost callbacks, so each
 * leaves several fields stale at once, and any one of the fast path's tests catches them: a
 * test that went blind beside the others showed nowhere, and neither did a wrong rebuild
 * message (the background PR's destroy-handler failure surfaced as a bare lookup error on stale
 * bookkeeping, far from its cause: the message is what a user has to go on). Checked mode's record of the graph, which skips a verification when nothing
 * changed, reads the same fields: a field it forgot would hide a stale entry the same way.
 *
 * So each kind here changes one field only (or both directions of one view edge, consistently).
 * Several keep every size and count the fast path compares in step (a node swapped for another,
 * a client count raised, a view moved), so that each of its tests is the only one that can see
 * some kind. The rebuild's first difference is then known:
 *
 * | kind | the stale entry | the rebuild must say |
 * |---|---|---|
 * | `unimported` | a node of the graph dropped from the handler's node set | `node N is in the graph but was never imported by the handler` |
 * | `phantom-node` | a node that is not in the graph added to it (an equal copy of a graph node) | `node P is recorded by the handler but is not in the graph` |
 * | `node-swapped` | both at once: the set keeps its size | `node N is in the graph but was never imported by the handler` |
 * | `destroyer-flip` | a node added to the destroyer set, an in-place node dropped from it, or both (the set keeps its size) | `destroyer set disagrees on N` (the first in the graph's order) |
 * | `client-count` | one reader's count of a variable one too high | `clients of V: the handler records {…} but the graph has {…}` |
 * | `client-lost` | one reader of a variable dropped | the same |
 * | `client-phantom` | a graph node that does not read a variable listed as its reader | the same |
 * | `client-stranger` | a reader recorded for a variable that is not in the graph | the same, the graph having `{}` |
 * | `view-moved` | a view recorded as viewing another variable (in both directions of the index, which then agree with each other, or in one), or as viewing nothing | `view O should view S, the handler records W` |
 * | `view-phantom` | an output that is no view recorded as a view of its node's input (the view-to-source direction only) | `the handler records O as a view of S, which the graph does not have` |
 * | `viewO-stray` | a variable's list of views holding, in place of one view, a variable that does not view it (the count unchanged) | `viewO of S lists O, which does not view it` |
 * | `viewO-lost` | one view dropped from its source's list of views | `viewO holds K edges, the graph has N` |
 *
 * With checked mode off, as in production, only the handler's own callbacks can notice, and
 * only when the graph next touches the stale entry: eight kinds ({@link TRIPWIRE_KINDS}) then
 * replace the node the entry is about by a fresh copy, so the graph imports the copy and prunes
 * the node, and the import or prune check must name the entry (`double import of P`, `prune of
 * N, which was never imported`, `N reads V in k slot(s) but is recorded as j; …`, `view edge of
 * output k of N records W but the node reads S`, `… is missing from the views recorded for S`,
 * and for `client-stranger`, whose stranger is that copy's output, `output 0 of freshly imported
 * P already has recorded clients`). Five of them also rewire, on another clone, one input of that
 * node through the graph (to a fresh copy of its producer), and the change check must name the
 * entry (`change of input i of N, which was never imported`, `N is not a recorded client of the
 * replaced input i (V); …`, `view O of N is recorded on W, not on the replaced S`, `O is not a
 * recorded view of S`).
 *
 * The expected text is restated here from the graph (the ops' view and destroy maps, the nodes'
 * inputs), not from the handler, except where the text quotes the handler's own stale entry.
 */
import type { Apply, Variable } from "../src/graph/basic.js";
import type { FunctionGraph } from "../src/graph/fgraph.js";
import { Output } from "../src/graph/fgraph.js";
import { DestroyHandler } from "../src/rewriting/destroyhandler.js";

export const STALE_KINDS = [
  "unimported", "phantom-node", "node-swapped", "destroyer-flip", "client-count", "client-lost", "client-phantom", "client-stranger", "view-moved", "view-phantom", "viewO-stray", "viewO-lost",
] as const;
export type StaleKind = (typeof STALE_KINDS)[number];

/** The kinds a callback of the handler reads back, so that production's tripwires can see them. */
export const TRIPWIRE_KINDS: readonly StaleKind[] = ["unimported", "phantom-node", "node-swapped", "client-count", "client-lost", "view-moved", "viewO-lost", "client-stranger"];

/** The handler's incremental index: the fields `checkConsistency` and checked mode's record read. */
interface HandlerIndex {
  readonly allApps: Set<Apply>;
  readonly destroyers: Set<Apply>;
  readonly clients: Map<Variable, Map<Apply, number>>;
  readonly viewI: Map<Variable, Variable>;
  readonly viewO: Map<Variable, Set<Variable>>;
}

/** The index of `dh`, reached past `private` (a renamed field is a harness defect, said loudly). */
function handlerIndex(dh: DestroyHandler): HandlerIndex {
  const idx = dh as unknown as Record<string, unknown>;
  for (const [f, cls] of [["allApps", Set], ["destroyers", Set], ["clients", Map], ["viewI", Map], ["viewO", Map]] as const) {
    if (!(idx[f] instanceof cls)) throw new Error(`checked-sensitivity stale-index: the DestroyHandler has no ${cls.name} field "${f}" (a harness defect: the corruption must follow the handler's fields)`);
  }
  return idx as unknown as HandlerIndex;
}

/** One planned stale entry: the node whose rewrite corrupts, what it does, and the rebuild's exact first difference. */
export interface StalePlan {
  readonly node: Apply;
  readonly what: string;
  readonly corrupt: () => void;
  /** The rebuild's message after `DestroyHandler.checkConsistency (FunctionGraph#id): `. */
  readonly says: string;
  /**
   * With checked mode off (production), the handler's own callback check that a replacement of
   * `replace` by `by` trips on the stale entry, and its exact message; absent for the kinds no
   * callback reads (a stale destroyer, a phantom reader or view: only validation or checked
   * mode would see those).
   */
  readonly tripwire?: { readonly replace: Apply; readonly by: Apply; readonly says: string };
  /**
   * The other way production's graph touches the entry: input `slot` of `node` rewired through
   * the graph (`changeNodeInput`) to `to`, the output of a fresh copy of its producer, so the
   * handler's change callback reads the stale entry; that callback's exact message; and `node` as
   * messages print it once rewired (the callback runs after the change). Absent for the kinds the
   * change callback does not read, and where the input has no producer to copy.
   */
  readonly rewired?: { readonly node: Apply; readonly slot: number; readonly to: Variable; readonly says: string; readonly shown: string };
}

/** A seeded element of `xs`, or null when it is empty. */
export const pick = <T>(xs: readonly T[], rand: () => number): T | null => (xs.length === 0 ? null : xs[Math.floor(rand() * xs.length)]);

/** A client multiset as the rebuild's message prints it (restated: `{node: count, …}`, in the map's order). */
const show = (m: ReadonlyMap<Apply, number>): string => `{${[...m].map(([a, k]) => `${a.toString()}: ${k}`).join(", ")}}`;

/** The readers of `v` with their counts, from the nodes' inputs, in the graph's node order. */
function readersOf(fg: FunctionGraph, v: Variable): Map<Apply, number> {
  const m = new Map<Apply, number>();
  for (const n of fg.applyNodes) for (const w of n.inputs) if (w === v) m.set(n, (m.get(n) ?? 0) + 1);
  return m;
}

/** The graph's view edges (view output → the input it aliases), from the ops' view maps. */
function viewEdges(fg: FunctionGraph): Map<Variable, Variable> {
  const vi = new Map<Variable, Variable>();
  for (const n of fg.applyNodes) {
    n.outputs.forEach((o, k) => {
      const j = n.op.viewMap[k];
      // Views of one input only: the handler refuses an op declaring more (no op in src does).
      if (j !== undefined && j.length > 0) vi.set(o, n.inputs[j[0]]);
    });
  }
  return vi;
}

/**
 * A fresh node equal to `n`, not in any graph, that may stand in for it: null when its op refuses
 * to rebuild it, or infers a vaguer type than `n` records (checked mode allows a node to record
 * a more refined type than makeNode infers, and the graph would refuse that replacement).
 */
function copyOf(n: Apply): Apply | null {
  let copy: Apply;
  try {
    copy = n.op.makeNode(...n.inputs);
  } catch {
    return null;
  }
  return copy.outputs.length === n.outputs.length && n.outputs.every((o, k) => o.type.isSuper(copy.outputs[k].type)) ? copy : null;
}

/** A corruption that puts `copy` in place of `n` in a node set (its size unchanged). */
const swapIn = (set: Set<Apply>, n: Apply, copy: Apply) => (): void => {
  set.delete(n);
  set.add(copy);
};

/** Whether a node writes into one of its inputs (from its op's destroy map). */
export const isDestroyer = (n: Apply): boolean => Object.keys(n.op.destroyMap).length > 0;

/** A seeded stale entry of kind `kind` in `fg`'s handler, or null when the graph has no fitting target. */
export function stalePlan(fg: FunctionGraph, kind: StaleKind, rand: () => number): StalePlan | null {
  const dh = fg.getFeature(DestroyHandler);
  if (dh === undefined) return null;
  const idx = handlerIndex(dh);
  const nodes = fg.toposort().filter((n) => !(n.op instanceof Output));
  const target = pick(nodes, rand);
  if (target === null) return null;
  const views = viewEdges(fg);
  const edges = [...views];
  // The entries a kind edits exist on a handler in step with the graph; one missing means the
  // handler was stale before the corruption (a finding of its own, not this corruption's).
  const entry = <T>(m: T | undefined, what: string): T => {
    if (m === undefined) throw new Error(`checked-sensitivity stale-index: the DestroyHandler records no ${what} before the corruption`);
    return m;
  };
  const clientsOf = (v: Variable): Map<Apply, number> => entry(idx.clients.get(v), `readers of ${v.toString()}`);
  const viewsOf = (v: Variable): Set<Variable> => entry(idx.viewO.get(v), `views of ${v.toString()}`);
  // Production's tripwires: the node replaced by a fresh copy, so the graph prunes it.
  const prunedUnknown = (n: Apply): StalePlan["tripwire"] => {
    const copy = copyOf(n);
    return copy === null ? undefined : { replace: n, by: copy, says: `DestroyHandler.onPrune: prune of ${n.toString()}, which was never imported` };
  };
  const viewPruned = (o: Variable, fault: string): { tripwire?: StalePlan["tripwire"] } => {
    const n = o.owner as Apply;
    const copy = copyOf(n);
    return copy === null ? {} : { tripwire: { replace: n, by: copy, says: `DestroyHandler.onPrune: view edge of output ${n.outputs.indexOf(o)} of ${n.toString()} ${fault}` } };
  };
  // The change callback's tripwire: input `slot` of `n` moved to the same output of a fresh copy
  // of its producer (a graph input or a constant has none to copy).
  // (`says` gets the node as printed then: `Op(input, …)`, restated with the new input.)
  const rewire = (n: Apply, slot: number, says: (shown: string) => string): { rewired?: StalePlan["rewired"] } => {
    const v = n.inputs[slot];
    const copy = v.owner === null ? null : copyOf(v.owner);
    if (copy === null) return {};
    const to = copy.outputs[(v.owner as Apply).outputs.indexOf(v)];
    const shown = `${n.op.toString()}(${n.inputs.map((w, i) => (i === slot ? to : w).toString()).join(", ")})`;
    return { rewired: { node: n, slot, to, says: says(shown), shown } };
  };
  const neverImported = (n: Apply): { rewired?: StalePlan["rewired"] } => {
    const slot = n.inputs.findIndex((v) => v.owner !== null && copyOf(v.owner) !== null);
    return slot < 0 ? {} : rewire(n, slot, (shown) => `DestroyHandler.onChangeInput: change of input ${slot} of ${shown}, which was never imported`);
  };
  // The slot a view output aliases, from its op's view map.
  const viewedSlot = (o: Variable): number => (o.owner as Apply).op.viewMap[(o.owner as Apply).outputs.indexOf(o)][0];
  switch (kind) {
    case "unimported":
      return {
        node: target,
        what: `${target.toString()} dropped from the handler's node set`,
        corrupt: () => idx.allApps.delete(target),
        says: `node ${target.toString()} is in the graph but was never imported by the handler`,
        tripwire: prunedUnknown(target),
        ...neverImported(target),
      };
    case "phantom-node": {
      const p = copyOf(target);
      if (p === null) return null;
      return {
        node: target,
        what: `a copy of ${target.toString()} that is not in the graph added to the handler's node set`,
        corrupt: () => idx.allApps.add(p),
        says: `node ${p.toString()} is recorded by the handler but is not in the graph`,
        // The graph then imports that very node: the handler holds it already.
        tripwire: { replace: target, by: p, says: `DestroyHandler.onImport: double import of ${p.toString()}` },
      };
    }
    case "node-swapped": {
      const p = copyOf(target);
      if (p === null) return null;
      return {
        node: target,
        what: `${target.toString()} replaced in the handler's node set by a copy that is not in the graph`,
        corrupt: swapIn(idx.allApps, target, p),
        says: `node ${target.toString()} is in the graph but was never imported by the handler`,
        tripwire: prunedUnknown(target),
        ...neverImported(target),
      };
    }
    case "destroyer-flip": {
      // A third of the draws drop an in-place node, a third swap one for a node that writes
      // nothing (the set keeps its size), when the graph has one; the rest add a node.
      const inPlace = nodes.filter(isDestroyer);
      const r = rand();
      const dropped = inPlace.length > 0 && r < 2 / 3 ? (pick(inPlace, rand) as Apply) : null;
      const added = dropped === null || r >= 1 / 3 ? pick(nodes.filter((n) => !isDestroyer(n)), rand) : null;
      if (dropped === null && added === null) return null;
      // The rebuild names the first node, in the graph's order, the set disagrees on.
      const first = [...fg.applyNodes].find((n) => n === dropped || n === added) as Apply;
      return {
        node: first,
        what: [dropped === null ? "" : `${dropped.toString()} dropped from`, added === null ? "" : `${added.toString()} added to`].filter((x) => x !== "").join(" and ") + " the handler's destroyer set",
        corrupt: () => {
          if (dropped !== null) idx.destroyers.delete(dropped);
          if (added !== null) idx.destroyers.add(added);
        },
        says: `destroyer set disagrees on ${first.toString()}`,
      };
    }
    case "client-count":
    case "client-lost":
    case "client-phantom": {
      const read = nodes.filter((n) => n.inputs.length > 0);
      const n = pick(read, rand);
      if (n === null) return null;
      const v = pick([...new Set(n.inputs)], rand) as Variable;
      const graph = show(readersOf(fg, v));
      const stale = new Map(clientsOf(v));
      let what: string;
      let corrupt: () => void;
      // Pruning the reader makes the handler drop its entries, and check each on the way.
      const slots = n.inputs.filter((w) => w === v).length;
      const copy = copyOf(n);
      const pruned = (recorded: number): StalePlan["tripwire"] =>
        copy === null
          ? undefined
          : { replace: n, by: copy, says: `DestroyHandler.onPrune: ${n.toString()} reads ${v.toString()} in ${slots} slot(s) but is recorded as ${recorded}; its inputs were changed without FunctionGraph.changeNodeInput on this graph` };
      let tripwire: StalePlan["tripwire"];
      let rewired: { rewired?: StalePlan["rewired"] } = {};
      if (kind === "client-count") {
        const k = (stale.get(n) ?? 0) + 1;
        stale.set(n, k);
        tripwire = pruned(k);
        what = `${n.toString()} recorded as reading ${v.toString()} ${k} times`;
        corrupt = () => clientsOf(v).set(n, k);
      } else if (kind === "client-lost") {
        stale.delete(n);
        tripwire = pruned(0);
        const slot = n.inputs.indexOf(v);
        rewired = rewire(n, slot, (shown) => `DestroyHandler.onChangeInput: ${shown} is not a recorded client of the replaced input ${slot} (${v.toString()}); its inputs were changed without FunctionGraph.changeNodeInput on this graph`);
        what = `${n.toString()} dropped from the readers of ${v.toString()}`;
        corrupt = () => clientsOf(v).delete(n);
      } else {
        const p = pick(nodes.filter((x) => !x.inputs.includes(v)), rand);
        if (p === null) return null;
        stale.set(p, 1);
        what = `${p.toString()}, which does not read ${v.toString()}, recorded as its reader`;
        corrupt = () => clientsOf(v).set(p, 1);
      }
      return { node: n, what, corrupt, says: `clients of ${v.toString()}: the handler records ${show(stale)} but the graph has ${graph}`, ...(tripwire === undefined ? {} : { tripwire }), ...rewired };
    }
    case "client-stranger": {
      const p = copyOf(target);
      if (p === null) return null;
      const u = p.outputs[0];
      return {
        node: target,
        what: `${target.toString()} recorded as reading ${u.toString()}, a variable not in the graph`,
        corrupt: () => idx.clients.set(u, new Map([[target, 1]])),
        says: `clients of ${u.toString()}: the handler records ${show(new Map([[target, 1]]))} but the graph has {}`,
        // The graph then imports the node whose output that is: its readers are already recorded.
        tripwire: { replace: target, by: p, says: `DestroyHandler.onImport: output 0 of freshly imported ${p.toString()} already has recorded clients` },
      };
    }
    case "view-moved": {
      const e = pick(edges, rand);
      if (e === null) return null;
      const [o, src] = e;
      // Another variable of the graph, in both directions of the index (which then agree with
      // each other) or in the view-to-source direction only; or none (the edge forgotten there).
      const how = Math.floor(rand() * 3);
      const w = how === 2 ? undefined : (pick(nodes.flatMap((n) => n.outputs).filter((x) => x !== src && x !== o), rand) ?? undefined);
      return {
        node: o.owner as Apply,
        what: w === undefined ? `the view ${o.toString()} of ${src.toString()} forgotten by the handler` : `the view ${o.toString()} of ${src.toString()} recorded as viewing ${w.toString()}${how === 0 ? " (both directions)" : ""}`,
        corrupt: () => {
          if (w === undefined) {
            idx.viewI.delete(o);
            return;
          }
          idx.viewI.set(o, w);
          if (how !== 0) return;
          viewsOf(src).delete(o);
          const set = idx.viewO.get(w);
          if (set === undefined) idx.viewO.set(w, new Set([o]));
          else set.add(o);
        },
        says: `view ${o.toString()} should view ${src.toString()}, the handler records ${String(w)}`,
        ...viewPruned(o, `records ${String(w)} but the node reads ${src.toString()}`),
        ...rewire(o.owner as Apply, viewedSlot(o), (shown) => `DestroyHandler.onChangeInput: view ${o.toString()} of ${shown} is recorded on ${String(w)}, not on the replaced ${src.toString()}`),
      };
    }
    case "view-phantom": {
      const n = pick(nodes.filter((x) => x.inputs.length > 0 && x.outputs.some((o) => !views.has(o))), rand);
      if (n === null) return null;
      const o = n.outputs.find((x) => !views.has(x)) as Variable;
      const s = pick(n.inputs, rand) as Variable;
      return {
        node: n,
        what: `${o.toString()}, no view, recorded as a view of ${s.toString()}`,
        corrupt: () => idx.viewI.set(o, s),
        says: `the handler records ${o.toString()} as a view of ${s.toString()}, which the graph does not have`,
      };
    }
    case "viewO-stray": {
      const e = pick(edges, rand);
      if (e === null) return null;
      const [o, src] = e;
      const x = pick(nodes.flatMap((n) => n.outputs).filter((y) => views.get(y) !== src), rand);
      if (x === null) return null;
      return {
        node: o.owner as Apply,
        what: `${x.toString()}, which does not view ${src.toString()}, listed among its views in place of ${o.toString()}`,
        corrupt: () => {
          const set = viewsOf(src);
          set.delete(o);
          set.add(x);
        },
        says: `viewO of ${src.toString()} lists ${x.toString()}, which does not view it`,
      };
    }
    case "viewO-lost": {
      const e = pick(edges, rand);
      if (e === null) return null;
      const [o, src] = e;
      return {
        node: o.owner as Apply,
        what: `the view ${o.toString()} dropped from the list of views of ${src.toString()}`,
        corrupt: () => {
          // As the handler keeps it: a source left with no views has no entry at all.
          const set = viewsOf(src);
          set.delete(o);
          if (set.size === 0) idx.viewO.delete(src);
        },
        says: `viewO holds ${views.size - 1} edges, the graph has ${views.size}`,
        ...viewPruned(o, `is missing from the views recorded for ${src.toString()}`),
        ...rewire(o.owner as Apply, viewedSlot(o), () => `DestroyHandler: ${o.toString()} is not a recorded view of ${src.toString()}`),
      };
    }
  }
}

/**
 * `stale-graph`: the same for the FunctionGraph's own index (its client lists, its variable and
 * node sets, its output list), changed with no callback. Checked mode must stop the rewrite with
 * `checkIntegrity`'s first violation word for word, and its record of the graph (which skips a
 * verification when nothing changed) must cover each field:
 *
 * | kind | the stale entry | `checkIntegrity` must say |
 * |---|---|---|
 * | `client-slot` | a client entry naming another slot of its node | `[slot-registered]: (N, i) appears 0 times in clients[V] (expected once)` |
 * | `client-node` | a client entry naming another node | the same |
 * | `client-extra` | a client entry listed twice | `… appears 2 times …` |
 * | `variable-dropped` | a variable dropped from the variable set | `[variables]: variable V is in the graph but missing from variables` |
 * | `variable-swapped` | the same, with a stranger added (the set keeps its size) | the same |
 * | `apply-node-swapped` | a node replaced in the node set by a copy that is not in the graph | `[apply-nodes]: node N is reachable from the outputs but missing from applyNodes` |
 * | `output-moved` | an entry of the output list naming another variable | `[output-clients]: Output(k) reads V but outputs[k] is W` |
 */
export const GRAPH_KINDS = ["client-slot", "client-node", "client-extra", "variable-dropped", "variable-swapped", "apply-node-swapped", "output-moved"] as const;
export type GraphKind = (typeof GRAPH_KINDS)[number];

/** One planned stale entry of the graph's own index. */
export interface GraphPlan {
  readonly node: Apply;
  readonly what: string;
  readonly corrupt: () => void;
  /** `checkIntegrity`'s message from `[invariant]` on. */
  readonly says: string;
}

/** A seeded stale entry of kind `kind` in `fg`'s own index, or null when the graph has no fitting target. */
export function staleGraphPlan(fg: FunctionGraph, kind: GraphKind, rand: () => number): GraphPlan | null {
  const nodes = fg.toposort().filter((n) => !(n.op instanceof Output));
  const slots = nodes.flatMap((n) => n.inputs.map((_, i) => [n, i] as const));
  const clientList = (v: Variable): [Apply, number][] => {
    const l = fg.clients.get(v) as [Apply, number][] | undefined;
    if (l === undefined) throw new Error(`checked-sensitivity stale-graph: the FunctionGraph records no client list for ${v.toString()} before the corruption`);
    return l;
  };
  switch (kind) {
    case "client-slot":
    case "client-node":
    case "client-extra": {
      const s = pick(slots, rand);
      if (s === null) return null;
      const [n, i] = s;
      const v = n.inputs[i];
      const missing = `[slot-registered]: (${n.toString()}, ${i}) appears ${kind === "client-extra" ? 2 : 0} times in clients[${v.toString()}] (expected once)`;
      const at = (): number => {
        const k = clientList(v).findIndex(([c, j]) => c === n && j === i);
        if (k < 0) throw new Error(`checked-sensitivity stale-graph: the clients of ${v.toString()} do not list (${n.toString()}, ${i}) before the corruption`);
        return k;
      };
      if (kind === "client-extra") return { node: n, what: `(${n.toString()}, ${i}) listed twice among the clients of ${v.toString()}`, corrupt: () => clientList(v).push([n, i]), says: missing };
      if (kind === "client-slot") {
        // A slot of n that does not read v (or one past its last), so no other slot's count moves.
        const j = n.inputs.findIndex((w) => w !== v);
        const other = j < 0 ? n.inputs.length : j;
        return { node: n, what: `the client (${n.toString()}, ${i}) of ${v.toString()} recorded as slot ${other}`, corrupt: () => void (clientList(v)[at()] = [n, other]), says: missing };
      }
      // Another node whose slot i does not read v, for the same reason.
      const m = pick(nodes.filter((x) => x !== n && x.inputs[i] !== v), rand);
      if (m === null) return null;
      return { node: n, what: `the client (${n.toString()}, ${i}) of ${v.toString()} recorded as (${m.toString()}, ${i})`, corrupt: () => void (clientList(v)[at()] = [m, i]), says: missing };
    }
    case "variable-dropped":
    case "variable-swapped": {
      const n = pick(nodes, rand);
      if (n === null) return null;
      const v = pick(n.outputs, rand) as Variable;
      const u = kind === "variable-swapped" ? copyOf(n)?.outputs[0] : undefined;
      if (kind === "variable-swapped" && u === undefined) return null;
      return {
        node: n,
        what: `${v.toString()} dropped from the graph's variables${u === undefined ? "" : `, a variable not in the graph added`}`,
        corrupt: () => {
          fg.variables.delete(v);
          if (u !== undefined) fg.variables.add(u);
        },
        says: `[variables]: variable ${v.toString()} is in the graph but missing from variables`,
      };
    }
    case "apply-node-swapped": {
      const n = pick(nodes, rand);
      const copy = n === null ? null : copyOf(n);
      if (n === null || copy === null) return null;
      return {
        node: n,
        what: `${n.toString()} replaced in the graph's node set by a copy that is not in the graph`,
        corrupt: swapIn(fg.applyNodes, n, copy),
        says: `[apply-nodes]: node ${n.toString()} is reachable from the outputs but missing from applyNodes`,
      };
    }
    case "output-moved": {
      const k = Math.floor(rand() * fg.outputs.length);
      const v = fg.outputs[k];
      const w = pick(nodes.flatMap((n) => n.outputs).filter((x) => x !== v), rand);
      const target = pick(nodes, rand);
      if (w === null || target === null || v === undefined) return null;
      return {
        node: target,
        what: `outputs[${k}] (${v.toString()}) made to name ${w.toString()}`,
        corrupt: () => void ((fg.outputs as Variable[])[k] = w),
        says: `[output-clients]: Output(${k}) reads ${v.toString()} but outputs[${k}] is ${w.toString()}`,
      };
    }
  }
}
