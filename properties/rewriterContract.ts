/**
 * The `rewriter-contract` property: the rewrite engine keeps its promises to the rewrites it
 * runs, on the case's real FAST_RUN graph.
 *
 * Every shipped rewrite is well behaved: it reaches a fixed point, returns a list, never an
 * identity, never a replacement validation refuses. So the engine's answers to rewrites that are
 * not (the loop budget of `equilibrium`, its `onOptError` routing, Map results, identity
 * results, a walker's visiting order and its revisits of imported nodes, the graph passes inside
 * an equilibrium) ran in no property, and mutation testing showed them unjudged: a budget that
 * never trips, a warning never emitted, a walker that never revisits a new node, an equilibrium
 * that never re-runs its graph passes all passed the whole suite. Each of those is a real way a
 * pipeline goes wrong for the people writing rewrites: a loop that hangs a compile instead of
 * naming the rewrite, a failure that disappears, a rewrite chain left half done.
 *
 * Each scenario runs on a fresh clone of rewrite-soundness's checked FAST_RUN graph (in-place
 * writes, views and a DestroyHandler that validates every replacement), with rewrites written
 * here that misbehave on purpose, on a seeded target node:
 *
 * | scenario | the rewrite | the engine must |
 * |---|---|---|
 * | `loop-budget` | an equilibrium rule that always replaces the target by a fresh copy (list or Map result; `maxUseRatio` 1 or 2; `onOptError` raise, warn or ignore; sometimes growing the graph by two nodes on its first firing) | stop it at exactly `maxUseRatio × nodes + 1` firings (nodes: the largest count seen), naming the equilibrium and the rule: a `RewriteLoopError` under raise, one recorded message under warn (and one `XGRAD_REWRITE_LOOP` warning) or ignore (no warning); the graph whole |
 * | `graph-pass` | a graph pass inside an equilibrium that changes the graph K times (1 to 3) then stops, or forever | run it exactly K + 1 times (the equilibrium re-sweeps while it changes anything); forever: the budget as above, naming the pass |
 * | `identity-result` | a rule that returns the target's own outputs (a list or a Map) | count nothing as fired and end after one sweep: no change, no loop |
 * | `walker-revisit` | a walker rule that replaces the target by a fresh copy, and that copy by another, K times (2 to 4) | visit every imported copy in the same walk (K firings), or only the first (1) with `ignoreNewtrees`; and visit in its order: `inToOut` a node after the nodes it reads, `outToIn` before them |
 * | `malformed-result` | a rule returning a list of the wrong length, or null for an output still read, under any `onOptError` | raise an InvariantError naming the rule, the node and the fault (a rewrite bug is never recorded as an ordinary failure), the graph unchanged |
 * | `failing-pass` | a sequence whose first pass throws, or runs a rule that throws, and whose second is fine, under any `onOptError` | name the failure once (a rule's own "rewrite R on N:" is not prefixed again), throw it under raise and stop; under warn or ignore record it once (a pass-level failure with no node), warn under warn only, and still run the later pass |
 * | `reject-revisit` | a rule, in a walker or an equilibrium, that makes the target write in place into a buffer of a graph input or output (validation refuses it; the revert re-imports the target), or whose transform throws, under "warn" or "ignore" | record one failure naming the rule and the protected variable (or the thrown message), emit one `XGRAD_REWRITE_FAILED` warning under warn and none under ignore, leave the graph as it was, and not visit the target again |
 * | `inplace-veto` | the inplace pass on two clones of the graph before it (everything else in FAST_RUN run), the second with validation also refusing one to three of the writes the first made (the whole node, or only the input it chose; a node with another writable input first); sometimes with no DestroyHandler attached | end as the first clone did, less exactly the refused writes: a refused node left out of place, or on another input, and then only if no other input the in-place contract allows and validation accepts was left untried; nothing thrown or recorded; stats and rewrite counts that match the writes in the graph, at least one rejection counted; a DestroyHandler attached |
 * | `merge-veto` | a node T read through two or three slots given a fresh equal copy V on one reader (and another, C, on a second, sometimes recording a vaguer static type), validation refusing to merge V into T | a refusal is reverted, never retried in the pass, and the node goes on to its next candidate (the schedule is popped newest first, candidates in import order): with C, T alone is left after two merges and one refusal; with a vaguer C, C is replaced by V (the more specific type is kept), leaving T and V; without C, T and V after one refusal; nothing thrown or recorded |
 * | `merge-destroyed` | a node P overwritten in place by D gets a fresh copy P', overwritten by a copy of D given to one reader (PR #2355's pair), merge's guard on or off, in checked mode or not | with the guard, the pair skipped without a validation (skippedDestroyed 1); without, refused once by validation (failed 1) and not retried, or, in checked mode, stopped before validation by an InvariantError naming the merge_guard promise, both values and both writers; both pairs of nodes left, and checked mode's merge promise exempting them |
 * | `merge-one-destroyed` | a node P overwritten in place by D gets a fresh copy P' read by one reader; sometimes a veto refuses the merge for the pass's duration | the guard does not skip it; merged exactly when validation accepts (asked in a checkpoint first), else refused once and both left; then, the veto gone, checked mode's merge promise: nothing after a merge, an Alloc pair whose merge validation refuses exempt, any other pair reported |
 * | `validation-verdicts` | one change per rule of the DestroyHandler's validation, each breaking only that rule, every one the graph allows: a copy of an in-place node given to a reader (two writers of one buffer), a write into a constant, a write into a buffer the node also reads through another input, a write into a graph input or output, a reader of an overwritten buffer that needs the writer's result | refuse each with an InconsistencyError whose message names the rule, the nodes and the buffer (restated: the exact text a failure report shows), count it under its decision path (`reject:*`), and leave the graph as it was |
 * | `fired-names` | a sequence of two passes, each replacing a node by a fresh copy and recording one firing: the second declares one rule name, two, none (an empty list), or nothing (its own name stands for it), and records a name it declares, another, or the name the first pass recorded; custom pass labels half the time; in checked mode or not | in checked mode, refuse a firing under a name the pass does not declare with an InvariantError naming the pass by its label, the name and the declared ones, word for word (`verifyFiredNames`: coverage reports list the declared names), whatever `onOptError` says; accept a declared one; unchecked, count every firing and check nothing |
 * | `pass-database` | a private `SequenceDB` of passes that only record that they ran (two at one position registered in a seeded order, one with two tags, one reachable by name only, a rule group), queried six times in a row through `rewriteGraph({db})`: by tag, excluding a pass by name, excluding a tag, including a pass by name, and after a registration and after a rule added to the group; then six registrations it must refuse (a name taken, a reserved name at another position, a position of NaN or infinity, the group of a plain pass or of no pass, a rule name taken in the group) | run exactly the passes the documented selection gives (a name or a tag included, neither excluded), sorted by position then name, with the group's rules; a cached query never stands in for a different one or for one made after a registration; each refusal a GraphError naming the pass (or rule) and the positions, word for word, leaving the listing and the next query as they were |
 *
 * The expectations are restated here from the engine's documentation (the use budget is
 * PyTensor's `optdb__max_use_ratio`), not read from the engine; which buffers are protected is
 * restated from the ops' view maps, not from the DestroyHandler's index, and which inputs a node
 * may overwrite from checked mode's restatement of the in-place contract (`writableSlotsOf`).
 * The shipped features never refuse a merge or a proposed in-place write (merges run before
 * anything is destroyed; the DestroyHandler proposes only writes it accepts), so the passes'
 * answers to a refusal ran in no property before the veto scenarios: a validator feature
 * written here refuses what they name. Integrity and a full
 * DestroyHandler rebuild are checked after every scenario.
 */
import { Apply, Constant, type Variable } from "../src/graph/basic.js";
import { type FunctionGraph, Output } from "../src/graph/fgraph.js";
import type { Feature } from "../src/graph/features.js";
import { ancestors } from "../src/graph/traversal.js";
import { GraphError, InconsistencyError, InvariantError } from "../src/errors.js";
import { type Refusal, refusalProblem } from "./refusals.js";
import { DestroyHandler } from "../src/rewriting/destroyhandler.js";
import { CheckedFeature, inplaceVariant, verifyPostconditions, viewTreeOf, writableSlotsOf } from "../src/rewriting/checked.js";
import { InplacePass, type InplaceStats } from "../src/rewriting/inplace.js";
import { MergeOptimizer, type MergeOptions, type MergeStats } from "../src/rewriting/merge.js";
import {
  type GraphRewriter, type OnOptError, type RewriteResult, RewriteContext, RewriteLoopError, equilibrium, inToOut, nodeRewriter, outToIn, sequence,
} from "../src/rewriting/engine.js";
import { NodeRewriterGroup, SequenceDB, rewriteGraph } from "../src/rewriting/db.js";
import { Composite, Elemwise, neg } from "../src/tensor/elemwise.js";
import { Alloc } from "../src/tensor/shape.js";
import { mulberry32 } from "../oracles/finiteDiff.js";
import type { Check } from "./types.js";

/** The scenarios, in the order they are tried. */
export const SCENARIOS = ["loop-budget", "graph-pass", "identity-result", "walker-revisit", "reject-revisit", "malformed-result", "failing-pass", "inplace-veto", "merge-veto", "merge-destroyed", "merge-one-destroyed", "validation-verdicts", "pass-database", "fired-names"] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** The engine entry points the scenarios drive (tests pass faulty ones, to show the property failing). */
export interface ContractEngine {
  readonly equilibrium: typeof equilibrium;
  readonly inToOut: typeof inToOut;
  readonly outToIn: typeof outToIn;
  readonly sequence: typeof sequence;
  readonly context: (onOptError: OnOptError) => RewriteContext;
  /** A fresh inplace pass (the registered one is `new InplacePass()` at position 50.5). */
  readonly inplace: () => GraphRewriter & { readonly lastStats: InplaceStats };
  /** A fresh MergeOptimizer. */
  readonly merge: (name: string, opts?: MergeOptions) => GraphRewriter & { readonly lastStats: MergeStats; addRequirements(fg: FunctionGraph): void };
}

export const REAL_ENGINE: ContractEngine = {
  equilibrium, inToOut, outToIn, sequence,
  context: (onOptError) => new RewriteContext({ onOptError }),
  inplace: () => new InplacePass(),
  merge: (name, opts) => new MergeOptimizer(name, opts),
};

/** The outcome of one scenario. */
export interface ScenarioOutcome {
  readonly scenario: Scenario;
  readonly status: "held" | "broken" | "skip";
  readonly detail: string;
}

const RULE = "xgrad_contract_rule";
const EQ = "xgrad_contract_equilibrium";
const PASS = "xgrad_contract_graph_pass";

const pick = <T>(xs: readonly T[], rand: () => number): T => xs[Math.floor(rand() * xs.length)];

/** Real nodes (not Output pseudo-clients) in the graph's order. */
const nodesOf = (fg: FunctionGraph): Apply[] => fg.toposort().filter((n) => !(n.op instanceof Output));

