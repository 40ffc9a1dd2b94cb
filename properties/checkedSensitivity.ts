/**
 * The `checked-sensitivity` property: checked mode sees what it promises to see (and the engine
 * records what it promises to record).
 *
 * Every other property trusts checked mode: rewrite-soundness and shape-erasure compile in
 * checked FAST_RUN, the fault zoo's rewriter faults (#4, #5, #6) are found through it, and a
 * finding names the rewrite that broke an invariant only because checked mode stopped there. A
 * check that went quiet (a verification skipped because a cached record wrongly matched, a
 * DestroyHandler fast path that calls a stale index consistent, a promise no longer tested)
 * makes every one of those blind, and against a correct engine nothing would show it.
 *
 * So this property corrupts the case's own FAST_RUN graph, on purpose, in the ways rewrites
 * really go wrong, and requires checked mode to stop each one with the message that names it.
 * The graph is every node's value and the direct gradient after the whole checked FAST_RUN pipeline:
 * in-place writes, views, fused loops and a DestroyHandler with real work. Each corruption runs
 * on a fresh clone of it, as a node rewrite named after the corruption, on a seeded target:
 *
 * | corruption | what the rewrite does | checked mode must report |
 * |---|---|---|
 * | `rewire` | assigns `node.inputs[i]` directly, telling no one (the background PR's bug) | the FunctionGraph structure, during that rewrite |
 * | `unheard-by-destroyhandler` | rewires an input through the graph while the DestroyHandler is not listening (a lost callback) | the DestroyHandler bookkeeping, during that rewrite |
 * | `unheard-by-all` | the same with no feature listening, so only checked mode's record of the graph can notice | the DestroyHandler bookkeeping, during that rewrite |
 * | `retype` | gives a node an input whose static shape contradicts the node's recorded output type (the type check turned off, as a careless rewrite would) | the types of that node: makeNode rejects its inputs or infers another type |
 * | `unmerge` | gives one reader of a node a fresh equal node (announced, valid) | after the pipeline: the merge promise (equal nodes left unmerged) |
 * | `constant-copy` | gives one reader of a shared constant an equal copy (announced, valid) | after the pipeline: the merge promise (equal constants left unmerged) |
 * | `retype-dtype` | like `retype`, with a constant of the other float dtype | the types of that node |
 * | `retype-replacement` (appended last) | `retype`'s contradiction built into the rewrite's replacement: a node of the target's op that records the target's output types over inputs that give others (the graph's type check of the replacement passes) | the types of the replacement's node, after the replacement, naming the rewrite and the node it ran on |
 * | `unfuse` | gives one reader `neg(neg(v))` (or tanh, exp: an op v has no reader of yet) in place of v (announced, valid) | after the pipeline: the fusion promise (an Elemwise left out of the loop of its only reader) |
 * | `out-of-place` | replaces a node the inplace pass made in place by its out-of-place twin (announced, valid; appended last so the older corruptions keep their seeded targets) | after the pipeline: the inplace promise, naming the twin and the input it could write into |
 * | `wrong-queries` (one kind per case, drawn from those with a target) | swaps the graph's DestroyHandler for one whose answer to one query about one node or variable is wrong, the index itself right: the candidate filter proposes one slot fewer, or another slot than the contract allows; `destroyersOf` leaves out a variable's one destroyer, names another node for it, or names a destroyer for a variable nobody overwrites; `hasDestroyers` answers the opposite for one variable | after the pipeline: checked mode's restatement of that query, naming the node or variable, what the handler said and what the graph gives, word for word (no engine path reads these queries, so nothing else can see them) |
 * | `lost-fresh-copy` | puts an update op the inplace pass moved onto a fresh copy of a shared zero-filled Alloc back onto the original, out of place (announced, valid; the copy is pruned): the pass's answer to a zero buffer it may not overwrite, undone | after the pipeline: the inplace promise's fresh-copy clause, naming the update op, word for word |
 * | `eager-candidates` | swaps the graph's DestroyHandler for one whose candidate filter also proposes every input of one node (a filter gone permissive; validation would still refuse the writes, so no compiled graph shows it) | after the pipeline: the handler's `inplaceCandidates` against the in-place contract restated from the graph |
 * | `failing-transform` | throws an ordinary error, under `onOptError: "ignore"` | nothing: no invariant broke; the engine records one failure naming the rewrite and the graph is as it was (integrity, a full DestroyHandler rebuild) |
 * | `rejected-replacement` | returns a replacement of a contradicting static shape, under "ignore" | the same: the replacement refused, recorded, the graph intact |
 * | `rewire-then-prune` (checked mode off) | assigns `node.inputs[i]` directly, then replaces the node by a fresh copy, so the graph prunes it | the DestroyHandler's own prune check: a reader it never heard of (production compiles have only this tripwire) |
 * | `lost-prune` (checked mode off) | replaces a node by a fresh copy while the DestroyHandler is not listening, then puts it back | the DestroyHandler's own import or prune check: a node it still holds imported again, or one it never saw pruned |
 * | `stale-index` (one kind per case in the suite; alone, every kind) | changes one entry of the DestroyHandler's index directly (a node, a destroyer, a reader's count, a view edge: twelve kinds, in `staleIndex.ts`), each chosen so that one test of the handler's fast consistency path alone, or checked mode's record of the handler, can see it | the DestroyHandler bookkeeping, during that rewrite, with the rebuild's first difference word for word |
 * | `stale-graph` (one kind per case; alone, every kind) | changes one entry of the FunctionGraph's own index directly (a client entry's node or slot, a client listed twice, a variable or node swapped out of its set, an output list entry: seven kinds, in `staleIndex.ts`) | the FunctionGraph structure, during that rewrite, with `checkIntegrity`'s first violation word for word (and checked mode's record of the graph must see each field change) |
 * | `stale-index-tripwire` (checked mode off; one kind per case; alone, every kind a callback reads back) | the same stale entry, then the node it is about replaced by a fresh copy (eight kinds); and, on another clone, one input of that node rewired through the graph to a fresh copy of its producer (five of them) | the DestroyHandler's own import, prune or change check, naming the stale entry word for word (production compiles have only these) |
 * | `exclude` (in the suite an eighth of the cases, a compile; alone, every case, twice, and twice more on its graph with positional forms) | compiles the case with one seeded pass or tag excluded ({@link EXCLUDES}); alone, then again with another, right after, on the same rewrite context (the optimizer database caches pipelines by query, so the second must not reuse the first's, and checked mode must judge the second compile's passes alone) | checked mode accepts the smaller pipeline, and no excluded pass ran |
 * | `pass-list` (with `exclude`: in the suite an eighth of the cases; alone, every case) | runs a FAST_RUN pipeline for real on the case's cost with one seeded fault: a pass left out, an excluded pass run, or a merge pass run last | the pass-list check's message naming the pass, the list it expected and what ran, word for word |
 * | `silenced-rule` (with `exclude` in the suite, one rule under one mode on the case's graph or its graph with positional forms; alone, every rule that fires, under FAST_RUN and FAST_COMPILE, on both) | runs FAST_RUN (or FAST_COMPILE) for real up to a group with one of its rules silenced (its transform declines; registration and tags untouched), a rule that fired on the same graph unsilenced | the group's normal form, right after it: the rule's promise broken, naming a node the real rule still rewrites; and the rule's form calls every such node a leftover |
 * | `copying-rule` (with `silenced-rule`, on the same graph: in the suite one rule of stabilize or specialize that fires under FAST_RUN; alone, every one) | runs FAST_RUN for real up to the rule's group with the rule's every replacement wrapped in a cast to its own dtype (the same values; registration untouched) | the group's `adds_no_copy` promise, right after it, naming the group and the copy, word for word up to the copy's text |
 * | `eager-inplace` (with `exclude`: in the suite an eighth of the cases; alone, every case, and its graph with positional forms, judged without values) | runs the whole unchecked FAST_RUN pipeline for real over a DestroyHandler whose candidate filter proposes every input slot of every node (validation real): the inplace pass's first proposals include protected buffers, constants and trees other nodes read, so its batch is vetoed and it must fall back, down to single nodes and their other slots | a graph validation accepts, the real unchecked FAST_RUN compile's values exactly, and, with a real DestroyHandler put back, FAST_RUN's promises kept (no valid write the real filter proposes left undone, a fresh copy included) |
 * | `failing-rule` (with `silenced-rule`, on the same graph: in the suite one rule of canonicalize, stabilize or specialize that fires under FAST_RUN, one way; alone, every one, the ways alternating) | under `onOptError: "ignore"`, runs FAST_RUN for real up to the rule's group with the rule made to throw wherever it would rewrite, or to loop there (a fresh copy of the node for a replacement) | nothing raised: the failure recorded, naming the rule and the node (or the exceeded budget, naming the rule), the graph intact, and no normal form judged after it |
 *
 * `rewire`, the two `unheard` and the three `retype` corruptions are judged by checked mode's
 * per-rewrite verification (`retype-replacement` by the one after the replacement, the others
 * by the one during the transform); `unmerge`, `constant-copy`, `unfuse`, `out-of-place` and
 * `eager-candidates` by its postconditions, and the first four of those are announced, valid
 * rewrites that must pass the per-rewrite checks, or checked mode would cry wolf.
 * `silenced-rule` is the one fault that leaves a valid graph, so no per-rewrite check or
 * postcondition can see it: only the normal forms (src/rewriting/normalform.ts) can, and before
 * this scenario they were judged only against crying wolf.
 * `failing-transform` and `rejected-replacement` are no broken invariant at all, but the failures
 * `onOptError` "warn" and "ignore" exist for: checked mode must stay quiet, and the engine must
 * record the failure and leave the graph as it was. Whether a `retype` target's type really changes is decided
 * here from the op's own `makeNode` and a plain comparison of static shapes, not with checked
 * mode's `typesCompatible`, so the two sides do not share the code under test.
 *
 * Before any corruption, checked mode itself is judged as an observer (`observerProblem`): the
 * uncorrupted checked FAST_RUN graph must be the unchecked compile's, node for node, with the same
 * DestroyHandler decision counts. Its trial merges and in-place writes are reverted and its
 * queries' counts restored; otherwise every checked verdict would judge another graph than
 * production compiles, and feature coverage would count checked mode's own probing. And every
 * DestroyHandler consistency check of that compile, each on a handler in step with its graph,
 * must have been settled by the handler's fast path: a rebuild there is a fast path that doubts
 * consistent states, which no verdict shows (the rebuild agrees) but which costs checked mode a
 * full rebuild per replacement. Likewise checked mode's own record of the graph: a verification
 * that meets the state that last passed must skip the full checks, so they run at most once per
 * change (plus the first).
 *
 * An uncorrupted compile that fails is rewrite-soundness's finding, not this property's: it is
 * inconclusive here.
 */
import { Apply, Constant, Variable } from "../src/graph/basic.js";
import type { Feature } from "../src/graph/features.js";
import { FunctionGraph, Output } from "../src/graph/fgraph.js";
import { ancestors } from "../src/graph/traversal.js";
import type { Type } from "../src/graph/type.js";
import { NDArray } from "../src/ndarray/ndarray.js";
import { Composite, Elemwise, cast, exp, neg, tanh } from "../src/tensor/elemwise.js";
import { AdvancedIncSubtensor, IncSubtensor, Subtensor } from "../src/tensor/indexing.js";
import { Alloc } from "../src/tensor/shape.js";
import { compile } from "../src/compile/function.js";
import { buildProgram, runProgram } from "../src/compile/vm.js";
import { toInputArray } from "../src/compile/input.js";
import { grad } from "../src/grad/driver.js";
import { InvariantError } from "../src/errors.js";
import { MODE_TAGS, type Query, optdb } from "../src/rewriting/db.js";
import { DestroyHandler } from "../src/rewriting/destroyhandler.js";
import { CheckedFeature, pipelineMark, verifyModePasses, verifyPostconditions } from "../src/rewriting/checked.js";
import { type NodeRewriter, RewriteContext, type RewriteResult, nodeRewriter, outToIn, replacementPairs } from "../src/rewriting/engine.js";
import { CANONICALIZE_RULES } from "../src/rewriting/canonicalize.js";
import { STABILIZE_RULES } from "../src/rewriting/stabilize.js";
import { SPECIALIZE_RULES } from "../src/rewriting/specialize.js";
import { NORMAL_FORMS } from "../src/rewriting/normalform.js";
import type { BuiltCase } from "../src/case/build.js";
import { mulberry32 } from "../oracles/finiteDiff.js";
import { lower } from "../src/xtensor/lower.js";
import { expandPullbacks, graphSignature } from "../src/grad/lazy.js";
import type { Check } from "./types.js";
import { refusalProblem } from "./refusals.js";
import { GRAPH_KINDS, type GraphKind, STALE_KINDS, type StaleKind, TRIPWIRE_KINDS, isDestroyer, pick, staleGraphPlan, stalePlan } from "./staleIndex.js";

