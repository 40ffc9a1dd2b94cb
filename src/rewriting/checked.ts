/**
 * Checked mode: verify the graph after every replacement and every transform, and fail at the
 * first inconsistency, naming the rewrite that caused it (JAX `check_jaxpr`, PyTensor
 * `check_integrity`, §12.2 of the reference notes).
 *
 * The checks run from `onValidate`, which `replaceAllValidate` calls after each rewrite's
 * replacements (so merges and every engine rewrite are covered), and from `afterTransform`,
 * which the engine calls after each `transform` (so a transform that rewired nodes behind the
 * graph's back, e.g. a nested in-place rewrite, is named). Attaching the feature also guards the
 * graph's nodes against rewiring by any other FunctionGraph.
 */
import { type Apply, Constant, type Variable } from "../graph/basic.js";
import type { Type } from "../graph/type.js";
import { type FunctionGraph, isOutputNode } from "../graph/fgraph.js";
import type { Feature } from "../graph/features.js";
import { InconsistencyError, InvariantError, OpInputError } from "../errors.js";
import { Composite, Elemwise } from "../tensor/elemwise.js";
import { Alloc } from "../tensor/shape.js";
import type { RewriteContext, TransformChecker } from "./engine.js";
import { DestroyHandler } from "./destroyhandler.js";
import type { Mode, Query } from "./db.js";

/**
 * True when two types describe possibly the same values: same family, dtype, rank and every
 * other attribute, and no static length known differently. A rewrite may refine a length
 * (null → 3) but never contradict one (3 → 4).
 */
export function typesCompatible(recorded: Type, inferred: Type): boolean {
  if (recorded.kind !== inferred.kind || recorded.dtype !== inferred.dtype || recorded.ndim !== inferred.ndim) return false;
  const meet = recorded.shape.map((s, i) => {
    const t = inferred.shape[i];
    return s === null ? t : s;
  });
  for (let i = 0; i < meet.length; i++) {
    const s = recorded.shape[i];
    const t = inferred.shape[i];
    if (s !== null && t !== null && s !== t) return false;
  }
  // Compare everything but the shape (e.g. xtensor dims) by giving both the same shape.
  return recorded.withShape(meet).equals(inferred.withShape(meet));
}

/**
 * A flat record of every field the structural checks read: the graph's inputs, outputs and their
 * Output nodes, each node's op, alias maps, inputs and outputs, every variable's owner, every
 * client list, and the DestroyHandler's bookkeeping ({@link DestroyHandler.recordState}).
 * `FunctionGraph.checkIntegrity` and `DestroyHandler.checkConsistency` are functions of exactly
 * these fields (the graph's private input set is written only by its constructor), so a state
 * whose record equals that of a state that passed them passes them too.
 *
 * Most transforms change nothing (about 10 of every 11 in a FAST_RUN compile); comparing a flat
 * array is several times cheaper than rebuilding the clients, the toposort and the handler's
 * maps, and it still sees any field rewritten behind the graph's back.
 */
export class GraphRecord {
  private readonly cells: unknown[] = [];
  private k = 0;
  private same = false;
  private valid = false;

  /** Append one cell, noting whether it differs from the previous record's. */
  put(x: unknown): void {
    const k = this.k++;
    if (this.cells[k] !== x) {
      this.same = false;
      this.cells[k] = x;
    }
  }

  /** Overwrite the record with the current state; true when it equals the previous (valid) record. */
  update(fg: FunctionGraph, dh: DestroyHandler | undefined): boolean {
    this.k = 0;
    this.same = this.valid;
    this.put(fg);
    this.put(fg.inputs.length);
    for (const v of fg.inputs) {
      this.put(v);
      this.put(v.owner);
    }
    this.put(fg.outputs.length);
    for (const v of fg.outputs) this.put(v);
    this.put(fg.outputNodes.length);
    for (const on of fg.outputNodes) this.node(on);
    this.put(fg.applyNodes.size);
    for (const n of fg.applyNodes) this.node(n);
    this.put(fg.variables.size);
    for (const v of fg.variables) {
      this.put(v);
      this.put(v.owner);
    }
    this.put(fg.clients.size);
    for (const [v, cl] of fg.clients) {
      this.put(v);
      this.put(cl.length);
      for (const c of cl) {
        this.put(c[0]);
        this.put(c[1]);
      }
    }
    this.put(dh);
    dh?.recordState(this);
    if (this.k !== this.cells.length) {
      this.same = false;
      this.cells.length = this.k;
    }
    return this.same;
  }

