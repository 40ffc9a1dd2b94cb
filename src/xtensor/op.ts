/**
 * The named-op base class. This module imports nothing from the rest of `src/xtensor/`, so
 * every op family can extend `XOp` whatever order the (cyclic) xtensor modules load in.
 */
import type { Apply, Variable } from "../graph/basic.js";
import { Op } from "../graph/op.js";

/**
 * A named-dim op. It only declares its output types (`makeNode`) and how to rewrite itself
 * into positional ops (`lower`); it never runs and never differentiates itself, so there is
 * exactly one implementation of each numeric and gradient rule: the positional one.
 */
export abstract class XOp extends Op {
  /**
   * Replacements for `node.outputs`, one per output, built from positional builders between
   * `values(...)` and `asXTensor(...)`. Each has a type that `node.outputs[i].type.isSuper`
   * accepts. The node itself is not modified.
   */
  abstract lower(node: Apply): Variable[];
}

/** True for named ops (which must be lowered before a graph can run). */
export function isXOp(op: Op): op is XOp {
  return op instanceof XOp;
}

/** True when any node between the graph's roots and `outputs` is a named op. */
export function hasNamedOps(outputs: readonly Variable[]): boolean {
  const seen = new Set<Apply>();
  const stack: Variable[] = [...outputs];
  while (stack.length > 0) {
    const node = stack.pop()!.owner;
    if (node === null || seen.has(node)) continue;
    if (node.op instanceof XOp) return true;
    seen.add(node);
    stack.push(...node.inputs);
  }
  return false;
}