/** The corruptions, in the order they are tried. */
export const CORRUPTIONS = ["rewire", "unheard-by-destroyhandler", "unheard-by-all", "retype", "retype-dtype", "unmerge", "constant-copy", "unfuse", "eager-candidates", "failing-transform", "rejected-replacement", "rewire-then-prune", "lost-prune", "out-of-place", "lost-fresh-copy", "wrong-queries", "retype-replacement"] as const;
export type Corruption = (typeof CORRUPTIONS)[number] | "stale-index" | "stale-index-tripwire" | "stale-graph" | "exclude" | "pass-list" | "silenced-rule" | "copying-rule" | "failing-rule" | "eager-inplace";

/**
 * What a FAST_RUN compile may be told to leave out (a pass name or a tag), with the passes that
 * must then not run: restated from the pipeline's documentation (docs/architecture.md), not from
 * the database's registrations or checked mode's table.
 */
export const EXCLUDES: Readonly<Record<string, readonly string[]>> = {
  merge: ["merge1", "merge1.1", "merge2", "merge3"],
  fusion: ["elemwise_fusion"],
  inplace: ["inplace"],
  fast_compile: ["merge1", "merge1.1", "canonicalize"],
  fast_run: ["merge1", "merge1.1", "canonicalize", "stabilize", "specialize", "elemwise_fusion", "merge2", "inplace", "merge3"],
  canonicalize: ["canonicalize"],
  stabilize: ["stabilize"],
  specialize: ["specialize"],
  elemwise_fusion: ["elemwise_fusion"],
  merge1: ["merge1"],
  "merge1.1": ["merge1.1"],
  merge2: ["merge2"],
  merge3: ["merge3"],
  // Only a graph that is already positional may leave these out: the case's graph lowered first.
  required: ["expand_pullback", "lower_xtensor"],
};

/**
 * The corruptions the suite tries on a case: three of them, drawn by the case seed (each
 * corruption clones and re-verifies the graph, ~1 ms apiece). Run alone the property tries
 * every one, a superset, so a suite verdict reproduces.
 */
export function scheduledCorruptions(seed: number): (typeof CORRUPTIONS)[number][] {
  const rand = mulberry32((seed ^ 0x0c0ffee5) >>> 0);
  const order = CORRUPTIONS.map((c) => ({ c, k: rand() })).sort((p, q) => p.k - q.k);
  return order.slice(0, 3).map((p) => p.c).sort((a, b) => CORRUPTIONS.indexOf(a) - CORRUPTIONS.indexOf(b));
}

/** Whether a case (by its seed) also runs the `exclude` scenario: an eighth of the property's cases (it costs a compile). */
export function excludeScheduled(seed: number): boolean {
  return ((Math.imul((seed ^ 0x1b873593) >>> 0, 0xcc9e2d51) >>> 13) & 7) === 0;
}

/**
 * The case compiled in checked FAST_RUN without one seeded pass or tag: checked mode must accept
 * the smaller pipeline (its pass list and promises minus what was left out), and none of the
 * passes left out may run. The `required` tag (the lowering and the Pullback expansion) is left
 * out of the case's graph lowered first, compiled in a seeded mode (NONE, FAST_COMPILE or
 * FAST_RUN). `draw` 1 picks another entry than draw 0 (the suite's). With `src` (a graph already
 * positional: positional-forms' graph), that graph is compiled instead of the case's.
 */
export function excludeScenario(b: BuiltCase, seed: number, draw: 0 | 1 = 0, ctx = new RewriteContext({ checked: true, onOptError: "raise" }), src?: SilencedSource): CorruptionOutcome {
  const names = Object.keys(EXCLUDES);
  const rand = mulberry32((seed ^ 0x5ca1ab1e) >>> 0);
  const first = Math.floor(rand() * names.length);
  const ex = names[draw === 0 ? first : (first + 1 + Math.floor(rand() * (names.length - 1))) % names.length];
  const corruption = "exclude";
  // "required" (the lowering and the Pullback expansion) may be left out only by a graph that
  // needs neither: the case's graph with its Pullback nodes expanded and lowered first, by the
  // public `expandPullbacks` and `lower`, in any mode.
  const mode = ex === "required" ? (["NONE", "FAST_COMPILE", "FAST_RUN"] as const)[Math.floor(rand() * 3)] : "FAST_RUN";
  const graphWhat = src !== undefined ? `${src.label}${ex === "required" ? ", lowered first," : ""}` : ex === "required" ? "the case's graph, lowered first," : "the case";
  const what = `${graphWhat} compiled in checked ${mode} with exclude: ["${ex}"]${ctx.passesRun.length > 0 ? ", on the rewrite context of an earlier compile" : ""}`;
  const since = ctx.passesRun.length;
  try {
    if (src !== undefined) {
      // Its gradient holds lazy Pullback nodes over named ops: expanded and lowered first, as the case's.
      const outputs = ex === "required" ? lower(expandPullbacks([...src.outputs]), { checked: true }) : [...src.outputs];
      compile([...src.inputs], outputs, { mode, checked: true, onOptError: "raise", exclude: [ex], ctx });
    } else if (ex === "required") {
      const { inputs, outputs } = caseSource(b);
      compile([...inputs], lower(expandPullbacks(outputs), { checked: true }), { mode, checked: true, onOptError: "raise", exclude: [ex], ctx });
    } else sensitivityGraph(b, [ex], ctx);
  } catch (e) {
    // Either checked mode refused a pipeline the caller may ask for, or it caught the engine
    // ignoring the exclude (its pass list): both are findings, and the message tells which.
    return { corruption, status: "missed", detail: `${what} failed: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}` };
  }
  const ran = EXCLUDES[ex].filter((p) => ctx.passesRun.slice(since).includes(p));
  if (ran.length > 0) return { corruption, status: "missed", detail: `${what}: ${ran.join(", ")} ran anyway, and checked mode did not say so` };
  return { corruption, status: "caught", detail: what };
}

/**
 * FAST_RUN's passes in order, restated from docs/architecture.md's pipeline table (not from the
 * database or checked mode's table), and those a compile may leave out by name.
 */
const FAST_RUN_PASSES: readonly string[] = ["merge1", "expand_pullback", "lower_xtensor", "merge1.1", "canonicalize", "stabilize", "specialize", "elemwise_fusion", "merge2", "inplace", "merge3"];
const OPTIONAL_PASSES = FAST_RUN_PASSES.filter((p) => p !== "expand_pullback" && p !== "lower_xtensor");

/**
 * A pipeline that broke its pass list, run for real on the case's cost, then judged by checked
 * mode's pass-list check as if it were the compile asked for. One seeded variant of three:
 * - `lost`: a pass silently left out (a registration lost its mode's tag);
 * - `ignored`: the compile asked to leave a pass out, and it ran (an exclude ignored);
 * - `reordered`: a merge pass run last instead of at its position (a registration at a wrong
 *   position; a merge pass, so the pipeline's values and checks stay sound).
 * Checked mode must stop each with the message that names the pass, the list it expected and
 * the passes that ran, word for word: that message is the only trace such a fault leaves.
 * `verify` is the check judged (tests pass a weakened one, to show the scenario failing).
 */
export function passListScenario(b: BuiltCase, seed: number, verify: typeof verifyModePasses = verifyModePasses): CorruptionOutcome {
  const corruption = "pass-list";
  const rand = mulberry32((seed ^ 0x7a55e5) >>> 0);
  const variant = (["lost", "ignored", "reordered"] as const)[Math.floor(rand() * 3)];
  const merges = OPTIONAL_PASSES.filter((p) => p.startsWith("merge") && p !== "merge3");
  const pass = variant === "reordered" ? merges[Math.floor(rand() * merges.length)] : OPTIONAL_PASSES[Math.floor(rand() * OPTIONAL_PASSES.length)];
  const fg = new FunctionGraph([...b.inputs.values()], [b.cost], { clone: true, features: [new DestroyHandler(), new CheckedFeature()] });
  const ctx = new RewriteContext({ checked: true, onOptError: "raise" });
  const include = MODE_TAGS.FAST_RUN;
  const pipeline = [optdb.query({ include, exclude: variant === "ignored" ? [] : [pass] })];
  if (variant === "reordered") pipeline.push(optdb.query({ include, exclude: FAST_RUN_PASSES.filter((p) => p !== pass) }));
  const what = `a FAST_RUN pipeline that ${variant === "lost" ? `left out ${pass}` : variant === "ignored" ? `ran ${pass}, which the compile excluded` : `ran ${pass} last`}`;
  const claimed: string[] = variant === "ignored" ? [pass] : [];
  const mark = pipelineMark(ctx);
  try {
    for (const p of pipeline) {
      p.addRequirements?.(fg);
      p.apply(fg, ctx);
    }
  } catch (e) {
    return { corruption, status: "skip", detail: `${what}: the pipeline itself failed (rewrite-soundness judges that): ${e instanceof Error ? e.message.split("\n")[0] : String(e)}` };
  }
  const want = FAST_RUN_PASSES.filter((p) => !claimed.includes(p));
  const ran = ctx.passesRun.slice(mark.passes);
  const problem = variant === "lost" ? `${pass} did not run` : variant === "ignored" ? `${pass} ran although the compile excluded ${pass}` : "its passes ran out of order";
  const says = `checked mode: mode FAST_RUN broke its promise passes: ${problem} (expected ${want.join(", ")}; ran ${ran.join(", ")})`;
  const missed = refusalProblem({ what: "checked mode's pass-list check", run: () => verify("FAST_RUN", claimed, ctx, mark), says }, InvariantError, "it passed the pipeline");
  return missed === null ? { corruption, status: "caught", detail: what } : { corruption, status: "missed", detail: `${what}: ${missed}` };
}

/** The rule groups with normal forms, in pipeline order (restated, like {@link FAST_RUN_PASSES}). */
const NORMAL_FORM_GROUPS = ["canonicalize", "stabilize", "specialize"] as const;

/** Every rule of the three groups, by name: the objects the database runs (silenced in place). */
type GroupRule = { readonly rw: NodeRewriter; readonly group: (typeof NORMAL_FORM_GROUPS)[number] };
const GROUP_RULES: ReadonlyMap<string, GroupRule> = new Map(
  ([[CANONICALIZE_RULES, "canonicalize"], [STABILIZE_RULES, "stabilize"], [SPECIALIZE_RULES, "specialize"]] as const).flatMap(([rules, group]) => rules.map((rw): [string, GroupRule] => [rw.name, { rw, group }])),
);

/** The modes whose rule groups have normal forms, and their passes in order (restated like {@link FAST_RUN_PASSES}). */
type SilencedMode = "FAST_RUN" | "FAST_COMPILE";
const MODE_PASSES: Readonly<Record<SilencedMode, readonly string[]>> = {
  FAST_RUN: FAST_RUN_PASSES,
  FAST_COMPILE: ["merge1", "expand_pullback", "lower_xtensor", "merge1.1", "canonicalize"],
};

/** The query of `mode` that stops right after `group` (every later pass excluded by name). */
function queryUpTo(mode: SilencedMode, group: string): Query {
  const passes = MODE_PASSES[mode];
  return { include: MODE_TAGS[mode], exclude: passes.slice(passes.indexOf(group) + 1) };
}

/** A graph the silenced-rule scenario runs through the pipeline, from its inputs and outputs (cloned for each run). */
export interface SilencedSource {
  /** What the graph is, for messages. */
  readonly label: string;
  readonly inputs: readonly Variable[];
  readonly outputs: readonly Variable[];
  /** The forms spliced into the graph (positional-forms'), when it is the forms graph. */
  readonly forms?: readonly string[];
}

/** The case's values and direct gradient, as {@link sensitivityGraph} compiles them. */
export function caseSource(b: BuiltCase): SilencedSource {
  const gs = b.wrt.length > 0 ? grad(b.cost, b.wrt, { disconnectedInputs: "ignore" }) : [];
  return { label: "the case's values and direct gradient", inputs: [...b.inputs.values()], outputs: [...b.nodes.values(), ...gs] };
}

/** A fresh clone of `src`'s graph, with checked mode's features. */
function freshGraph(src: SilencedSource): FunctionGraph {
  return new FunctionGraph([...src.inputs], [...src.outputs], { clone: true, features: [new DestroyHandler(), new CheckedFeature()] });
}

/**
 * The rules that fire under `mode` up to its last group with a normal form, on a fresh run of
 * `src`'s graph (how many times each), or the first line of the error that stopped it. One run
 * per graph and mode: silenced-rule, copying-rule and failing-rule all start from it.
 */
const uncorruptedRuns = new WeakMap<SilencedSource, Map<SilencedMode, ReadonlyMap<string, number> | string>>();
function uncorruptedRun(src: SilencedSource, mode: SilencedMode): ReadonlyMap<string, number> | string {
  let byMode = uncorruptedRuns.get(src);
  if (byMode === undefined) uncorruptedRuns.set(src, (byMode = new Map()));
  let run = byMode.get(mode);
  if (run === undefined) {
    const groups = NORMAL_FORM_GROUPS.filter((g) => MODE_PASSES[mode].includes(g));
    try {
      run = runChecked(freshGraph(src), queryUpTo(mode, groups[groups.length - 1])).fired;
    } catch (e) {
      run = e instanceof Error ? e.message.split("\n")[0] : String(e);
    }
    byMode.set(mode, run);
  }
  return run;
}

