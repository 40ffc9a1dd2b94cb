/**
 * Graph traversal: topological order, ancestry, cloning and functional replacement.
 *
 * Every walk here is iterative (explicit stacks): gradient graphs of a few thousand nodes are
 * routine, and a recursive walk would overflow V8's stack around 10,000 frames. Every walk is
 * deterministic: it visits inputs in slot order and never iterates a hash set whose order
 * depends on anything but insertion, so two runs over the same graph give the same order.
 */
import { Apply, Constant, type Variable } from "./basic.js";
import { GraphError, InconsistencyError } from "../errors.js";

/** Extra scheduling constraints: node → nodes that must run before it (DestroyHandler). */
export type Orderings = ReadonlyMap<Apply, Iterable<Apply>>;

/** Options of {@link toposort}. */
export interface ToposortOptions {
  /** Extra "must run before" edges; a cycle through them is an `InconsistencyError`. */
  readonly orderings?: Orderings;
}

/**
 * The Apply nodes needed to compute `outputs`, each after the nodes it depends on.
 *
 * The walk stops at `inputs` (their owners are not included even if they have one). The order
 * is the post-order of a depth-first walk that visits inputs in slot order, then ordering
 * prerequisites in their given order, so it is deterministic.
 *
 * @throws InconsistencyError when the dependency graph (with `orderings`) has a cycle; the
 *   message names a node on the cycle.
 */
export function toposort(outputs: readonly Variable[], inputs?: Iterable<Variable>, opts: ToposortOptions = {}): Apply[] {
  const blocked = inputs === undefined ? null : new Set(inputs);
  return toposortFrom(
    outputs.map((o) => (blocked?.has(o) ? null : o.owner)),
    (v) => (blocked !== null && blocked.has(v)) || v.owner === null,
    opts.orderings,
  );
}

/**
 * Topological sort of the ancestry of `roots` (Apply nodes; nulls are skipped), not crossing a
 * variable for which `isBlocked` is true. Shared by `toposort`, `FunctionGraph.importNode`
 * (blocked at already-imported variables) and the DestroyHandler's cycle check.
 *
 * @internal exported for the graph package; not part of the public barrel.
 */
export function toposortFrom(roots: readonly (Apply | null)[], isBlocked: (v: Variable) => boolean, orderings?: Orderings): Apply[] {
  const order: Apply[] = [];
  // 1 = on the current DFS path, 2 = finished. A node met again while on the path is a cycle.
  const state = new Map<Apply, 1 | 2>();
  // The DFS stack as parallel arrays (no frame object or dependency list per node: this walk
  // runs for every import, clone, graphReplace and checked-mode integrity check). A frame's
  // cursor runs over the node's input slots, then over its ordering prerequisites:
  // cursor < nIn is an input slot, cursor === nIn means "fetch the prerequisites", and
  // cursor > nIn indexes them (cursor - nIn - 1).
  const nodes: Apply[] = [];
  const cursor: number[] = [];
  const extras: (Apply[] | null)[] = [];
  for (const root of roots) {
    if (root === null || state.has(root)) continue;
    state.set(root, 1);
    nodes.push(root);
    cursor.push(0);
    extras.push(null);
    while (nodes.length > 0) {
      const top = nodes.length - 1;
      const node = nodes[top];
      const ins = node.inputs;
      const nIn = ins.length;
      let p = cursor[top];
      let dep: Apply | null = null;
      while (p < nIn) {
        const v = ins[p++];
        if (v.owner !== null && !isBlocked(v)) {
          dep = v.owner;
          break;
        }
      }
      if (dep === null && orderings !== undefined) {
        if (p === nIn) {
          const ex = orderings.get(node);
          extras[top] = ex === undefined ? null : Array.from(ex);
          p++;
        }
        const ex = extras[top];
        if (ex !== null && p - nIn - 1 < ex.length) dep = ex[p++ - nIn - 1];
      }
      cursor[top] = p;
      if (dep === null) {
        nodes.pop();
        cursor.pop();
        extras.pop();
        state.set(node, 2);
        order.push(node);
        continue;
      }
      const s = state.get(dep);
      if (s === 2) continue;
      if (s === 1) {
        throw new InconsistencyError(`toposort: dependency graph contains a cycle through node ${dep.toString()} (needed by ${node.toString()})`);
      }
      state.set(dep, 1);
      nodes.push(dep);
      cursor.push(0);
      extras.push(null);
    }
  }
  return order;
}

