/**
 * The registered-rule claim of grad-composition (properties/registeredRule.ts): it passes on
 * generated cases of the real engine, leaves the module-wide registry as it found it, and fails
 * when the registry breaks a documented promise:
 *
 * - a remover that removes nothing (a registration outlives its scope);
 * - a remover that, called again, removes another registration;
 * - registered rules consulted before an op's own (a stray registration changes a built-in
 *   op's gradient);
 * - the oldest matching registration winning instead of the most recent.
 */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import { buildCase, caseEvaluator, caseGradients } from "../../src/case/build.js";
import { Op as OpBase, type Op } from "../../src/graph/op.js";
import { grad } from "../../src/grad/driver.js";
import { type OpSelector, type PullbackRule, registerPullbackRule } from "../../src/grad/registry.js";
import { GradError } from "../../src/errors.js";
import { tensor } from "../../src/tensor/basic.js";
import { sum } from "../../src/tensor/reduce.js";
import { caseArbitrary } from "../../properties/generators.js";
import { caseSeed } from "../../properties/properties.js";
import { engineRtol } from "../../properties/compare.js";
import { type ClaimOutcome, type CompositionEngine, ENGINE, runCompositionClaims } from "../../properties/gradComposition.js";
import { UnruledScale } from "../../properties/registeredRule.js";

const SAMPLE = fc.sample(caseArbitrary({}), { seed: 5153, numRuns: 12 }).map((g) => g.case);

function outcomes(engine: CompositionEngine = ENGINE): ClaimOutcome[] {
  return SAMPLE.map((c) => {
    const b = buildCase(c);
    const values = caseEvaluator(b)();
    const rtol = engineRtol([...b.types.values()].some((t) => t.dtype === "float32") ? "float32" : "float64");
    const [o] = runCompositionClaims({ built: b, values, seed: caseSeed(c), rtol, directGrads: () => caseGradients(b, "lazy"), claims: ["registered-rule"], engine });
    return o;
  });
}

const text = (o: ClaimOutcome): string => (o.status === "fail" || o.status === "skip" ? o.reason : o.status === "error" ? `${o.during}: ${o.error.message}` : o.detail);

/** UnruledScale has no rule once the claim is done: nothing it registered outlived it. */
function assertRegistryClean(): void {
  const x = tensor("x", { shape: [2] });
  assert.throws(() => grad(sum(new UnruledScale().makeNode(x).outputs[0]), [x]), GradError);
}

/** A registry double: every registration goes to the real registry and is recorded, so a test can undo what a faulty remover left. */
function recordingRegistry(): { entries: { selector: OpSelector; rule: PullbackRule; remove: () => void; live: boolean }[]; cleanup: () => void } {
  const entries: { selector: OpSelector; rule: PullbackRule; remove: () => void; live: boolean }[] = [];
  return { entries, cleanup: () => entries.forEach((e) => e.live && (e.remove(), (e.live = false))) };
}

/** The documented selector semantics, restated: a name, an op class (Op's prototype chain), else a predicate. */
const matches = (selector: OpSelector, op: Op): boolean => {
  if (typeof selector === "string") return op.name === selector;
  const proto = (selector as { prototype?: unknown }).prototype;
  if (selector === OpBase || (proto !== undefined && proto instanceof OpBase)) return op instanceof (selector as unknown as abstract new () => Op);
  return (selector as (op: Op) => boolean)(op) === true;
};

function assertFails(engine: CompositionEngine, says: RegExp): void {
  const os = outcomes(engine);
  const fails = os.filter((o) => o.status === "fail");
  assert.ok(fails.length >= os.length / 2, `failed on ${fails.length} of ${os.length}: ${os.map(text).join("\n")}`);
  for (const o of fails) assert.match(text(o), says);
}

