import type { Fault } from "./types.js";

export default {
  id: 8,
  slug: "cumsum-not-reversed",
  breaks: "cumsum's pullback is a forward cumsum of the cotangent instead of a reversed one (dx_i = Σ_{j≥i} g_j).",
  origin: "Classic autodiff bug (the adjoint of a lower-triangular ones matrix is upper-triangular); PyTensor CumOp.pullback reverses, cumsums and reverses",
  edits: [
    {
      file: "src/tensor/cumulative.ts",
      find: "    if (this.props.mode === \"add\") return [revCumsum(g)];",
      replace: "    if (this.props.mode === \"add\") return [cumsum(g, axis)]; // FAULT 8: not reversed",
    },
  ],
  trigger: {
    format: "xgrad-case/1",
    name: "fault 8: sum of a cumsum",
    inputs: [{ name: "x", kind: "xtensor", dims: ["a"], shape: [3], dtype: "float64", value: [0.1, 0.2, 0.3] }],
    nodes: [
      { id: "c", op: "cumsum", args: ["x"], dim: "a" },
      { id: "cost", op: "sum", args: ["c"], dims: null },
    ],
    cost: "cost",
  },
  minNodes: 2,
  minimal: "2 nodes: cost = sum(cumsum(x, a)) over a dim of length ≥ 2 (gradient [n, n-1, ..., 1] vs [1, ..., n]).",
  expectedBy: ["direct-vs-finiteDiff", "direct-vs-tfjs", "second-order"],
} satisfies Fault;