/** A fresh node of the same op on the same inputs: the same values, a new Apply. */
const copyOf = (n: Apply): Apply => n.op.makeNode(...n.inputs);

/**
 * Nodes a fresh copy can replace without changing anything but identity: not a destroyer (two
 * writers of one buffer would exist until the old one is pruned), and whose op infers exactly
 * the recorded output types again.
 */
function copyable(fg: FunctionGraph): Apply[] {
  return nodesOf(fg).filter((n) => {
    if (Object.keys(n.op.destroyMap).length > 0) return false;
    try {
      const c = copyOf(n);
      return c.outputs.length === n.outputs.length && c.outputs.every((o, j) => o.type.equals(n.outputs[j].type));
    } catch {
      return false;
    }
  });
}

/**
 * `v` and the variables it views, up to the buffer's owner (last): restated from the ops'
 * `viewMap`s, not from the DestroyHandler's index.
 */
function viewChain(v: Variable): Variable[] {
  const chain = [v];
  for (let cur = v; cur.owner !== null; ) {
    const viewed = cur.owner.op.viewMap[cur.owner.outputs.indexOf(cur)];
    if (viewed === undefined || viewed.length === 0) break;
    cur = cur.owner.inputs[viewed[0]];
    chain.push(cur);
  }
  return chain;
}

const bufferRoot = (v: Variable): Variable => {
  const c = viewChain(v);
  return c[c.length - 1];
};

/** The replacement of every output of `n` by the matching output of `c`, as a list or a Map. */
const replacing = (n: Apply, c: Apply, form: "list" | "map"): RewriteResult => (form === "list" ? c.outputs : new Map(n.outputs.map((o, j): [Variable, Variable] => [o, c.outputs[j]])));

interface Warning {
  readonly message: string;
  readonly code: string | undefined;
}

/** Run `body`, collecting the process warnings it emits instead of printing them. */
function capturingWarnings(body: () => void): { warnings: Warning[]; error: unknown } {
  const warnings: Warning[] = [];
  const orig = process.emitWarning;
  process.emitWarning = ((w: string | Error, opts?: unknown) => {
    const code = typeof opts === "object" && opts !== null ? (opts as { code?: string }).code : undefined;
    warnings.push({ message: typeof w === "string" ? w : w.message, code });
  }) as typeof process.emitWarning;
  let error: unknown = null;
  try {
    body();
  } catch (e) {
    error = e;
  } finally {
    process.emitWarning = orig;
  }
  return { warnings, error };
}

