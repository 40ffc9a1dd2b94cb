import { strict as assert } from "node:assert";
import fc from "fast-check";
import { UndefinedGrad } from "../../src/graph/op.js";
import { NDArray } from "../../src/ndarray/ndarray.js";
import { DataError, OpInputError } from "../../src/errors.js";
import { constant, tensor } from "../../src/tensor/basic.js";
import {
  AdvancedIncSubtensor,
  type BasicIndex,
  IncSubtensor,
  Subtensor,
  advancedIncSubtensor,
  advancedSetSubtensor,
  advancedSubtensor,
  incSubtensor,
  setSubtensor,
  subtensor,
} from "../../src/tensor/indexing.js";
import type { Variable } from "../../src/graph/basic.js";
import { checkPullback, evalGraph, evalOne, randArray } from "./eval.js";

// ---- an independent numpy-semantics reference ----

type Slice = { start: number | null; stop: number | null; step: number | null };
/** A reference index entry: an int, a slice, or an int array given by flat values and shape. */
type RefIndex = number | Slice | { values: number[]; shape: number[] };

/** Python's `range(*slice(start, stop, step).indices(n))`. */
function sliceIndices(n: number, s: Slice): number[] {
  const step = s.step ?? 1;
  const [lower, upper] = step > 0 ? [0, n] : [-1, n - 1];
  const clamp = (v: number | null, dflt: number): number => {
    if (v === null) return dflt;
    const w = v < 0 ? v + n : v;
    return w < lower ? lower : w > upper ? upper : w;
  };
  const start = clamp(s.start, step > 0 ? lower : upper);
  const stop = clamp(s.stop, step > 0 ? upper : lower);
  const out: number[] = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(i);
  return out;
}

function cIndex(shape: readonly number[], flat: number): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = flat % shape[d];
    flat = Math.floor(flat / shape[d]);
  }
  return idx;
}

/**
 * For `x[idx]` (numpy semantics), the result shape and, for each result element in C order,
 * the multi-index into x it reads. Written from the numpy docs, independent of the kernel.
 */
function refIndex(xshape: readonly number[], idx: readonly RefIndex[]): { shape: number[]; sources: number[][] } {
  const full: RefIndex[] = [...idx];
  while (full.length < xshape.length) full.push({ start: null, stop: null, step: null });
  const isArr = (e: RefIndex): e is { values: number[]; shape: number[] } => typeof e === "object" && "values" in e;
  const anyArr = full.some(isArr);
  const adv = full.map((e, d) => (isArr(e) || (anyArr && typeof e === "number") ? d : -1)).filter((d) => d >= 0);
  const arrShapes = adv.map((d) => (isArr(full[d]) ? (full[d] as { shape: number[] }).shape : []));
  const bnd = Math.max(0, ...arrShapes.map((s) => s.length));
  const bshape: number[] = [];
  for (let j = 0; j < bnd; j++) {
    let v = 1;
    for (const s of arrShapes) {
      const k = j - (bnd - s.length);
      if (k >= 0 && s[k] !== 1) v = s[k];
    }
    bshape.push(v);
  }
  const sliceLists = full.map((e, d) => (typeof e === "object" && !isArr(e) ? sliceIndices(xshape[d], e) : null));
  const consecutive = adv.length === 0 || adv[adv.length - 1] - adv[0] + 1 === adv.length;
  // Result axes as a list of tags: ["b", k] for broadcast axis k, ["s", d] for the slice on axis d.
  const axes: ([string, number])[] = [];
  const bAxes = bshape.map((_, k): [string, number] => ["b", k]);
  if (adv.length > 0 && !consecutive) axes.push(...bAxes);
  full.forEach((e, d) => {
    if (adv.length > 0 && consecutive && d === adv[0]) axes.push(...bAxes);
    if (sliceLists[d]) axes.push(["s", d]);
  });
  const shape = axes.map(([t, k]) => (t === "b" ? bshape[k] : (sliceLists[k] as number[]).length));
  const size = shape.reduce((a, b) => a * b, 1);
  const sources: number[][] = [];
  for (let f = 0; f < size; f++) {
    const oi = cIndex(shape, f);
    const bIdx = new Array<number>(bnd).fill(0);
    const src = new Array<number>(xshape.length).fill(0);
    axes.forEach(([t, k], a) => {
      if (t === "b") bIdx[k] = oi[a];
      else src[k] = (sliceLists[k] as number[])[oi[a]];
    });
    full.forEach((e, d) => {
      if (sliceLists[d]) return;
      let i: number;
      if (typeof e === "number") i = e;
      else {
        const a = e as { values: number[]; shape: number[] };
        // Broadcast read: axes of length 1 read index 0.
        let flat = 0;
        a.shape.forEach((s, k) => {
          flat = flat * s + (s === 1 ? 0 : bIdx[k + bnd - a.shape.length]);
        });
        i = a.values[flat];
      }
      if (i < -xshape[d] || i >= xshape[d]) throw new Error(`ref: index ${i} out of range for axis ${d}`);
      src[d] = i < 0 ? i + xshape[d] : i;
    });
    sources.push(src);
  }
  return { shape, sources };
}