/**
 * Every variable `outputs` depend on, outputs included, in depth-first pre-order. The walk does
 * not go above a variable in `blockers` (the blocker itself is included).
 */
export function ancestors(outputs: readonly Variable[], blockers?: Iterable<Variable>): Variable[] {
  const blocked = blockers === undefined ? null : new Set(blockers);
  const seen = new Set<Variable>();
  const out: Variable[] = [];
  // Reverse pushes so that the pre-order visits inputs in slot order.
  const stack: Variable[] = [...outputs].reverse();
  while (stack.length > 0) {
    const v = stack.pop() as Variable;
    if (seen.has(v)) continue;
    seen.add(v);
    out.push(v);
    if (v.owner !== null && !(blocked?.has(v) ?? false)) {
      const ins = v.owner.inputs;
      for (let i = ins.length - 1; i >= 0; i--) if (!seen.has(ins[i])) stack.push(ins[i]);
    }
  }
  return out;
}

/** The Apply nodes between `inputs` and `outputs`, in topological order (PyTensor `applys_between`). */
export function applyNodesBetween(inputs: Iterable<Variable>, outputs: readonly Variable[]): Apply[] {
  return toposort(outputs, inputs);
}

/**
 * Every variable between `inputs` and `outputs`: the outputs, the inputs they reach, and every
 * input and output of the nodes in between (a node's unused outputs are included, because a
 * FunctionGraph imports whole nodes). Order: topological by node, then slot order.
 */
export function variablesBetween(inputs: Iterable<Variable>, outputs: readonly Variable[]): Variable[] {
  const nodes = applyNodesBetween(inputs, outputs);
  const seen = new Set<Variable>();
  const out: Variable[] = [];
  const add = (v: Variable): void => {
    if (!seen.has(v)) {
      seen.add(v);
      out.push(v);
    }
  };
  for (const n of nodes) {
    for (const v of n.inputs) add(v);
    for (const v of n.outputs) add(v);
  }
  for (const v of outputs) add(v);
  return out;
}

/** Options of {@link clone}. */
export interface CloneOptions {
  /** The graph's inputs: they are never walked above and are kept (or cloned, see `keepRoots`). */
  readonly inputs?: readonly Variable[];
  /** Pre-seeded substitutions: a key is replaced by its value and its ancestry is not cloned. */
  readonly replace?: ReadonlyMap<Variable, Variable>;
  /**
   * Keep root variables (graph inputs and other ownerless non-constant variables) shared with
   * the original graph (default true). Roots carry no mutable graph state, so sharing them is
   * safe and lets callers evaluate the clone with their own input variables. Constants are
   * always shared.
   */
  readonly keepRoots?: boolean;
}

/** The result of {@link clone}. */
export interface CloneResult {
  readonly outputs: Variable[];
  /** original variable → its counterpart in the clone (identity for shared roots and constants). */
  readonly equiv: Map<Variable, Variable>;
}

/**
 * Copy the graph of `outputs` into fresh Apply nodes. Output types are preserved exactly (the
 * copy is built with `new Apply`, not `makeNode`), so a clone is structurally identical even when
 * a rewrite had refined a type beyond what `makeNode` would infer.
 */