/** Run `q`'s pipeline on `fg` in checked mode, raising. */
function runChecked(fg: FunctionGraph, q: Query): RewriteContext {
  const ctx = new RewriteContext({ checked: true, onOptError: "raise" });
  const p = optdb.query(q);
  p.addRequirements?.(fg);
  p.apply(fg, ctx);
  return ctx;
}

/**
 * True when re-inferring `node` gives another output type than it records, or refuses. The normal
 * forms promise nothing around such a stale node (their documented decline); restated here from
 * the ops' own makeNode, not from normalform.ts.
 */
function reinfersOtherwise(node: Apply): boolean {
  try {
    const fresh = node.op.makeNode(...node.inputs);
    return fresh.outputs.some((o, k) => !o.type.equals(node.outputs[k].type));
  } catch {
    return true;
  }
}

/** A Subtensor index entry that keeps the whole axis. */
const fullSlice = (e: number | { start: number | null; stop: number | null; step: number | null }): boolean =>
  typeof e !== "number" && e.start === null && e.stop === null && (e.step === null || e.step === 1);

/**
 * Where a normal form documents that it promises less than its rule rewrites (normalform.ts's
 * comments), restated: a node the rule still rewrites there is not judged.
 */
const NARROWER_PROMISE: Readonly<Record<string, (node: Apply) => boolean>> = {
  // "ints and full slices only, each int on a static length the value stretches along", and at
  // least one int: any other Subtensor of an Alloc is the rule's, not the promise's.
  local_subtensor_of_alloc: (node) => {
    if (!(node.op instanceof Subtensor)) return false;
    const al = node.inputs[0].owner;
    if (al === null) return true;
    const v = al.inputs[0];
    const allocated = al.outputs[0].type.shape;
    const lead = allocated.length - v.type.ndim;
    const idx = node.op.props.idx;
    const ints = idx.flatMap((e, d) => (typeof e === "number" ? [d] : []));
    const stretched = (d: number): boolean => allocated[d] !== null && (d < lead || v.type.shape[d - lead] === 1);
    return ints.length === 0 || !idx.every((e) => typeof e === "number" || fullSlice(e)) || !ints.every(stretched);
  },
};

/**
 * The rules whose normal forms decline a stale pattern (normalform.ts's `stretchesTo`, restated:
 * the forms that ask whether an operand stands for the output).
 */
const STALE_DECLINES: ReadonlySet<string> = new Set(["local_neutral_element", "local_mul_zero", "local_log1p", "local_log1msigm", "local_expm1", "local_pow_2_to_square", "local_pow_half_to_sqrt", "local_second_to_alloc"]);

/**
 * The nodes of `fg` the real `rw` would still rewrite, and whether its normal form may decline
 * each (a stale type on it or on a node it reads, for {@link STALE_DECLINES}; {@link NARROWER_PROMISE}). Reads the rule as the engine runs it: its
 * tracked classes, its pre-filter, its transform's replacements.
 */
function stillRewritten(fg: FunctionGraph, rw: NodeRewriter): { node: Apply; declinable: boolean }[] {
  const out: { node: Apply; declinable: boolean }[] = [];
  for (const node of nodesOf(fg)) {
    if (rw.tracks !== null && !rw.tracks.some((c) => node.op instanceof c)) continue;
    if (rw.matches !== undefined && !rw.matches(node, fg)) continue;
    let pairs: [Variable, Variable][];
    try {
      pairs = replacementPairs(fg, rw, node, rw.transform(fg, node));
    } catch {
      continue; // a failing transform rewrites nothing
    }
    if (pairs.length === 0) continue;
    const stale = STALE_DECLINES.has(rw.name) && [node, ...node.inputs.map((v) => v.owner)].some((n) => n !== null && !(n.op instanceof Output) && reinfersOtherwise(n));
    const declinable = stale || NARROWER_PROMISE[rw.name]?.(node) === true;
    out.push({ node, declinable });
  }
  return out;
}

/**
 * A rule that silently stopped firing (a match condition gone false, a lost tag), run for real:
 * the graph goes through FAST_RUN (or FAST_COMPILE, whose canonicalize runs only the rules tagged
 * for it) up to the rule's group, once as is, to learn which rules with a normal form fire on it
 * under that mode (not read from the registrations or the forms' mode lists), and once per
 * silenced rule: its transform declines every node, its registration, tags and name untouched,
 * so no query can tell. `every`: each rule that fired, in turn, under both modes (alone); else
 * one mode and rule drawn by the seed (the suite). The pattern a silenced rule would have
 * rewritten is left, and checked mode's normal form, run right after the group, must stop the
 * pipeline naming the rule and a node the real rule still rewrites, word for word up to the
 * form's reason, which must say what is left (not be empty: the reader of a nightly report has
 * only that sentence): `rewrite <group>: checked mode: <group> under <query> broke its promise
 * <rule>: <node> is left (<reason>)`. Checked mode stops at the first leftover; the rule's normal form must also
 * call every other node the rule still rewrites a leftover.
 *
 * The judge is the rule's own transform, run on the graph the silenced group left: no copy of the
 * normal forms' predicates. Not judged: a silenced rule whose place another rule took (the real
 * rule rewrites nothing that is left), and a left pattern where the normal forms document that
 * they decline (a stale type on or under the node, {@link STALE_DECLINES}; {@link NARROWER_PROMISE}).
 */
export function silencedRuleScenario(src: SilencedSource, seed: number, every = false): CorruptionOutcome[] {
  const rand = mulberry32((seed ^ 0x51e7ced) >>> 0);
  const modes: SilencedMode[] = every ? ["FAST_RUN", "FAST_COMPILE"] : [rand() < 0.75 ? "FAST_RUN" : "FAST_COMPILE"];
  return modes.flatMap((mode) => {
    const corruption = "silenced-rule";
    const groups = NORMAL_FORM_GROUPS.filter((g) => MODE_PASSES[mode].includes(g));
    const reference = uncorruptedRun(src, mode);
    if (typeof reference === "string") return [{ corruption, status: "skip", detail: `the uncorrupted ${mode} pipeline failed on ${src.label} (rewrite-soundness judges that): ${reference}` }];
    // Every rule of the groups that fired, whether or not the forms' table names it: a rule the
    // table lost (or renamed) must be missed here, not skipped.
    const fired = [...GROUP_RULES.keys()].filter((r) => (reference.get(r) ?? 0) > 0);
    if (fired.length === 0) return [{ corruption, status: "skip", detail: `no rule of ${groups.join(", ")} fires under ${mode} on ${src.label}` }];
    const rules = every ? fired : [pick(fired, rand) as string];
    return rules.map((rule) => silenceOne(src, mode, rule, `${rule} silenced under ${mode} (it fired ${reference.get(rule)} time(s) on ${src.label})`));
  });
}

/**
 * The start of checked mode's message for a group's broken `promise` under `q`, restated from
 * the documented format. The group's pass reports it, so the engine prefixes the pass's name
 * (as for any pass-level failure).
 */
function brokenPromisePrefix(group: string, q: Query, promise: string): string {
  const exclude = q.exclude ?? [];
  return `rewrite ${group}: checked mode: ${group} under [${q.include.join(", ")}]${exclude.length > 0 ? ` minus [${exclude.join(", ")}]` : ""} broke its promise ${promise}: `;
}

/** One silenced rule's run and judgement (see {@link silencedRuleScenario}). */
function silenceOne(src: SilencedSource, mode: SilencedMode, rule: string, what: string): CorruptionOutcome {
  const corruption = "silenced-rule";
  const { rw, group } = GROUP_RULES.get(rule) as GroupRule;
  const q = queryUpTo(mode, group);
  const fg = freshGraph(src);
  let error: unknown = null;
  const real = rw.transform;
  // The database holds this very object: silence it in place, for this one run.
  (rw as { transform: NodeRewriter["transform"] }).transform = () => null;
  try {
    runChecked(fg, q);
  } catch (e) {
    error = e;
  } finally {
    (rw as { transform: NodeRewriter["transform"] }).transform = real;
  }
  const left = stillRewritten(fg, rw);
  const prefix = brokenPromisePrefix(group, q, rule);
  const judged = left.filter((l) => !l.declinable);
  if (error === null) {
    if (judged.length === 0) {
      return { corruption, status: "skip", detail: left.length === 0 ? `${what}: another rule took its place (nothing it rewrites is left)` : `${what}: what it would rewrite is left only where the normal forms document that they decline (a stale type, a narrower promise)` };
    }
    return { corruption, status: "missed", detail: `${what}: ${judged[0].node.toString()} is left, which ${rule} still rewrites, and checked mode's normal form for ${group} did not report it` };
  }
  const message = error instanceof Error ? error.message : String(error);
  const named = left.find((l) => {
    const head = `${prefix}${l.node.toString()} is left (`;
    return message.startsWith(head) && message.endsWith(")") && !message.startsWith(`${head})`);
  });
  const other = /broke its promise (\S+): /.exec(message)?.[1];
  if (error instanceof InvariantError && other !== undefined && other !== rule) {
    // Another rule's promise: with this one silent, its form flagged a node (the message says which).
    return { corruption, status: "missed", detail: `${what}: checked mode reported the promise of ${other} instead, on a graph the silenced rule left (that form promises more than its rule there, or the group stopped early): ${message.split("\n")[0]}` };
  }
  if (!(error instanceof InvariantError) || named === undefined) {
    return { corruption, status: "missed", detail: `${what}: expected "${prefix}<a node ${rule} still rewrites> is left (<what is left>)"${left.length > 0 ? ` (such as ${left[0].node.toString()})` : ""}; got ${error instanceof Error ? `${error.name}: ` : ""}${message.split("\n")[0]}` };
  }
  // Checked mode stops at the first leftover; the promise covers every one the rule still rewrites.
  const form = NORMAL_FORMS.find((f) => f.rule === rule);
  if (form === undefined) return { corruption, status: "missed", detail: `${what}: checked mode named ${rule}, but no normal form of that name exists to judge the other nodes it leaves` };
  const unseen = judged.find((l) => form.leftover(fg, l.node) === null);
  if (unseen !== undefined) return { corruption, status: "missed", detail: `${what}: checked mode reported ${named.node.toString()}, but its normal form does not call ${unseen.node.toString()} a leftover, which ${rule} still rewrites` };
  return { corruption, status: "caught", detail: `${what}: ${named.node.toString()} reported` };
}

/**
 * A rule of stabilize or specialize that makes a copy, run for real: FAST_RUN up to the rule's
 * group on `src`, once as is (which rules of the two groups fire), then once per chosen rule with
 * each of its replacements wrapped in `cast(r, r's dtype)`: the same values, one more loop read,
 * which no value-based property can see. Checked mode's `adds_no_copy` promise, right after the
 * group, must stop the pipeline: `rewrite <group>: checked mode: <group> under <query> broke its
 * promise adds_no_copy: Elemwise{cast, <dtype>}(…) is new (…)`. Not judged: a rule whose place
 * another took (it did not fire in the corrupted run), and a run whose every copy reads a graph
 * input and is read by a graph output (a copy the promise exempts, as useless_cast_identity does).
 */
export function copyingRuleScenario(src: SilencedSource, seed: number, every = false): CorruptionOutcome[] {
  const corruption = "copying-rule";
  const rand = mulberry32((seed ^ 0xc0b1e5) >>> 0);
  // The groups the promise covers, restated from docs/architecture.md (not read from the
  // engine's COPY_FREE_GROUPS, so that a group dropped from it is missed here, not skipped).
  const copyFree = ["stabilize", "specialize"];
  const reference = uncorruptedRun(src, "FAST_RUN");
  if (typeof reference === "string") return [{ corruption, status: "skip", detail: `the uncorrupted FAST_RUN pipeline failed on ${src.label} (rewrite-soundness judges that): ${reference}` }];
  const fired = [...GROUP_RULES.entries()].filter(([r, g]) => copyFree.includes(g.group) && (reference.get(r) ?? 0) > 0).map(([r]) => r);
  if (fired.length === 0) return [{ corruption, status: "skip", detail: `no rule of stabilize or specialize fires under FAST_RUN on ${src.label}` }];
  const rules = every ? fired : [pick(fired, rand) as string];
  return rules.map((rule): CorruptionOutcome => {
    const { rw, group } = GROUP_RULES.get(rule) as GroupRule;
    const q = queryUpTo("FAST_RUN", group);
    const what = `${rule} made to wrap its replacements in a cast to their own dtype (it fired ${reference.get(rule)} time(s) on ${src.label})`;
    const fg = freshGraph(src);
    const real = rw.transform;
    (rw as { transform: NodeRewriter["transform"] }).transform = (g, node) => {
      const r = real(g, node);
      if (r === null) return r;
      if (r instanceof Map) return new Map([...r].map(([o, v]) => [o, cast(v, v.type.dtype)]));
      return (r as readonly (Variable | null)[]).map((v) => (v === null ? v : cast(v, v.type.dtype)));
    };
    let error: unknown = null;
    let ctx: RewriteContext | null = null;
    try {
      ctx = runChecked(fg, q);
    } catch (e) {
      error = e;
    } finally {
      (rw as { transform: NodeRewriter["transform"] }).transform = real;
    }
    const prefix = brokenPromisePrefix(group, q, "adds_no_copy");
    if (error === null) {
      if ((ctx?.fired.get(rule) ?? 0) === 0) return { corruption, status: "skip", detail: `${what}: another rule took its place (it did not fire)` };
      // A copy of a graph input read by a graph output is exempt (no caller's array comes back as an output).
      const copies = nodesOf(fg).filter((n) => n.op instanceof Elemwise && n.op.props.scalar === "cast" && n.op.props.inplace === null && n.inputs[0].type.equals(n.outputs[0].type));
      const exempt = (n: Apply): boolean => n.inputs[0].owner === null && (fg.clients.get(n.outputs[0]) ?? []).some(([c]) => c.op instanceof Output);
      if (copies.length > 0 && copies.every(exempt)) return { corruption, status: "skip", detail: `${what}: every copy it made hands a graph input to a graph output (exempt)` };
      return { corruption, status: "missed", detail: `${what}: ${copies.length > 0 ? `${copies[0].toString()} is left` : "its copies are left"}, and checked mode's adds_no_copy for ${group} did not report it` };
    }
    const message = error instanceof Error ? error.message : String(error);
    if (!(error instanceof InvariantError) || !message.startsWith(`${prefix}Elemwise{cast, `) || !/ is new \(cast to its input's own type; none of the group's rules writes one\)$/.test(message)) {
      return { corruption, status: "missed", detail: `${what}: expected "${prefix}Elemwise{cast, …}(…) is new (cast to its input's own type; none of the group's rules writes one)"; got ${error instanceof Error ? `${error.name}: ` : ""}${message.split("\n")[0]}` };
    }
    return { corruption, status: "caught", detail: `${what}: the copy reported` };
  });
}

