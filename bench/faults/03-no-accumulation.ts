import type { Fault } from "./types.js";

export default {
  id: 3,
  slug: "no-accumulation",
  breaks: "The grad driver keeps only the first slot's term when one node reads a variable in several slots, so d(x*x)/dx = x instead of 2x.",
  origin: "Classic reverse-mode bug (per-slot cotangents not summed); PyTensor PR #2269 builds distinct per-slot stand-ins precisely so that y*y accumulates",
  edits: [
    {
      file: "src/grad/driver.ts",
      find: [
        "        for (const slot of slots) {",
        "          const t = terms[slot];",
      ].join("\n"),
      replace: [
        "        // FAULT 3: only the first slot of a node that reads v more than once counts.",
        "        for (const slot of slots.slice(0, 1)) {",
        "          const t = terms[slot];",
      ].join("\n"),
    },
  ],
  trigger: {
    format: "xgrad-case/1",
    name: "fault 3: x*x on a 0-d positional input",
    inputs: [{ name: "x", kind: "tensor", shape: [], dtype: "float64", value: 0.7 }],
    nodes: [{ id: "cost", op: "mul", args: ["x", "x"] }],
    cost: "cost",
  },
  minNodes: 1,
  minimal: "1 node: cost = mul(x, x) on a 0-d positional x. With named inputs only, 2: n = mul(x, x), cost = mul(n, n) (a named x·x lowers to two conversions of x, two variables; n·n lowers to a positional t·t).",
  expectedBy: ["direct-vs-finiteDiff", "direct-vs-tfjs", "second-order"],
} satisfies Fault;
