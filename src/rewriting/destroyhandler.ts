/**
 * DestroyHandler (PyTensor `graph/destroyhandler.py`): polices in-place ops.
 *
 * Ops declare aliasing as data: `viewMap` (output i may alias an input) and `destroyMap` (output
 * i is written into an input). Views form trees rooted at a "foundation"; destroying any member
 * destroys the whole tree. The handler keeps, incrementally from the graph's callbacks, a copy of
 * the use counts and the view edges, and derives lazily which tree each destroyer destroys. From
 * that it (1) adds scheduling orderings (every other reader of a destroyed tree runs before the
 * destroyer) and (2) rejects, in `onValidate`, graphs no schedule can make correct.
 *
 * Unlike PyTensor, every bookkeeping lookup asserts and throws `InvariantError` naming the
 * callback, node and variable: PyTensor's bare `KeyError` in `on_prune` is how the PR #2269
 * corruption surfaced, far from its cause. `checkConsistency()` rebuilds everything from the
 * graph and compares, so checked mode finds a desynchronisation at the first replacement.
 */
import { type Apply, Constant, type Variable } from "../graph/basic.js";
import { type FunctionGraph, isOutputNode } from "../graph/fgraph.js";
import { AlreadyThere, type Feature } from "../graph/features.js";
import { toposort, toposortFrom } from "../graph/traversal.js";
import { InconsistencyError, InvariantError } from "../errors.js";

/** Options of {@link DestroyHandler}. */
export interface DestroyHandlerOptions {
  /**
   * Graph inputs that may be destroyed (default none: every input is protected, as PyTensor's
   * Supervisor protects non-mutable inputs). Graph outputs are always protected.
   */
  readonly mutableInputs?: readonly Variable[];
}

/** The input index a view output aliases, or null. Multiple viewed inputs are not supported. */
function viewedInput(node: Apply, out: number): number | null {
  const v = node.op.viewMap[out];
  if (v === undefined || v.length === 0) return null;
  if (v.length > 1) throw new InvariantError(`DestroyHandler: ${node.op.toString()} declares output ${out} as a view of ${v.length} inputs; only one is supported`);
  return v[0];
}

/** The destroyed input indices of a node. */
function destroyedInputs(node: Apply): number[] {
  const out: number[] = [];
  for (const k of Object.keys(node.op.destroyMap)) {
    const d = node.op.destroyMap[Number(k)];
    if (d.length !== 1) throw new InvariantError(`DestroyHandler: ${node.op.toString()} output ${k} must destroy exactly one input, declares ${d.length}`);
    out.push(d[0]);
  }
  return out;
}

function isDestroyer(node: Apply): boolean {
  return Object.keys(node.op.destroyMap).length > 0;
}

interface Derived {
  /** member of a destroyed tree → the tree's foundation */
  readonly droot: Map<Variable, Variable>;
  /** foundation → the foundation and all its transitive views */
  readonly impact: Map<Variable, Set<Variable>>;
  /** foundation → the node destroying it */
  readonly rootDestroyer: Map<Variable, Apply>;
}

/**
 * TEST-ONLY fault injection, so that the harness can prove it catches a broken DestroyHandler
 * (test/properties/proof.test.ts). Production code must never call this.
 *
 * - `dropViewReaderOrdering`: the handler forgets the readers of the *views* in a destroyed
 *   tree (it still knows the readers of the tree's foundation). It then neither orders them
 *   before the destroyer (`orderings`) nor lets them block an in-place candidate
 *   (`inplaceCandidates`), so an in-place op may overwrite a buffer that a view's reader has not
 *   read yet: the PyTensor class of bug where one ordering is missing.
 */
export type DestroyHandlerFault = "dropViewReaderOrdering";

/**
 * The decision paths the handler counts in `paths` (feature coverage: the fuzzer reports the
 * ones it never exercised, so generators can be steered toward them).
 */
export const DESTROY_HANDLER_PATHS = [
  "validate:no_destroyers",
  "validate:ordered",
  "reject:multiple_destroyers",
  "reject:destroyed_constant",
  "reject:input_aliasing",
  "reject:protected",
  "reject:cycle",
  "candidate:accepted",
  "candidate:protected",
  "candidate:constant_or_destroyed",
  "candidate:other_reader",
  "candidate:aliased_slot",
] as const;

