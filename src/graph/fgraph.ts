/**
 * FunctionGraph: a mutable graph with a clients map and listening features (PyTensor `fg.py`).
 *
 * All rewriting happens on a FunctionGraph. It owns the `inputs` lists of the Apply nodes it has
 * imported: every mutation goes through `changeNodeInput`, which keeps `clients`, `applyNodes`
 * and `variables` exact and tells every feature, in a fixed order (imports, then prunes, then
 * the change). This module is deliberately stricter than PyTensor: a client that is not where
 * the bookkeeping says it is raises `InvariantError` instead of being silently skipped, because
 * silently skipped bookkeeping is how the PR #2269 DestroyHandler corruption stayed hidden.
 */
import { Apply, Constant, type Variable } from "./basic.js";
import { Op } from "./op.js";
import { clone as cloneGraph, toposort as toposortVars, toposortFrom } from "./traversal.js";
import { GraphError, InvariantError } from "../errors.js";
import { ReplaceValidate, type Feature, AlreadyThere } from "./features.js";

/** A client of a variable: the node reading it, and the input slot. */
export type Client = [Apply, number];

/**
 * The pseudo-op whose Apply marks "graph output number idx". It has one input and no outputs;
 * giving outputs a client entry means a variable that is an output is never pruned, and a
 * replacement of an output updates `fg.outputs` through the same `changeNodeInput` path.
 */
export class Output extends Op {
  readonly name = "Output";
  readonly props: { readonly idx: number };
  constructor(readonly idx: number) {
    super();
    this.props = { idx };
  }
  makeNode(...inputs: Variable[]): Apply {
    if (inputs.length !== 1) throw new GraphError(`Output{idx=${this.idx}}: expected 1 input, got ${inputs.length}`);
    return new Apply(this, inputs, []);
  }
}

/** True for the pseudo-Apply of a graph output. */
export function isOutputNode(node: Apply): boolean {
  return node.op instanceof Output;
}

/** Options of the FunctionGraph constructor. */
export interface FunctionGraphOptions {
  /**
   * Copy the Apply nodes first (default true) so that rewriting never mutates the caller's
   * graph. Root variables (inputs, constants) are shared: they hold no mutable graph state.
   * With false, the graph adopts the caller's Apply objects and will rewire their inputs.
   */
  readonly clone?: boolean;
  /** Features to attach before the graph is imported; they see every node through `onImport`. */
  readonly features?: readonly Feature[];
}

/** Options of `changeNodeInput` and `replace`. */
export interface ChangeOptions {
  /** Require `old.type.isSuper(new.type)` (default true). History's revert turns it off. */
  readonly check?: boolean;
}

/** Owner of each node in a guarded graph (see `FunctionGraph.guardNodes`). */
const guardOwner = new WeakMap<Apply, FunctionGraph>();

let nextGraphId = 0;

/** A graph of Apply nodes between declared inputs and outputs, with clients and features. */
export class FunctionGraph {
  /** Identifies this graph in error messages. */
  readonly id = nextGraphId++;
  /** The declared inputs (root variables). */
  readonly inputs: Variable[];
  /** The current outputs; replacements of an output update this list. */
  readonly outputs: Variable[] = [];
  /** The Apply nodes between inputs and outputs (Output pseudo-nodes excluded). */
  readonly applyNodes = new Set<Apply>();
  /** Every variable in the graph: the inputs, plus every input and output of `applyNodes`. */
  readonly variables = new Set<Variable>();
  /** variable → the (node, slot) pairs reading it, Output pseudo-clients included. */
  readonly clients = new Map<Variable, Client[]>();
  /** The Output pseudo-Apply of each output, by index. */
  readonly outputNodes: Apply[] = [];
  /** Caller's variable → this graph's variable (identity for shared roots, or when not cloned). */
  readonly equiv: Map<Variable, Variable>;
  private readonly features: Feature[] = [];
  private readonly inputSet: Set<Variable>;
  private guarded = false;

