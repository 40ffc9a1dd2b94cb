import type { Fault } from "./types.js";

export default {
  id: 13,
  slug: "cotangent-by-position",
  breaks: "A named operand is aligned to the output's dims by position instead of by name when its shape happens to match positionally (square shapes): the operands of named elemwise ops and the update value (the cotangent-like y) of inc/set are then taken as is instead of transposed.",
  origin: "Named-dims bug class: positional alignment hidden by square shapes (PyTensor reference §11 quirk 9: useless_xtensor_from_tensor ignores dims and turns a relabel into a transpose; the PR #2269 matrix has square cases for this reason)",
  edits: [
    {
      file: "src/xtensor/common.ts",
      find: "  const identity = order.length === xt.ndim && order.every((o, i) => o === i);",
      replace: [
        "  // FAULT 13: a permutation that keeps the shape (square) is taken as the identity.",
        "  const identity = order.length === xt.ndim && order.every((o, i) => o === i || (o !== \"x\" && xt.shape[o] !== null && xt.shape[o] === xt.shape[i]));",
      ].join("\n"),
    },
  ],
  trigger: {
    format: "xgrad-case/1",
    name: "fault 13: add of a transposed operand on square shapes",
    inputs: [
      { name: "x", kind: "xtensor", dims: ["a", "b"], shape: [2, 2], dtype: "float64", value: [[0.1, 0.2], [0.3, 0.4]] },
      { name: "y", kind: "xtensor", dims: ["b", "a"], shape: [2, 2], dtype: "float64", value: [[0.5, 0.6], [0.7, 0.8]] },
    ],
    nodes: [
      { id: "s", op: "add", args: ["x", "y"] },
      { id: "cost", op: "isel", args: ["s"], indexers: { a: 0, b: 1 } },
    ],
    cost: "cost",
  },
  minNodes: 2,
  minimal: "2 nodes: s = add(x, y) with y's dims a permutation of x's on a square shape, cost = one off-diagonal element of s.",
  expectedBy: ["forward-vs-tfjs", "direct-vs-tfjs"],
  note: "The driver's own cotangent alignment (conform in src/grad/driver.ts) only ever sees a permuted cotangent when a caller supplies one (pullback/knownGrads); a case cannot express that, so the fault sits where generated cases align named values: the lowering of name broadcasting.",
} satisfies Fault;
