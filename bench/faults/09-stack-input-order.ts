import type { Fault } from "./types.js";

export default {
  id: 9,
  slug: "stack-input-order",
  breaks: "Stack's lowering flattens the stacked dims in the input's dim order instead of the order the user gave.",
  origin: "PyTensor's Stack divergence from xarray (it flattens in the input's dim order; untested there; reference §4.8 and §11 quirk 5)",
  edits: [
    {
      file: "src/xtensor/shape.ts",
      find: "    const perm = [...keep, ...this.props.dims].map((d) => xt.dims.indexOf(d));",
      replace: "    const perm = [...keep, ...xt.dims.filter((d) => this.props.dims.includes(d))].map((d) => xt.dims.indexOf(d)); // FAULT 9",
    },
  ],
  trigger: {
    format: "xgrad-case/1",
    name: "fault 9: stack in reversed order",
    inputs: [{ name: "x", kind: "xtensor", dims: ["a", "b"], shape: [2, 3], dtype: "float64", value: [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]] }],
    nodes: [
      { id: "s", op: "stack", args: ["x"], dim: "s", from: ["b", "a"] },
      { id: "cost", op: "sum", args: ["s"], dims: null },
    ],
    cost: "cost",
  },
  minNodes: 2,
  minimal: "2 nodes: s = stack(x, s, [b, a]) (the given order differs from x's), cost = sum(s); the forward value of s is compared node by node.",
  expectedBy: ["forward-vs-tfjs"],
  note: "A forward (lowering) bug: every engine gradient path differentiates the same wrong lowering and finite differences agree with it, so only the tfjs oracle, which translates the case itself, can see it.",
} satisfies Fault;
