/**
 * The graph reducer: from a failing case to a 1-minimal one with the same failure.
 *
 * fast-check shrinks the *recipe* (which ops were chosen); that removes whole steps but cannot
 * cut a graph in the middle, replace a subgraph by its value, or simplify a number. This reducer
 * works on the case itself, in the style of C-Reduce: a fixed list of reduction passes, ordered
 * from big to small, each proposing candidate cases; a candidate is kept when it is valid
 * (`parseTypedCase` accepts it), strictly smaller, and the caller's `stillFails` says the
 * failure is still there. The passes are repeated until a whole round keeps nothing, which is
 * the definition of 1-minimal: no single reduction applies.
 *
 * Termination does not rely on the passes being clever. Every kept candidate must be strictly
 * smaller in the lexicographic order of {@link caseSize}, a tuple of natural numbers (nodes,
 * inputs, elements, rank, wrt, parameter complexity, value complexity), which is well-founded;
 * a candidate that is not smaller is discarded before it is evaluated. So a pass that proposes
 * something silly costs nothing, and no two passes can undo each other forever.
 *
 * Passes, in order:
 * 1. `dead-code`: drop every node the cost does not depend on, and every unused input.
 * 2. `cost`: make an earlier 0-d float node the cost.
 * 3. `replace-by-input`: replace a node by a fresh input holding its forward value at the point
 *    (from `evaluateCaseEngine`), so the computation downstream sees the same numbers. Latest
 *    node first: that cuts the most.
 * 4. `relabel`: bypass a chain that only relabels an earlier value (`values` → `as_xtensor`,
 *    `rename`, an order-keeping `transpose`): its users read the earlier value, and the dims
 *    downstream (every node's dim parameters, and inputs only downstream nodes read) are renamed
 *    consistently, clashing names to fresh ones (`relabel.ts`, with the soundness argument).
 *    Deleting such nodes one at a time breaks types or changes which dims align, so a 1-minimal
 *    reducer without this pass stops at the chain.
 * 5. `delete-node`: delete a node, rewiring its users to one of its args (a type the users
 *    accept: the parser decides), or deleting its users too.
 * 6. `unused-input`, `wrt`: drop one unused input; stop differentiating one input.
 * 7. `dims`: drop a dim everywhere (every input holding it is indexed at 0, every parameter
 *    naming it forgets it); shrink a length (slice every input holding the dim to 1, or to L−1);
 *    the same per axis for positional inputs.
 * 8. `params`: ddof → 0, dims lists → null (all) or one shorter, slices → full, slice bounds →
 *    default, steps → ±1, int indexers → 0, an indexer dropped, expand_dims size → 1.
 * 9. `values`: round a whole input to 1–3 significant digits, then single elements to 0, 1, an
 *    integer or fewer digits; constants likewise, but a non-integral constant stays non-integral
 *    (JSON cannot tell 1.0 from 1, and an integral weak constant changes the result dtype).
 *
 * Then, with `rerolls` (positional-forms' reductions, {@link REROLLS}), every candidate but the
 * value pass's again under renamed inputs, one renaming at a time over all of them: a renaming
 * changes no value, type or dim, so for a predicate that draws from the graph's structure and
 * its input names it is a fresh draw of the same smaller graph. A kept one returns to the passes.
 *
 * Everything is deterministic: candidates come in a fixed order, and the budget (evaluations
 * and wall time) only decides where a long reduction stops.
 */
import type {
  Case, CaseArg, CaseInput, CaseNode, CaseTypes, CaseValue, Indexer, SliceSpec,
} from "../src/case/format.js";
import { isFloatDtype, nestValue } from "../src/case/format.js";
import { parseTypedCase, resolveWrt } from "../src/case/parse.js";
import { writeCase } from "../src/case/write.js";
import { buildCase, evaluateCaseEngine, type VerdictArray } from "../src/case/build.js";
import { failureClassOf } from "../src/fuzz/triage.js";
import { type Localization, ancestorsOf, localize, refsOf, runOneProperty } from "./localize.js";
import { relabelBypasses } from "./relabel.js";
import { type Check, type FailureClass, PROPERTY_NAMES, type PropertyName, signatureOf } from "./types.js";

/** Options of {@link shrinkCase}. */
export interface ShrinkOptions {
  /** Stop after this many `stillFails` evaluations (default 2000). */
  readonly maxEvaluations?: number;
  /** Stop after this much wall time, milliseconds (default 120 000). */
  readonly timeLimitMs?: number;
  /** Called after every kept reduction (progress reporting). */
  readonly onStep?: (step: ShrinkStep, c: Case) => void;
  /**
   * Once no reduction keeps the failure, try each (but the value pass's) again under this many
   * renamings of every input, before calling the case 1-minimal (default 0; see {@link renameInputs}).
   * For a predicate that draws from the graph's structure and its input names, as
   * positional-forms' forms races do, every structural reduction redraws; a renaming is a fresh
   * draw of the same graph.
   */
  readonly rerolls?: number;
}

