/**
 * The data shapes shared by the properties, the CLI, the fuzz runner and the report renderers.
 * `Verdict` is exactly the `xgrad-verdict/1` object of shared/spec/case-format.md; other tools
 * read it, so its fields are a stable interface.
 */

/** A check's outcome. Only `fail` and `error` make a verdict not ok. */
export type CheckStatus = "pass" | "fail" | "inconclusive" | "error";

/** The property names, as they appear in verdicts, findings, signatures and reports. */
export const PROPERTY_NAMES = [
  "direct-vs-lowered",
  "perNode-vs-lowered",
  "direct-vs-finiteDiff",
  "direct-vs-tfjs",
  "rewrite-soundness",
  "second-order",
  "pushforward-duality",
  "forward-vs-tfjs",
  "grad-composition",
  "kink-conventions",
  "shape-erasure",
  "checked-sensitivity",
  "rewriter-contract",
  "positional-forms",
] as const;

/** One property's name. */
export type PropertyName = (typeof PROPERTY_NAMES)[number];

/** One check in a verdict. */
export interface Check {
  readonly property: PropertyName;
  readonly status: CheckStatus;
  /** Why: required for inconclusive, fail and error. */
  readonly reason?: string;
  readonly maxAbsErr?: number;
  readonly maxRelErr?: number;
  /** For `error`: the error's class name (e.g. "InvariantError"). */
  readonly errorClass?: string;
  /** The op kind first implicated (for signatures), e.g. "rename" or "Elemwise{mul}". */
  readonly failingOp?: string;
}

/** A value in a verdict: flat C-order data; positional tensors have no dims. */
export interface ArrayValue {
  readonly dims?: readonly string[];
  readonly shape: readonly number[];
  readonly dtype: string;
  readonly data: readonly number[];
}

/** Gradient paths in a verdict's `grads`. */
export type GradPath = "direct" | "perNode" | "lowered" | "finiteDiff" | "tfjs";

/** The `xgrad check --json` verdict (`xgrad-verdict/1`). */
export interface Verdict {
  readonly format: "xgrad-verdict/1";
  readonly case: string;
  readonly values: Readonly<Record<string, ArrayValue>>;
  readonly grads: Partial<Readonly<Record<GradPath, Readonly<Record<string, ArrayValue>>>>>;
  readonly checks: readonly Check[];
  readonly ok: boolean;
}

/** How a finding failed. */
export type FailureClass = "mismatch" | "invariant" | "crash" | "timeout" | "oom";

/** One failing case found by a fuzz run (one line of findings.jsonl). */
export interface Finding {
  /** Index of the case in the run's seed stream. */
  readonly index: number;
  /** The run seed and the fast-check path that regenerate the case. */
  readonly seed: number;
  readonly path: string;
  readonly property: PropertyName | "harness";
  readonly failureClass: FailureClass;
  readonly failingOp: string;
  readonly errorClass: string;
  /** property × failure class × first failing op kind × error class. */
  readonly signature: string;
  readonly reason: string;
  /** The case JSON (as written by writeCase). */
  readonly case: string;
}

/** The signature of a failure: property × failure class × first failing op kind × error class. */
export function signatureOf(property: string, failureClass: FailureClass, failingOp: string, errorClass: string): string {
  return `${property}/${failureClass}/${failingOp || "-"}/${errorClass || "-"}`;
}
