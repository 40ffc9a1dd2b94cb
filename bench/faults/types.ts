/**
 * The fault zoo's data model. A fault is a handful of exact-text edits to files under `src/`
 * (anchored on stable code: the body of a pullback, a lowering, a rewrite guard), plus what is
 * known about the smallest case that exposes it.
 */
import type { Case } from "../../src/case/format.js";

/** One edit: replace the single occurrence of `find` in `file` (a path relative to the repo root) by `replace`. */
export interface Edit {
  readonly file: string;
  readonly find: string;
  readonly replace: string;
}

/** A re-created bug. */
export interface Fault {
  /** 1-based id, stable: `--only 3,7` selects by it. */
  readonly id: number;
  /** Short kebab-case name (folder and report key). */
  readonly slug: string;
  /** What it breaks, one sentence. */
  readonly breaks: string;
  /** Where the bug class comes from (PyTensor PR/issue, or the classic autodiff bug). */
  readonly origin: string;
  /** The edits to src/. Each `find` must occur exactly once in its file. */
  readonly edits: readonly Edit[];
  /**
   * The known-minimal trigger, hand-written: it must fail with the fault and pass without it
   * (checked by the runner before measuring). null when no case can reach the fault (see `probe`).
   */
  readonly trigger: Case | null;
  /** Node count of the known-minimal trigger (`trigger.nodes.length`), or null if no case reaches it. */
  readonly minNodes: number | null;
  /** The shape of the minimal case, in words (README). */
  readonly minimal: string;
  /** The properties expected to flag the trigger (documentation; the runner records what actually did). */
  readonly expectedBy: readonly string[];
  /**
   * For faults no case can exercise: a TypeScript module, run from the patched tree's root with
   * `node --import tsx`, that exits 1 when the fault is present and 0 when it is not.
   */
  readonly probe?: string;
  /** Anything a reader of the results must know (e.g. why the generator cannot reach it). */
  readonly note?: string;
}
