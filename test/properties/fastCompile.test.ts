/**
 * rewrite-soundness's FAST_COMPILE stage: FAST_COMPILE is a mode users pick, with its own pass
 * list, so a bug only it meets must not hide behind the FAST_RUN comparison. The stage runs on
 * the half of the cases that skip the in-place-wherever-valid stage, and always when
 * rewrite-soundness runs alone.
 */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import type { FunctionGraph } from "../../src/graph/fgraph.js";
import { InvariantError } from "../../src/errors.js";
import { DestroyHandler } from "../../src/rewriting/destroyhandler.js";
import { MergeOptimizer } from "../../src/rewriting/merge.js";
import type { RewriteContext } from "../../src/rewriting/engine.js";
import type { Case } from "../../src/case/format.js";
import { caseArbitrary } from "../../properties/generators.js";
import { caseSeed, inplaceStageScheduled, runProperties } from "../../properties/properties.js";

/**
 * Run `fn` with a MergeOptimizer that assumes a DestroyHandler is attached, as a merge whose
 * destroyed-pair guard lost its `dh !== undefined` test would: FAST_RUN attaches one before its
 * first merge, FAST_COMPILE never does.
 */
async function withMergeAssumingDestroyHandler<T>(fn: () => Promise<T>): Promise<T> {
  type Patchable = { apply(fg: FunctionGraph, ctx: RewriteContext): void };
  const proto = MergeOptimizer.prototype as unknown as Patchable;
  const orig = proto.apply;
  proto.apply = function (this: Patchable, fg: FunctionGraph, ctx: RewriteContext): void {
    if (!fg.getFeatures().some((f) => f instanceof DestroyHandler)) throw new InvariantError("MergeOptimizer: no DestroyHandler attached to read destroyers from");
    orig.call(this, fg, ctx);
  };
  try {
    return await fn();
  } finally {
    proto.apply = orig;
  }
}

const CASE: Case = {
  format: "xgrad-case/1",
  inputs: [{ name: "x", kind: "xtensor", dims: ["a"], shape: [3], dtype: "float64", value: [0.3, -0.2, 0.5] }],
  nodes: [
    { id: "e", op: "exp", args: ["x"] },
    { id: "f", op: "exp", args: ["x"] },
    { id: "m", op: "mul", args: ["e", "f"] },
    { id: "cost", op: "sum", args: ["m"], dims: null },
  ],
  cost: "cost",
};

describe("properties: rewrite-soundness's FAST_COMPILE stage", function () {
  this.timeout(120_000);

  it("catches a merge that only breaks without a DestroyHandler, which FAST_RUN alone does not", async () => {
    const ok = (await runProperties(CASE, { properties: ["rewrite-soundness"] })).verdict.checks[0];
    assert.equal(ok.status, "pass", `the real engine: ${ok.reason ?? ""}`);
    const k = (await withMergeAssumingDestroyHandler(() => runProperties(CASE, { properties: ["rewrite-soundness"] }))).verdict.checks[0];
    assert.equal(k.status, "error", `expected an error, got ${k.status}: ${k.reason ?? ""}`);
    assert.match(k.reason ?? "", /^the checked FAST_COMPILE graph: /, k.reason);
  });

  it("runs on the cases that skip the in-place stage: half of a fixed sample, each passing", async () => {
    const cases = fc.sample(caseArbitrary({}), { seed: 0xfc01, numRuns: 24 });
    let fastCompile = 0;
    for (const g of cases) {
      if (!inplaceStageScheduled(caseSeed(g.case))) fastCompile++;
      const k = (await runProperties(g.case, { properties: ["rewrite-soundness", "direct-vs-lowered"] })).verdict.checks.find((c) => c.property === "rewrite-soundness");
      assert.ok(k !== undefined && k.status === "pass", `${k?.status}: ${k?.reason ?? ""}\n${JSON.stringify(g.case)}`);
    }
    assert.ok(fastCompile >= 6 && fastCompile <= 18, `${fastCompile} of 24 cases ran the FAST_COMPILE stage`);
  });
});