export function clone(outputs: readonly Variable[], opts: CloneOptions = {}): CloneResult {
  const keepRoots = opts.keepRoots ?? true;
  const equiv = new Map<Variable, Variable>();
  if (opts.replace !== undefined) for (const [k, v] of opts.replace) equiv.set(k, v);
  const mapRoot = (v: Variable): Variable => {
    let r = equiv.get(v);
    if (r === undefined) {
      r = keepRoots || v instanceof Constant ? v : v.cloneRoot();
      equiv.set(v, r);
    }
    return r;
  };
  const inputs = opts.inputs ?? [];
  for (const i of inputs) if (!equiv.has(i)) mapRoot(i);
  const blocked = new Set<Variable>([...inputs, ...equiv.keys()]);
  const nodes = toposortFrom(
    outputs.map((o) => (blocked.has(o) ? null : o.owner)),
    (v) => blocked.has(v) || v.owner === null,
  );
  for (const node of nodes) {
    const newInputs = node.inputs.map((v) => equiv.get(v) ?? (v.owner === null ? mapRoot(v) : undefined));
    for (let i = 0; i < newInputs.length; i++) {
      if (newInputs[i] === undefined) {
        throw new GraphError(`clone: input ${i} (${node.inputs[i].toString()}) of ${node.toString()} was not cloned before its client`);
      }
    }
    const copy = new Apply(
      node.op,
      newInputs as Variable[],
      node.outputs.map((o) => o.type),
    );
    node.outputs.forEach((o, j) => {
      copy.outputs[j].name = o.name;
      equiv.set(o, copy.outputs[j]);
    });
  }
  const newOutputs = outputs.map((o) => equiv.get(o) ?? mapRoot(o));
  return { outputs: newOutputs, equiv };
}

/** Options of {@link graphReplace}. */
export interface GraphReplaceOptions {
  /**
   * Rebuild affected nodes with `op.makeNode` so output types are re-inferred from the new
   * inputs (default true). With false, affected nodes keep their recorded output types
   * (`new Apply`); use that only when the replacement has exactly the replaced variable's type.
   */
  readonly reinfer?: boolean;
  /** Require `old.type.isSuper(new.type)` for every replacement (default true). */
  readonly strict?: boolean;
}

/**
 * Functional replacement: new outputs in which every key of `replacements` is substituted by
 * its value. Only nodes that (transitively) depend on a replaced variable are rebuilt; every
 * other node is shared with the original graph, which is never mutated. The ancestry of the
 * replacement values is not walked, so `x → f(x)` is allowed.
 *
 * @throws GraphError when `strict` and a replacement's type is not accepted by the old type.
 */
export function graphReplace(outputs: readonly Variable[], replacements: ReadonlyMap<Variable, Variable>, opts: GraphReplaceOptions = {}): Variable[] {
  const reinfer = opts.reinfer ?? true;
  if (opts.strict ?? true) {
    for (const [o, n] of replacements) {
      if (!o.type.isSuper(n.type)) {
        throw new GraphError(`graphReplace: cannot replace ${o.toString()} of type ${o.type.toString()} by ${n.toString()} of type ${n.type.toString()}`);
      }
    }
  }
  const map = new Map<Variable, Variable>(replacements);
  const nodes = toposortFrom(
    outputs.map((o) => (map.has(o) ? null : o.owner)),
    (v) => map.has(v) || v.owner === null,
  );
  for (const node of nodes) {
    let changed = false;
    const newInputs = node.inputs.map((v) => {
      const r = map.get(v);
      if (r !== undefined && r !== v) changed = true;
      return r ?? v;
    });
    if (!changed) continue;
    const rebuilt = reinfer
      ? node.op.makeNode(...newInputs)
      : new Apply(
          node.op,
          newInputs,
          node.outputs.map((o) => o.type),
        );
    if (rebuilt.outputs.length !== node.outputs.length) {
      throw new GraphError(`graphReplace: rebuilding ${node.toString()} gave ${rebuilt.outputs.length} outputs, expected ${node.outputs.length}`);
    }
    node.outputs.forEach((o, j) => {
      if (rebuilt.outputs[j].name === null) rebuilt.outputs[j].name = o.name;
      map.set(o, rebuilt.outputs[j]);
    });
  }
  return outputs.map((o) => map.get(o) ?? o);
}
