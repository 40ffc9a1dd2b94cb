import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { parseTypedCase } from "../../src/case/parse.js";
import type { Case, CaseTypes } from "../../src/case/format.js";
import {
  compareForwardWithTfjs, compareWithTfjs, f32Rtol, runTfjs,
  type RefArray, type TfjsResult,
} from "../../oracles/tfjs.js";

import { FIVE_OP, TINY_CASES, finiteDiff } from "./tiny-eval.js";

interface Fixture {
  case: Case;
  values: Record<string, RefArray>;
  grads: Record<string, RefArray>;
}

/** Golden values from fixtures/gen_tfjs_ops.py (numpy forward, float64 central differences). */
const FIXTURES = JSON.parse(readFileSync(new URL("./fixtures/tfjs-ops.json", import.meta.url), "utf8")) as Fixture[];

/** The fixture's values with dims filled in from the validator's types. */
function withDims(values: Record<string, RefArray>, types: CaseTypes): Record<string, RefArray> {
  const out: Record<string, RefArray> = {};
  for (const [id, v] of Object.entries(values)) {
    const t = types.get(id);
    out[id] = t?.dims !== undefined ? { ...v, dims: t.dims } : { shape: v.shape, data: v.data };
  }
  return out;
}

const cache = new Map<string, Promise<{ r: TfjsResult; types: CaseTypes; fx: Fixture }>>();
function run(name: string): Promise<{ r: TfjsResult; types: CaseTypes; fx: Fixture }> {
  let p = cache.get(name);
  if (p === undefined) {
    const fx = FIXTURES.find((f) => f.case.name === name);
    assert.ok(fx, `no fixture ${name}`);
    const { case: c, types } = parseTypedCase(fx.case, name);
    p = runTfjs(c, types).then((r) => ({ r, types, fx }));
    cache.set(name, p);
  }
  return p;
}

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

