import type { Fault } from "./types.js";

export default {
  id: 4,
  slug: "nested-rewrite-live-graph",
  breaks: "expand_pullback tidies each expansion with a nested in-place rewrite (lower_xtensor on a FunctionGraph built with clone: false) whose graph reaches into the live compile graph, so it rewires the live graph's nodes without telling the compile graph's features (clients, DestroyHandler, checked mode).",
  origin: "PyTensor PR #2269, LazyGrad design (25b774499): expand_lazy_grad ran rewrite_graph(..., clone=False) on nodes shared with the compile FunctionGraph; the DestroyHandler's bookkeeping went stale (reference §9.4)",
  edits: [
    {
      file: "src/grad/lazy.ts",
      find: "export const expandPullback = nodeRewriter(\"expand_pullback\", [PullbackOp], (_fg, node) => expandWithInstalled(node));",
      replace: [
        "export const expandPullback = nodeRewriter(\"expand_pullback\", [PullbackOp], (fg, node) => {",
        "  const expansion = expandWithInstalled(node);",
        "  // FAULT 4: tidy up with a nested lowering, in place (clone: false), starting from the live",
        "  // compile graph's outputs: it rewires the live graph's nodes behind its features' back.",
        "  rewriteGraph([...fg.outputs], { include: [\"lower_xtensor\"], onOptError: \"raise\", clone: false });",
        "  return expansion;",
        "});",
      ].join("\n"),
    },
  ],
  trigger: {
    format: "xgrad-case/1",
    name: "fault 4: any named gradient compiled with its forward",
    inputs: [{ name: "x", kind: "xtensor", dims: ["a"], shape: [2], dtype: "float64", value: [0.1, 0.2] }],
    nodes: [{ id: "cost", op: "sum", args: ["x"], dims: null }],
    cost: "cost",
  },
  minNodes: 1,
  minimal: "1 node: cost = sum(x) on a named x, compiled together with its forward (rewrite-soundness compiles every node's value and the gradient in one checked FAST_RUN graph): the nested lowering rewires the live Sum node's consumers and the compile graph's client lists go stale.",
  expectedBy: ["rewrite-soundness"],
  note: "xgrad's regions only ever read graph inputs and seeds (the inner graph is copied onto fresh inputs), so a nested rewrite can only reach live nodes by starting from the live graph itself, as here; the PR's LazyGrad expansion reached them through a live forward variable (n_real). Values stay right: only the bookkeeping breaks, which checked mode reports.",
} satisfies Fault;
