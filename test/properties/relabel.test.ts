/** Relabelling bypasses: which chains are bypassed, how dims are renamed, and that every candidate is a valid case computing the same cost. */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import type { Case, CaseInput, CaseOp } from "../../src/case/format.js";
import { parseTypedCase } from "../../src/case/parse.js";
import { buildCase, evaluateCaseEngine } from "../../src/case/build.js";
import { caseArbitrary } from "../../properties/generators.js";
import { relabelBypasses } from "../../properties/relabel.js";
import { fault1Repro } from "./fault1-repro.js";

const xin = (name: string, dims: string[], shape: number[], value: CaseInput["value"]): CaseInput => ({ name, kind: "xtensor", dims, shape, dtype: "float64", value });

function bypasses(c: Case) {
  const t = parseTypedCase(c);
  return [...relabelBypasses(t.case, t.types)];
}

function costOf(c: Case): number {
  const t = parseTypedCase(c);
  return evaluateCaseEngine(buildCase(t.case, t.types))[t.case.cost].data[0];
}

describe("properties/relabel", () => {
  it("fault #1's repro: bypasses values → as_xtensor and re-types the weight, most nodes removed first", () => {
    const bs = bypasses(fault1Repro());
    assert.deepEqual(bs.map((b) => [b.node, b.source, b.removed]), [
      ["n3", "n0", ["n3", "n2", "n1"]], // through the rename too
      ["n3", "n1", ["n3", "n2"]],
      ["n1", "n0", ["n1"]],
    ]);
    const b = bs[1];
    // n3's dims (a, b, g) are n1's (a, d, c) by position; w2 is read only downstream, so it follows.
    assert.deepEqual([...b.renaming], [["b", "d"], ["g", "c"]]);
    assert.deepEqual(b.retypedInputs, ["w2"]);
    assert.deepEqual(b.case.nodes, [
      { id: "n1", op: "rename", args: ["n0"], map: { a: "d", d: "c", c: "a" } },
      { id: "n9", op: "mul", args: ["n1", "w2"] },
      { id: "cost", op: "sum", args: ["n9"], dims: null },
    ]);
    assert.deepEqual(b.case.inputs[0], xin("w2", ["c"], [3], [0, 0, 1]));
    for (const x of bs) assert.equal(costOf(x.case), costOf(fault1Repro()));
  });

  it("a downstream dim that clashes with the source's dims gets a fresh name", () => {
    const c: Case = {
      format: "xgrad-case/1",
      inputs: [xin("x", ["a", "b"], [2, 3], [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]), xin("w", ["a", "q"], [2, 3], [[1, 2, 3], [4, 5, 6]])],
      nodes: [
        { id: "v", op: "values", args: ["x"] },
        { id: "y", op: "as_xtensor", args: ["v"], dims: ["p", "q"] },
        // "a" here is unrelated to x's "a": after y's p becomes a, it must not collide.
        { id: "e", op: "expand_dims", args: ["y"], dim: "a", size: 2 },
        { id: "m", op: "mul", args: ["e", "w"] },
        { id: "cost", op: "sum", args: ["m"], dims: null },
      ],
      cost: "cost",
    };
    const [b] = bypasses(c);
    assert.equal(b.source, "x");
    assert.deepEqual([...b.renaming].sort(), [["a", "c"], ["p", "a"], ["q", "b"]]);
    const e = b.case.nodes.find((n) => n.id === "e");
    assert.ok(e !== undefined && e.op === "expand_dims" && e.dim === "c");
    assert.deepEqual(b.case.inputs[1], xin("w", ["c", "b"], [2, 3], [[1, 2, 3], [4, 5, 6]]));
    assert.ok(Math.abs(costOf(b.case) - costOf(c)) < 1e-12);
  });

  it("skips a bypass when a value read from outside the downstream part would need renaming", () => {
    const c: Case = {
      format: "xgrad-case/1",
      inputs: [xin("x", ["a", "b"], [2, 2], [[0.1, 0.2], [0.3, 0.4]])],
      nodes: [
        { id: "v", op: "values", args: ["x"] },
        { id: "y", op: "as_xtensor", args: ["v"], dims: ["b", "a"] }, // a swap of the labels
        { id: "s", op: "add", args: ["y", "x"] }, // x aligns by name with y: renaming would change that
        { id: "cost", op: "sum", args: ["s"], dims: null },
      ],
      cost: "cost",
    };
    assert.deepEqual(bypasses(c), []);
  });

  it("a positional round trip (values of as_xtensor) is bypassed with no renaming", () => {
    const c: Case = {
      format: "xgrad-case/1",
      inputs: [{ name: "t", kind: "tensor", shape: [2], dtype: "float64", value: [0.5, 1.5] }],
      nodes: [
        { id: "x", op: "as_xtensor", args: ["t"], dims: ["a"] },
        { id: "v", op: "values", args: ["x"] },
        { id: "e", op: "exp", args: ["v"] },
        { id: "cost", op: "sum", args: ["e"], axes: null },
      ],
      cost: "cost",
    };
    const [b] = bypasses(c);
    assert.deepEqual([b.node, b.source, b.removed, b.renaming.size], ["v", "t", ["v", "x"], 0]);
    assert.deepEqual(b.case.nodes.map((n) => n.op), ["exp", "sum"]);
  });

  it("on generated cases every candidate is a valid case with the same cost value", () => {
    // Two op mixes: the default one, and one rich in relabelling ops and dim parameters.
    const relabelRich: CaseOp[] = [
      "values", "as_xtensor", "rename", "transpose", "mul", "add", "exp", "sum", "dot", "isel",
      "expand_dims", "stack", "unstack", "concat", "squeeze", "cumsum", "inc",
    ];
    let candidates = 0;
    let renamed = 0;
    for (const ops of [undefined, relabelRich]) {
      for (const g of fc.sample(caseArbitrary(ops === undefined ? {} : { ops }), { seed: 7, numRuns: 200 })) {
        const before = costOf(g.case);
        for (const b of bypasses(g.case)) {
          candidates++;
          if (b.renaming.size > 0) renamed++;
          assert.doesNotThrow(() => parseTypedCase(b.case), `${b.node} → ${b.source} gives an invalid case`);
          assert.ok(b.case.nodes.length < g.case.nodes.length);
          const after = costOf(b.case);
          assert.ok(Object.is(before, after) || Math.abs(before - after) <= 1e-9 * Math.max(1, Math.abs(before)), `${b.node} → ${b.source}: cost ${before} became ${after}`);
        }
      }
    }
    // Not vacuous: the generator does make relabelling chains, many needing a renaming.
    assert.ok(candidates >= 100, `only ${candidates} candidates`);
    assert.ok(renamed >= 40, `only ${renamed} candidates with a renaming`);
  });
});