function refGather(x: NDArray, idx: readonly RefIndex[]): { shape: number[]; values: number[] } {
  const { shape, sources } = refIndex(x.shape, idx);
  return { shape, values: sources.map((s) => x.get(...s)) };
}

function refUpdate(x: NDArray, y: NDArray, idx: readonly RefIndex[], mode: "set" | "inc"): number[] {
  const out = x.copy();
  const { shape, sources } = refIndex(x.shape, idx);
  const yb = y.broadcastTo(shape);
  sources.forEach((s, f) => {
    const v = yb.get(...cIndex(shape, f));
    out.set(s, mode === "inc" ? out.get(...s) + v : v);
  });
  return out.toFlat();
}

/** The builder index and the values to feed for a reference index. */
function toGraphIndex(idx: readonly RefIndex[]): { idx: (BasicIndex | Variable)[]; givens: [Variable, NDArray][] } {
  const givens: [Variable, NDArray][] = [];
  const out = idx.map((e, i): BasicIndex | Variable => {
    if (typeof e === "number" || !("values" in e)) return e;
    const v = tensor(`i${i}`, { shape: e.shape, dtype: "int64" });
    givens.push([v, NDArray.fromFlat(e.values, e.shape, "int64")]);
    return v;
  });
  return { idx: out, givens };
}

/** A strided, offset, reversed view over a bigger buffer holding the same values as `v`. */
function nonContiguous(v: NDArray): NDArray {
  const big = NDArray.zeros(v.shape.map((s) => 2 * s + 1), v.dtype);
  let view = big;
  v.shape.forEach((s, d) => (view = view.sliceAxis(d, 2 * s - 1, s, -2)));
  // view runs backwards along every axis; write v reversed so that the view reads v.
  let rev = v;
  v.shape.forEach((s, d) => (rev = rev.sliceAxis(d, s - 1, s, -1)));
  view.assign(rev);
  let back = view;
  v.shape.forEach((s, d) => (back = back.sliceAxis(d, s - 1, s, -1)));
  return back;
}

// ---- generators ----

const sliceArb = (n: number): fc.Arbitrary<Slice> =>
  fc.record({
    start: fc.option(fc.integer({ min: -n - 2, max: n + 2 }), { nil: null }),
    stop: fc.option(fc.integer({ min: -n - 2, max: n + 2 }), { nil: null }),
    step: fc.option(fc.integer({ min: -3, max: 3 }).filter((s) => s !== 0), { nil: null }),
  });

const basicCase = fc
  .array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 })
  .chain((shape) =>
    fc.record({
      shape: fc.constant(shape),
      idx: fc.tuple(...shape.map((n) => fc.oneof(fc.integer({ min: -n, max: n - 1 }), sliceArb(n)))).chain((full) => fc.integer({ min: 0, max: shape.length }).map((k) => full.slice(0, k) as RefIndex[])),
      seed: fc.integer({ min: 0, max: 1 << 20 }),
    }),
  );

