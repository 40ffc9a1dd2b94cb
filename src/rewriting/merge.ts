/**
 * Common-subexpression merging (PyTensor `MergeFeature` + `MergeOptimizer`, §8.4).
 *
 * The feature keeps an index of nodes keyed by (op hash, input identities), updated from the
 * graph's callbacks, so finding a duplicate is a hash lookup rather than a scan of clients
 * (merging is O(n) per pass, not O(n²)). The optimizer merges only through
 * `fg.replaceAllValidate`, so every feature, the DestroyHandler included, sees each merge.
 */
import { type Apply, Constant, type Variable } from "../graph/basic.js";
import { type FunctionGraph, isOutputNode } from "../graph/fgraph.js";
import type { Feature } from "../graph/features.js";
import { toposort } from "../graph/traversal.js";
import { InconsistencyError } from "../errors.js";
import { type GraphRewriter, type RewriteContext, findChecker } from "./engine.js";
import { DestroyHandler } from "./destroyhandler.js";

type Scheduled = { readonly kind: "node"; readonly node: Apply; readonly cands: readonly Apply[] } | { readonly kind: "const"; readonly c: Constant; readonly keep: Constant };

function nodeKey(node: Apply): string {
  let k = node.op.hash() + "|";
  for (const v of node.inputs) k += v.id + ",";
  return k;
}

function sameInputs(a: Apply, b: Apply): boolean {
  if (a.inputs.length !== b.inputs.length) return false;
  for (let i = 0; i < a.inputs.length; i++) if (a.inputs[i] !== b.inputs[i]) return false;
  return true;
}

/** Finds merge candidates as the graph changes; attached by `MergeOptimizer.addRequirements`. */
export class MergeFeature implements Feature {
  private readonly index = new Map<string, Apply[]>();
  private readonly keyOf = new Map<Apply, string>();
  private readonly constBySig = new Map<string, Constant>();
  private readonly blacklist = new Map<Apply, Set<Apply>>();
  /** Candidate merges, popped LIFO by the optimizer. */
  readonly scheduled: Scheduled[] = [];

  onAttach(fg: FunctionGraph): void {
    for (const n of toposort(fg.outputs, fg.inputs)) this.onImport(fg, n);
    for (const o of fg.outputs) if (o instanceof Constant) this.processConstant(fg, o);
  }

  onDetach(): void {
    this.index.clear();
    this.keyOf.clear();
    this.constBySig.clear();
    this.scheduled.length = 0;
  }

  onImport(fg: FunctionGraph, node: Apply): void {
    for (const v of node.inputs) if (v instanceof Constant) this.processConstant(fg, v);
    this.processNode(node);
  }

  onChangeInput(fg: FunctionGraph, node: Apply, _i: number, _old: Variable, newVar: Variable): void {
    if (newVar instanceof Constant) this.processConstant(fg, newVar);
    if (isOutputNode(node)) return;
    this.forget(node);
    this.processNode(node);
  }

  onPrune(_fg: FunctionGraph, node: Apply): void {
    this.forget(node);
  }

  clone(): MergeFeature {
    return new MergeFeature();
  }

  /** Never retry merging this pair (it failed validation). */
  blacklistPair(a: Apply, b: Apply): void {
    for (const [x, y] of [
      [a, b],
      [b, a],
    ]) {
      let s = this.blacklist.get(x);
      if (s === undefined) this.blacklist.set(x, (s = new Set()));
      s.add(y);
    }
  }

  /** Forget every blacklisted pair (at the end of a merge pass, as PyTensor does). */
  clearBlacklist(): void {
    this.blacklist.clear();
  }

  /** True when merging `a` and `b` already failed validation in this pass. */
  isBlacklisted(a: Apply, b: Apply): boolean {
    return this.blacklist.get(a)?.has(b) ?? false;
  }

  /**
   * Schedule `c` again against the current canonical constant of its signature. Used when the
   * constant a scheduled merge pointed at has left the graph: dropping the entry would leave `c`
   * and every other constant scheduled against the departed one unmerged for good.
   */
  rescheduleConstant(fg: FunctionGraph, c: Constant): void {
    this.processConstant(fg, c);
  }

  private processConstant(fg: FunctionGraph, c: Constant): void {
    const sig = c.signature();
    const keep = this.constBySig.get(sig);
    // A canonical constant that left the graph is stale: the newcomer takes its place.
    if (keep === undefined || keep === c || !fg.variables.has(keep)) {
      this.constBySig.set(sig, c);
      return;
    }
    this.scheduled.push({ kind: "const", c, keep });
  }

  private processNode(node: Apply): void {
    const key = nodeKey(node);
    let bucket = this.index.get(key);
    if (bucket === undefined) this.index.set(key, (bucket = []));
    const cands = bucket.filter((c) => c !== node && c.op.equals(node.op) && !this.isBlacklisted(node, c));
    if (cands.length > 0) this.scheduled.push({ kind: "node", node, cands });
    bucket.push(node);
    this.keyOf.set(node, key);
  }

