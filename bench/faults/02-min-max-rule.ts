import type { Fault } from "./types.js";

export default {
  id: 2,
  slug: "min-max-rule",
  breaks: "The min reduction's pullback uses max's rule: the cotangent goes to the positions equal to max(x) instead of min(x).",
  origin: "PyTensor PR #2253 (Min inherited CAReduce without a pullback; xtensor min gradients broke through the lowering), PR #2269 follow-up 1",
  edits: [
    {
      file: "src/tensor/reduce.ts",
      find: [
        "      case \"max\":",
        "      case \"min\":",
        "        return [mul(eq(x, dimshuffle(out, order)), gE)];",
      ].join("\n"),
      replace: [
        "      case \"max\":",
        "        return [mul(eq(x, dimshuffle(out, order)), gE)];",
        "      case \"min\":",
        "        // FAULT 2: min borrows max's rule (the cotangent goes to the argmax).",
        "        return [mul(eq(x, dimshuffle(new Reduce(\"max\", axes).makeNode(x).out, order)), gE)];",
      ].join("\n"),
    },
  ],
  trigger: {
    format: "xgrad-case/1",
    name: "fault 2: min of a vector",
    inputs: [{ name: "x", kind: "xtensor", dims: ["a"], shape: [3], dtype: "float64", value: [0.5, -1.2, 2.0] }],
    nodes: [{ id: "cost", op: "min", args: ["x"], dims: null }],
    cost: "cost",
  },
  minNodes: 1,
  minimal: "1 node: cost = min(x) over a vector of at least 2 distinct elements.",
  expectedBy: ["direct-vs-finiteDiff", "direct-vs-tfjs", "second-order", "perNode-vs-lowered"],
} satisfies Fault;
