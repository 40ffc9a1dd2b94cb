import type { Fault } from "./types.js";

export default {
  id: 6,
  slug: "destroy-reader-ordering",
  breaks: "The DestroyHandler forgets the readers of the views in a destroyed tree: it neither orders them before the destroyer nor lets them veto an in-place candidate, so an in-place op clobbers a buffer a view's reader still needs.",
  origin: "PyTensor DestroyHandler bug class: a missing reader ordering / stale bookkeeping (reference §9; pymc-devs/pytensor#2145, #1420)",
  edits: [
    {
      file: "src/rewriting/destroyhandler.ts",
      find: "  return activeFault === \"dropViewReaderOrdering\" && v !== root;",
      replace: "  return v !== root; // FAULT 6: the readers of every view in a destroyed tree are dropped",
    },
  ],
  trigger: {
    format: "xgrad-case/1",
    name: "fault 6: isel of one branch, sum of another, sharing the cost's cotangent",
    inputs: [
      { name: "x0", kind: "xtensor", dims: ["a"], shape: [1], dtype: "float64", value: [0] },
      { name: "w2", kind: "xtensor", dims: [], shape: [], dtype: "float64", value: 0 },
      { name: "n3", kind: "xtensor", dims: ["a"], shape: [1], dtype: "float64", value: [0] },
    ],
    nodes: [
      { id: "n2", op: "isel", args: ["x0"], indexers: { a: 0 } },
      { id: "n4", op: "sum", args: ["n3"], dims: null },
      { id: "n5", op: "mul", args: ["n2", "w2"] },
      { id: "cost", op: "add", args: ["n4", "n5"] },
    ],
    cost: "cost",
    wrt: ["x0", "n3"],
  },
  minNodes: 4,
  minimal: "4 nodes: two branches sharing the cost's cotangent, one summing a vector (a broadcast view of the cotangent), the other isel then mul (an in-place IncSubtensor in its gradient), joined by add (the 1-minimal case test/properties/proof.test.ts finds).",
  expectedBy: ["rewrite-soundness"],
} satisfies Fault;
