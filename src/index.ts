/**
 * xgrad's public API.
 *
 * - `pt`: positional tensor builders and ops (numpy semantics).
 * - `px`: the named-dim layer (xarray semantics): `px.xtensor`, `px.dot`, `px.concat`, ...
 *   Named variables also carry the operations as methods (`x.sum(["a"])`, `x.rename({a: "b"})`).
 * - Flat names for everything that does not collide: graph core, compile, the differentiator,
 *   the case format.
 */

export * as pt from "./tensor/index.js";
export * as px from "./xtensor/index.js";

export { XgradError, OpInputError, DataError, GraphError, GradError, InvariantError, InconsistencyError } from "./errors.js";
export { NDArray, type Nested } from "./ndarray/ndarray.js";
export { type DType, type Shape, type Type, TensorType, tensorType } from "./graph/type.js";
export { Variable, Constant, Apply } from "./graph/basic.js";
export { Op, DISCONNECTED, UndefinedGrad, type GradTerm, type PropValue } from "./graph/op.js";
export { toposort, ancestors, clone, graphReplace } from "./graph/traversal.js";
export { FunctionGraph } from "./graph/fgraph.js";
export { type Feature, History, ReplaceValidate } from "./graph/features.js";

export { tensor, scalar, constant } from "./tensor/basic.js";
export { xtensor, xconstant, XTensorType, type XTensorVariable } from "./xtensor/type.js";
export { asXTensor, values } from "./xtensor/basic.js";
export { lower } from "./xtensor/lower.js";

export { compile, evaluate, type CompileOptions, type CompiledFunction } from "./compile/function.js";
export { type Mode, optdb, rewriteGraph } from "./rewriting/db.js";
export { type OnOptError, RewriteContext } from "./rewriting/engine.js";
export { DestroyHandler } from "./rewriting/destroyhandler.js";

export { grad, pullback, lowerThenGrad, type GradOptions, type GradStrategy } from "./grad/driver.js";
export { pushforward, hessianVectorProduct } from "./grad/pushforward.js";
export { jacobian } from "./grad/jacobian.js";
export { PullbackOp, expandPullbacks } from "./grad/lazy.js";

export { parseCase, parseTypedCase, readCase, CaseError } from "./case/parse.js";
export { writeCase } from "./case/write.js";
export type { Case, CaseTypes } from "./case/format.js";
