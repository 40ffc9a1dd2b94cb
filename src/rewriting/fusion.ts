/**
 * Elementwise fusion (PyTensor `FusionOptimizer`, position 49): collapse connected Elemwise
 * subgraphs into one `Composite` node, so a chain of k elementwise ops makes one pass over
 * memory and allocates one output instead of k.
 *
 * Groups are grown from a root towards the inputs, absorbing a producer only when *every* client
 * of its output is already in the group and it has the root's static shape. That single rule
 * gives the three properties fusion needs:
 * - no cycle: only the root is read outside the group, and the root is downstream of every
 *   member, so no path can leave the group and re-enter it;
 * - one output: the Composite replaces the root alone; every absorbed value dies with it;
 * - one loop shape: members share the root's static shape, and connected Elemwise nodes with
 *   equal static shapes have equal run-time shapes (only statically-1 axes broadcast).
 * The Composite rounds every intermediate to its dtype, so fusing never changes a value.
 *
 * A single-output Composite already in the graph (a graph rewritten once and compiled again, or
 * built with `compositeFromGraph`) is fusable like an Elemwise: its expression is inlined into
 * the new loop. Otherwise an Elemwise read only by it would stay a separate pass over memory,
 * and checked mode's fusion promise, which counts any elementwise reader, would rightly say so.
 */
import { type Apply, Constant, type Variable } from "../graph/basic.js";
import type { FunctionGraph } from "../graph/fgraph.js";
import { TensorType } from "../graph/type.js";
import type { TensorVariable } from "../tensor/basic.js";
import { Composite, Elemwise, broadcastStaticShape, compositeFromGraph, expandComposite } from "../tensor/elemwise.js";
import { InconsistencyError } from "../errors.js";
import type { GraphRewriter, RewriteContext } from "./engine.js";
import { register } from "./db.js";

function fusable(node: Apply): boolean {
  const op = node.op;
  return (op instanceof Elemwise || (op instanceof Composite && op.props.expr.outputs.length === 1)) && op.props.inplace === null;
}

/**
 * The group's output rebuilt from Elemwise nodes alone, over the group's own inputs: members
 * are re-applied on the rebuilt values, and a Composite member is replaced by its expansion.
 * The copy lives outside the graph; `compositeFromGraph` only reads it.
 */
function asElemwiseGraph(members: readonly Apply[], out: Variable): Variable {
  const rebuilt = new Map<Variable, Variable>();
  // Members were collected outputs first: backwards is a topological order.
  for (let m = members.length - 1; m >= 0; m--) {
    const node = members[m];
    const ins = node.inputs.map((v) => rebuilt.get(v) ?? v);
    const op = node.op;
    const value = op instanceof Composite ? expandComposite(op.props.expr, ins as TensorVariable[])[op.props.expr.outputs[0]] : op.makeNode(...ins).outputs[0];
    rebuilt.set(node.outputs[0], value);
  }
  return rebuilt.get(out) as Variable;
}

function sameLengths(s: readonly (number | null)[], t: readonly (number | null)[]): boolean {
  return s.length === t.length && s.every((x, i) => x === t[i]);
}

/**
 * Every fusable node's output shape as its inputs now determine it, in one forward sweep. A
 * recorded type may know less than the node's inputs do: a rewrite that replaces an input by a
 * more refined variable does not re-infer the node (canonicalize removing a Reshape to a value's
 * own `ShapeI` lengths leaves its readers' lengths unknown). Grouping by the recorded types alone
 * left such a node out of its reader's loop, and the inplace pass, which rebuilds nodes and so
 * re-infers them, then showed checked mode's fusion promise a pair of equal shapes unfused.
 */
function refinedShapes(order: readonly Apply[]): Map<Variable, readonly (number | null)[]> {
  const out = new Map<Variable, readonly (number | null)[]>();
  const shapeOf = (v: Variable): readonly (number | null)[] => out.get(v) ?? v.type.shape;
  for (const node of order) {
    if (!fusable(node) || node.inputs.length === 0) continue;
    const recorded = node.outputs[0].type.shape;
    let inferred: (number | null)[];
    try {
      inferred = broadcastStaticShape("elemwise_fusion", node.inputs.map(shapeOf));
    } catch {
      // Inputs of conflicting static lengths: the node raises at run time; leave it as recorded.
      continue;
    }
    // An unknown length every input gives as 1 is refined to 1 too, as the inplace pass does
    // when it rebuilds the node: left out of the loop here, the pair would then show checked
    // mode's fusion promise two equal shapes unfused. (The refined type is the same value's; only
    // an invalid input, which a reader checking the unknown length refused, now broadcasts.)
    if (inferred.length === recorded.length) out.set(node.outputs[0], recorded.map((s, i) => s ?? inferred[i]));
  }
  return out;
}

