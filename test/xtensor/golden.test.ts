/**
 * xarray parity: every golden fixture (cases run through real xarray/numpy by
 * fixtures/gen_fixtures.py) is validated by the case parser, built with `buildCase`, compiled
 * once per mode and evaluated; every node's dims, shape, dtype and values must match xarray's.
 *
 * NONE checks the lowering alone; FAST_RUN in checked mode adds every rewrite (canonicalise,
 * stabilise, fusion, merge, inplace) with the graph verified after each replacement, so a rewrite
 * that changes a value, a type or a dims order fails here.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { type VerdictArray, buildCase, evaluateCaseEngine } from "../../src/case/build.js";
import { type Case, CASE_OPS } from "../../src/case/format.js";
import { parseTypedCase } from "../../src/case/parse.js";
import type { Mode } from "../../src/rewriting/db.js";
import { hasNamedOps } from "../../src/xtensor/op.js";
import { lower } from "../../src/xtensor/lower.js";

interface Expected {
  dims?: string[];
  shape: number[];
  dtype: string;
  data: number[];
}
interface Golden {
  fixtures: { case: Case; expected: Record<string, Expected> }[];
}

const golden = JSON.parse(readFileSync(new URL("./fixtures/golden.json", import.meta.url), "utf8")) as Golden;

/**
 * Fixtures that are expected to fail, with the reason (an engine bug outside this test's files
 * that was not fixed here). Empty when the engine agrees with xarray everywhere.
 */
const KNOWN_FAILURES: ReadonlyMap<string, string> = new Map<string, string>([]);

/**
 * Relative tolerance. float64 results may differ from numpy's only by summation order (~1e-15
 * per op), so 1e-12 leaves room for depth without hiding a real error. A case that touches
 * float32 anywhere carries float32 rounding (~6e-8 per op), which numpy and the engine accumulate
 * in different orders.
 */
function rtolFor(c: Case, types: ReadonlyMap<string, { dtype: string }>): number {
  return [...types.values()].some((t) => t.dtype === "float32") || c.inputs.some((i) => i.dtype === "float32") ? 2e-5 : 1e-12;
}

/**
 * Floats: |got − want| ≤ rtol·|want| + rtol·max|want| (the second term is an absolute floor at
 * the array's scale, so a value that cancels to ~0 is judged against the magnitudes it came
 * from). Ints and bools: exact. NaN matches NaN.
 */
function assertArray(where: string, got: VerdictArray, want: Expected, rtol: number): void {
  assert.deepEqual(got.dims, want.dims, `${where}: dims (undefined = positional)`);
  assert.deepEqual(got.shape, want.shape, `${where}: shape`);
  assert.equal(got.dtype, want.dtype, `${where}: dtype`);
  assert.equal(got.data.length, want.data.length, `${where}: number of elements`);
  const exact = !want.dtype.startsWith("float");
  const scale = want.data.reduce((m, e) => (Number.isFinite(e) ? Math.max(m, Math.abs(e)) : m), 0);
  got.data.forEach((g, i) => {
    const e = want.data[i];
    const ok = exact ? g === e : Number.isNaN(e) ? Number.isNaN(g) : g === e || Math.abs(g - e) <= rtol * (Math.abs(e) + scale);
    assert.ok(ok, `${where}[${i}]: got ${g}, xarray ${e}`);
  });
}

const MODES: readonly Mode[] = ["NONE", "FAST_RUN"];

describe("xtensor/golden (xarray parity through buildCase)", () => {
  it("has fixtures, which use every op of the case format", () => {
    const used = new Set(golden.fixtures.flatMap((f) => f.case.nodes.map((n) => n.op)));
    assert.deepEqual(CASE_OPS.filter((op) => !used.has(op)), []);
  });
  for (const { case: raw, expected } of golden.fixtures) {
    const reason = KNOWN_FAILURES.get(raw.name ?? "");
    describe(raw.name ?? "(unnamed)", () => {
      if (reason !== undefined) {
        it.skip(`${raw.name}: ${reason}`, () => {});
        return;
      }
      const { case: c, types } = parseTypedCase(raw, raw.name);
      const rtol = rtolFor(c, types);

      it("the parser's static types match xarray's", () => {
        for (const n of c.nodes) {
          const t = types.get(n.id)!;
          const want = expected[n.id];
          assert.deepEqual(t.dims, want.dims, `${n.id}: dims`);
          assert.deepEqual(t.shape, want.shape, `${n.id}: shape`);
          assert.equal(t.dtype, want.dtype, `${n.id}: dtype`);
        }
      });

      it("lowering leaves no named op", () => {
        const built = buildCase(c, types);
        const outs = [...built.nodes.values()];
        assert.ok(!hasNamedOps(lower(outs, { checked: true })));
      });

      for (const mode of MODES) {
        it(`${mode} (checked) matches xarray for every node`, () => {
          const built = buildCase(c, types);
          const got = evaluateCaseEngine(built, { mode, checked: true });
          assert.deepEqual(Object.keys(got), c.nodes.map((n) => n.id));
          for (const n of c.nodes) assertArray(`${c.name}.${n.id} [${mode}]`, got[n.id], expected[n.id], rtol);
        });
      }
    });
  }
});
