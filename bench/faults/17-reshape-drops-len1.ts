import type { Fault } from "./types.js";

export default {
  id: 17,
  slug: "reshape-drops-len1",
  breaks: "The useless_reshape canonicalization ignores the rank: a reshape that only drops trailing length-1 axes ((3, 1) → (3,)) is taken as useless and replaced by its input.",
  origin: "PyTensor reshape/shape rewrite bug class on edge shapes (length-1 dims; pymc-devs/pytensor#2204 stale output types after rewrites); issue 8's own example",
  edits: [
    {
      file: "src/rewriting/canonicalize.ts",
      find: "    if (lens.length !== xs.length) return null;",
      replace: "    if (lens.length > xs.length) return null; // FAULT 17: a reshape dropping length-1 axes passes",
    },
  ],
  trigger: {
    format: "xgrad-case/1",
    name: "fault 17: stack over a length-1 dim",
    inputs: [{ name: "x", kind: "xtensor", dims: ["a", "b"], shape: [3, 1], dtype: "float64", value: [[0.1], [0.2], [0.3]] }],
    nodes: [
      { id: "s", op: "stack", args: ["x"], dim: "s", from: ["a", "b"] },
      { id: "cost", op: "sum", args: ["s"], dims: null },
    ],
    cost: "cost",
  },
  minNodes: 2,
  minimal: "2 nodes: s = stack(x, s, [a, b]) with b of length 1 (lowers to reshape (3, 1) → (3,)), cost = sum(s).",
  expectedBy: ["rewrite-soundness"],
} satisfies Fault;