/** One of {@link DESTROY_HANDLER_PATHS}. */
export type DestroyHandlerPath = (typeof DESTROY_HANDLER_PATHS)[number];

let activeFault: DestroyHandlerFault | null = null;

/**
 * TEST-ONLY. Run `fn` with the DestroyHandler broken as `fault` describes, then restore it (also
 * when `fn` throws or its promise rejects). Compile inside `fn`: the fault acts while rewriting.
 */
export function withDestroyHandlerFault<T>(fault: DestroyHandlerFault, fn: () => T): T {
  const prev = activeFault;
  activeFault = fault;
  let result: T;
  try {
    result = fn();
  } catch (e) {
    activeFault = prev;
    throw e;
  }
  if (result instanceof Promise) return result.finally(() => (activeFault = prev)) as T;
  activeFault = prev;
  return result;
}

/** True when the injected fault hides the readers of `v`, a non-foundation member of a tree. */
function faultHidesReaders(v: Variable, root: Variable): boolean {
  return activeFault === "dropViewReaderOrdering" && v !== root;
}

/** A client multiset for checkConsistency's messages. */
function showClients(m: Map<Apply, number> | undefined): string {
  return `{${[...(m ?? new Map<Apply, number>())].map(([a, k]) => `${a.toString()}: ${k}`).join(", ")}}`;
}

/** Equal client multisets (an absent map is an empty one). Module-level: checked mode calls checkConsistency after every replacement. */
function sameClients(a: Map<Apply, number> | undefined, b: Map<Apply, number> | undefined): boolean {
  const sa = a?.size ?? 0;
  if (sa !== (b?.size ?? 0)) return false;
  if (a !== undefined) for (const [k, c] of a) if (b?.get(k) !== c) return false;
  return true;
}

/** The in-place policing feature. Attach at most one per graph (a second declines). */
export class DestroyHandler implements Feature {
  private fg: FunctionGraph | null = null;
  /** Every imported node (protocol check: double import, prune or change without import). */
  private readonly allApps = new Set<Apply>();
  /** Imported nodes with a destroyMap, in import order. */
  private readonly destroyers = new Set<Apply>();
  /** var → (client node → number of its input slots reading var); Output pseudo-clients excluded. */
  private readonly clients = new Map<Variable, Map<Apply, number>>();
  /** view output → the variable it views */
  private readonly viewI = new Map<Variable, Variable>();
  /** viewed variable → its direct views */
  private readonly viewO = new Map<Variable, Set<Variable>>();
  private derived: Derived | null = null;
  private readonly mutable: Set<Variable>;
  /** How often each decision path was taken (see DESTROY_HANDLER_PATHS). */
  readonly paths = new Map<DestroyHandlerPath, number>();

  /**
   * How `checkConsistency` settled its calls: by the fast path, or by the full rebuild (asked
   * for, or after the fast path's doubt). On a handler the engine kept in step with its graph,
   * every call checked mode makes is fast; a rebuild there means the fast path doubted a
   * consistent state, and checked mode, which asks after every replacement, would pay a full
   * rebuild each time (checked-sensitivity's observer judges it). Not in `paths`: those are the
   * pipeline's decisions, and an unchecked compile never asks.
   */
  readonly consistencyChecks = { fast: 0, rebuilt: 0 };

  private hit(path: DestroyHandlerPath): void {
    this.paths.set(path, (this.paths.get(path) ?? 0) + 1);
  }

  constructor(opts: DestroyHandlerOptions = {}) {
    this.mutable = new Set(opts.mutableInputs ?? []);
  }

  clone(): DestroyHandler {
    return new DestroyHandler({ mutableInputs: [...this.mutable] });
  }

  // ---- callbacks ----

  onAttach(fg: FunctionGraph): void {
    if (fg.getFeatures().some((f) => f instanceof DestroyHandler && f !== this)) throw new AlreadyThere();
    if (this.fg !== null) throw new InvariantError(`DestroyHandler.onAttach: already attached to FunctionGraph#${this.fg.id}`);
    this.fg = fg;
    for (const n of toposort(fg.outputs, fg.inputs)) this.onImport(fg, n);
  }

