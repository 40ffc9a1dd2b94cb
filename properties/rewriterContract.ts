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
 *
 * The expectations are restated here from the engine's documentation (the use budget is
 * PyTensor's `optdb__max_use_ratio`), not read from the engine; which buffers are protected is
 * restated from the ops' view maps, not from the DestroyHandler's index. Integrity and a full
 * DestroyHandler rebuild are checked after every scenario.
 */
import type { Apply, Variable } from "../src/graph/basic.js";
import { type FunctionGraph, Output } from "../src/graph/fgraph.js";
import { InvariantError } from "../src/errors.js";
import { DestroyHandler } from "../src/rewriting/destroyhandler.js";
import { inplaceVariant } from "../src/rewriting/checked.js";
import {
  type GraphRewriter, type OnOptError, type RewriteResult, RewriteContext, RewriteLoopError, equilibrium, inToOut, nodeRewriter, outToIn, sequence,
} from "../src/rewriting/engine.js";
import { neg } from "../src/tensor/elemwise.js";
import { mulberry32 } from "../oracles/finiteDiff.js";
import type { Check } from "./types.js";

/** The scenarios, in the order they are tried. */
export const SCENARIOS = ["loop-budget", "graph-pass", "identity-result", "walker-revisit", "reject-revisit", "malformed-result", "failing-pass"] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** The engine entry points the scenarios drive (tests pass faulty ones, to show the property failing). */
export interface ContractEngine {
  readonly equilibrium: typeof equilibrium;
  readonly inToOut: typeof inToOut;
  readonly outToIn: typeof outToIn;
  readonly sequence: typeof sequence;
  readonly context: (onOptError: OnOptError) => RewriteContext;
}

export const REAL_ENGINE: ContractEngine = { equilibrium, inToOut, outToIn, sequence, context: (onOptError) => new RewriteContext({ onOptError }) };

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

/** One scenario on a clone `g` of the graph, with `rand` for its seeded choices; null when it has no target. */
type Runner = (g: FunctionGraph, rand: () => number, engine: ContractEngine) => { what: string; broken: string | null } | null;

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
      // node writes to yet, read through that slot only: validation can refuse the write for one
      // reason alone, the protection.
      const protectedVars = new Set<Variable>([...g.inputs, ...g.outputs]);
      const written = new Set(nodesOf(g).flatMap((n) => Object.values(n.op.destroyMap).flat().map((i) => bufferRoot(n.inputs[i]))));
      const slots = nodesOf(g).flatMap((n) => n.inputs.flatMap((v, i): [Apply, number][] => {
        if (n.inputs.indexOf(v) !== i || n.inputs.lastIndexOf(v) !== i) return [];
        const tree = viewChain(v);
        if (!tree.some((t) => protectedVars.has(t)) || written.has(tree[tree.length - 1])) return [];
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
};

/** Whether a case (by its seed) runs rewriter-contract within the full suite: an eighth of them. */
export function contractScheduled(seed: number): boolean {
  // Other multipliers than the other schedules', so they stay independent.
  return ((Math.imul((seed ^ 0x7f4a7c15) >>> 0, 0x27d4eb2f) >>> 21) & 7) === 0;
}

/** The scenarios the suite runs on a case: two, drawn by the case seed. Alone: every one. */
export function scheduledScenarios(seed: number): Scenario[] {
  const rand = mulberry32((seed ^ 0x2f6b3d91) >>> 0);
  const order = SCENARIOS.map((s) => ({ s, k: rand() })).sort((p, q) => p.k - q.k);
  return order.slice(0, 2).map((p) => p.s).sort((a, b) => SCENARIOS.indexOf(a) - SCENARIOS.indexOf(b));
}

/** Run each scenario on a fresh clone of `fg` (a graph after a FAST_RUN pipeline). */
export function runScenarios(fg: FunctionGraph, seed: number, which: readonly Scenario[] = SCENARIOS, engine: ContractEngine = REAL_ENGINE): ScenarioOutcome[] {
  return which.map((scenario): ScenarioOutcome => {
    const g = fg.clone();
    // Seeded by the scenario, not its position, so a suite run and a run alone draw the same targets.
    const rand = mulberry32((seed ^ Math.imul(SCENARIOS.indexOf(scenario) + 1, 0x85ebca6b)) >>> 0);
    let r: ReturnType<Runner>;
    try {
      r = RUNNERS[scenario](g, rand, engine);
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
 * The property on one case's FAST_RUN graph (`graph` builds or reuses it). Inconclusive when the
 * graph did not compile (rewrite-soundness reports that) or no scenario found a target.
 */
export function rewriterContractCheck(graph: () => FunctionGraph, seed: number, which: readonly Scenario[] = SCENARIOS, engine: ContractEngine = REAL_ENGINE): Check {
  const property = "rewriter-contract";
  let fg: FunctionGraph;
  try {
    fg = graph();
  } catch (e) {
    return { property, status: "inconclusive", reason: `the checked FAST_RUN compile failed (rewrite-soundness judges that): ${e instanceof Error ? e.message.split("\n")[0] : String(e)}` };
  }
  const outcomes = runScenarios(fg, seed, which, engine);
  const broken = outcomes.find((o) => o.status === "broken");
  if (broken !== undefined) return { property, status: "fail", reason: `the rewrite engine broke its contract in ${broken.scenario}: ${broken.detail}`, maxAbsErr: Infinity, maxRelErr: Infinity };
  const held = outcomes.filter((o) => o.status === "held").map((o) => o.scenario);
  if (held.length === 0) return { property, status: "inconclusive", reason: "no scenario found a target in this case's FAST_RUN graph" };
  return { property, status: "pass", reason: `held ${held.join(", ")}`, maxAbsErr: 0, maxRelErr: 0 };
}
