/**
 * The rewrite engine (PyTensor `graph/rewriting/basic.py`): node rewriters, graph rewriters, the
 * in-to-out / out-to-in walkers and the equilibrium loop.
 *
 * Every replacement goes through `fg.replaceAllValidate`, so a rewrite is applied completely or
 * not at all. Failures are routed through one policy (`onOptError`); an `InvariantError` is never
 * swallowed, whatever the policy, because it means the graph or a feature is corrupt and every
 * later result would be meaningless.
 */
import type { Apply, Variable } from "../graph/basic.js";
import type { OpClass } from "../graph/op.js";
import type { FunctionGraph } from "../graph/fgraph.js";
import type { Feature } from "../graph/features.js";
import { InvariantError } from "../errors.js";

/** What a node rewriter returns: one replacement per output (null = unused output), a map, or null for "no change". */
export type RewriteResult = readonly (Variable | null)[] | ReadonlyMap<Variable, Variable> | null;

/** A local rewrite of one node. `transform` must not mutate the graph: it returns replacements. */
export interface NodeRewriter {
  readonly name: string;
  /** The op classes this rewriter looks at; null = every node. */
  readonly tracks: readonly OpClass[] | null;
  /**
   * An optional cheap pre-filter: false promises that `transform` would return null (no
   * replacement) for this node. It must be a necessary condition of a replacement, read only
   * from the node, its inputs (their owners' ops included) and the graph, without side effects. The engine
   * then skips `transform` and, in checked mode, the verification after it: most transforms
   * change nothing, and each checked one costs a snapshot of the whole graph.
   */
  readonly matches?: (node: Apply, fg: FunctionGraph) => boolean;
  transform(fg: FunctionGraph, node: Apply): RewriteResult;
}

/** A whole-graph pass. */
export interface GraphRewriter {
  readonly name: string;
  /**
   * The names this pass records in `RewriteContext.fired` (its node rules, or its own name).
   * Coverage reports list the never-fired ones, so it must name exactly what can fire.
   */
  readonly ruleNames?: readonly string[];
  /** Attach the features this pass needs. Called for every pass of a sequence before any runs. */
  addRequirements?(fg: FunctionGraph): void;
  apply(fg: FunctionGraph, ctx: RewriteContext): void;
}

/** The names a graph rewriter can record as fired: its declared rules, else its own name. */
export function rulesOf(g: GraphRewriter): readonly string[] {
  return g.ruleNames ?? [g.name];
}

/**
 * Checked mode, after a pass of a sequence: every name whose count it raised in `ctx.fired` is
 * one of its declared rule names (`rulesOf`). Coverage reports list the declared names and mark
 * the unfired ones, so a firing recorded under another name would be counted under a rule no
 * report lists while its real rule read as never fired.
 *
 * @throws InvariantError naming the pass, the recorded name and the declared ones.
 */
export function verifyFiredNames(pass: GraphRewriter, label: string, before: ReadonlyMap<string, number>, ctx: RewriteContext): void {
  const declared = rulesOf(pass);
  for (const [name, n] of ctx.fired) {
    if (n === (before.get(name) ?? 0) || declared.includes(name)) continue;
    throw new InvariantError(
      `checked mode: pass ${label} recorded ${JSON.stringify(name)} as fired, which is not one of the rule names it declares ` +
        `(${declared.map((d) => JSON.stringify(d)).join(", ") || "none"}): coverage reports would count a rule they do not list`,
    );
  }
}

/** What to do when a rewrite throws or its replacement is rejected. */
export type OnOptError = "raise" | "warn" | "ignore";

/** One failed (and reverted) rewrite. */
export interface RewriteFailure {
  readonly rewrite: string;
  /** The node it was applied to, rendered, or "" for a graph pass. */
  readonly node: string;
  readonly error: Error;
}

/** The failures collected under `onOptError: "warn"` (and "ignore"). */
export class RewriteReport {
  readonly failures: RewriteFailure[] = [];
  /** Equilibrium loops that hit their use budget (reported, not thrown, under "warn"). */
  readonly budgetExceeded: string[] = [];
}

/** Options of {@link RewriteContext}. */
export interface RewriteContextOptions {
  readonly onOptError?: OnOptError;
  /** Checked mode: verify the graph after every transform and every replacement. */
  readonly checked?: boolean;
}

/** Shared state of one rewriting run: error policy, checked flag, fired counters, report. */
export class RewriteContext {
  readonly onOptError: OnOptError;
  readonly checked: boolean;
  /** rewrite name → number of successful applications (the harness's rewrite coverage). */
  readonly fired = new Map<string, number>();
  readonly report = new RewriteReport();
  /** The passes of a sequence that ran to completion, in order (checked mode's pass-list promise). */
  readonly passesRun: string[] = [];