describe("grad-composition: registered-rule", function () {
  this.timeout(120_000);

  it("passes on generated cases of the real engine, and leaves the registry as it was", () => {
    for (const o of outcomes()) assert.equal(o.status, "pass", text(o));
    assertRegistryClean();
  });

  it("fails when a remover removes nothing", () => {
    const reg = recordingRegistry();
    const register: typeof registerPullbackRule = (selector, rule) => {
      const e = { selector, rule, remove: registerPullbackRule(selector, rule), live: true };
      reg.entries.push(e);
      return () => undefined;
    };
    try {
      // Leftover rules pile up across cases, so any later check may be the one that fails.
      assertFails({ ...ENGINE, register }, /(should be 5 · grad\(cost\)|after every registration was removed|with no rule registered)/);
    } finally {
      reg.cleanup();
    }
    assertRegistryClean();
  });

  it("fails when a remover called again removes another registration", () => {
    const reg = recordingRegistry();
    const register: typeof registerPullbackRule = (selector, rule) => {
      const e = { selector, rule, remove: registerPullbackRule(selector, rule), live: true };
      reg.entries.push(e);
      return () => {
        const victim = e.live ? e : reg.entries.find((x) => x.live);
        if (victim !== undefined) {
          victim.remove();
          victim.live = false;
        }
      };
    };
    try {
      assertFails({ ...ENGINE, register }, /the earlier one .* should apply|should be 5 · grad\(cost\)/);
    } finally {
      reg.cleanup();
    }
    assertRegistryClean();
  });

  /** A gradWith that applies the recorded registrations through ruleFor, chosen by `pick`, before the op's own rule. */
  function resolving(pick: (live: { selector: OpSelector; rule: PullbackRule }[], op: Op) => PullbackRule | null): { engine: CompositionEngine; cleanup: () => void } {
    const reg = recordingRegistry();
    const register: typeof registerPullbackRule = (selector, rule) => {
      const e = { selector, rule, remove: registerPullbackRule(selector, rule), live: true };
      reg.entries.push(e);
      return () => {
        if (e.live) e.remove();
        e.live = false;
      };
    };
    const gradWith: CompositionEngine["gradWith"] = (cost, wrt, options) =>
      // perNode: the lazy strategy refuses a per-call rule inside its region (it expands after lowering).
      grad(cost, wrt, { ...options, gradStrategy: "perNode", ruleFor: (n) => options.ruleFor?.(n) ?? pick(reg.entries.filter((e) => e.live && matches(e.selector, n.op)), n.op) });
    return { engine: { ...ENGINE, register, gradWith }, cleanup: reg.cleanup };
  }

  it("fails when registered rules are consulted before an op's own", () => {
    const { engine, cleanup } = resolving((live, op) => (op.name === "Elemwise" ? live[live.length - 1]?.rule ?? null : null));
    try {
      assertFails(engine, /should be 3 · grad\(cost\)/);
    } finally {
      cleanup();
    }
    assertRegistryClean();
  });

  it("fails when the oldest matching registration wins", () => {
    const { engine, cleanup } = resolving((live, op) => (op instanceof UnruledScale ? live[0]?.rule ?? null : null));
    try {
      // Where grad(cost) is zero, 3 · and 5 · agree; the emulation (through ruleFor) is then
      // caught by the label its refusal gives a malformed registered rule.
      assertFails(engine, /should be 3 · grad\(cost\)|\(rule from the registry\) returned 2 terms for 1 inputs"; it raised GradError: grad: UnruledScale\.pullback \(rule from options\.ruleFor\)/);
    } finally {
      cleanup();
    }
    assertRegistryClean();
  });

  it("fails when the refusal of a malformed registered rule does not say it came from the registry", () => {
    // The registry's own order, applied through ruleFor: only the label differs.
    const { engine, cleanup } = resolving((live, op) => (op instanceof UnruledScale ? live[live.length - 1]?.rule ?? null : null));
    try {
      assertFails(engine, /must raise a GradError saying "grad: UnruledScale\.pullback \(rule from the registry\) returned 2 terms for 1 inputs"; it raised GradError: grad: UnruledScale\.pullback \(rule from options\.ruleFor\) returned 2 terms/);
    } finally {
      cleanup();
    }
    assertRegistryClean();
  });
});
