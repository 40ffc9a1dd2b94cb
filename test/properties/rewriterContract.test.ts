/**
 * The rewriter-contract property (properties/rewriterContract.ts): it holds on generated cases of
 * the real engine, every scenario finding a target, and it fails when the engine breaks a promise
 * the ways rewrite engines do:
 *
 * - a use budget off by one (a loop caught one rewrite late, or a wrong count reported);
 * - an equilibrium that drops its graph passes, or never re-runs them;
 * - walkers that never visit the nodes a rewrite imports, or visit in the other direction;
 * - a walker that visits a node again after a refused replacement (each visit a new failure);
 * - a context whose "warn" records a failure without warning anyone;
 * - identity results counted as changes (an equilibrium that then never settles);
 * - a rewrite bug (a malformed result) recorded as an ordinary failure under warn or ignore;
 * - a sequence that swallows a failing pass, or names a rule's failure twice.
 */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import { buildCase } from "../../src/case/build.js";
import type { Apply } from "../../src/graph/basic.js";
import { InvariantError } from "../../src/errors.js";
import type { FunctionGraph } from "../../src/graph/fgraph.js";
import { type GraphRewriter, type NodeRewriter, type RewriteResult, RewriteContext, equilibrium, inToOut, outToIn, sequence } from "../../src/rewriting/engine.js";
import { caseArbitrary } from "../../properties/generators.js";
import { caseSeed, runProperties } from "../../properties/properties.js";
import { sensitivityGraph } from "../../properties/checkedSensitivity.js";
import { type ContractEngine, REAL_ENGINE, SCENARIOS, contractScheduled, rewriterContractCheck, runScenarios, scheduledScenarios } from "../../properties/rewriterContract.js";
import type { Check } from "../../properties/types.js";

/** Run `fn` with process warnings dropped: the faulty contexts below emit none of their own. */
function muted(fn: () => void): void {
  const emit = process.emitWarning;
  process.emitWarning = (() => undefined) as typeof process.emitWarning;
  try {
    fn();
  } finally {
    process.emitWarning = emit;
  }
}

const SAMPLE = fc.sample(caseArbitrary({}), { seed: 5150, numRuns: 12 }).map((g) => g.case);

