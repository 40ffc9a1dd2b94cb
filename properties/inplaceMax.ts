/**
 * In-place writes wherever the DestroyHandler's validation accepts them: the rewrite-soundness
 * stage that tests `DestroyHandler.onValidate` as the safety net it claims to be.
 *
 * The inplace pass only proposes slots from `inplaceCandidates` (no other reader, nothing
 * protected) and then asks validation; the two layers overlap, so a hole in either one is masked
 * by the other, and FAST_RUN values stay right. Mutation testing showed it: a validation that
 * forgot protected outputs, reader orderings or aliased inputs survived every property. Here the
 * candidate filter is bypassed: every node that has an in-place form tries every slot, in
 * reverse topological order, and keeps the first one validation accepts. Validation promises
 * that any graph it accepts has a schedule computing the same values (it orders readers before
 * destroyers, and rejects what no schedule can save), so the compiled values must still equal
 * NONE's. A difference is a real DestroyHandler (or VM scheduling) bug.
 *
 * Also here: the mutable-inputs stage, the real checked FAST_RUN pipeline with every input
 * declared mutable (`compile`'s `mutableInputs`), where the inplace pass may write into the
 * caller's arrays and checked mode's in-place promise counts those slots as writable.
 */
import type { Variable } from "../src/graph/basic.js";
import type { FunctionGraph } from "../src/graph/fgraph.js";
import type { NDArray } from "../src/ndarray/ndarray.js";
import { compile } from "../src/compile/function.js";
import { buildProgram, runProgram } from "../src/compile/vm.js";
import { toInputArray } from "../src/compile/input.js";
import { InconsistencyError } from "../src/errors.js";
import { inplaceVariant } from "../src/rewriting/checked.js";
import type { BuiltCase } from "../src/case/build.js";
import { toArrayValue } from "./compare.js";
import type { ArrayValue } from "./types.js";

/** Make every node in place that validation lets be; returns how many were. */
export function inplaceWhereverValid(fg: FunctionGraph): number {
  let made = 0;
  const order = fg.toposort();
  for (let k = order.length - 1; k >= 0; k--) {
    const node = order[k];
    for (let slot = 0; slot < node.inputs.length; slot++) {
      if (!fg.applyNodes.has(node)) break;
      const variant = inplaceVariant(node, slot);
      if (variant === null) continue;
      try {
        fg.replaceAllValidate(node.outputs.map((o, j) => [o, variant.outputs[j]] as const), "inplace wherever valid");
        made++;
        break;
      } catch (e) {
        if (!(e instanceof InconsistencyError)) throw e;
      }
    }
  }
  return made;
}

/**
 * FAST_RUN without its inplace pass, then {@link inplaceWhereverValid}: a function of the same
 * inputs returning `outputs`, and how many nodes it made in place.
 */
export function compileInplaceWhereverValid(inputs: readonly Variable[], outputs: readonly Variable[]): { run: (xs: readonly NDArray[]) => NDArray[]; made: number } {
  const f = compile(inputs, outputs, { mode: "FAST_RUN", exclude: ["inplace"] });
  const fg = f.fgraph;
  const made = inplaceWhereverValid(fg);
  const program = buildProgram(fg.inputs, fg.outputs, fg.toposort());
  return { run: (xs) => runProgram(program, fg.inputs.map((v, i) => toInputArray(v, xs[i]))), made };
}

/**
 * The cost and the direct gradient `gs` compiled in checked FAST_RUN with every input mutable,
 * run on copies of the case's values; `overwritten` counts the copies the call changed.
 */
export function mutableInputsValues(b: BuiltCase, gs: readonly Variable[]): { values: Record<string, ArrayValue>; grads: Record<string, ArrayValue>; overwritten: number } {
  const inputs = [...b.inputs.values()];
  const f = compile(inputs, [b.cost, ...gs], { mode: "FAST_RUN", checked: true, onOptError: "raise", mutableInputs: inputs });
  const originals = [...b.values.values()];
  const copies = originals.map((a) => a.copy());
  const res = f(...copies);
  const grads: Record<string, ArrayValue> = {};
  b.wrtNames.forEach((name, i) => (grads[name] = toArrayValue(gs[i], res[1 + i])));
  const values = { [b.case.cost]: toArrayValue(b.cost, res[0]) };
  const overwritten = copies.filter((a, i) => {
    const x = a.toFlat();
    const y = originals[i].toFlat();
    return x.some((v, k) => !Object.is(v, y[k]));
  }).length;
  return { values, grads, overwritten };
}