const said = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message.split("\n")[0]}` : String(e));

/** The graph left by a scenario must be whole: integrity, and a DestroyHandler that agrees with a rebuild. */
function wholeness(g: FunctionGraph): string | null {
  try {
    g.checkIntegrity();
    g.getFeature(DestroyHandler)?.checkConsistency({ full: true });
    return null;
  } catch (e) {
    return `the graph was left broken: ${said(e)}`;
  }
}

/** Whether the graph's nodes are exactly `before`. */
const sameNodes = (g: FunctionGraph, before: ReadonlySet<Apply>): boolean => g.applyNodes.size === before.size && [...g.applyNodes].every((n) => before.has(n));

/**
 * Judge a run that must hit the use budget of `who` (a node rule or a graph pass) at `ratio`
 * on a graph of `nodes` nodes, under `policy`: null when the engine kept its word.
 */
function budgetVerdict(run: { warnings: Warning[]; error: unknown }, ctx: RewriteContext, policy: OnOptError, who: string, ratio: number, nodes: number): string | null {
  const says = `equilibrium ${EQ}: rewriter "${who}" fired ${ratio * nodes + 1} times on a graph of at most ${nodes} nodes (maxUseRatio ${ratio})`;
  if (policy === "raise") {
    if (!(run.error instanceof RewriteLoopError)) return `under onOptError "raise" it should throw a RewriteLoopError saying "${says}"; ${run.error === null ? "nothing was thrown" : `it threw ${said(run.error)}`}`;
    if (!run.error.message.startsWith(says)) return `its RewriteLoopError should say "${says}", it says "${run.error.message}"`;
  } else {
    if (run.error !== null) return `under onOptError "${policy}" the loop must be recorded, not thrown; it threw ${said(run.error)}`;
    const rec = ctx.report.budgetExceeded;
    if (rec.length !== 1 || !rec[0].startsWith(says)) return `under onOptError "${policy}" it should record one budget message saying "${says}"; it recorded ${rec.length === 0 ? "none" : rec.map((m) => `"${m}"`).join(", ")}`;
  }
  const loops = run.warnings.filter((w) => w.code === "XGRAD_REWRITE_LOOP");
  const wanted = policy === "warn" ? 1 : 0;
  if (loops.length !== wanted || (wanted === 1 && loops[0].message !== ctx.report.budgetExceeded[0])) {
    return `under onOptError "${policy}" it should emit ${wanted} XGRAD_REWRITE_LOOP warning${wanted === 1 ? " carrying the recorded message" : "s"}; it emitted ${loops.length}${loops.length > 0 ? ` ("${loops[0].message}")` : ""}`;
  }
  if (run.warnings.length !== loops.length) return `it emitted other warnings too: ${run.warnings.filter((w) => w.code !== "XGRAD_REWRITE_LOOP").map((w) => `${w.code}: ${w.message}`).join("; ")}`;
  if (ctx.report.failures.length > 0) return `it recorded a rewrite failure: ${ctx.report.failures[0].error.message.split("\n")[0]}`;
  return null;
}


/**
 * Follows which node took the place of each watched node (from the graph's own change
 * callbacks) and refuses the replacements `refuses` names, as a validator would: the way to make
 * validation veto what the shipped features never veto. A pass that retries a refused
 * replacement forever re-imports the same node on every revert; after `limit` re-imports of one
 * node this throws a plain Error, so such a pass ends, and is reported.
 */
class Veto implements Feature {
  private readonly by = new Map<Apply, Apply>();
  private readonly imports = new Map<Apply, number>();
  constructor(
    private readonly watched: ReadonlySet<Apply>,
    private readonly refuses: (node: Apply, standIn: Apply) => string | null,
    private readonly limit = 64,
  ) {}

  onImport(_fg: FunctionGraph, node: Apply): void {
    if (!this.watched.has(node)) return;
    const k = (this.imports.get(node) ?? 0) + 1;
    this.imports.set(node, k);
    if (k > this.limit) throw new Error(`rewriter-contract: ${node.toString()} was put back ${k} times: a refused replacement is being retried forever`);
  }

  onChangeInput(_fg: FunctionGraph, _node: Apply, _i: number, oldVar: Variable, newVar: Variable): void {
    const o = oldVar.owner;
    if (o !== null && this.watched.has(o) && newVar.owner !== null) this.by.set(o, newVar.owner);
  }

  onValidate(fg: FunctionGraph): void {
    for (const n of this.watched) {
      const r = this.standIn(fg, n);
      const why = r === undefined ? null : this.refuses(n, r);
      if (why !== null) throw new InconsistencyError(`rewriter-contract veto: ${why}`);
    }
  }

  /** The node now standing in for watched node `n`, or undefined while `n` is in the graph. */
  standIn(fg: FunctionGraph, n: Apply): Apply | undefined {
    return fg.applyNodes.has(n) ? undefined : this.by.get(n);
  }
}

/** Whether validation accepts replacing `pairs` now (tried in a checkpoint, always reverted). */
function accepts(g: FunctionGraph, pairs: readonly (readonly [Variable, Variable])[]): boolean {
  const chk = g.checkpoint();
  try {
    g.replaceAllValidate(pairs, "xgrad_contract_probe");
    return true;
  } catch (e) {
    if (e instanceof InconsistencyError) return false;
    throw e;
  } finally {
    g.revert(chk);
  }
}

/** The input slots `n` overwrites, from its op's destroy map. */
const destroyedSlots = (n: Apply): number[] => [...new Set(Object.values(n.op.destroyMap).flat())].sort((x, y) => x - y);

/** The buffers some node overwrites (their owners, through views). */
const writtenRoots = (g: FunctionGraph): Set<Variable> => new Set(nodesOf(g).flatMap((n) => destroyedSlots(n).map((i) => bufferRoot(n.inputs[i]))));

/** Every reader slot of `v`, Output pseudo-clients included. */
const readerSlots = (g: FunctionGraph, v: Variable): [Apply, number][] => (g.clients.get(v) ?? []).map(([c, j]): [Apply, number] => [c, j]);

/** The merge counters a scenario judges, rendered. */
const statsSaid = (s: MergeStats): string => `merged ${s.merged}, failed ${s.failed}, skippedDestroyed ${s.skippedDestroyed}, skippedIncomparable ${s.skippedIncomparable}`;

/**
 * A fresh merger on `g` (its MergeFeature attached), after one pass that settles whatever the
 * clone's feature scheduled on attach; or what that first pass threw.
 */
function settledMerge(g: FunctionGraph, engine: ContractEngine, opts?: MergeOptions): { merge: ReturnType<ContractEngine["merge"]> } | { broken: { what: string; broken: string } } {
  const merge = engine.merge("xgrad_contract_merge", opts);
  merge.addRequirements(g);
  const drain = capturingWarnings(() => merge.apply(g, engine.context("raise")));
  return drain.error === null ? { merge } : { broken: { what: "a merge pass over the FAST_RUN graph", broken: `it threw ${said(drain.error)}` } };
}

/**
 * Up to eight in-place nodes D with the slot i they overwrite, in a seeded order, where the
 * overwritten value is an output of a copyable node P that owns its buffer (no view) and has no
 * equal node in the graph yet (a pair of overwritten fresh zero buffers, say): the copy made of
 * it is then its only candidate, so the counts the scenarios expect are exact.
 */
function overwrittenCopyables(g: FunctionGraph, rand: () => number): [Apply, number][] {
  const nodes = nodesOf(g);
  const twinned = (p: Apply): boolean => nodes.some((m) => m !== p && m.op.equals(p.op) && m.inputs.length === p.inputs.length && m.inputs.every((x, k) => x === p.inputs[k]));
  const owners = new Set(copyable(g).filter((p) => Object.keys(p.op.viewMap).length === 0 && !twinned(p)));
  const writers = nodesOf(g).flatMap((d) => destroyedSlots(d).flatMap((i): [Apply, number][] => {
    const p = d.inputs[i].owner;
    return p !== null && owners.has(p) ? [[d, i]] : [];
  }));
  return writers.map((w) => ({ w, r: rand() })).sort((x, y) => x.r - y.r).map((x) => x.w).slice(0, 8);
}

/**
 * Give `out` (a new node's output) to one reader of `g`: a node not in `not` and not upstream of
 * `sources` (no cycle), reading a variable of `out`'s type that keeps another reader, through a
 * slot it does not overwrite. The first of up to four such slots that validation accepts; false
 * when none does (each refusal reverted).
 */
function giveToReader(g: FunctionGraph, out: Variable, sources: readonly Variable[], not: ReadonlySet<Apply>, reason: string): boolean {
  const upstream = new Set(ancestors(sources).flatMap((x) => (x.owner === null ? [] : [x.owner])));
  const slots = nodesOf(g).filter((r) => !not.has(r) && !upstream.has(r)).flatMap((r) => r.inputs.flatMap((x, j): [Apply, number][] => (
    x.type.equals(out.type) && readerSlots(g, x).length >= 2 && !destroyedSlots(r).includes(j) ? [[r, j]] : []
  )));
  for (const [r, j] of slots.slice(0, 4)) {
    const chk = g.checkpoint();
    try {
      g.changeNodeInput(r, j, out, reason);
      g.validate();
      g.release(chk);
      return true;
    } catch (e) {
      g.revert(chk);
      if (!(e instanceof InconsistencyError)) throw e;
    }
  }
  return false;
}

/**
 * One scenario on a clone `g` of the graph, with `rand` for its seeded choices; null when it has
 * no target. `preInplace` gives the same case's graph compiled without the inplace pass (built
 * once, on demand; the scenarios clone it).
 */
type Runner = (g: FunctionGraph, rand: () => number, engine: ContractEngine, preInplace: () => FunctionGraph) => { what: string; broken: string | null } | null;

/**
 * The pass database's documented selection, restated: passes sorted by (position, name), a pass
 * selected when the query includes its name or one of its tags, and dropped when it excludes its
 * name or one of its tags.
 */
function expectedPasses(passes: readonly { name: string; position: number; tags: readonly string[] }[], include: readonly string[], exclude: readonly string[]): string[] {
  const hit = (p: { name: string; tags: readonly string[] }, list: readonly string[]): boolean => list.includes(p.name) || p.tags.some((t) => list.includes(t));
  return passes
    .filter((p) => hit(p, include) && !hit(p, exclude))
    .sort((a, b) => a.position - b.position || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((p) => p.name);
}

const RUNNERS: Readonly<Record<Scenario, Runner>> = {
  "loop-budget": (g, rand, engine) => {
    const targets = copyable(g);
    if (targets.length === 0) return null;
    const target = pick(targets, rand);
    const policy = pick(["raise", "warn", "ignore"] as const, rand);
    const ratio = 1 + Math.floor(rand() * 2);
    const form = rand() < 0.5 ? "list" : "map";
    // Sometimes the first firing also grows the graph by two nodes (neg(neg(copy))): the budget
    // scales with the largest node count seen, not the first.
    const out0 = target.outputs[0];
    const grow = target.outputs.length === 1 && (out0.type.dtype === "float64" || out0.type.dtype === "float32") && out0.type.kind === "tensor" && rand() < 0.5;
    const start = g.applyNodes.size;
    const nodes = start + (grow ? 2 : 0);
    const mine = new Set<Apply>([target]);
    const rule = nodeRewriter(RULE, null, (_fg, n) => {
      if (!mine.has(n)) return null;
      const c = copyOf(n);
      mine.add(c);
      if (grow && n === target) return [neg(neg(c.outputs[0]))];
      return replacing(n, c, form);
    });
    const ctx = engine.context(policy);
    const run = capturingWarnings(() => engine.equilibrium(EQ, [rule], { maxUseRatio: ratio }).apply(g, ctx));
    const what = `an equilibrium rule replacing ${target.op.toString()} by a fresh copy forever (${grow ? "the first time wrapped in neg(neg(·)), " : ""}${form} result, maxUseRatio ${ratio}, onOptError "${policy}", ${start} nodes)`;
    const fired = ctx.fired.get(RULE) ?? 0;
    const broken = budgetVerdict(run, ctx, policy, RULE, ratio, nodes)
      ?? (fired !== ratio * nodes + 1 ? `the rule should have fired ${ratio * nodes + 1} times before the budget stopped it; ctx.fired says ${fired}` : null)
      ?? (g.applyNodes.size !== nodes ? `the graph should hold ${nodes} nodes after the loop, it holds ${g.applyNodes.size}` : null)
      ?? wholeness(g);
    return { what, broken };
  },

  "graph-pass": (g, rand, engine) => {
    const targets = copyable(g);
    if (targets.length === 0) return null;
    let current = pick(targets, rand);
    const forever = rand() < 1 / 3;
    const k = 1 + Math.floor(rand() * 3);
    const policy = forever ? pick(["raise", "warn", "ignore"] as const, rand) : "raise";
    const nodes = g.applyNodes.size;
    let calls = 0;
    const pass: GraphRewriter = {
      name: PASS,
      apply(fg) {
        calls++;
        if (!forever && calls > k) return;
        const c = copyOf(current);
        fg.replaceAllValidate(current.outputs.map((o, j) => [o, c.outputs[j]] as const), PASS);
        current = c;
      },
    };
    const ctx = engine.context(policy);
    const run = capturingWarnings(() => engine.equilibrium(EQ, [pass], { maxUseRatio: 1 }).apply(g, ctx));
    const what = forever
      ? `a graph pass in an equilibrium that replaces a node by a fresh copy on every run (maxUseRatio 1, onOptError "${policy}", ${nodes} nodes)`
      : `a graph pass in an equilibrium that replaces a node by a fresh copy on its first ${k} run${k === 1 ? "" : "s"}`;
    let broken: string | null;
    if (forever) {
      broken = budgetVerdict(run, ctx, policy, PASS, 1, nodes) ?? (calls !== nodes + 1 ? `the pass should have run ${nodes + 1} times before the budget stopped it; it ran ${calls} times` : null);
    } else {
      broken = run.error !== null ? `the equilibrium threw ${said(run.error)}`
        : calls !== k + 1 ? `an equilibrium must run its graph passes again while they change the graph and stop after a quiet sweep: ${k + 1} runs expected, ${calls} seen`
        : ctx.report.budgetExceeded.length > 0 ? `a finite pass hit the budget: ${ctx.report.budgetExceeded[0]}`
        : null;
    }
    return { what, broken: broken ?? wholeness(g) };
  },

  "identity-result": (g, rand, engine) => {
    const targets = nodesOf(g);
    if (targets.length === 0) return null;
    const target = pick(targets, rand);
    const form = rand() < 0.5 ? "list" : "map";
    const before = new Set(g.applyNodes);
    let visits = 0;
    const rule = nodeRewriter(RULE, null, (_fg, n) => {
      if (n !== target) return null;
      visits++;
      return form === "list" ? [...n.outputs] : new Map(n.outputs.map((o): [Variable, Variable] => [o, o]));
    });
    const ctx = engine.context("raise");
    const run = capturingWarnings(() => engine.equilibrium(EQ, [rule], { maxUseRatio: 1 }).apply(g, ctx));
    const what = `an equilibrium rule returning ${target.op.toString()}'s own outputs (${form} result)`;
    const fired = ctx.fired.get(RULE) ?? 0;
    const broken = run.error !== null ? `an identity result changes nothing, yet the equilibrium threw ${said(run.error)}`
      : fired !== 0 ? `an identity result changes nothing, yet it was counted as fired ${fired} times`
      : visits !== 1 ? `an identity result changes nothing, so one sweep ends the equilibrium; the target was visited ${visits} times`
      : !sameNodes(g, before) ? "an identity result changed the graph's nodes"
      : wholeness(g);
    return { what, broken };
  },

  "walker-revisit": (g, rand, engine) => {
    const targets = copyable(g);
    if (targets.length === 0) return null;
    const target = pick(targets, rand);
    const order = rand() < 0.5 ? "inToOut" : "outToIn";
    const k = 2 + Math.floor(rand() * 3);
    const ignoreNewtrees = rand() < 0.25;
    const initial = new Set(g.applyNodes);
    const visited: Apply[] = [];
    const mine = new Set<Apply>([target]);
    let made = 0;
    const rule = nodeRewriter(RULE, null, (_fg, n) => {
      visited.push(n);
      if (!mine.has(n) || made >= k) return null;
      const c = copyOf(n);
      mine.add(c);
      made++;
      return c.outputs;
    });
    const walk = (order === "inToOut" ? engine.inToOut : engine.outToIn)([rule], { ignoreNewtrees });
    const ctx = engine.context("raise");
    const run = capturingWarnings(() => walk.apply(g, ctx));
    const what = `an ${order} walker${ignoreNewtrees ? " with ignoreNewtrees" : ""} whose rule replaces ${target.op.toString()} by a fresh copy, and that copy by another, ${k} times`;
    const want = ignoreNewtrees ? 1 : k;
    const fired = ctx.fired.get(RULE) ?? 0;
    let broken = run.error !== null ? `the walk threw ${said(run.error)}`
      : fired !== want ? `${ignoreNewtrees ? "with ignoreNewtrees the walker must not visit nodes imported during the walk" : "the walker must visit the nodes a rewrite imports, in the same walk"}: ${want} firing${want === 1 ? "" : "s"} expected, ${fired} counted`
      : null;
    // The order: among the nodes present from the start, inToOut visits a node after every node
    // it reads from, outToIn before them (the rule tracks every op, so it sees every visit).
    if (broken === null) {
      const at = new Map<Apply, number>();
      visited.forEach((n, i) => {
        if (initial.has(n) && !at.has(n)) at.set(n, i);
      });
      search: for (const [n, i] of at) {
        for (const v of n.inputs) {
          const j = v.owner === null ? undefined : at.get(v.owner);
          if (j === undefined || (order === "inToOut" ? j < i : j > i)) continue;
          broken = `${order} visited ${n.op.toString()} ${order === "inToOut" ? "before" : "after"} ${(v.owner as Apply).op.toString()}, which it reads from`;
          break search;
        }
      }
    }
    return { what, broken: broken ?? wholeness(g) };
  },

  "reject-revisit": (g, rand, engine) => {
    // How the rule fails: a replacement validation refuses (an in-place write into a protected
    // buffer, whose revert re-imports the target), or a transform that throws. Under "warn" or
    // "ignore", in a walker or an equilibrium.
    const how = rand() < 0.5 ? "refused" : "throws";
    const policy = rand() < 0.5 ? "warn" : "ignore";
    const driver = rand() < 0.5 ? "outToIn" : "equilibrium";
    let target: Apply;
    let slot = -1;
    if (how === "refused") {
      if (g.getFeature(DestroyHandler) === undefined) return null;
      // A slot whose buffer (through views) is a graph input's or a graph output's, in a tree no
      // node writes to yet, read by the node through that slot only (no other input of it is a
      // view of the same buffer: `x + unstack(x)` reads x through a DimShuffle and a Reshape, and
      // validation then rightly refuses the write as input aliasing first): validation can refuse
      // the write for one reason alone, the protection.
      const protectedVars = new Set<Variable>([...g.inputs, ...g.outputs]);
      const written = new Set(nodesOf(g).flatMap((n) => Object.values(n.op.destroyMap).flat().map((i) => bufferRoot(n.inputs[i]))));
      const slots = nodesOf(g).flatMap((n) => n.inputs.flatMap((v, i): [Apply, number][] => {
        const tree = viewChain(v);
        const root = tree[tree.length - 1];
        if (n.inputs.some((w, j) => j !== i && bufferRoot(w) === root)) return [];
        if (!tree.some((t) => protectedVars.has(t)) || written.has(root)) return [];
        return inplaceVariant(n, i) === null ? [] : [[n, i]];
      }));
      if (slots.length === 0) return null;
      [target, slot] = pick(slots, rand);
    } else {
      const nodes = nodesOf(g);
      if (nodes.length === 0) return null;
      target = pick(nodes, rand);
    }
    const before = new Set(g.applyNodes);
    let visits = 0;
    const rule = nodeRewriter(RULE, null, (_fg, n) => {
      // At most three tries, so an engine that keeps revisiting still ends (and is reported).
      if (n !== target || ++visits > 3) return null;
      if (how === "throws") throw new Error("xgrad: a deliberately failing transform");
      return (inplaceVariant(n, slot) as Apply).outputs;
    });
    const ctx = engine.context(policy);
    const pass = driver === "outToIn" ? engine.outToIn([rule]) : engine.equilibrium(EQ, [rule], { maxUseRatio: 1 });
    const run = capturingWarnings(() => pass.apply(g, ctx));
    const what = how === "refused"
      ? `${driver === "outToIn" ? "an outToIn" : "an equilibrium"} rule making ${target.op.toString()} write in place into ${target.inputs[slot].toString()} (its input ${slot}), a buffer of a graph input or output, under onOptError "${policy}"`
      : `${driver === "outToIn" ? "an outToIn" : "an equilibrium"} rule whose transform throws on ${target.op.toString()}, under onOptError "${policy}"`;
    const says = how === "refused" ? /destroys the protected graph (input|output)/ : /^rewrite xgrad_contract_rule on .*: xgrad: a deliberately failing transform/;
    const failures = ctx.report.failures;
    const failed = run.warnings.filter((w) => w.code === "XGRAD_REWRITE_FAILED");
    const wanted = policy === "warn" ? 1 : 0;
    const broken = run.error !== null ? `under "${policy}" a failed rewrite is recorded, not thrown; it threw ${said(run.error)}`
      : visits !== 1 ? `the rule ran ${Math.min(visits, 3)}${visits > 3 ? " or more" : ""} times on its target: a failed rewrite changes nothing, so ${driver === "outToIn" ? "the re-imported target must not be queued again" : "it must not make the equilibrium sweep again"}`
      : failures.length !== 1 || failures[0].rewrite !== RULE || !says.test(failures[0].error.message)
        ? `one failure naming ${RULE}${how === "refused" ? " and the protected graph input or output" : " and the thrown message"} should be recorded; ${failures.length === 0 ? "none was" : `got ${failures.map((f) => `${f.rewrite}: ${f.error.message.split("\n")[0]}`).join("; ")}`}`
      : failed.length !== wanted || (wanted === 1 && failed[0].message !== failures[0].error.message) ? `under "${policy}" ${wanted} XGRAD_REWRITE_FAILED warning${wanted === 1 ? " carrying the recorded message is" : "s are"} emitted; got ${failed.length}`
      : run.warnings.length !== failed.length ? `it emitted other warnings too: ${run.warnings.map((w) => `${w.code}: ${w.message}`).join("; ")}`
      : ctx.report.budgetExceeded.length > 0 ? `a single failure hit the loop budget: ${ctx.report.budgetExceeded[0]}`
      : !sameNodes(g, before) ? "the failed rewrite changed the graph's nodes"
      : wholeness(g);
    return { what, broken };
  },

  "malformed-result": (g, rand, engine) => {
    // A rewrite whose result breaks the engine's contract: a list of the wrong length, or null
    // for an output that is still read. That is a bug in the rewrite, not an ordinary failure,
    // so the engine raises an InvariantError naming the rule, the node and the fault under every
    // onOptError (warn and ignore included), before anything changes.
    const nodes = nodesOf(g).filter((n) => n.outputs.some((o) => (g.clients.get(o)?.length ?? 0) > 0));
    if (nodes.length === 0) return null;
    const target = pick(nodes, rand);
    const kind = pick(["short", "long", "null"] as const, rand);
    const policy = pick(["raise", "warn", "ignore"] as const, rand);
    const used = target.outputs.findIndex((o) => (g.clients.get(o)?.length ?? 0) > 0);
    const before = new Set(g.applyNodes);
    const rule = nodeRewriter(RULE, null, (_fg, n) => {
      if (n !== target) return null;
      if (kind === "short") return n.outputs.slice(1);
      if (kind === "long") return [...n.outputs, n.outputs[0]];
      return n.outputs.map((o, j) => (j === used ? null : o));
    });
    const ctx = engine.context(policy);
    const run = capturingWarnings(() => engine.outToIn([rule]).apply(g, ctx));
    const n = target.outputs.length;
    const says = kind === "null"
      ? `${RULE} on ${target.toString()}: output ${used} is still used but was given no replacement`
      : `${RULE} on ${target.toString()}: returned ${kind === "short" ? n - 1 : n + 1} replacements for ${n} outputs`;
    const what = `an outToIn rule returning ${kind === "null" ? `null for the used output ${used} of` : `${kind === "short" ? n - 1 : n + 1} replacements for`} ${target.op.toString()}, under onOptError "${policy}"`;
    const broken = !(run.error instanceof InvariantError) ? `a malformed result must raise an InvariantError under every onOptError; ${run.error === null ? `nothing was raised (${ctx.report.failures.length} failure(s) recorded)` : `it raised ${said(run.error)}`}`
      : !run.error.message.includes(says) ? `the InvariantError should say "${says}"; it says "${run.error.message.split("\n")[0]}"`
      : run.warnings.length > 0 ? `a rewrite bug is raised, not warned about; it also warned: ${run.warnings[0].message}`
      : !sameNodes(g, before) ? "the malformed result changed the graph's nodes"
      : wholeness(g);
    return { what, broken };
  },

  "failing-pass": (g, rand, engine) => {
    // A sequence whose first pass fails (the pass itself throws, or a node rule inside it does)
    // and whose second pass is fine. The failure is named once (a node rule's name and node are
    // not prefixed again by the sequence), recorded once under warn or ignore with the later
    // pass still run, and thrown under raise.
    const nodes = nodesOf(g);
    if (nodes.length === 0) return null;
    const target = pick(nodes, rand);
    const nested = rand() < 0.5;
    const policy = pick(["raise", "warn", "ignore"] as const, rand);
    const FAIL = "xgrad_contract_failing_pass";
    const OK = "xgrad_contract_later_pass";
    const message = "xgrad: a deliberately failing pass";
    let laterRuns = 0;
    const failing: GraphRewriter = nested
      ? engine.outToIn([nodeRewriter(RULE, null, (_fg, n) => {
        if (n === target) throw new Error(message);
        return null;
      })], { name: FAIL })
      : { name: FAIL, apply: () => { throw new Error(message); } };
    const later: GraphRewriter = { name: OK, apply: () => void laterRuns++ };
    const before = new Set(g.applyNodes);
    const ctx = engine.context(policy);
    const run = capturingWarnings(() => engine.sequence("xgrad_contract_sequence", [failing, later]).apply(g, ctx));
    const says = nested ? `rewrite ${RULE} on ${target.toString()}: ${message}` : `rewrite ${FAIL}: ${message}`;
    const what = `a sequence whose first pass ${nested ? `runs a rule that throws on ${target.op.toString()}` : "throws"}, under onOptError "${policy}"`;
    const failures = ctx.report.failures;
    const wanted = policy === "warn" ? 1 : 0;
    let broken: string | null;
    if (policy === "raise") {
      broken = !(run.error instanceof Error) ? "under raise the failure must be thrown; nothing was"
        : run.error.message !== says ? `the thrown error should read "${says}" (named once); it reads "${run.error.message.split("\n")[0]}"`
        : laterRuns !== 0 ? "under raise the sequence must stop at the failure; the later pass ran"
        : null;
    } else {
      broken = run.error !== null ? `under "${policy}" the failure must be recorded, not thrown; it threw ${said(run.error)}`
        : failures.length !== 1 || failures[0].error.message !== says || failures[0].rewrite !== (nested ? RULE : FAIL) || (!nested && failures[0].node !== "")
          ? `one failure reading "${says}", by ${nested ? RULE : FAIL}${nested ? "" : " with no node"}, should be recorded; got ${failures.map((f) => `${f.rewrite} [${f.node}]: ${f.error.message.split("\n")[0]}`).join("; ") || "none"}`
        : run.warnings.length !== wanted ? `under "${policy}" ${wanted} warning(s) are emitted; got ${run.warnings.length}`
        : laterRuns !== 1 ? `under "${policy}" the later pass must still run once; it ran ${laterRuns} times`
        : ctx.passesRun.includes(OK) !== true || ctx.passesRun.includes(FAIL) !== nested ? `the passes that ran to completion should be ${nested ? `${FAIL} (its rule's failure was recorded) and ` : ""}${OK}; passesRun says [${ctx.passesRun.join(", ")}]`
        : null;
    }
    return { what, broken: broken ?? (!sameNodes(g, before) ? "the failed pass changed the graph's nodes" : wholeness(g)) };
  },

  "inplace-veto": (_g, rand, engine, preInplace) => {
    // The inplace pass on two clones of the graph as the pipeline hands it over (everything but
    // the inplace pass run): A as it is, B with validation also refusing some of the writes A
    // made (the whole node, or only the input A chose). The pass validates its proposals as one
    // batch, splits a refused batch in halves down to single nodes, and lets a single refused
    // node try its other candidate inputs; so B must end as A did, less exactly the refused
    // writes. Sometimes the clones carry no DestroyHandler: the pass must attach its own.
    let source: FunctionGraph;
    try {
      source = preInplace();
    } catch (e) {
      if (e instanceof InvariantError) throw e; // checked mode's finding, reported as such
      return null; // the compile without the inplace pass failed: rewrite-soundness judges compiles
    }
    const nodes = nodesOf(source);
    const a = source.clone();
    const b = source.clone();
    const dropHandler = rand() < 0.25;
    if (dropHandler) {
      for (const x of [a, b]) {
        const dh = x.getFeature(DestroyHandler);
        if (dh !== undefined) x.removeFeature(dh);
      }
    }
    const image = (x: FunctionGraph, n: Apply): Apply => (x.equiv.get(n.outputs[0]) as Variable).owner as Apply;
    const inA = nodes.map((n) => image(a, n));
    const inB = nodes.map((n) => image(b, n));
    const pass = (x: FunctionGraph, mine: readonly Apply[], veto: Veto) => {
      x.attachFeature(veto);
      const p = engine.inplace();
      const ctx = engine.context("raise");
      const run = capturingWarnings(() => p.apply(x, ctx));
      // What each source node became: null (left as it was) or the inputs it overwrites, and
      // whether it writes into a fresh copy of a zero Alloc instead of its own input.
      const original = new Set(mine);
      const made = mine.map((n): { slots: number[]; fresh: boolean; elementwise: boolean } | null => {
        const r = veto.standIn(x, n);
        if (r === undefined) return null;
        const x0 = r.inputs[0].owner;
        return { slots: destroyedSlots(r), fresh: x0 !== null && x0.op instanceof Alloc && !original.has(x0) && destroyedSlots(r).includes(0) && r.inputs[0] !== n.inputs[0], elementwise: r.op instanceof Elemwise || r.op instanceof Composite };
      });
      return { run, ctx, stats: p.lastStats, made };
    };
    const said1 = (d: { slots: number[]; fresh: boolean } | null): string => (d === null ? "left out of place" : `overwriting input ${d.slots.join(", ")}${d.fresh ? " (a fresh copy of its zero Alloc)" : ""}`);
    const runA = pass(a, inA, new Veto(new Set(inA), () => null));
    if (runA.run.error !== null) return { what: "the inplace pass on the graph the pipeline hands it", broken: `it threw ${said(runA.run.error)}` };
    // A batch validation refused on its own: B's outcome would depend on the split order.
    if (runA.stats.rejected > 0) return null;
    const madeA = runA.made.flatMap((d, k) => (d === null ? [] : [k]));
    if (madeA.length === 0) return null;
    // The refused writes: one to three of A's, each the whole node or only the input A chose.
    // Nodes with another writable input come first, refused that input only, so that the
    // pass's fallback (a single refused node tries its other inputs) has something to find.
    const writable = writableSlotsOf(source, []);
    const others = (k: number): boolean => writable(nodes[k]).filter((j) => inplaceVariant(nodes[k], j) !== null).length > 1;
    const order = madeA.map((k) => ({ k, first: others(k), r: rand() })).sort((p, q) => Number(q.first) - Number(p.first) || p.r - q.r);
    const refused = new Map<number, number | "node">();
    for (const { k, first } of order.slice(0, 1 + Math.floor(rand() * Math.min(3, order.length)))) {
      const d = runA.made[k] as { slots: number[]; fresh: boolean; elementwise: boolean };
      refused.set(k, d.elementwise && d.slots.length === 1 && (first || rand() < 0.5) ? d.slots[0] : "node");
    }
    const refusedOf = new Map([...refused].map(([k, how]) => [inB[k], how] as const));
    const vetoB = new Veto(new Set(inB), (n, r) => {
      const how = refusedOf.get(n);
      if (how === undefined) return null;
      if (how === "node") return `${n.toString()} may not be made in place`;
      return destroyedSlots(r).includes(how) ? `${n.toString()} may not overwrite its input ${how}` : null;
    });
    const runB = pass(b, inB, vetoB);
    const what = `the inplace pass${dropHandler ? " on a graph without a DestroyHandler" : ""}, with validation refusing ${[...refused].map(([k, how]) => `${nodes[k].op.toString()} ${how === "node" ? "in place at all" : `overwriting input ${how}`}`).join(", ")} (${madeA.length} node(s) made in place without the veto)`;
    const broken = ((): string | null => {
      if (runB.run.error !== null) return `a refused write is reverted and left, not thrown; it threw ${said(runB.run.error)}`;
      if (runB.ctx.report.failures.length > 0) return `a refused write is the handler doing its job, not a failure; it recorded ${runB.ctx.report.failures[0].error.message.split("\n")[0]}`;
      for (let k = 0; k < nodes.length; k++) {
        const dA = runA.made[k];
        const dB = runB.made[k];
        const how = refused.get(k);
        const name = nodes[k].op.toString();
        if (how === "node") {
          if (dB !== null) return `${name} was made in place (${said1(dB)}) though validation refuses it`;
        } else if (how !== undefined) {
          if (dB !== null && dB.slots.includes(how)) return `${name} overwrites its input ${how} though validation refuses it`;
          if (dB === null) {
            // Its other inputs: any the in-place contract allows and validation accepts now must
            // have been tried (the pass's fallback for a single refused node).
            const nb = inB[k];
            const other = writableSlotsOf(b, [])(nb).find((s) => {
              if (s === how) return false;
              const v = inplaceVariant(nb, s);
              return v !== null && accepts(b, nb.outputs.map((o, j) => [o, v.outputs[j]] as const));
            });
            if (other !== undefined) return `${name} was left out of place after validation refused its input ${how}, though it may overwrite its input ${other} (the in-place contract allows it and validation accepts it)`;
          }
        } else if (JSON.stringify(dA) !== JSON.stringify(dB)) {
          return `refusing other nodes' writes changed ${name}'s: without the veto it was ${said1(dA)}, with it ${said1(dB)}`;
        }
      }
      const madeB = runB.made.filter((d) => d !== null) as { slots: number[]; fresh: boolean; elementwise: boolean }[];
      const st = runB.stats;
      const want = { elemwise: madeB.filter((d) => d.elementwise).length, incSubtensor: madeB.filter((d) => !d.elementwise).length, freshZeros: madeB.filter((d) => d.fresh).length };
      if (st.rejected < 1) return `validation refused ${refused.size} write(s) the pass proposed, yet its stats count ${st.rejected} rejected attempts`;
      if (st.elemwise !== want.elemwise || st.incSubtensor !== want.incSubtensor || st.freshZeros !== want.freshZeros) {
        return `its stats say ${st.elemwise} elementwise, ${st.incSubtensor} update and ${st.freshZeros} fresh-zeros writes; the graph holds ${want.elemwise}, ${want.incSubtensor} and ${want.freshZeros}`;
      }
      const fired = (r: string): number => runB.ctx.fired.get(r) ?? 0;
      if (fired("inplace_elemwise") !== want.elemwise || fired("inplace_incsubtensor") !== want.incSubtensor || fired("inplace_fresh_zeros") !== want.freshZeros) {
        return `the rewrite counts (inplace_elemwise ${fired("inplace_elemwise")}, inplace_incsubtensor ${fired("inplace_incsubtensor")}, inplace_fresh_zeros ${fired("inplace_fresh_zeros")}) disagree with the writes in the graph (${want.elemwise}, ${want.incSubtensor}, ${want.freshZeros})`;
      }
      if (b.getFeature(DestroyHandler) === undefined) return "the pass ran without a DestroyHandler and did not attach one";
      return wholeness(b);
    })();
    return { what, broken };
  },

  "merge-veto": (g, rand, engine) => {
    // A node T read through two or three slots gets a fresh equal copy V on one reader (and
    // another, C, on a second), and validation refuses merging V into T. The optimizer pops its
    // schedule newest first and tries a node's candidates in the order they were imported until
    // one merge is accepted; a refused pair is reverted, never retried in the pass. So V, tried
    // against T (refused) then C (accepted), goes into C, then C into T: T alone is left, after
    // two merges and one refusal. Without C, T and V both stay, after one refusal.
    //
    // Sometimes C records a vaguer static type than its op infers (one known length erased, as
    // a node rebuilt by graphReplace without re-inference does). Merging keeps the more specific
    // variable (PyTensor PR #405) whichever node is newer, so C is replaced by V, not V by C:
    // then T and V are left, after one merge and one refusal.
    const settled = settledMerge(g, engine);
    if ("broken" in settled) return settled.broken;
    const { merge } = settled;
    const written = writtenRoots(g);
    const targets = copyable(g).flatMap((t) => t.outputs.flatMap((o, idx): [Apply, number][] => {
      if (readerSlots(g, o).length < 2) return [];
      if ([...t.inputs, ...t.outputs].some((v) => written.has(bufferRoot(v)))) return [];
      return [[t, idx]];
    }));
    if (targets.length === 0) return null;
    const [t, idx] = pick(targets, rand);
    const slots = readerSlots(g, t.outputs[idx]);
    const three = slots.length >= 3 && rand() < 0.75;
    const known = t.outputs[idx].type.shape.findIndex((n) => n !== null);
    const vague = three && known >= 0 && rand() < 0.5;
    const c = !three ? null
      : vague ? new Apply(t.op, [...t.inputs], t.outputs.map((o, k) => (k === idx ? o.type.withShape(o.type.shape.map((n, a) => (a === known ? null : n))) : o.type)))
      : copyOf(t);
    const v = copyOf(t);
    // The vaguer copy's reader accepts it only unchecked (its input type was the specific one),
    // and checked mode, which re-infers every touched node, would rightly call that reader's
    // type broken: this scenario judges merge, so the clone's checked-mode feature goes.
    if (vague) {
      const checker = g.getFeature(CheckedFeature);
      if (checker !== undefined) g.removeFeature(checker);
    }
    if (c !== null) g.changeNodeInput(slots[1][0], slots[1][1], c.outputs[idx], "xgrad_contract_copy", { check: !vague });
    g.changeNodeInput(slots[three ? 2 : 1][0], slots[three ? 2 : 1][1], v.outputs[idx], "xgrad_contract_copy");
    const veto = new Veto(new Set([v]), (n, r) => (r === t ? `${n.toString()} may not be merged into ${t.toString()}` : null));
    g.attachFeature(veto);
    const ctx = engine.context("raise");
    const run = capturingWarnings(() => merge.apply(g, ctx));
    const st = merge.lastStats;
    const what = `${t.op.toString()} given ${three ? `two fresh equal copies${vague ? " (the first recording a vaguer static type)" : ""}` : "a fresh equal copy"} on its readers, validation refusing to merge the ${three ? "second " : ""}copy into it`;
    const live = (n: Apply | null): boolean => n !== null && g.applyNodes.has(n);
    const merged = three && !vague ? 2 : three ? 1 : 0;
    const broken = run.error !== null ? `a refused merge is reverted and left, not thrown; it threw ${said(run.error)}`
      : ctx.report.failures.length > 0 ? `a refused merge is not a failure; it recorded ${ctx.report.failures[0].error.message.split("\n")[0]}`
      : !live(t) ? `${t.toString()} was merged away, though nothing newer replaces it`
      : vague && (live(c) || !live(v)) ? `of two equal nodes the one with the more specific static type is kept: the vaguer copy must be replaced by the refused one, yet ${live(c) ? "the vaguer copy" : "only the vaguer copy's replacement, not the refused copy,"} is in the graph (${statsSaid(st)})`
      : three && !vague && (live(c) || live(v)) ? `the copy tried first against ${t.op.toString()} (refused) must go on to its next candidate, the other copy, and that copy into ${t.op.toString()}: ${live(v) ? "the refused copy" : "the other copy"} is still in the graph (${statsSaid(st)})`
      : !three && !live(v) ? `the refused copy was merged away all the same (${statsSaid(st)})`
      : st.merged !== merged || st.failed !== 1 || st.skippedDestroyed !== 0 || st.skippedIncomparable !== 0 ? `its stats should say merged ${merged}, failed 1, nothing skipped; they say ${statsSaid(st)}`
      : (ctx.fired.get("xgrad_contract_merge") ?? 0) !== st.merged ? `it counted ${ctx.fired.get("xgrad_contract_merge") ?? 0} firings for ${st.merged} merges`
      : wholeness(g);
    return { what, broken };
  },

  "merge-destroyed": (g, rand, engine) => {
    // Two equal nodes whose outputs are both overwritten in place (PyTensor PR #2355; the
    // inplace pass's fresh zero buffers are the real case): a node P that an in-place node D
    // overwrites gets a fresh copy P', overwritten by a copy D' of D that one reader reads. With
    // the guard (the default) the optimizer skips the pair without trying it; without it,
    // validation refuses the merge (one buffer, two writers), which is reverted and not retried.
    const guard = rand() < 0.5;
    const settled = settledMerge(g, engine, { guardDestroyed: guard });
    if ("broken" in settled) return settled.broken;
    const { merge } = settled;
    let made: { d: Apply; p: Apply; pc: Apply; dc: Apply } | null = null;
    for (const [d, i] of overwrittenCopyables(g, rand).filter(([d]) => d.outputs.length === 1)) {
      const p = d.inputs[i].owner as Apply;
      const pc = copyOf(p);
      let dc: Apply;
      try {
        dc = d.op.makeNode(...d.inputs.map((x, j) => (j === i ? pc.outputs[p.outputs.indexOf(d.inputs[i])] : x)));
      } catch {
        continue;
      }
      // D' goes to a reader other than D and P (P must stay equal to P').
      if (giveToReader(g, dc.outputs[0], [...dc.inputs, ...pc.inputs], new Set([d, p]), "xgrad_contract_destroyed_copy")) {
        made = { d, p, pc, dc };
        break;
      }
    }
    if (made === null) return null;
    const { d, p, pc, dc } = made;
    const veto = new Veto(new Set([pc]), () => null);
    g.attachFeature(veto);
    // Half the time in checked mode, which judges each merge attempt (its merge_guard promise)
    // and, after the pass, the merge promise, whose exemption covers exactly this pair.
    const checked = rand() < 0.5;
    const ctx = checked ? new RewriteContext({ onOptError: "raise", checked: true }) : engine.context("raise");
    const run = capturingWarnings(() => merge.apply(g, ctx));
    const st = merge.lastStats;
    const what = `two equal ${p.op.toString()} nodes, each overwritten in place (by ${d.op.toString()} and a copy of it), merge's guard ${guard ? "on" : "off"}${checked ? ", in checked mode" : ""}`;
    const x = p.outputs[0];
    const xc = pc.outputs[0];
    const present = (): string | null => ([p, pc, d, dc].some((n) => !g.applyNodes.has(n)) ? `both overwritten nodes and both writers must stay; ${[p, pc, d, dc].filter((n) => !g.applyNodes.has(n)).map((n) => n.toString()).join(", ")} left the graph` : null);
    if (checked && !guard) {
      // The attempt itself breaks the promise: checked mode stops it before validation runs.
      const says = `checked mode: merge pass "xgrad_contract_merge" broke its promise merge_guard: it tried to merge ${xc.toString()} and ${x.toString()}, which ${dc.toString()} and ${d.toString()} each overwrite in place`;
      const broken = !(run.error instanceof InvariantError) ? `checked mode must stop a merge attempt of two overwritten values with an InvariantError; ${run.error === null ? "nothing was thrown" : `it threw ${said(run.error)}`}`
        : !run.error.message.includes(says) ? `checked mode's merge_guard error should say "${says}"; it says "${run.error.message.split("\n")[0]}"`
        : st.failed !== 0 || st.merged !== 0 ? `checked mode stops the attempt before validation, yet the stats say ${statsSaid(st)}`
        : present() ?? wholeness(g);
      return { what, broken };
    }
    const want = guard ? { skipped: 1, failed: 0 } : { skipped: 0, failed: 1 };
    let broken = run.error !== null ? `${guard ? "a skipped pair" : "a refused merge"} is not an error; it threw ${said(run.error)}`
      : ctx.report.failures.length > 0 ? `it recorded a failure: ${ctx.report.failures[0].error.message.split("\n")[0]}`
      : present()
      ?? (st.skippedDestroyed !== want.skipped || st.failed !== want.failed || st.merged !== 0
        ? `${guard ? "the guard skips the pair without a validation" : "without the guard, validation refuses the pair once and it is not retried"}: expected skippedDestroyed ${want.skipped}, failed ${want.failed}, merged 0; the stats say ${statsSaid(st)}`
        : wholeness(g));
    if (broken === null) {
      // The pair left is no broken merge promise: one buffer cannot have two writers.
      try {
        verifyPostconditions(g, { include: ["fast_compile"] });
      } catch (e) {
        broken = `checked mode's merge promise must exempt two equal nodes each overwritten in place; it says ${said(e)}`;
      }
    }
    return { what, broken };
  },

  "merge-one-destroyed": (g, rand, engine) => {
    // Two equal nodes of which only one is overwritten in place: a node P that an in-place node
    // D overwrites gets a fresh copy P', read by one reader R. Merging P' into P makes R a reader
    // of the buffer D overwrites, so validation accepts it exactly when R can still run before D
    // (asked here of validation itself, in a checkpoint, before the pass). The guard (two
    // overwritten values) must not skip the pair. Afterwards checked mode's merge promise: no
    // pair when the merge was made; when validation refused it, exempt if P is an Alloc (the
    // inplace pass's fresh zero buffers, made after merge2, are the only such pairs a pipeline
    // makes) and a broken promise otherwise (any other duplicate was there for merge2).
    const settled = settledMerge(g, engine);
    if ("broken" in settled) return settled.broken;
    const { merge } = settled;
    let made: { d: Apply; p: Apply; pc: Apply; k: number } | null = null;
    for (const [d, i] of overwrittenCopyables(g, rand)) {
      const p = d.inputs[i].owner as Apply;
      const k = p.outputs.indexOf(d.inputs[i]);
      const pc = copyOf(p);
      // P' goes to a reader other than D and P.
      if (giveToReader(g, pc.outputs[k], pc.inputs, new Set([d, p]), "xgrad_contract_read_copy")) {
        made = { d, p, pc, k };
        break;
      }
    }
    if (made === null) return null;
    const { d, p, pc, k } = made;
    const x = p.outputs[k];
    const xc = pc.outputs[k];
    const mergeable = accepts(g, pc.outputs.map((o, q) => [o, p.outputs[q]] as const));
    // Sometimes a merge validation would accept is refused by a veto for the pass's duration:
    // once the veto is gone, checked mode must report the pair (nothing excuses it).
    const vetoed = mergeable && rand() < 0.5;
    const veto = new Veto(new Set([pc]), (n, r) => (vetoed && r === p ? `${n.toString()} may not be merged into ${p.toString()}` : null));
    g.attachFeature(veto);
    const ctx = engine.context("raise");
    const run = capturingWarnings(() => merge.apply(g, ctx));
    g.removeFeature(veto);
    const st = merge.lastStats;
    const isAlloc = p.op instanceof Alloc;
    const what = `two equal ${p.op.toString()} nodes, one overwritten in place by ${d.op.toString()}, the other read; validation ${mergeable ? "accepts" : "refuses"} merging them${vetoed ? " (refused by a veto during the pass)" : ""}`;
    const merges = mergeable && !vetoed;
    let broken = run.error !== null ? `it threw ${said(run.error)}`
      : ctx.report.failures.length > 0 ? `it recorded a failure: ${ctx.report.failures[0].error.message.split("\n")[0]}`
      : st.skippedDestroyed !== 0 ? `only ${x.toString()} is overwritten, yet the pair was skipped as two overwritten values (${statsSaid(st)})`
      : merges && (g.applyNodes.has(pc) || !g.applyNodes.has(p) || st.merged !== 1) ? `validation accepts merging ${xc.toString()} into ${x.toString()}, so the copy must go: ${g.applyNodes.has(pc) ? "it is still in the graph" : "the original went instead"} (${statsSaid(st)})`
      : !merges && (!g.applyNodes.has(pc) || !g.applyNodes.has(p) || st.failed !== 1 || st.merged !== 0) ? `validation refuses the merge, so both nodes stay after one refusal; ${statsSaid(st)}, ${[p, pc].filter((n) => !g.applyNodes.has(n)).length} of them left the graph`
      : wholeness(g);
    if (broken === null) {
      let said2: unknown = null;
      try {
        verifyPostconditions(g, { include: ["fast_compile"] });
      } catch (e) {
        said2 = e;
      }
      const flagged = said2 instanceof InvariantError && said2.message.includes("broke its promise merge: 1 pair(s) of equal nodes left unmerged");
      if (merges || (!mergeable && isAlloc)) {
        if (said2 !== null) broken = `checked mode's merge promise must ${merges ? "find nothing after the merge" : "exempt an Alloc pair whose merge validation refuses"}; it says ${said(said2)}`;
      } else if (!flagged) {
        broken = `checked mode's merge promise must report the unmerged ${p.op.toString()} pair (${vetoed ? "validation accepts its merge" : "only an Alloc pair is exempt"}); ${said2 === null ? "it passed" : `it says ${said(said2)}`}`;
      }
    }
    return { what, broken };
  },

  "fired-names": (g, rand, engine) => {
    const targets = copyable(g);
    if (targets.length < 2) return null;
    const t1 = pick(targets, rand);
    const t2 = pick(targets.filter((t) => t !== t1), rand);
    const FIRST = "xgrad_contract_first_pass";
    const SECOND = "xgrad_contract_second_pass";
    const FIRST_RULE = "xgrad_contract_first_rule";
    const DECLARED = "xgrad_contract_declared_rule";
    const declares = pick(["one", "two", "none", "own"] as const, rand);
    const records = pick(["declared", "other", "first's"] as const, rand);
    const checked = rand() < 0.75;
    const policy = pick(["raise", "warn", "ignore"] as const, rand);
    const labelled = rand() < 0.5;
    const ruleNames = declares === "one" ? [DECLARED] : declares === "two" ? [DECLARED, `${DECLARED}_too`] : declares === "none" ? [] : undefined;
    const declared = ruleNames ?? [SECOND];
    const name = records === "declared" ? (declared[0] ?? RULE) : records === "other" ? RULE : FIRST_RULE;
    const kind = declared.includes(name) ? "a declared name" : name === FIRST_RULE ? "the first pass's name" : "a name it does not declare";
    // Each pass rewrites for real (a fresh copy of its target), then records its firing.
    const passOf = (pass: string, target: Apply, rule: string, names?: readonly string[]): GraphRewriter => ({
      name: pass,
      ...(names === undefined ? {} : { ruleNames: names }),
      apply(fg, ctx) {
        if (!fg.applyNodes.has(target)) return;
        const c = copyOf(target);
        fg.replaceAllValidate(target.outputs.map((o, j) => [o, c.outputs[j]] as const), pass);
        ctx.recordFired(rule);
      },
    });
    const labels = labelled ? ["first step", "second step"] : [FIRST, SECOND];
    const seq = engine.sequence("xgrad_contract_sequence", [passOf(FIRST, t1, FIRST_RULE, [FIRST_RULE]), passOf(SECOND, t2, name, ruleNames)], labels);
    const ctx = new RewriteContext({ checked, onOptError: policy });
    const run = capturingWarnings(() => seq.apply(g, ctx));
    const refused = checked && !declared.includes(name);
    const says = `checked mode: pass ${labels[1]} recorded ${JSON.stringify(name)} as fired, which is not one of the rule names it declares ` +
      `(${declared.map((d) => JSON.stringify(d)).join(", ") || "none"}): coverage reports would count a rule they do not list`;
    const what = `a sequence whose second pass (labelled ${JSON.stringify(labels[1])}) declares ${ruleNames !== undefined && ruleNames.length > 0 ? ruleNames.map((d) => JSON.stringify(d)).join(" and ") : declares === "none" ? "no rule name" : "nothing (its own name stands for it)"} and records ${JSON.stringify(name)} (${kind}), ${checked ? "in checked mode" : "unchecked"}, onOptError "${policy}"`;
    const counted = (rule: string): number => ctx.fired.get(rule) ?? 0;
    const wantFirst = name === FIRST_RULE ? 2 : 1;
    let broken: string | null;
    if (refused) {
      broken = !(run.error instanceof InvariantError) ? `checked mode must refuse the firing with an InvariantError saying "${says}"; ${run.error === null ? "nothing was thrown" : `it threw ${said(run.error)}`}`
        : run.error.message !== says ? `the InvariantError should read "${says}"; it reads "${run.error.message.split("\n")[0]}"`
        : null;
    } else {
      broken = run.error !== null ? `${checked ? "a declared name is accepted" : "unchecked, no name is checked"}; the sequence threw ${said(run.error)}`
        : counted(FIRST_RULE) !== wantFirst || (name !== FIRST_RULE && counted(name) !== 1) ? `both firings must be counted (${FIRST_RULE}: ${wantFirst}${name !== FIRST_RULE ? `, ${name}: 1` : ""}); ctx.fired says ${JSON.stringify([...ctx.fired])}`
        : ctx.passesRun.join() !== labels.join() ? `both passes ran to completion, by label [${labels.join(", ")}]; passesRun says [${ctx.passesRun.join(", ")}]`
        : null;
    }
    return { what, broken: broken ?? wholeness(g) };
  },

  "pass-database": (g, rand) => {
    // A private SequenceDB of passes that only record that they ran: two at one position
    // (registered in a seeded order, so only the name can order them), one tagged twice, one
    // reachable by name only, and a rule group (its rules tagged "t" too: a group selects its
    // rules by the same query). Six queries in a row on the graph's outputs, so
    // the database's query cache is exercised between them, and registrations after a query
    // (a pass, a rule added to the group) must show in the next one.
    const db = new SequenceDB();
    const ran: string[] = [];
    const recorder = (name: string): GraphRewriter => ({ name, apply: () => void ran.push(name) });
    const registered: { name: string; position: number; tags: string[] }[] = [];
    const reg = (name: string, position: number, tags: string[]): void => {
      db.register(name, position, tags, recorder(name));
      registered.push({ name, position, tags });
    };
    const tie = rand() < 0.5 ? ["tie_b", "tie_a"] : ["tie_a", "tie_b"];
    reg(tie[0], 2, ["t"]);
    reg("early", 1, ["t", "u"]);
    reg(tie[1], 2, ["t"]);
    reg("late", 3, ["u"]);
    reg("by_name", 0.5, []);
    const group = new NodeRewriterGroup("grp");
    group.add(nodeRewriter("grp_rule1", null, () => {
      ran.push("grp_rule1");
      return null;
    }), ["t"]);
    db.register("grp", 2.5, ["t"], group);
    registered.push({ name: "grp", position: 2.5, tags: ["t"] });
    const groupRules = ["grp_rule1"];
    const queries: { include: string[]; exclude: string[]; before?: () => void }[] = [
      { include: ["t"], exclude: [] },
      { include: ["t"], exclude: [pick(["early", tie[0], tie[1]], rand)] },
      { include: ["t"], exclude: ["u"] },
      { include: ["by_name", "u"], exclude: [] },
      { include: ["t"], exclude: [], before: () => reg("added", 0.25, ["t"]) },
      {
        include: ["t"], exclude: [], before: () => {
          group.add(nodeRewriter("grp_rule2", null, () => {
            ran.push("grp_rule2");
            return null;
          }), ["t"]);
          groupRules.push("grp_rule2");
        },
      },
    ];
    // A group's rules run on the graph's nodes: with none (a case whose graph folded to a
    // constant), they are never called.
    const hasNodes = nodesOf(g).length > 0;
    /** One query on the graph against the documented selection: null, or what ran instead. */
    const mismatch = (include: readonly string[], exclude: readonly string[]): string | null => {
      ran.length = 0;
      rewriteGraph([...g.outputs], { db, include: [...include], exclude: [...exclude], onOptError: "raise" });
      // A rule runs once per node it meets; only which rules ran matters here.
      const got = ran.filter((x, i) => !x.startsWith("grp_") || ran.indexOf(x) === i);
      const want = expectedPasses(registered, include, exclude).flatMap((p) => (p === "grp" ? (hasNodes ? groupRules : []) : [p]));
      return got.join(",") === want.join(",") ? null : `ran ${got.join(", ") || "nothing"}, expected ${want.join(", ")} (sorted by position then name; selected by tag or name; excluded by tag or name)`;
    };
    for (const q of queries) {
      q.before?.();
      const broken = mismatch(q.include, q.exclude);
      const what = `a private pass database queried with include [${q.include.join(", ")}]${q.exclude.length > 0 ? `, exclude [${q.exclude.join(", ")}]` : ""}${q.before !== undefined ? " right after a registration" : ""}`;
      if (broken !== null) return { what, broken };
    }
    // The registration API's refusals (what a user extending the pipeline reads), each a
    // GraphError naming the pass, word for word, and each leaving the database as it was: the
    // listing, sorted by position then name, and what a query runs.
    db.reserve("reserved", 4);
    const nan = rand() < 0.5 ? Number.NaN : Number.POSITIVE_INFINITY;
    const refusals: Refusal[] = [
      { what: "a second pass named early", run: () => db.register("early", 5, ["t"], recorder("early_again")), says: 'SequenceDB: a pass named "early" is already registered' },
      { what: "a reserved name at another position", run: () => db.register("reserved", 5, ["t"], recorder("reserved")), says: 'SequenceDB: pass "reserved" is reserved at position 4, not 5' },
      { what: `a position of ${nan}`, run: () => db.register("unplaced", nan, ["t"], recorder("unplaced")), says: `SequenceDB: pass "unplaced" has a non-finite position ${nan}` },
      { what: "the group of a plain pass", run: () => db.group("early"), says: 'SequenceDB: no node-rewriter group named "early"' },
      { what: "the group of an unknown name", run: () => db.group("nowhere"), says: 'SequenceDB: no node-rewriter group named "nowhere"' },
      { what: "a second rule named grp_rule1", run: () => group.add(nodeRewriter("grp_rule1", null, () => null), ["t"]), says: 'grp: a rewrite named "grp_rule1" is already registered' },
    ];
    const listed = (): string => JSON.stringify(db.list());
    const wantList = JSON.stringify([...registered].sort((a, b) => a.position - b.position || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((r) => ({ name: r.name, position: r.position, tags: r.tags })));
    for (const r of refusals) {
      const what = `a private pass database asked for ${r.what}`;
      const problem = refusalProblem(r, GraphError);
      if (problem !== null) return { what, broken: problem };
      if (listed() !== wantList) return { what, broken: `the refused registration changed the listing: ${listed()}, expected ${wantList}` };
    }
    const after = mismatch(["t"], []);
    if (after !== null) return { what: "a private pass database queried after six refused registrations", broken: after };
    if (!db.has("early") || db.has("unplaced") || db.has("nowhere")) return { what: "a private pass database's has()", broken: `has("early") ${db.has("early")}, has("unplaced") ${db.has("unplaced")}, has("nowhere") ${db.has("nowhere")}` };
    return { what: `a private pass database: six queries in a row (ties ordered by name, excludes by name and by tag, a pass by name, a registration and a group rule after a cached query), then six refused registrations`, broken: null };
  },

  "validation-verdicts": (g, rand, _engine) => {
    // The DestroyHandler's refusals, each provoked on purpose by one change that breaks exactly
    // one of its rules, every one the graph allows, in a seeded order: a second writer of a
    // buffer (a copy of an in-place node, given to one reader), a write into a constant, a write
    // into a buffer the node also reads through another input, a write into a graph input or
    // output, and a reader of an overwritten buffer that needs the writer's result (a cycle once
    // writers run after readers). Each must be refused with the message that names its rule,
    // the nodes and the buffer (what a user reads in a failure report), counted under its
    // decision path, and reverted.
    const dh = g.getFeature(DestroyHandler);
    if (dh === undefined) return null;
    const nodes = nodesOf(g);
    const written = writtenRoots(g);
    const protectedVars = new Set<Variable>([...g.inputs, ...g.outputs]);
    // The view tree of each root, restated from the view maps (checked mode's restatement, not
    // the DestroyHandler's index). Memoised: every change below is reverted before the next.
    const trees = new Map<Variable, Set<Variable>>();
    const treeOf = (root: Variable): Set<Variable> => {
      let t = trees.get(root);
      if (t === undefined) trees.set(root, (t = viewTreeOf(g, root)));
      return t;
    };
    const upstreamOf = (vs: readonly Variable[]): Set<Apply> => new Set(ancestors(vs).flatMap((x) => (x.owner === null ? [] : [x.owner])));
    /** An in-place variant of `n` at slot `j` whose input's buffer no one writes yet. */
    const writes = (pred: (n: Apply, j: number, root: Variable) => boolean): [Apply, number, Apply][] => nodes.flatMap((n) => n.inputs.flatMap((v, j): [Apply, number, Apply][] => {
      const root = bufferRoot(v);
      if (written.has(root) || !pred(n, j, root)) return [];
      const variant = inplaceVariant(n, j);
      return variant === null ? [] : [[n, j, variant]];
    }));
    type Provoked = { rule: "multiple_destroyers" | "destroyed_constant" | "input_aliasing" | "protected" | "cycle"; what: string; change: () => void; says: (msg: string) => string | null };
    const builders: Record<Provoked["rule"], () => Provoked | null> = {
      protected: () => {
        const cands = writes((n, j, root) => [...treeOf(root)].some((t) => protectedVars.has(t)) && !(root instanceof Constant) && n.inputs.every((w, k) => k === j || !treeOf(root).has(w)));
        if (cands.length === 0) return null;
        const [n, j, variant] = pick(cands, rand);
        const root = bufferRoot(n.inputs[j]);
        const wanted = [...treeOf(root)].filter((t) => protectedVars.has(t)).map((t) => `${variant.toString()} destroys the protected graph ${g.inputs.includes(t) ? "input" : "output"} ${t.toString()}${t === root ? "" : ` (a view of ${root.toString()})`}`);
        return {
          rule: "protected",
          what: `${n.op.toString()} made to overwrite its input ${j}, ${root.toString()}'s buffer, which holds a graph ${g.inputs.includes(root) ? "input" : "input or output"}`,
          change: () => g.replaceAllValidate(n.outputs.map((o, k) => [o, variant.outputs[k]] as const), "xgrad_contract_verdict"),
          says: (m) => (wanted.includes(m) ? null : `one of ${JSON.stringify(wanted)}`),
        };
      },
      destroyed_constant: () => {
        const cands = writes((n, j, root) => root instanceof Constant && n.inputs.every((w, k) => k === j || !treeOf(root).has(w)));
        if (cands.length === 0) return null;
        const [n, j, variant] = pick(cands, rand);
        const root = bufferRoot(n.inputs[j]);
        const wanted = `${variant.toString()} destroys input ${j}, a view of the constant ${root.toString()}`;
        return {
          rule: "destroyed_constant",
          what: `${n.op.toString()} made to overwrite its input ${j}, a view of the constant ${root.toString()}`,
          change: () => g.replaceAllValidate(n.outputs.map((o, k) => [o, variant.outputs[k]] as const), "xgrad_contract_verdict"),
          says: (m) => (m === wanted ? null : JSON.stringify(wanted)),
        };
      },
      input_aliasing: () => {
        const cands = writes((n, j, root) => !(root instanceof Constant) && n.inputs.some((w, k) => k !== j && treeOf(root).has(w)));
        if (cands.length === 0) return null;
        const [n, j, variant] = pick(cands, rand);
        const root = bufferRoot(n.inputs[j]);
        const tree = treeOf(root);
        const k = variant.inputs.findIndex((w, q) => q !== j && tree.has(w));
        const wanted = `Input aliasing: ${variant.toString()} destroys input ${j} (${variant.inputs[j].toString()}) while its input ${k} (${variant.inputs[k].toString()}) aliases the same buffer (rooted at ${root.toString()})`;
        return {
          rule: "input_aliasing",
          what: `${n.op.toString()} made to overwrite its input ${j} while its input ${k} reads the same buffer`,
          change: () => g.replaceAllValidate(n.outputs.map((o, q) => [o, variant.outputs[q]] as const), "xgrad_contract_verdict"),
          says: (m) => (m === wanted ? null : JSON.stringify(wanted)),
        };
      },
      multiple_destroyers: () => {
        // A copy D2 of an in-place node D (the same inputs, so the same buffer overwritten),
        // given to a reader of a variable that keeps another reader.
        for (const d of nodes.filter((x) => destroyedSlots(x).length > 0 && x.outputs.length === 1)) {
          const d2 = copyOf(d);
          const out = d2.outputs[0];
          const up = upstreamOf(d2.inputs);
          const slot = nodes.filter((r) => r !== d && !up.has(r)).flatMap((r) => r.inputs.flatMap((x, j): [Apply, number][] => (x.type.equals(out.type) && readerSlots(g, x).length >= 2 && !destroyedSlots(r).includes(j) ? [[r, j]] : [])))[0];
          if (slot === undefined) continue;
          const root = bufferRoot(d.inputs[destroyedSlots(d)[0]]);
          return {
            rule: "multiple_destroyers",
            what: `a copy of ${d.op.toString()}, overwriting the same buffer ${root.toString()}, given to a reader`,
            change: () => {
              g.changeNodeInput(slot[0], slot[1], out, "xgrad_contract_verdict");
              g.validate();
            },
            says: (m) => {
              const wanted = [`Multiple destroyers of ${root.toString()}: ${d.toString()} and ${d2.toString()}`, `Multiple destroyers of ${root.toString()}: ${d2.toString()} and ${d.toString()}`];
              return wanted.includes(m) ? null : `one of ${JSON.stringify(wanted)}`;
            },
          };
        }
        return null;
      },
      cycle: () => {
        // A node C downstream of an in-place node D (through one input) made to read, through
        // another input, the buffer D overwrites: C must run before D (a reader of the buffer)
        // and after it (it needs D's result).
        for (const d of nodes.filter((x) => destroyedSlots(x).length > 0)) {
          const i = destroyedSlots(d)[0];
          const x = d.inputs[i];
          const tree = treeOf(bufferRoot(x));
          for (const c of nodes) {
            if (c === d || Object.keys(c.op.destroyMap).length > 0) continue;
            for (let k = 0; k < c.inputs.length; k++) {
              const other = c.inputs.filter((_, q) => q !== k);
              if (!c.inputs[k].type.equals(x.type) || readerSlots(g, c.inputs[k]).length < 2 || other.some((w) => tree.has(w)) || !upstreamOf(other).has(d)) continue;
              return {
                rule: "cycle",
                what: `${c.op.toString()}, which needs ${d.op.toString()}'s result, made to read the buffer ${d.op.toString()} overwrites`,
                change: () => {
                  g.changeNodeInput(c, k, x, "xgrad_contract_verdict");
                  g.validate();
                },
                says: (m) => (m.startsWith("Dependency graph contains cycles once destroyers are ordered after their tree's readers: ") ? null : `a message starting "Dependency graph contains cycles once destroyers are ordered after their tree's readers: "`),
              };
            }
          }
        }
        return null;
      },
    };
    // Every rule the graph allows, one after another on the same graph (each change reverted).
    const rules = (Object.keys(builders) as Provoked["rule"][]).map((r) => ({ r, k: rand() })).sort((p, q) => p.k - q.k).map((p) => p.r);
    const done: string[] = [];
    for (const rule of rules) {
      const p = builders[rule]();
      if (p === null) continue;
      const before = new Set(g.applyNodes);
      const counted = dh.paths.get(`reject:${p.rule}`) ?? 0;
      const chk = g.checkpoint();
      let error: unknown = null;
      try {
        p.change();
      } catch (e) {
        error = e;
      }
      g.revert(chk);
      const says = error instanceof InconsistencyError ? p.says(error.message) : null;
      const broken = error === null ? "validation accepted it"
        : !(error instanceof InconsistencyError) ? `it threw ${said(error)}, not an InconsistencyError`
        : says !== null ? `the refusal should read ${says}; it reads "${error.message}"`
        : (dh.paths.get(`reject:${p.rule}`) ?? 0) <= counted ? `the DestroyHandler did not count the refusal under its decision path reject:${p.rule}`
        : !sameNodes(g, before) ? "the refused change was not undone"
        : wholeness(g);
      if (broken !== null) return { what: `${p.what}: validation must refuse it (${p.rule.replaceAll("_", " ")})`, broken };
      done.push(p.rule.replaceAll("_", " "));
    }
    if (done.length === 0) return null;
    return { what: `changes breaking one rule of validation each, all refused: ${done.join(", ")}`, broken: null };
  },
};

/** Whether a case (by its seed) runs rewriter-contract within the full suite: an eighth of them. */
export function contractScheduled(seed: number): boolean {
  // Other multipliers than the other schedules', so they stay independent.
  return ((Math.imul((seed ^ 0x7f4a7c15) >>> 0, 0x27d4eb2f) >>> 21) & 7) === 0;
}

/**
 * The scenarios the suite runs on a case: three of them, drawn by the case seed (each runs on
 * ~3 % of the cases). Alone: every one.
 */
export function scheduledScenarios(seed: number): Scenario[] {
  const rand = mulberry32((seed ^ 0x2f6b3d91) >>> 0);
  const order = SCENARIOS.map((s) => ({ s, k: rand() })).sort((p, q) => p.k - q.k);
  return order.slice(0, 3).map((p) => p.s).sort((a, b) => SCENARIOS.indexOf(a) - SCENARIOS.indexOf(b));
}

/**
 * Run each scenario on a fresh clone of `fg` (a graph after a FAST_RUN pipeline). `preInplace`
 * builds the same graph without the inplace pass; it is called at most once, and only when
 * `inplace-veto` runs.
 */
export function runScenarios(fg: FunctionGraph, seed: number, which: readonly Scenario[] = SCENARIOS, engine: ContractEngine = REAL_ENGINE, preInplace: () => FunctionGraph = () => {
  throw new Error("rewriter-contract: inplace-veto needs the graph before the inplace pass");
}): ScenarioOutcome[] {
  let pre: FunctionGraph | null = null;
  const before = (): FunctionGraph => (pre ??= preInplace());
  return which.map((scenario): ScenarioOutcome => {
    const g = fg.clone();
    // Seeded by the scenario, not its position, so a suite run and a run alone draw the same targets.
    const rand = mulberry32((seed ^ Math.imul(SCENARIOS.indexOf(scenario) + 1, 0x85ebca6b)) >>> 0);
    let r: ReturnType<Runner>;
    try {
      r = RUNNERS[scenario](g, rand, engine, before);
    } catch (e) {
      // The scenarios catch what the engine throws while rewriting; an InvariantError here was
      // thrown while setting up or judging, by the engine's own checks: a finding, reported.
      if (e instanceof InvariantError) return { scenario, status: "broken", detail: `the engine broke an invariant: ${said(e)}` };
      throw e;
    }
    if (r === null) return { scenario, status: "skip", detail: "no fitting target in this graph" };
    return r.broken === null ? { scenario, status: "held", detail: r.what } : { scenario, status: "broken", detail: `${r.what}: ${r.broken}` };
  });
}

/**
 * The property on one case's FAST_RUN graph (`graph` builds or reuses it; `preInplace` builds the
 * same graph without the inplace pass, for `inplace-veto`). Inconclusive when the graph did not
 * compile (rewrite-soundness reports that) or no scenario found a target.
 */
export function rewriterContractCheck(
  graph: () => FunctionGraph,
  seed: number,
  which: readonly Scenario[] = SCENARIOS,
  engine: ContractEngine = REAL_ENGINE,
  preInplace?: () => FunctionGraph,
): Check {
  const property = "rewriter-contract";
  let fg: FunctionGraph;
  try {
    fg = graph();
  } catch (e) {
    return { property, status: "inconclusive", reason: `the checked FAST_RUN compile failed (rewrite-soundness judges that): ${e instanceof Error ? e.message.split("\n")[0] : String(e)}` };
  }
  const outcomes = runScenarios(fg, seed, which, engine, preInplace);
  const broken = outcomes.find((o) => o.status === "broken");
  if (broken !== undefined) return { property, status: "fail", reason: `the rewrite engine broke its contract in ${broken.scenario}: ${broken.detail}`, maxAbsErr: Infinity, maxRelErr: Infinity };
  const held = outcomes.filter((o) => o.status === "held").map((o) => o.scenario);
  if (held.length === 0) return { property, status: "inconclusive", reason: "no scenario found a target in this case's FAST_RUN graph" };
  return { property, status: "pass", reason: `held ${held.join(", ")}`, maxAbsErr: 0, maxRelErr: 0 };
}
