import type { Fault } from "./types.js";

export default {
  id: 15,
  slug: "broadcast-not-summed",
  breaks: "Elemwise pullbacks sum away the leading broadcast axes but forget the axes where the input is statically length 1 (keepdims axes), so a broadcast input's cotangent keeps the output's shape.",
  origin: "Classic broadcasting adjoint bug (unbroadcast / sum_to_shape missing an axis; PyTensor Elemwise.L_op sums over the broadcastable dims)",
  edits: [
    {
      file: "src/tensor/elemwise.ts",
      find: "  if (keep.length > 0) out = sum(out, keep, true);",
      replace: "  // FAULT 15: the statically broadcast (length-1) axes are not summed out.",
    },
  ],
  trigger: {
    format: "xgrad-case/1",
    name: "fault 15: named broadcast in add",
    inputs: [
      { name: "x", kind: "xtensor", dims: ["a"], shape: [2], dtype: "float64", value: [0.1, 0.2] },
      { name: "y", kind: "xtensor", dims: ["a", "b"], shape: [2, 3], dtype: "float64", value: [[0.3, 0.4, 0.5], [0.6, 0.7, 0.8]] },
    ],
    nodes: [
      { id: "s", op: "add", args: ["x", "y"] },
      { id: "cost", op: "sum", args: ["s"], dims: null },
    ],
    cost: "cost",
  },
  minNodes: 2,
  minimal: "2 nodes: s = add(x, y) where x lacks one of y's dims (named broadcast lowers to a length-1 axis), cost = sum(s).",
  expectedBy: ["direct-vs-lowered", "direct-vs-finiteDiff"],
} satisfies Fault;
