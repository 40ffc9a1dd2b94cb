import type { Fault } from "./types.js";

export default {
  id: 14,
  slug: "std-ddof",
  breaks: "std forwards its dims but drops ddof to var: std(x, ddof=1) divides by n instead of n - 1 (value and gradient).",
  origin: "numpy/xarray ddof convention bug class (std is a composition here, sqrt(sum((x - mean)²) / (n - ddof)); ddof enters only through the divisor of the composed var)",
  edits: [
    {
      file: "src/xtensor/reduce.ts",
      find: "  return sqrt(varianceOf(\"std\", x, opts));",
      replace: "  return sqrt(varianceOf(\"std\", x, { dims: opts.dims })); // FAULT 14: ddof dropped",
    },
  ],
  trigger: {
    format: "xgrad-case/1",
    name: "fault 14: std with ddof 1",
    inputs: [{ name: "x", kind: "xtensor", dims: ["a"], shape: [3], dtype: "float64", value: [0.1, 0.5, 1.2] }],
    nodes: [{ id: "cost", op: "std", args: ["x"], dims: null, ddof: 1 }],
    cost: "cost",
  },
  minNodes: 1,
  minimal: "1 node: cost = std(x, ddof=1) over a dim of length ≥ 2.",
  expectedBy: ["forward-vs-tfjs", "direct-vs-tfjs"],
  note: "std has no pullback of its own: the composition is differentiated, so the wrong divisor is a forward bug that every engine gradient path shares; only the tfjs oracle (its own std) sees it.",
} satisfies Fault;
