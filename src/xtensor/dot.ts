/**
 * Dot: xarray's `dot`, a sum of products over a set of contracted dims, lowered to one einsum
 * (tensordot cannot express a partial contraction such as (a,b,c,d)·(b,c,d,e) over (b, d)).
 */
import { Apply, type Variable } from "../graph/basic.js";
import { OpInputError } from "../errors.js";
import { upcast } from "../tensor/basic.js";
import { einsum } from "../tensor/contraction.js";
import { values } from "./basic.js";
import { XOp } from "./op.js";
import { requireX, unionDims, wrapLowered, xtype } from "./common.js";
import { XTensorType, type XTensorVariable, fmtDims } from "./type.js";

/** The contracted dims of `dot`: null = the shared dims, "..." = every dim, or an explicit list. */
export type DotDims = null | "..." | string | readonly string[];

const LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/**
 * Contract `dims` (stored sorted) between x and y. Output: x's dims, then y's dims not in x,
 * minus the contracted ones. A contracted dim present in only one input is summed out.
 */
export class Dot extends XOp {
  readonly name = "Dot";
  readonly props: { readonly dims: readonly string[] };

  constructor(dims: readonly string[]) {
    super();
    const sorted = [...new Set(dims)].sort();
    if (sorted.length !== dims.length) throw new OpInputError(`dot: duplicate dim in dims ${fmtDims(dims)}`);
    this.props = { dims: sorted };
  }

  makeNode(x: Variable, y: Variable): Apply {
    const xt = xtype("dot", "x", x);
    const yt = xtype("dot", "y", y);
    for (const d of this.props.dims) {
      if (!xt.dims.includes(d) && !yt.dims.includes(d)) {
        throw new OpInputError(`dot: dim "${d}" is in neither x ${fmtDims(xt.dims)} nor y ${fmtDims(yt.dims)}`);
      }
    }
    // Shared dims must agree whether contracted or not; unionDims names both inputs on conflict.
    const all = unionDims("dot", [
      { label: "x", type: xt },
      { label: "y", type: yt },
    ]);
    const keep = all.dims.map((_, i) => i).filter((i) => !this.props.dims.includes(all.dims[i]));
    const out = new XTensorType(upcast(xt.dtype, yt.dtype), keep.map((i) => all.dims[i]), keep.map((i) => all.shape[i]));
    return new Apply(this, [x, y], [out]);
  }

  lower(node: Apply): Variable[] {
    const [x, y] = node.inputs.map((v) => v.type as XTensorType);
    const out = node.outputs[0].type as XTensorType;
    const names = [...new Set([...x.dims, ...y.dims])];
    if (names.length > LETTERS.length) throw new OpInputError(`dot: at most ${LETTERS.length} distinct dims can be lowered to einsum, got ${names.length}`);
    const sub = (dims: readonly string[]): string => dims.map((d) => LETTERS[names.indexOf(d)]).join("");
    const t = einsum(`${sub(x.dims)},${sub(y.dims)}->${sub(out.dims)}`, values(node.inputs[0]), values(node.inputs[1]));
    return [wrapLowered("dot", t, out)];
  }
}

/**
 * xarray's `dot(x, y, dims)`. `dims` null contracts the shared dims, `"..."` contracts every dim
 * of either input (a 0-d result), and a list contracts exactly those dims.
 */
export function dot(x: XTensorVariable, y: XTensorVariable, dims: DotDims = null): XTensorVariable {
  const xv = requireX("dot", "x", x);
  const yv = requireX("dot", "y", y);
  let list: readonly string[];
  if (dims === null) list = xv.dims.filter((d) => yv.dims.includes(d));
  else if (dims === "...") list = [...new Set([...xv.dims, ...yv.dims])];
  else list = typeof dims === "string" ? [dims] : dims;
  return new Dot(list).makeNode(xv, yv).out as XTensorVariable;
}
