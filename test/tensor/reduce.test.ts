import { strict as assert } from "node:assert";
import fc from "fast-check";
import { Variable } from "../../src/graph/basic.js";
import { isDisconnected } from "../../src/graph/op.js";
import type { DType } from "../../src/graph/type.js";
import { NDArray, coerce, type Nested } from "../../src/ndarray/ndarray.js";
import { DataError, OpInputError } from "../../src/errors.js";
import { tensor } from "../../src/tensor/basic.js";
import { REDUCE_DOMAINS, Reduce, type ReduceKind, all, any, max, min, prod, reduceDtype, sum } from "../../src/tensor/reduce.js";
import { checkPullback, evalOne } from "./eval.js";
import { indices, layoutArb, mismatch, rng, sampleDomain, stridedCopy } from "./naive.js";

const f64 = (v: Nested): NDArray => NDArray.fromNested(v, "float64");
const KINDS: ReduceKind[] = ["sum", "prod", "max", "min", "all", "any"];
const BUILDERS = { sum, prod, max, min, all, any };

function run(kind: ReduceKind, x: NDArray, axes?: number[] | null, keepdims = false): NDArray {
  const v = tensor("x", { shape: x.shape, dtype: x.dtype });
  return evalOne(BUILDERS[kind](v, axes, keepdims), [[v, x]]);
}

/** The naive reduction: fold every input element into the output element it lands in. */
function naiveReduce(kind: ReduceKind, x: NDArray, axes: readonly number[]): NDArray {
  const outShape = x.shape.filter((_, i) => !axes.includes(i));
  const dtype = reduceDtype(kind, x.dtype);
  const init = { sum: 0, prod: 1, max: -Infinity, min: Infinity, all: 1, any: 0 }[kind];
  const acc = new Map<string, number>();
  for (const idx of indices(outShape)) acc.set(idx.join(), init);
  for (const idx of indices(x.shape)) {
    const key = idx.filter((_, i) => !axes.includes(i)).join();
    const v = x.get(...idx);
    const a = acc.get(key)!;
    const next = {
      sum: a + v,
      prod: a * v,
      max: Number.isNaN(a) || Number.isNaN(v) ? NaN : Math.max(a, v),
      min: Number.isNaN(a) || Number.isNaN(v) ? NaN : Math.min(a, v),
      all: a && v !== 0 ? 1 : 0,
      any: a || v !== 0 ? 1 : 0,
    }[kind];
    acc.set(key, next);
  }
  const c = coerce(dtype);
  return NDArray.fromFlat([...indices(outShape)].map((idx) => c(acc.get(idx.join())!)), outShape, dtype);
}

