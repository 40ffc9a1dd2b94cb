import type { CaseNode } from "../../src/case/format.js";
import type { Fault } from "./types.js";

const nodes: CaseNode[] = [
  { id: "b", op: "exp", args: ["x"] },
  { id: "v", op: "isel", args: ["b"], indexers: { c: 0 } },
  { id: "m", op: "mul", args: ["b", "w"] },
  { id: "s", op: "sum", args: ["m"], dims: null },
  { id: "cost", op: "add", args: ["s", "v"] },
];

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
    name: "fault 6: a view read after its base was overwritten in place",
    inputs: [
      { name: "x", kind: "xtensor", dims: ["c"], shape: [2], dtype: "float64", value: [0.5, 0.7] },
      { name: "w", kind: "xtensor", dims: ["c"], shape: [2], dtype: "float64", value: [0.3, 0.4] },
    ],
    nodes,
    cost: "cost",
    wrt: [],
  },
  minNodes: 5,
  minimal:
    "5 nodes, no gradient: b = exp(x), v = isel(b, c=0) (a view of b), m = mul(b, w), cost = add(sum(m), v); the fault lets mul overwrite b in place before add reads v (the 1-minimal case test/properties/proof.test.ts now finds). The 4-node gradient pattern of earlier records (an isel branch and a sum branch sharing the cost's cotangent) stopped exercising the fault when zeros_like became an Alloc (sixth session): the IncSubtensor in its gradient now writes into a zero buffer of its own.",
  expectedBy: ["rewrite-soundness"],
} satisfies Fault;
