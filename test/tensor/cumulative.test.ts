import { strict as assert } from "node:assert";
import fc from "fast-check";
import { Variable } from "../../src/graph/basic.js";
import { isDisconnected } from "../../src/graph/op.js";
import type { DType } from "../../src/graph/type.js";
import { NDArray, coerce, type Nested } from "../../src/ndarray/ndarray.js";
import { OpInputError } from "../../src/errors.js";
import { tensor } from "../../src/tensor/basic.js";
import { CUM_DOMAINS, CumOp, cumprod, cumsum } from "../../src/tensor/cumulative.js";
import { reduceDtype } from "../../src/tensor/reduce.js";
import { checkPullback, evalOne } from "./eval.js";
import { indices, layoutArb, mismatch, rng, sampleDomain, stridedCopy } from "./naive.js";

const f64 = (v: Nested): NDArray => NDArray.fromNested(v, "float64");

function run(f: typeof cumsum, x: NDArray, axis: number): NDArray {
  const v = tensor("x", { shape: x.shape, dtype: x.dtype });
  return evalOne(f(v, axis), [[v, x]]);
}

/** The naive scan: out[..., i, ...] = out[..., i-1, ...] ∘ x[..., i, ...], each partial stored as `dtype`. */
function naiveScan(mode: "add" | "mul", x: NDArray, axis: number): NDArray {
  const dtype = reduceDtype(mode === "add" ? "sum" : "prod", x.dtype);
  const c = coerce(dtype);
  const out = NDArray.zeros(x.shape, dtype);
  for (const idx of indices(x.shape)) {
    const prev = idx[axis] === 0 ? (mode === "add" ? 0 : 1) : out.get(...idx.map((v, d) => (d === axis ? v - 1 : v)));
    const v = x.get(...idx);
    out.set(idx, c(mode === "add" ? prev + v : prev * v));
  }
  return out;
}

describe("CumOp: values", () => {
  it("hand-computed cumsum and cumprod along each axis", () => {
    const x = f64([[1, 2, 3], [4, 5, 6]]);
    assert.deepEqual(run(cumsum, x, 1).toNested(), [[1, 3, 6], [4, 9, 15]]);
    assert.deepEqual(run(cumsum, x, 0).toNested(), [[1, 2, 3], [5, 7, 9]]);
    assert.deepEqual(run(cumprod, x, -1).toNested(), [[1, 2, 6], [4, 20, 120]]);
    assert.deepEqual(run(cumprod, x, 0).toNested(), [[1, 2, 3], [4, 10, 18]]);
  });

  it("upcasts ints and bool to int64 like sum, and keeps float dtypes", () => {
    const i = tensor("i", { shape: [3], dtype: "int32" });
    const b = tensor("b", { shape: [3], dtype: "bool" });
    assert.equal(cumsum(i, 0).type.dtype, "int64");
    assert.equal(cumprod(b, 0).type.dtype, "int64");
    assert.equal(cumsum(tensor("f", { shape: [3], dtype: "float32" }), 0).type.dtype, "float32");
    assert.deepEqual(evalOne(cumsum(b, 0), [[b, NDArray.fromNested([true, true, false], "bool")]]).toFlat(), [1, 2, 2]);
    assert.deepEqual(run(cumsum, NDArray.fromNested([2 ** 31 - 1, 2 ** 31 - 1], "int32"), 0).toFlat(), [2 ** 31 - 1, 2 ** 32 - 2]);
  });

  it("rounds every float32 partial sum, as numpy's sequential cumsum does", () => {
    const x = NDArray.fromNested([1e8, 1, 1, 1], "float32");
    // In float32, 1e8 + 1 rounds back to 1e8 at every step.
    assert.deepEqual(run(cumsum, x, 0).toFlat(), [1e8, 1e8, 1e8, 1e8]);
  });

  it("validates the axis", () => {
    const x = tensor("x", { shape: [2, 3] });
    assert.throws(() => cumsum(x, 2), (e: Error) => e instanceof OpInputError && /cumsum: axis 2 is out of range for x with shape \(2, 3\)/.test(e.message));
    assert.throws(() => cumprod(tensor("s", { shape: [] }), 0), /cumprod: axis 0 is out of range/);
    assert.throws(() => new CumOp("add", -1), /non-negative/);
    assert.ok(new CumOp("add", 1).equals(new CumOp("add", 1)) && !new CumOp("add", 1).equals(new CumOp("mul", 1)));
  });

  it("handles empty arrays", () => {
    assert.deepEqual(run(cumsum, NDArray.zeros([0, 3]), 1).shape, [0, 3]);
    assert.deepEqual(run(cumprod, NDArray.zeros([2, 0]), 1).shape, [2, 0]);
  });

  it("matches the naive scan over random shapes, axes, dtypes and strided layouts (fast-check)", () => {
    const dtypes: DType[] = ["float64", "float32", "int32", "int64", "bool"];
    fc.assert(
      fc.property(
        fc.constantFrom<"add" | "mul">("add", "mul"),
        fc.constantFrom(...dtypes),
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        layoutArb(4),
        fc.integer({ min: 1, max: 1 << 20 }),
        (mode, dtype, shape, a, l, seed) => {
          const axis = a % shape.length;
          const r = rng(seed);
          const n = shape.reduce((p, q) => p * q, 1);
          const flat = Array.from({ length: n }, () => (dtype === "bool" ? Number(r() < 0.5) : Math.round((r() * 4 - 2) * 8) / 8));
          const x = stridedCopy(NDArray.fromFlat(flat, shape, dtype), { perm: l.perm.filter((p) => p < shape.length), steps: l.steps.slice(0, shape.length) });
          const got = run(mode === "add" ? cumsum : cumprod, x, axis);
          assert.equal(mismatch(got, naiveScan(mode, x, axis)), null);
        },
      ),
      { seed: 42, numRuns: 300 },
    );
  });
});