  onDetach(): void {
    this.fg = null;
    this.allApps.clear();
    this.destroyers.clear();
    this.clients.clear();
    this.viewI.clear();
    this.viewO.clear();
    this.derived = null;
  }

  onImport(_fg: FunctionGraph, node: Apply): void {
    if (this.allApps.has(node)) throw new InvariantError(`DestroyHandler.onImport: double import of ${node.toString()}`);
    this.allApps.add(node);
    if (isDestroyer(node)) this.destroyers.add(node);
    node.outputs.forEach((o, k) => {
      const existing = this.clients.get(o);
      if (existing !== undefined && existing.size > 0) {
        throw new InvariantError(`DestroyHandler.onImport: output ${k} of freshly imported ${node.toString()} already has recorded clients`);
      }
      this.clients.set(o, new Map());
      const j = viewedInput(node, k);
      if (j !== null) {
        const src = node.inputs[j];
        this.viewI.set(o, src);
        this.viewOf(src).add(o);
      }
    });
    for (const v of node.inputs) {
      let m = this.clients.get(v);
      if (m === undefined) this.clients.set(v, (m = new Map()));
      m.set(node, (m.get(node) ?? 0) + 1);
    }
    this.derived = null;
  }

  onPrune(fg: FunctionGraph, node: Apply): void {
    if (!this.allApps.has(node)) throw new InvariantError(`DestroyHandler.onPrune: prune of ${node.toString()}, which was never imported`);
    // A variable read in several slots (x * x) is one client entry with a multiplicity.
    const slots = new Map<Variable, number>();
    for (const v of node.inputs) slots.set(v, (slots.get(v) ?? 0) + 1);
    for (const [v, n] of slots) {
      const m = this.clients.get(v);
      if (m === undefined || m.get(node) !== n) {
        throw new InvariantError(
          `DestroyHandler.onPrune: ${node.toString()} reads ${v.toString()} in ${n} slot(s) but is recorded as ${m?.get(node) ?? 0}; ` +
            `its inputs were changed without FunctionGraph.changeNodeInput on this graph`,
        );
      }
      m.delete(node);
      // An empty entry means "no readers", like no entry at all (every reader of the map treats
      // it so), so it is dropped at once. Waiting until v leaves the graph never happened: the
      // graph fires onPrune before it unlinks the pruned node's inputs, so v is still there.
      if (m.size === 0) this.clients.delete(v);
    }
    node.outputs.forEach((o, k) => {
      const j = viewedInput(node, k);
      if (j !== null) {
        const src = this.viewI.get(o);
        if (src !== node.inputs[j]) {
          throw new InvariantError(`DestroyHandler.onPrune: view edge of output ${k} of ${node.toString()} records ${String(src)} but the node reads ${node.inputs[j].toString()}`);
        }
        // The other direction, said apart: "records S but the node reads S" would name no fault.
        if (!(this.viewO.get(src)?.has(o) ?? false)) {
          throw new InvariantError(`DestroyHandler.onPrune: view edge of output ${k} of ${node.toString()} is missing from the views recorded for ${src.toString()}`);
        }
        this.viewI.delete(o);
        this.dropView(src, o);
      }
      // A pruned output may still be recorded as read by a node whose change callback is pending
      // (prunes fire before the change); that entry is removed by onChangeInput.
      if (this.clients.get(o)?.size === 0) this.clients.delete(o);
    });
    this.destroyers.delete(node);
    this.allApps.delete(node);
    this.derived = null;
  }

