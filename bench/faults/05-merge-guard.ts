import type { CaseNode } from "../../src/case/format.js";
import type { Fault } from "./types.js";

const nodes: CaseNode[] = [
  { id: "g", op: "isel", args: ["x", "i"], indexers: { a: { arg: 1 } } },
  { id: "cost", op: "isel", args: ["g"], indexers: { k: 0 } },
];

export default {
  id: 5,
  slug: "merge-guard",
  breaks: "MergeOptimizer's guard against merging two directly destroyed variables is off by default, so every such pair costs a merge that validation rejects and reverts.",
  origin: "PyTensor PR #2355 (the guard was dead code since the Python 3 port: flatten(dict_values); repeated failing merge + validate + revert cycles, quadratic on gradients of gathered sums)",
  edits: [
    {
      file: "src/rewriting/merge.ts",
      find: "    this.guardDestroyed = opts.guardDestroyed ?? true;",
      replace: "    this.guardDestroyed = opts.guardDestroyed ?? false; // FAULT 5: the PR #2355 guard is off",
    },
  ],
  trigger: {
    format: "xgrad-case/1",
    name: "fault 5: a gather of a gather (two equal zero buffers, each scattered into in place)",
    inputs: [
      { name: "x", kind: "xtensor", dims: ["a"], shape: [2], dtype: "float64", value: [0.1, 0.2] },
      { name: "i", kind: "xtensor", dims: ["k"], shape: [2], dtype: "int64", value: [1, 0] },
    ],
    nodes,
    cost: "cost",
  },
  minNodes: 2,
  minimal:
    "2 nodes: g = isel(x, a=i) with an index array as long as x, cost = isel(g, k=0). Each gather's pullback scatters into zeros of the same shape; merging makes those one Alloc, the inplace pass gives each scatter a fresh copy to write into, and merge3 then meets two equal Allocs, each destroyed. Any gradient with two scatters into zero buffers of one static shape does it (two gathers of one input, say).",
  expectedBy: ["rewrite-soundness"],
  note: "A cost fault: the rejected merge is reverted, so values never change. Checked mode judges each merge attempt (`CheckedFeature.beforeMerge`, from the clients' destroy maps, not the DestroyHandler index the guard reads) and reports an attempt on two directly destroyed variables as a broken promise `merge_guard`. Reachable since the pipeline models PyTensor's: zeros_like → Alloc (local_second_to_alloc), fresh zero buffers for update ops in the inplace pass (local_inplace_AdvancedIncSubtensor), and merge3 after it.",
} satisfies Fault;
