/**
 * `shape-erasure`: static lengths are a hint, never a meaning. The case is built again with some
 * of its inputs' static lengths declared unknown (the values unchanged), and every node's value
 * and both gradients (direct and lowerThenGrad), compiled in checked FAST_RUN, must equal the
 * static case's NONE results.
 *
 * Why: every case-format input has static lengths, so the branches that exist for unknown ones
 * were never run. They are many, and bugs there are a classic of PyTensor's history (static vs
 * run-time broadcastable patterns):
 * - pullbacks that must decide at graph time how to reduce a cotangent onto an operand whose
 *   length is unknown (`sumToShapeOf`'s split-and-sum), gather a Join's slices at offsets only
 *   known at run time, or re-assert a length a lowering refined (`SpecifyShape`);
 * - lowerings that check a length at run time instead of at build time (squeeze, alignment);
 * - rewrites whose decline conditions are about unknown lengths (a dropped run-time length
 *   check is a silent change), and merges of equal nodes whose static types differ;
 * - checked mode's type re-inference on graphs with partly unknown types.
 *
 * Which lengths: a per-axis coin, seeded by the input's name, kind, dims and the axis, so the
 * choice survives shrinking (deleting nodes, shrinking values) and mixes known and unknown
 * lengths in one graph (an operand of known length meeting one of unknown length is where the
 * decisions above are made). A length of 1 is never erased: a static 1 is what lets positional
 * broadcasting stretch an axis, and an axis of unknown length that is 1 at run time is refused
 * rather than stretched (PyTensor's rule), so erasing it would change the case's meaning. That
 * holds for named inputs too, whose length-1 dims reach positional ops through `values` (seed
 * 2110 case 1300: `values(n0 (a=1)) * w6 [2]`, refused once a was erased). When no coin erases
 * anything, every erasable length is erased.
 */
import type { Variable } from "../src/graph/basic.js";
import type { NDArray } from "../src/ndarray/ndarray.js";
import { compile } from "../src/compile/function.js";
import { RewriteContext } from "../src/rewriting/engine.js";
import { grad, lowerThenGrad } from "../src/grad/driver.js";
import type { Case, CaseTypes } from "../src/case/format.js";
import { buildCase, zeroGradient } from "../src/case/build.js";
import { compareRecords, toArrayValue } from "./compare.js";
import type { ArrayValue, Check } from "./types.js";

/** Which declared lengths are erased. */
export interface Erasure {
  /** Input name → the static shape to declare (null where erased). */
  readonly staticShapes: ReadonlyMap<string, readonly (number | null)[]>;
  /** The erased lengths, as `x0.a` (xtensor dim) or `W[1]` (positional axis), in input order. */
  readonly erased: readonly string[];
}

/** FNV-1a of a string: the coin of one axis. */
function coin(key: string): boolean {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // The low bits of FNV-1a are poorly mixed for short keys; fold the high half in.
  return ((h ^ (h >>> 16)) & 1) === 1;
}

/** The lengths to erase in `c`, or null when it declares no length that may be erased. */
export function erasureOf(c: Case): Erasure | null {
  const erasable: { input: number; axis: number; label: string; key: string }[] = [];
  c.inputs.forEach((inp, k) => {
    inp.shape.forEach((len, axis) => {
      if (len === 1) return;
      const label = inp.kind === "xtensor" ? `${inp.name}.${inp.dims[axis]}` : `${inp.name}[${axis}]`;
      erasable.push({ input: k, axis, label, key: `${inp.name}|${inp.kind}|${inp.kind === "xtensor" ? inp.dims.join(",") : inp.shape.length}|${axis}` });
    });
  });
  if (erasable.length === 0) return null;
  let chosen = erasable.filter((e) => coin(e.key));
  if (chosen.length === 0) chosen = erasable;
  const shapes = new Map<string, (number | null)[]>();
  for (const e of chosen) {
    const inp = c.inputs[e.input];
    const s = shapes.get(inp.name) ?? [...inp.shape];
    s[e.axis] = null;
    shapes.set(inp.name, s);
  }
  return { staticShapes: shapes, erased: chosen.map((e) => e.label) };
}

/** The static case's NONE results the erased build is judged against. */
export interface ErasureReference {
  readonly values: Readonly<Record<string, ArrayValue>>;
  /** The NONE direct gradient by wrt name, or null when the case has no wrt. */
  readonly grads: Readonly<Record<string, ArrayValue>> | null;
  readonly rtol: number;
  readonly slack: number;
}