  onChangeInput(fg: FunctionGraph, node: Apply, i: number, oldVar: Variable, newVar: Variable): void {
    if (isOutputNode(node)) return;
    if (!this.allApps.has(node)) throw new InvariantError(`DestroyHandler.onChangeInput: change of input ${i} of ${node.toString()}, which was never imported`);
    if (node.inputs[i] !== newVar) throw new InvariantError(`DestroyHandler.onChangeInput: input ${i} of ${node.toString()} is ${node.inputs[i].toString()}, not the announced ${newVar.toString()}`);
    const m = this.clients.get(oldVar);
    const c = m?.get(node) ?? 0;
    if (m === undefined || c <= 0) {
      throw new InvariantError(
        `DestroyHandler.onChangeInput: ${node.toString()} is not a recorded client of the replaced input ${i} (${oldVar.toString()}); ` +
          `its inputs were changed without FunctionGraph.changeNodeInput on this graph`,
      );
    }
    if (c === 1) m.delete(node);
    else m.set(node, c - 1);
    if (m.size === 0 && !fg.variables.has(oldVar)) this.clients.delete(oldVar);
    let mn = this.clients.get(newVar);
    if (mn === undefined) this.clients.set(newVar, (mn = new Map()));
    mn.set(node, (mn.get(node) ?? 0) + 1);
    node.outputs.forEach((o, k) => {
      if (viewedInput(node, k) !== i) return;
      if (this.viewI.get(o) !== oldVar) {
        throw new InvariantError(`DestroyHandler.onChangeInput: view ${o.toString()} of ${node.toString()} is recorded on ${String(this.viewI.get(o))}, not on the replaced ${oldVar.toString()}`);
      }
      this.viewI.set(o, newVar);
      this.dropView(oldVar, o);
      this.viewOf(newVar).add(o);
    });
    this.derived = null;
  }

  private viewOf(v: Variable): Set<Variable> {
    let s = this.viewO.get(v);
    if (s === undefined) this.viewO.set(v, (s = new Set()));
    return s;
  }

  private dropView(src: Variable, o: Variable): void {
    const s = this.viewO.get(src);
    if (s === undefined || !s.delete(o)) throw new InvariantError(`DestroyHandler: ${o.toString()} is not a recorded view of ${src.toString()}`);
    if (s.size === 0) this.viewO.delete(src);
  }

  // ---- derived state ----

  /** The foundation of `v`'s view tree. */
  getRoot(v: Variable): Variable {
    let r = v;
    for (let p = this.viewI.get(r); p !== undefined; p = this.viewI.get(r)) r = p;
    return r;
  }

  /** `root` and all its transitive views. */
  private impactOf(root: Variable): Set<Variable> {
    const out = new Set<Variable>([root]);
    const stack = [root];
    while (stack.length > 0) {
      const v = stack.pop() as Variable;
      for (const w of this.viewO.get(v) ?? []) {
        if (!out.has(w)) {
          out.add(w);
          stack.push(w);
        }
      }
    }
    return out;
  }

  /** Build droot/impact/rootDestroyer. @throws InconsistencyError on two destroyers of one tree. */
  private build(): Derived {
    if (this.derived !== null) return this.derived;
    const d: Derived = { droot: new Map(), impact: new Map(), rootDestroyer: new Map() };
    for (const app of this.destroyers) {
      for (const j of destroyedInputs(app)) {
        const root = this.getRoot(app.inputs[j]);
        const prev = d.rootDestroyer.get(root);
        if (prev !== undefined) {
          this.hit("reject:multiple_destroyers");
          throw new InconsistencyError(
            prev === app
              ? `Multiple destroyers of ${root.toString()}: ${app.toString()} destroys it through more than one input`
              : `Multiple destroyers of ${root.toString()}: ${prev.toString()} and ${app.toString()}`,
          );
        }
        const imp = this.impactOf(root);
        d.rootDestroyer.set(root, app);
        d.impact.set(root, imp);
        for (const v of imp) d.droot.set(v, root);
      }
    }
    this.derived = d;
    return d;
  }

  private protectedVars(fg: FunctionGraph): Set<Variable> {
    const s = new Set<Variable>(fg.outputs);
    for (const v of fg.inputs) if (!this.mutable.has(v)) s.add(v);
    return s;
  }

