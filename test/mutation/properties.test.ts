/**
 * The property suite as a mutation-test runner: every harness property (`runProperties`, all
 * fourteen; grad-composition on its seeded schedule, a quarter of the cases, shape-erasure on
 * half, positional-forms on a quarter, checked-sensitivity and rewriter-contract on an eighth
 * each) on a fixed list of
 * generated cases. A mutant of the differentiator, the rewriter or a pullback rule is killed
 * when some case's verdict is not ok (a `fail` or an `error` check), or when it makes a case
 * hang (Stryker's timeout).
 *
 * One `it` per case, so Stryker's per-test coverage runs only the cases that reach a mutant and
 * stops at the first that kills it. The list is fixed (seeds and counts below), so the score is
 * reproducible; on the unmutated tree every case must pass (Stryker's dry run checks it).
 *
 * Under Stryker (or with XGRAD_MUTATION_FULL=1) every case runs; under plain `npm test` every
 * 8th case, a ~3 s smoke check that the list still builds and passes.
 *
 * Three batches (and a fourth, run first: the scheduled properties in full): small graphs (1–3 steps) exercise each rule nearly alone, where a wrong term
 * cannot be masked by a later op; the generator's default graphs (3–8 steps) exercise the
 * rewriter on interacting nodes (merge, fusion, inplace across forward and backward); and
 * structural graphs (2–5 steps of shape, indexing and contraction ops) reach the rare branches
 * of those ops' pullbacks often enough for a fixed list of cases.
 */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import { caseArbitrary, type GeneratedCase, type GeneratorOptions } from "../../properties/generators.js";
import { runProperties } from "../../properties/properties.js";

interface Batch {
  readonly label: string;
  readonly seed: number;
  readonly numRuns: number;
  readonly opts: GeneratorOptions;
}

/**
 * The ops of the third batch: the named shape, indexing and contraction ops, which the default
 * mix reaches rarely (dot, squeeze and unstack are its rarest ops) and whose pullbacks have the
 * most branches (privately summed letters, length-1 dims, dtype casts), with a few smooth
 * elementwise ops between them so that gradients are not constant.
 */
const STRUCTURAL_OPS: NonNullable<GeneratorOptions["ops"]> = [
  "dot", "concat", "stack", "unstack", "rename", "transpose", "expand_dims", "squeeze", "isel", "set", "inc",
  "cumsum", "values", "as_xtensor", "mul", "tanh", "exp", "sum",
];

export const MUTATION_BATCHES: readonly Batch[] = [
  { label: "small", seed: 0x6d75_7401, numRuns: 80, opts: { minSteps: 1, maxSteps: 3 } },
  { label: "default", seed: 0x6d75_7402, numRuns: 160, opts: {} },
  { label: "structural", seed: 0x6d75_7403, numRuns: 80, opts: { minSteps: 2, maxSteps: 5, ops: STRUCTURAL_OPS } },
];

/** The fixed case list: a pure function of the batches. */
export function mutationCases(batches: readonly Batch[] = MUTATION_BATCHES): { title: string; g: GeneratedCase }[] {
  return batches.flatMap((b) =>
    fc.sample(caseArbitrary(b.opts), { seed: b.seed, numRuns: b.numRuns }).map((g, i) => ({
      title: `${b.label} #${i} (${g.case.nodes.map((n) => n.op).join(" ")})`,
      g,
    })),
  );
}

/**
 * The properties the suite runs on a schedule, a part per case: grad-composition (one claim
 * group of thirteen, on 39 of 64 cases), rewriter-contract (three of twelve scenarios, on an
 * eighth), checked-sensitivity (its corruptions, on an eighth) and positional-forms (on a
 * quarter; its forms are drawn per case, so more cases meet more of them). A nightly run meets each part
 * hundreds of times (a 10-minute run of ~25,000 cases runs each claim group ~1,200 times); the
 * 320 cases above meet each claim group about fifteen times and each scenario a few times, so
 * alone they under-measured the scheduled checks (mutants that one-compile's built pairs kill in
 * 3 to 55 of 150 cases survived them). The fourth batch runs each of these properties alone,
 * hence in full, on 40 more cases.
 */
export const SCHEDULED_PROPERTIES = ["grad-composition", "rewriter-contract", "checked-sensitivity", "positional-forms"] as const;
export const SCHEDULED_BATCH: Batch = { label: "scheduled in full", seed: 0x6d75_7404, numRuns: 40, opts: {} };

const FULL = "__stryker__" in globalThis || process.env.XGRAD_MUTATION_FULL === "1";

describe("mutation: harness properties on fixed generated cases", function () {
  this.timeout(120_000);
  // The scheduled properties first: they kill most of the rewriter's mutants (checked mode's
  // promises, the normal forms), and Stryker stops a mutant at its first failing test, so a kill
  // there costs seconds instead of the whole list.
  for (const [i, { title, g }] of mutationCases([SCHEDULED_BATCH]).entries()) {
    if (!FULL && i % 8 !== 0) continue;
    for (const property of SCHEDULED_PROPERTIES) {
      it(`${title}: ${property}`, async () => {
        const { verdict } = await runProperties(g.case, { name: title, properties: [property] });
        const bad = verdict.checks.filter((k) => k.status === "fail" || k.status === "error");
        assert.ok(bad.length === 0, bad.map((k) => `${k.property} ${k.status}: ${k.reason ?? ""}`).join("\n"));
      });
    }
  }
  for (const [i, { title, g }] of mutationCases().entries()) {
    if (!FULL && i % 8 !== 0) continue;
    it(title, async () => {
      const { verdict } = await runProperties(g.case, { name: title });
      const bad = verdict.checks.filter((k) => k.status === "fail" || k.status === "error");
      assert.ok(bad.length === 0, bad.map((k) => `${k.property} ${k.status}: ${k.reason ?? ""}`).join("\n"));
    });
  }
});