  private node(n: Apply): void {
    this.put(n);
    const op = n.op;
    this.put(op);
    this.put(op.viewMap);
    this.put(op.destroyMap);
    const ins = n.inputs;
    this.put(ins.length);
    for (let i = 0; i < ins.length; i++) this.put(ins[i]);
    const outs = n.outputs;
    this.put(outs.length);
    for (let i = 0; i < outs.length; i++) {
      this.put(outs[i]);
      this.put(outs[i].owner);
    }
  }

  /** Forget the record (the recorded state failed a check, or was never checked). */
  invalidate(): void {
    this.valid = false;
  }

  /** The recorded state passed the checks: later states may be compared with it. */
  confirm(): void {
    this.valid = true;
  }
}

/** Verifies structure, DestroyHandler state and node types after every replacement. */
export class CheckedFeature implements Feature, TransformChecker {
  private readonly touched = new Set<Apply>();
  private lastReason = "(graph construction)";
  /** A callback fired since the last verification (the record alone does not see `touched`). */
  private dirty = true;
  private readonly record = new GraphRecord();
  /** Test hook: with false, every verification runs the full checks (the reference behaviour). */
  useRecord = true;
  /**
   * Verifications that ran the full checks, and verifications that followed a callback (noted
   * apart from `dirty`). Each state is verified once: on a graph changed only through its
   * callbacks, a verification with none since the last one meets the state that last passed and
   * skips, so `full` is at most `afterChange` + 1, the first. More is a record that misses
   * unchanged states (the same verdicts, at the full checks' cost on every transform; about 10
   * of every 11 change nothing); checked-sensitivity's observer judges it.
   */
  readonly verifications = { full: 0, afterChange: 0 };
  private changedSinceVerify = false;

  private current: { rewrite: string; node: Apply } | null = null;

  onAttach(fg: FunctionGraph): void {
    fg.guardNodes();
  }

  onDetach(fg: FunctionGraph): void {
    fg.unguardNodes();
  }

  beforeReplace(rewrite: string, node: Apply): void {
    this.current = { rewrite, node };
  }

  onImport(_fg: FunctionGraph, node: Apply, reason: string): void {
    this.dirty = true;
    this.changedSinceVerify = true;
    // Nodes of the initial graph were built by their makeNode; only rewrites are under test.
    if (reason === "init") return;
    this.touched.add(node);
    this.lastReason = reason;
  }

  onChangeInput(_fg: FunctionGraph, node: Apply, _i: number, _o: Variable, _n: Variable, reason: string): void {
    this.dirty = true;
    this.changedSinceVerify = true;
    if (!isOutputNode(node)) this.touched.add(node);
    this.lastReason = reason;
  }

  onPrune(_fg: FunctionGraph, node: Apply): void {
    this.dirty = true;
    this.changedSinceVerify = true;
    this.touched.delete(node);
  }

  onValidate(fg: FunctionGraph): void {
    const cur = this.current;
    this.current = null;
    this.verify(fg, this.lastReason, cur !== null && cur.rewrite === this.lastReason ? cur.node : null);
  }

  afterTransform(fg: FunctionGraph, rewrite: string, node: Apply): void {
    this.verify(fg, rewrite, node, "during transform (before any replacement)");
  }

  clone(): CheckedFeature {
    return new CheckedFeature();
  }

  /**
   * A merge pass is about to try `pairs`. A pair whose two variables are each destroyed in place
   * by a node of their own cannot merge: the survivor would have two destroyers, which
   * validation always rejects, so the attempt is a wasted checkpoint, validation and revert.
   * PyTensor's guard against it was dead code for years (PR #2355), making such graphs quadratic
   * to compile, with every value right. Read from the clients' destroy maps, not from the
   * DestroyHandler's index that the merge pass's own guard uses.
   *
   * @throws InvariantError naming the pass, the pair and their destroyers.
   */
  beforeMerge(fg: FunctionGraph, pass: string, pairs: readonly (readonly [Variable, Variable])[]): void {
    for (const [a, b] of pairs) {
      const da = directDestroyers(fg, a);
      const db = directDestroyers(fg, b);
      if (da.length === 0 || db.length === 0) continue;
      throw new InvariantError(
        `checked mode: merge pass "${pass}" broke its promise merge_guard: it tried to merge ${a.toString()} and ${b.toString()}, ` +
          `which ${da[0].toString()} and ${db[0].toString()} each overwrite in place; one buffer cannot have two destroyers, so validation must reject the merge ` +
          `(a wasted checkpoint, validation and revert per pair: the guard of PyTensor PR #2355 skips such pairs)`,
      );
    }
  }