describe("rewriter-contract", function () {
  this.timeout(120_000);
  let graphs: { graph: FunctionGraph; seed: number }[];
  before(() => {
    graphs = SAMPLE.flatMap((c) => {
      try {
        return [{ graph: sensitivityGraph(buildCase(c)), seed: caseSeed(c) }];
      } catch {
        return [];
      }
    });
    assert.ok(graphs.length >= 10, `${graphs.length} of ${SAMPLE.length} cases compiled`);
  });

  const checks = (engine: ContractEngine): Check[] => graphs.map((g) => rewriterContractCheck(() => g.graph, g.seed, undefined, engine));

  /** The property fails with `engine` on at least a quarter of the sample, each time saying `says`. */
  function assertBroken(engine: ContractEngine, says: RegExp): void {
    const ks = checks(engine);
    const fails = ks.filter((k) => k.status === "fail");
    assert.ok(fails.length >= Math.ceil(ks.length / 4), `failed on ${fails.length} of ${ks.length} cases: ${ks.map((k) => `${k.status} ${k.reason ?? ""}`).join("\n")}`);
    for (const k of fails) assert.match(k.reason ?? "", says);
  }

  it("holds on generated cases of the real engine, every scenario applied to every graph", () => {
    for (const g of graphs) {
      const outcomes = runScenarios(g.graph, g.seed);
      for (const o of outcomes) assert.equal(o.status, "held", `${o.scenario}: ${o.detail}`);
    }
  });

  it("leaves the graph it is given untouched (each scenario works on a clone)", () => {
    const g = graphs[0];
    const before = new Set(g.graph.applyNodes);
    runScenarios(g.graph, g.seed);
    assert.equal(g.graph.applyNodes.size, before.size);
    for (const n of g.graph.applyNodes) assert.ok(before.has(n));
  });

  it("fails when the use budget is off by one", () => {
    assertBroken({ ...REAL_ENGINE, equilibrium: (n, r, o = {}) => equilibrium(n, r, { ...o, maxUseRatio: (o.maxUseRatio ?? 8) + 1 }) }, /in (loop-budget|graph-pass): .*fired \d+ times/);
  });

  it("fails when an equilibrium drops its graph passes, or runs them only once", () => {
    const isGraph = (r: NodeRewriter | GraphRewriter): r is GraphRewriter => typeof (r as GraphRewriter).apply === "function";
    assertBroken({ ...REAL_ENGINE, equilibrium: (n, r, o) => equilibrium(n, r.filter((x) => !isGraph(x)), o) }, /in graph-pass: /);
    const once: ContractEngine["equilibrium"] = (n, r, o) => {
      const inner = equilibrium(n, r.filter((x) => !isGraph(x)), o);
      return { ...inner, apply: (fg, ctx) => {
        for (const g of r.filter(isGraph)) g.apply(fg, ctx);
        inner.apply(fg, ctx);
      } };
    };
    assertBroken({ ...REAL_ENGINE, equilibrium: once }, /in graph-pass: .*(runs expected|nothing was thrown|recorded none)/);
  });

  it("fails when walkers never visit imported nodes, or visit in the other direction", () => {
    assertBroken({ ...REAL_ENGINE, inToOut: (r, o = {}) => inToOut(r, { ...o, ignoreNewtrees: true }), outToIn: (r, o = {}) => outToIn(r, { ...o, ignoreNewtrees: true }) }, /in walker-revisit: .*must visit the nodes a rewrite imports/);
    assertBroken({ ...REAL_ENGINE, inToOut: outToIn, outToIn: inToOut }, /in walker-revisit: .*(visited .* (before|after) .*which it reads from|firing)/);
  });

  it("fails when a walker visits its target again after a refused replacement", () => {
    const twice = (r: readonly NodeRewriter[], o?: Parameters<typeof outToIn>[1]): GraphRewriter => {
      const w = outToIn(r, o);
      return { ...w, apply: (fg, ctx) => {
        w.apply(fg, ctx);
        w.apply(fg, ctx);
      } };
    };
    assertBroken({ ...REAL_ENGINE, outToIn: twice }, /in (reject-revisit: .*(must not be queued again|must not make the equilibrium sweep again)|walker-revisit: |failing-pass: .*should be recorded; got .*; )/);
  });

  it("fails when \"warn\" records a failure without warning", () => {
    class QuietWarn extends RewriteContext {
      override fail(rewrite: string, node: Apply | null, error: unknown): void {
        muted(() => super.fail(rewrite, node, error));
      }
    }
    assertBroken({ ...REAL_ENGINE, context: (p) => new QuietWarn({ onOptError: p }) }, /in (reject-revisit: .*under "warn" 1 XGRAD_REWRITE_FAILED warning carrying the recorded message is emitted; got 0|failing-pass: .*under "warn" 1 warning\(s\) are emitted; got 0)/);
  });

  it("fails when a rewrite bug (a malformed result) is recorded as an ordinary failure under warn or ignore", () => {
    class Lenient extends RewriteContext {
      override fail(rewrite: string, node: Apply | null, error: unknown): void {
        const soft = error instanceof InvariantError && this.onOptError !== "raise" ? new Error(error.message) : error;
        muted(() => super.fail(rewrite, node, soft));
      }
    }
    assertBroken({ ...REAL_ENGINE, context: (p) => new Lenient({ onOptError: p }) }, /in (malformed-result: .*must raise an InvariantError under every onOptError; nothing was raised|reject-revisit: |failing-pass: .*warning\(s\) are emitted)/);
  });

  it("fails when a sequence swallows a failing pass, or names a rule's failure twice", () => {
    const swallowing: ContractEngine["sequence"] = (name, passes) => ({ name, apply: (fg, ctx) => {
      for (const p of passes) {
        try {
          p.apply(fg, ctx);
          ctx.passesRun.push(p.name);
        } catch {
          // dropped: neither thrown nor recorded
        }
      }
    } });
    assertBroken({ ...REAL_ENGINE, sequence: swallowing }, /in failing-pass: .*(nothing was|should be recorded; got none)/);
    const renaming: ContractEngine["sequence"] = (name, passes) => {
      const inner = sequence(name, passes);
      return { ...inner, apply: (fg, ctx) => {
        try {
          inner.apply(fg, ctx);
        } catch (e) {
          if (e instanceof Error) e.message = `rewrite ${passes[0].name}: ${e.message}`;
          throw e;
        }
      } };
    };
    assertBroken({ ...REAL_ENGINE, sequence: renaming }, /in failing-pass: .*(named once|should read)/);
  });

  it("fails when an identity result counts as a change", () => {
    // The engine's identity filter gone: the rule's own outputs come back as fresh equal nodes,
    // so every visit changes the graph and the equilibrium never settles.
    const counting = (r: NodeRewriter): NodeRewriter => ({ ...r, transform: (fg, n): RewriteResult => {
      const res = r.transform(fg, n);
      const ids = res instanceof Map ? [...res].every(([o, v]) => o === v) : res !== null && (res as readonly unknown[]).every((v, j) => v === n.outputs[j]);
      return res !== null && ids ? n.op.makeNode(...n.inputs).outputs : res;
    } });
    const isGraph = (r: NodeRewriter | GraphRewriter): r is GraphRewriter => typeof (r as GraphRewriter).apply === "function";
    assertBroken({ ...REAL_ENGINE, equilibrium: (n, r, o) => equilibrium(n, r.map((x) => (isGraph(x) ? x : counting(x))), o) }, /in (identity-result: .*identity result changes nothing|loop-budget|graph-pass)/);
  });

  it("runs in the suite on a seeded eighth of the cases, two scenarios each, with the verdict it gives alone", async () => {
    const cases = fc.sample(caseArbitrary({}), { seed: 5151, numRuns: 64 }).map((g) => g.case);
    const on = cases.filter((c) => contractScheduled(caseSeed(c)));
    assert.ok(on.length >= 3 && on.length <= 16, `${on.length} of 64 scheduled`);
    for (const c of on.slice(0, 3)) {
      const suite = (await runProperties(c, { properties: ["rewrite-soundness", "rewriter-contract"] })).verdict.checks.find((k) => k.property === "rewriter-contract");
      const alone = (await runProperties(c, { properties: ["rewriter-contract"] })).verdict.checks.find((k) => k.property === "rewriter-contract");
      assert.equal(suite?.status, "pass", suite?.reason);
      assert.equal(alone?.status, "pass", alone?.reason);
      const held = (k: typeof suite): string[] => (k?.reason ?? "").replace(/^held /, "").split(", ");
      assert.deepEqual(held(suite), scheduledScenarios(caseSeed(c)));
      assert.deepEqual(held(alone), [...SCENARIOS]);
    }
    const off = cases.find((c) => !contractScheduled(caseSeed(c)));
    assert.ok(off !== undefined);
    const r = await runProperties(off, { properties: ["rewrite-soundness", "rewriter-contract"] });
    assert.equal(r.verdict.checks.filter((k) => k.property === "rewriter-contract").length, 0);
  });

  it("is inconclusive, not failing, when the case's FAST_RUN compile fails", () => {
    const k = rewriterContractCheck(() => {
      throw new Error("no graph");
    }, 1);
    assert.equal(k.status, "inconclusive");
    assert.match(k.reason ?? "", /rewrite-soundness judges that/);
  });
});
