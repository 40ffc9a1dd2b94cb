/**
 * The checked-sensitivity property (properties/checkedSensitivity.ts): it passes on generated
 * cases of the real engine, every corruption finding a target, and it fails when checked mode is
 * weakened the ways a quiet checker goes wrong:
 *
 * - the FunctionGraph's own integrity check skipped (a rewire is then reported as something
 *   else, or not at all);
 * - the DestroyHandler's consistency check trusting its state (a lost callback goes unseen);
 * - verification skipped whenever no callback was heard (what the record exists to prevent: a
 *   mutation no feature heard, a direct rewire among them);
 * - the types of touched nodes not re-inferred;
 * - the merge promise blind to equal nodes, or to equal constants; the fusion promise blind;
 * - a candidate filter trusted instead of judged against the in-place contract;
 * - an ordinary rewrite failure under onOptError "ignore" that escapes, or is dropped unrecorded;
 * - a pass database that ignores a compile's exclude list;
 * - a DestroyHandler whose own prune and import checks tolerate a caller out of step (with checked
 *   mode off, as in production, they are the only tripwire).
 */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import { buildCase } from "../../src/case/build.js";
import { FunctionGraph, Output } from "../../src/graph/fgraph.js";
import { CheckedFeature, GraphRecord, verifyModePasses, verifyPostconditions } from "../../src/rewriting/checked.js";
import { DestroyHandler } from "../../src/rewriting/destroyhandler.js";
import { RewriteContext } from "../../src/rewriting/engine.js";
import { type Apply, Constant } from "../../src/graph/basic.js";
import { InvariantError } from "../../src/errors.js";
import { caseArbitrary } from "../../properties/generators.js";
import { caseSeed, runProperties, sensitivityScheduled } from "../../properties/properties.js";
import {
  CORRUPTIONS, type CorruptionOutcome, caseSource, corruptAndJudge, eagerInplaceScenario, failingRuleScenario, checkedSensitivityCheck, excludeScenario, excludeScheduled, observerProblem, passListScenario, scheduledCorruptions, sensitivityGraph, silencedRuleScenario, staleGraphScenario, staleIndexScenario,
} from "../../properties/checkedSensitivity.js";
import { GRAPH_KINDS, STALE_KINDS, TRIPWIRE_KINDS } from "../../properties/staleIndex.js";
import { COPY_FREE_GROUPS, NORMAL_FORMS, type NormalForm, type NormalFormGroup } from "../../src/rewriting/normalform.js";
import { formsGraph, formsSource } from "../../properties/forms.js";
import { caseTypes } from "../../src/case/parse.js";
import { tensor } from "../../src/tensor/basic.js";
import { TensorType } from "../../src/graph/type.js";
import { Elemwise, exp } from "../../src/tensor/elemwise.js";
import { compile } from "../../src/compile/function.js";
import { alloc } from "../../src/tensor/shape.js";
import { subtensor } from "../../src/tensor/indexing.js";
import { type Query, SequenceDB, optdb } from "../../src/rewriting/db.js";
import type { Check } from "../../properties/types.js";

const SAMPLE = fc.sample(caseArbitrary({}), { seed: 5150, numRuns: 12 }).map((g) => g.case);

/** Run the property on the sample with `patch` applied to the engine (undone afterwards). */
function withPatch<T extends object, K extends keyof T, R>(proto: T, key: K, replacement: T[K], body: () => R): R {
  const had = Object.prototype.hasOwnProperty.call(proto, key);
  const orig = proto[key];
  proto[key] = replacement;
  try {
    return body();
  } finally {
    if (had) proto[key] = orig;
    else delete proto[key];
  }
}

/** On how many of SAMPLE's cases checked-sensitivity's observer reports a problem, each matching `says`. */
function observerReports(says: RegExp): number {
  let reported = 0;
  for (const c of SAMPLE) {
    const b = buildCase(c);
    const why = observerProblem(b, sensitivityGraph(b));
    if (why === null) continue;
    assert.match(why, says);
    reported++;
  }
  return reported;
}

const checks = (post?: typeof verifyPostconditions): Check[] => SAMPLE.map((c) => checkedSensitivityCheck(buildCase(c), caseSeed(c), undefined, post));

function assertCaught(ks: readonly Check[], says: RegExp): void {
  const fails = ks.filter((k) => k.status === "fail");
  assert.ok(fails.length >= 3, `failed on ${fails.length} of ${ks.length} cases: ${ks.map((k) => `${k.status} ${k.reason ?? ""}`).join("\n")}`);
  for (const k of fails) assert.match(k.reason ?? "", says);
}

/** The real postconditions, with a message matching `from` dropped (`to` empty: a blind check) or reworded. */
const reword = (from: RegExp, to: string): typeof verifyPostconditions => (fg, q, o) => {
  try {
    verifyPostconditions(fg, q, o);
  } catch (e) {
    if (e instanceof InvariantError && from.test(e.message)) {
      if (to === "") return;
      throw new InvariantError(e.message.replace(from, to));
    }
    throw e;
  }
};

