/**
 * FunctionGraph features (PyTensor `graph/features.py`): listeners that see every import, prune
 * and input change of a graph, in attach order, and may veto a state in `onValidate`.
 *
 * `ReplaceValidate` is the transaction primitive of every rewrite: checkpoint, replace, validate,
 * and revert on any failure, so that a rejected rewrite is never half-applied.
 */
import type { Apply, Variable } from "./basic.js";
import type { FunctionGraph } from "./fgraph.js";
import { GraphError, InvariantError } from "../errors.js";

/**
 * A graph listener. Every callback is optional. Within one `changeNodeInput`, callbacks arrive
 * as: `onImport` for each newly imported node (inputs first), then `onPrune` for each node that
 * died (after it left `applyNodes`, before its inputs are unlinked), then `onChangeInput`.
 * `onChangeInput` also fires for the graph's `Output` pseudo-nodes; `onImport`/`onPrune` never do.
 */
export interface Feature {
  /** Called once when attached; may throw `AlreadyThere` to decline silently. */
  onAttach?(fg: FunctionGraph): void;
  onDetach?(fg: FunctionGraph): void;
  onImport?(fg: FunctionGraph, node: Apply, reason: string): void;
  onChangeInput?(fg: FunctionGraph, node: Apply, i: number, oldVar: Variable, newVar: Variable, reason: string): void;
  onPrune?(fg: FunctionGraph, node: Apply, reason: string): void;
  /** Throw (e.g. `InconsistencyError`) to reject the current state of the graph. */
  onValidate?(fg: FunctionGraph): void;
  /** Extra scheduling constraints: node → nodes that must run before it. */
  orderings?(fg: FunctionGraph): ReadonlyMap<Apply, Iterable<Apply>>;
  /** A fresh, unattached copy for `FunctionGraph.clone` (features without one are dropped). */
  clone?(): Feature;
}

/** Thrown by `onAttach` to decline attaching (e.g. a second DestroyHandler). Not an error. */
export class AlreadyThere extends Error {
  override name = "AlreadyThere";
}

interface LogEntry {
  readonly node: Apply;
  readonly i: number;
  readonly oldVar: Variable;
  readonly reason: string;
}

/**
 * Records input changes so they can be undone. Checkpoints nest and are strictly LIFO: only the
 * innermost open checkpoint may be reverted or released. The log is kept only while a checkpoint
 * is open, so a long compilation does not accumulate history.
 */
export class History implements Feature {
  private log: LogEntry[] = [];
  private readonly open: { id: number; at: number }[] = [];
  private nextId = 0;
  private replaying = false;

  onChangeInput(_fg: FunctionGraph, node: Apply, i: number, oldVar: Variable, _newVar: Variable, reason: string): void {
    if (this.replaying || this.open.length === 0) return;
    this.log.push({ node, i, oldVar, reason });
  }

  onDetach(): void {
    this.log = [];
    this.open.length = 0;
  }

  /** Open a checkpoint; returns its token. */
  checkpoint(): number {
    const id = this.nextId++;
    this.open.push({ id, at: this.log.length });
    return id;
  }

  private top(what: string, chk: number): { id: number; at: number } {
    const top = this.open[this.open.length - 1];
    if (top === undefined || top.id !== chk) {
      throw new InvariantError(`History.${what}: checkpoint ${chk} is not the innermost open checkpoint (open: [${this.open.map((c) => c.id).join(", ")}])`);
    }
    return top;
  }

  /** Close checkpoint `chk` keeping its changes (they stay revertible by an enclosing checkpoint). */
  release(chk: number): void {
    this.top("release", chk);
    this.open.pop();
    if (this.open.length === 0) this.log = [];
  }

  /**
   * Undo every change since checkpoint `chk`, last first, through `changeNodeInput` with the type
   * check off (the old variable was accepted once; a refined type must not block the undo).
   * Pruned nodes are re-imported, so features hear `onImport` again. Closes the checkpoint.
   */
  revert(fg: FunctionGraph, chk: number): void {
    const top = this.top("revert", chk);
    this.replaying = true;
    try {
      while (this.log.length > top.at) {
        const e = this.log.pop() as LogEntry;
        fg.changeNodeInput(e.node, e.i, e.oldVar, `revert(${e.reason})`, { check: false });
      }
    } finally {
      this.replaying = false;
    }
    this.open.pop();
    if (this.open.length === 0) this.log = [];
  }

  clone(): History {
    return new History();
  }
}

/** Provides `validate` (fires every feature's `onValidate`) and `consistent`. */
export class Validator implements Feature {
  /** Throws what the first rejecting feature throws. */
  validate(fg: FunctionGraph): void {
    fg.validate();
  }

  /** True when `validate` passes. */
  consistent(fg: FunctionGraph): boolean {
    try {
      fg.validate();
      return true;
    } catch {
      return false;
    }
  }

  clone(): Validator {
    return new Validator();
  }
}

/**
 * History plus validation: the transaction every rewrite goes through. FunctionGraph attaches
 * one by default and exposes it as `fg.replaceAllValidate`, `fg.checkpoint`, `fg.revert`.
 */
export class ReplaceValidate extends History {
  /**
   * Apply every replacement, then validate; on any failure revert all of them and rethrow, so
   * the graph is exactly as before. When `remove` is given, each listed variable must have left
   * the graph (a `GraphError` otherwise, also reverted).
   */
  replaceAllValidate(fg: FunctionGraph, pairs: readonly (readonly [Variable, Variable])[], reason: string, remove: readonly Variable[] = []): void {
    const chk = this.checkpoint();
    try {
      for (const [o, n] of pairs) fg.replace(o, n, reason);
      for (const v of remove) {
        if (fg.variables.has(v)) throw new GraphError(`${reason}: replacement did not remove ${v.toString()}`);
      }
      fg.validate();
    } catch (e) {
      try {
        this.revert(fg, chk);
      } catch (e2) {
        // The graph is now in an unknown state: that is a bug, and it must not be masked.
        throw new InvariantError(`ReplaceValidate(${reason}): revert failed (${(e2 as Error).message}) after: ${(e as Error).message}`, { cause: e });
      }
      throw e;
    }
    this.release(chk);
  }

  /** Validate the graph (fires every feature's `onValidate`). */
  validate(fg: FunctionGraph): void {
    fg.validate();
  }

  override clone(): ReplaceValidate {
    return new ReplaceValidate();
  }
}