  /**
   * node → nodes that must run before it: for each destroyer, every other reader of any
   * variable in the tree it destroys.
   *
   * @throws InconsistencyError for multiple destroyers, a destroyed constant, or input aliasing.
   */
  orderings(_fg: FunctionGraph): Map<Apply, Set<Apply>> {
    const out = new Map<Apply, Set<Apply>>();
    if (this.destroyers.size === 0) return out;
    const d = this.build();
    for (const app of this.destroyers) {
      for (const j of destroyedInputs(app)) {
        const root = d.droot.get(app.inputs[j]) as Variable;
        if (root instanceof Constant) {
          this.hit("reject:destroyed_constant");
          throw new InconsistencyError(`${app.toString()} destroys input ${j}, a view of the constant ${root.toString()}`);
        }
        const imp = d.impact.get(root) as Set<Variable>;
        app.inputs.forEach((v, k) => {
          if (k !== j && imp.has(v)) {
            this.hit("reject:input_aliasing");
            throw new InconsistencyError(`Input aliasing: ${app.toString()} destroys input ${j} (${app.inputs[j].toString()}) while its input ${k} (${v.toString()}) aliases the same buffer (rooted at ${root.toString()})`);
          }
        });
        let before = out.get(app);
        if (before === undefined) out.set(app, (before = new Set()));
        for (const v of imp) {
          if (faultHidesReaders(v, root)) continue;
          for (const reader of this.clients.get(v)?.keys() ?? []) if (reader !== app) before.add(reader);
        }
      }
    }
    return out;
  }

  /**
   * Reject a graph no schedule can run correctly: multiple destroyers of one tree, a destroyed
   * constant, aliased inputs of a destroyer, a destroyed protected input or graph output, or a
   * reader that needs the destroyer's result yet must run before it (a cycle).
   */
  onValidate(fg: FunctionGraph): void {
    // No destroyers, no orderings, hence no cycles beyond the data graph's own.
    if (this.destroyers.size === 0) {
      this.hit("validate:no_destroyers");
      return;
    }
    const ord = this.orderings(fg);
    const d = this.build();
    const prot = this.protectedVars(fg);
    for (const [root, app] of d.rootDestroyer) {
      for (const v of d.impact.get(root) as Set<Variable>) {
        if (!prot.has(v)) continue;
        const what = fg.inputs.includes(v) ? "graph input" : "graph output";
        this.hit("reject:protected");
        throw new InconsistencyError(`${app.toString()} destroys the protected ${what} ${v.toString()}${v === root ? "" : ` (a view of ${root.toString()})`}`);
      }
    }
    try {
      toposortFrom(
        fg.outputs.map((o) => o.owner),
        (v) => v.owner === null,
        ord,
      );
    } catch (e) {
      if (e instanceof InconsistencyError) this.hit("reject:cycle");
      if (e instanceof InconsistencyError) throw new InconsistencyError(`Dependency graph contains cycles once destroyers are ordered after their tree's readers: ${e.message}`);
      throw e;
    }
    this.hit("validate:ordered");
  }

  // ---- queries ----

  /** The nodes destroying the tree `v` belongs to (at most one in a valid graph). */
  destroyersOf(v: Variable): Apply[] {
    const d = this.build();
    const root = d.droot.get(v);
    return root === undefined ? [] : [d.rootDestroyer.get(root) as Apply];
  }

  /** True when any of `vars` belongs to a destroyed tree. */
  hasDestroyers(vars: Iterable<Variable>): boolean {
    if (this.destroyers.size === 0) return false;
    const d = this.build();
    for (const v of vars) if (d.droot.has(v)) return true;
    return false;
  }

  /** True when some node reads `v` in a slot it destroys (merge's PR #2355 guard). */
  hasDirectDestroyer(v: Variable): boolean {
    for (const app of this.clients.get(v)?.keys() ?? []) {
      if (!this.destroyers.has(app)) continue;
      for (const j of destroyedInputs(app)) if (app.inputs[j] === v) return true;
    }
    return false;
  }