/** One kept reduction. */
export interface ShrinkStep {
  /** The pass (`delete-node`, `dims`, ...). */
  readonly pass: string;
  /** What it did, for humans (`delete e, users read x`). */
  readonly detail: string;
  /** {@link caseSize} after the step. */
  readonly size: readonly number[];
}

/** The result of a reduction. */
export interface ShrinkResult {
  /** The smallest failing case found (the input case when nothing could be removed). */
  readonly case: Case;
  /** The reductions kept, in order. */
  readonly steps: readonly ShrinkStep[];
  /** How many times `stillFails` ran (cached repeats not counted). */
  readonly evaluations: number;
  /** True when a whole round of every pass kept nothing: the case is 1-minimal. False when the budget ran out first. */
  readonly minimal: boolean;
  /** Whether dead code was dropped along with structural edits (see `oneStepReductions`). */
  readonly autoDce: boolean;
}

/** A predicate on cases: does the failure still happen? Exceptions count as "no". */
export type StillFails = (c: Case) => Promise<boolean> | boolean;

interface Candidate {
  readonly pass: string;
  readonly detail: string;
  readonly case: Case;
}

/** What a pass sees: the current case, its types, and (lazily) every node's forward value. */
interface Ctx {
  readonly c: Case;
  readonly types: CaseTypes;
  readonly values: () => Record<string, VerdictArray> | null;
  /** Also drop dead code after structural edits (see `shrinkCase`). */
  readonly autoDce: boolean;
}

type Pass = (ctx: Ctx) => Iterable<Candidate>;

/**
 * Reduce `c` while `stillFails` holds, until 1-minimal or out of budget.
 *
 * @param c - a valid case for which `stillFails(c)` is true (not re-checked).
 */
export async function shrinkCase(c: Case, stillFails: StillFails, opts: ShrinkOptions = {}): Promise<ShrinkResult> {
  const maxEvals = opts.maxEvaluations ?? 2000;
  const deadline = Date.now() + (opts.timeLimitMs ?? 120_000);
  let current = parseTypedCase(c);
  let size = caseSize(current.case);
  const seen = new Map<string, boolean>([[writeCase(current.case), true]]);
  const steps: ShrinkStep[] = [];
  let evaluations = 0;
  let outOfBudget = false;
  // Dead nodes can matter (a forward-value property compares every node), so dead code is only
  // dropped automatically once dropping it all at once has been seen to keep the failure.
  let autoDce = false;

  const tryCandidate = async (cand: Candidate): Promise<boolean> => {
    let typed;
    try {
      typed = parseTypedCase(cand.case);
    } catch {
      return false;
    }
    const s = caseSize(typed.case);
    if (compareSize(s, size) >= 0) return false;
    const key = writeCase(typed.case);
    const known = seen.get(key);
    if (known !== undefined) return false; // the current case, an earlier one, or a refused one
    if (evaluations >= maxEvals || Date.now() > deadline) {
      outOfBudget = true;
      return false;
    }
    evaluations++;
    let ok: boolean;
    try {
      ok = await stillFails(typed.case);
    } catch {
      ok = false;
    }
    seen.set(key, ok);
    if (!ok) return false;
    current = typed;
    size = s;
    const step: ShrinkStep = { pass: cand.pass, detail: cand.detail, size: s };
    steps.push(step);
    opts.onStep?.(step, current.case);
    return true;
  };

  const makeCtx = (): Ctx => {
    let vals: Record<string, VerdictArray> | null | undefined;
    const snapshot = current;
    return {
      c: snapshot.case,
      types: snapshot.types,
      autoDce,
      values: () => {
        if (vals === undefined) {
          try {
            vals = evaluateCaseEngine(buildCase(snapshot.case, snapshot.types));
          } catch {
            vals = null;
          }
        }
        return vals;
      },
    };
  };

  // The first thing worth knowing: can dead code go at all?
  const dce = deadCode(current.case);
  if (dce === null) autoDce = true;
  else if (await tryCandidate({ pass: "dead-code", detail: "drop nodes and inputs the cost does not use", case: dce })) autoDce = true;

  // Each pass until a whole round keeps nothing; then, with rerolls, every candidate but the
  // value pass's again under renamed inputs (each renaming tried on every candidate before the next, so that
  // every reduction gets its first fresh draw early), and back to the passes after a success.
  for (;;) {
    await plainRounds();
    if (outOfBudget || !(await rerollRound())) break;
  }
  return { case: current.case, steps, evaluations, minimal: !outOfBudget, autoDce };

  async function rerollRound(): Promise<boolean> {
    if ((opts.rerolls ?? 0) === 0) return false;
    // The case stays the same until a candidate is kept, so the candidates are listed once (one
    // forward evaluation for replace-by-input), not once per renaming. Values feed no draw but
    // constants', and the value pass's candidates are the most numerous: left out.
    const ctx = makeCtx();
    const cands = PASSES.filter((pass) => pass !== valuesPass).flatMap((pass) => [...pass(ctx)]);
    for (let t = 1; t <= (opts.rerolls ?? 0); t++) {
      for (const cand of cands) {
        const renamed = renameInputs(cand.case, t);
        if (renamed === null) continue;
        if (await tryCandidate({ pass: cand.pass, detail: `${cand.detail}; inputs renamed ${renamed.shown}`, case: renamed.case })) return true;
        if (outOfBudget) return false;
      }
    }
    return false;
  }

  async function plainRounds(): Promise<void> {
    for (;;) {
      let changed = false;
      for (const pass of PASSES) {
        // After a success the pass restarts on the new case at the same position (C-Reduce's
        // pass loop): the candidates before it were refused on a bigger case and are retried in
        // the next round, not now, which keeps a round linear in the number of candidates.
        let start = 0;
        for (let restarted = true; restarted && !outOfBudget; ) {
          restarted = false;
          let i = 0;
          for (const cand of pass(makeCtx())) {
            if (i++ < start) continue;
            if (await tryCandidate(cand)) {
              changed = restarted = true;
              start = i - 1;
              break;
            }
            if (outOfBudget) break;
          }
        }
        if (outOfBudget) break;
      }
      if (outOfBudget || !changed) break;
    }
  }
}

