/**
 * XCumReduce: cumulative sum or product along one dim. Same dims as the input; ints and bool
 * accumulate in int64, as numpy's cumsum/cumprod do.
 */
import { Apply, type Variable } from "../graph/basic.js";
import { OpInputError } from "../errors.js";
import { cumprod as ptCumprod, cumsum as ptCumsum } from "../tensor/cumulative.js";
import { values } from "./basic.js";
import { XOp } from "./op.js";
import { requireDim, requireX, wrapLowered, xtype } from "./common.js";
import type { XTensorType, XTensorVariable } from "./type.js";
import { accumulatorInput } from "./reduce.js";

/** The cumulative reductions and their positional builders. */
export type CumMode = "add" | "mul";

const POSITIONAL = { add: ptCumsum, mul: ptCumprod } satisfies Record<CumMode, (x: Variable, axis: number) => Variable>;
const OP_NAME = { add: "cumsum", mul: "cumprod" } satisfies Record<CumMode, string>;

/** Cumulative `mode` along `dim`; output type = input type. */
export class XCumReduce extends XOp {
  readonly name = "XCumReduce";
  readonly props: { readonly mode: CumMode; readonly dim: string };

  constructor(mode: CumMode, dim: string) {
    super();
    if (!(mode in POSITIONAL)) throw new OpInputError(`XCumReduce: unknown mode "${String(mode)}"`);
    this.props = { mode, dim };
  }

  makeNode(x: Variable): Apply {
    const op = OP_NAME[this.props.mode];
    requireDim(op, "x", xtype(op, "x", x), this.props.dim);
    return new Apply(this, [x], [x.type]);
  }

  lower(node: Apply): Variable[] {
    const x = node.inputs[0].type as XTensorType;
    const t = POSITIONAL[this.props.mode](values(node.inputs[0]), x.dims.indexOf(this.props.dim));
    return [wrapLowered(OP_NAME[this.props.mode], t, x)];
  }
}

/** Cumulative sum along `dim`. */
export function cumsum(x: XTensorVariable, dim: string): XTensorVariable {
  const xv = requireX("cumsum", "x", x);
  return new XCumReduce("add", dim).makeNode(accumulatorInput(xv)).out as XTensorVariable;
}

/** Cumulative product along `dim`. */
export function cumprod(x: XTensorVariable, dim: string): XTensorVariable {
  const xv = requireX("cumprod", "x", x);
  return new XCumReduce("mul", dim).makeNode(accumulatorInput(xv)).out as XTensorVariable;
}