  constructor(inputs: readonly Variable[], outputs: readonly Variable[], opts: FunctionGraphOptions = {}) {
    const seen = new Set<Variable>();
    for (const [k, v] of inputs.entries()) {
      if (v.owner !== null) throw new GraphError(`FunctionGraph: input ${k} (${v.toString()}) is not a root: it is output ${v.index} of ${v.owner.toString()}`);
      if (v instanceof Constant) throw new GraphError(`FunctionGraph: input ${k} (${v.toString()}) is a constant; constants need not be declared`);
      if (seen.has(v)) throw new GraphError(`FunctionGraph: input ${k} (${v.toString()}) is declared twice`);
      seen.add(v);
    }
    let outs = outputs;
    if (opts.clone ?? true) {
      const c = cloneGraph(outputs, { inputs, keepRoots: true });
      this.equiv = c.equiv;
      outs = c.outputs;
    } else {
      this.equiv = new Map();
      for (const v of inputs) this.equiv.set(v, v);
    }
    this.inputs = [...inputs];
    this.inputSet = new Set(inputs);
    // ReplaceValidate goes first (PyTensor attaches it last) so that History logs a change before
    // any other feature can throw from the same callback; a revert then undoes it.
    this.attachFeature(new ReplaceValidate());
    for (const f of opts.features ?? []) this.attachFeature(f);
    for (const v of this.inputs) {
      this.variables.add(v);
      this.clients.set(v, []);
    }
    for (const o of outs) this.addOutput(o, "init");
    if (opts.clone === false) for (const v of this.variables) this.equiv.set(v, v);
  }

  private addOutput(v: Variable, reason: string): void {
    const idx = this.outputs.length;
    this.importVar(v, reason);
    const node = new Output(idx).makeNode(v);
    this.outputs.push(v);
    this.outputNodes.push(node);
    (this.clients.get(v) as Client[]).push([node, 0]);
  }

  // ---- features ----

  /** Attach a feature (a second attach of the same instance is a no-op). */
  attachFeature(f: Feature): void {
    if (this.features.includes(f)) return;
    this.features.push(f);
    try {
      f.onAttach?.(this);
    } catch (e) {
      this.features.splice(this.features.indexOf(f), 1);
      if (e instanceof AlreadyThere) return;
      throw e;
    }
  }

  /** Detach a feature; it hears `onDetach`. */
  removeFeature(f: Feature): void {
    const i = this.features.indexOf(f);
    if (i < 0) return;
    this.features.splice(i, 1);
    f.onDetach?.(this);
  }

  /** The attached features, in attach order. */
  getFeatures(): readonly Feature[] {
    return this.features;
  }

  /** The first attached feature that is an instance of `cls`, or undefined. */
  getFeature<F extends Feature>(cls: abstract new (...args: never[]) => F): F | undefined {
    for (const f of this.features) if (f instanceof cls) return f;
    return undefined;
  }

  private replaceValidate(): ReplaceValidate {
    const rv = this.getFeature(ReplaceValidate);
    if (rv === undefined) throw new InvariantError(`FunctionGraph#${this.id}: no ReplaceValidate feature attached`);
    return rv;
  }

  /** Replace every pair, validate, and revert everything if anything fails (see ReplaceValidate). */
  replaceAllValidate(pairs: readonly (readonly [Variable, Variable])[], reason: string, remove: readonly Variable[] = []): void {
    this.replaceValidate().replaceAllValidate(this, pairs, reason, remove);
  }

  /** Run every feature's `onValidate`; throws what they throw (e.g. `InconsistencyError`). */
  validate(): void {
    for (const f of [...this.features]) f.onValidate?.(this);
  }

  /** Open a History checkpoint (see `History.checkpoint`). */
  checkpoint(): number {
    return this.replaceValidate().checkpoint();
  }

  /** Undo every change since `chk` (see `History.revert`). */
  revert(chk: number): void {
    this.replaceValidate().revert(this, chk);
  }

  /** Close checkpoint `chk`, keeping its changes (see `History.release`). */
  release(chk: number): void {
    this.replaceValidate().release(chk);
  }