/**
 * `c` with every input renamed to its name with the suffix `_r<t>` (a suffix from an earlier
 * renaming replaced), and every reference to it; null when nothing changes. A renaming changes no
 * value, type or dim: only what is drawn from names.
 */
export function renameInputs(c: Case, t: number): { case: Case; shown: string } | null {
  const to = new Map(c.inputs.map((i) => [i.name, `${i.name.replace(/_r\d+$/, "")}_r${t}`] as const));
  const moved = [...to].filter(([a, b]) => a !== b);
  if (moved.length === 0) return null;
  const out = copy(c);
  const at = (a: string): string => to.get(a) ?? a;
  for (const i of out.inputs) i.name = at(i.name);
  for (const n of out.nodes) (n.args as CaseArg[]).forEach((a, k) => {
    if (typeof a === "string") (n.args as CaseArg[])[k] = at(a);
  });
  if (out.wrt !== undefined) out.wrt = out.wrt.map(at);
  out.cost = at(out.cost);
  return { case: out, shown: moved.map(([a, b]) => `${a} → ${b}`).join(", ") };
}

// ---------------------------------------------------------------------------------------------
// the signature-preserving driver

/** The parts of a signature string (`property/failureClass/failingOp/errorClass`). */
export interface SignatureParts {
  readonly property: string;
  readonly failureClass: string;
  readonly failingOp: string;
  readonly errorClass: string;
}

/** Split a signature made by `signatureOf` (the op part may itself contain "/"). */
export function parseSignature(signature: string): SignatureParts {
  const parts = signature.split("/");
  if (parts.length < 4) throw new Error(`not a failure signature (property/class/op/error): ${JSON.stringify(signature)}`);
  return { property: parts[0], failureClass: parts[1], failingOp: parts.slice(2, -1).join("/"), errorClass: parts[parts.length - 1] };
}

/**
 * The renamings {@link shrinkFailure} tries per reduction (`ShrinkOptions.rerolls`), by property.
 * positional-forms draws its forms by races keyed by each value's ancestry, graph inputs by
 * name (`structuralKeys` in forms.ts): deleting a node under a form's target redraws every form
 * above it, so the failing form is usually drawn away, and without a renaming the reduction
 * stops at the target's whole ancestry (the fault zoo's merge-guard repro stopped at 5 nodes, its
 * minimum is 2). A renaming draws again on the same graph. On that repro (5 nodes), 8 renamings
 * per candidate reach 3 nodes and 32 reach 1 (a sum over a vector), in under a second: the
 * reroll round starts only once the plain passes keep nothing, when the case is small and its
 * compiles cheap, and the evaluation and time budgets bound it like any pass. The other
 * properties' draws are keyed by the whole case text (`caseSeed`), which every reduction changes
 * anyway, or not drawn at all when run alone.
 */
export const REROLLS: Readonly<Partial<Record<PropertyName, number>>> = { "positional-forms": 32 };

/** Options of {@link shrinkFailure}. */
export interface ShrinkFailureOptions extends ShrinkOptions {
  /** Runs one property on a case (default: `runProperties` with that property only). */
  readonly runCheck?: (c: Case, property: PropertyName) => Promise<Check | undefined>;
}

/** A {@link ShrinkResult} plus the signature it preserved. */
export interface ShrinkFailureResult extends ShrinkResult {
  /** The signature every kept case has (the localized form of the one asked for). */
  readonly signature: string;
}

/**
 * The full signature of a failing check on `c`: property, failure class, first failing op kind
 * (by {@link localize}, else the check's own `failingOp`), error class.
 */
