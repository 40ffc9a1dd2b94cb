/**
 * Node rewriters may declare a pre-filter (`NodeRewriter.matches`); the engine then skips the
 * transform, and checked mode's verification after it, when the filter declines. A filter must
 * be a necessary condition of a replacement: wherever it declines, the transform must return
 * null. Checked here on every node the rules meet while compiling generated cases (each
 * declined node's transform is called anyway and must give null), and on the engine directly.
 */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import type { Apply } from "../../src/graph/basic.js";
import { FunctionGraph } from "../../src/graph/fgraph.js";
import { tensor } from "../../src/tensor/basic.js";
import * as E from "../../src/tensor/elemwise.js";
import { Elemwise } from "../../src/tensor/elemwise.js";
import { type NodeRewriter, RewriteContext, applyNodeRewriter, nodeRewriter } from "../../src/rewriting/engine.js";
import { CheckedFeature } from "../../src/rewriting/checked.js";
import { CANONICALIZE_RULES } from "../../src/rewriting/canonicalize.js";
import { STABILIZE_RULES } from "../../src/rewriting/stabilize.js";
import { SPECIALIZE_RULES } from "../../src/rewriting/specialize.js";
import { LOWER_XTENSOR_REWRITERS } from "../../src/xtensor/lower.js";
import { caseArbitrary } from "../../properties/generators.js";
import { runProperties } from "../../properties/properties.js";

const RULES: readonly NodeRewriter[] = [...CANONICALIZE_RULES, ...STABILIZE_RULES, ...SPECIALIZE_RULES, ...LOWER_XTENSOR_REWRITERS];

describe("node rewriter pre-filters (NodeRewriter.matches)", function () {
  this.timeout(600_000);

  it("decline only nodes whose transform gives null, on every node met while compiling generated cases", async () => {
    const declined = new Map<string, number>();
    const violations: string[] = [];
    type Matches = (node: Apply, fg: FunctionGraph) => boolean;
    const saved = new Map<NodeRewriter, Matches>();
    for (const rw of RULES) {
      const m = rw.matches;
      if (m === undefined) continue;
      saved.set(rw, m);
      (rw as { matches?: Matches }).matches = (node, fg) => {
        const ok = m(node, fg);
        if (!ok) {
          declined.set(rw.name, (declined.get(rw.name) ?? 0) + 1);
          let r: unknown;
          try {
            r = rw.transform(fg, node);
          } catch {
            r = null; // a throwing transform replaces nothing either (the engine reports it as a failure)
          }
          if (r !== null) violations.push(`${rw.name} declined ${node.toString()} but its transform replaces it`);
        }
        return ok;
      };
    }
    try {
      const samples = fc.sample(caseArbitrary({}), { seed: 11, numRuns: 60 });
      for (const s of samples) await runProperties(s.case, { properties: ["rewrite-soundness", "direct-vs-lowered"] });
    } finally {
      for (const [rw, m] of saved) (rw as { matches?: Matches }).matches = m;
    }
    assert.deepEqual(violations, []);
    // The check saw the filters at work (each of these declines many nodes of a typical case).
    for (const name of ["constant_folding", "local_neutral_element", "local_log1p", "local_pow_2_to_square", "useless_tensor_from_xtensor"]) {
      assert.ok((declined.get(name) ?? 0) > 0, `${name} never declined a node`);
    }
  });

  it("skips the transform and the checked verification when the filter declines, and runs both when it accepts", () => {
    const x = tensor("x", { shape: [2] });
    const checker = new CheckedFeature();
    const fg = new FunctionGraph([x], [E.exp(x)], { features: [checker] });
    const ctx = new RewriteContext({ checked: true });
    let verified = 0;
    const verify = checker.afterTransform.bind(checker);
    checker.afterTransform = (...a) => {
      verified++;
      verify(...a);
    };
    const node = [...fg.applyNodes][0];
    for (const accept of [false, true]) {
      let calls = 0;
      let seen: FunctionGraph | null = null;
      const rw = nodeRewriter(
        "filtered",
        [Elemwise],
        () => {
          calls++;
          return [E.log(x)];
        },
        (_n, g) => {
          seen = g;
          return accept;
        },
      );
      assert.equal(applyNodeRewriter(fg, node, rw, ctx), accept);
      assert.equal(seen, fg);
      assert.equal(calls, accept ? 1 : 0);
      assert.equal(verified, accept ? 1 : 0);
      assert.equal(ctx.fired.get("filtered") ?? 0, accept ? 1 : 0);
    }
  });
});