  /**
   * Claim the Apply nodes of this graph: from now on, any *other* FunctionGraph that tries to
   * `changeNodeInput` one of them throws `InvariantError` before mutating anything. Checked mode
   * turns this on; it catches a nested rewrite over shared nodes (PR #2269) at its first step.
   */
  guardNodes(): void {
    if (this.guarded) return;
    this.guarded = true;
    for (const n of this.applyNodes) if (!guardOwner.has(n)) guardOwner.set(n, this);
  }

  /** Release the claim taken by `guardNodes` (e.g. when checked mode is detached). */
  unguardNodes(): void {
    if (!this.guarded) return;
    this.guarded = false;
    for (const n of this.applyNodes) if (guardOwner.get(n) === this) guardOwner.delete(n);
  }

  private emitImport(node: Apply, reason: string): void {
    for (const f of [...this.features]) f.onImport?.(this, node, reason);
  }

  private emitPrune(node: Apply, reason: string): void {
    for (const f of [...this.features]) f.onPrune?.(this, node, reason);
  }

  private emitChange(node: Apply, i: number, oldVar: Variable, newVar: Variable, reason: string): void {
    for (const f of [...this.features]) f.onChangeInput?.(this, node, i, oldVar, newVar, reason);
  }

  // ---- import ----

  /** Import `v` (and its ancestry) into the graph. A non-input, non-constant root is a GraphError. */
  importVar(v: Variable, reason: string): void {
    if (v.owner !== null) {
      if (!this.applyNodes.has(v.owner)) this.importNode(v.owner, reason);
      else if (!this.variables.has(v)) throw new InvariantError(`FunctionGraph#${this.id}.importVar: ${v.toString()} is an output of imported node ${v.owner.toString()} but is missing from variables`);
      return;
    }
    if (!(v instanceof Constant) && !this.inputSet.has(v)) {
      throw new GraphError(`MissingInput: ${v.toString()} (${v.type.toString()}) is a root of the graph but not one of its declared inputs`);
    }
    if (!this.variables.has(v)) {
      this.variables.add(v);
      this.clients.set(v, []);
    }
  }

  /**
   * Import `node` and every not-yet-imported node it depends on, inputs first; each fires
   * `onImport`. Missing inputs are detected for the whole new ancestry before anything is
   * imported, so a MissingInput leaves the graph unchanged.
   */
  importNode(node: Apply, reason: string): void {
    if (this.applyNodes.has(node)) return;
    const fresh = toposortFrom([node], (v) => v.owner === null || this.applyNodes.has(v.owner));
    for (const n of fresh) {
      for (const v of n.inputs) {
        if (v.owner === null && !(v instanceof Constant) && !this.inputSet.has(v)) {
          throw new GraphError(`MissingInput: ${v.toString()} (${v.type.toString()}), input of ${n.toString()}, is a root of the graph but not one of its declared inputs`);
        }
      }
    }
    for (const n of fresh) {
      for (const v of n.inputs) {
        if (v.owner === null && !this.variables.has(v)) {
          this.variables.add(v);
          this.clients.set(v, []);
        }
      }
      this.applyNodes.add(n);
      if (this.guarded && !guardOwner.has(n)) guardOwner.set(n, this);
      for (const o of n.outputs) {
        this.variables.add(o);
        this.clients.set(o, []);
      }
      n.inputs.forEach((v, i) => {
        const cl = this.clients.get(v);
        if (cl === undefined) throw new InvariantError(`FunctionGraph#${this.id}.importNode: input ${i} (${v.toString()}) of ${n.toString()} has no clients entry`);
        cl.push([n, i]);
      });
      this.emitImport(n, reason);
    }
  }

  // ---- mutation ----

