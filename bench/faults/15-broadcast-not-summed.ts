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
    name: "fault 15: var (x - mean broadcasts the mean back over the reduced dim)",
    inputs: [{ name: "x", kind: "xtensor", dims: ["b"], shape: [2], dtype: "float64", value: [0.1, 0.5] }],
    nodes: [{ id: "cost", op: "var", args: ["x"] }],
    cost: "cost",
  },
  minNodes: 1,
  minimal: "1 node: cost = var(x) on a vector (the composition x - mean(x) broadcasts the 0-d mean back over x); any named broadcast in an elemwise op also exposes it (add(x, y) with x lacking one of y's dims, then sum: 2 nodes).",
  expectedBy: ["direct-vs-lowered", "direct-vs-finiteDiff"],
} satisfies Fault;
