/**
 * The cotangent algebra of positional tensors, built from the public positional builders.
 * Importing this module registers it; the driver imports it, so positional graphs always work.
 */
import type { Variable } from "../graph/basic.js";
import type { DType } from "../graph/type.js";
import { add, cast, identity, mul, onesLike, zerosLike } from "../tensor/elemwise.js";
import { sum } from "../tensor/reduce.js";
import { specifyShape } from "../tensor/shape.js";
import { type CotangentAlgebra, provablyZero, registerCotangentAlgebra } from "./algebra.js";

const withDtype = (v: Variable, dtype: DType): Variable => (v.type.dtype === dtype ? v : cast(v, dtype));

/** The positional tensor algebra (registered for kind "tensor"). */
export const tensorAlgebra: CotangentAlgebra = {
  zerosLike: (like, dtype) => zerosLike(like, dtype),
  onesLike: (like, dtype) => onesLike(like, dtype),
  add: (a, b) => add(a, b),
  cast: (v, dtype) => withDtype(v, dtype),
  // identity, not the variable itself: the copy must be a distinct node that can run before the
  // destroyer (see the driver's destroyMap comment).
  copy: (v) => identity(v),
  vdot: (a, b) => sum(mul(a, b)),
  isZero: (v) => provablyZero(v),
  specifyShape: (v, shape) => specifyShape(v, shape),
};

registerCotangentAlgebra("tensor", tensorAlgebra);