  /**
   * The input slots of `node` that an in-place version of it could destroy: not a constant or a
   * view of one, not in a tree that is already destroyed or holds a protected variable, and not
   * read by anyone but `node` (views in the tree count only through their own readers). At most
   * one slot per tree.
   */
  inplaceCandidates(node: Apply): number[] {
    const fg = this.requireGraph("inplaceCandidates");
    const prot = this.protectedVars(fg);
    const d = this.destroyers.size === 0 ? null : this.build();
    const roots = new Set<Variable>();
    const out: number[] = [];
    node.inputs.forEach((v, j) => {
      const root = this.getRoot(v);
      if (roots.has(root) || root instanceof Constant || d?.droot.has(v)) return this.hit("candidate:constant_or_destroyed");
      const tree = this.impactOf(root);
      for (const t of tree) {
        if (prot.has(t)) return this.hit("candidate:protected");
        if (faultHidesReaders(t, root)) continue;
        for (const reader of this.clients.get(t)?.keys() ?? []) {
          if (reader === node) continue;
          // A pure view node inside the tree is fine; its own readers are checked as tree members.
          const isView = reader.outputs.every((o, k) => viewedInput(reader, k) !== null && tree.has(o));
          if (!isView) return this.hit("candidate:other_reader");
        }
      }
      // The node must read the tree through exactly one slot (otherwise input aliasing).
      if (node.inputs.some((w, k) => k !== j && tree.has(w))) return this.hit("candidate:aliased_slot");
      roots.add(root);
      out.push(j);
      this.hit("candidate:accepted");
    });
    return out;
  }

  private requireGraph(what: string): FunctionGraph {
    if (this.fg === null) throw new InvariantError(`DestroyHandler.${what}: not attached to a graph`);
    return this.fg;
  }

  /**
   * Rebuild all bookkeeping from the graph and compare with the incremental state.
   *
   * Checked mode calls this after every replacement, so a state that agrees is first recognised
   * without building anything ({@link consistentFast}); any doubt runs the full rebuild, which
   * names the first difference. `full: true` always runs the rebuild (tests compare the two).
   *
   * @throws InvariantError naming the first difference.
   */
  checkConsistency(opts: { readonly full?: boolean } = {}): void {
    const fg = this.requireGraph("checkConsistency");
    if (opts.full !== true && this.consistentFast(fg)) {
      this.consistencyChecks.fast++;
      return;
    }
    this.consistencyChecks.rebuilt++;
    const fail = (msg: string): never => {
      throw new InvariantError(`DestroyHandler.checkConsistency (FunctionGraph#${fg.id}): ${msg}`);
    };
    for (const n of fg.applyNodes) if (!this.allApps.has(n)) fail(`node ${n.toString()} is in the graph but was never imported by the handler`);
    for (const n of this.allApps) if (!fg.applyNodes.has(n)) fail(`node ${n.toString()} is recorded by the handler but is not in the graph`);
    for (const n of fg.applyNodes) if (isDestroyer(n) !== this.destroyers.has(n)) fail(`destroyer set disagrees on ${n.toString()}`);
    // Clients, as multisets, rebuilt from the nodes' actual inputs (not from fg.clients, which a
    // mutation behind the graph's back leaves just as stale). Empty maps are equivalent to none.
    const fresh = new Map<Variable, Map<Apply, number>>();
    for (const n of fg.applyNodes) {
      for (const v of n.inputs) {
        let m = fresh.get(v);
        if (m === undefined) fresh.set(v, (m = new Map()));
        m.set(n, (m.get(n) ?? 0) + 1);
      }
    }
    for (const [v, m] of fresh) if (!sameClients(m, this.clients.get(v))) fail(`clients of ${v.toString()}: the handler records ${showClients(this.clients.get(v))} but the graph has ${showClients(m)}`);
    for (const [v, m] of this.clients) if (!sameClients(m, fresh.get(v))) fail(`clients of ${v.toString()}: the handler records ${showClients(m)} but the graph has ${showClients(fresh.get(v))}`);
    // View edges.
    const vi = new Map<Variable, Variable>();
    for (const n of fg.applyNodes) {
      n.outputs.forEach((o, k) => {
        const j = viewedInput(n, k);
        if (j !== null) vi.set(o, n.inputs[j]);
      });
    }
    for (const [o, src] of vi) if (this.viewI.get(o) !== src) fail(`view ${o.toString()} should view ${src.toString()}, the handler records ${String(this.viewI.get(o))}`);
    for (const [o, src] of this.viewI) if (vi.get(o) !== src) fail(`the handler records ${o.toString()} as a view of ${src.toString()}, which the graph does not have`);
    let nViewO = 0;
    for (const [src, s] of this.viewO) {
      for (const o of s) {
        nViewO++;
        if (vi.get(o) !== src) fail(`viewO of ${src.toString()} lists ${o.toString()}, which does not view it`);
      }
    }
    if (nViewO !== vi.size) fail(`viewO holds ${nViewO} edges, the graph has ${vi.size}`);
  }