/**
 * What `onOptError: "ignore"` promises, run for real on a rule with a normal form: a rule of
 * canonicalize, stabilize or specialize that fires under FAST_RUN on the graph is made to fail
 * (its transform throws an ordinary error wherever the real rule would rewrite) or to loop (it
 * returns a fresh copy of the node there, so it fires again on the copy until the equilibrium's
 * budget stops it), and the pipeline runs up to its group in checked mode under "ignore". The
 * pipeline must go on: no error escapes, the failure (each naming the rule and the node, the
 * engine's `rewrite <rule> on <node>: ` prefix) or the exceeded budget (naming the rule) is
 * recorded, and the graph is intact (its integrity and a full DestroyHandler rebuild). Checked
 * mode judges no normal form after a recorded failure or loop: the rule's pattern is then left
 * by design, and a normal form judged anyway would cry wolf. `every`: each rule that fires, the
 * ways alternating (alone); else one rule and one way drawn by the seed (the suite, with
 * silenced-rule).
 */
export function failingRuleScenario(src: SilencedSource, seed: number, every = false): CorruptionOutcome[] {
  const corruption = "failing-rule";
  const rand = mulberry32((seed ^ 0xfa11ed) >>> 0);
  const reference = uncorruptedRun(src, "FAST_RUN");
  if (typeof reference === "string") return [{ corruption, status: "skip", detail: `the uncorrupted FAST_RUN pipeline failed on ${src.label} (rewrite-soundness judges that): ${reference}` }];
  const fired = [...GROUP_RULES.keys()].filter((r) => (reference.get(r) ?? 0) > 0);
  if (fired.length === 0) return [{ corruption, status: "skip", detail: `no rule of canonicalize, stabilize or specialize fires under FAST_RUN on ${src.label}` }];
  const ways = ["throws", "loops"] as const;
  // Alone, the ways alternate from rule to rule (from a seeded first): a loop runs the group's
  // whole budget under checked mode, so both ways on every rule would double the cost for checks
  // that differ only in what is recorded.
  const first = rand() < 0.5 ? 0 : 1;
  const runs = every ? fired.map((rule, i) => ({ rule, way: ways[(first + i) % 2] })) : [{ rule: pick(fired, rand) as string, way: ways[first] }];
  return runs.map(({ rule, way }): CorruptionOutcome => {
    const { rw, group } = GROUP_RULES.get(rule) as GroupRule;
    const q = queryUpTo("FAST_RUN", group);
    const what = `${rule} made to ${way === "throws" ? "throw" : "loop (a fresh copy of the node for a replacement)"} wherever it would rewrite, under onOptError "ignore" (it fired ${reference.get(rule)} time(s) on ${src.label})`;
    const fg = freshGraph(src);
    const real = rw.transform;
    const says = `xgrad_corrupt_failing_rule: ${rule} failed`;
    (rw as { transform: NodeRewriter["transform"] }).transform = (g, node) => {
      if (real(g, node) === null) return null;
      if (way === "throws") throw new Error(says);
      return node.op.makeNode(...node.inputs).outputs;
    };
    const ctx = new RewriteContext({ checked: true, onOptError: "ignore" });
    let error: unknown = null;
    try {
      const p = optdb.query(q);
      p.addRequirements?.(fg);
      p.apply(fg, ctx);
    } catch (e) {
      error = e;
    } finally {
      (rw as { transform: NodeRewriter["transform"] }).transform = real;
    }
    const said = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message.split("\n")[0]}` : String(e));
    if (error !== null) return { corruption, status: "missed", detail: `${what}: the pipeline raised instead of recording it${error instanceof InvariantError && /broke its promise/.test(said(error)) ? " (checked mode judged the group's normal form after it)" : ""}: ${said(error)}` };
    if (way === "throws") {
      const fs = ctx.report.failures;
      // The uncorrupted run reached a node the rule rewrites, and the corrupted one is the same run
      // up to there: a failure must be on record.
      if (fs.length === 0) return { corruption, status: "missed", detail: `${what}: no failure was recorded` };
      const wrong = fs.find((f) => f.rewrite !== rule || !f.error.message.startsWith(`rewrite ${rule} on ${f.node}: `) || !f.error.message.endsWith(says));
      if (wrong !== undefined) return { corruption, status: "missed", detail: `${what}: a recorded failure does not name the rule and its node ("rewrite ${rule} on <node>: ${says}"): ${wrong.rewrite}: ${wrong.error.message.split("\n")[0]}` };
    } else {
      const loops = ctx.report.budgetExceeded;
      if (loops.length === 0) return { corruption, status: "missed", detail: `${what}: no exceeded budget was recorded` };
      if (!loops.some((m) => m.includes(`rewriter "${rule}" fired `))) return { corruption, status: "missed", detail: `${what}: the exceeded budget recorded does not name the rule: ${loops[0]}` };
    }
    try {
      fg.checkIntegrity();
      fg.getFeature(DestroyHandler)?.checkConsistency({ full: true });
    } catch (e) {
      return { corruption, status: "missed", detail: `${what}: the recorded ${way === "throws" ? "failure" : "loop"} left the graph inconsistent: ${said(e)}` };
    }
    return { corruption, status: "caught", detail: `${what}: recorded, the pipeline went on` };
  });
}

/** How one corruption is applied and judged. */
interface Plan {
  /** What the target is, for messages. */
  readonly what: string;
  /** The body of the corrupting rewrite (run on the target node): no replacement, or a bad one. */
  readonly corrupt: (fg: FunctionGraph, node: Apply) => RewriteResult | void;
  /**
   * What must happen: checked mode's message (from the rewrite, or from the postconditions), or,
   * for an ordinary failure under `onOptError: "ignore"`, a recorded failure and an intact graph.
   */
  readonly expect: { readonly when: "rewrite" | "postconditions" | "recorded" | "tripwire"; readonly says: RegExp; readonly means: string };
}

/** A seeded corruption plan for a target in `fg`, or null when the graph has no fitting target. */
type Planner = (fg: FunctionGraph, rand: () => number) => { node: Apply; plan: Plan } | null;


/** A shape with every length known, or null. */
const knownShape = (t: Type): number[] | null => (t.shape.every((n) => n !== null) ? (t.shape as number[]) : null);

/** Input slots a node does not destroy (a constant must never be written to). */
const undestroyed = (n: Apply): number[] => {
  const d = new Set(Object.values(n.op.destroyMap).flat());
  return n.inputs.flatMap((_, i) => (d.has(i) ? [] : [i]));
};


/** Elementwise ops `unfuse` may wrap a variable in (the first one the variable has no reader of). */
const UNARY: readonly { readonly name: string; readonly build: (v: Variable) => Variable }[] = [
  { name: "neg", build: neg },
  { name: "tanh", build: tanh },
  { name: "exp", build: exp },
];

/** Real nodes (not Output pseudo-clients) in the graph's order. */
const nodesOf = (fg: FunctionGraph): Apply[] => fg.toposort().filter((n) => !(n.op instanceof Output));

/** Slots (node, input) that can take a zero constant of the input's own type. */
function constantSlots(fg: FunctionGraph): [Apply, number][] {
  return nodesOf(fg).flatMap((n) => undestroyed(n).filter((i) => !(n.inputs[i] instanceof Constant) && knownShape(n.inputs[i].type) !== null).map((i): [Apply, number] => [n, i]));
}

const zerosOf = (t: Type): Constant => new Constant(t, NDArray.zeros(knownShape(t) as number[], t.dtype));

/**
 * A DestroyHandler whose candidate filter also proposes every input slot of one node: protected
 * buffers, constants, trees with other readers. Validation still refuses those writes, so the
 * inplace pass's result would not show it; only checked mode's judgement of the query can.
 */
class EagerCandidates extends DestroyHandler {
  constructor(private readonly eager: Apply) {
    super();
  }

  override inplaceCandidates(node: Apply): number[] {
    const real = super.inplaceCandidates(node);
    return node === this.eager ? node.inputs.map((_, j) => j) : real;
  }
}

/**
 * A DestroyHandler whose candidate filter proposes every input slot of every node (a filter gone
 * permissive everywhere), its index and validation real.
 */
class EagerEverywhere extends DestroyHandler {
  override inplaceCandidates(node: Apply): number[] {
    return node.inputs.map((_, j) => j);
  }
}

/**
 * Validation is the inplace pass's safety net: the whole unchecked FAST_RUN pipeline runs for
 * real over {@link EagerEverywhere}, so the pass's first proposals include protected buffers,
 * constants and trees other nodes read; validation refuses them, and the pass must split the
 * vetoed batch down to single nodes and try their other slots (its documented fallback, which
 * the real filter never needs). The result must be a graph validation accepts, compute exactly
 * what the real unchecked FAST_RUN compile computes, and, judged with a real DestroyHandler put
 * back, keep FAST_RUN's promises (no write the real filter proposes and validation accepts
 * left undone: the fallback gave up nothing). On the case's graph (`src` absent); or on `src`, a
 * graph with positional forms (whose zero-update puts an update op on a shared zero buffer, so
 * the fallback reaches the fresh copy), judged without values (it has inputs the case has not).
 */
export function eagerInplaceScenario(b: BuiltCase, graph?: SilencedSource): CorruptionOutcome {
  const corruption = "eager-inplace";
  const src = graph ?? caseSource(b);
  const what = `the unchecked FAST_RUN pipeline over a DestroyHandler whose candidate filter proposes every input slot of every node${graph === undefined ? "" : `, on ${graph.label}`}`;
  const said = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message.split("\n")[0]}` : String(e));
  const args = (): NDArray[] => [...b.values.values()].map((x, i) => toInputArray(src.inputs[i], x));
  let want: NDArray[] | null = null;
  try {
    if (graph === undefined) want = compile([...src.inputs], [...src.outputs], { mode: "FAST_RUN", onOptError: "raise" })(...args());
  } catch (e) {
    return { corruption, status: "skip", detail: `the real FAST_RUN compile failed (rewrite-soundness judges that): ${said(e)}` };
  }
  const eager = new EagerEverywhere();
  const fg = new FunctionGraph([...src.inputs], [...src.outputs], { clone: true, features: [eager] });
  const query = { include: MODE_TAGS.FAST_RUN };
  try {
    const p = optdb.query(query);
    p.addRequirements?.(fg);
    p.apply(fg, new RewriteContext({ checked: false, onOptError: "raise" }));
  } catch (e) {
    return { corruption, status: "missed", detail: `${what} failed: ${said(e)}` };
  }
  try {
    fg.checkIntegrity();
    fg.validate();
  } catch (e) {
    return { corruption, status: "missed", detail: `${what} left a graph validation refuses: ${said(e)}` };
  }
  if (want !== null) {
    let got: NDArray[];
    try {
      got = runProgram(buildProgram(fg.inputs, fg.outputs, fg.toposort()), args());
    } catch (e) {
      return { corruption, status: "missed", detail: `${what} left a graph that fails at run time: ${said(e)}` };
    }
    const same = (x: NDArray, y: NDArray): boolean => {
      const a = x.toFlat();
      const c = y.toFlat();
      return x.shape.join() === y.shape.join() && a.every((v, i) => Object.is(v, c[i]) || v === c[i]);
    };
    const k = want.findIndex((w, i) => !same(w, got[i]));
    if (k >= 0) return { corruption, status: "missed", detail: `${what} computes output ${k} (${src.outputs[k].toString()}) otherwise than the real FAST_RUN compile: ${JSON.stringify(got[k].toNested()).slice(0, 120)} against ${JSON.stringify(want[k].toNested()).slice(0, 120)}` };
  }
  fg.removeFeature(eager);
  fg.attachFeature(new DestroyHandler());
  try {
    verifyPostconditions(fg, query);
  } catch (e) {
    return { corruption, status: "missed", detail: `${what}: with a real DestroyHandler back, FAST_RUN's promises fail: ${said(e)}` };
  }
  const writes = nodesOf(fg).filter(isDestroyer).length;
  return { corruption, status: "caught", detail: `${what}: ${writes} in-place write(s), all valid, the same values` };
}

