/**
 * Test helpers for named graphs: lower, then evaluate with the tensor evaluator, and assert on
 * error messages.
 */
import assert from "node:assert/strict";
import type { Variable } from "../../src/graph/basic.js";
import { OpInputError } from "../../src/errors.js";
import { NDArray, type Nested } from "../../src/ndarray/ndarray.js";
import { lower } from "../../src/xtensor/lower.js";
import type { XTensorVariable } from "../../src/xtensor/type.js";
import { evalGraph } from "../tensor/eval.js";

/** Lower `outputs` and evaluate them; givens are [variable, nested value] pairs. */
export function run(outputs: readonly Variable[], givens: readonly [Variable, Nested][] = []): Nested[] {
  const env: [Variable, NDArray][] = givens.map(([v, val]) => [v, NDArray.fromNested(val, v.type.dtype)]);
  return evalGraph(lower(outputs), env).map((a) => a.toNested());
}

/** Evaluate one output. */
export function run1(output: Variable, givens: readonly [Variable, Nested][] = []): Nested {
  return run([output], givens)[0];
}

/** Assert `f` throws an OpInputError whose message contains every fragment. */
export function throwsOp(f: () => unknown, ...fragments: string[]): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof OpInputError, `expected OpInputError, got ${String(e)}`);
    for (const frag of fragments) assert.ok(e.message.includes(frag), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(frag)}`);
    return true;
  });
}

/** Assert dims, static shape and dtype of a named variable. */
export function hasType(x: XTensorVariable, dims: readonly string[], shape: readonly (number | null)[] | null, dtype?: string): void {
  assert.deepEqual(x.type.dims, dims);
  if (shape !== null) assert.deepEqual(x.type.shape, shape);
  if (dtype !== undefined) assert.equal(x.type.dtype, dtype);
}

/** A nested array of `shape` holding 0, 1, 2, ... in C order (plus `offset`). */
export function iota(shape: readonly number[], offset = 0): Nested {
  let k = offset;
  const build = (d: number): Nested => (d === shape.length ? k++ : Array.from({ length: shape[d] }, () => build(d + 1)));
  return build(0);
}

/** Element-wise closeness for nested arrays. */
export function close(actual: Nested, expected: Nested, tol = 1e-12): void {
  const a = NDArray.fromNested(actual);
  const e = NDArray.fromNested(expected);
  assert.deepEqual(a.shape, e.shape, "shape");
  const af = a.toFlat();
  const ef = e.toFlat();
  af.forEach((v, i) => assert.ok(Math.abs(v - ef[i]) <= tol * Math.max(1, Math.abs(ef[i])), `at ${i}: ${v} vs ${ef[i]}`));
}
