import type { Fault } from "./types.js";

export default {
  id: 7,
  slug: "max-tie-split",
  breaks: "The max reduction's pullback splits the cotangent evenly among tied positions instead of giving it to every tied position (PyTensor's and TensorFlow's convention).",
  origin: "Classic subgradient-convention bug at ties (PyTensor Max.pullback: (x == max)·g to every tied element; numpy-autograd and JAX split evenly)",
  edits: [
    {
      file: "src/tensor/reduce.ts",
      find: "import { type InputDomain, div, eq, mul, second } from \"./elemwise.js\";",
      replace: "import { type InputDomain, cast, div, eq, mul, second } from \"./elemwise.js\";",
    },
    {
      file: "src/tensor/reduce.ts",
      find: [
        "      case \"max\":",
        "      case \"min\":",
        "        return [mul(eq(x, dimshuffle(out, order)), gE)];",
      ].join("\n"),
      replace: [
        "      case \"max\":",
        "      case \"min\": {",
        "        // FAULT 7: split the cotangent evenly among the tied positions.",
        "        const tied = eq(x, dimshuffle(out, order));",
        "        const count = cast(dimshuffle(new Reduce(\"sum\", axes).makeNode(tied).out, order), x.type.dtype);",
        "        return [div(mul(tied, gE), count)];",
        "      }",
      ].join("\n"),
    },
  ],
  trigger: {
    format: "xgrad-case/1",
    name: "fault 7: max of two tied elements",
    inputs: [{ name: "x", kind: "xtensor", dims: ["a"], shape: [2], dtype: "float64", value: [0.5, 0.5] }],
    nodes: [{ id: "cost", op: "max", args: ["x"], dims: null }],
    cost: "cost",
  },
  minNodes: 1,
  minimal: "1 node: cost = max(x) with two tied elements (gradient [0.5, 0.5] instead of [1, 1]).",
  expectedBy: [],
  note: "Undetectable by design: every engine path shares the rule, and at a tie finite differences see a kink and tfjs is declared inconclusive (\"gradient conventions may differ\"); generated max inputs are kept 0.1 apart (REDUCE_DOMAINS.max.distinct). At a structural tie (max over a broadcast copy: expand_dims(x, b, size 2) then max over b) the true derivative is the split one, so there the *unpatched* engine disagrees with finite differences and the fault makes that check pass.",
} satisfies Fault;
