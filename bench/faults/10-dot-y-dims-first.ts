import type { Fault } from "./types.js";

export default {
  id: 10,
  slug: "dot-y-dims-first",
  breaks: "Dot's output dims put y's dims before x's.",
  origin: "xarray/PyTensor dot dims-order convention (x's dims, then y's new ones); PyTensor's Dot built its dims from a set (reference §4.7, §11 quirk 4)",
  edits: [
    {
      file: "src/xtensor/dot.ts",
      find: [
        "      { label: \"x\", type: xt },",
        "      { label: \"y\", type: yt },",
      ].join("\n"),
      replace: [
        "      { label: \"y\", type: yt }, // FAULT 10: y's dims first",
        "      { label: \"x\", type: xt },",
      ].join("\n"),
    },
  ],
  trigger: {
    format: "xgrad-case/1",
    name: "fault 10: outer product",
    inputs: [
      { name: "x", kind: "xtensor", dims: ["a"], shape: [2], dtype: "float64", value: [0.1, 0.2] },
      { name: "y", kind: "xtensor", dims: ["b"], shape: [3], dtype: "float64", value: [0.3, 0.4, 0.5] },
    ],
    nodes: [
      { id: "d", op: "dot", args: ["x", "y"], dims: [] },
      { id: "cost", op: "sum", args: ["d"], dims: null },
    ],
    cost: "cost",
  },
  minNodes: 2,
  minimal: "2 nodes: d = dot(x, y) with an output keeping a dim of each (here the outer product), cost = sum(d); d's dims order is compared node by node.",
  expectedBy: ["forward-vs-tfjs"],
  note: "Values stay right by name, only the dims order changes: gradients (aligned by name) stay correct, so only a dims-order-aware forward comparison sees it.",
} satisfies Fault;