describe("oracles/tfjs", () => {
  it("reports the backend that ran", async () => {
    const { r } = await run("exp");
    assert.ok(["cpu", "tensorflow"].includes(r.backend), r.backend);
  });

  describe("forward values and gradients of every op match numpy and float64 finite differences", () => {
    for (const fx of FIXTURES) {
      it(fx.case.name as string, async () => {
        const { r, types } = await run(fx.case.name as string);
        assert.equal(r.unsupported, undefined, JSON.stringify(r.unsupported));
        assert.equal(r.nonSmooth, undefined, JSON.stringify(r.nonSmooth));
        for (const [id, want] of Object.entries(fx.values)) {
          const got = r.values[id];
          assert.ok(got, `no tfjs value for ${id}`);
          assert.deepEqual(got.shape, want.shape, `shape of ${id}`);
          if (want.dims !== undefined) assert.deepEqual(got.dims, want.dims, `dims of ${id}`);
          assert.deepEqual(got.dims, types.get(id)?.dims, `dims of ${id} follow the static types`);
          const S = Math.max(1e-30, ...want.data.map((v) => Math.abs(Number(v))));
          got.data.forEach((g, i) => {
            const w = Number(want.data[i]);
            assert.ok(Math.abs(g - w) <= 1e-5 * (S + Math.abs(w)), `${id}[${i}]: tfjs ${g}, numpy ${w}`);
          });
        }
        const check = compareWithTfjs({ values: withDims(fx.values, types), grads: fx.grads }, r);
        assert.equal(check.status, "pass", check.reason);
        assert.ok(check.maxRelErr < 1e-3, `maxRelErr ${check.maxRelErr}`);
      });
    }
  });

  describe("gradients match float64 finite differences from a tiny independent evaluator", () => {
    for (const c of TINY_CASES) {
      it(c.name as string, async () => {
        const { case: pc, types } = parseTypedCase(c);
        const r = await runTfjs(pc, types);
        const fd = finiteDiff(pc);
        const check = compareWithTfjs({ grads: fd }, r);
        assert.equal(check.status, "pass", check.reason);
      });
    }
  });

  describe("the oracle can fail", () => {
    it("fails a rename pullback that relabels by name on a square shape (a hidden transpose)", async () => {
      const { r, types, fx } = await run("rename_swap_square");
      const good = fx.grads.s;
      // The bug: the cotangent of rn(b, a) is aligned to s(a, b) by name, i.e. transposed.
      const d = good.data.map(Number);
      const wrong = { ...good, data: [0, 1, 2].flatMap((i) => [0, 1, 2].map((j) => d[j * 3 + i])) };
      assert.notDeepEqual(wrong.data, d, "the fixture must not be symmetric");
      const check = compareWithTfjs({ values: withDims(fx.values, types), grads: { ...fx.grads, s: wrong } }, r);
      assert.equal(check.status, "fail");
      assert.match(check.reason ?? "", /gradient of s differs/);
      assert.equal(compareWithTfjs({ values: withDims(fx.values, types), grads: fx.grads }, r).status, "pass");
    });

    it("fails a gradient whose dims order differs from its input's", async () => {
      const { r, fx } = await run("rename_swap_square");
      const check = compareWithTfjs({ grads: { ...fx.grads, s: { ...fx.grads.s, dims: ["b", "a"] } } }, r);
      assert.equal(check.status, "fail");
      assert.match(check.reason ?? "", /dims \(b, a\) in the reference but the input's dims are \(a, b\)/);
    });

    it("fails a gradient off by a ddof-sized factor", async () => {
      const { r, fx } = await run("var_ddof1");
      const g = fx.grads.x;
      const check = compareWithTfjs({ grads: { x: { ...g, data: g.data.map((v) => (Number(v) * 12) / 11) } } }, r);
      assert.equal(check.status, "fail");
    });

    it("forward check fails a dims-order mismatch and a stacking-order bug", async () => {
      const { r, types, fx } = await run("stack");
      const c = parseTypedCase(fx.case).case;
      const good = withDims(fx.values, types);
      assert.equal(compareForwardWithTfjs(good, r, c).status, "pass");
      const swapped = clone(good);
      swapped.r.dims = ["z", "b"];
      assert.equal(compareForwardWithTfjs(swapped, r, c).status, "fail");
      // Flattening in the input's dims order (a, c) instead of the given order (c, a): the
      // PyTensor divergence semantics.md warns about. Same dims and shape, values moved.
      const X = fx.values.r.data.map(Number);
      const xa = fx.case.inputs[0].value as number[][][];
      const wrongStack = { ...good.r, data: [0, 1, 2].flatMap((b) => [0, 1].flatMap((a) => [0, 1, 2, 3].map((cc) => xa[a][b][cc]))) };
      assert.notDeepEqual(wrongStack.data, X);
      const check = compareForwardWithTfjs({ ...good, r: wrongStack }, r, c);
      assert.equal(check.status, "fail", check.reason);
      assert.match(check.reason ?? "", /node r \(stack\)/);
    });
  });

  describe("inconclusive, never fail, when tfjs cannot judge", () => {
    it("when a gradient is zero by cancellation and float32 leaves noise (fuzz finding: x/x, seed 11 case 67)", async () => {
      const { case: c, types } = parseTypedCase({
        format: "xgrad-case/1",
        inputs: [{ name: "n1", kind: "xtensor", dims: ["d"], shape: [2], dtype: "float64", value: [1, 0.8] }],
        nodes: [
          { id: "n2", op: "div", args: ["n1", "n1"] },
          { id: "n3", op: "dot", args: ["n2", "n2"], dims: null },
        ],
        cost: "n3",
        wrt: ["n1"],
      });
      const r = await runTfjs(c, types);
      const exact = { n1: { dims: ["d"], shape: [2], data: [0, 0] } };
      // Without the cost's scale a 1e-7 float32 residue would be a fail.
      const scaled = compareWithTfjs({ grads: exact }, r, { cost: 2, input: 1 });
      assert.notEqual(scaled.status, "fail", scaled.reason);
      // A real error of the cost's own size still fails.
      const wrong = compareWithTfjs({ grads: { n1: { dims: ["d"], shape: [2], data: [0.5, -0.4] } } }, r, { cost: 2, input: 1 });
      assert.equal(wrong.status, "fail");
    });

    it("when the forward values differ beyond float32 noise", async () => {
      const { r, types, fx } = await run("exp");
      const vals = withDims(fx.values, types);
      vals.r = { ...vals.r, data: vals.r.data.map((v) => Number(v) * 1.1) };
      const wrongGrad = { x: { ...fx.grads.x, data: fx.grads.x.data.map((v) => -Number(v)) } };
      const check = compareWithTfjs({ values: vals, grads: wrongGrad }, r);
      assert.equal(check.status, "inconclusive");
      assert.match(check.reason ?? "", /forward differs at r/);
    });

    it("when an op has no tfjs form, naming it", () => {
      const r: TfjsResult = { backend: "cpu", values: {}, depth: {}, costDepth: 1, micros: 0, unsupported: { op: "cumprod", nodeId: "n3", reason: "no gradient" } };
      const check = compareWithTfjs({ grads: {} }, r);
      assert.equal(check.status, "inconclusive");
      assert.match(check.reason ?? "", /op cumprod \(node n3\)/);
    });

    it("for non-finite values", async () => {
      const c = parseTypedCase({
        format: "xgrad-case/1",
        inputs: [{ name: "x", kind: "xtensor", dims: ["a"], shape: [2], dtype: "float64", value: [100, 1] }],
        nodes: [{ id: "e", op: "exp", args: ["x"] }, { id: "cost", op: "sum", args: ["e"] }],
        cost: "cost",
      });
      const r = await runTfjs(c.case, c.types);
      const ref = { values: { e: { dims: ["a"], shape: [2], data: [Math.exp(100), Math.E] }, cost: { dims: [], shape: [], data: [Math.exp(100) + Math.E] } }, grads: { x: { dims: ["a"], shape: [2], data: [Math.exp(100), Math.E] } } };
      const check = compareWithTfjs(ref, r);
      assert.equal(check.status, "inconclusive");
      assert.match(check.reason ?? "", /not finite/);
    });

    it("at a non-smooth point (abs at 0)", async () => {
      const c = parseTypedCase({
        format: "xgrad-case/1",
        inputs: [{ name: "x", kind: "xtensor", dims: ["a"], shape: [2], dtype: "float64", value: [0, 1] }],
        nodes: [{ id: "e", op: "abs", args: ["x"] }, { id: "cost", op: "sum", args: ["e"] }],
        cost: "cost",
      });
      const r = await runTfjs(c.case, c.types);
      assert.equal(r.nonSmooth?.[0].nodeId, "e");
      const check = compareWithTfjs({ grads: { x: { dims: ["a"], shape: [2], data: [0, 1] } } }, r);
      assert.equal(check.status, "inconclusive");
    });
  });

  it("gives zero gradients for wrt inputs the cost does not reach", async () => {
    const c = parseTypedCase({
      format: "xgrad-case/1",
      inputs: [
        { name: "x", kind: "xtensor", dims: ["a"], shape: [2], dtype: "float64", value: [0.5, 1] },
        { name: "y", kind: "xtensor", dims: ["a"], shape: [2], dtype: "float64", value: [2, 3] },
      ],
      nodes: [
        { id: "g", op: "gt", args: ["y", 2.5] }, { id: "gf", op: "cast", args: ["g"], dtype: "float64" },
        { id: "m", op: "mul", args: ["x", "gf"] }, { id: "cost", op: "sum", args: ["m"] },
      ],
      cost: "cost",
    });
    const r = await runTfjs(c.case, c.types);
    assert.deepEqual(r.grads?.y, { dims: ["a"], shape: [2], data: [0, 0] });
    assert.deepEqual(r.grads?.x.data, [0, 1]);
  });

  it("tolerance grows with depth", () => {
    assert.ok(f32Rtol(16) > f32Rtol(1));
    assert.equal(f32Rtol(4), 2e-3);
  });

  it("is fast: µs per 5-op case", async function () {
    const { case: c, types } = parseTypedCase(FIVE_OP);
    for (let i = 0; i < 5; i++) await runTfjs(c, types); // warm up kernels
    const n = 40;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < n; i++) await runTfjs(c, types);
    const cpu = process.cpuUsage(cpu0);
    const us = ((performance.now() - t0) * 1000) / n;
    // Reported, not asserted tightly: the machine is shared, so wall time includes waiting.
    console.log(`      tfjs oracle: ${us.toFixed(0)} µs wall, ${((cpu.user + cpu.system) / n).toFixed(0)} µs CPU per 5-op case (forward + gradient)`);
    assert.ok(us < 200_000);
  });
});

