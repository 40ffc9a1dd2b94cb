import type { Fault } from "./types.js";

export default {
  id: 12,
  slug: "adv-inc-sets",
  breaks: "Advanced inc-subtensor with repeated indices keeps only the last increment (buffered x[idx] += y semantics), instead of accumulating every one (np.add.at).",
  origin: "numpy's x[idx] += y buffering vs np.add.at; PyTensor AdvancedIncSubtensor1 / inc_subtensor(ignore_duplicates) bug class. The gradient of a gather (isel with an index array) is this scatter-add",
  edits: [
    {
      file: "src/tensor/indexing.ts",
      find: "  else for (let k = 0; k < n; k++) td[dst[k]] += yd[so[k]];",
      replace: [
        "  else {",
        "    // FAULT 12: buffered increments: a repeated index keeps only its last write.",
        "    const old = Array.from(dst, (d) => td[d]);",
        "    for (let k = 0; k < n; k++) td[dst[k]] = old[k] + yd[so[k]];",
        "  }",
      ].join("\n"),
    },
  ],
  trigger: {
    format: "xgrad-case/1",
    name: "fault 12: gather with a repeated index",
    inputs: [
      { name: "x", kind: "xtensor", dims: ["a"], shape: [3], dtype: "float64", value: [0.1, 0.2, 0.3] },
      { name: "i", kind: "xtensor", dims: ["k"], shape: [2], dtype: "int64", value: [0, 0] },
    ],
    nodes: [
      { id: "g", op: "isel", args: ["x", "i"], indexers: { a: { arg: 1 } } },
      { id: "cost", op: "sum", args: ["g"], dims: null },
    ],
    cost: "cost",
  },
  minNodes: 2,
  minimal: "2 nodes: g = isel(x, a=[i, i]) with a repeated index, cost = sum(g) (d/dx_i = 2, the fault gives 1). A forward inc with repeated indices exposes it too.",
  expectedBy: ["direct-vs-finiteDiff", "direct-vs-tfjs", "second-order"],
} satisfies Fault;
