/**
 * The pass database (PyTensor `optdb`): named graph passes at float positions, selected by tags,
 * and the `rewriteGraph` entry point.
 *
 * Positions of the passes in the architecture contract are reserved here, so that a pass
 * registered by another module cannot silently land at the wrong place. Passes built from node
 * rewriters contributed by many files (canonicalize, stabilize, specialize) are `NodeRewriterGroup`s:
 * their members are collected at registration and turned into an equilibrium at query time, so
 * the query sees rules registered after this module was loaded.
 */
import type { Variable } from "../graph/basic.js";
import { FunctionGraph } from "../graph/fgraph.js";
import { ancestors } from "../graph/traversal.js";
import { Constant } from "../graph/basic.js";
import type { Feature } from "../graph/features.js";
import { GraphError } from "../errors.js";
import { equilibrium, sequence, type GraphRewriter, type NodeRewriter, RewriteContext, type OnOptError } from "./engine.js";
import { CheckedFeature, pipelineMark, verifyModePasses, verifyPostconditions } from "./checked.js";
import { MergeOptimizer } from "./merge.js";
import { COPY_FREE_GROUPS, normalFormsOf, verifyNoNewCopy, verifyNormalForm } from "./normalform.js";

/** Compilation modes: which tags a query includes. */
export type Mode = "NONE" | "FAST_COMPILE" | "FAST_RUN";

/** The include tags of each mode. "required" passes (lowering, pullback expansion) always run. */
export const MODE_TAGS: Readonly<Record<Mode, readonly string[]>> = {
  NONE: ["required"],
  FAST_COMPILE: ["required", "fast_compile"],
  FAST_RUN: ["required", "fast_run"],
};

/** A tag query: a pass is selected when it has any `include` tag (or its name is listed) and no `exclude` tag. */
export interface Query {
  readonly include: readonly string[];
  readonly exclude?: readonly string[];
}

/** The tags of a query, for nested groups. */
function matches(name: string, tags: ReadonlySet<string>, q: Query): boolean {
  const inc = q.include.includes(name) || q.include.some((t) => tags.has(t));
  return inc && !(q.exclude ?? []).some((t) => t === name || tags.has(t));
}

/**
 * Node rewriters contributed by many files to one equilibrium pass (e.g. canonicalize). Each rule
 * has its own tags: FAST_COMPILE runs only the rules tagged "fast_compile".
 */
export class NodeRewriterGroup {
  private readonly rules: { rw: NodeRewriter; tags: Set<string> }[] = [];
  private readonly cleanup: GraphRewriter[] = [];
  constructor(
    readonly name: string,
    readonly maxUseRatio = 8,
  ) {}

  private changes = 0;

  /** Bumped by every change to the rules or cleanups (invalidates cached queries). */
  get version(): number {
    return this.changes;
  }

  /** Add a rule; it is tagged "fast_run" plus `tags`. Names must be unique within the group. */
  add(rw: NodeRewriter, tags: readonly string[] = []): void {
    if (this.rules.some((r) => r.rw.name === rw.name)) throw new GraphError(`${this.name}: a rewrite named "${rw.name}" is already registered`);
    this.rules.push({ rw, tags: new Set(["fast_run", ...tags]) });
    this.changes++;
  }

  /** Add a graph rewriter run after every successful rule (PyTensor's cleanup merge). */
  addCleanup(g: GraphRewriter): void {
    this.cleanup.push(g);
    this.changes++;
  }

  /** The registered rule names. */
  names(): string[] {
    return this.rules.map((r) => r.rw.name);
  }

  /**
   * An equilibrium over the rules selected by `q`. In checked mode it then verifies the group's
   * normal form (normalform.ts): the promises of the rules `q` should have selected, judged
   * independently of which rules the registration actually selected, and for stabilize and
   * specialize that the equilibrium made no copy to its input's own type. A run that recorded a
   * failed rewrite or a loop (under "warn"/"ignore") stopped short, so it promises nothing.
   */
  query(q: Query): GraphRewriter {
    const selected = this.rules.filter((r) => matches(r.rw.name, r.tags, q)).map((r) => r.rw);
    const eq = equilibrium(this.name, selected, { maxUseRatio: this.maxUseRatio, cleanup: this.cleanup });
    const forms = normalFormsOf(this.name, q);
    if (forms.length === 0) return eq;
    const group = this.name;
    const registered = new Set(this.names());
    return {
      ...eq,
      apply(fg, ctx) {
        const failures = ctx.report.failures.length;
        const loops = ctx.report.budgetExceeded.length;
        const before = ctx.checked && (COPY_FREE_GROUPS as readonly string[]).includes(group) ? new Set(fg.applyNodes) : null;
        eq.apply(fg, ctx);
        if (ctx.checked && ctx.report.failures.length === failures && ctx.report.budgetExceeded.length === loops) {
          verifyNormalForm(fg, group, q, forms, registered);
          if (before !== null) verifyNoNewCopy(fg, group, q, before);
        }
      },
    };
  }
}

