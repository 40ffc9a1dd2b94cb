/**
 * The positional layer's public surface (PyTensor's `pytensor.tensor`). Re-exported by the
 * top-level barrel as the namespace `pt`, because several names (`add`, `sum`, ...) repeat in
 * the named layer.
 */
export * from "./basic.js";
export * from "./elemwise.js";
export * from "./reduce.js";
export * from "./cumulative.js";
export * from "./shape.js";
export * from "./contraction.js";
export * from "./indexing.js";