  constructor(opts: RewriteContextOptions = {}) {
    this.onOptError = opts.onOptError ?? "raise";
    this.checked = opts.checked ?? false;
  }

  /** Count one successful application of `name`. */
  recordFired(name: string, n = 1): void {
    this.fired.set(name, (this.fired.get(name) ?? 0) + n);
  }

  /**
   * Route a failure: rethrow under "raise" (and always for InvariantError), otherwise record it.
   * The message is prefixed once with the rewrite and node so a raised error names them.
   */
  fail(rewrite: string, node: Apply | null, error: unknown): void {
    const err = error instanceof Error ? error : new Error(String(error));
    // Node-level failures are prefixed at every nesting level (an outer rewrite whose transform
    // ran a nested rewrite reads "rewrite outer on N: rewrite inner on M: ..."); pass-level
    // wrappers add nothing to an error that already names its rewrite.
    if (node !== null || !named.has(err)) {
      const prefix = `rewrite ${node === null ? rewrite : `${rewrite} on ${node.toString()}`}: `;
      if (!err.message.startsWith(prefix)) err.message = prefix + err.message;
      named.add(err);
    }
    if (err instanceof InvariantError || this.onOptError === "raise") throw err;
    this.report.failures.push({ rewrite, node: node === null ? "" : node.toString(), error: err });
    if (this.onOptError === "warn") process.emitWarning(err.message, { code: "XGRAD_REWRITE_FAILED" });
  }
}

/** Errors whose message already names their rewrite (so nested engines don't prefix twice). */
const named = new WeakSet<Error>();

/** The checked-mode hook the engine calls; implemented by `CheckedFeature` (checked.ts). */
export interface TransformChecker {
  /** Called after every `transform`, whether or not it returned replacements. */
  afterTransform(fg: FunctionGraph, rewrite: string, node: Apply): void;
  /** Called before a node rewrite's replacements, so later failures can name the node. */
  beforeReplace(rewrite: string, node: Apply): void;
  /** Called by a merge pass before it tries to merge each `[old, new]` pair (checked.ts judges the attempt). */
  beforeMerge(fg: FunctionGraph, pass: string, pairs: readonly (readonly [Variable, Variable])[]): void;
}

/** The graph's checked-mode hook, if checked mode attached one. */
export function findChecker(fg: FunctionGraph): TransformChecker | undefined {
  for (const f of fg.getFeatures()) {
    if (typeof (f as Partial<TransformChecker>).afterTransform === "function") return f as unknown as TransformChecker;
  }
  return undefined;
}

/**
 * Normalise a transform's result into replacement pairs, dropping identities.
 *
 * @throws InvariantError when a list has the wrong length, or marks a used output as unused.
 */
export function replacementPairs(fg: FunctionGraph, rw: NodeRewriter, node: Apply, result: RewriteResult): [Variable, Variable][] {
  if (result === null) return [];
  const pairs: [Variable, Variable][] = [];
  if (result instanceof Map) {
    for (const [o, n] of result as ReadonlyMap<Variable, Variable>) if (o !== n) pairs.push([o, n]);
    return pairs;
  }
  const list = result as readonly (Variable | null)[];
  if (list.length !== node.outputs.length) {
    throw new InvariantError(`${rw.name} on ${node.toString()}: returned ${list.length} replacements for ${node.outputs.length} outputs`);
  }
  list.forEach((n, j) => {
    const o = node.outputs[j];
    if (n === null) {
      if ((fg.clients.get(o)?.length ?? 0) > 0) throw new InvariantError(`${rw.name} on ${node.toString()}: output ${j} is still used but was given no replacement`);
    } else if (n !== o) {
      pairs.push([o, n]);
    }
  });
  return pairs;
}

/**
 * Apply one node rewriter to one node: transform, then replace through `replaceAllValidate`.
 * Returns true when the graph changed. Failures go through `ctx.fail` (the graph is unchanged).
 */
export function applyNodeRewriter(fg: FunctionGraph, node: Apply, rw: NodeRewriter, ctx: RewriteContext): boolean {
  let result: RewriteResult;
  try {
    // A declined pre-filter: transform would change nothing, so there is nothing to verify.
    if (rw.matches !== undefined && !rw.matches(node, fg)) return false;
    result = rw.transform(fg, node);
  } catch (e) {
    if (ctx.checked) findChecker(fg)?.afterTransform(fg, rw.name, node);
    ctx.fail(rw.name, node, e);
    return false;
  }
  // A transform that rewired shared nodes (a nested in-place rewrite) is caught here, naming it.
  const checker = ctx.checked ? findChecker(fg) : undefined;
  checker?.afterTransform(fg, rw.name, node);
  let pairs: [Variable, Variable][];
  try {
    pairs = replacementPairs(fg, rw, node, result);
    if (pairs.length === 0) return false;
    checker?.beforeReplace(rw.name, node);
    fg.replaceAllValidate(pairs, rw.name);
  } catch (e) {
    ctx.fail(rw.name, node, e);
    return false;
  }
  ctx.recordFired(rw.name);
  return true;
}

