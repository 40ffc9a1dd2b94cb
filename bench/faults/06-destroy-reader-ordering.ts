import type { CaseNode } from "../../src/case/format.js";
import type { Fault } from "./types.js";

const nodes: CaseNode[] = [
  { id: "n0", op: "var", args: ["x0"] },
  { id: "n1", op: "tanh", args: ["n0"] },
  { id: "n3", op: "exp", args: ["n1"] },
  { id: "n8", op: "sqrt", args: ["n3"] },
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
    name: "fault 6: sqrt(exp(tanh(var(x)))), differentiated (the zoo's seed-1 repro)",
    inputs: [{ name: "x0", kind: "xtensor", dims: ["b"], shape: [2], dtype: "float64", value: [0, 1] }],
    nodes,
    cost: "n8",
    wrt: ["x0"],
  },
  minNodes: 4,
  minimal:
    "4 nodes: cost = sqrt(exp(tanh(var(x)))) over a vector, differentiated: the gradient of the chain broadcasts the 0-d cotangent back over x (a view) while an elementwise op of the chain's gradient is made to write in place into a buffer that view's reader still needs (the fuzzer's seed-1 repro in the sixth session's zoo run). Without a gradient, 5 nodes: b = exp(x), v = isel(b, c=0), cost = add(sum(mul(b, w)), v), mul overwriting b before add reads v. The 4-node two-branch pattern of earlier records stopped exercising the fault when zeros_like became an Alloc.",
  expectedBy: ["rewrite-soundness"],
} satisfies Fault;
