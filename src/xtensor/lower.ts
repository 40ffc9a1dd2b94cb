/**
 * The `lower_xtensor` pass: rewrite every named op into positional ops, to a fixed point, and
 * cancel the conversion pairs that lowering leaves between adjacent ops. Registered in `optdb`
 * at 0.09 (tags "required", "lower_xtensor") when this module loads; `type.ts` imports it, so
 * loading any part of `src/xtensor/` registers the pass.
 *
 * Each named op's lowering rule lives beside the op (`XOp.lower`); this file only drives them.
 */
import type { Apply, Variable } from "../graph/basic.js";
import type { FunctionGraph } from "../graph/fgraph.js";
import type { OpClass } from "../graph/op.js";
import { type GraphRewriter, type NodeRewriter, type RewriteResult, equilibrium } from "../rewriting/engine.js";
import { register, rewriteGraph } from "../rewriting/db.js";
import { Rename, TensorFromXTensor, XTensorFromTensor } from "./basic.js";
import { XOp } from "./op.js";
import type { XTensorType } from "./type.js";

/**
 * A node rewriter whose tracked classes are read when the engine first needs them, not when
 * this module loads: the xtensor modules import each other cyclically, and this one may load
 * before `basic.ts` has defined the conversion classes.
 */
function rule(name: string, tracks: () => readonly OpClass[], transform: (fg: FunctionGraph, node: Apply) => RewriteResult, matches?: (node: Apply) => boolean): NodeRewriter {
  return {
    name,
    get tracks() {
      return tracks();
    },
    transform,
    ...(matches === undefined ? {} : { matches }),
  };
}

/** A pre-filter (`NodeRewriter.matches`): the node's input is computed by an op of the class `cls()` (read late, as `rule`'s tracks). */
function inputFrom(cls: () => OpClass): (node: Apply) => boolean {
  return (node) => {
    const o = node.inputs[0]?.owner;
    return o !== null && o !== undefined && o.op instanceof cls();
  };
}

/** Only replace when the graph will accept it: the new type must refine the old one. */
function accept(node: Apply, replacement: Variable): RewriteResult {
  return node.outputs[0].type.isSuper(replacement.type) ? [replacement] : null;
}

/** Any named op → its own lowering. */
export const lowerNamedOp: NodeRewriter = rule("lower_xop", () => [XOp], (_fg, node) => (node.op as XOp).lower(node));

/** `TensorFromXTensor(XTensorFromTensor(t))` → `t`: labelling then unlabelling moves nothing. */
export const uselessTensorFromXTensor: NodeRewriter = rule("useless_tensor_from_xtensor", () => [TensorFromXTensor], (_fg, node) => {
  const inner = node.inputs[0].owner;
  if (inner === null || !(inner.op instanceof XTensorFromTensor)) return null;
  return accept(node, inner.inputs[0]);
}, inputFrom(() => XTensorFromTensor));

/**
 * `XTensorFromTensor(dims)(TensorFromXTensor(x))` → `x` when x already has exactly `dims`, and
 * → `Rename(dims)(x)` when only the labels differ. PyTensor's rule returns x whatever the
 * dims, and its type conversion then turns a positional relabel into a transpose; a relabel
 * must stay a relabel.
 */
export const uselessXTensorFromTensor: NodeRewriter = rule("useless_xtensor_from_tensor", () => [XTensorFromTensor], (_fg, node) => {
  const inner = node.inputs[0].owner;
  if (inner === null || !(inner.op instanceof TensorFromXTensor)) return null;
  const x = inner.inputs[0];
  const dims = (node.op as XTensorFromTensor).props.dims;
  const xt = x.type as XTensorType;
  const same = xt.dims.length === dims.length && xt.dims.every((d, i) => d === dims[i]);
  return accept(node, same ? x : new Rename(dims).makeNode(x).out);
}, inputFrom(() => TensorFromXTensor));

/** `TensorFromXTensor(Rename(x))` → `TensorFromXTensor(x)`: a relabel does not move values. */
export const uselessTensorFromRename: NodeRewriter = rule("useless_tensor_from_xtensor_of_rename", () => [TensorFromXTensor], (_fg, node) => {
  const inner = node.inputs[0].owner;
  if (inner === null || !(inner.op instanceof Rename)) return null;
  return accept(node, new TensorFromXTensor().makeNode(inner.inputs[0]).out);
}, inputFrom(() => Rename));

/** `Rename(Rename(x))` → one Rename (or x itself when the labels come back to x's). */
export const uselessRename: NodeRewriter = rule("useless_rename", () => [Rename], (_fg, node) => {
  const inner = node.inputs[0].owner;
  const dims = (node.op as Rename).props.dims;
  const src = inner !== null && inner.op instanceof Rename ? inner.inputs[0] : node.inputs[0];
  const st = src.type as XTensorType;
  if (st.dims.every((d, i) => d === dims[i])) return accept(node, src);
  if (src === node.inputs[0]) return null;
  return accept(node, new Rename(dims).makeNode(src).out);
});

/** Every rule of the pass, lowering first. */
export const LOWER_XTENSOR_REWRITERS: readonly NodeRewriter[] = [lowerNamedOp, uselessTensorFromXTensor, uselessXTensorFromTensor, uselessTensorFromRename, uselessRename];

/** The pass: all rules to a fixed point (nodes created by a lowering are revisited). */
export const lowerXTensorPass: GraphRewriter = equilibrium("lower_xtensor", LOWER_XTENSOR_REWRITERS);

register("lower_xtensor", 0.09, ["required", "lower_xtensor"], lowerXTensorPass);

/** Options of {@link lower}. */
export interface LowerOptions {
  /** Verify the graph after every rewrite (checked mode), naming the rewrite that broke it. */
  readonly checked?: boolean;
}

/**
 * Lower a copy of the graph of `outputs`: the returned outputs compute the same values with
 * positional ops only (conversions remain only at the boundary), over the same input
 * variables. The argument's nodes are never modified. Rewrite failures are raised, never
 * skipped: a half-lowered graph cannot run.
 */
export function lower(outputs: readonly Variable[], opts: LowerOptions = {}): Variable[] {
  return rewriteGraph(outputs, { include: ["lower_xtensor"], clone: true, onOptError: "raise", checked: opts.checked ?? false });
}