/**
 * A DestroyHandler whose index is right but whose answer to one query is wrong: the candidate
 * filter for one node, or `destroyersOf` / `hasDestroyers` for one variable. No engine path reads
 * `destroyersOf` or `hasDestroyers`, and validation still refuses the writes a filter proposes
 * wrongly, so only checked mode's restatement of each query can see the difference.
 */
class WrongQueries extends DestroyHandler {
  constructor(private readonly wrong: { readonly candidates?: readonly [Apply, number[]]; readonly destroyers?: readonly [Variable, Apply[]]; readonly has?: Variable }) {
    super();
  }

  override inplaceCandidates(node: Apply): number[] {
    const c = this.wrong.candidates;
    return c !== undefined && node === c[0] ? [...c[1]] : super.inplaceCandidates(node);
  }

  override destroyersOf(v: Variable): Apply[] {
    const d = this.wrong.destroyers;
    return d !== undefined && v === d[0] ? [...d[1]] : super.destroyersOf(v);
  }

  override hasDestroyers(vars: Iterable<Variable>): boolean {
    const list = [...vars];
    const real = super.hasDestroyers(list);
    return list.length === 1 && list[0] === this.wrong.has ? !real : real;
  }
}

/**
 * The out-of-place twin of a node written in place: the same op and inputs, writing a fresh
 * buffer. Built from each op's constructor (not from checked mode's `inplaceVariant` or the
 * inplace pass), so the corruption shares no code with what judges it. Only for an
 * {@link undoable} node.
 */
function outOfPlace(node: Apply): Apply {
  const op = node.op;
  if (op instanceof Elemwise || op instanceof Composite) return op.withInplace(null).makeNode(...node.inputs);
  if (op instanceof IncSubtensor) return new IncSubtensor(op.props.idx, op.props.mode).makeNode(...node.inputs);
  if (op instanceof AdvancedIncSubtensor) return new AdvancedIncSubtensor(op.props.idx, op.props.mode).makeNode(...node.inputs);
  throw new Error(`checked-sensitivity: ${op.toString()} has no out-of-place twin (a harness defect: undoable() admitted it)`);
}

/** A node written in place by an op whose out-of-place twin {@link outOfPlace} builds. */
const undoable = (n: Apply): boolean =>
  isDestroyer(n) && (n.op instanceof Elemwise || n.op instanceof Composite || n.op instanceof IncSubtensor || n.op instanceof AdvancedIncSubtensor);

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Run `body` with the given features detached behind the graph's back (no onDetach, no onAttach). */
function unheard(fg: FunctionGraph, which: (f: Feature) => boolean, body: () => void): void {
  // The attach list itself, so the features hear nothing and keep their state: a lost callback.
  const list = fg.getFeatures() as Feature[];
  const saved = [...list];
  const kept = saved.filter((f) => !which(f));
  list.splice(0, list.length, ...kept);
  try {
    body();
  } finally {
    list.splice(0, list.length, ...saved);
  }
}

/**
 * An input rewired through the graph (announced) while the features `deaf` selects are not
 * listening: a lost callback. The DestroyHandler's index then describes another graph; with
 * every feature deaf, only checked mode's record of the graph can notice the change at all.
 */
function unheardPlanner(how: string, deaf: (f: Feature) => boolean, reason: string): Planner {
  return (fg, rand) => {
    if (fg.getFeature(DestroyHandler) === undefined) return null;
    const s = pick(constantSlots(fg), rand);
    if (s === null) return null;
    const [node, i] = s;
    return {
      node,
      plan: {
        what: `input ${i} of ${node.op.toString()} rewired ${how}`,
        corrupt: (g, n) => unheard(g, deaf, () => g.changeNodeInput(n, i, zerosOf(n.inputs[i].type), reason)),
        expect: { when: "rewrite", says: /broke the DestroyHandler bookkeeping during transform/, means: "the DestroyHandler bookkeeping" },
      },
    };
  };
}

/** A constant every element of which is zero (restated, not checked mode's `isZeroFill`). */
function zeroConstant(v: Variable): boolean {
  if (!(v instanceof Constant)) return false;
  const flat = v.value.toFlat();
  return flat.length > 0 && flat.every((x) => x === 0);
}

/**
 * The update ops the inplace pass moved onto a fresh copy of a zero-filled Alloc: an in-place
 * update whose buffer is an Alloc of zeros that has an equal twin in the graph (the original,
 * which the update could not overwrite), with that twin.
 */
function freshCopyWrites(fg: FunctionGraph): [Apply, Apply][] {
  const nodes = nodesOf(fg);
  return nodes.flatMap((n): [Apply, Apply][] => {
    if (!undoable(n) || !(n.op instanceof IncSubtensor || n.op instanceof AdvancedIncSubtensor)) return [];
    const a = n.inputs[0].owner;
    if (a === null || !(a.op instanceof Alloc) || !zeroConstant(a.inputs[0])) return [];
    const equal = nodes.filter((m) => m !== a && m.op.equals(a.op) && m.inputs.length === a.inputs.length && m.inputs.every((x, i) => x === a.inputs[i]));
    // One twin only: with more copies of one buffer (several updates of it), putting one update
    // back changes which of the others validation lets merge, and the merge promise, judged
    // first, rightly reports those (a graph with two zero-update forms of one length).
    const twin = equal.length === 1 ? equal[0] : undefined;
    // Not when the update's other inputs are computed from the twin: a writer of the twin then
    // runs before the update, which, reading the twin again, must run before that writer (a
    // cycle validation rightly refuses; the pass had no choice but the copy).
    if (twin === undefined || ancestors(n.inputs.slice(1)).includes(twin.outputs[0])) return [];
    return [[n, twin]];
  });
}

/** `node`, an update op, rebuilt out of place on `buffer` (from the op's constructor, not checked mode's helpers). */
function updateOnto(node: Apply, buffer: Variable): Apply {
  const op = node.op as IncSubtensor | AdvancedIncSubtensor;
  return (op instanceof IncSubtensor ? new IncSubtensor(op.props.idx, op.props.mode) : new AdvancedIncSubtensor(op.props.idx, op.props.mode)).makeNode(buffer, ...node.inputs.slice(1));
}

/** Checked mode's candidate-query message, restated (the contract's words in parentheses). */
function candidatesSay(n: Apply, got: readonly number[], want: readonly number[]): string {
  return (
    `checked mode: DestroyHandler.inplaceCandidates(${n.toString()}) proposes input(s) [${got.join(", ")}], but the in-place contract restated from the graph allows [${want.join(", ")}] ` +
    "(one slot per tree of views, no other reader, nothing protected, constant or already overwritten)"
  );
}

/** Checked mode's destroyersOf message, restated. */
function destroyersSay(v: Variable, got: readonly Apply[], want: readonly Apply[]): string {
  const list = (ns: readonly Apply[]): string => ns.map((n) => n.toString()).join(", ");
  return `checked mode: DestroyHandler.destroyersOf(${v.toString()}) is [${list(got)}], but the graph's destroy maps give [${list(want)}]`;
}

