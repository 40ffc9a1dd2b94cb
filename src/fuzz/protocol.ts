/**
 * Messages between the pool (parent) and a worker process, over the fork IPC channel.
 * The worker sends the generated case *before* checking it, so that a hang or an out-of-memory
 * during the check still leaves the parent with the case to report.
 */
import type { Check, PropertyName } from "../../properties/types.js";
import type { FeatureCounts } from "./runner.js";

/** A unit of work for a worker. */
export type Task =
  /** Generate case `index` of the seed stream, then check it. */
  | { readonly kind: "fuzz"; readonly seed: number; readonly index: number; readonly ops: readonly string[] | null; readonly properties: readonly PropertyName[] | null }
  /** Check a given case (replay). */
  | { readonly kind: "check"; readonly caseText: string; readonly properties: readonly PropertyName[] | null }
  /** Shrink a failing case keeping `signature` (when `minimise`), and write its snippet. */
  | { readonly kind: "shrink"; readonly caseText: string; readonly signature: string; readonly minimise: boolean; readonly origin?: ShrinkOrigin };

/** Where a fuzz case came from, so the runner can shrink its recipe before the graph. */
export interface ShrinkOrigin {
  /** The generation path (`caseFcSeed:0`) the finding recorded. */
  readonly path: string;
  /** The run's `--ops` filter (null: all ops). */
  readonly ops: readonly string[] | null;
}

export type ToWorker = { readonly t: "task"; readonly id: number; readonly task: Task } | { readonly t: "exit" };

export type FromWorker =
  | { readonly t: "ready"; readonly backend: string; readonly universe: Record<string, readonly string[]> }
  | { readonly t: "fatal"; readonly message: string }
  | { readonly t: "generated"; readonly id: number; readonly caseText: string; readonly path: string; readonly ops: readonly string[] }
  | { readonly t: "stage"; readonly id: number; readonly property: PropertyName }
  | { readonly t: "checked"; readonly id: number; readonly checks: readonly Check[]; readonly ok: boolean; readonly features: FeatureCounts }
  | { readonly t: "shrunk"; readonly id: number; readonly caseText: string; readonly snippet: string }
  | { readonly t: "error"; readonly id: number; readonly errorClass: string; readonly message: string };