describe("Reduce: values", () => {
  const x = f64([[1, 2, 3], [4, 5, 6]]);
  it("hand-computed values over each axis set", () => {
    assert.deepEqual(run("sum", x).toNested(), 21);
    assert.deepEqual(run("sum", x, [0]).toNested(), [5, 7, 9]);
    assert.deepEqual(run("sum", x, [-1]).toNested(), [6, 15]);
    assert.deepEqual(run("prod", x, [1]).toNested(), [6, 120]);
    assert.deepEqual(run("max", x, [0]).toNested(), [4, 5, 6]);
    assert.deepEqual(run("min", x, [1]).toNested(), [1, 4]);
    assert.deepEqual(run("all", f64([[1, 0], [2, NaN]]), [1]).toNested(), [false, true]);
    assert.deepEqual(run("any", f64([[0, 0], [0, NaN]]), [1]).toNested(), [false, true]);
    assert.deepEqual(run("sum", x, []).toNested(), [[1, 2, 3], [4, 5, 6]]);
  });

  it("keepdims re-inserts the reduced axes as length 1", () => {
    const v = tensor("x", { shape: [2, 3] });
    const s = sum(v, [1], true);
    assert.equal(s.type.toString(), "Tensor(float64, shape=(2, 1))");
    assert.deepEqual(evalOne(s, [[v, x]]).toNested(), [[6], [15]]);
    assert.deepEqual(run("max", x, null, true).toNested(), [[6]]);
  });

  it("follows numpy's dtype rules", () => {
    const i32 = tensor("i", { shape: [3], dtype: "int32" });
    const b = tensor("b", { shape: [3], dtype: "bool" });
    const f32 = tensor("f", { shape: [3], dtype: "float32" });
    assert.equal(sum(i32).type.dtype, "int64");
    assert.equal(prod(b).type.dtype, "int64");
    assert.equal(sum(f32).type.dtype, "float32");
    assert.equal(max(i32).type.dtype, "int32");
    assert.equal(all(f32).type.dtype, "bool");
    assert.equal(any(i32).type.dtype, "bool");
    assert.deepEqual(evalOne(sum(b), [[b, NDArray.fromNested([true, true, false], "bool")]]).toNested(), 2);
    assert.deepEqual(evalOne(sum(i32), [[i32, NDArray.fromNested([2 ** 31 - 1, 2 ** 31 - 1, 2], "int32")]]).toNested(), 2 ** 32);
  });

  it("reduces empty axes to the identity, and refuses max/min of an empty axis", () => {
    const e = NDArray.zeros([2, 0]);
    assert.deepEqual(run("sum", e, [1]).toNested(), [0, 0]);
    assert.deepEqual(run("prod", e, [1]).toNested(), [1, 1]);
    assert.deepEqual(run("all", e, [1]).toNested(), [true, true]);
    assert.deepEqual(run("any", e, [1]).toNested(), [false, false]);
    assert.deepEqual(run("max", e, [0]).shape, [0]);
    assert.throws(() => run("max", e, [1]), (err: Error) => err instanceof OpInputError && /Reduce\{max, axes=\[1\]\}.*\(2, 0\)/.test(err.message));
    const v = tensor("x", { shape: [2, null] });
    assert.throws(() => evalOne(min(v, [1]), [[v, e]]), (err: Error) => err instanceof DataError && /empty axis.*\(2, 0\)/.test(err.message));
  });

  it("propagates NaN through max and min", () => {
    assert.deepEqual(run("max", f64([[1, NaN, 3], [NaN, 0, 9]]), [1]).toFlat(), [NaN, NaN]);
    assert.deepEqual(run("min", f64([3, 1, NaN])).toFlat(), [NaN]);
  });

  it("validates axes: range, repeats; props are sorted", () => {
    const v = tensor("x", { shape: [2, 3] });
    assert.throws(() => sum(v, [2]), /sum: axis 2 is out of range for x with shape \(2, 3\)/);
    assert.throws(() => sum(v, [1, -1]), /axis -1 is repeated/);
    assert.throws(() => new Reduce("sum", [0, 0]), /repeated/);
    assert.throws(() => new Reduce("sum", [5]).makeNode(v), /axis 5 is out of range/);
    assert.deepEqual(new Reduce("max", [2, 0]).props, { kind: "max", axes: [0, 2] });
    assert.ok(new Reduce("sum", [1, 0]).equals(new Reduce("sum", [0, 1])));
  });

  it("matches the naive fold over random shapes, axis sets, dtypes and strided layouts (fast-check)", () => {
    const dtypes: DType[] = ["float64", "float32", "int32", "int64", "bool"];
    fc.assert(
      fc.property(
        fc.constantFrom(...KINDS),
        fc.constantFrom(...dtypes),
        fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 }),
        fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
        layoutArb(4),
        fc.integer({ min: 1, max: 1 << 20 }),
        (kind, dtype, shape, pick, l, seed) => {
          const axes = shape.map((_, i) => i).filter((i) => pick[i]);
          if ((kind === "max" || kind === "min") && axes.some((a) => shape[a] === 0)) return;
          const r = rng(seed);
          const n = shape.reduce((p, q) => p * q, 1);
          const flat = Array.from({ length: n }, () => (dtype === "bool" ? Number(r() < 0.5) : Math.round((r() * 4 - 2) * 8) / 8));
          const x = stridedCopy(NDArray.fromFlat(flat, shape, dtype), { perm: l.perm.filter((p) => p < shape.length), steps: l.steps.slice(0, shape.length) });
          const got = run(kind, x, axes);
          assert.equal(mismatch(got, naiveReduce(kind, x, axes), 1e-12), null, `${kind} ${dtype} ${JSON.stringify(shape)} axes ${axes}`);
        },
      ),
      { seed: 42, numRuns: 300 },
    );
  });
});

