/**
 * The gradient paths of a graph, restated from the graph alone for the claims that judge the
 * gradient strategies' structure (argument-contract's region, grad-composition's Pullback
 * counts): written here once, from each op's own connectionPattern, not from the driver's walk.
 */
import type { Apply, Variable } from "../src/graph/basic.js";
import { isFloat } from "../src/graph/type.js";
import * as X from "../src/xtensor/index.js";

/**
 * The named ops on the cost's gradient paths: nodes whose output reaches the cost and one of whose
 * inputs a wrt reaches, both along float values and true connections (each op's own
 * connectionPattern), never through a `stops` variable (a cut: considerConstant, or a variable
 * wrapped apart). The lazy strategy wraps every such node in its region; the driver's walk
 * follows true connections of any dtype, so it sees at least these. A wrt computed by a named op
 * is a root of the paths, not a node on them.
 */
export function regionNodes(cost: Variable, wrt: readonly Variable[], stops: readonly Variable[] = []): Apply[] {
  const stopSet = new Set(stops);
  const onPath = (v: Variable): boolean => isFloat(v.type.dtype) && !stopSet.has(v);
  const connectedTo = (node: Apply, out: number): Variable[] => {
    const p = node.op.connectionPattern?.(node);
    return node.inputs.filter((v, i) => onPath(v) && (p === undefined || p[i][out]));
  };
  // Variables the cost reads along float values and true connections (the cost included).
  const toCost = new Set<Variable>();
  const todo = [cost];
  while (todo.length > 0) {
    const v = todo.pop() as Variable;
    if (toCost.has(v) || !onPath(v)) continue;
    toCost.add(v);
    if (v.owner !== null) todo.push(...connectedTo(v.owner, v.index));
  }
  // Whether a wrt lies behind v along float values and true connections.
  const wrtSet = new Set(wrt);
  const memo = new Map<Variable, boolean>();
  const fromWrt = (v: Variable): boolean => {
    const known = memo.get(v);
    if (known !== undefined) return known;
    memo.set(v, false);
    const r = wrtSet.has(v) || (v.owner !== null && connectedTo(v.owner, v.index).some(fromWrt));
    memo.set(v, r);
    return r;
  };
  const nodes = new Set<Apply>();
  for (const v of toCost) if (v.owner !== null && X.isXOp(v.owner.op) && !wrtSet.has(v) && connectedTo(v.owner, v.index).some(fromWrt)) nodes.add(v.owner);
  return [...nodes];
}
