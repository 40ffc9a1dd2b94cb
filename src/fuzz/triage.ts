/**
 * Triage: what one case's outcome means. A case either produced a verdict (whose failing checks
 * become findings) or died in its worker (an exception escaping the runner, a hang, an
 * out-of-memory), which becomes one finding of property "harness". Every finding gets a
 * signature (property × failure class × first failing op kind × error class), the unit of
 * deduplication, shrinking and the regression corpus.
 */
import { PROPERTY_NAMES, signatureOf } from "../../properties/types.js";
import type { Check, FailureClass, Finding, PropertyName } from "../../properties/types.js";

/** How one case ended, as reported by the worker pool. */
export type CaseOutcome =
  | { readonly kind: "checked"; readonly checks: readonly Check[]; readonly ok: boolean }
  | { readonly kind: "crash"; readonly errorClass: string; readonly message: string; readonly stage?: PropertyName }
  | { readonly kind: "timeout"; readonly limitMs: number; readonly stage?: PropertyName }
  | { readonly kind: "oom"; readonly message: string; readonly stage?: PropertyName };

/** The triage part of a finding (everything but where the case came from). */
export type FindingCore = Pick<Finding, "property" | "failureClass" | "failingOp" | "errorClass" | "signature" | "reason">;

/** Error classes that mean a broken engine invariant rather than an ordinary exception. */
const INVARIANT_ERRORS = new Set(["InvariantError", "InconsistencyError"]);

const MAX_REASON = 600;

function clip(s: string): string {
  const one = s.replace(/\s*\n\s*/g, " ");
  return one.length > MAX_REASON ? `${one.slice(0, MAX_REASON - 1)}…` : one;
}

function core(property: PropertyName | "harness", failureClass: FailureClass, failingOp: string, errorClass: string, reason: string): FindingCore {
  const op = failingOp || "-";
  const err = errorClass || "-";
  return { property, failureClass, failingOp: op, errorClass: err, signature: signatureOf(property, failureClass, op, err), reason: clip(reason) };
}

/** The failure class of a failing or erroring check. */
export function failureClassOf(check: Check): FailureClass {
  if (check.errorClass !== undefined && INVARIANT_ERRORS.has(check.errorClass)) return "invariant";
  return check.status === "fail" ? "mismatch" : "crash";
}

/** The findings of one outcome: one per failing/erroring check, or one for a dead worker. */
export function findingsOf(outcome: CaseOutcome): FindingCore[] {
  switch (outcome.kind) {
    case "checked":
      return outcome.checks
        .filter((c) => c.status === "fail" || c.status === "error")
        .map((c) => {
          const errs = c.maxAbsErr !== undefined ? ` (max abs err ${c.maxAbsErr}, max rel err ${c.maxRelErr ?? "?"})` : "";
          return core(c.property, failureClassOf(c), c.failingOp ?? "", c.status === "error" ? c.errorClass ?? "Error" : c.errorClass ?? "", `${c.reason ?? c.status}${errs}`);
        });
    case "crash":
      return [core(outcome.stage ?? "harness", "crash", "", outcome.errorClass, outcome.message)];
    case "timeout":
      return [core(outcome.stage ?? "harness", "timeout", "", "", `no result within the per-case time limit of ${outcome.limitMs / 1000} s`)];
    case "oom":
      return [core(outcome.stage ?? "harness", "oom", "", "", outcome.message)];
  }
}

/**
 * A file name for a signature (`direct-vs-lowered/mismatch/rename/-` →
 * `direct-vs-lowered__mismatch__rename__-`). Readable and stable; the exact signature is also
 * kept inside the file (a case's `name`), so a lossy mapping never confuses two signatures.
 */
export function signatureFileStem(signature: string): string {
  return signature.replace(/\//g, "__").replace(/[^A-Za-z0-9._+=-]/g, "_");
}

/** A snippet for runners that cannot write one: replay the saved case file. */
export function fallbackSnippet(signature: string): string {
  return `// ${signature}\n// This case runner cannot write a TypeScript snippet; replay the case file instead:\n//   ${replayCommand("repro.json", signature)}\n`;
}

/** Checks a case text under the given properties (null: the full suite), e.g. through a worker pool. */
export type CheckCase = (caseText: string, properties: readonly PropertyName[] | null) => Promise<CaseOutcome>;

/** The property a signature names (its first part), when it is one (not `harness`). */
export function signatureProperty(signature: string): PropertyName | null {
  const p = signature.split("/")[0];
  return (PROPERTY_NAMES as readonly string[]).includes(p) ? (p as PropertyName) : null;
}

/**
 * Check a saved case the way its signature was found: the full suite, then, when the property
 * the signature names did not fail there, that property alone, its check in place of the
 * suite's. Several properties run on a seeded share of the cases only within the suite
 * (positional-forms, checked-sensitivity, rewriter-contract, ...), and a shrunk case has another
 * seed than the case it came from, so the suite alone may skip the very property that failed
 * (seed 2121 case 3367's rewriter-contract finding, once shrunk, passed `xgrad check`). Run
 * alone, a property runs in full, a superset of its share of the suite.
 */
export async function checkSaved(caseText: string, signature: string | null, run: CheckCase): Promise<CaseOutcome> {
  const suite = await run(caseText, null);
  const property = signature === null ? null : signatureProperty(signature);
  if (property === null || suite.kind !== "checked" || findingsOf(suite).some((f) => f.property === property)) return suite;
  const alone = await run(caseText, [property]);
  if (alone.kind !== "checked") return alone;
  const checks = [...suite.checks.filter((k) => k.property !== property), ...alone.checks.filter((k) => k.property === property)];
  return { kind: "checked", checks, ok: suite.ok && alone.ok };
}

/** The command that replays a saved repro of `signature` (its property alone when it names one: see {@link checkSaved}). */
export function replayCommand(file: string, signature: string): string {
  const property = signatureProperty(signature);
  return `npx xgrad check ${file}${property === null ? "" : ` --properties ${property}`}`;
}