  /**
   * Run every check now.
   *
   * @throws InvariantError naming `rewrite`, the node and the broken invariant.
   */
  verify(fg: FunctionGraph, rewrite: string, node: Apply | null, when = "after its replacement"): void {
    const dh = fg.getFeature(DestroyHandler);
    if (this.changedSinceVerify) this.verifications.afterChange++;
    this.changedSinceVerify = false;
    // Unchanged since the last state that passed: every check below would pass again (no callback
    // means `touched` is empty, and the record covers every field the structural checks read).
    const unchanged = this.record.update(fg, dh);
    if (unchanged && !this.dirty && this.useRecord) return;
    this.verifications.full++;
    this.record.invalidate();
    this.verifyFull(fg, dh, rewrite, node, when);
    this.dirty = false;
    // The checks only read the graph, so the record taken above is of the state that passed.
    this.record.confirm();
  }

  private verifyFull(fg: FunctionGraph, dh: DestroyHandler | undefined, rewrite: string, node: Apply | null, when: string): void {
    const wrap = (what: string, e: unknown): never => {
      const msg = e instanceof Error ? e.message : String(e);
      throw new InvariantError(`checked mode: rewrite "${rewrite}"${node === null ? "" : ` on ${node.toString()}`} broke ${what} ${when}: ${msg}`, { cause: e });
    };
    try {
      fg.checkIntegrity();
    } catch (e) {
      wrap("the FunctionGraph structure", e);
    }
    if (dh !== undefined) {
      try {
        dh.checkConsistency();
      } catch (e) {
        wrap("the DestroyHandler bookkeeping", e);
      }
    }
    for (const n of this.touched) {
      if (!fg.applyNodes.has(n)) continue;
      let re: Apply | undefined;
      try {
        re = n.op.makeNode(...n.inputs);
      } catch (e) {
        wrap(`the types of ${n.toString()} (makeNode now rejects its inputs)`, e);
      }
      if (re === undefined) continue;
      if (re.outputs.length !== n.outputs.length) wrap(`the types of ${n.toString()}`, `makeNode gives ${re.outputs.length} outputs, the node has ${n.outputs.length}`);
      n.outputs.forEach((o, k) => {
        const t = (re as Apply).outputs[k].type;
        if (!typesCompatible(o.type, t)) wrap(`the types of ${n.toString()}`, `output ${k} is recorded as ${o.type.toString()} but its inputs now give ${t.toString()}`);
      });
    }
    this.touched.clear();
  }
}

/** True for a tensor constant of zeros (the fill of a zero Alloc). */
function isZeroFill(v: Variable): boolean {
  if (!(v instanceof Constant)) return false;
  const flat = v.value.toFlat();
  return flat.length > 0 && flat.every((x) => x === 0);
}

/**
 * Pairs of equal nodes left unmerged: equal ops on the same inputs with comparable output types,
 * except a pair whose outputs are each overwritten in place by a node of their own (one buffer
 * cannot have two destroyers, so no merge can join them). Restated from the merge contract, not
 * with the merge pass's helper or the DestroyHandler's index, which the pass's own guard reads:
 * a guard that skipped too much would otherwise excuse exactly the pairs it skipped.
 */
function unmergedPairs(fg: FunctionGraph): [Apply, Apply][] {
  const buckets = new Map<string, Apply[]>();
  const out: [Apply, Apply][] = [];
  for (const n of fg.applyNodes) {
    const key = `${n.op.toString()}|${n.inputs.length}`;
    const bucket = buckets.get(key) ?? [];
    for (const m of bucket) {
      if (!m.op.equals(n.op) || m.inputs.some((v, i) => v !== n.inputs[i])) continue;
      const bothDestroyed = n.outputs.some((o, k) => directDestroyers(fg, o).length > 0 && directDestroyers(fg, m.outputs[k]).length > 0);
      const comparable = n.outputs.every((o, k) => o.type.isSuper(m.outputs[k].type) || m.outputs[k].type.isSuper(o.type));
      if (!bothDestroyed && comparable) out.push([m, n]);
    }
    bucket.push(n);
    buckets.set(key, bucket);
  }
  return out;
}

/** The variable `v` views (from its owner's view map), or null. */
function viewedBy(v: Variable): Variable | null {
  const o = v.owner;
  if (o === null) return null;
  const m = o.op.viewMap[o.outputs.indexOf(v)];
  return m !== undefined && m.length > 0 ? o.inputs[m[0]] : null;
}

/** The buffer `v` is a view of, through any number of views (v itself when it owns its buffer). */
function foundation(v: Variable): Variable {
  let r = v;
  for (let p = viewedBy(r); p !== null; p = viewedBy(r)) r = p;
  return r;
}

/**
 * `root` and every variable that views it, transitively, through the readers' view maps: the
 * tree of views one buffer belongs to, restated from the graph (not the DestroyHandler's index).
 */