export async function checkSignature(c: Case, check: Check, runCheck?: ShrinkFailureOptions["runCheck"]): Promise<{ signature: string; localization: Localization | null }> {
  const loc = await localize(c, check, runCheck !== undefined ? { runCheck } : {});
  const errorClass = check.status === "error" ? check.errorClass ?? "Error" : check.errorClass ?? "";
  return { signature: signatureOf(check.property, failureClassOf(check), loc?.failingOp ?? check.failingOp ?? "", errorClass), localization: loc };
}

/**
 * Shrink `c` while its failure keeps `signature`: the same property fails again, with the same
 * failure class, the same error class, and the same first failing op kind by {@link localize}.
 *
 * A signature whose op part is "-" (a triage that did not localize) is first completed by
 * localizing the failure on `c` itself, so the reduction cannot drift to another op's bug.
 *
 * @throws Error when `c` does not fail with `signature` to begin with.
 */
export async function shrinkFailure(c: Case, signature: string, opts: ShrinkFailureOptions = {}): Promise<ShrinkFailureResult> {
  const { stillFails, signature: target } = await failurePredicate(c, signature, opts.runCheck);
  const rerolls = opts.rerolls ?? REROLLS[parseSignature(target).property as PropertyName] ?? 0;
  const r = await shrinkCase(c, stillFails, { ...opts, rerolls });
  return { ...r, signature: target };
}

/**
 * The predicate {@link shrinkFailure} reduces with: "the case fails with this signature", where
 * the op part is the localized one (see there). Exported so that tests and tools can check a
 * result's 1-minimality against exactly the predicate that produced it.
 *
 * @throws Error when `c` does not fail with `signature`.
 */
export async function failurePredicate(c: Case, signature: string, runCheck?: ShrinkFailureOptions["runCheck"]): Promise<{ stillFails: (x: Case) => Promise<boolean>; signature: string }> {
  const want = parseSignature(signature);
  if (!(PROPERTY_NAMES as readonly string[]).includes(want.property)) throw new Error(`shrinkFailure: ${JSON.stringify(want.property)} is not a property`);
  const property = want.property as PropertyName;
  const run = runCheck ?? runOneProperty;
  const matchingCheck = async (x: Case): Promise<Check | null> => {
    const k = await run(x, property);
    if (k === undefined || (k.status !== "fail" && k.status !== "error")) return null;
    if (failureClassOf(k) !== want.failureClass) return null;
    const errorClass = k.status === "error" ? k.errorClass ?? "Error" : k.errorClass ?? "";
    return (errorClass || "-") === (want.errorClass || "-") ? k : null;
  };
  const first = await matchingCheck(c);
  if (first === null) throw new Error(`shrinkFailure: the case does not fail with ${signature}`);
  const { signature: localized } = await checkSignature(c, first, run);
  const target = want.failingOp === "-" || want.failingOp === "" ? parseSignature(localized).failingOp : want.failingOp;
  const stillFails = async (x: Case): Promise<boolean> => {
    const k = await matchingCheck(x);
    if (k === null) return false;
    const s = await checkSignature(x, k, run);
    return parseSignature(s.signature).failingOp === target;
  };
  return { stillFails, signature: signatureOf(want.property, want.failureClass as FailureClass, target, want.errorClass) };
}

// ---------------------------------------------------------------------------------------------
// size

/**
 * The size a reduction must strictly decrease (lexicographically): node count, input count,
 * total input elements, total input rank, number of `wrt` inputs, parameter complexity, value
 * complexity.
 */
export function caseSize(c: Case): number[] {
  let elements = 0;
  let rank = 0;
  let values = 0;
  for (const i of c.inputs) {
    elements += i.shape.reduce((a, s) => a * s, 1);
    rank += i.shape.length;
    for (const v of flat(i.value)) values += typeof v === "number" ? numComplexity(v) : v ? 1 : 0;
  }
  let params = 0;
  for (const n of c.nodes) {
    params += paramComplexity(n);
    for (const a of n.args) if (typeof a === "number") values += numComplexity(a);
  }
  return [c.nodes.length, c.inputs.length, elements, rank, resolveWrt(c).length, params, values];
}