  /**
   * Make `node.inputs[i]` be `newVar`: import `newVar`, register the new client, unregister the
   * old one (pruning what becomes dead), then fire `onChangeInput`.
   *
   * @throws InvariantError if `(node, i)` is not a registered client of `node.inputs[i]` (checked
   *   even when nothing changes: PyTensor's early return hides stale client lists), or if `node`
   *   belongs to another guarded graph.
   * @throws GraphError if `check` and the old type does not accept the new type.
   */
  changeNodeInput(node: Apply, i: number, newVar: Variable, reason: string, opts: ChangeOptions = {}): void {
    const owner = guardOwner.get(node);
    if (owner !== undefined && owner !== this) {
      throw new InvariantError(
        `FunctionGraph#${this.id}.changeNodeInput(${reason}): node ${node.toString()} belongs to live FunctionGraph#${owner.id}; ` +
          `rewiring it here would desynchronise that graph and its features (a nested rewrite over shared nodes: clone the subgraph first)`,
      );
    }
    const isOut = node.op instanceof Output;
    if (!isOut && !this.applyNodes.has(node)) {
      throw new InvariantError(`FunctionGraph#${this.id}.changeNodeInput(${reason}): node ${node.toString()} is not in the graph`);
    }
    if (isOut && this.outputNodes[(node.op as Output).idx] !== node) {
      throw new InvariantError(`FunctionGraph#${this.id}.changeNodeInput(${reason}): ${node.op.toString()} is not this graph's output node`);
    }
    if (i < 0 || i >= node.inputs.length) throw new InvariantError(`FunctionGraph#${this.id}.changeNodeInput(${reason}): ${node.toString()} has no input ${i}`);
    const old = node.inputs[i];
    const cl = this.clients.get(old);
    if (cl === undefined || !cl.some(([c, j]) => c === node && j === i)) {
      throw new InvariantError(
        `FunctionGraph#${this.id}.changeNodeInput(${reason}): (${node.toString()}, ${i}) is not a registered client of its input ${old.toString()}; ` +
          `node.inputs was mutated behind the graph's back`,
      );
    }
    if (old === newVar) return;
    if ((opts.check ?? true) && !old.type.isSuper(newVar.type)) {
      throw new GraphError(`${reason}: cannot replace input ${i} of ${node.toString()}: ${old.toString()} has type ${old.type.toString()}, which does not accept ${newVar.toString()} of type ${newVar.type.toString()}`);
    }
    // Import first: a MissingInput then leaves the node untouched.
    this.importVar(newVar, reason);
    node.inputs[i] = newVar;
    if (isOut) this.outputs[(node.op as Output).idx] = newVar;
    (this.clients.get(newVar) as Client[]).push([node, i]);
    this.removeClient(old, [node, i], reason);
    this.emitChange(node, i, old, newVar, reason);
  }

  /**
   * Remove one client of `v`; when `v` has no clients left, prune its owner (once none of the
   * owner's outputs has clients), recursively and iteratively. A pruned node fires `onPrune`
   * after it has left `applyNodes` and before its inputs are unlinked.
   *
   * @throws InvariantError when `client` is not registered on `v`.
   */
  removeClient(v: Variable, client: Client, reason: string): void {
    const stack: [Variable, Client][] = [[v, client]];
    while (stack.length > 0) {
      const [w, [cn, ci]] = stack.pop() as [Variable, Client];
      const cl = this.clients.get(w);
      const k = cl === undefined ? -1 : cl.findIndex(([c, j]) => c === cn && j === ci);
      if (cl === undefined || k < 0) {
        throw new InvariantError(`FunctionGraph#${this.id}.removeClient(${reason}): (${cn.toString()}, ${ci}) is not a registered client of ${w.toString()}`);
      }
      cl.splice(k, 1);
      if (cl.length > 0) continue;
      if (w.owner === null) {
        // Declared inputs stay in the graph even when unused; constants leave with their last client.
        if (!this.inputSet.has(w)) {
          this.variables.delete(w);
          this.clients.delete(w);
        }
        continue;
      }
      const node = w.owner;
      if (!this.applyNodes.has(node)) {
        throw new InvariantError(`FunctionGraph#${this.id}.removeClient(${reason}): owner ${node.toString()} of ${w.toString()} is not in the graph`);
      }
      if (node.outputs.some((o) => (this.clients.get(o)?.length ?? 0) > 0)) continue;
      this.applyNodes.delete(node);
      for (const o of node.outputs) {
        this.variables.delete(o);
        this.clients.delete(o);
      }
      if (guardOwner.get(node) === this) guardOwner.delete(node);
      this.emitPrune(node, reason);
      for (let j = node.inputs.length - 1; j >= 0; j--) stack.push([node.inputs[j], [node, j]]);
    }
  }