/** A 0-d tensor constant: Composite inlines it into the loop body instead of taking it as an input. */
function inlinable(v: Variable): boolean {
  return v instanceof Constant && v.type instanceof TensorType && v.type.ndim === 0;
}

/**
 * Partition the fusable nodes into groups: node → its group's root. Nodes are visited outputs
 * first, so all clients of a node are assigned before the node itself.
 */
export function fusionGroups(fg: FunctionGraph): Map<Apply, Apply[]> {
  const rootOf = new Map<Apply, Apply>();
  const groups = new Map<Apply, Apply[]>();
  const order = fg.toposort();
  const refined = refinedShapes(order);
  // Equal recorded shapes, or equal shapes as the inputs determine them: each is a static
  // description of the run-time shapes, so either being equal means one loop shape.
  const oneLoop = (a: Variable, b: Variable): boolean => sameLengths(a.type.shape, b.type.shape) || sameLengths(refined.get(a) ?? a.type.shape, refined.get(b) ?? b.type.shape);
  for (let k = order.length - 1; k >= 0; k--) {
    const node = order[k];
    if (!fusable(node)) continue;
    const out = node.outputs[0];
    const clients = fg.clients.get(out) ?? [];
    let root: Apply | undefined;
    let absorbed = clients.length > 0;
    for (const [c] of clients) {
      const r = rootOf.get(c);
      if (r === undefined || (root !== undefined && r !== root) || !oneLoop(out, r.outputs[0])) {
        absorbed = false;
        break;
      }
      root = r;
    }
    if (absorbed && root !== undefined) {
      rootOf.set(node, root);
      (groups.get(root) as Apply[]).push(node);
    } else {
      rootOf.set(node, node);
      groups.set(node, [node]);
    }
  }
  return groups;
}

/** Counters of the last fusion pass. */
export interface FusionStats {
  /** Composite nodes created. */
  fused: number;
  /** Elemwise nodes they replaced. */
  nodes: number;
}

/** The elemwise fusion pass. */
export class ElemwiseFusion implements GraphRewriter {
  readonly name = "elemwise_fusion";
  lastStats: FusionStats = { fused: 0, nodes: 0 };

  apply(fg: FunctionGraph, ctx: RewriteContext): void {
    const stats: FusionStats = { fused: 0, nodes: 0 };
    this.lastStats = stats;
    // Groups are disjoint, and replacing one root only rewires readers of that root (possibly a
    // member of an upstream-visited group's Composite), so the partition stays valid throughout.
    for (const [root, members] of fusionGroups(fg)) {
      if (members.length < 2 || !fg.applyNodes.has(root)) continue;
      const inside = new Set(members);
      const inputs: Variable[] = [];
      const seen = new Set<Variable>();
      // Members were collected outputs first; walking them backwards lists inputs roughly in order.
      for (let m = members.length - 1; m >= 0; m--) {
        for (const v of members[m].inputs) {
          if (seen.has(v) || (v.owner !== null && inside.has(v.owner)) || inlinable(v)) continue;
          seen.add(v);
          inputs.push(v);
        }
      }
      if (inputs.length === 0) continue;
      const out = root.outputs[0];
      let fused: Variable;
      try {
        const body = members.some((m) => m.op instanceof Composite) ? asElemwiseGraph(members, out) : out;
        fused = compositeFromGraph(inputs, [body]).makeNode(...inputs).outputs[0];
      } catch (e) {
        ctx.fail(this.name, root, e);
        continue;
      }
      try {
        fg.replaceAllValidate([[out, fused]], this.name);
      } catch (e) {
        // A DestroyHandler veto (an in-place node reading a member, if fusion ever runs after the
        // inplace pass) leaves the group unfused; anything else is a bug to report.
        if (!(e instanceof InconsistencyError)) ctx.fail(this.name, root, e);
        continue;
      }
      stats.fused++;
      stats.nodes += members.length;
      ctx.recordFired(this.name);
    }
  }
}

/** The pass instance registered in `optdb` at position 49. */
export const elemwiseFusion = new ElemwiseFusion();
register("elemwise_fusion", 49, ["fast_run", "fusion"], elemwiseFusion);