/** Index node rewriters by the constructor of the op they track (cached per op class). */
class Tracker {
  private readonly byCtor = new Map<unknown, NodeRewriter[]>();
  constructor(private readonly rewriters: readonly NodeRewriter[]) {}
  get(node: Apply): NodeRewriter[] {
    const ctor = node.op.constructor;
    let list = this.byCtor.get(ctor);
    if (list === undefined) {
      list = this.rewriters.filter((r) => r.tracks === null || r.tracks.some((c) => node.op instanceof c));
      this.byCtor.set(ctor, list);
    }
    return list;
  }
}

/**
 * A temporary feature collecting newly imported nodes. They are handed to the walker only after
 * a rewrite succeeded: a rejected rewrite's revert re-imports the nodes it had pruned, and
 * queueing those again would retry the same failing rewrite forever.
 */
class ImportListener implements Feature {
  private pending: Apply[] = [];
  onImport(_fg: FunctionGraph, node: Apply): void {
    this.pending.push(node);
  }
  /** Move the still-live pending nodes into `queue` (when `keep`), and clear. */
  flush(fg: FunctionGraph, queue: Apply[], keep: boolean): void {
    if (keep) for (const n of this.pending) if (fg.applyNodes.has(n)) queue.push(n);
    this.pending = [];
  }
}

/** Counts input changes: tells the equilibrium loop whether a graph pass changed anything. */
class ChangeCounter implements Feature {
  changes = 0;
  onChangeInput(): void {
    this.changes++;
  }
}

/** Options of the walkers. */
export interface WalkerOptions {
  /** Do not visit nodes imported during the walk (default false: they are queued). */
  readonly ignoreNewtrees?: boolean;
  /** The pass name (for reports); default `inToOut(a,b)` / `outToIn(a,b)`. */
  readonly name?: string;
}

function walker(order: "in" | "out", rewriters: readonly NodeRewriter[], opts: WalkerOptions): GraphRewriter {
  const tracker = new Tracker(rewriters);
  const name = opts.name ?? `${order === "in" ? "inToOut" : "outToIn"}(${rewriters.map((r) => r.name).join(",")})`;
  return {
    name,
    ruleNames: rewriters.map((r) => r.name),
    apply(fg, ctx) {
      const queue = fg.toposort();
      let head = 0;
      const listener = opts.ignoreNewtrees ? null : new ImportListener();
      if (listener) fg.attachFeature(listener);
      try {
        while (head < queue.length) {
          // inToOut pops the front; outToIn pops the back, so new nodes are visited next.
          const node = order === "in" ? queue[head++] : (queue.pop() as Apply);
          for (const rw of tracker.get(node)) {
            if (!fg.applyNodes.has(node)) break;
            const ok = applyNodeRewriter(fg, node, rw, ctx);
            listener?.flush(fg, queue, ok);
          }
        }
      } finally {
        if (listener) fg.removeFeature(listener);
      }
    },
  };
}

/** A walker applying `rewriters` to each node from the inputs towards the outputs. */
export function inToOut(rewriters: readonly NodeRewriter[], opts: WalkerOptions = {}): GraphRewriter {
  return walker("in", rewriters, opts);
}

/** A walker applying `rewriters` to each node from the outputs towards the inputs. */
export function outToIn(rewriters: readonly NodeRewriter[], opts: WalkerOptions = {}): GraphRewriter {
  return walker("out", rewriters, opts);
}

/** Options of {@link equilibrium}. */
export interface EquilibriumOptions {
  /**
   * Each rewriter may fire at most `maxUseRatio × (largest node count seen)` times (default 8,
   * PyTensor's `optdb__max_use_ratio`). Exceeding it means two rewrites undo each other.
   */
  readonly maxUseRatio?: number;
  /** Do not revisit nodes imported during a sweep (default false). */
  readonly ignoreNewtrees?: boolean;
  /** Graph rewriters run after each successful node rewrite (e.g. a merge), as PyTensor's cleanup. */
  readonly cleanup?: readonly GraphRewriter[];
}

/** Thrown (under "raise") when an equilibrium rewriter exceeds its use budget. */
export class RewriteLoopError extends Error {
  override name = "RewriteLoopError";
}

function isGraphRewriter(r: NodeRewriter | GraphRewriter): r is GraphRewriter {
  return typeof (r as GraphRewriter).apply === "function";
}

/**
 * Apply node and graph rewriters until none changes the graph. Each sweep runs the graph
 * rewriters, then visits nodes outputs-first; nodes imported by a rewrite are visited next (LIFO).
 */
