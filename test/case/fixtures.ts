/** Hand-written cases shared by the case-format and oracle tests. */
import type { Case } from "../../src/case/format.js";

/** The example from `case-format.md`, verbatim. */
export const SPEC_EXAMPLE = {
  format: "xgrad-case/1",
  name: "optional label",
  inputs: [
    { name: "x", kind: "xtensor", dims: ["a", "b"], shape: [3, 4], dtype: "float64",
      value: [[0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8], [0.9, 1.0, 1.1, 1.2]] },
    { name: "W", kind: "tensor", shape: [3, 2], dtype: "float64", value: [[1, 2], [3, 4], [5, 6]] },
    { name: "ik", kind: "xtensor", dims: ["k"], shape: [2], dtype: "int64", value: [2, 0] },
  ],
  nodes: [
    { id: "e", op: "exp", args: ["x"] },
    { id: "Wx", op: "as_xtensor", args: ["W"], dims: ["a", "c"] },
    { id: "d", op: "dot", args: ["e", "Wx"], dims: ["a"] },
    { id: "s", op: "mul", args: ["d", 1.5] },
    { id: "cost", op: "sum", args: ["s"], dims: null },
  ],
  cost: "cost",
  wrt: ["x", "W"],
} satisfies Case;

/** A deep copy, as plain mutable JSON, for tests that break a case on purpose. */
export function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** 0.1, 0.2, ... laid out in C order for `shape`, as a nested array. */
export function ramp(shape: readonly number[], start = 0.1, step = 0.1): unknown {
  let k = 0;
  const build = (d: number): unknown =>
    d === shape.length ? Math.round((start + step * k++) * 1e6) / 1e6 : Array.from({ length: shape[d] }, () => build(d + 1));
  return build(0);
}