const PLANNERS: Readonly<Record<(typeof CORRUPTIONS)[number], Planner>> = {
  rewire: (fg, rand) => {
    const s = pick(constantSlots(fg), rand);
    if (s === null) return null;
    const [node, i] = s;
    return {
      node,
      plan: {
        what: `input ${i} of ${node.op.toString()} assigned a constant directly`,
        corrupt: (_g, n) => {
          (n.inputs as Variable[])[i] = zerosOf(n.inputs[i].type);
        },
        expect: { when: "rewrite", says: /broke the FunctionGraph structure during transform/, means: "the FunctionGraph structure" },
      },
    };
  },
  "unheard-by-destroyhandler": unheardPlanner("while the DestroyHandler was not listening", (f) => f instanceof DestroyHandler, "xgrad_corrupt_unheard_by_destroyhandler"),
  "unheard-by-all": unheardPlanner("with no feature listening", () => true, "xgrad_corrupt_unheard_by_all"),
  retype: (fg, rand) => {
    const r = retypeTarget(fg, rand);
    if (r === null) return null;
    const { node, i, t, shape, bad, verdict } = r;
    return {
      node,
      plan: {
        what: `input ${i} of ${node.op.toString()} (${t.toString()}) replaced by a constant of shape (${shape.join(", ")}) with the type check off: ${verdict.text}`,
        corrupt: (g, n) => g.changeNodeInput(n, i, bad, "xgrad_corrupt_retype", { check: false }),
        expect: { when: "rewrite", says: verdict.says, means: "the types of the node, and how they changed" },
      },
    };
  },
  "retype-dtype": (fg, rand) => {
    // The other float dtype: the op then infers another output dtype, or refuses the input.
    const slots = constantSlots(fg).filter(([n, i]) => (n.inputs[i].type.dtype === "float64" || n.inputs[i].type.dtype === "float32"));
    const order = slots.map((s) => ({ s, k: rand() })).sort((p, q) => p.k - q.k);
    for (const { s: [node, i] } of order.slice(0, 8)) {
      const t = node.inputs[i].type;
      const other = t.withDtype(t.dtype === "float64" ? "float32" : "float64");
      const bad = new Constant(other, NDArray.zeros(knownShape(t) as number[], other.dtype));
      const verdict = typeChange(node, i, bad);
      if (verdict === null) continue;
      return {
        node,
        plan: {
          what: `input ${i} of ${node.op.toString()} (${t.toString()}) replaced by a ${other.dtype} constant with the type check off: ${verdict.text}`,
          corrupt: (g, n) => g.changeNodeInput(n, i, bad, "xgrad_corrupt_retype_dtype", { check: false }),
          expect: { when: "rewrite", says: verdict.says, means: "the types of the node, and how they changed" },
        },
      };
    }
    return null;
  },
  unmerge: (fg, rand) => {
    const cands: [Apply, Apply, number][] = [];
    for (const n of nodesOf(fg)) {
      if (isDestroyer(n) || /alloc/i.test(n.op.name)) continue;
      for (const o of n.outputs) {
        const readers = (fg.clients.get(o) ?? []).filter(([c]) => !isDestroyer(c));
        if ((fg.clients.get(o)?.length ?? 0) >= 2 && readers.length > 0) for (const [c, j] of readers) cands.push([n, c, j]);
      }
    }
    const s = pick(cands, rand);
    if (s === null) return null;
    const [node, reader, j] = s;
    return {
      node,
      plan: {
        what: `a fresh copy of ${node.op.toString()} given to ${reader.op.toString()} (input ${j})`,
        corrupt: (g, n) => {
          const o = n.outputs.indexOf(reader.inputs[j]);
          g.changeNodeInput(reader, j, n.op.makeNode(...n.inputs).outputs[o], "xgrad_corrupt_unmerge");
        },
        expect: { when: "postconditions", says: /broke its promise merge: \d+ pair\(s\) of equal nodes left unmerged/, means: "the merge promise (equal nodes)" },
      },
    };
  },
  "constant-copy": (fg, rand) => {
    const cands: [Constant, Apply, number][] = [];
    for (const v of fg.variables) {
      if (!(v instanceof Constant)) continue;
      const cl = fg.clients.get(v) ?? [];
      if (cl.length >= 2) for (const [c, j] of cl) if (!(c.op instanceof Output)) cands.push([v, c, j]);
    }
    const s = pick(cands, rand);
    if (s === null) return null;
    const [k, reader, j] = s;
    return {
      node: reader,
      plan: {
        what: `an equal copy of the constant ${k.toString()} given to ${reader.op.toString()} (input ${j})`,
        corrupt: (g, n) => g.changeNodeInput(n, j, new Constant(k.type, k.value), "xgrad_corrupt_constant_copy"),
        expect: { when: "postconditions", says: /broke its promise merge: two equal constants left unmerged/, means: "the merge promise (equal constants)" },
      },
    };
  },
  unfuse: (fg, rand) => {
    // neg(neg(v)) in place of v for one reader: the same values, and an Elemwise read only by an
    // elementwise node of its own static shape, which fusion promises never to leave behind.
    const cands = nodesOf(fg).flatMap((n) => undestroyed(n).filter((i) => {
      const v = n.inputs[i];
      return !(v instanceof Constant) && v.type.kind === "tensor" && (v.type.dtype === "float64" || v.type.dtype === "float32") && knownShape(v.type) !== null;
    }).map((i): [Apply, number] => [n, i]));
    const s = pick(cands, rand);
    if (s === null) return null;
    const [node, i] = s;
    // An inner op v has no reader of yet, or the new node would equal an old one (a merge finding first).
    const readers = new Set((fg.clients.get(node.inputs[i]) ?? []).map(([c]) => c.op.toString()));
    const u = UNARY.find((f) => !readers.has(`Elemwise{${f.name}}`));
    if (u === undefined) return null;
    return {
      node,
      plan: {
        what: `input ${i} of ${node.op.toString()} replaced by ${u.name}(${u.name}(input)), two unfused elementwise nodes`,
        corrupt: (g, n) => g.changeNodeInput(n, i, u.build(u.build(n.inputs[i])), "xgrad_corrupt_unfuse"),
        expect: { when: "postconditions", says: new RegExp(`broke its promise fusion: .* is read only by Elemwise\\{${u.name}\\}`), means: "the fusion promise" },
      },
    };
  },
  "eager-candidates": (fg, rand) => {
    const dh = fg.getFeature(DestroyHandler);
    if (dh === undefined) return null;
    const node = pick(nodesOf(fg).filter((n) => dh.inplaceCandidates(n).length < n.inputs.length), rand);
    if (node === null) return null;
    return {
      node,
      plan: {
        what: `a DestroyHandler whose candidate filter proposes every input of ${node.op.toString()}`,
        corrupt: (g, n) => {
          g.removeFeature(g.getFeature(DestroyHandler) as DestroyHandler);
          g.attachFeature(new EagerCandidates(n));
        },
        expect: { when: "postconditions", says: /DestroyHandler\.inplaceCandidates\(.*\) proposes input\(s\) \[.*\], but the in-place contract restated from the graph allows \[.*\]/, means: "the candidate query against the in-place contract" },
      },
    };
  },
  "rewire-then-prune": (fg, rand) => {
    // Unchecked: the DestroyHandler's own tripwire is all that stands between this and a
    // silently wrong index (production compiles run without checked mode).
    if (fg.getFeature(DestroyHandler) === undefined) return null;
    const s = pick(constantSlots(fg).filter(([n]) => !isDestroyer(n) && n.outputs.every((o) => o.type.kind === "tensor" || o.type.kind === "xtensor")), rand);
    if (s === null) return null;
    const [node, i] = s;
    return {
      node,
      plan: {
        what: `input ${i} of ${node.op.toString()} assigned a constant directly, then the node replaced by a fresh copy (so the graph prunes it), checked mode off`,
        corrupt: (g, n) => {
          (n.inputs as Variable[])[i] = zerosOf(n.inputs[i].type);
          const copy = n.op.makeNode(...n.inputs);
          g.replaceAllValidate(n.outputs.map((o, j) => [o, copy.outputs[j]] as const), "xgrad_corrupt_rewire_then_prune");
        },
        expect: { when: "tripwire", says: /DestroyHandler\.onPrune: .* its inputs were changed without FunctionGraph\.changeNodeInput/, means: "the DestroyHandler's prune check (a reader it never heard of)" },
      },
    };
  },
  "lost-prune": (fg, rand) => {
    // A replacement the DestroyHandler missed, then undone where it listens: it is told to import
    // a node it still holds and to prune one it never saw, and must say so.
    if (fg.getFeature(DestroyHandler) === undefined) return null;
    const node = pick(nodesOf(fg).filter((n) => !isDestroyer(n)), rand);
    if (node === null) return null;
    return {
      node,
      plan: {
        what: `${node.op.toString()} replaced by a fresh copy while the DestroyHandler was not listening, then put back, checked mode off`,
        corrupt: (g, n) => {
          const copy = n.op.makeNode(...n.inputs);
          unheard(g, (f) => f instanceof DestroyHandler, () => g.replaceAllValidate(n.outputs.map((o, j) => [o, copy.outputs[j]] as const), "xgrad_corrupt_lost_prune"));
          g.replaceAllValidate(copy.outputs.map((o, j) => [o, n.outputs[j]] as const), "xgrad_corrupt_lost_prune");
        },
        expect: { when: "tripwire", says: /DestroyHandler\.on(Import: double import of|Prune: prune of .*, which was never imported)/, means: "the DestroyHandler's import and prune checks" },
      },
    };
  },
  "out-of-place": (fg, rand) => {
    // The inplace pass's contract: a slot whose tree of views has no other reader, nothing
    // protected and no writer is written in place. Undoing one such write leaves that slot
    // writable again, and the inplace promise must name the node and the input. Checked mode's
    // message is the whole check (no value changes), so it is matched word for word.
    // Not a write into a buffer that has an equal twin elsewhere (the inplace pass's fresh copy
    // of a shared zero Alloc): once nothing overwrites it, the two are equal nodes merge3 left
    // apart, and the merge promise, judged first, rightly reports them (a case with two
    // gradient IncSubtensors of one Alloc(0, 5), found by a review).
    const nodes = nodesOf(fg);
    const slotOf = (n: Apply): number => Object.values(n.op.destroyMap)[0][0];
    const hasTwin = (v: Variable): boolean => {
      const o = v.owner;
      return o !== null && nodes.some((m) => m !== o && m.op.equals(o.op) && m.inputs.length === o.inputs.length && m.inputs.every((x, i) => x === o.inputs[i]));
    };
    const node = pick(nodes.filter((n) => undoable(n) && !hasTwin(n.inputs[slotOf(n)])), rand);
    if (node === null) return null;
    const slot = slotOf(node);
    const twin = outOfPlace(node);
    return {
      node,
      plan: {
        what: `${node.op.toString()} replaced by its out-of-place twin ${twin.op.toString()}`,
        corrupt: () => twin.outputs,
        expect: {
          when: "postconditions",
          says: new RegExp(
            `^checked mode: pipeline \\[${MODE_TAGS.FAST_RUN.join(", ")}\\] broke its promise inplace: ${escapeRe(twin.op.toString())}\\(.*\\) could write into input ${slot} ` +
              `\\(no other reader, nothing protected or already overwritten in its tree of views, and validation accepts the write\\) but was left out of place$`,
          ),
          means: `the inplace promise, naming ${twin.op.toString()} and its input ${slot}`,
        },
      },
    };
  },
  "wrong-queries": (fg, rand) => {
    const dh = fg.getFeature(DestroyHandler);
    if (dh === undefined) return null;
    const nodes = nodesOf(fg);
    const vars = [...fg.variables];
    // Each kind with the node or variable it is about, the wrong answer, and the message
    // checked mode must give, written from the handler's real answers (right on this graph: the
    // uncorrupted compile passed the same checks).
    type Kind = { readonly node: Apply; readonly what: string; readonly wrong: ConstructorParameters<typeof WrongQueries>[0]; readonly says: string };
    const kinds: (() => Kind | null)[] = [
      () => {
        // One slot fewer: the filter gone strict (the inplace pass would then miss a write).
        const n = pick(nodes.filter((m) => dh.inplaceCandidates(m).length > 0), rand);
        if (n === null) return null;
        const real = dh.inplaceCandidates(n);
        const got = real.slice(0, -1);
        return { node: n, what: `its candidate filter proposes [${got.join(", ")}] for ${n.op.toString()}, one slot fewer`, wrong: { candidates: [n, got] }, says: candidatesSay(n, got, real) };
      },
      () => {
        // As many slots, one of them another: the count alone cannot tell.
        const n = pick(nodes.filter((m) => dh.inplaceCandidates(m).length > 0 && dh.inplaceCandidates(m).length < m.inputs.length), rand);
        if (n === null) return null;
        const real = dh.inplaceCandidates(n);
        const other = n.inputs.map((_, j) => j).filter((j) => !real.includes(j));
        const got = [...real.slice(0, -1), other[Math.floor(rand() * other.length)]].sort((a, b) => a - b);
        return { node: n, what: `its candidate filter proposes [${got.join(", ")}] for ${n.op.toString()}, another slot`, wrong: { candidates: [n, got] }, says: candidatesSay(n, got, real) };
      },
      () => {
        // A variable's one destroyer left out.
        const v = pick(vars.filter((x) => dh.destroyersOf(x).length === 1), rand);
        if (v === null) return null;
        const real = dh.destroyersOf(v);
        return { node: real[0], what: `destroyersOf(${v.toString()}) leaves out ${real[0].toString()}`, wrong: { destroyers: [v, []] }, says: destroyersSay(v, [], real) };
      },
      () => {
        // Another node named as a variable's one destroyer: the count alone cannot tell.
        const v = pick(vars.filter((x) => dh.destroyersOf(x).length === 1), rand);
        if (v === null) return null;
        const real = dh.destroyersOf(v);
        const d = pick(nodes.filter((m) => isDestroyer(m) && m !== real[0]), rand);
        if (d === null) return null;
        return { node: real[0], what: `destroyersOf(${v.toString()}) names ${d.toString()} for ${real[0].toString()}`, wrong: { destroyers: [v, [d]] }, says: destroyersSay(v, [d], real) };
      },
      () => {
        // A destroyer named for a variable nobody overwrites.
        const d = pick(nodes.filter((m) => isDestroyer(m)), rand);
        const v = pick(vars.filter((x) => dh.destroyersOf(x).length === 0), rand);
        if (d === null || v === null) return null;
        return { node: d, what: `destroyersOf(${v.toString()}) names ${d.toString()}, which does not overwrite it`, wrong: { destroyers: [v, [d]] }, says: destroyersSay(v, [d], []) };
      },
      () => {
        // hasDestroyers the opposite for one variable.
        const v = pick(vars, rand);
        if (v === null) return null;
        const k = dh.destroyersOf(v).length;
        const anchor = v.owner ?? pick(nodes, rand);
        if (anchor === null) return null;
        return {
          node: anchor,
          what: `hasDestroyers([${v.toString()}]) answers ${String(k === 0)}`,
          wrong: { has: v },
          says: `checked mode: DestroyHandler.hasDestroyers([${v.toString()}]) is ${String(k === 0)}, but the graph's destroy maps give ${k} destroyer(s) of its buffer`,
        };
      },
    ];
    // One kind per case, drawn among those with a target.
    const start = Math.floor(rand() * kinds.length);
    let kind: Kind | null = null;
    for (let t = 0; t < kinds.length && kind === null; t++) kind = kinds[(start + t) % kinds.length]();
    if (kind === null) return null;
    const { wrong, says } = kind;
    return {
      node: kind.node,
      plan: {
        what: `a DestroyHandler whose ${kind.what}`,
        corrupt: (g) => {
          g.removeFeature(g.getFeature(DestroyHandler) as DestroyHandler);
          g.attachFeature(new WrongQueries(wrong));
        },
        expect: { when: "postconditions", says: new RegExp(`^${escapeRe(says)}$`), means: "checked mode's restatement of the handler's query, word for word" },
      },
    };
  },
  "lost-fresh-copy": (fg, rand) => {
    // The inplace pass's contract for an update op whose zero-filled buffer has other readers:
    // write into a fresh copy of it (nothing else reads a copy), not into the original and not
    // out of place. Undone: the update reads the original again, out of place, and the copy,
    // read by nothing, is pruned. Only the fresh-copy clause of the inplace promise can see it:
    // no slot of the twin is writable (the original has other readers), so it is matched word
    // for word.
    // Only where the rebuilt node records a type the graph accepts in place of the node's: a
    // node whose recorded type a rewrite refined (lengths read through Shape, known later) would
    // be rebuilt vaguer, and the replacement refused for its type, not for the missing copy.
    const c = pick(freshCopyWrites(fg).filter(([n, twin]) => n.outputs[0].type.isSuper(updateOnto(n, twin.outputs[0]).outputs[0].type)), rand);
    if (c === null) return null;
    const [node, twin] = c;
    const back = updateOnto(node, twin.outputs[0]);
    return {
      node,
      plan: {
        what: `${node.op.toString()} put back out of place onto the zero-filled ${twin.op.toString()} its fresh copy was made from (${back.op.toString()})`,
        corrupt: () => back.outputs,
        expect: {
          when: "postconditions",
          says: new RegExp(
            `^checked mode: pipeline \\[${MODE_TAGS.FAST_RUN.join(", ")}\\] broke its promise inplace: ${escapeRe(back.toString())} updates a zero-filled Alloc it may not overwrite, ` +
              `and was left out of place instead of writing into a fresh copy of that Alloc \\(validation accepts the copy\\)$`,
          ),
          means: `the inplace promise's fresh-copy clause, naming ${back.op.toString()}`,
        },
      },
    };
  },
  "failing-transform": (fg, rand) => {
    const node = pick(nodesOf(fg), rand);
    if (node === null) return null;
    return {
      node,
      plan: {
        what: `a transform on ${node.op.toString()} that throws an ordinary error under onOptError "ignore"`,
        corrupt: () => {
          throw new Error("xgrad: a deliberately failing transform");
        },
        expect: { when: "recorded", says: /^rewrite xgrad_corrupt_failing_transform on .*: xgrad: a deliberately failing transform/, means: "a recorded failure naming the rewrite, and the graph as it was" },
      },
    };
  },
  "rejected-replacement": (fg, rand) => {
    const cands = nodesOf(fg).filter((n) => n.outputs.length === 1 && n.outputs[0].type.ndim > 0 && knownShape(n.outputs[0].type) !== null);
    const node = pick(cands, rand);
    if (node === null) return null;
    const t = node.outputs[0].type;
    const shape = (knownShape(t) as number[]).map((n, k) => (k === 0 ? n + 1 : n));
    return {
      node,
      plan: {
        what: `${node.op.toString()} (${t.toString()}) replaced by a constant of shape (${shape.join(", ")}) under onOptError "ignore"`,
        corrupt: () => [new Constant(t.withShape(shape), NDArray.zeros(shape, t.dtype))],
        expect: { when: "recorded", says: /^rewrite xgrad_corrupt_rejected_replacement on .*: .*cannot replace/, means: "a recorded failure naming the rewrite, and the graph as it was" },
      },
    };
  },
  "retype-replacement": (fg, rand) => {
    // retype's contradiction, built into a replacement instead: a node of the target's op whose
    // recorded output types are the target's (so the graph's type check of the replacement
    // passes) over inputs that give others. Seen only when checked mode verifies the
    // replacement, after it: the message names the rewrite, the node it ran on and that point.
    // Not a view: a view of the constant, written in place downstream, is the DestroyHandler's
    // refusal first (validation runs before checked mode's verification).
    const r = retypeTarget(fg, rand, "after its replacement", (n) => Object.keys(n.op.viewMap).length === 0);
    if (r === null) return null;
    const { node, i, t, shape, bad, verdict } = r;
    return {
      node,
      plan: {
        what: `${node.op.toString()} replaced by a node of its op and recorded types whose input ${i} (${t.toString()}) is a constant of shape (${shape.join(", ")}): ${verdict.text}`,
        corrupt: (_g, n) => new Apply(n.op, n.inputs.map((v, k) => (k === i ? bad : v)), n.outputs.map((o) => o.type)).outputs,
        expect: { when: "rewrite", says: verdict.says, means: "the types of the replacement's node, and how they changed, after the replacement" },
      },
    };
  },
};