export function equilibrium(name: string, rewriters: readonly (NodeRewriter | GraphRewriter)[], opts: EquilibriumOptions = {}): GraphRewriter {
  const nodeRewriters = rewriters.filter((r): r is NodeRewriter => !isGraphRewriter(r));
  const graphRewriters = rewriters.filter(isGraphRewriter);
  const cleanup = opts.cleanup ?? [];
  const tracker = new Tracker(nodeRewriters);
  const maxUseRatio = opts.maxUseRatio ?? 8;
  return {
    name,
    ruleNames: [...nodeRewriters.map((r) => r.name), ...[...graphRewriters, ...cleanup].flatMap(rulesOf)],
    addRequirements(fg) {
      for (const g of [...graphRewriters, ...cleanup]) g.addRequirements?.(fg);
    },
    apply(fg, ctx) {
      const uses = new Map<string, number>();
      let maxNodes = Math.max(1, fg.applyNodes.size);
      const counter = new ChangeCounter();
      fg.attachFeature(counter);
      const overBudget = (rw: string): boolean => {
        const n = (uses.get(rw) ?? 0) + 1;
        uses.set(rw, n);
        if (n <= maxUseRatio * maxNodes) return false;
        const msg = `equilibrium ${name}: rewriter "${rw}" fired ${n} times on a graph of at most ${maxNodes} nodes (maxUseRatio ${maxUseRatio}); it probably loops with another rewrite`;
        if (ctx.onOptError === "raise") throw new RewriteLoopError(msg);
        ctx.report.budgetExceeded.push(msg);
        if (ctx.onOptError === "warn") process.emitWarning(msg, { code: "XGRAD_REWRITE_LOOP" });
        return true;
      };
      const runGraph = (g: GraphRewriter): boolean => {
        const before = counter.changes;
        try {
          g.apply(fg, ctx);
        } catch (e) {
          ctx.fail(g.name, null, e);
        }
        return counter.changes !== before;
      };
      try {
        let changed = true;
        while (changed) {
          changed = false;
          for (const g of graphRewriters) {
            if (runGraph(g)) {
              changed = true;
              if (overBudget(g.name)) return;
            }
          }
          const queue = fg.toposort();
          const listener = opts.ignoreNewtrees ? null : new ImportListener();
          if (listener) fg.attachFeature(listener);
          try {
            while (queue.length > 0) {
              const node = queue.pop() as Apply;
              for (const rw of tracker.get(node)) {
                if (!fg.applyNodes.has(node)) break;
                const ok = applyNodeRewriter(fg, node, rw, ctx);
                listener?.flush(fg, queue, ok);
                if (!ok) continue;
                changed = true;
                maxNodes = Math.max(maxNodes, fg.applyNodes.size);
                if (overBudget(rw.name)) return;
                for (const c of cleanup) {
                  runGraph(c);
                  listener?.flush(fg, queue, true);
                }
              }
            }
          } finally {
            if (listener) fg.removeFeature(listener);
          }
        }
      } finally {
        fg.removeFeature(counter);
      }
    },
  };
}

/** Run `passes` in order; requirements of every pass are attached before the first runs. */
export function sequence(name: string, passes: readonly GraphRewriter[], labels: readonly string[] = passes.map((p) => p.name)): GraphRewriter {
  return {
    name,
    ruleNames: passes.flatMap(rulesOf),
    addRequirements(fg) {
      for (const p of passes) p.addRequirements?.(fg);
    },
    apply(fg, ctx) {
      for (const [i, p] of passes.entries()) {
        const before = ctx.checked ? new Map(ctx.fired) : null;
        try {
          p.apply(fg, ctx);
          ctx.passesRun.push(labels[i]);
        } catch (e) {
          ctx.fail(p.name, null, e);
        }
        if (before !== null) verifyFiredNames(p, labels[i], before, ctx);
      }
    },
  };
}

/**
 * Convenience: a NodeRewriter from a name, tracked classes, a transform function and an optional
 * pre-filter (see {@link NodeRewriter.matches}).
 */
export function nodeRewriter(
  name: string,
  tracks: readonly OpClass[] | null,
  transform: (fg: FunctionGraph, node: Apply) => RewriteResult,
  matches?: (node: Apply, fg: FunctionGraph) => boolean,
): NodeRewriter {
  return matches === undefined ? { name, tracks, transform } : { name, tracks, transform, matches };
}

/** A pre-filter: input `i` of the node is computed by an op of class `cls`. */
export function inputOwnedBy(cls: OpClass, i = 0): (node: Apply) => boolean {
  return (node) => {
    const o = node.inputs[i]?.owner;
    return o !== null && o !== undefined && o.op instanceof cls;
  };
}
