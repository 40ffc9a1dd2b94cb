/**
 * The argument-contract claim of grad-composition (properties/argumentContract.ts): it passes on
 * generated cases of the real engine, and fails when the driver
 *
 * - leaves gradients unnamed, or names them under `addNames: false`;
 * - renames a caller's knownGrads value;
 * - refuses a misused argument with a message that lost its index or its type;
 * - drops a per-call `ruleFor` under the lazy strategy instead of refusing it, or refuses a hook
 *   that gives no rule.
 */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import { buildCase, caseEvaluator, caseGradients } from "../../src/case/build.js";
import { Variable } from "../../src/graph/basic.js";
import { GradError, OpInputError } from "../../src/errors.js";
import type { Apply } from "../../src/graph/basic.js";
import { PullbackOp, graphSignature } from "../../src/grad/lazy.js";
import { REAL_REGION_API, regionContractProblem } from "../../properties/regionContract.js";
import * as X from "../../src/xtensor/index.js";
import type { BuiltCase } from "../../src/case/build.js";
import { mulberry32 } from "../../oracles/finiteDiff.js";
import { caseArbitrary } from "../../properties/generators.js";
import { caseSeed } from "../../properties/properties.js";
import { engineRtol } from "../../properties/compare.js";
import { type ClaimOutcome, type CompositionEngine, ENGINE, runCompositionClaims } from "../../properties/gradComposition.js";

const SAMPLE = fc.sample(caseArbitrary({}), { seed: 5155, numRuns: 12 }).map((g) => g.case);

function outcomes(engine: CompositionEngine = ENGINE): ClaimOutcome[] {
  return SAMPLE.map((c) => {
    const b = buildCase(c);
    const values = caseEvaluator(b)();
    const rtol = engineRtol([...b.types.values()].some((t) => t.dtype === "float32") ? "float32" : "float64");
    const [o] = runCompositionClaims({ built: b, values, seed: caseSeed(c), rtol, directGrads: () => caseGradients(b, "lazy"), claims: ["argument-contract"], engine });
    return o;
  });
}

const text = (o: ClaimOutcome): string => (o.status === "fail" || o.status === "skip" ? o.reason : o.status === "error" ? `${o.during}: ${o.error.message}` : o.detail);

function assertFails(engine: CompositionEngine, says: RegExp): void {
  const os = outcomes(engine);
  const fails = os.filter((o) => o.status === "fail");
  assert.ok(fails.length >= 6, `failed on ${fails.length} of ${os.length}: ${os.map(text).join("\n")}`);
  for (const o of fails) assert.match(text(o), says);
}

/** gradWith with every result passed through `f` (the real driver underneath). */
const mapGrads = (f: (g: unknown, options: Parameters<CompositionEngine["gradWith"]>[2]) => void): CompositionEngine => ({
  ...ENGINE,
  gradWith: (c, w, o) => {
    const gs = ENGINE.gradWith(c, w, o);
    for (const g of gs) f(g, o);
    return gs;
  },
});