/**
 * `retype`'s target: in draw order, the first of eight slots (of a known shape, rank one or more)
 * where a constant with a longer first axis really changes what the node's op infers; the
 * verdict's words as checked mode says them `at` the given point; only nodes `fits` accepts.
 */
function retypeTarget(fg: FunctionGraph, rand: () => number, at?: string, fits: (n: Apply) => boolean = () => true): { node: Apply; i: number; t: Type; shape: number[]; bad: Constant; verdict: { readonly text: string; readonly says: RegExp } } | null {
  const slots = constantSlots(fg).filter(([n, i]) => n.inputs[i].type.ndim > 0 && fits(n));
  const order = slots.map((s) => ({ s, k: rand() })).sort((p, q) => p.k - q.k);
  for (const { s: [node, i] } of order.slice(0, 8)) {
    const t = node.inputs[i].type;
    const shape = (knownShape(t) as number[]).map((n, k) => (k === 0 ? n + 1 : n));
    const bad = new Constant(t.withShape(shape), NDArray.zeros(shape, t.dtype));
    const verdict = typeChange(node, i, bad, at);
    if (verdict !== null) return { node, i, t, shape, bad, verdict };
  }
  return null;
}

/**
 * Whether giving `node` the input `bad` at slot i changes what its op infers: a description
 * of the change and the words checked mode's type check must end with (`at`: when checked mode
 * verifies, during the transform or after its replacement), or null when the node
 * would keep a compatible type (a reduction over that axis, a broadcast of a length-1 axis).
 * Plain shape comparison on purpose (see the module comment).
 */
function typeChange(node: Apply, i: number, bad: Variable, at = "during transform (before any replacement)"): { readonly text: string; readonly says: RegExp } | null {
  const head = `broke the types of ${escapeRe(node.op.toString())}\\(.*\\)`;
  const when = escapeRe(at);
  let re: Apply;
  try {
    re = node.op.makeNode(...node.inputs.map((v, k) => (k === i ? bad : v)));
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    return { text: `its makeNode rejects it (${msg.split("\n")[0]})`, says: new RegExp(`${head} ${escapeRe("(makeNode now rejects its inputs)")} ${when}: ${escapeRe(msg)}$`) };
  }
  if (re.outputs.length !== node.outputs.length) {
    return { text: `makeNode gives ${re.outputs.length} outputs, not ${node.outputs.length}`, says: new RegExp(`${head} ${when}: makeNode gives ${re.outputs.length} outputs, the node has ${node.outputs.length}$`) };
  }
  for (let k = 0; k < re.outputs.length; k++) {
    const a = node.outputs[k].type;
    const b = re.outputs[k].type;
    let differs = a.dtype !== b.dtype || a.ndim !== b.ndim;
    for (let d = 0; d < a.ndim && !differs; d++) {
      const x = a.shape[d];
      const y = b.shape[d];
      differs = x !== null && y !== null && x !== y;
    }
    if (differs) {
      return {
        text: `output ${k} becomes ${b.toString()}, recorded ${a.toString()}`,
        says: new RegExp(`${head} ${when}: ${escapeRe(`output ${k} is recorded as ${a.toString()} but its inputs now give ${b.toString()}`)}$`),
      };
    }
  }
  return null;
}

/** The outcome of one corruption. */
export interface CorruptionOutcome {
  readonly corruption: Corruption;
  readonly status: "caught" | "missed" | "skip";
  readonly detail: string;
}

/**
 * Apply each corruption to a clone of `fg` (a graph after a checked FAST_RUN pipeline) and judge
 * checked mode's answer. `seed` draws the targets.
 */
export function corruptAndJudge(fg: FunctionGraph, seed: number, which: readonly (typeof CORRUPTIONS)[number][] = CORRUPTIONS, postconditions: typeof verifyPostconditions = verifyPostconditions): CorruptionOutcome[] {
  return which.map((corruption, idx): CorruptionOutcome => {
    const g = fg.clone();
    const rand = mulberry32((seed ^ Math.imul(idx + 1, 0x9e3779b1)) >>> 0);
    return judgeCorruption(g, corruption, PLANNERS[corruption](g, rand), postconditions);
  });
}

/** The rewrite `stale-index-tripwire` runs as (judgeCorruption names it after the corruption). */
const TRIPWIRE_REWRITE = "xgrad_corrupt_stale_index_tripwire";

/**
 * Stale entries of the DestroyHandler's index ({@link STALE_KINDS}), each on a fresh clone of
 * `fg`: every kind alone, one drawn by the seed in the suite. Checked mode must stop the
 * corrupting rewrite with the rebuild's first difference, word for word. With `production`
 * (checked mode off, {@link TRIPWIRE_KINDS}), the rewrite also replaces the node the stale entry
 * is about by a fresh copy, and the handler's own import or prune check must name the entry;
 * and, on another clone, the rewrite rewires one input of that node through the graph, and the
 * handler's change check must name it (where the kind has such a tripwire).
 */
