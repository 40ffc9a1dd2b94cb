/**
 * The cotangent algebra of named tensors, built from the named builders. Named cotangents are
 * summed with the named `add`, which aligns by name, and reordered with the named `transpose`,
 * which moves values with their names: a positional reinterpretation never happens here.
 * Importing this module registers it; the driver imports it.
 */
import type { Variable } from "../graph/basic.js";
import type { DType } from "../graph/type.js";
import { InvariantError } from "../errors.js";
import { add, cast, identity, mul, onesLike, zerosLike } from "../xtensor/elemwise.js";
import { sum } from "../xtensor/reduce.js";
import { transpose } from "../xtensor/shape.js";
import { asXTensor, values } from "../xtensor/basic.js";
import { specifyShape } from "../tensor/shape.js";
import { type XTensorVariable, isXTensorVariable } from "../xtensor/type.js";
import { type CotangentAlgebra, provablyZero, registerCotangentAlgebra } from "./algebra.js";

// The driver only hands this algebra variables whose type kind is "xtensor", and every such
// variable is built as an XTensorVariable (registered variable class); check rather than trust.
const x = (v: Variable): XTensorVariable => {
  if (!isXTensorVariable(v)) throw new InvariantError(`xtensor cotangent algebra: ${v.toString()} is not a named tensor (${v.type.toString()})`);
  return v;
};
const withDtype = (v: Variable, dtype: DType): Variable => (v.type.dtype === dtype ? v : cast(x(v), dtype));

/** The named tensor algebra (registered for kind "xtensor"). */
export const xtensorAlgebra: CotangentAlgebra = {
  zerosLike: (like, dtype) => zerosLike(x(like), dtype),
  onesLike: (like, dtype) => onesLike(x(like), dtype),
  add: (a, b) => add(x(a), x(b)),
  cast: withDtype,
  copy: (v) => identity(x(v)),
  vdot: (a, b) => sum(mul(x(a), x(b))),
  isZero: (v) => provablyZero(v),
  transpose: (v, dims) => transpose(x(v), dims),
  // Through the positional value: the refinement is of lengths only, the dims stay as they are.
  specifyShape: (v, shape) => asXTensor(specifyShape(values(x(v)), shape), x(v).type.dims),
};

registerCotangentAlgebra("xtensor", xtensorAlgebra);
