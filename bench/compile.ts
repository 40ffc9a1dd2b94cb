/**
 * Compile-time and fusion benchmark (not a test): `node --import tsx bench/compile.ts [sizes...]`.
 *
 * 1. Compile time of random-ish graphs of 100, 1,000 and 10,000 forward nodes plus their
 *    gradient, in NONE and FAST_RUN, with the growth ratio between consecutive sizes (10× more
 *    nodes: ~10× is linear, ~100× quadratic).
 * 2. Elementwise fusion: a chain of 10 elemwise ops on 1e5 elements, fused vs unfused.
 *
 * Results on the shared 2-core dev box (Node 20, load average 4-6 from other jobs, so ±30%):
 *
 *   fwd nodes  total (fwd+grad)  NONE ms  FAST_RUN ms (nodes after)  FAST_RUN ratio per 10×
 *         122               398        3        70 (199)                 -
 *       1,019             3,373       50       176 (1,622)               2.5× (warm-up dominated)
 *      10,003            33,567      580     1,724 (16,162)              9.8×  (near-linear)
 *   Before the batched validation in inplace.ts, FAST_RUN took 5.8 s at 10k (13.8× per 10×):
 *   each in-place rewrite was validated alone, and once a graph has a destroyer every
 *   validation runs DestroyHandler.onValidate's whole-graph cycle check (O(n) × O(n) rewrites).
 *   A second, smaller quadratic term came from building every candidate slot's in-place copy of
 *   big fused Composites up front (O(expression size) each); they are now built on demand.
 *
 *   Fusion, 10-op chain on 1e5 float64 elements (ms per call; unfused = FAST_RUN minus fusion):
 *     mixed (sin, tanh, sigmoid, cos, exp + arithmetic): unfused 15.7, fused 8.3  → 1.9×
 *     arithmetic only (mul, add, abs, max, square...):  unfused  8.0, fused 0.77 → 10.3×
 *   The transcendental chain is bound by the Math.* calls, which fusion does not remove; the
 *   arithmetic chain is bound by ten passes over memory and ten allocations, which it does.
 */
import type { Variable } from "../src/graph/basic.js";
import { NDArray } from "../src/ndarray/ndarray.js";
import { tensor } from "../src/tensor/basic.js";
import * as E from "../src/tensor/elemwise.js";
import { sum } from "../src/tensor/reduce.js";
import { transpose } from "../src/tensor/shape.js";
import { grad } from "../src/grad/driver.js";
import { compile } from "../src/compile/function.js";
import type { Mode } from "../src/rewriting/db.js";
import { applyNodesBetween } from "../src/graph/traversal.js";

/** A deterministic graph of about `n` forward nodes over two (8, 8) inputs, and its gradient. */
function buildGraph(n: number): { inputs: Variable[]; outputs: Variable[]; forward: number; total: number } {
  const x = tensor("x", { shape: [8, 8] });
  const y = tensor("y", { shape: [8] });
  const pool: Variable[] = [x, E.exp(E.tanh(x)), E.sin(y)];
  let s = 12345;
  const rnd = (k: number): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % k;
  };
  // Reads are biased to recent values, so the graph is deep and wide rather than a long chain.
  const pick = (): Variable => pool[Math.max(0, pool.length - 1 - rnd(Math.min(pool.length, 16)))];
  const unary = [E.tanh, E.sin, E.sigmoid, E.neg, (v: Variable) => E.mul(v, 0.5), (v: Variable) => E.add(v, 1)];
  const binary = [E.add, E.mul, E.sub, E.maximum];
  // Counting the nodes every step would make the bench itself quadratic: count every 64 steps.
  for (let step = 0; pool.length < 4 * n && (step % 64 !== 0 || applyNodesBetween([x, y], pool.slice(-1)).length < n); step++) {
    const r = rnd(20);
    const a = pick();
    let v: Variable;
    if (r < 8) v = unary[rnd(unary.length)](a);
    else if (r < 17) v = binary[rnd(binary.length)](a, pick().type.ndim <= a.type.ndim ? pick() : a);
    else if (r < 18 && a.type.ndim === 2) v = transpose(a);
    else if (r < 19 && a.type.ndim === 2) v = sum(a, [rnd(2)], true);
    else v = E.mul(a, y);
    pool.push(v);
  }
  const out = pool[pool.length - 1];
  const cost = sum(out);
  const g = grad(cost, [x, y], { disconnectedInputs: "ignore" });
  const outputs = [cost, ...g];
  return { inputs: [x, y], outputs, forward: applyNodesBetween([x, y], [cost]).length, total: applyNodesBetween([x, y], outputs).length };
}