export function staleIndexScenario(fg: FunctionGraph, seed: number, kinds?: readonly StaleKind[], production = false): CorruptionOutcome[] {
  const pool = production ? TRIPWIRE_KINDS : STALE_KINDS;
  const corruption = production ? "stale-index-tripwire" : "stale-index";
  // Production's two tripwires (a replacement that imports and prunes, and an input rewired
  // through the graph), each on a fresh clone with the same seeded entry.
  const ways = production ? (["replaced", "rewired"] as const) : (["checked"] as const);
  return (kinds ?? [pool[(seed >>> (production ? 9 : 5)) % pool.length]]).flatMap((kind) => {
    const outcomes = ways.map((way): CorruptionOutcome | null => {
      const g = fg.clone();
      // Production draws its own targets (another stream than checked mode's for the same kind).
      const rand = mulberry32((seed ^ Math.imul(STALE_KINDS.indexOf(kind) + 1, production ? 0x7feb352d : 0x2545f491)) >>> 0);
      const stale = stalePlan(g, kind, rand);
      if (stale === null) return null;
      const rebuild = `broke the DestroyHandler bookkeeping during transform (before any replacement): DestroyHandler.checkConsistency (FunctionGraph#${g.id}): ${stale.says}`;
      // The check throws halfway through the graph's change, so undoing a replacement can fail
      // too, on the same stale entry: the transaction then reports both, its own failure first.
      // `node`: the node the rewrite ran on, as the engine prints it when the check throws.
      const tripwire = (node: string, says: string): Plan["expect"] => ({
        when: "tripwire",
        says: new RegExp(`^${escapeRe(`rewrite ${TRIPWIRE_REWRITE} on ${node}: `)}(${escapeRe(`ReplaceValidate(${TRIPWIRE_REWRITE}): revert failed (`)}.*\\) after: )?${escapeRe(says)}$`),
        means: `the handler's own check, word for word: ${says}`,
      });
      let planned: { node: Apply; plan: Plan };
      if (way === "replaced") {
        const tw = stale.tripwire;
        if (tw === undefined) return null;
        planned = {
          node: stale.node,
          plan: {
            what: `${kind}: ${stale.what}, then ${tw.replace.toString()} replaced by a fresh copy (checked mode off)`,
            corrupt: (gg) => {
              stale.corrupt();
              gg.replaceAllValidate(tw.replace.outputs.map((o, j) => [o, tw.by.outputs[j]] as const), TRIPWIRE_REWRITE);
            },
            expect: tripwire(stale.node.toString(), tw.says),
          },
        };
      } else if (way === "rewired") {
        const rw = stale.rewired;
        if (rw === undefined) return null;
        planned = {
          node: rw.node,
          plan: {
            what: `${kind}: ${stale.what}, then input ${rw.slot} of ${rw.node.toString()} rewired to a fresh copy of its producer (checked mode off)`,
            corrupt: (gg) => {
              stale.corrupt();
              gg.changeNodeInput(rw.node, rw.slot, rw.to, TRIPWIRE_REWRITE);
            },
            expect: tripwire(rw.shown, rw.says),
          },
        };
      } else {
        planned = {
          node: stale.node,
          plan: {
            what: `${kind}: ${stale.what}`,
            // No replacement: the stale entry is the whole corruption.
            corrupt: () => {
              stale.corrupt();
            },
            expect: { when: "rewrite", says: new RegExp(`${escapeRe(rebuild)}$`), means: `the DestroyHandler bookkeeping, with the rebuild's first difference: ${stale.says}` },
          },
        };
      }
      return judgeCorruption(g, corruption, planned, verifyPostconditions);
    });
    const ran = outcomes.filter((o): o is CorruptionOutcome => o !== null);
    return ran.length > 0 ? ran : [{ corruption, status: "skip", detail: `${kind}: no fitting target in this graph` }];
  });
}

/**
 * Stale entries of the FunctionGraph's own index ({@link GRAPH_KINDS}), each on a fresh clone of
 * `fg`: every kind alone, one drawn by the seed in the suite. Checked mode must stop the
 * corrupting rewrite with `checkIntegrity`'s first violation, word for word.
 */
export function staleGraphScenario(fg: FunctionGraph, seed: number, kinds: readonly GraphKind[] = [GRAPH_KINDS[(seed >>> 13) % GRAPH_KINDS.length]]): CorruptionOutcome[] {
  return kinds.map((kind) => {
    const g = fg.clone();
    const stale = staleGraphPlan(g, kind, mulberry32((seed ^ Math.imul(GRAPH_KINDS.indexOf(kind) + 1, 0x68e31da4)) >>> 0));
    if (stale === null) return { corruption: "stale-graph", status: "skip", detail: `${kind}: no fitting target in this graph` };
    const says = `broke the FunctionGraph structure during transform (before any replacement): FunctionGraph#${g.id}.checkIntegrity ${stale.says}`;
    const plan: Plan = {
      what: `${kind}: ${stale.what}`,
      corrupt: () => {
        stale.corrupt();
      },
      expect: { when: "rewrite", says: new RegExp(`${escapeRe(says)}$`), means: `the FunctionGraph structure, with checkIntegrity's first violation: ${stale.says}` },
    };
    return judgeCorruption(g, "stale-graph", { node: stale.node, plan }, verifyPostconditions);
  });
}

/** Run one planned corruption on `g` (a clone the caller owns) as a node rewrite named after it, and judge checked mode's answer. */
function judgeCorruption(g: FunctionGraph, corruption: Corruption, planned: { node: Apply; plan: Plan } | null, postconditions: typeof verifyPostconditions): CorruptionOutcome {
  const query = { include: MODE_TAGS.FAST_RUN };
  if (planned === null) return { corruption, status: "skip", detail: "no fitting target in this graph" };
  const { node: target, plan } = planned;
  const name = `xgrad_corrupt_${corruption.replaceAll("-", "_")}`;
  let done = false;
  const rw = nodeRewriter(name, null, (gg, n) => {
    if (n !== target || done) return null;
    done = true;
    return plan.corrupt(gg, n) ?? null;
  });
  let error: unknown = null;
  const recorded = plan.expect.when === "recorded";
  const tripwire = plan.expect.when === "tripwire";
  const ctx = new RewriteContext({ checked: !tripwire, onOptError: recorded ? "ignore" : "raise" });
  // As in production: the clone of a checked graph carries checked mode's feature, which would
  // verify every replacement through the graph's own validation whatever the context says.
  const checker = tripwire ? g.getFeature(CheckedFeature) : undefined;
  if (checker !== undefined) g.removeFeature(checker);
  const before = recorded ? [...g.applyNodes] : [];
  try {
    outToIn([rw]).apply(g, ctx);
  } catch (e) {
    error = e;
  }
  const said = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message.split("\n")[0]}` : String(e));
  if (!done) return { corruption, status: "skip", detail: `the walk never reached the target ${target.op.toString()}` };
  if (recorded) {
    // Not an invariant broken: an ordinary failure, which "ignore" records and reverts.
    if (error !== null) return { corruption, status: "missed", detail: `${plan.what}: the failure escaped instead of being recorded: ${said(error)}` };
    const failures = ctx.report.failures;
    if (failures.length !== 1 || failures[0].rewrite !== name || !plan.expect.says.test(failures[0].error.message)) {
      return { corruption, status: "missed", detail: `${plan.what}: expected ${plan.expect.means}, got ${failures.length} recorded failure(s)${failures.length > 0 ? `, the first: ${failures[0].rewrite}: ${failures[0].error.message.split("\n")[0]}` : ""}` };
    }
    const after = new Set(g.applyNodes);
    if (after.size !== before.length || before.some((n) => !after.has(n))) return { corruption, status: "missed", detail: `${plan.what}: the graph changed (${before.length} nodes before, ${after.size} after) although the rewrite failed` };
    try {
      g.checkIntegrity();
      g.getFeature(DestroyHandler)?.checkConsistency({ full: true });
    } catch (e) {
      return { corruption, status: "missed", detail: `${plan.what}: the failed rewrite left the graph inconsistent: ${said(e)}` };
    }
    return { corruption, status: "caught", detail: plan.what };
  }
  if (tripwire) {
    if (error === null) return { corruption, status: "missed", detail: `${plan.what}: the DestroyHandler let it through without reporting ${plan.expect.means}` };
    const ok = error instanceof InvariantError && plan.expect.says.test(error.message);
    return ok ? { corruption, status: "caught", detail: plan.what } : { corruption, status: "missed", detail: `${plan.what}: expected ${plan.expect.means} to fire; got ${said(error)}` };
  }
  if (plan.expect.when === "rewrite") {
    if (error === null) return { corruption, status: "missed", detail: `${plan.what}: checked mode let the rewrite ${name} through without reporting ${plan.expect.means}` };
    const ok = error instanceof InvariantError && error.message.includes(`checked mode: rewrite "${name}" on ${target.op.toString()}(`) && plan.expect.says.test(error.message);
    return ok ? { corruption, status: "caught", detail: plan.what } : { corruption, status: "missed", detail: `${plan.what}: checked mode did not name the rewrite ${name} and ${plan.expect.means}; it said ${said(error)}` };
  }
  // An announced, valid rewrite: the per-rewrite checks must let it through.
  if (error !== null) return { corruption, status: "missed", detail: `${plan.what}: a valid, announced rewrite, but checked mode rejected it: ${said(error)}` };
  try {
    postconditions(g, query);
  } catch (e) {
    return e instanceof InvariantError && plan.expect.says.test(e.message)
      ? { corruption, status: "caught", detail: plan.what }
      : { corruption, status: "missed", detail: `${plan.what}: the FAST_RUN postconditions did not report ${plan.expect.means}; they said ${said(e)}` };
  }
  return { corruption, status: "missed", detail: `${plan.what}: the FAST_RUN postconditions passed without reporting ${plan.expect.means}` };
}

/**
 * The checked FAST_RUN graph the property corrupts: every node's value and the direct gradient,
 * compiled together. It is exactly rewrite-soundness's compile, so the suite passes that
 * compile's graph in (no second compile) and a run of this property alone builds the same one.
 */
export function sensitivityGraph(b: BuiltCase, exclude: readonly string[] = [], ctx?: RewriteContext): FunctionGraph {
  const { inputs, outputs } = caseSource(b);
  return compile([...inputs], [...outputs], { mode: "FAST_RUN", checked: true, onOptError: "raise", exclude, ...(ctx === undefined ? {} : { ctx }) }).fgraph;
}

/**
 * Checked mode observes; it must not act. Its trial merges and in-place writes are reverted and
 * the DestroyHandler's decision counters restored, so the case's checked FAST_RUN graph must be
 * the unchecked one, node for node, with the same decision counts (the fuzzer's feature coverage
 * counts only what the pipeline decided). Were it otherwise, every checked verdict would judge
 * another graph than the one production compiles. Nothing was corrupted, so the handler's fast
 * consistency path must also have settled every consistency check, and checked mode's record
 * every verification that followed no change. Null when all that holds (or
 * the unchecked compile fails: rewrite-soundness judges that), else the first difference. One
 * unchecked compile.
 */
export function observerProblem(b: BuiltCase, checkedFg: FunctionGraph): string | null {
  const { inputs, outputs } = caseSource(b);
  let plain: FunctionGraph;
  try {
    plain = compile([...inputs], [...outputs], { mode: "FAST_RUN", onOptError: "raise" }).fgraph;
  } catch {
    return null;
  }
  const [a, u] = [checkedFg, plain].map((g) => graphSignature(g.inputs, g.outputs).split("\\n"));
  const k = a.findIndex((line, i) => line !== u[i]);
  if (k >= 0 || a.length !== u.length) {
    const at = k >= 0 ? k : Math.min(a.length, u.length);
    return `the checked FAST_RUN graph differs from the unchecked one at line ${at} of their signatures: checked ${a[at] ?? "(ends)"}, unchecked ${u[at] ?? "(ends)"}`;
  }
  const paths = (g: FunctionGraph): string => JSON.stringify(Object.fromEntries([...(g.getFeature(DestroyHandler)?.paths ?? [])].sort(([x], [y]) => x.localeCompare(y))));
  if (paths(checkedFg) !== paths(plain)) return `the DestroyHandler's decision counters differ: checked FAST_RUN ${paths(checkedFg)}, unchecked ${paths(plain)}`;
  // Nothing was corrupted, so every consistency check met a handler in step with its graph: a
  // rebuild means the fast path doubted a consistent state (the same verdicts, at a full rebuild
  // per replacement; only the counter shows it).
  const checks = checkedFg.getFeature(DestroyHandler)?.consistencyChecks;
  if (checks !== undefined && checks.rebuilt > 0) {
    return `checked mode's DestroyHandler consistency checks ran the full rebuild ${checks.rebuilt} time(s) on an uncorrupted compile (the fast path settled ${checks.fast}): consistentFast doubted a handler in step with its graph`;
  }
  // And the graph changed only through its callbacks, so only a verification after one (or the
  // first) may run the full checks: more means checked mode's record missed unchanged states.
  const ver = checkedFg.getFeature(CheckedFeature)?.verifications;
  if (ver !== undefined && (ver.full > ver.afterChange + 1 || ver.full < 1)) {
    return `checked mode ran its full checks ${ver.full} time(s) on an uncorrupted compile whose graph changed before ${ver.afterChange} verification(s): each state must be verified once (its record of the graph missed unchanged states), and the first at least`;
  }
  return null;
}

/**
 * The property on one built case: corrupt its checked FAST_RUN graph (`graph`, or
 * {@link sensitivityGraph}) and judge. `postconditions` is the check the last two corruptions
 * must trip (tests pass a weakened one, to show the property failing). Inconclusive when the uncorrupted compile fails
 * (rewrite-soundness reports that) or no corruption finds a target.
 */
export function checkedSensitivityCheck(
  b: BuiltCase,
  seed: number,
  graph: () => FunctionGraph = () => sensitivityGraph(b),
  postconditions: typeof verifyPostconditions = verifyPostconditions,
  which: readonly (typeof CORRUPTIONS)[number][] = CORRUPTIONS,
  silenced: () => readonly SilencedSource[] = () => [caseSource(b)],
): Check {
  const property = "checked-sensitivity";
  let fg: FunctionGraph;
  try {
    fg = graph();
  } catch (e) {
    return { property, status: "inconclusive", reason: `the uncorrupted checked FAST_RUN compile failed (rewrite-soundness judges that): ${e instanceof Error ? e.message.split("\n")[0] : String(e)}` };
  }
  const changed = observerProblem(b, fg);
  if (changed !== null) return { property, status: "fail", reason: `checked mode changed the pipeline it checks: ${changed}`, maxAbsErr: Infinity, maxRelErr: Infinity };
  const outcomes = corruptAndJudge(fg, seed, which, postconditions);
  // Built at most once: the forms graph costs a lowering, and two scenarios below may ask.
  let sources: readonly SilencedSource[] | null = null;
  const sourcesOnce = (): readonly SilencedSource[] => (sources ??= silenced());
  // The inplace pass's fresh copy is rare in a case's own graph (an update op into a zero
  // buffer that another node also reads: two index reads of one input); positional-forms'
  // zero-update splices one in. With no target here, lost-fresh-copy runs on that graph,
  // compiled in checked FAST_RUN (one more compile, only then).
  const lost = outcomes.findIndex((o) => o.corruption === "lost-fresh-copy" && o.status === "skip");
  if (lost >= 0) {
    const forms = sourcesOnce().find((src) => src.forms?.includes("zero-update") === true);
    if (forms !== undefined) {
      let ffg: FunctionGraph | null = null;
      try {
        ffg = compile([...forms.inputs], [...forms.outputs], { mode: "FAST_RUN", checked: true, onOptError: "raise" }).fgraph;
      } catch {
        ffg = null; // positional-forms judges that compile
      }
      if (ffg !== null) {
        const [o] = corruptAndJudge(ffg, seed, ["lost-fresh-copy"], postconditions);
        outcomes[lost] = o.status === "skip" ? o : { ...o, detail: `on ${forms.label}: ${o.detail}` };
      }
    }
  }
  // One stale index entry per case (a clone and one verification), every kind alone.
  const alone = which === CORRUPTIONS;
  outcomes.push(
    ...staleIndexScenario(fg, seed, alone ? STALE_KINDS : undefined),
    ...staleIndexScenario(fg, seed, alone ? TRIPWIRE_KINDS : undefined, true),
    ...staleGraphScenario(fg, seed, alone ? GRAPH_KINDS : undefined),
  );
  // Alone (every corruption asked for), two excludes in a row on every case, on one rewrite
  // context (documented: a context may serve several compiles): a superset of the suite's one,
  // and what catches a pipeline cache keyed without the exclude list, or a pass-list check that
  // counts the earlier compile's passes.
  // A silenced rule on every graph `silenced` gives (alone), or on one drawn by the seed.
  if (alone) {
    const ctx = new RewriteContext({ checked: true, onOptError: "raise" });
    outcomes.push(excludeScenario(b, seed, 0, ctx), excludeScenario(b, seed, 1, ctx), passListScenario(b, seed), eagerInplaceScenario(b));
    for (const src of sourcesOnce()) {
      // The forms graph under the same two excludes: its boundary outputs keep a chain of
      // elementwise ops over 0-d constants (folded away unless canonicalize is left out), which
      // fusion leaves alone and checked mode's fusion promise must excuse.
      if (src.forms !== undefined) {
        const fctx = new RewriteContext({ checked: true, onOptError: "raise" });
        outcomes.push(excludeScenario(b, seed, 0, fctx, src), excludeScenario(b, seed, 1, fctx, src));
      }
      outcomes.push(...silencedRuleScenario(src, seed, true), ...copyingRuleScenario(src, seed, true), ...failingRuleScenario(src, seed, true));
      if (src.forms !== undefined) outcomes.push(eagerInplaceScenario(b, src));
    }
  } else if (excludeScheduled(seed)) {
    outcomes.push(excludeScenario(b, seed), passListScenario(b, seed), eagerInplaceScenario(b));
    const srcs = sourcesOnce();
    if (srcs.length > 0) {
      const src = srcs[(seed >>> 3) % srcs.length];
      outcomes.push(...silencedRuleScenario(src, seed), ...copyingRuleScenario(src, seed), ...failingRuleScenario(src, seed));
    }
  }
  const missed = outcomes.find((o) => o.status === "missed");
  if (missed !== undefined) return { property, status: "fail", reason: `checked mode missed the ${missed.corruption} corruption: ${missed.detail}`, maxAbsErr: Infinity, maxRelErr: Infinity };
  const caught = outcomes.filter((o) => o.status === "caught").map((o) => o.corruption);
  if (caught.length === 0) return { property, status: "inconclusive", reason: "no corruption found a target in this case's FAST_RUN graph" };
  // Each corruption once, with its count when it was caught more than once (alone, a silenced
  // rule is caught once per rule and mode).
  const counted = [...new Set(caught)].map((c) => {
    const n = caught.filter((x) => x === c).length;
    return n > 1 ? `${c} ×${n}` : c;
  });
  return { property, status: "pass", reason: `caught ${counted.join(", ")}`, maxAbsErr: 0, maxRelErr: 0 };
}