export function viewTreeOf(fg: FunctionGraph, root: Variable): Set<Variable> {
  const tree = new Set<Variable>([root]);
  const stack = [root];
  while (stack.length > 0) {
    const v = stack.pop() as Variable;
    for (const [c] of fg.clients.get(v) ?? []) {
      c.outputs.forEach((o, k) => {
        const m = c.op.viewMap[k];
        if (m !== undefined && m.length > 0 && c.inputs[m[0]] === v && !tree.has(o)) {
          tree.add(o);
          stack.push(o);
        }
      });
    }
  }
  return tree;
}

/**
 * For the graph as it stands: the input slots of a node that an in-place version of it may
 * overwrite, restated from the DestroyHandler's contract (`inplaceCandidates`) from the graph
 * alone (view maps, destroy maps, clients), so that a candidate filter that proposes too little
 * is seen: asking the handler's own filter which slots it should have proposed could never
 * disagree with it. A slot qualifies when the tree of views it belongs to (its foundation and
 * every transitive view of it) is no constant, holds no graph output and no graph input but the
 * compile's `mutableInputs`, is not already overwritten by another node, and is read by no one
 * but `node` (a pure view inside the tree counts through its own readers), and `node` reads that
 * tree through this slot only; one slot per tree. Exported for the properties that judge the
 * inplace pass the same way (rewriter-contract's `inplace-veto`).
 */
export function writableSlotsOf(fg: FunctionGraph, mutableInputs: readonly Variable[]): (node: Apply) => number[] {
  const treeOf = (root: Variable): Set<Variable> => viewTreeOf(fg, root);
  // Per graph state, not per node: the pass over every node's destroy map is done once.
  // The caller's inputs, except those the compile declared mutable, and the results.
  const fixed = new Set<Variable>([...fg.inputs.filter((v) => !mutableInputs.includes(v)), ...fg.outputs]);
  const overwritten = new Set<Variable>();
  for (const n of fg.applyNodes) for (const d of Object.values(n.op.destroyMap)) for (const i of d) overwritten.add(foundation(n.inputs[i]));
  return (node) => {
    const taken = new Set<Variable>();
    const slots: number[] = [];
    node.inputs.forEach((v, j) => {
      const root = foundation(v);
      if (taken.has(root) || root instanceof Constant || overwritten.has(root)) return;
      const tree = treeOf(root);
      for (const t of tree) {
        if (fixed.has(t)) return;
        for (const [reader] of fg.clients.get(t) ?? []) {
          if (reader === node) continue;
          const pureView = reader.outputs.every((o, k) => (reader.op.viewMap[k]?.length ?? 0) > 0 && tree.has(o));
          if (!pureView) return;
        }
      }
      if (node.inputs.some((w, k) => k !== j && tree.has(w))) return;
      taken.add(root);
      slots.push(j);
    });
    return slots;
  };
}