function time<T>(f: () => T): { ms: number; value: T } {
  const t0 = performance.now();
  const value = f();
  return { ms: performance.now() - t0, value };
}

function compileBench(sizes: readonly number[]): void {
  console.log("\n== compile time (forward + gradient) ==");
  console.log("target  fwd nodes  total nodes  mode       compile ms   after  ratio vs previous size");
  const prev = new Map<Mode, number>();
  for (const n of sizes) {
    const g = buildGraph(n);
    for (const mode of ["NONE", "FAST_RUN"] as const) {
      // The minimum of a few runs: the first compile of a size also pays for JIT warm-up and GC
      // of the previous size, which made the small sizes look slower than they are.
      const reps = g.total < 5000 ? 5 : 2;
      let best = time(() => compile(g.inputs, g.outputs, { mode }));
      for (let r = 1; r < reps; r++) {
        const t = time(() => compile(g.inputs, g.outputs, { mode }));
        if (t.ms < best.ms) best = t;
      }
      const { ms, value: f } = best;
      const ratio = prev.has(mode) ? (ms / (prev.get(mode) as number)).toFixed(1) + "×" : "-";
      prev.set(mode, ms);
      console.log(
        `${String(n).padStart(6)}  ${String(g.forward).padStart(9)}  ${String(g.total).padStart(11)}  ${mode.padEnd(9)}  ${ms.toFixed(0).padStart(10)}  ${String(f.fgraph.applyNodes.size).padStart(6)}  ${ratio}`,
      );
    }
  }
}

type Unary = (a: Variable) => Variable;

/** Half transcendental: compute-bound, so fusion saves little. */
const MIXED_CHAIN: readonly Unary[] = [E.sin, (a) => E.mul(a, 1.5), E.tanh, (a) => E.add(a, 0.25), E.sigmoid, (a) => E.sub(a, 0.5), E.cos, (a) => E.mul(a, a), E.exp, E.neg];
/** Cheap arithmetic only: memory-bound, where one loop instead of ten matters. */
const ARITH_CHAIN: readonly Unary[] = [(a) => E.mul(a, 1.5), (a) => E.add(a, 0.25), E.abs, (a) => E.sub(a, 0.5), E.neg, (a) => E.mul(a, a), (a) => E.maximum(a, -1), (a) => E.add(a, 3), E.square, (a) => E.minimum(a, 2)];

function fusionBench(label: string, chain: readonly Unary[]): void {
  console.log(`\n== fusion: chain of ${chain.length} elemwise ops on 1e5 elements (${label}) ==`);
  const n = 100_000;
  const x = tensor("x", { shape: [n] });
  let v: Variable = x;
  for (const op of chain) v = op(v);
  const arg = NDArray.fromFlat(
    Array.from({ length: n }, (_, i) => Math.sin(i)),
    [n],
  );
  const runs = 30;
  const results: [string, number, number][] = [];
  for (const [label, opts] of [
    ["unfused (FAST_RUN without fusion)", { mode: "FAST_RUN" as const, exclude: ["fusion"] }],
    ["fused (FAST_RUN)", { mode: "FAST_RUN" as const }],
    ["NONE", { mode: "NONE" as const }],
  ] as const) {
    const f = compile([x], [v], opts);
    for (let i = 0; i < 5; i++) f(arg);
    const t0 = performance.now();
    for (let i = 0; i < runs; i++) f(arg);
    results.push([label, (performance.now() - t0) / runs, f.fgraph.applyNodes.size]);
  }
  for (const [label, ms, nodes] of results) console.log(`${label.padEnd(36)} ${ms.toFixed(2).padStart(8)} ms/call  (${nodes} nodes)`);
  console.log(`speed-up fused vs unfused: ${(results[0][1] / results[1][1]).toFixed(2)}×`);
}

const sizes = process.argv.slice(2).map(Number).filter((k) => k > 0);
compileBench(sizes.length > 0 ? sizes : [100, 1000, 10000]);
fusionBench("mixed, half transcendental", MIXED_CHAIN);
fusionBench("arithmetic only", ARITH_CHAIN);