function compareSize(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** Significant digits plus decimal exponent plus sign: 0 → 0, 1 → 1, 0.5 → 2, 1.5 → 2, 0.123 → 4. */
export function numComplexity(v: number): number {
  if (v === 0) return 0;
  const [mant, exp] = Math.abs(v).toExponential().split("e");
  return mant.replace(".", "").length + Math.abs(Number(exp)) + (v < 0 ? 1 : 0);
}

function listComplexity(l: readonly unknown[] | null | undefined | string): number {
  if (l === null || l === undefined) return 0;
  return typeof l === "string" ? 1 : l.length + 1;
}

function indexerComplexity(ix: Indexer): number {
  if (typeof ix === "number") return Math.abs(ix) + 1;
  if ("arg" in ix) return 1;
  const [a, b, s] = ix.slice;
  return 1 + (a === null ? 0 : 1 + Math.abs(a)) + (b === null ? 0 : 1 + Math.abs(b)) + (s === null ? 0 : s === 1 ? 1 : 1 + Math.abs(s) + (s < 0 ? 1 : 0));
}

function paramComplexity(n: CaseNode): number {
  switch (n.op) {
    case "sum": case "prod": case "mean": case "max": case "min": case "all": case "any":
      return listComplexity(n.dims) + listComplexity((n as { axes?: number[] | null }).axes);
    case "var": case "std":
      return listComplexity(n.dims) + Math.abs(n.ddof ?? 0);
    case "dot":
      return listComplexity(n.dims);
    case "expand_dims":
      return Math.max(0, (n.size ?? 1) - 1);
    case "isel": case "set": case "inc":
      return Object.values(n.indexers).reduce((a: number, ix) => a + indexerComplexity(ix), 0);
    case "rename":
      return Object.keys(n.map).length;
    default:
      return 0;
  }
}

// ---------------------------------------------------------------------------------------------
// case editing helpers

function flat(v: CaseValue): (number | boolean)[] {
  return Array.isArray(v) ? v.flatMap(flat) : [v];
}

function copy(c: Case): Case {
  return structuredClone(c);
}

/** Replace every reference to `from` in node args by `to`. */
function rewire(nodes: CaseNode[], from: string, to: CaseArg): void {
  for (const n of nodes) (n.args as CaseArg[]).forEach((a, i) => {
    if (a === from) (n.args as CaseArg[])[i] = to;
  });
}

/** Drop nodes the cost does not depend on and inputs nothing uses; null when there are none. */
function deadCode(c: Case): Case | null {
  const live = ancestorsOf(c, c.cost);
  const nodes = c.nodes.filter((n) => live.has(n.id));
  const inputs = c.inputs.filter((i) => live.has(i.name));
  if (nodes.length === c.nodes.length && inputs.length === c.inputs.length) return null;
  const out = copy(c);
  out.nodes = out.nodes.filter((n) => live.has(n.id));
  out.inputs = out.inputs.filter((i) => live.has(i.name));
  if (out.wrt !== undefined) out.wrt = out.wrt.filter((w) => live.has(w));
  else out.wrt = resolveWrt(c).filter((w) => live.has(w));
  return out;
}

/** Dead-code elimination when the pass context allows it, else `c` unchanged. */
function tidy(ctx: Ctx, c: Case): Case {
  return ctx.autoDce ? deadCode(c) ?? c : dropDanglingWrt(c);
}

/** `wrt` names that are no longer inputs are removed (an edit may have deleted them). */
function dropDanglingWrt(c: Case): Case {
  if (c.wrt === undefined) return c;
  const names = new Set(c.inputs.map((i) => i.name));
  c.wrt = c.wrt.filter((w) => names.has(w));
  return c;
}

/** `value` with axis `axis` indexed at `index` (dropped). */
function indexAxis(value: CaseValue, axis: number, index: number): CaseValue {
  if (!Array.isArray(value)) return value;
  if (axis === 0) return value[index];
  return value.map((v) => indexAxis(v, axis - 1, index));
}

/** `value` with axis `axis` sliced to its first `len` entries. */
function sliceAxis(value: CaseValue, axis: number, len: number): CaseValue {
  if (!Array.isArray(value)) return value;
  if (axis === 0) return value.slice(0, len);
  return value.map((v) => sliceAxis(v, axis - 1, len));
}

/** Map every scalar of a nested value. */
function mapValue(value: CaseValue, f: (v: number | boolean) => number | boolean): CaseValue {
  return Array.isArray(value) ? value.map((v) => mapValue(v, f)) : f(value);
}

/** Remove indexer `d` of an isel/set/inc node, dropping its index array arg when it has one. */
function removeIndexer(n: CaseNode & { indexers: Record<string, Indexer> }, d: string): void {
  const ix = n.indexers[d];
  delete n.indexers[d];
  if (typeof ix === "object" && "arg" in ix) {
    (n.args as CaseArg[]).splice(ix.arg, 1);
    for (const [k, v] of Object.entries(n.indexers)) if (typeof v === "object" && "arg" in v && v.arg > ix.arg) n.indexers[k] = { arg: v.arg - 1 };
  }
}

/** Forget dim `d` in a node's parameters (lists, maps, indexers). */
function forgetDim(n: CaseNode, d: string): void {
  const drop = (l: string[]): string[] => l.filter((x) => x !== d);
  switch (n.op) {
    case "sum": case "prod": case "mean": case "max": case "min": case "all": case "any": case "var": case "std":
      if (Array.isArray(n.dims)) n.dims = drop(n.dims);
      break;
    case "dot":
      if (Array.isArray(n.dims)) n.dims = drop(n.dims);
      break;
    case "transpose": case "squeeze":
      n.dims = drop(n.dims);
      break;
    case "stack":
      n.from = drop(n.from);
      break;
    case "rename":
      delete n.map[d];
      break;
    case "isel": case "set": case "inc":
      if (d in n.indexers) removeIndexer(n, d);
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// passes

function* costPass(ctx: Ctx): Iterable<Candidate> {
  const { c, types } = ctx;
  const k = c.nodes.findIndex((n) => n.id === c.cost);
  for (let j = 0; j < k; j++) {
    const t = types.get(c.nodes[j].id);
    if (t === undefined || t.shape.length !== 0 || !isFloatDtype(t.dtype)) continue;
    const out = copy(c);
    out.cost = c.nodes[j].id;
    yield { pass: "cost", detail: `cost := ${out.cost}`, case: deadCode(out) ?? out };
  }
}

function* replaceByInputPass(ctx: Ctx): Iterable<Candidate> {
  const { c, types } = ctx;
  for (let k = c.nodes.length - 1; k >= 0; k--) {
    const n = c.nodes[k];
    if (n.id === c.cost) continue;
    const vals = ctx.values();
    if (vals === null) return;
    const v = vals[n.id];
    const t = types.get(n.id);
    if (v === undefined || t === undefined) continue;
    const data = t.dtype === "bool" ? v.data.map((x) => x !== 0) : v.data;
    const value = nestValue(data, t.shape);
    const input: CaseInput = t.kind === "xtensor"
      ? { name: n.id, kind: "xtensor", dims: [...(t.dims ?? [])], shape: [...t.shape], dtype: t.dtype, value }
      : { name: n.id, kind: "tensor", shape: [...t.shape], dtype: t.dtype, value };
    const out = copy(c);
    const wrt = resolveWrt(c);
    out.nodes.splice(k, 1);
    out.inputs.push(input);
    out.wrt = isFloatDtype(t.dtype) ? [...wrt, n.id] : wrt;
    yield { pass: "replace-by-input", detail: `${n.id} (${n.op}) := a fresh input holding its value`, case: tidy(ctx, out) };
  }
}

function* relabelPass(ctx: Ctx): Iterable<Candidate> {
  for (const b of relabelBypasses(ctx.c, ctx.types)) {
    const renamed = [...b.renaming].map(([k, v]) => `${k}→${v}`).join(", ");
    const retyped = b.retypedInputs.length > 0 ? `; re-typed ${b.retypedInputs.join(", ")}` : "";
    yield {
      pass: "relabel",
      detail: `bypass ${b.removed.join(" ← ")}: users read ${b.source}${renamed !== "" ? `; downstream dims ${renamed}` : ""}${retyped}`,
      case: tidy(ctx, b.case),
    };
  }
}

function* deleteNodePass(ctx: Ctx): Iterable<Candidate> {
  const { c } = ctx;
  for (let k = 0; k < c.nodes.length; k++) {
    const n = c.nodes[k];
    if (n.id === c.cost) continue;
    // Rewire the users to one of the node's args (the parser rejects a type they cannot take).
    for (const a of [...new Set(refsOf(n))]) {
      const out = copy(c);
      out.nodes.splice(k, 1);
      rewire(out.nodes, n.id, a);
      yield { pass: "delete-node", detail: `delete ${n.id} (${n.op}); its users read ${a}`, case: tidy(ctx, out) };
    }
    // Or delete the node with everything that uses it (only possible off the cost's path).
    const doomed = new Set([n.id]);
    for (const m of c.nodes.slice(k + 1)) if (refsOf(m).some((r) => doomed.has(r))) doomed.add(m.id);
    if (!doomed.has(c.cost)) {
      const out = copy(c);
      out.nodes = out.nodes.filter((m) => !doomed.has(m.id));
      yield { pass: "delete-node", detail: `delete ${[...doomed].join(", ")}`, case: tidy(ctx, out) };
    }
  }
}

function* inputsPass(ctx: Ctx): Iterable<Candidate> {
  const { c } = ctx;
  const used = new Set(c.nodes.flatMap(refsOf));
  for (const i of c.inputs) {
    if (used.has(i.name)) continue;
    const out = copy(c);
    out.inputs = out.inputs.filter((j) => j.name !== i.name);
    yield { pass: "unused-input", detail: `drop input ${i.name}`, case: dropDanglingWrt(out) };
  }
  const wrt = resolveWrt(c);
  for (const w of wrt) {
    const out = copy(c);
    out.wrt = wrt.filter((x) => x !== w);
    yield { pass: "wrt", detail: `stop differentiating ${w}`, case: out };
  }
}

function* dimsPass(ctx: Ctx): Iterable<Candidate> {
  const { c } = ctx;
  const dimNames: string[] = [];
  for (const i of c.inputs) if (i.kind === "xtensor") for (const d of i.dims) if (!dimNames.includes(d)) dimNames.push(d);
  // Drop a dim everywhere: inputs indexed at 0, parameters forget it.
  for (const d of dimNames) {
    const out = copy(c);
    for (const i of out.inputs) {
      if (i.kind !== "xtensor") continue;
      const ax = i.dims.indexOf(d);
      if (ax < 0) continue;
      i.value = indexAxis(i.value, ax, 0);
      i.dims.splice(ax, 1);
      i.shape.splice(ax, 1);
    }
    for (const n of out.nodes) forgetDim(n, d);
    yield { pass: "dims", detail: `drop dim ${d} (index 0)`, case: tidy(ctx, out) };
  }
  // Positional inputs: drop one axis, fixing the direct users that name axes.
  for (const inp of c.inputs) {
    if (inp.kind !== "tensor") continue;
    for (let ax = 0; ax < inp.shape.length; ax++) {
      const out = copy(c);
      const i = out.inputs.find((j) => j.name === inp.name) as CaseInput;
      i.value = indexAxis(i.value, ax, 0);
      i.shape.splice(ax, 1);
      for (const n of out.nodes) {
        if (n.args[0] !== inp.name) continue;
        if (n.op === "as_xtensor") n.dims.splice(ax, 1);
        else if (n.op === "sum" && Array.isArray(n.axes)) {
          const nd = inp.shape.length;
          n.axes = n.axes.map((a) => (a < 0 ? a + nd : a)).filter((a) => a !== ax).map((a) => (a > ax ? a - 1 : a));
        }
      }
      yield { pass: "dims", detail: `drop axis ${ax} of ${inp.name} (index 0)`, case: tidy(ctx, out) };
    }
  }
  // Shorter lengths: to 1 first, then by one.
  for (const d of dimNames) {
    const lens = new Set<number>();
    for (const i of c.inputs) if (i.kind === "xtensor" && i.dims.includes(d)) lens.add(i.shape[i.dims.indexOf(d)]);
    const len = Math.max(...lens);
    for (const to of len > 2 ? [1, len - 1] : len === 2 ? [1] : []) {
      const out = copy(c);
      for (const i of out.inputs) {
        if (i.kind !== "xtensor") continue;
        const ax = i.dims.indexOf(d);
        if (ax < 0 || i.shape[ax] <= to) continue;
        i.value = sliceAxis(i.value, ax, to);
        i.shape[ax] = to;
      }
      yield { pass: "dims", detail: `dim ${d}: length ${len} → ${to}`, case: out };
    }
  }
  for (const inp of c.inputs) {
    if (inp.kind !== "tensor") continue;
    for (let ax = 0; ax < inp.shape.length; ax++) {
      const len = inp.shape[ax];
      for (const to of len > 2 ? [1, len - 1] : len === 2 ? [1] : []) {
        const out = copy(c);
        const i = out.inputs.find((j) => j.name === inp.name) as CaseInput;
        i.value = sliceAxis(i.value, ax, to);
        i.shape[ax] = to;
        yield { pass: "dims", detail: `axis ${ax} of ${inp.name}: length ${len} → ${to}`, case: out };
      }
    }
  }
}

function* paramsPass(ctx: Ctx): Iterable<Candidate> {
  const { c } = ctx;
  for (let k = 0; k < c.nodes.length; k++) {
    const n = c.nodes[k];
    const edit = (detail: string, f: (m: CaseNode) => void): Candidate => {
      const out = copy(c);
      f(out.nodes[k]);
      return { pass: "params", detail: `${n.id} (${n.op}): ${detail}`, case: out };
    };
    switch (n.op) {
      case "var": case "std": case "sum": case "prod": case "mean": case "max": case "min": case "all": case "any": {
        if ((n.op === "var" || n.op === "std") && (n.ddof ?? 0) !== 0) yield edit("ddof → 0", (m) => delete (m as typeof n & { ddof?: number }).ddof);
        if (Array.isArray(n.dims)) {
          yield edit("dims → all", (m) => ((m as typeof n).dims = null));
          for (const d of n.dims) yield edit(`dims without ${d}`, (m) => ((m as typeof n).dims = n.dims?.filter((x) => x !== d) ?? null));
        }
        const axes = (n as { axes?: number[] | null }).axes;
        if (Array.isArray(axes)) {
          yield edit("axes → all", (m) => ((m as { axes?: number[] | null }).axes = null));
          for (const a of axes) yield edit(`axes without ${a}`, (m) => ((m as { axes?: number[] | null }).axes = axes.filter((x) => x !== a)));
        }
        break;
      }
      case "dot":
        if (n.dims !== null) yield edit("dims → shared", (m) => ((m as typeof n).dims = null));
        if (Array.isArray(n.dims)) for (const d of n.dims) yield edit(`dims without ${d}`, (m) => ((m as typeof n).dims = (n.dims as string[]).filter((x) => x !== d)));
        break;
      case "expand_dims":
        if ((n.size ?? 1) !== 1) yield edit("size → 1", (m) => delete (m as typeof n).size);
        break;
      case "isel": case "set": case "inc":
        for (const [d, ix] of Object.entries(n.indexers)) {
          yield edit(`drop indexer ${d}`, (m) => removeIndexer(m as typeof n, d));
          if (typeof ix === "number") {
            if (ix !== 0) yield edit(`${d}: ${ix} → 0`, (m) => ((m as typeof n).indexers[d] = 0));
          } else if ("slice" in ix) {
            const [a, b, s] = ix.slice;
            const set = (spec: SliceSpec) => (m: CaseNode) => ((m as typeof n).indexers[d] = { slice: spec });
            if (a !== null || b !== null || s !== null) yield edit(`${d}: full slice`, set([null, null, null]));
            if (a !== null) yield edit(`${d}: default start`, set([null, b, s]));
            if (b !== null) yield edit(`${d}: default stop`, set([a, null, s]));
            if (s !== null && s !== 1) yield edit(`${d}: step → ${s < 0 ? -1 : 1}`, set([a, b, s < 0 ? -1 : null]));
          }
        }
        break;
      default:
        break;
    }
  }
}

/** Simpler numbers than `v`, simplest first; `keepIntegral` fixes whether they are integers. */
function simplerNumbers(v: number, keepIntegral: boolean | null): number[] {
  const cands = keepIntegral === false ? [0.5, -0.5, 1.5] : [0, 1, -1, 2];
  if (keepIntegral !== false) cands.push(Math.round(v));
  for (let p = 1; p <= 3; p++) cands.push(Number(v.toPrecision(p)));
  const cv = numComplexity(v);
  const out: number[] = [];
  for (const x of cands) {
    if (!Number.isFinite(x) || out.includes(x) || numComplexity(x) >= cv) continue;
    if (keepIntegral === true && !Number.isInteger(x)) continue;
    if (keepIntegral === false && Number.isInteger(x)) continue;
    out.push(x);
  }
  return out.sort((a, b) => numComplexity(a) - numComplexity(b));
}

function* valuesPass(ctx: Ctx): Iterable<Candidate> {
  const { c } = ctx;
  for (let ii = 0; ii < c.inputs.length; ii++) {
    const inp = c.inputs[ii];
    if (inp.dtype === "bool") continue;
    const integral = !isFloatDtype(inp.dtype);
    // The whole input at once first (one evaluation instead of one per element).
    if (!integral) {
      for (const p of [1, 2, 3]) {
        const out = copy(c);
        out.inputs[ii].value = mapValue(inp.value, (v) => (typeof v === "number" ? Number(v.toPrecision(p)) : v));
        yield { pass: "values", detail: `${inp.name}: ${p} significant digit${p > 1 ? "s" : ""}`, case: out };
      }
    }
    const elems = flat(inp.value);
    for (let e = 0; e < elems.length; e++) {
      const v = elems[e] as number;
      for (const x of simplerNumbers(v, integral ? true : null)) {
        const out = copy(c);
        const data = [...elems];
        data[e] = x;
        out.inputs[ii].value = nestValue(data, inp.shape);
        yield { pass: "values", detail: `${inp.name}[${e}]: ${v} → ${x}`, case: out };
      }
    }
  }
  for (let k = 0; k < c.nodes.length; k++) {
    const n = c.nodes[k];
    for (let a = 0; a < n.args.length; a++) {
      const v = n.args[a];
      if (typeof v !== "number") continue;
      for (const x of simplerNumbers(v, Number.isInteger(v))) {
        const out = copy(c);
        (out.nodes[k].args as CaseArg[])[a] = x;
        yield { pass: "values", detail: `${n.id}.args[${a}]: ${v} → ${x}`, case: out };
      }
    }
  }
}

/**
 * Every single reduction of `c` the reducer would consider: valid and strictly smaller than `c`.
 * `shrinkCase`'s result is 1-minimal exactly when the predicate holds for none of these (with
 * `autoDce` as the reduction ended). Exported for tests and for tools that explain a repro.
 */
export function* oneStepReductions(c: Case, opts: { readonly autoDce?: boolean } = {}): Generator<{ pass: string; detail: string; case: Case }> {
  const typed = parseTypedCase(c);
  const size = caseSize(typed.case);
  let vals: Record<string, VerdictArray> | null | undefined;
  const ctx: Ctx = {
    c: typed.case,
    types: typed.types,
    autoDce: opts.autoDce ?? false,
    values: () => {
      if (vals === undefined) {
        try {
          vals = evaluateCaseEngine(buildCase(typed.case, typed.types));
        } catch {
          vals = null;
        }
      }
      return vals;
    },
  };
  const seen = new Set<string>();
  for (const pass of PASSES) {
    for (const cand of pass(ctx)) {
      let v: Case;
      try {
        v = parseTypedCase(cand.case).case;
      } catch {
        continue;
      }
      if (compareSize(caseSize(v), size) >= 0) continue;
      const key = writeCase(v);
      if (seen.has(key)) continue;
      seen.add(key);
      yield { pass: cand.pass, detail: cand.detail, case: v };
    }
  }
}

function* deadCodePass(ctx: Ctx): Iterable<Candidate> {
  const out = deadCode(ctx.c);
  if (out !== null) yield { pass: "dead-code", detail: "drop nodes and inputs the cost does not use", case: out };
}

const PASSES: readonly Pass[] = [deadCodePass, costPass, replaceByInputPass, relabelPass, deleteNodePass, inputsPass, dimsPass, paramsPass, valuesPass];