const advCase = fc
  .array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 })
  .chain((shape) =>
    fc.record({
      shape: fc.constant(shape),
      bshape: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 2 }),
      kinds: fc.tuple(...shape.map(() => fc.constantFrom("int", "slice", "array", "array"))),
      seed: fc.integer({ min: 0, max: 1 << 20 }),
    }),
  )
  .chain(({ shape, bshape, kinds, seed }) => {
    const entries = kinds.map((k, d): fc.Arbitrary<RefIndex> => {
      const n = shape[d];
      if (k === "int") return fc.integer({ min: -n, max: n - 1 });
      if (k === "slice") return sliceArb(n);
      // An array whose shape is a broadcast-compatible suffix of bshape (some axes set to 1).
      return fc
        .tuple(fc.integer({ min: 0, max: bshape.length }), fc.array(fc.boolean(), { minLength: bshape.length, maxLength: bshape.length }))
        .chain(([drop, ones]) => {
          const ashape = bshape.slice(drop).map((s, i) => (ones[i + drop] ? 1 : s));
          const size = ashape.reduce((a, b) => a * b, 1);
          return fc.array(fc.integer({ min: -n, max: n - 1 }), { minLength: size, maxLength: size }).map((values) => ({ values, shape: ashape }));
        });
    });
    return fc.record({ shape: fc.constant(shape), idx: fc.tuple(...entries).map((e) => e as RefIndex[]), seed: fc.constant(seed) });
  })
  .filter(({ idx }) => idx.some((e) => typeof e === "object" && "values" in e));

// ---- tests ----

