import type { Fault } from "./types.js";

export default {
  id: 11,
  slug: "concat-offset",
  breaks: "Join's (concat's) pullback slices input k's cotangent at the offset of input k-1 (its running offset lags one input behind).",
  origin: "Classic adjoint bug in block-structured ops (off-by-one-input offsets); PyTensor Join.L_op slices the cotangent at cumulative offsets",
  edits: [
    {
      file: "src/tensor/shape.ts",
      find: "        gk = subtensor(g, [...lead, { start: off, stop: off + n, step: 1 }]);",
      replace: [
        "        // FAULT 11: the offset lags one input behind.",
        "        const lag = k === 0 ? 0 : off - (lens[k - 1] ?? 0);",
        "        gk = subtensor(g, [...lead, { start: lag, stop: lag + n, step: 1 }]);",
      ].join("\n"),
    },
  ],
  trigger: {
    format: "xgrad-case/1",
    name: "fault 11: max of a concat",
    inputs: [
      { name: "x", kind: "xtensor", dims: ["a"], shape: [2], dtype: "float64", value: [0.1, 0.2] },
      { name: "y", kind: "xtensor", dims: ["a"], shape: [2], dtype: "float64", value: [0.3, 0.9] },
    ],
    nodes: [
      { id: "c", op: "concat", args: ["x", "y"], dim: "a" },
      { id: "cost", op: "max", args: ["c"], dims: null },
    ],
    cost: "cost",
  },
  minNodes: 2,
  minimal: "2 nodes: c = concat(x, y) along a dim, then any reduction to 0-d that weighs positions unevenly (max, isel, a weighted sum); a plain sum hides it (uniform cotangent).",
  expectedBy: ["direct-vs-finiteDiff", "direct-vs-tfjs", "second-order"],
} satisfies Fault;
