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
  expectedBy: ["kink-conventions"],
  note: "Only kink-conventions can see it: every other check keeps values away from ties (finite differences see a kink there, and tfjs is declared inconclusive: \"gradient conventions may differ\"), and every engine path shares the rule. kink-conventions copies the case's max node onto planted exact ties and judges it against the spec's rule. At a structural tie (max over a broadcast copy) the split rule is the *true* derivative, which is why the spec fixes a convention rather than leaving it to the oracles.",
} satisfies Fault;