describe("tensor/indexing", () => {
  describe("Subtensor", () => {
    it("indexes with ints, slices and negative steps, as numpy", () => {
      const x = constant([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]);
      assert.deepEqual(evalOne(subtensor(x, [1])).toNested(), [4, 5, 6, 7]);
      assert.deepEqual(evalOne(subtensor(x, [-1, { start: null, stop: null, step: -2 }])).toNested(), [11, 9]);
      assert.deepEqual(evalOne(subtensor(x, [{ start: 2, stop: 0, step: -1 }, 1])).toNested(), [9, 5]);
      assert.deepEqual(evalOne(subtensor(x, [{ start: 5, stop: null, step: null }])).shape, [0, 4]);
      const s = subtensor(x, [{ start: 1, stop: null, step: 1 }, -2]);
      assert.deepEqual(s.type.shape, [2]);
      assert.deepEqual(evalOne(s).toNested(), [6, 10]);
    });

    it("is a view: writes to the base show through", () => {
      const x = tensor("x", { shape: [3, 4] });
      const xv = NDArray.fromFlat([...Array(12).keys()], [3, 4]);
      const v = evalOne(subtensor(x, [{ start: null, stop: null, step: -1 }, 2]), [[x, xv]]);
      assert.ok(v.sharesBuffer(xv));
      assert.deepEqual(new Subtensor([0]).viewMap, { 0: [0] });
      xv.set([0, 2], 100);
      assert.equal(v.get(2), 100);
    });

    it("out of range is a DataError naming axis, index and length (OpInputError when static)", () => {
      const x = tensor("x", { shape: [3, null] });
      assert.throws(() => subtensor(x, [3]), (e: Error) => e instanceof OpInputError && /index 3.*axis 0.*length 3/.test(e.message));
      const s = subtensor(x, [0, -5]);
      assert.throws(() => evalOne(s, [[x, randArray([3, 4])]]), (e: Error) => e instanceof DataError && /Subtensor: index -5 is out of range for axis 1 with length 4/.test(e.message));
      assert.throws(() => subtensor(x, [0, 0, 0]), OpInputError);
      assert.throws(() => subtensor(x, [{ start: 0, stop: 1, step: 0 }]), OpInputError);
    });

    it("matches the numpy reference on non-contiguous inputs (property)", () => {
      fc.assert(
        fc.property(basicCase, ({ shape, idx, seed }) => {
          const base = randArray(shape, seed);
          const x = tensor("x", { shape: shape.map(() => null) });
          const got = evalOne(subtensor(x, idx as BasicIndex[]), [[x, nonContiguous(base)]]);
          const ref = refGather(base, idx);
          assert.deepEqual(got.shape, ref.shape);
          assert.deepEqual(got.toFlat(), ref.values);
          const xs = tensor("xs", { shape });
          assert.deepEqual(subtensor(xs, idx as BasicIndex[]).type.shape, ref.shape);
        }),
        { seed: 101, numRuns: 300 },
      );
    });

    it("pullback scatters g into zeros (finite differences)", () => {
      checkPullback(([x]) => subtensor(x, [{ start: null, stop: null, step: -2 }, 1]), [randArray([5, 3])]);
      checkPullback(([x]) => subtensor(x, [-1]), [randArray([3, 2])], { dynamic: true });
    });
  });

  describe("AdvancedSubtensor", () => {
    const x = constant([...Array(24).keys()].map((i) => i)).value.reshape([2, 3, 4]);
    const X = constant(x);
    const ints = (v: number[], shape = [v.length]): Variable => constant(NDArray.fromFlat(v, shape, "int64"));

    it("consecutive advanced indices replace their axes in place", () => {
      const y = advancedSubtensor(X, [{ start: null, stop: null, step: null }, ints([2, 0, 2]), 1]);
      assert.deepEqual(y.type.shape, [2, 3]);
      assert.deepEqual(evalOne(y).toNested(), [[9, 1, 9], [21, 13, 21]]);
      const z = advancedSubtensor(X, [ints([1, 0]), ints([0, 2])]);
      assert.deepEqual(evalOne(z).toNested(), [[12, 13, 14, 15], [8, 9, 10, 11]]);
    });

    it("advanced indices separated by a slice move their dims to the front", () => {
      const y = advancedSubtensor(X, [ints([1, 0, 1]), { start: 1, stop: null, step: null }, ints([3, 0, -1])]);
      assert.deepEqual(y.type.shape, [3, 2]);
      assert.deepEqual(evalOne(y).toNested(), [[19, 23], [4, 8], [19, 23]]);
      // A scalar int counts as advanced: 0 and [1, 2] are separated by a slice.
      const z = advancedSubtensor(X, [0, { start: null, stop: null, step: null }, ints([1, 2])]);
      assert.deepEqual(z.type.shape, [2, 3]);
      assert.deepEqual(evalOne(z).toNested(), [[1, 5, 9], [2, 6, 10]]);
    });

    it("broadcasts index arrays, wraps negatives and rejects out of range", () => {
      const y = advancedSubtensor(X, [ints([0, 1], [2, 1]), 0, ints([-1, 0, 1])]);
      assert.deepEqual(y.type.shape, [2, 3]);
      assert.deepEqual(evalOne(y).toNested(), [[3, 0, 1], [15, 12, 13]]);
      const i = tensor("i", { shape: [null], dtype: "int64" });
      const v = advancedSubtensor(X, [i]);
      assert.throws(() => evalOne(v, [[i, NDArray.fromFlat([0, 2], [2], "int64")]]), (e: Error) => e instanceof DataError && /AdvancedSubtensor: index 2 is out of range for axis 0 with length 2/.test(e.message));
      assert.throws(() => advancedSubtensor(X, [ints([0, 1]), ints([0, 1, 2])]), OpInputError);
      assert.throws(() => advancedSubtensor(X, [tensor("f", { shape: [2] })]), OpInputError);
    });

    it("matches the numpy reference, including repeats and non-consecutive indices (property)", () => {
      fc.assert(
        fc.property(advCase, ({ shape, idx, seed }) => {
          const base = randArray(shape, seed);
          const x = tensor("x", { shape: shape.map(() => null) });
          const g = toGraphIndex(idx);
          const ref = refGather(base, idx);
          const got = evalOne(advancedSubtensor(x, g.idx), [[x, nonContiguous(base)], ...g.givens]);
          assert.deepEqual(got.shape, ref.shape);
          assert.deepEqual(got.toFlat(), ref.values);
          const xs = tensor("xs", { shape });
          assert.deepEqual(advancedSubtensor(xs, toGraphIndex(idx).idx).type.shape, ref.shape);
        }),
        { seed: 202, numRuns: 300 },
      );
    });

    it("pullback scatter-adds (repeats accumulate); index inputs are undefined", () => {
      const idx = ints([1, 1, 0, 1]);
      checkPullback(([v]) => advancedSubtensor(v, [{ start: null, stop: null, step: null }, idx]), [randArray([3, 2])]);
      checkPullback(([v]) => advancedSubtensor(v, [ints([0, 2]), { start: null, stop: null, step: null }, ints([1, 1])]), [randArray([3, 2, 2])], { dynamic: true });
      const y = advancedSubtensor(tensor("x", { shape: [3] }), [idx]);
      const terms = y.owner!.op.pullback!(y.owner!.inputs, y.owner!.outputs, [tensor("g", { shape: [4] })]);
      assert.ok(terms[1] instanceof UndefinedGrad && /integer index input of AdvancedSubtensor/.test(terms[1].reason));
    });
  });

  describe("IncSubtensor / AdvancedIncSubtensor", () => {
    const ints = (v: number[], shape = [v.length]): Variable => constant(NDArray.fromFlat(v, shape, "int64"));

    it("basic inc and set, with y broadcast to the view", () => {
      const x = constant([[1, 2, 3], [4, 5, 6]]);
      assert.deepEqual(evalOne(incSubtensor(x, 10, [{ start: null, stop: null, step: null }, 1])).toNested(), [[1, 12, 3], [4, 15, 6]]);
      assert.deepEqual(evalOne(setSubtensor(x, constant([7, 8, 9]), [-1])).toNested(), [[1, 2, 3], [7, 8, 9]]);
      assert.deepEqual(evalOne(setSubtensor(x, constant([[0]]), [{ start: null, stop: null, step: -2 }])).toNested(), [[1, 2, 3], [0, 0, 0]]);
      assert.throws(() => incSubtensor(x, constant([1, 2]), [0]), (e: Error) => e instanceof OpInputError && /IncSubtensor.*\(2,\).*\(3,\)/.test(e.message));
      assert.throws(() => incSubtensor(constant([1], "float32"), constant([1]), [0]), OpInputError);
      assert.throws(() => setSubtensor(constant(NDArray.fromFlat([1], [1], "int64")), 0.5, [0]), OpInputError);
    });

    it("advanced inc accumulates repeats (np.add.at); set keeps the last write", () => {
      const x = constant([0, 0, 0, 0]);
      const i = ints([1, 3, 1, 1]);
      assert.deepEqual(evalOne(advancedIncSubtensor(x, constant([1, 2, 3, 4]), [i])).toNested(), [0, 8, 0, 2]);
      assert.deepEqual(evalOne(advancedSetSubtensor(x, constant([1, 2, 3, 4]), [i])).toNested(), [0, 4, 0, 2]);
      const m = constant([[0, 0], [0, 0]]);
      assert.deepEqual(evalOne(advancedIncSubtensor(m, 1, [ints([0, 0, 1]), ints([1, 1, 0])])).toNested(), [[0, 2], [1, 0]]);
    });

    it("not inplace copies x; inplace writes into x's buffer and returns it", () => {
      for (const make of [
        (x: Variable, y: Variable) => incSubtensor(x, y, [{ start: 1, stop: null, step: null }]),
        (x: Variable, y: Variable) => advancedIncSubtensor(x, y, [ints([1, 2, 1])]),
      ]) {
        const x = tensor("x", { shape: [3] });
        const y = tensor("y", { shape: [] });
        const out = make(x, y);
        const op = out.owner!.op as IncSubtensor | AdvancedIncSubtensor;
        assert.deepEqual(op.destroyMap, {});
        const xv = NDArray.fromFlat([1, 2, 3], [3]);
        const r1 = evalOne(out, [[x, xv], [y, NDArray.scalar(10)]]);
        assert.ok(!r1.sharesBuffer(xv));
        assert.deepEqual(xv.toFlat(), [1, 2, 3]);
        const ip = op.withInplace();
        assert.deepEqual(ip.destroyMap, { 0: [0] });
        assert.ok(!ip.equals(op));
        const node = ip.makeNode(...out.owner!.inputs);
        const [r2] = evalGraph([node.out], [[x, xv], [y, NDArray.scalar(10)]]);
        assert.equal(r2, xv);
        assert.deepEqual(xv.toFlat(), r1.toFlat());
      }
      // In place through a non-contiguous x writes the base buffer.
      const base = NDArray.fromFlat([0, 1, 2, 3, 4, 5], [6]);
      const view = base.sliceAxis(0, 5, 3, -2);
      const x = tensor("x", { shape: [3] });
      const node = new AdvancedIncSubtensor(["array"], "set", true).makeNode(x, constant(-1), ints([0, 0]));
      evalGraph([node.out], [[x, view]]);
      assert.deepEqual(base.toFlat(), [0, 1, 2, 3, 4, -1]);
    });

    it("updates match the numpy reference, with repeats, broadcasting y and non-contiguous x (property)", () => {
      fc.assert(
        fc.property(advCase, fc.constantFrom<"set" | "inc">("set", "inc"), fc.boolean(), fc.boolean(), ({ shape, idx, seed }, mode, bcastY, inplace) => {
          const base = randArray(shape, seed);
          const { shape: vshape } = refIndex(shape, idx);
          const yshape = bcastY && vshape.length > 0 ? [1, ...vshape.slice(1)] : vshape;
          const yv = randArray(yshape, seed + 1);
          const x = tensor("x", { shape: shape.map(() => null) });
          const y = tensor("y", { shape: yshape.map(() => null) });
          const g = toGraphIndex(idx);
          let out = (mode === "inc" ? advancedIncSubtensor : advancedSetSubtensor)(x, y, g.idx);
          if (inplace) out = (out.owner!.op as AdvancedIncSubtensor).withInplace().makeNode(...out.owner!.inputs).out;
          const xv = nonContiguous(base);
          const got = evalOne(out, [[x, xv], [y, yv], ...g.givens]);
          const ref = refUpdate(base, yv, idx, mode);
          assert.deepEqual(got.toFlat(), ref);
          if (inplace) assert.deepEqual(xv.toFlat(), ref);
          else assert.deepEqual(xv.toFlat(), base.toFlat());
        }),
        { seed: 303, numRuns: 300 },
      );
      fc.assert(
        fc.property(basicCase, fc.constantFrom<"set" | "inc">("set", "inc"), ({ shape, idx, seed }, mode) => {
          const base = randArray(shape, seed);
          const { shape: vshape } = refIndex(shape, idx);
          const yv = randArray(vshape, seed + 1);
          const x = tensor("x", { shape });
          const out = (mode === "inc" ? incSubtensor : setSubtensor)(x, constant(yv), idx as BasicIndex[]);
          assert.deepEqual(evalOne(out, [[x, nonContiguous(base)]]).toFlat(), refUpdate(base, yv, idx, mode));
        }),
        { seed: 304, numRuns: 200 },
      );
    });

    it("pullbacks for x and y (finite differences), basic and advanced, inc and set", () => {
      const all = { start: null, stop: null, step: null };
      const sl = { start: null, stop: null, step: -2 };
      for (const dynamic of [false, true]) {
        checkPullback(([x, y]) => incSubtensor(x, y, [sl]), [randArray([3, 2]), randArray([2, 2])], { dynamic });
        checkPullback(([x, y]) => setSubtensor(x, y, [sl, 1]), [randArray([3, 2]), randArray([2])], { dynamic });
        // y broadcast along the view.
        checkPullback(([x, y]) => incSubtensor(x, y, [all, 0]), [randArray([3, 2]), randArray([1])], { dynamic });
        // Repeated advanced indices: inc gathers and sums repeats; set credits only the last write.
        checkPullback(([x, y]) => advancedIncSubtensor(x, y, [ints([2, 0, 2])]), [randArray([3, 2]), randArray([3, 2])], { dynamic });
        checkPullback(([x, y]) => advancedSetSubtensor(x, y, [ints([2, 0, 2])]), [randArray([3, 2]), randArray([3, 2])], { dynamic });
        checkPullback(([x, y]) => advancedSetSubtensor(x, y, [ints([1, 1, 0]), all, ints([0, 0, 1])]), [randArray([2, 2, 3]), randArray([1, 2])], { dynamic });
        checkPullback(([x, y]) => advancedIncSubtensor(x, y, [all, ints([1, 1], [2, 1])]), [randArray([2, 3]), randArray([1])], { dynamic });
        checkPullback(([x, y]) => advancedIncSubtensor(x, y, [all, ints([1, 1], [2, 1])]), [randArray([2, 3]), randArray([2, 1])], { dynamic });
      }
      const out = advancedSetSubtensor(tensor("x", { shape: [3] }), tensor("y", { shape: [2] }), [ints([0, 0])]);
      const terms = out.owner!.op.pullback!(out.owner!.inputs, out.owner!.outputs, [tensor("g", { shape: [3] })]);
      assert.ok(terms[2] instanceof UndefinedGrad && /integer index input of AdvancedIncSubtensor/.test(terms[2].reason));
    });
  });
});
