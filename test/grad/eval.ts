/**
 * Evaluate a graph directly (toposort + perform), for tests: no rewriting, no compilation, so
 * a gradient is checked exactly as the driver built it.
 */
import { type Apply, Constant, type Variable } from "../../src/graph/basic.js";
import { toposort } from "../../src/graph/traversal.js";
import { NDArray } from "../../src/ndarray/ndarray.js";

/** The values of `outputs` given root values. Inputs are copied, so in-place ops cannot clobber them. */
export function evalGraph(outputs: readonly Variable[], givens: ReadonlyMap<Variable, NDArray>): NDArray[] {
  const env = new Map<Variable, NDArray>();
  for (const [v, a] of givens) env.set(v, a.copy());
  const read = (v: Variable): NDArray => {
    const a = env.get(v) ?? (v instanceof Constant ? v.value : undefined);
    if (a === undefined) throw new Error(`evalGraph: no value for ${v.toString()}`);
    return a;
  };
  // Honour destroyMaps as the DestroyHandler would: every other reader of a destroyed value
  // runs before its destroyer.
  const nodes = toposort(outputs, givens.keys());
  const before = new Map<Apply, Apply[]>();
  for (const node of nodes) {
    for (const slots of Object.values(node.op.destroyMap)) {
      for (const i of slots) {
        const readers = nodes.filter((n) => n !== node && n.inputs.includes(node.inputs[i]));
        before.set(node, [...(before.get(node) ?? []), ...readers]);
      }
    }
  }
  for (const node of before.size === 0 ? nodes : toposort(outputs, givens.keys(), { orderings: before })) {
    if (typeof node.op.perform !== "function") throw new Error(`evalGraph: ${node.op.toString()} has no perform`);
    const outs = node.op.perform(node, node.inputs.map(read));
    node.outputs.forEach((o, j) => env.set(o, outs[j]));
  }
  return outputs.map(read);
}

/** Shorthand: evaluate with givens from plain numbers/nested arrays (float64 unless the variable says otherwise). */
export function evalAt(outputs: readonly Variable[], givens: readonly [Variable, number | number[] | number[][]][]): number[][] {
  const m = new Map<Variable, NDArray>(givens.map(([v, x]) => [v, NDArray.fromNested(x, v.type.dtype)]));
  return evalGraph(outputs, m).map((a) => a.toFlat());
}