/** The nodes that overwrite `v` itself in place (not a view of it), from their ops' destroy maps. */
function directDestroyers(fg: FunctionGraph, v: Variable): Apply[] {
  const out: Apply[] = [];
  for (const [n, i] of fg.clients.get(v) ?? []) {
    if (Object.values(n.op.destroyMap).some((ins) => ins.includes(i))) out.push(n);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Pipeline postconditions

/**
 * What a mode promises beyond correct values, by query tag: FAST_COMPILE merges equal
 * subexpressions; FAST_RUN also fuses elementwise chains and lets every op that can write in
 * place do so. A pass that silently does less (a lost candidate, a skipped merge, an unfused
 * pair, an unregistered pass) changes no value, so no value-based property sees it; these
 * checks do. (The rule groups' promises are checked right after each group: normalform.ts.)
 */
const PROMISES: Readonly<Record<string, readonly Promised[]>> = {
  fast_run: ["merge", "inplace", "fusion"],
  fast_compile: ["merge"],
};
type Promised = "merge" | "inplace" | "fusion";

/**
 * The passes each compilation mode runs, in order, each with the tags that may exclude it:
 * the pipeline docs/architecture.md documents, restated here rather than read from the registrations or
 * from `MODE_TAGS`, so that a pass that lost its mode's tag, a mode whose tags went wrong, or a
 * pass dropped from the database is reported, not silently skipped (the promises above and the
 * rule groups' normal forms are keyed by the same tags, so they would vanish with it).
 */
const FAST_COMPILE_PASSES = [
  { pass: "merge1", unless: ["fast_run", "fast_compile", "merge"] },
  { pass: "expand_pullback", unless: ["required"] },
  { pass: "lower_xtensor", unless: ["required"] },
  { pass: "merge1.1", unless: ["fast_run", "fast_compile", "merge"] },
  { pass: "canonicalize", unless: ["fast_run", "fast_compile"] },
] as const;
const MODE_PASSES: Readonly<Record<Mode, readonly { readonly pass: string; readonly unless: readonly string[] }[]>> = {
  NONE: [
    { pass: "expand_pullback", unless: ["required"] },
    { pass: "lower_xtensor", unless: ["required"] },
  ],
  FAST_COMPILE: FAST_COMPILE_PASSES,
  // FAST_COMPILE's passes, then the rest of the pipeline (positions 1.5 to 100).
  FAST_RUN: [
    ...FAST_COMPILE_PASSES,
    { pass: "stabilize", unless: ["fast_run"] },
    { pass: "specialize", unless: ["fast_run"] },
    { pass: "elemwise_fusion", unless: ["fast_run", "fusion"] },
    { pass: "merge2", unless: ["fast_run", "merge"] },
    { pass: "inplace", unless: ["fast_run", "inplace"] },
    { pass: "merge3", unless: ["fast_run", "merge"] },
  ],
};

/**
 * The promise each pass keeps, for a compile that excludes a pass by name: without
 * elemwise_fusion nothing fuses, without inplace nothing is written in place, and without one of
 * the merge passes duplicates made after the previous one (fused Composites, in-place copies)
 * may stay.
 */
const PASS_PROMISES: Readonly<Record<string, Promised>> = {
  merge1: "merge",
  "merge1.1": "merge",
  merge2: "merge",
  merge3: "merge",
  elemwise_fusion: "fusion",
  inplace: "inplace",
};

/**
 * Checked mode, after a mode's pipeline: every pass the mode runs (`MODE_PASSES`), less those
 * the compile excluded by name or tag, ran to completion, in the mode's order, and no excluded
 * one ran. `since` is the
 * context's state before the pipeline (a context may serve several compiles). A run that
 * recorded a failed pass (under "warn"/"ignore") stopped short, so it promises nothing.
 *
 * @throws InvariantError naming the mode, the pass and the passes that did run.
 */
export function verifyModePasses(mode: Mode, exclude: readonly string[], ctx: RewriteContext, since: PipelineMark): void {
  if (ctx.report.failures.length > since.failures) return;
  const passesRun = ctx.passesRun.slice(since.passes);
  const want = MODE_PASSES[mode].filter((p) => !exclude.includes(p.pass) && !p.unless.some((t) => exclude.includes(t))).map((p) => p.pass);
  // Every pass of the mode's list that ran, excluded ones included: an exclude that is silently
  // ignored (a pass that lost the tag it is excluded by) must show, not only a pass that is missing.
  const known = new Set(MODE_PASSES[mode].map((p) => p.pass));
  const ran = passesRun.filter((p) => known.has(p));
  if (ran.length !== want.length || ran.some((p, i) => p !== want[i])) {
    const missing = want.filter((p) => !ran.includes(p));
    const extra = ran.filter((p) => !want.includes(p));
    const what = missing.length > 0 ? `${missing.join(", ")} did not run` : extra.length > 0 ? `${extra.join(", ")} ran although the compile excluded ${exclude.join(", ")}` : "its passes ran out of order";
    throw new InvariantError(
      `checked mode: mode ${mode} broke its promise passes: ${what} ` +
        `(expected ${want.join(", ")}; ran ${passesRun.join(", ") || "nothing"})`,
    );
  }
}

/** Where a context stood before a pipeline (see `verifyModePasses`). */
export interface PipelineMark {
  readonly passes: number;
  readonly failures: number;
}

/** The mark of `ctx` now. */
export function pipelineMark(ctx: RewriteContext): PipelineMark {
  return { passes: ctx.passesRun.length, failures: ctx.report.failures.length };
}

/**
 * The promises of a pass query: those of its included tags, minus what it excludes: a promise
 * by its own tag ("fusion"), a mode tag's promises ("fast_run"), or a pass by name
 * ("elemwise_fusion", {@link PASS_PROMISES}).
 */
export function promisesOf(query: Query): Promised[] {
  const out = new Set<Promised>();
  for (const tag of query.include) for (const p of PROMISES[tag] ?? []) out.add(p);
  for (const x of query.exclude ?? []) {
    out.delete(x as Promised);
    for (const p of PROMISES[x] ?? []) out.delete(p);
    const p = PASS_PROMISES[x];
    if (p !== undefined) out.delete(p);
  }
  return [...out];
}

/**
 * Checked mode, after a whole pipeline: the graph keeps the promises of `query`.
 *
 * - merge: no two nodes with equal ops on the very same inputs and comparable types (unless both
 *   are directly destroyed: PR #2355's guard), and no two equal constants. Judged by a fresh
 *   scan of every node, not by MergeFeature's incremental index. merge3 runs after the inplace
 *   pass: merging a zero Alloc's fresh copy back into a buffer that others read needs those
 *   readers scheduled before the write, so such a pair is exempt when validation rejects its
 *   merge (tried in a checkpoint and reverted).
 * - inplace: no node left out of place with a slot the DestroyHandler proposes. Each such slot
 *   is tried in a checkpoint and reverted. If validation accepts it, the pass missed it (the pass
 *   is greedy and a write only adds constraints, so what it left must still be vetoed now). If
 *   validation rejects it, the handler contradicts itself: a proposed slot's tree has no other
 *   reader, nothing protected and no destroyer, so no rule of validation can apply. Checking the
 *   two layers against each other matters because each one alone masks the other's holes.
 *   An update op whose x is a zero-filled Alloc must also be in place, on a fresh copy of that
 *   Alloc if need be (the copy has no other reader, so validation has nothing to object to).
 *
 * @throws InvariantError naming the promise, the query and the nodes.
 */
export function verifyPostconditions(fg: FunctionGraph, query: Query, opts: { readonly mutableInputs?: readonly Variable[] } = {}): void {
  const promises = promisesOf(query);
  const mode = `pipeline [${query.include.join(", ")}]${query.exclude !== undefined && query.exclude.length > 0 ? ` minus [${query.exclude.join(", ")}]` : ""}`;
  // "promise <name>" is the failing "op" of a finding's signature (properties' opFromMessage),
  // so a broken merge promise and a broken inplace promise are told apart in triage.
  const broke = (promise: Promised, what: string): never => {
    throw new InvariantError(`checked mode: ${mode} broke its promise ${promise}: ${what}`);
  };
  if (promises.includes("merge")) {
    const dup = unmergedPairs(fg).filter(([m, n]) => !mergeVetoed(fg, m, n));
    if (dup.length > 0) broke("merge", `${dup.length} pair(s) of equal nodes left unmerged, first ${dup[0][0].toString()} and ${dup[0][1].toString()} (same op, same inputs)`);
    const seen = new Map<string, Constant>();
    for (const v of fg.variables) {
      if (!(v instanceof Constant) || (fg.clients.get(v)?.length ?? 0) === 0) continue;
      const key = `${v.type.key()}|${v.signature()}`;
      const other = seen.get(key);
      if (other !== undefined && other !== v) broke("merge", `two equal constants left unmerged: ${other.toString()} and ${v.toString()}`);
      seen.set(key, v);
    }
  }
  if (promises.includes("fusion")) {
    const pair = unfusedPair(fg);
    if (pair !== null) broke("fusion", `${pair[0].toString()} is read only by ${pair[1].toString()}, an elementwise node of the same static shape, but was left out of its fused loop`);
  }
  const dh = fg.getFeature(DestroyHandler);
  // One restatement of the in-place contract for both checks below (missedInplace's trials are
  // reverted, so the graph state it describes holds for both).
  const writable = writableSlotsOf(fg, opts.mutableInputs ?? []);
  if (dh !== undefined) {
    verifyDestroyerQueries(fg, dh);
    verifyCandidateQuery(fg, dh, writable);
  }
  if (promises.includes("inplace")) {
    if (dh === undefined) broke("inplace", "no DestroyHandler is attached, so nothing was made in place");
    const missed = missedInplace(fg, dh as DestroyHandler, writable);
    if (missed !== null) {
      if (missed.freshZeros === true) {
        broke(
          "inplace",
          missed.veto === null
            ? `${missed.node.toString()} updates a zero-filled Alloc it may not overwrite, and was left out of place instead of writing into a fresh copy of that Alloc (validation accepts the copy)`
            : `validation rejects ${missed.node.toString()} writing into a fresh copy of its zero-filled Alloc (${missed.veto}), a buffer no other node reads`,
        );
      }
      broke(
        "inplace",
        missed.veto === null
          ? `${missed.node.toString()} could write into input ${missed.slot} (no other reader, nothing protected or already overwritten in its tree of views, and validation accepts the write) but was left out of place`
          : `input ${missed.slot} of ${missed.node.toString()} may be overwritten by the in-place contract (no other reader, nothing protected or already overwritten in its tree of views) but validation rejects it (${missed.veto}): the candidate contract and validation disagree`,
      );
    }
  }
}

/**
 * The DestroyHandler's queries against the graph: for every variable, `destroyersOf` names the
 * nodes that overwrite its buffer (its foundation, through view maps, read in a destroyed slot),
 * and `hasDestroyers` says whether there is one. Restated from the ops' view and destroy maps,
 * not from the handler's index. Other features and user code rely on these answers, and no
 * engine path reads them, so nothing else would notice them drift.
 */
function verifyDestroyerQueries(fg: FunctionGraph, dh: DestroyHandler): void {
  const writers = new Map<Variable, Set<Apply>>();
  for (const n of fg.applyNodes) {
    for (const ins of Object.values(n.op.destroyMap)) {
      for (const i of ins) {
        const root = foundation(n.inputs[i]);
        let w = writers.get(root);
        if (w === undefined) writers.set(root, (w = new Set()));
        w.add(n);
      }
    }
  }
  for (const v of fg.variables) {
    const want = writers.get(foundation(v)) ?? new Set<Apply>();
    const got = dh.destroyersOf(v);
    if (got.length !== want.size || got.some((n) => !want.has(n))) {
      throw new InvariantError(`checked mode: DestroyHandler.destroyersOf(${v.toString()}) is [${got.map((n) => n.toString()).join(", ")}], but the graph's destroy maps give [${[...want].map((n) => n.toString()).join(", ")}]`);
    }
    if (dh.hasDestroyers([v]) !== want.size > 0) {
      throw new InvariantError(`checked mode: DestroyHandler.hasDestroyers([${v.toString()}]) is ${String(!(want.size > 0))}, but the graph's destroy maps give ${want.size} destroyer(s) of its buffer`);
    }
  }
}

/**
 * The DestroyHandler's candidate filter against the in-place contract: for every node,
 * `inplaceCandidates` proposes exactly the slots `writableSlotsOf` restates from the graph. The
 * missed-write promise below only asks whether the pass used every slot the contract allows; a
 * filter proposing more (a protected buffer, a constant, a tree another node reads, a second
 * slot into one tree) is caught by validation, so the pass's result hides it, and the handler's
 * own answer is the one other code would trust. Its decision counters are restored afterwards.
 */
function verifyCandidateQuery(fg: FunctionGraph, dh: DestroyHandler, writable: (node: Apply) => number[]): void {
  const saved = new Map(dh.paths);
  try {
    for (const n of fg.applyNodes) {
      const want = writable(n);
      const got = dh.inplaceCandidates(n);
      if (got.length !== want.length || got.some((j, k) => j !== want[k])) {
        throw new InvariantError(
          `checked mode: DestroyHandler.inplaceCandidates(${n.toString()}) proposes input(s) [${got.join(", ")}], but the in-place contract restated from the graph allows [${want.join(", ")}] (one slot per tree of views, no other reader, nothing protected, constant or already overwritten)`,
        );
      }
    }
  } finally {
    dh.paths.clear();
    for (const [k, c] of saved) dh.paths.set(k, c);
  }
}

/**
 * True when `m` and `n` are Allocs whose merge would fail validation (one of them is destroyed in
 * place and the other's readers cannot all be scheduled before that write). Tried in a
 * checkpoint and reverted; the handler's decision counters are restored (see missedInplace).
 *
 * Only Allocs: the inplace pass's fresh copies of a zero Alloc are the only nodes made after
 * merge2 that can equal another. Any other duplicate was there for merge2, before anything
 * wrote in place, so in-place writes made since must not excuse it.
 */
function mergeVetoed(fg: FunctionGraph, m: Apply, n: Apply): boolean {
  const dh = fg.getFeature(DestroyHandler);
  if (dh === undefined || !(m.op instanceof Alloc)) return false;
  const forward = m.outputs.every((o, k) => o.type.isSuper(n.outputs[k].type));
  const pairs = m.outputs.map((o, k) => (forward ? ([o, n.outputs[k]] as const) : ([n.outputs[k], o] as const)));
  const saved = new Map(dh.paths);
  try {
    return vetoOf(fg, pairs, "checked: merge postcondition") !== null;
  } finally {
    dh.paths.clear();
    for (const [k, c] of saved) dh.paths.set(k, c);
  }
}

/** Validation's veto of replacing `pairs` (null when it accepts), tried in a checkpoint and always reverted. */
function vetoOf(fg: FunctionGraph, pairs: readonly (readonly [Variable, Variable])[], reason: string): string | null {
  const chk = fg.checkpoint();
  try {
    fg.replaceAllValidate(pairs, reason);
    return null;
  } catch (e) {
    if (!(e instanceof InconsistencyError)) throw e;
    return e.message;
  } finally {
    fg.revert(chk);
  }
}

/**
 * An Elemwise node that fusion promises to have absorbed, and the node that reads it, or null.
 * Fusion's contract (fusion.ts): a producer whose every client is in one fused group, with the
 * group's static shape, joins that group; a group of two or more nodes becomes one Composite,
 * unless its loop would read nothing but inlined 0-d constants. So after the pipeline no
 * Elemwise may be read by exactly one elementwise node (Elemwise or Composite, in place or not:
 * the inplace pass runs later) of the same static shape, unless that pair reads only 0-d
 * constants. Written from the contract, not from the pass's grouping code.
 */
function unfusedPair(fg: FunctionGraph): [Apply, Apply] | null {
  const elementwise = (n: Apply): boolean => n.op instanceof Elemwise || n.op instanceof Composite;
  const inlined = (v: Variable): boolean => v instanceof Constant && v.type.ndim === 0;
  // A producer fusion could take: an Elemwise, or a one-output Composite (a fused loop from an
  // earlier compile, as when a rewritten graph is compiled again). Fusion runs before the
  // inplace pass, so a producer writing in place now was left out of its loop all the same.
  const fusable = (p: Apply): boolean => p.op instanceof Elemwise || (p.op instanceof Composite && p.outputs.length === 1);
  for (const p of fg.applyNodes) {
    if (!fusable(p)) continue;
    const out = p.outputs[0];
    const clients = fg.clients.get(out) ?? [];
    if (clients.length === 0) continue;
    const n = clients[0][0];
    if (!elementwise(n) || clients.some(([c]) => c !== n)) continue;
    const s = out.type.shape;
    const t = n.outputs[0].type.shape;
    if (s.length !== t.length || s.some((x, i) => x !== t[i])) continue;
    if (p.inputs.every(inlined) && n.inputs.every((v) => v === out || inlined(v))) continue;
    return [p, n];
  }
  return null;
}

type InplaceCapable = { readonly props: { readonly inplace?: unknown }; withInplace?: (k?: number) => { makeNode(...xs: Variable[]): Apply } };

/** True for a node whose op has an in-place form it does not use yet. */
function canWriteInPlace(node: Apply): boolean {
  const op = node.op as unknown as InplaceCapable;
  return typeof op.withInplace === "function" && (op.props.inplace === null || op.props.inplace === false);
}

/**
 * The in-place version of `node` writing into input `slot`, or null when its op has none for that
 * slot. Built from the op's own `withInplace` (Elemwise/Composite: `inplace` is null and any slot
 * may be destroyed; the update ops: `inplace` is false and only x, slot 0), not from the inplace
 * pass's helper, so the checks that use it do not share the pass's code.
 */
export function inplaceVariant(node: Apply, slot: number): Apply | null {
  if (!canWriteInPlace(node)) return null;
  const op = node.op as unknown as InplaceCapable & { withInplace: (k?: number) => { makeNode(...xs: Variable[]): Apply } };
  if (op.props.inplace === false && slot !== 0) return null;
  try {
    return (op.props.inplace === null ? op.withInplace(slot) : op.withInplace()).makeNode(...node.inputs);
  } catch (e) {
    if (e instanceof OpInputError) return null; // no in-place kernel for this slot (dtype, broadcast)
    throw e;
  }
}

/**
 * The first node left out of place with a slot the handler proposes, with validation's veto
 * (null when validation accepts the write), or null when there is none. The handler's decision
 * counters are restored afterwards, so feature coverage counts only what the pipeline decided.
 */
function missedInplace(fg: FunctionGraph, dh: DestroyHandler, writableSlots: (node: Apply) => number[]): { node: Apply; slot: number; veto: string | null; freshZeros?: true } | null {
  const saved = new Map(dh.paths);
  try {
    for (const node of fg.toposort()) {
      if (!canWriteInPlace(node)) continue;
      for (const slot of writableSlots(node)) {
        const variant = inplaceVariant(node, slot);
        if (variant === null) continue;
        return { node, slot, veto: vetoOf(fg, node.outputs.map((o, k) => [o, variant.outputs[k]] as const), "checked: inplace postcondition") };
      }
    }
    // An update op may also write into a fresh copy of a zero-filled buffer it does not own.
    for (const node of fg.toposort()) {
      if (!canWriteInPlace(node) || (node.op as unknown as InplaceCapable).props.inplace !== false) continue;
      const [x, ...rest] = node.inputs;
      const owner = x.owner;
      if (owner === null || !(owner.op instanceof Alloc) || !isZeroFill(owner.inputs[0])) continue;
      const op = node.op as unknown as { withInplace: () => { makeNode(...xs: Variable[]): Apply } };
      const variant = op.withInplace().makeNode(owner.op.makeNode(...owner.inputs).outputs[0], ...rest);
      return { node, slot: 0, veto: vetoOf(fg, node.outputs.map((o, k) => [o, variant.outputs[k]] as const), "checked: inplace postcondition"), freshZeros: true };
    }
    return null;
  } finally {
    dh.paths.clear();
    for (const [k, n] of saved) dh.paths.set(k, n);
  }
}