/** What the erased build computes: every node's value and both gradients, in checked FAST_RUN. */
export interface ErasedResults {
  readonly values: Record<string, ArrayValue>;
  readonly direct: Record<string, ArrayValue>;
  readonly lowered: Record<string, ArrayValue>;
}

/** Build `c` with `erasure`'s declared shapes and compute {@link ErasedResults}. */
export function erasedResults(c: Case, types: CaseTypes, erasure: Erasure): ErasedResults {
  const b = buildCase(c, types, { staticShapes: erasure.staticShapes });
  const ids = [...b.nodes.keys()];
  const nodeVars = ids.map((id) => b.nodes.get(id) as Variable);
  const direct = b.wrt.length > 0 ? grad(b.cost, b.wrt, { disconnectedInputs: "ignore" }) : [];
  const lowered = b.wrt.length > 0 ? lowerThenGrad(b.cost, b.wrt, { disconnectedInputs: "ignore" }) : [];
  const outs: Variable[] = [...nodeVars];
  const slot = (g: Variable | null): number => (g === null ? -1 : outs.push(g) - 1);
  const directAt = direct.map(slot);
  const loweredAt = lowered.map(slot);
  const f = compile([...b.inputs.values()], outs, { mode: "FAST_RUN", checked: true, onOptError: "raise", ctx: new RewriteContext({ checked: true, onOptError: "raise" }) });
  const res = f(...b.values.values());
  const values: Record<string, ArrayValue> = {};
  ids.forEach((id, k) => (values[id] = toArrayValue(nodeVars[k], res[k])));
  const gradsAt = (at: readonly number[]): Record<string, ArrayValue> => {
    const out: Record<string, ArrayValue> = {};
    b.wrtNames.forEach((name, i) => {
      const w = b.wrt[i];
      // A wrt the cost cannot reach has a zero gradient, shaped like its value.
      out[name] = at[i] < 0 ? zeroGradient(w, b.values.get(name) as NDArray) : toArrayValue(outs[at[i]], res[at[i]]);
    });
    return out;
  };
  return { values, direct: gradsAt(directAt), lowered: gradsAt(loweredAt) };
}

/**
 * Judge `c` with some static lengths erased: `pass`, `fail` naming the erased lengths and the
 * first differing value, or `inconclusive` when the case declares no erasable length.
 * An exception (the engine refusing the erased graph) propagates: the caller records an error,
 * unless the static case fails the same pipeline too. That failure is not about erased lengths
 * but rewrite-soundness's to report, and its repro shrinks further there: this property needs
 * an erasable input to run at all, so the reducer would keep one that has nothing to do with
 * the bug (fault zoo #17: 4 nodes instead of 2).
 */
export function shapeErasureCheck(c: Case, types: CaseTypes, ref: ErasureReference, compute: typeof erasedResults = erasedResults): Check {
  const property = "shape-erasure";
  const erasure = erasureOf(c);
  if (erasure === null) return { property, status: "inconclusive", reason: "no input declares a length that may be erased (only 0-d inputs and lengths of 1)" };
  const what = `with the static lengths of ${erasure.erased.join(", ")} declared unknown,`;
  let r: ErasedResults;
  try {
    r = compute(c, types, erasure);
  } catch (e) {
    try {
      compute(c, types, { staticShapes: new Map(), erased: [] });
    } catch (staticError) {
      const first = (staticError instanceof Error ? staticError.message : String(staticError)).split("\n")[0];
      return { property, status: "inconclusive", reason: `the static case fails the same checked FAST_RUN pipeline (rewrite-soundness reports it): ${first}` };
    }
    throw e;
  }
  const results = [compareRecords(r.values, ref.values, `${what} the checked FAST_RUN forward value of node`, ref.rtol, ref.slack)];
  if (ref.grads !== null) {
    results.push(compareRecords(r.direct, ref.grads, `${what} the checked FAST_RUN direct gradient`, ref.rtol, ref.slack));
    results.push(compareRecords(r.lowered, ref.grads, `${what} the checked FAST_RUN lowerThenGrad gradient`, ref.rtol, ref.slack));
  }
  const bad = results.find((x) => !x.ok);
  const maxAbsErr = Math.max(...results.map((x) => x.maxAbsErr));
  const maxRelErr = Math.max(...results.map((x) => x.maxRelErr));
  if (bad !== undefined) return { property, status: "fail", reason: bad.reason ?? "mismatch", maxAbsErr: bad.maxAbsErr, maxRelErr: bad.maxRelErr };
  return { property, status: "pass", reason: `erased ${erasure.erased.join(", ")}`, maxAbsErr, maxRelErr };
}
