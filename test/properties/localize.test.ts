/** Localization: the first failing op kind of a check, by cutting the graph after each node. */
import { strict as assert } from "node:assert";
import type { Case } from "../../src/case/format.js";
import { parseTypedCase } from "../../src/case/parse.js";
import { withPullbackOverride } from "../../src/grad/registry.js";
import { mul, sub } from "../../src/tensor/elemwise.js";
import { cutCase, localize } from "../../properties/localize.js";
import { runProperties } from "../../properties/properties.js";
import type { Check, PropertyName } from "../../properties/types.js";

const isTanh = (op: { name: string; props: object }): boolean => op.name === "Elemwise" && (op.props as { scalar?: string }).scalar === "tanh";
/** Wrong on purpose: d tanh = 1 − y, not 1 − y². */
const wrongTanh = <T>(fn: () => T): T => withPullbackOverride(isTanh, (_i, [y], [g]) => [mul(g, sub(1, y))], fn);

/** x → e = exp(x) → t = tanh(e) → r = rename(t) → weighted sum; plus an int input and a bool node. */
function chain(): Case {
  return {
    format: "xgrad-case/1",
    inputs: [
      { name: "x", kind: "xtensor", dims: ["a", "b"], shape: [2, 3], dtype: "float64", value: [[0.1, -0.2, 0.3], [0.4, -0.5, 0.6]] },
      { name: "y", kind: "xtensor", dims: ["b"], shape: [3], dtype: "float64", value: [0.7, 0.8, 0.9] },
      { name: "w", kind: "xtensor", dims: ["c", "b"], shape: [2, 3], dtype: "float64", value: [[1.1, 0.9, 1.3], [0.7, 1.2, 0.8]] },
    ],
    nodes: [
      { id: "e", op: "exp", args: ["x"] },
      { id: "p", op: "gt", args: ["e", 1] },
      { id: "t", op: "tanh", args: ["e"] },
      { id: "r", op: "rename", args: ["t"], map: { a: "c" } },
      { id: "m", op: "mul", args: ["r", "w"] },
      { id: "ym", op: "mul", args: ["m", "y"] },
      { id: "cost", op: "sum", args: ["ym"], dims: null },
    ],
    cost: "cost",
  };
}

async function failingCheck(c: Case, property: PropertyName): Promise<Check> {
  const k = (await runProperties(c, { properties: [property] })).verdict.checks[0];
  assert.equal(k.status, "fail", `expected ${property} to fail: ${k.reason ?? k.status}`);
  return k;
}

describe("properties/localize", () => {
  describe("cutCase", () => {
    it("keeps the nodes up to k and weights node k with a fixed input outside wrt", () => {
      const c = chain();
      const { types } = parseTypedCase(c);
      const sub = cutCase(c, types, 2);
      assert.ok(sub !== null);
      assert.deepEqual(sub.nodes.slice(0, 3).map((n) => n.id), ["e", "p", "t"]);
      const w = sub.inputs.find((i) => i.name === "loc_w");
      assert.ok(w !== undefined && w.kind === "xtensor");
      assert.deepEqual([w.dims, w.shape, w.dtype], [["a", "b"], [2, 3], "float64"]);
      for (const v of (w.value as number[][]).flat()) assert.ok(v >= 0.5 && v < 1.5);
      // Only x feeds t; y and w are not used by the prefix, and the weight is not differentiated.
      assert.deepEqual(sub.wrt, ["x"]);
      assert.deepEqual(sub.inputs.map((i) => i.name), ["x", "loc_w"]);
      assert.equal(sub.cost, "loc_cost");
      // Deterministic: the same cut twice is the same case.
      assert.deepEqual(cutCase(c, types, 2), sub);
    });

    it("skips non-float nodes", () => {
      const c = chain();
      assert.equal(cutCase(c, parseTypedCase(c).types, 1), null);
    });

    it("avoids names the case already uses", () => {
      const c = chain();
      c.inputs.push({ name: "loc_w", kind: "xtensor", dims: [], shape: [], dtype: "float64", value: 1 });
      const sub = cutCase(c, parseTypedCase(c).types, 0);
      assert.ok(sub !== null && sub.inputs.some((i) => i.name === "loc_w_2"));
    });
  });

  describe("localize", () => {
    it("names the first node whose prefix fails: a wrong tanh rule is at t, not at the later nodes", async () => {
      await wrongTanh(async () => {
        const c = chain();
        const check = await failingCheck(c, "direct-vs-finiteDiff");
        assert.deepEqual(await localize(c, check), { failingOp: "tanh", nodeId: "t" });
      });
    });

    it("re-runs only the failing property, and stops at the first failing cut", async () => {
      await wrongTanh(async () => {
        const c = chain();
        const check = await failingCheck(c, "direct-vs-finiteDiff");
        const asked: string[] = [];
        const loc = await localize(c, check, {
          runCheck: async (sub, p) => {
            asked.push(`${p}:${sub.nodes[sub.nodes.length - 3].id}`);
            return (await runProperties(sub, { properties: [p] })).verdict.checks[0];
          },
        });
        assert.equal(loc?.nodeId, "t");
        // e (pass), p skipped (bool), t (fail): nothing after it.
        assert.deepEqual(asked, ["direct-vs-finiteDiff:e", "direct-vs-finiteDiff:t"]);
      });
    });

    it("is null when no prefix reproduces a mismatch", async () => {
      const c = chain();
      const fake: Check = { property: "direct-vs-lowered", status: "fail", reason: "made up" };
      assert.equal(await localize(c, fake), null);
    });

    it("takes an error's op from the check, else from the message, with the node id when named", async () => {
      const c = chain();
      assert.deepEqual(
        await localize(c, { property: "rewrite-soundness", status: "error", errorClass: "InvariantError", failingOp: "rewrite:local_mul", reason: "x" }),
        { failingOp: "rewrite:local_mul", nodeId: "" },
      );
      assert.deepEqual(
        await localize(c, { property: "direct-vs-lowered", status: "error", errorClass: "CaseBuildError", reason: 'building the graph: node "m" (mul): the engine rejected a node: XDot{a}: bad' }),
        { failingOp: "XDot", nodeId: "m" },
      );
      assert.equal(await localize(c, { property: "direct-vs-lowered", status: "error", errorClass: "Error", reason: "something broke" }), null);
    });

    it("does not localize passing or inconclusive checks", async () => {
      const c = chain();
      assert.equal(await localize(c, { property: "direct-vs-tfjs", status: "inconclusive", reason: "float32 noise" }), null);
      assert.equal(await localize(c, { property: "direct-vs-tfjs", status: "pass" }), null);
    });
  });
});