describe("CumOp: pullbacks", () => {
  it("cumsum's pullback is the reversed cumulative sum of g", () => {
    const x = tensor("x", { shape: [4] });
    const c = cumsum(x, 0);
    const g = tensor("g", { shape: [4] });
    const [t] = c.owner!.op.pullback!([x], [c], [g]) as Variable[];
    const at = (gv: number[]): Nested => evalOne(t, [[x, f64([0, 0, 0, 0])], [g, f64(gv)]]).toNested();
    // out_i = Σ_{j≤i} x_j: x_0 feeds every output, x_3 only the last.
    assert.deepEqual(at([1, 0, 0, 0]), [1, 0, 0, 0]);
    assert.deepEqual(at([0, 0, 0, 1]), [1, 1, 1, 1]);
    assert.deepEqual(at([1, 2, 3, 4]), [10, 9, 7, 4]);
  });

  for (const mode of ["add", "mul"] as const) {
    const f = mode === "add" ? cumsum : cumprod;
    it(`${mode === "add" ? "cumsum" : "cumprod"}: matches central finite differences along every axis, on its declared domain`, () => {
      const shape = [2, 3, 2];
      for (let axis = -1; axis < 3; axis++) {
        const r = rng(900 + axis);
        const x = NDArray.fromFlat(Array.from({ length: 12 }, () => sampleDomain(CUM_DOMAINS[mode], r)), shape);
        checkPullback(([v]) => f(v, axis), [x], { seed: axis + 5 });
        checkPullback(([v]) => f(v, axis), [x], { seed: axis + 5, dynamic: true });
      }
    });
  }

  it("keeps float32 cotangents float32, and disconnects int inputs", () => {
    const x = tensor("x", { shape: [3], dtype: "float32" });
    const c = cumprod(x, 0);
    const [t] = c.owner!.op.pullback!([x], [c], [tensor("g", { shape: [3], dtype: "float32" })]) as Variable[];
    assert.equal(t.type.toString(), "Tensor(float32, shape=(3,))");
    const i = tensor("i", { shape: [3], dtype: "int32" });
    const ci = cumsum(i, 0);
    assert.ok(isDisconnected(ci.owner!.op.pullback!([i], [ci], [tensor("gi", { shape: [3], dtype: "int64" })])[0]));
  });
});
