/**
 * The discrete-path claim of grad-composition (properties/discretePath.ts): it passes on
 * generated cases of the real engine, and it fails when the driver's zero test behind "a float
 * reaching the cost only through an integer carries no gradient" is broken: skipped (a
 * straight-through term accepted), blind (a provable zero refused) or shallow (a zero recognised
 * only when it is a bare constant).
 */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import { Constant, type Variable } from "../../src/graph/basic.js";
import { buildCase, caseEvaluator, caseGradients } from "../../src/case/build.js";
import { type CotangentAlgebra, registerCotangentAlgebra } from "../../src/grad/algebra.js";
import { tensorAlgebra } from "../../src/grad/tensor-algebra.js";
import { DISCONNECTED, type Op } from "../../src/graph/op.js";
import { isDiscrete } from "../../src/graph/type.js";
import { type PullbackRule, withPullbackOverride } from "../../src/grad/registry.js";
import { Reduce } from "../../src/tensor/reduce.js";
import { CumOp } from "../../src/tensor/cumulative.js";
import { AdvancedIncSubtensor, AdvancedSubtensor, IncSubtensor } from "../../src/tensor/indexing.js";
import { graphReplace, toposort } from "../../src/graph/traversal.js";
import { caseArbitrary } from "../../properties/generators.js";
import { caseSeed } from "../../properties/properties.js";
import { engineRtol } from "../../properties/compare.js";
import { type ClaimOutcome, runCompositionClaims } from "../../properties/gradComposition.js";

const SAMPLE = fc.sample(caseArbitrary({}), { seed: 5152, numRuns: 16 }).map((g) => g.case);

function outcomes(): ClaimOutcome[] {
  return SAMPLE.map((c) => {
    const b = buildCase(c);
    const values = caseEvaluator(b)();
    const rtol = engineRtol([...b.types.values()].some((t) => t.dtype === "float32") ? "float32" : "float64");
    const [o] = runCompositionClaims({ built: b, values, seed: caseSeed(c), rtol, directGrads: () => caseGradients(b, "lazy"), claims: ["discrete-path"] });
    return o;
  });
}

/** Run with the positional algebra's zero test replaced (restored afterwards). */
function withIsZero(isZero: CotangentAlgebra["isZero"], body: () => void): void {
  registerCotangentAlgebra("tensor", { ...tensorAlgebra, isZero });
  try {
    body();
  } finally {
    registerCotangentAlgebra("tensor", tensorAlgebra);
  }
}

function assertFails(says: RegExp): void {
  const os = outcomes();
  const fails = os.filter((o) => o.status === "fail");
  assert.ok(fails.length >= os.length / 2, `failed on ${fails.length} of ${os.length}: ${os.map((o) => o.status).join(", ")}`);
  for (const o of fails) assert.match(o.status === "fail" ? o.reason : "", says);
}

describe("grad-composition: discrete-path", function () {
  this.timeout(120_000);

  it("passes on generated cases of the real engine", () => {
    for (const o of outcomes()) assert.equal(o.status, "pass", o.status === "fail" || o.status === "skip" ? o.reason : o.status === "error" ? o.error.message : "");
  });

  it("fails when the zero test is skipped (a straight-through term accepted)", () => {
    withIsZero(() => true, () => assertFails(/not a provable zero, yet it was accepted/));
  });

  it("fails when the zero test proves nothing (a provable zero refused)", () => {
    withIsZero(() => false, () => assertFails(/a provable zero, but (grad|pushforward)\(cost', wrt.*\) raised GradError/));
  });

  it("fails when a built-in op's rule answers an integer input out of its contract (no term at all)", () => {
    // The sum, running sum or advanced inc that the claim puts between k and OpaqueWeigh: asked
    // about its integer input, each returns an empty term list instead of DISCONNECTED.
    const builtIn = (op: Op): boolean => op instanceof Reduce || op instanceof CumOp || op instanceof AdvancedIncSubtensor;
    const empty: PullbackRule = (ins, outs, gs, node) =>
      isDiscrete(ins[0].type.dtype) ? [] : (node.op.pullback as NonNullable<Op["pullback"]>).call(node.op, ins, outs, gs);
    withPullbackOverride(builtIn, empty, () => assertFails(/read by .* before OpaqueWeigh raised GradError: .*; the path should have ended at the built-in op/));
  });

  it("fails when the zero test passes a zero on through an update (inc(zeros, leaf) taken for zero)", () => {
    // The zero test as if an update kept its first input's zeros: each inc over a provable zero is
    // read as that zero. Only the nonzero disguise over inc(zeros, leaf) tells this apart.
    const seesThroughUpdates = (v: Variable): boolean => {
      const updates = toposort([v]).filter((n) => n.op instanceof IncSubtensor && tensorAlgebra.isZero(n.inputs[0]));
      const [stripped] = graphReplace([v], new Map(updates.map((n) => [n.outputs[0], n.inputs[0]] as const)));
      return tensorAlgebra.isZero(stripped);
    };
    const cases = fc.sample(caseArbitrary({}), { seed: 5153, numRuns: 60 }).map((g) => g.case);
    let caught = 0;
    withIsZero(seesThroughUpdates, () => {
      for (const c of cases) {
        const b = buildCase(c);
        const rtol = engineRtol([...b.types.values()].some((t) => t.dtype === "float32") ? "float32" : "float64");
        const [o] = runCompositionClaims({ built: b, values: caseEvaluator(b)(), seed: caseSeed(c), rtol, directGrads: () => caseGradients(b, "lazy"), claims: ["discrete-path"] });
        if (o.status !== "fail") continue;
        assert.match(o.reason, /inc\(zeros, .*\), not a provable zero, yet it was accepted/);
        caught++;
      }
    });
    assert.ok(caught >= 1, "no case drew the inc(zeros, leaf) disguise");
  });

  it("fails when an integer index's undefined gradient is dropped (AdvancedSubtensor answers DISCONNECTED for it)", () => {
    // The rule of a user's op that forgot its index has no gradient: k = OpaqueSplit(v) indexes a
    // vector, and v's gradient would silently lose that path.
    const dropped: PullbackRule = (ins, outs, gs, node) => {
      const terms = (node.op.pullback as NonNullable<Op["pullback"]>).call(node.op, ins, outs, gs);
      return terms.map((t, i) => (i === 0 ? t : DISCONNECTED));
    };
    withPullbackOverride((op) => op instanceof AdvancedSubtensor, dropped, () => assertFails(/integer output indexing a vector .* was accepted: .* reaches the integer index, whose gradient is undefined/));
  });

  it("fails when only a bare zero constant counts as zero", () => {
    const bare = (v: Variable): boolean => v instanceof Constant && v.value.toFlat().every((e) => e === 0);
    withIsZero(bare, () => assertFails(/a provable zero, but .* raised GradError/));
  });
});
