/** A shared fixture: the fault zoo's repro of fault #1 (`rename-mapping`) as the reducer left it before the `relabel` pass. */
import type { Case, CaseInput } from "../../src/case/format.js";

const xin = (name: string, dims: string[], shape: number[], value: CaseInput["value"]): CaseInput => ({ name, kind: "xtensor", dims, shape, dtype: "float64", value });

/**
 * 5 nodes; the known minimum is 2. The values → as_xtensor pair only relabels n1's dims
 * (a, d, c) as (a, b, g), and the weight w2 varies along g, so the cotangent reaching the rename
 * is not symmetric under its permutation, which is what exposes the fault.
 */
export function fault1Repro(): Case {
  const zeros = [0, 1, 2].map(() => [0, 1, 2].map(() => [0, 0, 0]));
  return {
    format: "xgrad-case/1",
    inputs: [xin("w2", ["g"], [3], [0, 0, 1]), xin("n0", ["c", "a", "d"], [3, 3, 3], zeros)],
    nodes: [
      { id: "n1", op: "rename", args: ["n0"], map: { a: "d", d: "c", c: "a" } },
      { id: "n2", op: "values", args: ["n1"] },
      { id: "n3", op: "as_xtensor", args: ["n2"], dims: ["a", "b", "g"] },
      { id: "n9", op: "mul", args: ["n3", "w2"] },
      { id: "cost", op: "sum", args: ["n9"], dims: null },
    ],
    cost: "cost",
    wrt: ["n0"],
  };
}
