/**
 * Helpers for rewrite tests: compile one graph in NONE and FAST_RUN (checked, raising) and
 * compare the results element by element.
 */
import { strict as assert } from "node:assert";
import type { Apply, Variable } from "../../src/graph/basic.js";
import type { FunctionGraph } from "../../src/graph/fgraph.js";
import type { NDArray } from "../../src/ndarray/ndarray.js";
import { compile, type CompiledFunction } from "../../src/compile/function.js";
import type { InputValue } from "../../src/compile/input.js";
import type { Mode } from "../../src/rewriting/db.js";
import { RewriteContext } from "../../src/rewriting/engine.js";

/** Both compilations and their results on `args`. */
export interface Both {
  readonly none: NDArray[];
  readonly fast: NDArray[];
  readonly f: CompiledFunction;
  readonly fired: ReadonlyMap<string, number>;
}

/** Compile in NONE and in `mode` (default FAST_RUN; checked, onOptError "raise") and run both on `args`. */
export function runBoth(inputs: readonly Variable[], outputs: readonly Variable[], args: readonly InputValue[], mode: Mode = "FAST_RUN", exclude: readonly string[] = []): Both {
  const none = compile(inputs, outputs, { mode: "NONE", checked: true, onOptError: "raise" })(...args);
  const ctx = new RewriteContext({ checked: true, onOptError: "raise" });
  const f = compile(inputs, outputs, { mode, ctx, exclude });
  return { none, fast: f(...args), f, fired: ctx.fired };
}

/** Tolerances of {@link assertSame}; `exact` compares with Object.is (so -0 ≠ +0, NaN = NaN). */
export interface Tol {
  readonly exact?: boolean;
  readonly rtol?: number;
  readonly atol?: number;
}

/** Same dtype, shape and values; NaN matches NaN and infinities must match exactly. */
export function assertSame(got: NDArray, want: NDArray, tol: Tol = {}, what = "value"): void {
  assert.equal(got.dtype, want.dtype, `${what}: dtype`);
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  const g = got.toFlat();
  const w = want.toFlat();
  const rtol = tol.rtol ?? 1e-9;
  const atol = tol.atol ?? 1e-12;
  for (let i = 0; i < w.length; i++) {
    const a = g[i];
    const b = w[i];
    const ok = tol.exact ? Object.is(a, b) : Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b)) || (Number.isFinite(b) && Math.abs(a - b) <= atol + rtol * Math.abs(b));
    if (!ok) assert.fail(`${what}: element ${i} is ${a}, expected ${b} (all: ${JSON.stringify(g)} vs ${JSON.stringify(w)})`);
  }
}

/** Compare every output of a {@link runBoth} result. */
export function assertAllSame(r: Both, tol: Tol = {}): void {
  assert.equal(r.fast.length, r.none.length);
  r.fast.forEach((a, i) => assertSame(a, r.none[i], tol, `output ${i}`));
}

/** The op strings of a compiled graph's nodes, in run order. */
export function opNames(fg: FunctionGraph): string[] {
  return fg.toposort().map((n: Apply) => n.op.toString());
}