interface Entry {
  readonly name: string;
  readonly position: number;
  readonly tags: Set<string>;
  readonly pass: GraphRewriter | NodeRewriterGroup;
}

/** Named passes at float positions, queried by tags into one sequential GraphRewriter. */
export class SequenceDB {
  private readonly entries = new Map<string, Entry>();
  private readonly reserved = new Map<string, number>();
  /**
   * Query results by query, with the registration state they were built from. Every compile
   * queries its mode; rebuilding the sequence each time also rebuilt each equilibrium's
   * rewriter-by-op-class index. The passes keep no state between applications (each `apply`
   * keeps its state in locals), so one instance serves every compile, nested ones included.
   */
  private readonly cache = new Map<string, { stamp: string; pass: GraphRewriter }>();
  private version = 0;

  /** Reserve `name` at `position`: a later `register` of that name must use that position. */
  reserve(name: string, position: number): void {
    this.reserved.set(name, position);
  }

  /**
   * Forget every built query: the next `query` rebuilds from the registrations. Nothing in the
   * engine needs it (registrations already invalidate the cache); it is for runners that change
   * the code under a live process, e.g. mutation testing, where a query built before a mutant was
   * switched on would hide the mutant from every later test.
   */
  clearCache(): void {
    this.cache.clear();
  }

  /** Register a pass. Names are unique; a reserved name must use its reserved position. */
  register(name: string, position: number, tags: readonly string[], pass: GraphRewriter | NodeRewriterGroup): void {
    if (this.entries.has(name)) throw new GraphError(`SequenceDB: a pass named "${name}" is already registered`);
    const r = this.reserved.get(name);
    if (r !== undefined && r !== position) throw new GraphError(`SequenceDB: pass "${name}" is reserved at position ${r}, not ${position}`);
    if (!Number.isFinite(position)) throw new GraphError(`SequenceDB: pass "${name}" has a non-finite position ${position}`);
    this.entries.set(name, { name, position, tags: new Set(tags), pass });
    this.version++;
  }

  /** True when a pass of that name is registered. */
  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The registered group of that name (to add rules to it). */
  group(name: string): NodeRewriterGroup {
    const e = this.entries.get(name);
    if (e === undefined || !(e.pass instanceof NodeRewriterGroup)) throw new GraphError(`SequenceDB: no node-rewriter group named "${name}"`);
    return e.pass;
  }

  /** Registered passes sorted by (position, name). */
  list(): { name: string; position: number; tags: string[] }[] {
    return this.sorted().map((e) => ({ name: e.name, position: e.position, tags: [...e.tags] }));
  }

