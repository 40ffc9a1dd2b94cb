import type { Fault } from "./types.js";

export default {
  id: 16,
  slug: "mul-zero-float",
  breaks: "Canonicalization folds x * 0 to zeros for float x too, which is wrong when x is inf or NaN (inf * 0 = NaN).",
  origin: "PyTensor's local_mul_zero folds x*0 for floats (a NaN-unsound canonicalization; xgrad diverges on purpose)",
  edits: [
    {
      file: "src/rewriting/canonicalize.ts",
      find: "    if (x === null || isFloat(out.type.dtype) || isFloat(x.type.dtype)) return null;",
      replace: "    if (x === null) return null; // FAULT 16: folds float x * 0 as well",
    },
  ],
  trigger: {
    format: "xgrad-case/1",
    name: "fault 16: log(0) * 0",
    inputs: [{ name: "x", kind: "tensor", shape: [], dtype: "float64", value: 0 }],
    nodes: [
      { id: "l", op: "log", args: ["x"] },
      { id: "cost", op: "mul", args: ["l", 0] },
    ],
    cost: "cost",
  },
  minNodes: 2,
  minimal: "2 nodes: cost = mul(log(x), 0) at x = 0 (-inf * 0 = NaN, folded to 0 in FAST_RUN). Needs an inf or NaN value at the folded multiplication.",
  expectedBy: ["rewrite-soundness"],
  note: "Generated values are kept inside each op's finite test domain (properties/domains.ts), so no generated case has an inf or NaN at a multiplication by zero; only special-value inputs (0 into log, large into exp) would reach it.",
} satisfies Fault;
