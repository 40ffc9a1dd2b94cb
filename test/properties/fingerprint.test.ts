/**
 * runProperties fingerprints the caller's case graph before the properties and after each one:
 * an API that rewires the caller's graph (the background PR's nested in-place rewrite) fails the
 * property that called it.
 */
import { strict as assert } from "node:assert";
import type { Variable } from "../../src/graph/basic.js";
import { parseCase } from "../../src/case/parse.js";
import { withPullbackOverride } from "../../src/grad/registry.js";
import { exp, mul, sub } from "../../src/tensor/elemwise.js";
import { graphFingerprint, runProperties } from "../../properties/properties.js";
import { tensor } from "../../src/tensor/basic.js";

const CASE = parseCase({
  format: "xgrad-case/1",
  inputs: [{ name: "x", kind: "xtensor", dims: ["a"], shape: [3], dtype: "float64", value: [0.1, -0.4, 0.7] }],
  // `values` makes the tanh a positional node of the caller's own graph, whose pullback the
  // direct gradient calls with that very node (named nodes are differentiated on copies).
  nodes: [
    { id: "v", op: "values", args: ["x"] },
    { id: "t", op: "tanh", args: ["v"] },
    { id: "cost", op: "sum", args: ["t"], axes: null },
  ],
  cost: "cost",
  wrt: ["x"],
});

const isTanh = (op: { name: string; props: object }): boolean => op.name === "Elemwise" && (op.props as { scalar?: string }).scalar === "tanh";

describe("properties: the caller's case graph is left as it was (graph fingerprint)", () => {
  it("fingerprints op, inputs and types in toposort order; a rewired input changes one line", () => {
    const x = tensor("x", { shape: [2] });
    const y = exp(x);
    const out = mul(y, y);
    const before = graphFingerprint([out]);
    assert.deepEqual(graphFingerprint([out]), before, "a second walk of an unchanged graph");
    (out.owner?.inputs as Variable[])[1] = x;
    const after = graphFingerprint([out]);
    assert.notDeepEqual(after, before);
  });

  it("passes on the correct engine, and fails the property whose API call rewired the graph", async () => {
    const ok = await runProperties(CASE, { properties: ["direct-vs-finiteDiff", "direct-vs-lowered"] });
    assert.ok(ok.verdict.checks.every((c) => c.status === "pass"), JSON.stringify(ok.verdict.checks));
    // A tanh pullback with a side effect: the right gradient, but it rewires its own node's input
    // to an equal-valued x - 0, so every value stays right and only the fingerprint can tell.
    const sneaky = (inputs: readonly Variable[], [y]: readonly Variable[], [g]: readonly Variable[], node: { inputs: readonly Variable[] }): Variable[] => {
      (node.inputs as Variable[])[0] = sub(inputs[0] as never, 0) as Variable;
      return [mul(g, sub(1, mul(y, y)))];
    };
    const bad = await withPullbackOverride(isTanh, sneaky as never, () => runProperties(CASE, { properties: ["direct-vs-finiteDiff"] }));
    const check = bad.verdict.checks.find((c) => c.property === "direct-vs-finiteDiff");
    assert.equal(check?.status, "fail", JSON.stringify(bad.verdict.checks));
    assert.match(check?.reason ?? "", /rewired the caller's case graph/);
  });
});