describe("grad-composition: argument-contract", function () {
  this.timeout(120_000);

  it("passes on generated cases of the real engine", () => {
    for (const o of outcomes()) assert.equal(o.status, "pass", text(o));
  });

  it("fails when gradients are left unnamed, or named under addNames: false", () => {
    assertFails(mapGrads((g) => g instanceof Variable && (g.name = null)), /must name the (gradient of .* \(d.*\/d…\)|zeros of the disconnected .*)/);
    assertFails(
      mapGrads((g, o) => o.addNames === false && g instanceof Variable && g.name === null && (g.name = "(dcost/dx)")),
      /grad\(.*, wrt, \{addNames: false\}\) named the gradient of /,
    );
    // The driver's own zeros for a disconnected wrt named whatever addNames says, e.g. "(dnull/dx)".
    const zerosNamed: CompositionEngine = {
      ...ENGINE,
      gradWith: (c, w, o) => {
        const gs = ENGINE.gradWith(c, w, o);
        const k = w.findIndex((v) => v.name === "xgrad_free");
        const z = gs[k];
        if (o.addNames === false && z instanceof Variable) z.name = "(dnull/dxgrad_free)";
        return gs;
      },
    };
    assertFails(
      zerosNamed,
      /grad\(.*, wrt, \{addNames: false, disconnectedInputs: "ignore"\}\) named the zeros of the disconnected xgrad_free \(dnull\/dxgrad_free\)/,
    );
  });

  it("fails when disconnectedInputs \"warn\" without onWarning prints nothing (documented: console.warn)", () => {
    assertFails({ ...ENGINE, gradWith: (c, w, o) => ENGINE.gradWith(c, w, { ...o, onWarning: o.onWarning ?? (() => {}) }) }, /without onWarning must print "grad: the cost .* does not depend on xgrad_free .*" on console\.warn once \(the documented default\); it printed nothing$/);
  });

  it("fails when the caller's knownGrads value is renamed", () => {
    assertFails(mapGrads((g, o) => o.knownGrads !== undefined && g instanceof Variable && (g.name = "(dcost/dx)")), /grad renamed the caller's knownGrads value to /);
  });

  it("fails when a refusal loses the argument's index or type", () => {
    const reword = (from: RegExp, to: string): CompositionEngine => {
      const wrap = <A extends unknown[], R>(f: (...a: A) => R) => (...a: A): R => {
        try {
          return f(...a);
        } catch (e) {
          if (e instanceof GradError && from.test(e.message)) throw new GradError(e.message.replace(from, to));
          throw e;
        }
      };
      return { ...ENGINE, gradWith: wrap(ENGINE.gradWith), pullback: wrap(ENGINE.pullback) };
    };
    assertFails(reword(/ \(wrt\[\d+\], [^;]*\);/, ";"), /^argument-contract: a (pullback )?wrt the (cost|outputs) cannot read must raise a GradError saying /);
    assertFails(reword(/wrt\[\d+\] is not a Variable/, "wrt is not a Variable"), /^argument-contract: a (pullback )?wrt entry that is not a Variable must raise /);
    // An unnamed cost's refusal that prints the missing name.
    assertFails(reword(/^grad: the cost does not/, "grad: the cost null does not"), /^argument-contract: a wrt an unnamed cost cannot read must raise a GradError saying "grad: the cost does not depend on /);
  });

  it("fails when the lazy strategy drops a per-call ruleFor silently, or refuses one that gives no rule", () => {
    // The refusal gone: the hook is dropped before the driver sees it under the lazy strategy.
    const dropped: CompositionEngine = { ...ENGINE, gradWith: (c, w, o) => ENGINE.gradWith(c, w, (o.gradStrategy ?? "lazy") === "lazy" ? { ...o, ruleFor: undefined } : o) };
    assertFails(dropped, /^argument-contract: a per-call ruleFor for the region's node .* under the lazy strategy must raise a GradError saying "grad: options\.ruleFor gives a rule for .*; it was accepted$/);
    // Too eager: any hook refused, even one that answers null for every node.
    const eager: CompositionEngine = {
      ...ENGINE,
      gradWith: (c, w, o) => {
        if (o.ruleFor !== undefined && (o.gradStrategy ?? "lazy") === "lazy") throw new GradError("grad: options.ruleFor cannot be used with the lazy strategy");
        return ENGINE.gradWith(c, w, o);
      },
    };
    assertFails(eager, /must raise a GradError saying "grad: options\.ruleFor gives a rule for .*; it threw GradError: grad: options\.ruleFor cannot be used|grad\(.*, wrt, \{ruleFor: \(\) => null\}\) must be accepted/);
  });

  it("fails when the lazy region API's op equality forgets a part of the region, or its refusal loses the argument", () => {
    // A signature blind to the order of the region's outputs: two regions merge that must not.
    class OrderBlind extends PullbackOp {
      constructor(innerInputs: readonly Variable[], innerOutputs: readonly Variable[], nWrt: number) {
        super(innerInputs, innerOutputs, nWrt);
        const sorted = [...innerOutputs].sort((a, b) => a.toString().localeCompare(b.toString()));
        (this as { props: PullbackOp["props"] }).props = { graph: graphSignature(innerInputs, sorted), nWrt };
      }
    }
    assertFails({ ...ENGINE, regionApi: { ...REAL_REGION_API, PullbackOp: OrderBlind } }, /^argument-contract: two regions that differ only in the outputs \[cost, .*\], and in the other order gave equal PullbackOps/);
    // A refusal that calls every wrong input a region input, the cotangent included.
    class Vague extends PullbackOp {
      override makeNode(...inputs: Variable[]): Apply {
        try {
          return super.makeNode(...inputs);
        } catch (e) {
          if (e instanceof OpInputError) throw new OpInputError(e.message.replace(/cotangent \d+/, `region input ${this.innerInputs.length}`));
          throw e;
        }
      }
    }
    assertFails({ ...ENGINE, regionApi: { ...REAL_REGION_API, PullbackOp: Vague } }, /^argument-contract: a Pullback node with an integer cotangent must raise an OpInputError saying "Pullback: cotangent 0 must be of type .*"; it threw OpInputError: Pullback: region input \d+ must be/);
  });

  it("does not take two outputs of one structure for two regions (the cost and an equal node beside it)", () => {
    // s1 = sum(x) and cost = sum(x): [cost, s1] and [s1, cost] are one region listed twice, so
    // their ops are rightly equal; the claim's second output must be a node the cost reads.
    const x = X.xtensor("x", { dims: ["a"], shape: [3] });
    const s1 = X.sum(x);
    const cost = X.sum(x);
    cost.name = "cost";
    const b = { cost, wrt: [x], inputs: new Map([["x", x]]), nodes: new Map([["s1", s1], ["cost", cost]]) } as unknown as BuiltCase;
    assert.equal(regionContractProblem(b, [x], mulberry32(1)), null);
  });
});