  /**
   * Replace every use of `v` by `newVar` (outputs included). A `v` that is no longer in the graph
   * is ignored, as in PyTensor: an earlier replacement of the same batch may have pruned it.
   *
   * @throws GraphError naming both types when `v.type` does not accept `newVar.type`.
   */
  replace(v: Variable, newVar: Variable, reason: string, opts: ChangeOptions = {}): void {
    if ((opts.check ?? true) && !v.type.isSuper(newVar.type)) {
      throw new GraphError(`${reason}: cannot replace ${v.toString()} of type ${v.type.toString()} by ${newVar.toString()} of type ${newVar.type.toString()}`);
    }
    if (!this.variables.has(v) || v === newVar) return;
    for (const [node, i] of [...(this.clients.get(v) ?? [])]) this.changeNodeInput(node, i, newVar, reason, opts);
  }

  /** `replace` for each pair in order. */
  replaceAll(pairs: readonly (readonly [Variable, Variable])[], reason: string, opts: ChangeOptions = {}): void {
    for (const [o, n] of pairs) this.replace(o, n, reason, opts);
  }

  // ---- queries ----

  /** The nodes in an order that respects data dependencies and every feature's `orderings`. */
  toposort(): Apply[] {
    let merged: Map<Apply, Apply[]> | undefined;
    for (const f of this.features) {
      const o = f.orderings?.(this);
      if (o === undefined || o.size === 0) continue;
      merged ??= new Map();
      for (const [node, before] of o) {
        const list = merged.get(node);
        if (list === undefined) merged.set(node, [...before]);
        else list.push(...before);
      }
    }
    const order = toposortVars(this.outputs, this.inputs, merged === undefined ? {} : { orderings: merged });
    if (order.length !== this.applyNodes.size) {
      throw new InvariantError(`FunctionGraph#${this.id}.toposort: found ${order.length} nodes from the outputs but applyNodes holds ${this.applyNodes.size}`);
    }
    return order;
  }

  /** Copy this graph (nodes cloned, roots shared); features with a `clone()` are cloned too. */
  clone(): FunctionGraph {
    const features: Feature[] = [];
    for (const f of this.features) {
      if (f instanceof ReplaceValidate) continue;
      const c = f.clone?.();
      if (c !== undefined) features.push(c);
    }
    return new FunctionGraph(this.inputs, this.outputs, { clone: true, features });
  }

