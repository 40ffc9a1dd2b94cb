import { strict as assert } from "node:assert";
import fc from "fast-check";
import { DISCONNECTED } from "../../src/graph/op.js";
import { NDArray } from "../../src/ndarray/ndarray.js";
import { DataError, OpInputError } from "../../src/errors.js";
import { constant, tensor } from "../../src/tensor/basic.js";
import {
  Alloc,
  DimShuffle,
  Reshape,
  ShapeI,
  alloc,
  arange,
  broadcastTo,
  dimshuffle,
  expandDims,
  join,
  reshape,
  shape,
  shapeI,
  specifyShape,
  squeeze,
  transpose,
} from "../../src/tensor/shape.js";
import { checkPullback, evalOne, randArray } from "./eval.js";

const arr = (v: number[][] | number[] | number[][][]): NDArray => NDArray.fromNested(v);

describe("tensor/shape", () => {
  describe("DimShuffle", () => {
    it("permutes, inserts and drops axes with the right static type", () => {
      const x = tensor("x", { shape: [2, 1, 3] });
      const y = dimshuffle(x, [2, "x", 0]);
      assert.deepEqual(y.type.shape, [3, 1, 2]);
      const xv = NDArray.fromFlat([0, 1, 2, 3, 4, 5], [2, 1, 3]);
      const yv = evalOne(y, [[x, xv]]);
      assert.deepEqual(yv.toNested(), [[[0, 3]], [[1, 4]], [[2, 5]]]);
    });

    it("is a view: writing through the base shows in the output", () => {
      const x = tensor("x", { shape: [2, 3] });
      const y = transpose(x);
      const xv = NDArray.fromFlat([0, 1, 2, 3, 4, 5], [2, 3]);
      const yv = evalOne(y, [[x, xv]]);
      assert.ok(yv.sharesBuffer(xv));
      assert.deepEqual(new DimShuffle(2, [1, 0]).viewMap, { 0: [0] });
      xv.set([1, 2], 50);
      assert.equal(yv.get(2, 1), 50);
    });

    it("refuses to drop an axis whose static length is not 1, naming the op and shape", () => {
      const x = tensor("x", { shape: [2, null] });
      assert.throws(() => dimshuffle(x, [0]), (e: Error) => e instanceof OpInputError && /DimShuffle.*axis 1.*\(2, \?\)/.test(e.message));
      assert.throws(() => dimshuffle(x, [0, 0]), OpInputError);
      assert.throws(() => transpose(x, [0]), OpInputError);
    });

    it("expandDims and squeeze", () => {
      const x = tensor("x", { shape: [3, 1, null] });
      assert.deepEqual(expandDims(x, -1).type.shape, [3, 1, null, 1]);
      assert.deepEqual(expandDims(x, 0).type.shape, [1, 3, 1, null]);
      assert.deepEqual(squeeze(x).type.shape, [3, null]);
      // An unknown length is asserted to be 1 by a SpecifyShape.
      const s = squeeze(x, [1, 2]);
      assert.deepEqual(s.type.shape, [3]);
      assert.equal(s.owner?.inputs[0].owner?.op.name, "SpecifyShape");
      assert.throws(() => squeeze(x, [0]), OpInputError);
      const v = evalOne(s, [[x, randArray([3, 1, 1])]]);
      assert.deepEqual(v.shape, [3]);
      assert.throws(() => evalOne(s, [[x, randArray([3, 1, 2])]]), DataError);
    });

    it("pullback is the inverse dimshuffle (finite differences)", () => {
      checkPullback(([x]) => dimshuffle(x, [2, "x", 0, 1]), [randArray([2, 3, 4])]);
      checkPullback(([x]) => dimshuffle(x, [1, "x"]), [randArray([1, 3])]);
      const x = tensor("x", { shape: [2, 3] });
      const y = dimshuffle(x, ["x", 1, 0]);
      const g = tensor("g", { shape: [null, 3, 2] });
      const [dx] = y.owner!.op.pullback!(y.owner!.inputs, y.owner!.outputs, [g]);
      assert.deepEqual((dx as typeof x).type.shape, [2, 3]);
    });
  });

  describe("Reshape", () => {
    it("reshapes with -1 and infers static shapes from constants", () => {
      const x = tensor("x", { shape: [2, 6] });
      const y = reshape(x, [3, -1]);
      assert.deepEqual(y.type.shape, [3, 4]);
      const xv = NDArray.fromFlat([...Array(12).keys()], [2, 6]);
      assert.deepEqual(evalOne(y, [[x, xv]]).toFlat(), [...Array(12).keys()]);
      assert.deepEqual(reshape(tensor("z", { shape: [null, 3] }), [-1]).type.shape, [null]);
      const n = tensor("n", { shape: [], dtype: "int64" });
      assert.deepEqual(reshape(x, [n, 2]).type.shape, [null, 2]);
    });

    it("is a view of C-contiguous input and a copy otherwise", () => {
      const x = tensor("x", { shape: [2, 3] });
      const xv = NDArray.fromFlat([0, 1, 2, 3, 4, 5], [2, 3]);
      const y = evalOne(reshape(x, [6]), [[x, xv]]);
      assert.ok(y.sharesBuffer(xv));
      assert.deepEqual(new Reshape(1).viewMap, { 0: [0] });
      const t = evalOne(reshape(x, [6]), [[x, xv.transpose([1, 0]).copy().transpose([1, 0])]]);
      assert.deepEqual(t.toFlat(), [0, 1, 2, 3, 4, 5]);
      const xt = tensor("xt", { shape: [3, 2] });
      const tv = xv.transpose([1, 0]);
      const r = evalOne(reshape(xt, [6]), [[xt, tv]]);
      assert.ok(!r.sharesBuffer(xv));
      assert.deepEqual(r.toFlat(), [0, 3, 1, 4, 2, 5]);
    });

    it("rejects bad targets statically and at run time", () => {
      const x = tensor("x", { shape: [2, 3] });
      assert.throws(() => reshape(x, [4, -1]), (e: Error) => e instanceof OpInputError && /Reshape.*\(2, 3\)/.test(e.message));
      assert.throws(() => reshape(x, [-1, -1]), OpInputError);
      assert.throws(() => reshape(x, [7]), OpInputError);
      const n = tensor("n", { shape: [], dtype: "int64" });
      const y = reshape(x, [n]);
      assert.throws(() => evalOne(y, [[x, randArray([2, 3])], [n, NDArray.scalar(5, "int64")]]), DataError);
      assert.throws(() => reshape(x, [2.5]), OpInputError);
    });

    it("lengths are disconnected; pullback reshapes back (static and dynamic shapes)", () => {
      const x = tensor("x", { shape: [2, 3] });
      const y = reshape(x, [3, 2]);
      assert.deepEqual(y.owner!.op.connectionPattern!(y.owner!), [[true], [false], [false]]);
      checkPullback(([v]) => reshape(v, [3, -1]), [randArray([2, 3])]);
      checkPullback(([v]) => reshape(v, [-1]), [randArray([2, 3])], { dynamic: true });
      const terms = y.owner!.op.pullback!(y.owner!.inputs, y.owner!.outputs, [tensor("g", { shape: [3, 2] })]);
      assert.equal(terms[1], DISCONNECTED);
    });
  });

  describe("Join", () => {
    it("concatenates along an axis with dtype upcast", () => {
      const a = constant([[1, 2]], "int32");
      const b = constant([[3.5, 4], [5, 6]], "float32");
      const j = join(0, a, b);
      assert.equal(j.type.dtype, "float64");
      assert.deepEqual(j.type.shape, [3, 2]);
      assert.deepEqual(evalOne(j).toNested(), [[1, 2], [3.5, 4], [5, 6]]);
      const k = join(-1, constant([[1], [2]]), constant([[3, 4], [5, 6]]));
      assert.deepEqual(evalOne(k).toNested(), [[1, 3, 4], [2, 5, 6]]);
    });

    it("names the op, the input index and the shapes on a length mismatch", () => {
      const a = tensor("a", { shape: [2, 3] });
      const b = tensor("b", { shape: [2, 4] });
      assert.throws(() => join(0, a, b), (e: Error) => e instanceof OpInputError && /Join.*input 1.*\(2, 4\).*\(2, 3\)/.test(e.message));
      const c = tensor("c", { shape: [null, null] });
      const j = join(0, a, c);
      assert.deepEqual(j.type.shape, [null, 3]);
      assert.throws(() => evalOne(j, [[a, randArray([2, 3])], [c, randArray([1, 4])]]), (e: Error) => e instanceof DataError && /input 1/.test(e.message));
    });

    it("returns a fresh buffer", () => {
      const a = tensor("a", { shape: [2] });
      const av = arr([1, 2]);
      assert.ok(!evalOne(join(0, a), [[a, av]]).sharesBuffer(av));
    });

    it("pullback slices g per input (static and dynamic lengths)", () => {
      const xs = [randArray([2, 3], 1), randArray([2, 1], 2), randArray([2, 2], 3)];
      checkPullback((vs) => join(1, ...vs), xs);
      checkPullback((vs) => join(1, ...vs), xs, { dynamic: true });
      checkPullback((vs) => join(0, vs[0], vs[0]), [randArray([2, 2])]);
    });
  });

  describe("Alloc / broadcastTo", () => {
    it("broadcasts with numpy rules into a fresh buffer", () => {
      const v = tensor("v", { shape: [1, 3] });
      const n = tensor("n", { shape: [], dtype: "int64" });
      const y = alloc(v, [2, n, 3]);
      assert.deepEqual(y.type.shape, [2, null, 3]);
      const vv = arr([[1, 2, 3]]);
      const yv = evalOne(y, [[v, vv], [n, NDArray.scalar(2, "int64")]]);
      assert.deepEqual(yv.toNested(), [[[1, 2, 3], [1, 2, 3]], [[1, 2, 3], [1, 2, 3]]]);
      assert.ok(!yv.sharesBuffer(vv));
      assert.deepEqual(new Alloc().viewMap, {});
      assert.deepEqual(evalOne(broadcastTo(constant(7), [2])).toFlat(), [7, 7]);
      // A symbolic length is fixed statically by a value axis longer than 1.
      assert.deepEqual(alloc(tensor("w", { shape: [4] }), [n]).type.shape, [4]);
    });

    it("rejects incompatible shapes", () => {
      const v = tensor("v", { shape: [3] });
      assert.throws(() => alloc(v, [2, 4]), (e: Error) => e instanceof OpInputError && /Alloc.*\(3,\)/.test(e.message));
      const w = tensor("w", { shape: [null] });
      assert.throws(() => evalOne(alloc(w, [2, 4]), [[w, arr([1, 2, 3])]]), DataError);
    });

    it("pullback sums over broadcast axes; lengths are disconnected", () => {
      checkPullback(([v]) => alloc(v, [2, 3]), [randArray([3])]);
      checkPullback(([v]) => alloc(v, [2, 4, 3]), [randArray([4, 1])]);
      checkPullback(([v]) => alloc(v, [2, 3]), [randArray([1, 3])], { dynamic: true });
      checkPullback(([v]) => alloc(v, [2, 3]), [randArray([2, 3])], { dynamic: true });
      checkPullback(([v]) => alloc(v, [2, 3]), [randArray([])]);
      const y = alloc(tensor("v", { shape: [3] }), [2, 3]);
      assert.deepEqual(y.owner!.op.connectionPattern!(y.owner!), [[true], [false], [false]]);
    });
  });

  describe("SpecifyShape, Shape, ShapeI, Arange", () => {
    it("specifyShape refines the type, is a view, and checks at run time", () => {
      const x = tensor("x", { shape: [null, 3] });
      const y = specifyShape(x, [2, null]);
      assert.deepEqual(y.type.shape, [2, 3]);
      const xv = randArray([2, 3]);
      assert.ok(evalOne(y, [[x, xv]]).sharesBuffer(xv));
      assert.throws(() => evalOne(y, [[x, randArray([4, 3])]]), (e: Error) => e instanceof DataError && /\(2, \?\).*\(4, 3\)/.test(e.message));
      assert.throws(() => specifyShape(x, [2, 4]), OpInputError);
      checkPullback(([v]) => specifyShape(v, [2, 3]), [randArray([2, 3])], { dynamic: true });
    });

    it("shape and shapeI are int64 and disconnected", () => {
      const x = tensor("x", { shape: [null, 3] });
      const s = shape(x);
      assert.equal(s.type.dtype, "int64");
      assert.deepEqual(evalOne(s, [[x, randArray([5, 3])]]).toFlat(), [5, 3]);
      const si = shapeI(x, -2);
      assert.equal((si.owner!.op as ShapeI).props.i, 0);
      assert.deepEqual(evalOne(si, [[x, randArray([5, 3])]]).toFlat(), [5]);
      for (const v of [s, si]) {
        assert.deepEqual(v.owner!.op.connectionPattern!(v.owner!), [[false]]);
        assert.deepEqual(v.owner!.op.pullback!(v.owner!.inputs, v.owner!.outputs, [tensor("g", { shape: v.type.shape })]), [DISCONNECTED]);
      }
    });

    it("arange matches a reference loop, with static length when constant", () => {
      fc.assert(
        fc.property(fc.integer({ min: -6, max: 6 }), fc.integer({ min: -6, max: 6 }), fc.integer({ min: -3, max: 3 }).filter((s) => s !== 0), (a, b, st) => {
          const v = arange(a, b, st);
          const ref: number[] = [];
          for (let i = a; st > 0 ? i < b : i > b; i += st) ref.push(i);
          assert.deepEqual(v.type.shape, [ref.length]);
          assert.deepEqual(evalOne(v).toFlat(), ref);
          assert.equal(evalOne(v).dtype, "int64");
        }),
        { seed: 42, numRuns: 200 },
      );
      const n = tensor("n", { shape: [], dtype: "int64" });
      assert.deepEqual(arange(0, n).type.shape, [null]);
      assert.throws(() => arange(0, 3, 0), OpInputError);
      const s = tensor("s", { shape: [], dtype: "int64" });
      assert.throws(() => evalOne(arange(0, 3, s), [[s, NDArray.scalar(0, "int64")]]), DataError);
    });
  });

  describe("properties", () => {
    it("dimshuffle of a non-contiguous input matches a reference loop", () => {
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 1000 }), (shp, seed) => {
          const base = randArray(shp.map((s) => s * 2), seed);
          // A strided, offset view: every other element, starting at 1 where possible.
          let xv = base;
          shp.forEach((s, d) => (xv = xv.sliceAxis(d, s * 2 - 1, s, -2)));
          const perm = [...shp.keys()].sort((a, b) => ((a * 7 + seed) % 5) - ((b * 7 + seed) % 5));
          const x = tensor("x", { shape: shp });
          const y = evalOne(transpose(x, perm), [[x, xv]]);
          const ref = xv.copy().transpose(perm).copy();
          assert.deepEqual(y.toFlat(), ref.toFlat());
          assert.deepEqual(evalOne(reshape(x, [-1]), [[x, xv]]).toFlat(), xv.toFlat());
        }),
        { seed: 7, numRuns: 100 },
      );
    });
  });
});