  /**
   * True only when the full rebuild of `checkConsistency` would find no difference; false means
   * "run it" (it then names the difference). On a state a correct engine leaves it is always
   * true: a doubt there costs checked mode a rebuild per replacement ({@link consistencyChecks}).
   * Counting replaces the rebuilt maps: two sets of equal size one of which contains the other are
   * equal, and a map that holds every expected entry with its expected value and no more entries
   * than expected is the expected map.
   */
  private consistentFast(fg: FunctionGraph): boolean {
    try {
      if (fg.applyNodes.size !== this.allApps.size) return false;
      let pairs = 0;
      // View outputs, as a set: a variable listed as the output of two nodes counts once, as a
      // key of the rebuilt map does. Views are few, so this set stays small.
      const viewOuts = new Set<Variable>();
      for (const n of fg.applyNodes) {
        if (!this.allApps.has(n)) return false;
        // isDestroyer without Object.keys' array.
        const dm = n.op.destroyMap;
        let destroys = false;
        for (const k in dm) {
          if (Object.hasOwn(dm, k)) {
            destroys = true;
            break;
          }
        }
        if (destroys !== this.destroyers.has(n)) return false;
        const ins = n.inputs;
        for (let i = 0; i < ins.length; i++) {
          const v = ins[i];
          // Each distinct (variable, reader) pair once, at its first slot, with its multiplicity.
          let first = true;
          for (let j = 0; j < i; j++) if (ins[j] === v) first = false;
          if (!first) continue;
          let count = 1;
          for (let j = i + 1; j < ins.length; j++) if (ins[j] === v) count++;
          if (this.clients.get(v)?.get(n) !== count) return false;
          pairs++;
        }
        for (let k = 0; k < n.outputs.length; k++) {
          const j = viewedInput(n, k);
          if (j === null) continue;
          const o = n.outputs[k];
          // The rebuilt map keeps the last edge of a repeated output: let the rebuild judge that.
          if (viewOuts.has(o) || this.viewI.get(o) !== ins[j]) return false;
          viewOuts.add(o);
        }
      }
      let recorded = 0;
      for (const m of this.clients.values()) recorded += m.size;
      const views = viewOuts.size;
      if (recorded !== pairs || this.viewI.size !== views) return false;
      let edges = 0;
      for (const [src, set] of this.viewO) {
        for (const o of set) {
          if (this.viewI.get(o) !== src) return false;
          edges++;
        }
      }
      return edges === views;
    } catch {
      return false;
    }
  }

  /**
   * Emit every field `checkConsistency` reads from this handler (its graph, node sets, client
   * multisets and view edges), in a fixed order, to `put`. Checked mode records this with the
   * graph's own fields: two equal records give the same `checkConsistency` outcome.
   */
  recordState(rec: { put(x: unknown): void }): void {
    rec.put(this.fg);
    rec.put(this.allApps.size);
    for (const n of this.allApps) rec.put(n);
    rec.put(this.destroyers.size);
    for (const n of this.destroyers) rec.put(n);
    rec.put(this.clients.size);
    for (const [v, m] of this.clients) {
      rec.put(v);
      rec.put(m.size);
      for (const [a, k] of m) {
        rec.put(a);
        rec.put(k);
      }
    }
    rec.put(this.viewI.size);
    for (const [o, src] of this.viewI) {
      rec.put(o);
      rec.put(src);
    }
    rec.put(this.viewO.size);
    for (const [src, s] of this.viewO) {
      rec.put(src);
      rec.put(s.size);
      for (const o of s) rec.put(o);
    }
  }
}