describe("Reduce: pullbacks", () => {
  const axisSets: (number[] | null)[] = [null, [0], [1], [0, 2], []];
  for (const kind of ["sum", "prod", "max", "min"] as const) {
    it(`${kind}: matches central finite differences over several axis sets, on its declared domain`, () => {
      const d = REDUCE_DOMAINS[kind];
      axisSets.forEach((axes, k) => {
        const r = rng(500 + k);
        const shape = [2, 3, 2];
        // For max/min: distinct values on a grid spaced by the domain's `distinct` gap.
        const flat =
          d.distinct !== null
            ? shuffled(Array.from({ length: 12 }, (_, i) => d.input.lo + (i + 0.5) * 0.4), r)
            : Array.from({ length: 12 }, () => sampleDomain(d.input, r));
        const x = NDArray.fromFlat(flat, shape);
        checkPullback(([v]) => BUILDERS[kind](v, axes), [x], { seed: k + 3 });
        checkPullback(([v]) => BUILDERS[kind](v, axes), [x], { seed: k + 3, dynamic: true });
      });
    });
  }

  it("sum: broadcasts g back; the term has x's type", () => {
    const x = tensor("x", { shape: [2, null, 3], dtype: "float32" });
    const s = sum(x, [0, 2]);
    const g = tensor("g", { shape: [null], dtype: "float32" });
    const [t] = s.owner!.op.pullback!([x], [s], [g]) as Variable[];
    assert.equal(t.type.toString(), "Tensor(float32, shape=(2, ?, 3))");
    const v = evalOne(t, [[x, NDArray.zeros([2, 2, 3], "float32")], [g, NDArray.fromNested([1, 2], "float32")]]);
    assert.deepEqual(v.toNested(), [[[1, 1, 1], [2, 2, 2]], [[1, 1, 1], [2, 2, 2]]]);
  });

  it("max and min give the cotangent to every tied position", () => {
    for (const f of [max, min]) {
      const x = tensor("x", { shape: [2, 3] });
      const m = f(x, [1]);
      const g = tensor("g", { shape: [2] });
      const [t] = m.owner!.op.pullback!([x], [m], [g]) as Variable[];
      const xv = f === max ? f64([[5, 1, 5], [2, 2, 2]]) : f64([[1, 3, 1], [2, 2, 2]]);
      const v = evalOne(t, [[x, xv], [g, f64([10, 7])]]);
      assert.deepEqual(v.toNested(), [[10, 0, 10], [7, 7, 7]]);
    }
  });

  it("prod: g·out/x (exact away from zeros)", () => {
    const x = tensor("x", { shape: [3] });
    const p = prod(x);
    const g = tensor("g", { shape: [] });
    const [t] = p.owner!.op.pullback!([x], [p], [g]) as Variable[];
    assert.deepEqual(evalOne(t, [[x, f64([2, 3, 4])], [g, f64(1)]]).toFlat(), [12, 8, 6]);
  });

  it("all, any and integer inputs are disconnected", () => {
    const x = tensor("x", { shape: [3] });
    const i = tensor("i", { shape: [3], dtype: "int32" });
    for (const r of [all(x), any(x), sum(i), max(i)]) {
      const node = r.owner!;
      assert.ok(isDisconnected(node.op.pullback!(node.inputs, node.outputs, [tensor("g", { shape: [], dtype: r.type.dtype })])[0]));
    }
  });
});

function shuffled<T>(xs: T[], r: () => number): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}