describe("checked-sensitivity", function () {
  this.timeout(120_000);

  it("passes on generated cases of the real engine, every corruption caught somewhere", () => {
    const caught = new Map<string, number>();
    for (const k of checks()) {
      assert.equal(k.status, "pass", k.reason);
      for (const entry of (k.reason ?? "").replace(/^caught /, "").split(", ")) {
        const c = entry.replace(/ ×\d+$/, "");
        caught.set(c, (caught.get(c) ?? 0) + 1);
      }
    }
    // lost-fresh-copy needs an update op moved onto a fresh copy, rare in a case's own graph: its
    // own describe below runs it on the graphs with positional-forms' zero-update.
    for (const c of CORRUPTIONS) if (c !== "lost-fresh-copy") assert.ok((caught.get(c) ?? 0) >= 6, `${c} caught on ${caught.get(c) ?? 0} of ${SAMPLE.length} cases`);
    assert.equal(caught.get("stale-index"), SAMPLE.length, "one stale index entry per case");
    assert.equal(caught.get("stale-index-tripwire"), SAMPLE.length, "one stale index entry per case, checked mode off");
    assert.equal(caught.get("stale-graph"), SAMPLE.length, "one stale entry of the graph's own index per case");
  });

  it("fails when the checked graph is not the unchecked one, or its decision counters count checked mode's own queries", () => {
    for (const c of SAMPLE.slice(0, 4)) {
      const b = buildCase(c);
      assert.equal(observerProblem(b, sensitivityGraph(b)), null, "the real checked mode only observes");
      // What a checked mode that forgot to restore the handler's counters after its queries leaves.
      const counted = sensitivityGraph(b);
      const dh = counted.getFeature(DestroyHandler) as DestroyHandler;
      const [path, n] = [...dh.paths][0] ?? ["candidates", 0];
      dh.paths.set(path, n + 1);
      assert.match(observerProblem(b, counted) ?? "", /^the DestroyHandler's decision counters differ: checked FAST_RUN \{.*\}, unchecked \{.*\}$/);
      // What a trial replacement left in place leaves: one output read through exp.
      const left = sensitivityGraph(b);
      const out = left.outputs.find((o) => o.type instanceof TensorType && o.type.dtype === "float64" && o.owner !== null);
      if (out === undefined) continue;
      left.replace(out, exp(out), "a trial left in place");
      assert.match(observerProblem(b, left) ?? "", /^the checked FAST_RUN graph differs from the unchecked one at line \d+ of their signatures: checked .*, unchecked .*/);
    }
  });

  it("fails when the DestroyHandler's fast consistency path doubts a handler in step with its graph", () => {
    const proto = DestroyHandler.prototype as unknown as { consistentFast: (fg: FunctionGraph) => boolean };
    const real = proto.consistentFast;
    const says = /^checked mode's DestroyHandler consistency checks ran the full rebuild \d+ time\(s\) on an uncorrupted compile \(the fast path settled \d+\): consistentFast doubted a handler in step with its graph$/;
    // Every state in doubt; then only a node that reads one variable twice (a miscounted
    // multiplicity, the kind of slip a fast path's counting makes).
    const doubts: ((this: DestroyHandler, fg: FunctionGraph) => boolean)[] = [
      () => false,
      function (this: DestroyHandler, fg: FunctionGraph) {
        return [...fg.applyNodes].every((n) => new Set(n.inputs).size === n.inputs.length) && real.call(this, fg);
      },
    ];
    for (const doubt of doubts) {
      const reported = withPatch(proto, "consistentFast", doubt, () => observerReports(says));
      assert.ok(reported >= 3, `reported on ${reported} of ${SAMPLE.length} cases`);
    }
  });

  it("fails when checked mode's record of the graph misses unchanged states", () => {
    const says = /^checked mode ran its full checks \d+ time\(s\) on an uncorrupted compile whose graph changed before \d+ verification\(s\): each state must be verified once \(its record of the graph missed unchanged states\), and the first at least$/;
    // A record that never matches, and one never confirmed after a state passed.
    const broken: [keyof GraphRecord, () => unknown][] = [["update", () => false], ["confirm", () => {}]];
    for (const [key, body] of broken) {
      const reported = withPatch(GraphRecord.prototype, key, body as never, () => observerReports(says));
      assert.equal(reported, SAMPLE.length, `${key}: reported on ${reported} of ${SAMPLE.length} cases`);
    }
  });

  it("fails when checked mode skips the FunctionGraph's integrity check", () => {
    withPatch(FunctionGraph.prototype, "checkIntegrity", () => {}, () => assertCaught(checks(), /^checked mode missed the rewire corruption: input \d+ of .* assigned a constant directly/));
  });

  it("fails when checked mode's verification of a replacement names no node, or another point than after it", () => {
    const graphs = SAMPLE.map((c) => ({ fg: sensitivityGraph(buildCase(c)), seed: caseSeed(c) }));
    const judge = (): CorruptionOutcome[] => graphs.map(({ fg, seed }) => corruptAndJudge(fg, seed, ["retype-replacement"])[0]);
    const real = judge();
    for (const o of real) assert.notEqual(o.status, "missed", o.detail);
    assert.ok(real.filter((o) => o.status === "caught").length >= 6, "retype-replacement has targets");
    type Private = { lastReason: string; current: { node: Apply } | null };
    const onValidate = CheckedFeature.prototype.onValidate;
    const broken: [string, (this: CheckedFeature, fg: FunctionGraph) => void, RegExp][] = [
      // The node the rewrite ran on forgotten (beforeReplace not heard).
      ["no node", function (this: CheckedFeature, fg: FunctionGraph) {
        (this as unknown as Private).current = null;
        onValidate.call(this, fg);
      }, /checked mode did not name the rewrite xgrad_corrupt_retype_replacement and the types of the replacement's node/],
      // The right node, the wrong point.
      ["wrong point", function (this: CheckedFeature, fg: FunctionGraph) {
        const self = this as unknown as Private;
        const node = self.current?.node ?? null;
        self.current = null;
        this.verify(fg, self.lastReason, node, "during transform (before any replacement)");
      }, /checked mode did not name the rewrite xgrad_corrupt_retype_replacement and the types of the replacement's node, and how they changed, after the replacement; it said InvariantError: .* during transform \(before any replacement\): /],
    ];
    for (const [what, patch, says] of broken) {
      withPatch(CheckedFeature.prototype, "onValidate", patch, () => {
        const missed = judge().filter((o) => o.status === "missed");
        assert.ok(missed.length >= 6, `${what}: missed on ${missed.length} of ${SAMPLE.length}`);
        for (const o of missed) assert.match(o.detail, says);
      });
    }
  });

  it("fails when the DestroyHandler's consistency check trusts its own state", () => {
    withPatch(DestroyHandler.prototype, "checkConsistency", () => {}, () => assertCaught(checks(), /^checked mode missed the (unheard-by-destroyhandler|unheard-by-all|rewire|stale-index) corruption/));
  });

  describe("stale-index", () => {
    // The sample's checked FAST_RUN graphs, compiled once (each outcome runs on a clone).
    let graphs: { fg: FunctionGraph; seed: number }[] | null = null;
    const stale = (production = false): CorruptionOutcome[] => {
      graphs ??= SAMPLE.map((c) => ({ fg: sensitivityGraph(buildCase(c)), seed: caseSeed(c) }));
      return graphs.flatMap(({ fg, seed }) => staleIndexScenario(fg, seed, production ? TRIPWIRE_KINDS : STALE_KINDS, production));
    };
    const assertMissed = (outs: readonly CorruptionOutcome[], kinds: readonly string[], says: RegExp): void => {
      for (const kind of kinds) {
        const missed = outs.filter((o) => o.status === "missed" && o.detail.startsWith(`${kind}: `));
        assert.ok(missed.length >= 3, `${kind} missed on ${missed.length} of ${SAMPLE.length} graphs`);
        for (const o of missed) assert.match(o.detail, says);
      }
    };
    type Fast = { consistentFast(fg: FunctionGraph): boolean };

    it("names every kind of stale entry word for word on the real engine, with checked mode on and off", () => {
      const outs = stale();
      for (const o of outs) assert.equal(o.status, "caught", o.detail);
      assert.equal(outs.length, SAMPLE.length * STALE_KINDS.length);
      const tripped = stale(true);
      for (const o of tripped) assert.equal(o.status, "caught", o.detail);
      // Every kind by a replacement, and the kinds the change callback reads by a rewired input too.
      const byWay = (kind: string, way: RegExp): number => tripped.filter((o) => o.detail.startsWith(`${kind}: `) && way.test(o.detail)).length;
      for (const kind of TRIPWIRE_KINDS) assert.ok(byWay(kind, /replaced by a fresh copy \(checked mode off\)$/) >= 3, `${kind} replaced on ${byWay(kind, /replaced by/)} of ${SAMPLE.length} graphs`);
      for (const kind of ["unimported", "node-swapped", "client-lost", "view-moved", "viewO-lost"]) {
        assert.ok(byWay(kind, /rewired to a fresh copy of its producer \(checked mode off\)$/) >= 3, `${kind} rewired on ${byWay(kind, /rewired/)} of ${SAMPLE.length} graphs`);
      }
    });

    it("fails, checked mode off, when the handler's change check reports a stale entry in other words", () => {
      const onChangeInput = DestroyHandler.prototype.onChangeInput;
      withPatch(DestroyHandler.prototype, "onChangeInput", function (this: DestroyHandler, ...args: Parameters<DestroyHandler["onChangeInput"]>) {
        try {
          onChangeInput.apply(this, args);
        } catch (e) {
          if (e instanceof InvariantError) throw new InvariantError("DestroyHandler.onChangeInput: the index is stale");
          throw e;
        }
      }, () => assertMissed(stale(true), ["unimported", "node-swapped", "client-lost", "view-moved", "viewO-lost"], /rewired to a fresh copy of its producer \(checked mode off\): expected the handler's own check, word for word: DestroyHandler(\.onChangeInput)?: .* to fire; got InvariantError: rewrite xgrad_corrupt_stale_index_tripwire on .*: DestroyHandler\.onChangeInput: the index is stale$/));
    });

    it("fails, checked mode off, when the handler's prune check forgives a reader recorded with another count", () => {
      const onPrune = DestroyHandler.prototype.onPrune;
      withPatch(DestroyHandler.prototype, "onPrune", function (this: DestroyHandler, fg: FunctionGraph, node: Apply) {
        // The recorded counts made to match the node's slots before the real check runs.
        const clients = (this as unknown as { clients: Map<unknown, Map<Apply, number>> }).clients;
        for (const v of new Set(node.inputs)) clients.get(v)?.set(node, node.inputs.filter((w) => w === v).length);
        onPrune.call(this, fg, node);
      }, () => assertMissed(stale(true), ["client-count"], /^client-count: .*checked mode off\): the DestroyHandler let it through without reporting the handler's own check, word for word: DestroyHandler\.onPrune: /));
    });

    it("fails, checked mode off, when a double import, an import of a node whose output has readers, or a prune of an unknown node is reported in other words", () => {
      const onPrune = DestroyHandler.prototype.onPrune;
      const onImport = DestroyHandler.prototype.onImport;
      const reword = (body: () => void): void => {
        try {
          body();
        } catch (e) {
          if (e instanceof InvariantError) throw new InvariantError(e.message.replace(/double import of .*|prune of .*, which was never imported|output \d+ of freshly imported .* already has recorded clients/, "a node the handler does not know"));
          throw e;
        }
      };
      withPatch(DestroyHandler.prototype, "onPrune", function (this: DestroyHandler, fg: FunctionGraph, node: Apply) {
        reword(() => onPrune.call(this, fg, node));
      }, () => withPatch(DestroyHandler.prototype, "onImport", function (this: DestroyHandler, fg: FunctionGraph, node: Apply) {
        reword(() => onImport.call(this, fg, node));
      }, () => assertMissed(stale(true), ["unimported", "phantom-node", "node-swapped", "client-stranger"], /to fire; got InvariantError: .*a node the handler does not know$/)));
    });

    it("fails, checked mode off, when a stale view edge is reported in words that name no fault", () => {
      const onPrune = DestroyHandler.prototype.onPrune;
      withPatch(DestroyHandler.prototype, "onPrune", function (this: DestroyHandler, fg: FunctionGraph, node: Apply) {
        try {
          onPrune.call(this, fg, node);
        } catch (e) {
          if (e instanceof InvariantError && e.message.includes("view edge")) throw new InvariantError(e.message.replace(/ (records .*|is missing .*)$/, " is stale"));
          throw e;
        }
      }, () => assertMissed(stale(true), ["view-moved", "viewO-lost"], /expected the handler's own check, word for word: DestroyHandler\.onPrune: view edge of output \d+ of .* to fire; got InvariantError: .* is stale$/));
    });

    it("fails when the fast path calls the handler consistent whenever its node count matches", () => {
      withPatch(DestroyHandler.prototype as unknown as Fast, "consistentFast", function (this: DestroyHandler, fg: FunctionGraph) {
        return fg.applyNodes.size === (this as unknown as { allApps: Set<Apply> }).allApps.size;
      }, () => assertMissed(stale(), ["node-swapped", "destroyer-flip", "client-count", "client-phantom", "view-phantom", "viewO-stray", "viewO-lost"], /checked mode let the rewrite xgrad_corrupt_stale_index through without reporting the DestroyHandler bookkeeping/));
    });

    it("fails when the fast path takes the client multiplicities from the graph", () => {
      // Each test of the fast path alone: the other tests still run, so only the kinds that
      // leave every other count in step get through.
      const fast = (DestroyHandler.prototype as unknown as Fast).consistentFast;
      withPatch(DestroyHandler.prototype as unknown as Fast, "consistentFast", function (this: DestroyHandler, fg: FunctionGraph) {
        const clients = (this as unknown as { clients: Map<unknown, Map<Apply, number>> }).clients;
        const saved = [...clients].map(([v, m]) => [v, new Map(m)] as const);
        // Every recorded multiplicity read as the graph's own: a count off by one passes.
        for (const n of fg.applyNodes) for (const v of new Set(n.inputs)) if (clients.get(v)?.has(n) === true) clients.get(v)?.set(n, n.inputs.filter((w) => w === v).length);
        try {
          return fast.call(this, fg);
        } finally {
          for (const [v, m] of saved) clients.set(v, m);
        }
      }, () => assertMissed(stale(), ["client-count"], /without reporting the DestroyHandler bookkeeping/));
    });

    it("fails when the rebuild names the difference vaguely", () => {
      const check = DestroyHandler.prototype.checkConsistency;
      withPatch(DestroyHandler.prototype, "checkConsistency", function (this: DestroyHandler, ...args: Parameters<DestroyHandler["checkConsistency"]>) {
        try {
          check.apply(this, args);
        } catch (e) {
          if (e instanceof InvariantError) throw new InvariantError(e.message.replace(/: [^:]*$/, ": the handler is out of step with the graph"));
          throw e;
        }
      }, () => assertMissed(stale(), STALE_KINDS, /checked mode did not name the rewrite xgrad_corrupt_stale_index and the DestroyHandler bookkeeping, with the rebuild's first difference: /));
    });

    it("names every kind of stale entry of the graph's own index word for word on the real engine", () => {
      graphs ??= SAMPLE.map((c) => ({ fg: sensitivityGraph(buildCase(c)), seed: caseSeed(c) }));
      const outs = graphs.flatMap(({ fg, seed }) => staleGraphScenario(fg, seed, GRAPH_KINDS));
      for (const o of outs) assert.equal(o.status, "caught", o.detail);
      assert.equal(outs.length, SAMPLE.length * GRAPH_KINDS.length);
    });

    it("fails when checked mode's record of the graph leaves out which node a client is, or checkIntegrity names the wrong slot", () => {
      graphs ??= SAMPLE.map((c) => ({ fg: sensitivityGraph(buildCase(c)), seed: caseSeed(c) }));
      const staleGraph = (): CorruptionOutcome[] => (graphs ?? []).flatMap(({ fg, seed }) => staleGraphScenario(fg, seed, GRAPH_KINDS));
      const update = GraphRecord.prototype.update;
      withPatch(GraphRecord.prototype, "update", function (this: GraphRecord, fg: FunctionGraph, dh: DestroyHandler | undefined) {
        // The record taken over a graph whose client entries all name one node.
        const saved = [...fg.clients].map(([v, cl]) => [v, cl.map((c) => [...c] as const)] as const);
        const first = [...fg.applyNodes][0];
        for (const cl of fg.clients.values()) for (const c of cl as [Apply, number][]) c[0] = first;
        try {
          return update.call(this, fg, dh);
        } finally {
          for (const [v, cl] of saved) fg.clients.set(v, cl.map((c) => [c[0], c[1]]));
        }
      }, () => assertMissed(staleGraph(), ["client-node"], /checked mode let the rewrite xgrad_corrupt_stale_graph through without reporting the FunctionGraph structure/));
      withPatch(FunctionGraph.prototype, "checkIntegrity", function (this: FunctionGraph) {
        for (const n of this.applyNodes) n.inputs.forEach((v, i) => {
          const k = (this.clients.get(v) ?? []).filter(([c, j]) => c === n && j === i).length;
          if (k !== 1) throw new InvariantError(`FunctionGraph#${this.id}.checkIntegrity [slot-registered]: (${n.toString()}, ${i + 1}) appears ${k} times in clients[${v.toString()}] (expected once)`);
        });
      }, () => assertMissed(staleGraph(), ["client-slot", "client-node", "client-extra"], /checked mode did not name the rewrite xgrad_corrupt_stale_graph and the FunctionGraph structure, with checkIntegrity's first violation: \[slot-registered\]/));
    });

    it("fails when checked mode's record of the graph stops following its variables, its nodes or its outputs", () => {
      graphs ??= SAMPLE.map((c) => ({ fg: sensitivityGraph(buildCase(c)), seed: caseSeed(c) }));
      const staleGraph = (): CorruptionOutcome[] => (graphs ?? []).flatMap(({ fg, seed }) => staleGraphScenario(fg, seed, GRAPH_KINDS));
      // The record reads those three fields as they were at its first update on each graph.
      // (One view per graph: the record compares the graph object itself too.)
      const views = new WeakMap<FunctionGraph, FunctionGraph>();
      const update = GraphRecord.prototype.update;
      withPatch(GraphRecord.prototype, "update", function (this: GraphRecord, fg: FunctionGraph, dh: DestroyHandler | undefined) {
        let view = views.get(fg);
        if (view === undefined) {
          const frozen = { variables: new Set(fg.variables), applyNodes: new Set(fg.applyNodes), outputs: [...fg.outputs] };
          views.set(fg, (view = new Proxy(fg, { get: (t, p) => (p === "variables" || p === "applyNodes" || p === "outputs" ? frozen[p] : Reflect.get(t, p)) })));
        }
        return update.call(this, view, dh);
      }, () => assertMissed(staleGraph(), ["variable-dropped", "variable-swapped", "apply-node-swapped", "output-moved"], /checked mode let the rewrite xgrad_corrupt_stale_graph through without reporting the FunctionGraph structure/));
    });

    it("fails when checkIntegrity names a stale entry vaguely", () => {
      graphs ??= SAMPLE.map((c) => ({ fg: sensitivityGraph(buildCase(c)), seed: caseSeed(c) }));
      const check = FunctionGraph.prototype.checkIntegrity;
      withPatch(FunctionGraph.prototype, "checkIntegrity", function (this: FunctionGraph) {
        try {
          check.call(this);
        } catch (e) {
          if (e instanceof InvariantError) throw new InvariantError(e.message.replace(/\]: .*$/, "]: the graph's index is out of step"));
          throw e;
        }
      }, () => assertMissed((graphs ?? []).flatMap(({ fg, seed }) => staleGraphScenario(fg, seed, GRAPH_KINDS)), GRAPH_KINDS, /checked mode did not name the rewrite xgrad_corrupt_stale_graph and the FunctionGraph structure, with checkIntegrity's first violation: /));
    });

    it("fails when checked mode's record of the handler covers its node set only", () => {
      withPatch(DestroyHandler.prototype, "recordState", function (this: DestroyHandler, rec: { put(x: unknown): void }) {
        rec.put((this as unknown as { allApps: Set<Apply> }).allApps.size);
        for (const n of (this as unknown as { allApps: Set<Apply> }).allApps) rec.put(n);
      }, () => assertMissed(stale(), ["client-count", "client-phantom", "viewO-stray"], /checked mode let the rewrite xgrad_corrupt_stale_index through/));
    });
  });

  it("fails when the DestroyHandler's own tripwires are off (checked mode off: its prune and import checks are all there is)", () => {
    // A handler that tolerates what it should refuse: a prune of a node it holds no record of,
    // or whose recorded readers disagree, and a second import of a node it holds.
    const onPrune = DestroyHandler.prototype.onPrune;
    const onImport = DestroyHandler.prototype.onImport;
    withPatch(DestroyHandler.prototype, "onPrune", function (this: DestroyHandler, ...args: Parameters<DestroyHandler["onPrune"]>) {
      try {
        onPrune.apply(this, args);
      } catch (e) {
        if (!(e instanceof InvariantError)) throw e;
      }
    }, () => withPatch(DestroyHandler.prototype, "onImport", function (this: DestroyHandler, ...args: Parameters<DestroyHandler["onImport"]>) {
      try {
        onImport.apply(this, args);
      } catch (e) {
        if (!(e instanceof InvariantError)) throw e;
      }
    }, () => assertCaught(checks(), /^checked mode missed the (rewire-then-prune|lost-prune|stale-index-tripwire) corruption: .*checked mode off\)?: (the DestroyHandler let it through|expected the DestroyHandler's|expected the handler's own check)/)));
  });

  it("fails when verification is skipped whenever no callback was heard (a mutation no feature heard)", () => {
    const verify = CheckedFeature.prototype.verify;
    withPatch(CheckedFeature.prototype, "verify", function (this: CheckedFeature, ...args: Parameters<CheckedFeature["verify"]>) {
      if (!(this as unknown as { dirty: boolean }).dirty) return;
      verify.apply(this, args);
    }, () => assertCaught(checks(), /^checked mode missed the (rewire|unheard-by-all) corruption: input \d+ of .* (assigned a constant directly|rewired with no feature listening): checked mode let the rewrite xgrad_corrupt_(rewire|unheard_by_all) through/));
  });

  it("fails when the types of touched nodes are not re-inferred", () => {
    withPatch(CheckedFeature.prototype, "onChangeInput", function (this: CheckedFeature) {
      // Everything but marking the node touched.
      Object.assign(this, { dirty: true, changedSinceVerify: true });
    }, () => assertCaught(checks(), /^checked mode missed the retype(-dtype)? corruption: input \d+ of .* replaced by a (constant of shape .*|float(32|64) constant) with the type check off/));
  });

  it("fails when the merge promise is blind to equal nodes, or to equal constants", () => {
    const blind = (what: RegExp): typeof verifyPostconditions => (fg, q) => {
      try {
        verifyPostconditions(fg, q);
      } catch (e) {
        if (e instanceof InvariantError && what.test(e.message)) return;
        throw e;
      }
    };
    assertCaught(checks(blind(/equal nodes left unmerged/)), /^checked mode missed the unmerge corruption: a fresh copy of .* the FAST_RUN postconditions passed without reporting the merge promise \(equal nodes\)/);
    assertCaught(checks(blind(/equal constants left unmerged/)), /^checked mode missed the constant-copy corruption: an equal copy of the constant .* the FAST_RUN postconditions passed without reporting the merge promise \(equal constants\)/);
  });

  it("fails when the fusion promise is blind", () => {
    const blind: typeof verifyPostconditions = (fg, q) => {
      try {
        verifyPostconditions(fg, q);
      } catch (e) {
        if (e instanceof InvariantError && /broke its promise fusion/.test(e.message)) return;
        throw e;
      }
    };
    assertCaught(checks(blind), /^checked mode missed the unfuse corruption: input \d+ of .* replaced by (neg|tanh|exp)\((neg|tanh|exp)\(input\)\), two unfused elementwise nodes: the FAST_RUN postconditions passed without reporting the fusion promise/);
  });

  it("fails when checked mode trusts the DestroyHandler's candidate filter", () => {
    const trusting: typeof verifyPostconditions = (fg, q) => {
      try {
        verifyPostconditions(fg, q);
      } catch (e) {
        if (e instanceof InvariantError && /DestroyHandler\.inplaceCandidates\(/.test(e.message)) return;
        throw e;
      }
    };
    assertCaught(checks(trusting), /^checked mode missed the eager-candidates corruption: a DestroyHandler whose candidate filter proposes every input of .*: the FAST_RUN postconditions passed without reporting the candidate query against the in-place contract/);
  });

  it("fails when an ordinary rewrite failure under onOptError \"ignore\" escapes, or is dropped unrecorded", () => {
    const fail = RewriteContext.prototype.fail;
    withPatch(RewriteContext.prototype, "fail", function (this: RewriteContext, rewrite: string, node: Apply | null, error: unknown) {
      if (this.onOptError === "ignore") throw error;
      fail.call(this, rewrite, node, error);
    }, () => assertCaught(checks(), /^checked mode missed the (failing-transform|rejected-replacement) corruption: .* under onOptError "ignore": the failure escaped instead of being recorded/));
    withPatch(RewriteContext.prototype, "fail", function (this: RewriteContext, rewrite: string, node: Apply | null, error: unknown) {
      if (this.onOptError !== "ignore") fail.call(this, rewrite, node, error);
    }, () => assertCaught(checks(), /^checked mode missed the (failing-transform|rejected-replacement) corruption: .* expected a recorded failure naming the rewrite, and the graph as it was, got 0 recorded failure\(s\)/));
  });

  it("fails when the inplace promise is blind, or its message names another input", () => {
    assertCaught(checks(reword(/broke its promise inplace/, "")), /^checked mode missed the out-of-place corruption: .* replaced by its out-of-place twin .*: the FAST_RUN postconditions passed without reporting the inplace promise/);
    // The message is the whole check: one naming input 1 for input 0 is a missed corruption.
    assertCaught(checks(reword(/could write into input (\d+)/, "could write into input 9")), /^checked mode missed the out-of-place corruption: .* the FAST_RUN postconditions did not report the inplace promise, naming .* and its input \d+; they said InvariantError: .* could write into input 9 /);
  });

  it("fails when checked mode's restatement of the handler's queries is blind, or names no answer", () => {
    const missed = /^checked mode missed the wrong-queries corruption: a DestroyHandler whose .*: the FAST_RUN postconditions (passed without reporting|did not report) checked mode's restatement of the handler's query, word for word/;
    const only = (post: typeof verifyPostconditions): Check[] => SAMPLE.map((c) => checkedSensitivityCheck(buildCase(c), caseSeed(c), undefined, post, ["wrong-queries"]));
    assertCaught(only(reword(/^checked mode: DestroyHandler\.(destroyersOf|hasDestroyers|inplaceCandidates)\(/, "")), missed);
    assertCaught(only(reword(/, but the graph's destroy maps give .*$|, but the in-place contract restated from the graph allows .*$/, "")), missed);
  });

  describe("lost-fresh-copy", () => {
    // Cases whose positional forms splice zero-update, which gives an update op a fresh copy of
    // a zero buffer another node reads; the corruption falls back to that graph.
    const cases = fc
      .sample(caseArbitrary({}), { seed: 5160, numRuns: 240 })
      .map((g) => g.case)
      // One update into Z (not the two-update variant, whose copies have more than one twin,
      // nor the one over ones, which has no copy).
      .filter((c) => formsGraph(c, caseTypes(c), caseSeed(c))?.graph.splices.some((sp) => sp.form === "zero-update" && /[^(]\((set|inc)\(Z, v/.test(sp.at)) ?? false)
      .slice(0, 8);
    const silenced = (c: (typeof cases)[number]) => () => {
      const forms = formsSource(c, caseTypes(c), caseSeed(c));
      return [caseSource(buildCase(c)), ...(forms === null ? [] : [forms])];
    };
    const run = (post?: typeof verifyPostconditions): Check[] => cases.map((c) => checkedSensitivityCheck(buildCase(c), caseSeed(c), undefined, post, ["lost-fresh-copy"], silenced(c)));

    it("names the update op put back out of place, word for word, on the real engine", () => {
      assert.ok(cases.length >= 5, `only ${cases.length} sample cases splice zero-update`);
      const ks = run();
      for (const k of ks) assert.equal(k.status, "pass", k.reason);
      const caught = ks.filter((k) => /lost-fresh-copy/.test(k.reason ?? "")).length;
      assert.ok(caught >= 4, `lost-fresh-copy caught on ${caught} of ${ks.length}`);
    });

    it("fails when the inplace promise's fresh-copy clause is blind, or names no fresh copy", () => {
      const missed = /^checked mode missed the lost-fresh-copy corruption: on the lowered graph with .*zero-update at .*: (IncSubtensor|AdvancedIncSubtensor)\{.* put back out of place onto the zero-filled Alloc /;
      assertCaught(run(reword(/updates a zero-filled Alloc it may not overwrite/, "")), missed);
      assertCaught(run(reword(/instead of writing into a fresh copy of that Alloc/, "instead of in place")), missed);
    });
  });

  it("fails when checked mode's pass-list check is order-blind, or its message leaves out what ran", () => {
    const cases = fc.sample(caseArbitrary({}), { seed: 5154, numRuns: 30 }).map((g) => g.case);
    const outcomes = (verify?: typeof verifyModePasses) => cases.map((c) => passListScenario(buildCase(c), caseSeed(c), verify));
    for (const o of outcomes()) assert.equal(o.status, "caught", o.detail);
    const blindToOrder: typeof verifyModePasses = (mode, exclude, ctx, since) => {
      // The same check on sorted lists: a pass run at the wrong position goes through.
      const sorted = [...ctx.passesRun.slice(since.passes)].sort();
      const fake = { passesRun: [...ctx.passesRun.slice(0, since.passes), ...sorted], report: ctx.report } as unknown as RewriteContext;
      try {
        verifyModePasses(mode, exclude, fake, since);
      } catch (e) {
        if (e instanceof InvariantError && /ran out of order/.test(e.message)) return;
        throw e;
      }
    };
    const reordered = outcomes(blindToOrder).filter((o) => / ran merge[\d.]+ last$/.test(o.detail.split(":")[0]));
    assert.ok(reordered.length >= 3, `${reordered.length} reordered pipelines in ${cases.length} cases`);
    for (const o of reordered) assert.equal(o.status, "missed", o.detail);
    const terse: typeof verifyModePasses = (mode, exclude, ctx, since) => {
      try {
        verifyModePasses(mode, exclude, ctx, since);
      } catch (e) {
        if (e instanceof InvariantError) throw new InvariantError(e.message.replace(/; ran .*\)$/, ")"));
        throw e;
      }
    };
    for (const o of outcomes(terse)) assert.match(o.detail, /: checked mode's pass-list check must raise an InvariantError saying ".*; ran .*\)"; it threw InvariantError: checked mode: mode FAST_RUN broke its promise passes: /);
  });

  describe("eager-inplace", () => {
    it("leaves valid in-place writes and the real compile's values on the real engine, and falls back to a fresh copy when slot 0 is vetoed", () => {
      for (const c of SAMPLE) {
        const o = eagerInplaceScenario(buildCase(c));
        assert.equal(o.status, "caught", o.detail);
      }
      // The case whose update op on a shared zero Alloc had only a vetoed slot 0 to offer: the
      // pass's fallback once stopped there, leaving it out of place with no fresh copy.
      const c = fc.sample(caseArbitrary({}), { seed: 33, numRuns: 160 })[159].case;
      const o = eagerInplaceScenario(buildCase(c));
      assert.equal(o.status, "caught", o.detail);
      // The same on graphs with positional-forms' zero-update (an update op on a shared zero buffer).
      let zero = 0;
      for (const g of fc.sample(caseArbitrary({}), { seed: 0x6d757404, numRuns: 40 })) {
        const src = formsSource(g.case, caseTypes(g.case), caseSeed(g.case));
        if (src === null || src.forms?.includes("zero-update") !== true) continue;
        const f = eagerInplaceScenario(buildCase(g.case), src);
        assert.equal(f.status, "caught", f.detail);
        zero++;
      }
      assert.ok(zero >= 3, `${zero} graphs with zero-update`);
    });

    it("fails when validation lets every proposed write through", () => {
      withPatch(DestroyHandler.prototype, "onValidate", () => {}, () => {
        const missed = SAMPLE.map((c) => eagerInplaceScenario(buildCase(c))).filter((o) => o.status === "missed");
        assert.ok(missed.length >= 3, `missed on ${missed.length} of ${SAMPLE.length}`);
        for (const o of missed) assert.match(o.detail, /^the unchecked FAST_RUN pipeline over a DestroyHandler whose candidate filter proposes every input slot of every node (computes output \d+ .* otherwise than the real FAST_RUN compile|left a graph that fails at run time|: with a real DestroyHandler back, FAST_RUN's promises fail): /);
      });
    });
  });

  describe("failing-rule", () => {
    const cases = fc.sample(caseArbitrary({}), { seed: 5156, numRuns: 12 }).map((g) => g.case);
    const outcomes = (): CorruptionOutcome[] => cases.flatMap((c) => failingRuleScenario(caseSource(buildCase(c)), caseSeed(c), true));

    it("records every failing or looping rule under onOptError \"ignore\" on the real engine, and judges no normal form after it", () => {
      const os = outcomes();
      for (const o of os) assert.equal(o.status, "caught", o.detail);
      for (const way of [/made to throw/, /made to loop/]) assert.ok(os.filter((o) => way.test(o.detail)).length >= 6, `${way}: ${os.filter((o) => way.test(o.detail)).length} of ${os.length}`);
    });

    it("fails when a failure under \"ignore\" goes unrecorded (so checked mode judges the group's normal form after it), or escapes", () => {
      const fail = RewriteContext.prototype.fail;
      const broken: [string, (this: RewriteContext, rewrite: string, node: Apply | null, error: unknown) => void, RegExp][] = [
        ["unrecorded", function (this: RewriteContext, rewrite, node, error) {
          // Prefixed and routed as the real one, but the record is lost.
          const before = this.report.failures.length;
          fail.call(this, rewrite, node, error);
          this.report.failures.length = before;
        }, /made to throw .*: (no failure was recorded|the pipeline raised instead of recording it \(checked mode judged the group's normal form after it\): InvariantError: .*broke its promise)/],
        ["raised", function (this: RewriteContext, rewrite, node, error) {
          if (this.onOptError === "ignore") throw error;
          fail.call(this, rewrite, node, error);
        }, /made to throw .*: the pipeline raised instead of recording it: Error: xgrad_corrupt_failing_rule: /],
      ];
      for (const [what, patch, says] of broken) {
        withPatch(RewriteContext.prototype, "fail", patch, () => {
          const missed = outcomes().filter((o) => o.status === "missed");
          assert.ok(missed.length >= 3, `${what}: missed on ${missed.length}`);
          for (const o of missed) assert.match(o.detail, says);
        });
      }
    });
  });

  describe("silenced-rule", () => {
    const cases = fc.sample(caseArbitrary({}), { seed: 5155, numRuns: 24 }).map((g) => g.case);
    /** The scenario on each case's own graph and on its graph with positional forms, every rule that fires silenced in turn. */
    const outcomes = (): CorruptionOutcome[] =>
      cases.flatMap((c) => {
        const made = formsSource(c, caseTypes(c), caseSeed(c));
        const forms = made === null ? [] : [made];
        return [caseSource(buildCase(c)), ...forms].flatMap((src) => silencedRuleScenario(src, caseSeed(c), true));
      });
    /** Run `body` with the normal forms' predicates replaced by `weaken(rule, predicate)`. */
    function withForms(weaken: (rule: string, real: NormalForm["leftover"]) => NormalForm["leftover"], body: () => void): void {
      const saved = NORMAL_FORMS.map((f) => f.leftover);
      NORMAL_FORMS.forEach((f, i) => ((f as { leftover: NormalForm["leftover"] }).leftover = weaken(f.rule, saved[i])));
      try {
        body();
      } finally {
        NORMAL_FORMS.forEach((f, i) => ((f as { leftover: NormalForm["leftover"] }).leftover = saved[i]));
      }
    }

    it("catches every rule it silences on the real engine, across the groups", () => {
      const os = outcomes();
      for (const o of os) assert.notEqual(o.status, "missed", o.detail);
      const caught = new Set(os.filter((o) => o.status === "caught").map((o) => o.detail.split(" ")[0]));
      assert.ok(os.filter((o) => o.status === "caught").length >= 30, `${os.filter((o) => o.status === "caught").length} caught of ${os.length}`);
      for (const r of ["constant_folding", "local_second_to_alloc", "local_neutral_element"]) assert.ok(caught.has(r), `${r} never silenced: ${[...caught].join(", ")}`);
    });

    it("fails when a normal form promises nothing, or names a node the rule does not rewrite", () => {
      withForms(() => () => null, () => {
        const os = outcomes().filter((o) => o.status !== "skip");
        assert.ok(os.length >= 30);
        for (const o of os) assert.match(o.detail, /^\S+ silenced under FAST_(RUN|COMPILE) \(it fired \d+ time\(s\) on .*\): .* is left, which \S+ still rewrites, and checked mode's normal form for \w+ did not report it$/);
      });
      // The broken promise pinned on the node that feeds the pattern instead of the pattern.
      const feedsLeftover = (real: NormalForm["leftover"]): NormalForm["leftover"] => (fg, node) =>
        node.outputs.some((o) => (fg.clients.get(o) ?? []).some(([c]) => !(c.op instanceof Output) && real(fg, c) !== null)) ? "misplaced" : null;
      withForms((_, real) => feedsLeftover(real), () => {
        const os = outcomes().filter((o) => o.status !== "skip");
        assert.ok(os.length >= 30, `${os.length} judged`);
        for (const o of os) assert.equal(o.status, "missed", o.detail);
      });
    });

    it("fails when a normal form's message does not say what is left (an empty reason)", () => {
      withForms((_, real) => (fg, node) => (real(fg, node) === null ? null : ""), () => {
        const os = outcomes().filter((o) => o.status !== "skip");
        assert.ok(os.length >= 30, `${os.length} judged`);
        for (const o of os) assert.match(o.detail, /: expected ".* is left \(<what is left>\)"( \(such as .*\))?; got InvariantError: rewrite \w+: checked mode: .* is left \(\)$/);
      });
    });

    it("does not judge where a normal form documents a narrower promise: a Subtensor of an Alloc with full slices only", () => {
      // local_subtensor_of_alloc rewrites it; its normal form promises only ints and full slices with at least one int.
      const x = tensor("x", { shape: [3] });
      const full = { start: null, stop: null, step: null };
      for (const idx of [[full], [full, full], [{ start: null, stop: null, step: 1 }]]) {
        const y = exp(subtensor(alloc(x, [2, 3]), idx));
        const os = silencedRuleScenario({ label: `exp(alloc(x, [2, 3])[${JSON.stringify(idx)}])`, inputs: [x], outputs: [y] }, 1, true);
        assert.ok(os.some((o) => o.detail.startsWith("local_subtensor_of_alloc silenced under FAST_RUN")), os.map((o) => o.detail).join("\n"));
        for (const o of os) assert.equal(o.status, "skip", o.detail);
      }
    });

    it("fails when a promise is listed for FAST_RUN only, though its rule runs under FAST_COMPILE too", () => {
      const saved = NORMAL_FORMS.map((f) => f.modes);
      // The group's normal forms are picked when its query is built, and built queries are cached.
      NORMAL_FORMS.forEach((f) => ((f as { modes: NormalForm["modes"] }).modes = ["fast_run"]));
      optdb.clearCache();
      try {
        const os = outcomes().filter((o) => / silenced under FAST_COMPILE /.test(o.detail) && o.status !== "skip");
        assert.ok(os.length >= 10, `${os.length} judged under FAST_COMPILE`);
        for (const o of os) assert.equal(o.status, "missed", o.detail);
      } finally {
        NORMAL_FORMS.forEach((f, i) => ((f as { modes: NormalForm["modes"] }).modes = saved[i]));
        optdb.clearCache();
      }
    });

    it("fails when the forms' table lost a rule's entry (renamed), instead of skipping the rule", () => {
      const f = NORMAL_FORMS.find((x) => x.rule === "local_second_to_alloc") as NormalForm;
      (f as { rule: string }).rule = "local_second_to_alloc_renamed";
      optdb.clearCache();
      try {
        const os = outcomes().filter((o) => o.detail.startsWith("local_second_to_alloc silenced"));
        assert.ok(os.length >= 5, `${os.length} outcomes for local_second_to_alloc`);
        for (const o of os) assert.equal(o.status, "missed", o.detail);
      } finally {
        (f as { rule: string }).rule = "local_second_to_alloc";
        optdb.clearCache();
      }
    });

    it("fails when a normal form misses the rule's pattern where an operand is stretched (judged at every node left, not only the one reported)", () => {
      // The second_to_alloc promise kept only where b already has out's lengths: it still names
      // some left node (most graphs have both kinds), but not every one the rule rewrites.
      const sameLengths = (node: Apply): boolean => node.inputs[1]?.type.ndim === node.outputs[0].type.ndim && node.inputs[1].type.shape.every((s, i) => s === node.outputs[0].type.shape[i]);
      withForms((rule, real) => (rule !== "local_second_to_alloc" ? real : (fg, node) => (sameLengths(node) ? real(fg, node) : null)), () => {
        const os = outcomes().filter((o) => o.status === "missed");
        assert.ok(os.length >= 3, `${os.length} missed`);
        for (const o of os) assert.match(o.detail, /^local_second_to_alloc silenced .*(but its normal form does not call .* a leftover|did not report it)/);
      });
    });
  });

  it("fails when stabilize's and specialize's adds_no_copy promise is off (a rule that makes a copy goes unreported)", () => {
    const groups = COPY_FREE_GROUPS as NormalFormGroup[];
    const saved = groups.splice(0);
    try {
      assertCaught(checks(), /^checked mode missed the copying-rule corruption: local_\w+ made to wrap its replacements in a cast to their own dtype .*: Elemwise\{cast, \w+\}\(.*\) is left, and checked mode's adds_no_copy for (stabilize|specialize) did not report it$/);
    } finally {
      groups.push(...saved);
    }
  });

  it("fails when a compile ignores its exclude list (the exclude scenario, an eighth of the cases)", () => {
    const cases = fc.sample(caseArbitrary({}), { seed: 5152, numRuns: 60 }).map((g) => g.case).filter((c) => excludeScheduled(caseSeed(c))).slice(0, 4);
    assert.ok(cases.length >= 3, `${cases.length} of 60 cases run the exclude scenario`);
    for (const c of cases) assert.equal(excludeScenario(buildCase(c), caseSeed(c)).status, "caught");
    const query = SequenceDB.prototype.query;
    withPatch(SequenceDB.prototype, "query", function (this: SequenceDB, q: Query) {
      return query.call(this, { include: q.include });
    }, () => {
      for (const c of cases) {
        const o = excludeScenario(buildCase(c), caseSeed(c));
        assert.equal(o.status, "missed", o.detail);
        assert.match(o.detail, /^the case compiled in checked FAST_RUN with exclude: \[".*"\] failed: checked mode: mode FAST_RUN broke its promise passes: .* ran although the compile excluded /);
      }
    });
  });

  it("alone, also compiles the graph with positional forms under its excludes; without canonicalize, its boundary's constant chain is a pair fusion leaves and checked mode excuses", () => {
    const c = fc.sample(caseArbitrary({}), { seed: 5153, numRuns: 1 })[0].case;
    const b = buildCase(c);
    const src = formsSource(c, caseTypes(c), caseSeed(c));
    assert.ok(src !== null);
    for (const draw of [0, 1] as const) assert.equal(excludeScenario(b, caseSeed(c), draw, undefined, src).status, "caught");
    const fg = compile([...src.inputs], [...src.outputs], { mode: "FAST_RUN", checked: true, onOptError: "raise", exclude: ["canonicalize"] }).fgraph;
    const pair = [...fg.applyNodes].some((n) => n.op instanceof Elemwise && n.op.props.scalar === "neg" && n.inputs[0].owner?.op instanceof Elemwise && n.inputs[0].owner.inputs.every((v) => v instanceof Constant && v.type.ndim === 0));
    assert.ok(pair, "no neg(exp(constant)) left unfused");
  });

  it("alone, tries two excludes in a row on every case: a pipeline cache keyed without the exclude list fails it", () => {
    const c = fc.sample(caseArbitrary({}), { seed: 5153, numRuns: 1 })[0].case;
    const b = buildCase(c);
    const ok = checkedSensitivityCheck(b, caseSeed(c));
    assert.equal(ok.status, "pass", ok.reason);
    assert.ok((ok.reason ?? "").split(", ").includes("exclude ×2"), ok.reason);
    // A cache that keys pipelines by the include list alone: the first query's pipeline (the
    // graph's plain FAST_RUN compile) is handed to both excluding compiles.
    const query = SequenceDB.prototype.query;
    const stale = new Map<string, ReturnType<SequenceDB["query"]>>();
    withPatch(SequenceDB.prototype, "query", function (this: SequenceDB, q: Query) {
      const key = JSON.stringify(q.include);
      const hit = stale.get(key) ?? query.call(this, q);
      stale.set(key, hit);
      return hit;
    }, () => {
      const k = checkedSensitivityCheck(buildCase(c), caseSeed(c));
      assert.equal(k.status, "fail", k.reason);
      assert.match(k.reason ?? "", /^checked mode missed the exclude corruption: .* ran although the compile excluded /);
    });
  });

  it("runs in the suite on a seeded eighth of the cases, on rewrite-soundness's graph, with the verdict it gives alone", async () => {
    const cases = fc.sample(caseArbitrary({}), { seed: 5151, numRuns: 64 }).map((g) => g.case);
    const on = cases.filter((c) => sensitivityScheduled(caseSeed(c)));
    assert.ok(on.length >= 3 && on.length <= 16, `${on.length} of 64 scheduled`);
    for (const c of on.slice(0, 3)) {
      const suite = (await runProperties(c, { properties: ["rewrite-soundness", "checked-sensitivity"] })).verdict.checks.find((k) => k.property === "checked-sensitivity");
      const alone = (await runProperties(c, { properties: ["checked-sensitivity"] })).verdict.checks.find((k) => k.property === "checked-sensitivity");
      // The suite tries three corruptions (by seed) and one stale entry of each index kind, alone
      // every one: a superset.
      assert.equal(suite?.status, "pass", suite?.reason);
      assert.equal(alone?.status, "pass", alone?.reason);
      const tried = (k: typeof suite): string[] => (k?.reason ?? "").replace(/^caught /, "").split(", ").map((x) => x.replace(/ ×\d+$/, ""));
      assert.deepEqual(tried(suite).filter((x) => !["exclude", "pass-list", "silenced-rule", "copying-rule", "failing-rule", "eager-inplace"].includes(x)), [...scheduledCorruptions(caseSeed(c)), "stale-index", "stale-index-tripwire", "stale-graph"]);
      for (const x of tried(suite)) assert.ok(tried(alone).includes(x), `${x} tried in the suite, not alone`);
    }
    const off = cases.find((c) => !sensitivityScheduled(caseSeed(c)));
    assert.ok(off !== undefined);
    const r = await runProperties(off, { properties: ["rewrite-soundness", "checked-sensitivity"] });
    assert.equal(r.verdict.checks.filter((k) => k.property === "checked-sensitivity").length, 0);
  });
});
