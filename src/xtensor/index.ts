/**
 * The named-dim layer's public surface. Several names (`add`, `sum`, `transpose`, ...) repeat
 * the positional builders' names on purpose, so the top-level barrel re-exports this module as
 * a namespace rather than flattening it.
 */
export * from "./type.js";
export * from "./basic.js";
export { XOp, hasNamedOps, isXOp } from "./op.js";
export * from "./elemwise.js";
export * from "./reduce.js";
export * from "./cumulative.js";
export * from "./dot.js";
export * from "./shape.js";
export * from "./indexing.js";
export * from "./lower.js";
