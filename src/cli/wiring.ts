/**
 * The real case runner: the only file of the shell that imports the harness (generators,
 * properties, shrinker, oracles). Everything else in src/cli and src/fuzz talks to the
 * `CaseRunner` interface, so the shell can be tested with a fake and the harness can change
 * behind this file. Loaded inside each worker process (see src/fuzz/runner.ts).
 */
import fc from "fast-check";
import { caseArbitrary } from "../../properties/generators.js";
import { runProperties } from "../../properties/properties.js";
import { failurePredicate, shrinkFailure } from "../../properties/shrink.js";
import { localize } from "../../properties/localize.js";
import { caseFeatures } from "../../properties/stats.js";
import { loadTfjs } from "../../oracles/tfjs.js";
import { MODE_TAGS, optdb } from "../rewriting/db.js";
import { rulesOf } from "../rewriting/engine.js";
import { DESTROY_HANDLER_PATHS } from "../rewriting/destroyhandler.js";
import { caseToSnippet } from "../../properties/snippet.js";
import type { Case, CaseOp } from "../case/format.js";
import type { CaseRunner, FeatureSink } from "../fuzz/runner.js";
import { PROPERTY_NAMES } from "../../properties/types.js";
import type { PropertyName, Verdict } from "../../properties/types.js";

/**
 * The fast-check seed of case `index` of run seed `seed` (a 32-bit mix, splitmix-style), so case
 * i never depends on cases 0..i-1: generating it costs the same at index 10 and at 10 million,
 * and it replays with `fc.assert(prop, {seed: caseFcSeed(seed, i), path: "0"})`.
 */
export function caseFcSeed(seed: number, index: number): number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca77)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) | 0;
}

/** Which gradient strategies a property exercises (feature coverage). */
const STRATEGIES: Partial<Record<PropertyName, readonly string[]>> = {
  "direct-vs-lowered": ["lazy", "lowered"],
  "perNode-vs-lowered": ["perNode", "lowered"],
  "direct-vs-finiteDiff": ["lazy"],
  "direct-vs-tfjs": ["lazy"],
  "second-order": ["lazy"],
  "pushforward-duality": ["lazy"],
  "grad-composition": ["lazy"],
  "kink-conventions": ["lazy", "perNode", "lowered"],
  "shape-erasure": ["lazy", "lowered"],
  "positional-forms": ["lazy"],
};

/** Feature tags of stats.ts (`op:x`, `pair:x>y`, patterns) into the shell's categories. */
function addCaseFeatures(c: Case, sink: FeatureSink): void {
  for (const t of caseFeatures(c)) {
    if (t.startsWith("op:")) continue; // the shell counts ops itself (heatmap)
    if (t.startsWith("pair:")) sink.add("opPairs", t.slice(5));
    else sink.add("dimsPatterns", t);
  }
}

/** The ready-to-paste TypeScript repro (properties/snippet.ts), with the signature in its header. */
function snippetOf(c: Case, signature?: string): string {
  return caseToSnippet(c, signature !== undefined ? { signature } : {});
}

/**
 * Replay the generated case at `path` (`caseFcSeed:0`) and let fast-check shrink its recipe
 * while the failure keeps `signature`. Returns the smallest such case, or `found` when the
 * replay does not reproduce (the generator changed since the run): never a different bug.
 */
async function shrinkRecipe(arb: fc.Arbitrary<{ case: Case }>, path: string, signature: string, found: Case): Promise<Case> {
  const [seedText, ...rest] = path.split(":");
  let stillFails: (x: Case) => Promise<boolean>;
  try {
    ({ stillFails } = await failurePredicate(found, signature));
  } catch {
    return found; // the representative no longer fails this way in-process: the reducer reports it
  }
  const r = await fc.check(
    fc.asyncProperty(arb, async (g) => !(await stillFails(g.case))),
    { seed: Number(seedText), path: rest.join(":"), numRuns: 1, endOnFailure: false },
  );
  const ce = r.counterexample?.[0]?.case;
  return r.failed && ce !== undefined ? { ...ce, name: found.name } : found;
}

/** The runner module's entry point. */
export async function createRunner(): Promise<CaseRunner> {
  const arbs = new Map<string, fc.Arbitrary<{ case: Case }>>();
  const arbFor = (ops: readonly string[] | null): fc.Arbitrary<{ case: Case }> => {
    const key = ops === null ? "*" : ops.join(",");
    let a = arbs.get(key);
    if (a === undefined) {
      a = caseArbitrary(ops === null ? {} : { ops: ops as CaseOp[] });
      arbs.set(key, a);
    }
    return a;
  };
  return {
    generate(seed, index, opts) {
      const fcSeed = caseFcSeed(seed, index);
      const [g] = fc.sample(arbFor(opts.ops), { seed: fcSeed, numRuns: 1 });
      const c = { ...g.case, name: `seed ${seed} case ${index}` };
      return { case: c, path: `${fcSeed}:0` };
    },
    async check(c, opts): Promise<Verdict> {
      if (opts.features) addCaseFeatures(c, opts.features);
      const run = await runProperties(c, opts.properties === null ? {} : { properties: opts.properties });
      if (opts.features) {
        for (const [k, n] of Object.entries(run.fired)) opts.features.add("rewrites", k, n);
        for (const [k, n] of Object.entries(run.destroyHandlerPaths)) opts.features.add("destroyHandler", k, n);
        for (const k of run.verdict.checks) for (const s of STRATEGIES[k.property] ?? []) opts.features.add("strategies", s);
      }
      // A failing check's signature names the first failing op kind: localize it by re-running
      // the property on the case cut after each node (only for failures, which are rare).
      const checks = await Promise.all(
        run.verdict.checks.map(async (k) => {
          if (k.status !== "fail" || k.failingOp !== undefined) return k;
          const where = await localize(c, k).catch(() => null);
          return where === null ? k : { ...k, failingOp: where.failingOp };
        }),
      );
      return { ...run.verdict, checks };
    },
    async shrink(c, signature, origin) {
      // First fast-check's own shrinking on the recipe (deleting steps keeps cases valid), then
      // the graph reducer to a 1-minimal case; both keep the failure's signature.
      const start = origin === undefined ? c : await shrinkRecipe(arbFor(origin.ops), origin.path, signature, c);
      const r = await shrinkFailure(start, signature, { timeLimitMs: 50_000 });
      return { case: r.case, snippet: snippetOf(r.case, signature) };
    },
    snippet: (c) => snippetOf(c),
    backend: async () => (await loadTfjs()).backend,
    featureUniverse() {
      // Every rule name any FAST_RUN pass can record as fired (node rules inside equilibria and
      // walkers, or the pass itself for graph-level passes such as merge and fusion).
      const rewrites = [...rulesOf(optdb.query({ include: MODE_TAGS.FAST_RUN }))];
      return {
        rewrites: [...new Set(rewrites)].sort(),
        strategies: ["lazy", "lowered", "perNode"],
        destroyHandler: [...DESTROY_HANDLER_PATHS],
        properties: PROPERTY_NAMES,
      };
    },
  };
}