  private sorted(): Entry[] {
    return [...this.entries.values()].sort((a, b) => a.position - b.position || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The selected passes, in position order, as one GraphRewriter. */
  query(q: Query): GraphRewriter {
    const key = JSON.stringify([q.include, q.exclude ?? []]);
    let stamp = String(this.version);
    for (const e of this.entries.values()) if (e.pass instanceof NodeRewriterGroup) stamp += `,${e.pass.version}`;
    const hit = this.cache.get(key);
    if (hit !== undefined && hit.stamp === stamp) return hit.pass;
    const pass = this.build(q);
    this.cache.set(key, { stamp, pass });
    return pass;
  }

  private build(q: Query): GraphRewriter {
    const selected = this.sorted().filter((e) => matches(e.name, e.tags, q));
    const passes = selected.map((e) => (e.pass instanceof NodeRewriterGroup ? e.pass.query(q) : e.pass));
    // Passes are recorded under their registered names (checked mode's pass-list promise).
    return sequence(`query(${q.include.join(",")})`, passes, selected.map((e) => e.name));
  }
}

/** The global pass database. */
export const optdb = new SequenceDB();

/** The positions reserved by the architecture contract. */
export const RESERVED_POSITIONS: Readonly<Record<string, number>> = {
  merge1: 0,
  expand_pullback: 0.089,
  lower_xtensor: 0.09,
  canonicalize: 1,
  stabilize: 1.5,
  specialize: 2,
  elemwise_fusion: 49,
  merge2: 49.9,
  inplace: 50.5,
  merge3: 100,
};
for (const [n, p] of Object.entries(RESERVED_POSITIONS)) optdb.reserve(n, p);
optdb.register("merge1", 0, ["fast_run", "fast_compile", "merge"], new MergeOptimizer("merge1"));
// As in PyTensor (merge1.1 at 0.65, in FAST_COMPILE too): lowering makes equal nodes (every use
// of a named input gets its own TensorFromXTensor), and FAST_COMPILE has no merge2, so without
// it that mode's graph kept them, breaking its merge promise (found by rewrite-soundness's
// FAST_COMPILE stage). PyTensor's merge1.2 (after canonicalize) has nothing to do here:
// canonicalize's cleanup merge runs after every rule that fires, and no pass runs between.
optdb.register("merge1.1", 0.65, ["fast_run", "fast_compile", "merge"], new MergeOptimizer("merge1.1"));
const canonicalize = new NodeRewriterGroup("canonicalize");
// PyTensor runs a merge after every canonicalization so that equal subexpressions meet the rules together.
canonicalize.addCleanup(new MergeOptimizer("canonicalize_merge"));
optdb.register("canonicalize", 1, ["fast_run", "fast_compile"], canonicalize);
optdb.register("stabilize", 1.5, ["fast_run"], new NodeRewriterGroup("stabilize"));
optdb.register("specialize", 2, ["fast_run"], new NodeRewriterGroup("specialize"));
optdb.register("merge2", 49.9, ["fast_run", "merge"], new MergeOptimizer("merge2"));
// As in PyTensor (merge3 at 100): the inplace pass gives update ops fresh copies of a shared
// zero Alloc, and this merge meets those copies. Each is destroyed, so the guard of PR #2355
// skips them; it still merges a copy back into a buffer that only one node destroys, when
// validation finds a schedule (the readers first).
optdb.register("merge3", 100, ["fast_run", "merge"], new MergeOptimizer("merge3"));

/** Register a pass in the global `optdb`. */
export function register(name: string, position: number, tags: readonly string[], rewriter: GraphRewriter | NodeRewriterGroup): void {
  optdb.register(name, position, tags, rewriter);
}

/** Add a rule to canonicalize; tag it "fast_compile" to run it in FAST_COMPILE too. */
export function registerCanonicalize(rw: NodeRewriter, tags: readonly string[] = []): void {
  optdb.group("canonicalize").add(rw, tags);
}

/** Add a rule to stabilize. */
export function registerStabilize(rw: NodeRewriter, tags: readonly string[] = []): void {
  optdb.group("stabilize").add(rw, tags);
}

/** Add a rule to specialize. */
export function registerSpecialize(rw: NodeRewriter, tags: readonly string[] = []): void {
  optdb.group("specialize").add(rw, tags);
}

/** Options of {@link rewriteGraph}. */
export interface RewriteGraphOptions {
  /** Pass names or tags to run; overrides `mode`. */
  readonly include?: readonly string[];
  readonly exclude?: readonly string[];
  /** Default "FAST_RUN" when `include` is absent. */
  readonly mode?: Mode;
  /** Rewrite a copy (default true); with false the caller's nodes are rewired in place. */
  readonly clone?: boolean;
  readonly checked?: boolean;
  readonly onOptError?: OnOptError;
  /** A context to use (and read counters and the report from afterwards). */
  readonly ctx?: RewriteContext;
  /** Extra features to attach (e.g. a DestroyHandler). */
  readonly features?: readonly Feature[];
  /** The database to query (default `optdb`). */
  readonly db?: SequenceDB;
}

/**
 * Run the selected passes over `outputs` and return the rewritten outputs. The graph's inputs
 * are the non-constant roots of `outputs`; with `clone` (the default) the argument is never
 * mutated and the results are expressed over the same input variables.
 */
export function rewriteGraph(outputs: readonly Variable[], opts: RewriteGraphOptions = {}): Variable[] {
  const inputs = ancestors(outputs).filter((v) => v.owner === null && !(v instanceof Constant));
  const ctx = opts.ctx ?? new RewriteContext({ onOptError: opts.onOptError, checked: opts.checked });
  const features: Feature[] = [...(opts.features ?? [])];
  if (ctx.checked) features.push(new CheckedFeature());
  const fg = new FunctionGraph(inputs, outputs, { clone: opts.clone ?? true, features });
  const q: Query = opts.include !== undefined ? { include: opts.include, exclude: opts.exclude } : { include: MODE_TAGS[opts.mode ?? "FAST_RUN"], exclude: opts.exclude };
  const pass = (opts.db ?? optdb).query(q);
  pass.addRequirements?.(fg);
  const mark = pipelineMark(ctx);
  pass.apply(fg, ctx);
  if (ctx.checked) {
    // A mode's pipeline (not an explicit pass list) also promises which passes run.
    if (opts.include === undefined && opts.db === undefined) verifyModePasses(opts.mode ?? "FAST_RUN", opts.exclude ?? [], ctx, mark);
    verifyPostconditions(fg, q);
  }
  return [...fg.outputs];
}
