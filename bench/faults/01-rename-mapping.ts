import type { Fault } from "./types.js";

export default {
  id: 1,
  slug: "rename-mapping",
  breaks: "Rename's pullback maps the cotangent back through the wrong mapping: when the new names are a permutation of the old ones (a swap), it moves the values by name (a transpose) instead of relabelling them by position.",
  origin: "PyTensor PR #2269: Rename.pullback called rename(g, dims=...), renaming a dim literally called \"dims\" (reference §5.5, §11 quirk 1)",
  edits: [
    {
      file: "src/xtensor/basic.ts",
      find: "      return [new Rename(xDims).makeNode(g).out];",
      replace: [
        "      // FAULT 1: relabel by name (transpose) when the new names permute the old ones.",
        "      const perm = xDims.map((d) => g.type.dims.indexOf(d));",
        "      if (perm.every((p) => p >= 0)) return [asXTensor(ptTranspose(values(g), perm), xDims)];",
        "      return [new Rename(xDims).makeNode(g).out];",
      ].join("\n"),
    },
  ],
  trigger: {
    format: "xgrad-case/1",
    name: "fault 1: rename swap on a square input",
    inputs: [{ name: "x", kind: "xtensor", dims: ["a", "b"], shape: [2, 2], dtype: "float64", value: [[0.1, 0.2], [0.3, 0.4]] }],
    nodes: [
      { id: "r", op: "rename", args: ["x"], map: { a: "b", b: "a" } },
      { id: "cost", op: "isel", args: ["r"], indexers: { b: 0, a: 1 } },
    ],
    cost: "cost",
  },
  minNodes: 2,
  minimal: "2 nodes: r = rename(x, {a: b, b: a}) on a square x, cost = one off-diagonal element of r (isel); 3 with a weighted sum instead of isel. Non-square shapes fail too (a type error), so any swap exposes it.",
  expectedBy: ["perNode-vs-lowered"],
  note: "Only the per-node strategy runs Rename's own pullback: the lazy region and lowerThenGrad lower first, and lowering turns a relabel into nothing.",
} satisfies Fault;