  /**
   * Check every structural invariant (pytensor-reference §7.2 and §12.2 "Structure"):
   * inputs are distinct roots; `applyNodes` and `variables` are exactly what lies between inputs
   * and outputs; roots are inputs or constants; every input slot is a client exactly once;
   * every client entry points back; client lists exist exactly for `variables`; every output
   * has its Output pseudo-client.
   *
   * @throws InvariantError naming the invariant and the offending node or variable.
   */
  checkIntegrity(): void {
    const fail = (inv: string, msg: string): never => {
      throw new InvariantError(`FunctionGraph#${this.id}.checkIntegrity [${inv}]: ${msg}`);
    };
    for (const v of this.inputs) if (v.owner !== null) fail("inputs-are-roots", `input ${v.toString()} has owner ${v.owner.toString()}`);
    if (this.inputSet.size !== this.inputs.length) fail("inputs-distinct", `the input list has duplicates`);
    // Outputs and their pseudo-clients.
    if (this.outputNodes.length !== this.outputs.length) fail("output-clients", `${this.outputs.length} outputs but ${this.outputNodes.length} Output nodes`);
    this.outputs.forEach((v, k) => {
      const on = this.outputNodes[k];
      if (!(on.op instanceof Output) || on.op.idx !== k) fail("output-clients", `output node ${k} is ${on.op.toString()}`);
      if (on.inputs[0] !== v) fail("output-clients", `Output(${k}) reads ${on.inputs[0].toString()} but outputs[${k}] is ${v.toString()}`);
      if (!(this.clients.get(v) ?? []).some(([c, i]) => c === on && i === 0)) fail("output-clients", `output ${k} (${v.toString()}) has no Output(${k}) client`);
    });
    // applyNodes equals the nodes between inputs and outputs (also rejects cycles).
    let between: Apply[];
    try {
      between = toposortFrom(
        this.outputs.map((o) => (this.inputSet.has(o) ? null : o.owner)),
        (v) => v.owner === null || this.inputSet.has(v),
      );
    } catch (e) {
      return fail("acyclic", (e as Error).message);
    }
    const betweenSet = new Set(between);
    for (const n of between) if (!this.applyNodes.has(n)) fail("apply-nodes", `node ${n.toString()} is reachable from the outputs but missing from applyNodes`);
    for (const n of this.applyNodes) if (!betweenSet.has(n)) fail("apply-nodes", `node ${n.toString()} is in applyNodes but unreachable from the outputs (a dead node)`);
    // variables equals inputs + everything touched by those nodes + the outputs.
    const vars = new Set<Variable>(this.inputs);
    for (const n of between) {
      for (const v of n.inputs) vars.add(v);
      for (const v of n.outputs) vars.add(v);
    }
    for (const v of this.outputs) vars.add(v);
    for (const v of vars) if (!this.variables.has(v)) fail("variables", `variable ${v.toString()} is in the graph but missing from variables`);
    for (const v of this.variables) if (!vars.has(v)) fail("variables", `variable ${v.toString()} is in variables but not in the graph`);
    for (const v of this.variables) {
      if (v.owner === null && !(v instanceof Constant) && !this.inputSet.has(v)) fail("roots-declared", `root ${v.toString()} is neither an input nor a constant`);
    }
    // Every input slot is registered exactly once.
    const checkSlots = (n: Apply): void => {
      for (let i = 0; i < n.inputs.length; i++) {
        const v = n.inputs[i];
        const cl = this.clients.get(v);
        let count = 0;
        if (cl !== undefined) for (const c of cl) if (c[0] === n && c[1] === i) count++;
        if (count !== 1) fail("slot-registered", `(${n.toString()}, ${i}) appears ${count} times in clients[${v.toString()}] (expected once)`);
      }
    };
    for (const n of this.applyNodes) checkSlots(n);
    for (const n of this.outputNodes) checkSlots(n);
    // Client lists exist exactly for variables, and every entry points back.
    for (const v of this.variables) if (!this.clients.has(v)) fail("clients-keys", `variable ${v.toString()} has no clients entry`);
    for (const [v, cl] of this.clients) {
      if (!this.variables.has(v)) fail("clients-keys", `clients has an entry for ${v.toString()}, which is not in variables${cl.length > 0 ? ` (with ${cl.length} clients)` : ""}`);
      for (const [c, i] of cl) {
        if (c.inputs[i] !== v) fail("client-points-back", `clients[${v.toString()}] lists (${c.toString()}, ${i}) but that slot holds ${String(c.inputs[i])}`);
        if (c.op instanceof Output) {
          if (this.outputNodes[c.op.idx] !== c || this.outputs[c.op.idx] !== v) fail("client-points-back", `clients[${v.toString()}] lists a stale ${c.op.toString()}`);
        } else if (!this.applyNodes.has(c)) {
          fail("client-in-graph", `clients[${v.toString()}] lists (${c.toString()}, ${i}), a node not in applyNodes (a stale client)`);
        }
      }
    }
  }

  toString(): string {
    return `FunctionGraph#${this.id}(${this.inputs.map((v) => v.toString()).join(", ")} -> ${this.outputs.map((v) => v.toString()).join(", ")})`;
  }
}