  private forget(node: Apply): void {
    const key = this.keyOf.get(node);
    if (key === undefined) return;
    this.keyOf.delete(node);
    const bucket = this.index.get(key) as Apply[];
    const k = bucket.indexOf(node);
    if (k >= 0) bucket.splice(k, 1);
    if (bucket.length === 0) this.index.delete(key);
  }
}

/** Counters of one `MergeOptimizer.apply`. */
export interface MergeStats {
  merged: number;
  /** Merges rejected by validation (reverted and blacklisted). */
  failed: number;
  /** Pairs skipped because both sides are directly destroyed (the PR #2355 guard). */
  skippedDestroyed: number;
  /** Pairs skipped because neither type refines the other. */
  skippedIncomparable: number;
}

/** Options of {@link MergeOptimizer}. */
export interface MergeOptions {
  /**
   * Skip a pair when both variables have a direct destroyer (default true). Merging them would
   * give one buffer two destroyers, which validation always rejects; PyTensor's guard was dead
   * code before PR #2355, making each such pair a failed checkpoint/validate/revert cycle.
   * Turning it off exists only to demonstrate that cost in tests.
   */
  readonly guardDestroyed?: boolean;
}

/**
 * Merge equal nodes with identical inputs and equal constants.
 *
 * The schedule is popped newest first; a node tries its candidates (the equal nodes imported
 * before it) in import order, replacing itself by the first one validation accepts. A refused
 * merge is reverted and blacklisted for the rest of the pass (its revert re-imports the node,
 * which schedules the same pair again), and the node goes on to its next candidate.
 */
export class MergeOptimizer implements GraphRewriter {
  /** Counters of the last `apply`. */
  lastStats: MergeStats = { merged: 0, failed: 0, skippedDestroyed: 0, skippedIncomparable: 0 };
  private readonly guardDestroyed: boolean;

  constructor(
    readonly name = "merge",
    opts: MergeOptions = {},
  ) {
    this.guardDestroyed = opts.guardDestroyed ?? true;
  }

  addRequirements(fg: FunctionGraph): void {
    if (fg.getFeature(MergeFeature) === undefined) fg.attachFeature(new MergeFeature());
  }

  apply(fg: FunctionGraph, ctx: RewriteContext): void {
    this.addRequirements(fg);
    const mf = fg.getFeature(MergeFeature) as MergeFeature;
    const dh = fg.getFeature(DestroyHandler);
    const stats: MergeStats = { merged: 0, failed: 0, skippedDestroyed: 0, skippedIncomparable: 0 };
    this.lastStats = stats;
    // Checked mode judges every attempt: a merge validation must reject is a wasted cycle.
    const checker = ctx.checked ? findChecker(fg) : undefined;
    const attempt = (pairs: [Variable, Variable][], node: Apply): "ok" | "rejected" | "error" => {
      checker?.beforeMerge(fg, this.name, pairs);
      try {
        fg.replaceAllValidate(pairs, this.name);
      } catch (e) {
        if (e instanceof InconsistencyError) {
          stats.failed++;
          return "rejected";
        }
        ctx.fail(this.name, node, e);
        return "error";
      }
      stats.merged++;
      ctx.recordFired(this.name);
      return "ok";
    };
    try {
      while (mf.scheduled.length > 0) {
        const e = mf.scheduled.pop() as Scheduled;
        if (e.kind === "const") {
          if (e.c === e.keep || !fg.variables.has(e.c)) continue;
          if (!fg.variables.has(e.keep)) {
            mf.rescheduleConstant(fg, e.c);
            continue;
          }
          if (!e.c.type.equals(e.keep.type)) continue;
          const owner = fg.clients.get(e.c)?.[0]?.[0];
          if (owner === undefined) continue;
          attempt([[e.c, e.keep]], owner);
          continue;
        }
        const node = e.node;
        for (const cand of e.cands) {
          if (!fg.applyNodes.has(node)) break;
          if (!fg.applyNodes.has(cand) || !sameInputs(node, cand) || !node.op.equals(cand.op)) continue;
          // Checked again here: a rejected merge's revert re-imports the pruned node, which
          // re-schedules the very pair that just failed.
          if (mf.isBlacklisted(node, cand)) continue;
          let pairs: [Variable, Variable][] = node.outputs.map((o, k) => [o, cand.outputs[k]]);
          if (this.guardDestroyed && dh !== undefined && pairs.some(([a, b]) => dh.hasDirectDestroyer(a) && dh.hasDirectDestroyer(b))) {
            stats.skippedDestroyed++;
            continue;
          }
          // Keep the more specific static type (PR #405): replace the vaguer variable.
          const forward = pairs.every(([o, n]) => o.type.isSuper(n.type));
          if (!forward) {
            if (pairs.every(([o, n]) => n.type.isSuper(o.type))) pairs = pairs.map(([o, n]) => [n, o]);
            else {
              stats.skippedIncomparable++;
              continue;
            }
          }
          const r = attempt(pairs, node);
          if (r === "ok" || r === "error") break;
          mf.blacklistPair(node, cand);
        }
      }
    } finally {
      mf.clearBlacklist();
    }
  }
}
