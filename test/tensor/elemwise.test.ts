import { strict as assert } from "node:assert";
import fc from "fast-check";
import { Variable } from "../../src/graph/basic.js";
import { DISCONNECTED, isDisconnected } from "../../src/graph/op.js";
import type { DType, Shape } from "../../src/graph/type.js";
import { NDArray, type Nested } from "../../src/ndarray/ndarray.js";
import { DataError, OpInputError } from "../../src/errors.js";
import { constant, tensor } from "../../src/tensor/basic.js";
import {
  Composite,
  Elemwise,
  SCALAR_OPS,
  type ScalarName,
  type ScalarSpec,
  abs,
  add,
  cast,
  compositeFromGraph,
  div,
  elemwise,
  eq,
  exp,
  fullLike,
  gt,
  log,
  lt,
  maximum,
  minimum,
  mul,
  neg,
  onesLike,
  second,
  sigmoid,
  sub,
  where,
  zerosLike,
} from "../../src/tensor/elemwise.js";
import { checkPullback, evalGraph, evalOne } from "./eval.js";
import { broadcastShapes, indices, layoutArb, mismatch, naiveElemwise, readBroadcast, sampleInputs, stridedCopy } from "./naive.js";

const NAMES = Object.keys(SCALAR_OPS) as ScalarName[];
const spec = (n: ScalarName): ScalarSpec => SCALAR_OPS[n];

/** Apply `name` to fresh inputs typed like `values` (or with the given static shapes) and evaluate. */
function run(name: ScalarName, values: readonly NDArray[], opts: { shapes?: readonly Shape[]; inplace?: number; dtype?: DType } = {}): NDArray {
  const vars = values.map((v, i) => tensor(`x${i}`, { shape: opts.shapes?.[i] ?? v.shape, dtype: v.dtype }));
  const op = new Elemwise(name, { inplace: opts.inplace ?? null, dtype: opts.dtype });
  const out = op.makeNode(...vars).out;
  return evalOne(
    out,
    vars.map((v, i) => [v, values[i]]),
  );
}

const f64 = (v: Nested): NDArray => NDArray.fromNested(v, "float64");
const arr = (v: Nested, dtype: DType): NDArray => NDArray.fromNested(v, dtype);

// ---- hand-computed values: one case per op (a Record, so a new op without a case fails to compile) ----

interface Hand {
  readonly args: readonly NDArray[];
  readonly expect: NDArray;
  readonly dtype?: DType;
}
const E = Math.E;
const HAND: Record<ScalarName, Hand> = {
  add: { args: [f64([1, 2]), f64([[10], [20]])], expect: f64([[11, 12], [21, 22]]) },
  sub: { args: [f64([5, 1]), f64(2)], expect: f64([3, -1]) },
  mul: { args: [f64([1.5, -2]), f64([2, 3])], expect: f64([3, -6]) },
  div: { args: [arr([7, -7, 1], "int32"), arr([2, 2, 0], "int32")], expect: f64([3.5, -3.5, Infinity]) },
  neg: { args: [arr([1, -2], "int32")], expect: arr([-1, 2], "int32") },
  pow: { args: [f64([2, 9, 4]), f64([3, 0.5, -1])], expect: f64([8, 3, 0.25]) },
  abs: { args: [f64([-2, 0, 3])], expect: f64([2, 0, 3]) },
  sign: { args: [f64([-2, 0, 3])], expect: f64([-1, 0, 1]) },
  maximum: { args: [f64([1, 5, NaN]), f64([3, 2, 0])], expect: f64([3, 5, NaN]) },
  minimum: { args: [f64([1, 5, 0]), f64([3, 2, NaN])], expect: f64([1, 2, NaN]) },
  exp: { args: [f64([0, 1])], expect: f64([1, E]) },
  log: { args: [f64([1, E, 0])], expect: f64([0, 1, -Infinity]) },
  log1p: { args: [f64([0, E - 1])], expect: f64([0, 1]) },
  expm1: { args: [f64([0, 1])], expect: f64([0, E - 1]) },
  sqrt: { args: [f64([4, 2.25, -1])], expect: f64([2, 1.5, NaN]) },
  square: { args: [arr([-3, 4], "int64")], expect: arr([9, 16], "int64") },
  sin: { args: [f64([0, Math.PI / 2])], expect: f64([0, 1]) },
  cos: { args: [f64([0, Math.PI])], expect: f64([1, -1]) },
  tanh: { args: [f64([0, 1000, -1000])], expect: f64([0, 1, -1]) },
  sigmoid: { args: [f64([0, 1000, -1000])], expect: f64([0.5, 1, 0]) },
  softplus: { args: [f64([0, 1000, -1000])], expect: f64([Math.LN2, 1000, 0]) },
  lt: { args: [f64([1, 2, 3]), f64(2)], expect: arr([true, false, false], "bool") },
  gt: { args: [f64([1, 2, 3]), f64(2)], expect: arr([false, false, true], "bool") },
  le: { args: [f64([1, 2, 3]), f64(2)], expect: arr([true, true, false], "bool") },
  ge: { args: [f64([1, 2, 3]), f64(2)], expect: arr([false, true, true], "bool") },
  eq: { args: [f64([1, 2, NaN]), f64([1, 3, NaN])], expect: arr([true, false, false], "bool") },
  ne: { args: [f64([1, 2, NaN]), f64([1, 3, NaN])], expect: arr([false, true, true], "bool") },
  logicalAnd: { args: [f64([0, 2, NaN, 1]), f64([1, 1, 1, 0])], expect: arr([false, true, true, false], "bool") },
  logicalOr: { args: [f64([0, 0, NaN]), f64([0, -1, 0])], expect: arr([false, true, true], "bool") },
  logicalNot: { args: [f64([0, 3, NaN])], expect: arr([true, false, false], "bool") },
  where: { args: [arr([true, false], "bool"), f64([1, 2]), f64([[10], [20]])], expect: f64([[1, 10], [1, 20]]) },
  cast: { args: [f64([1.7, -1.7, NaN, 2 ** 31])], dtype: "int32", expect: arr([1, -1, 0, -(2 ** 31)], "int32") },
  identity: { args: [f64([1, 2])], expect: f64([1, 2]) },
  second: { args: [f64([[1, 2], [3, 4]]), f64([7, 8])], expect: f64([[7, 8], [7, 8]]) },
};

// ---- an independent reference per op: textbook formulas, written without the table ----

const REF: Record<ScalarName, (...v: number[]) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  neg: (a) => 0 - a,
  pow: (a, b) => a ** b,
  abs: (a) => (a < 0 ? -a : a),
  sign: (a) => (a > 0 ? 1 : a < 0 ? -1 : a),
  maximum: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a >= b ? a : b),
  minimum: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a <= b ? a : b),
  exp: (a) => E ** a,
  log: Math.log,
  log1p: (a) => Math.log(1 + a),
  expm1: (a) => E ** a - 1,
  sqrt: (a) => a ** 0.5,
  square: (a) => a ** 2,
  sin: Math.sin,
  cos: Math.cos,
  tanh: (a) => (E ** a - E ** -a) / (E ** a + E ** -a),
  sigmoid: (a) => 1 / (1 + E ** -a),
  softplus: (a) => Math.log(1 + E ** a),
  lt: (a, b) => Number(a < b),
  gt: (a, b) => Number(a > b),
  le: (a, b) => Number(a <= b),
  ge: (a, b) => Number(a >= b),
  eq: (a, b) => Number(a === b),
  ne: (a, b) => Number(a !== b),
  logicalAnd: (a, b) => Number(Boolean(a || Number.isNaN(a)) && Boolean(b || Number.isNaN(b))),
  logicalOr: (a, b) => Number(Boolean(a || Number.isNaN(a)) || Boolean(b || Number.isNaN(b))),
  logicalNot: (a) => Number(a === 0),
  where: (c, a, b) => (c !== 0 ? a : b),
  cast: (a) => a,
  identity: (a) => a,
  second: (_a, b) => b,
};

describe("Elemwise: values", () => {
  for (const name of NAMES) {
    it(`${name}: hand-computed values`, () => {
      const h = HAND[name];
      const got = run(name, h.args, { dtype: h.dtype });
      const bad = mismatch(got, h.expect, 1e-15);
      assert.equal(bad, null, `${name}: ${bad}\n got ${got.toString()}`);
    });
  }

  for (const name of NAMES) {
    it(`${name}: matches a textbook reference on its test domain`, () => {
      const s = spec(name);
      const shapes = [[2, 3], [3], [2, 1]].slice(0, s.arity);
      const values = sampleInputs(s.domain.inputs, s.domain.relations, shapes, 11);
      const dtype = name === "cast" ? "float32" : undefined;
      const got = run(name, values, { dtype });
      const expect = naiveElemwise(REF[name], values, got.dtype);
      assert.equal(mismatch(got, expect, 1e-13), null);
    });
  }

  it("declares a machine-readable test domain for every op", () => {
    for (const name of NAMES) {
      const d = spec(name).domain;
      assert.equal(d.inputs.length, spec(name).arity, name);
      for (const i of d.inputs) {
        assert.ok(i.lo < i.hi && i.margin >= 0 && i.avoid.every((p) => Number.isFinite(p)), name);
      }
      for (const r of d.relations) assert.ok(r.kind === "apart" && r.inputs.every((k) => k < spec(name).arity), name);
    }
    assert.deepEqual(SCALAR_OPS.log.domain.inputs[0].lo > 0, true);
    assert.deepEqual(SCALAR_OPS.maximum.domain.relations, [{ kind: "apart", inputs: [0, 1], margin: 0.1 }]);
    assert.equal(SCALAR_OPS.lt.domain.differentiable, false);
  });

  it("softplus and sigmoid stay finite and accurate at extreme inputs", () => {
    const x = f64([-800, -40, 40, 800]);
    const sp = run("softplus", [x]).toFlat();
    assert.deepEqual(sp, [0, Math.log1p(Math.exp(-40)), 40 + Math.log1p(Math.exp(-40)), 800]);
    const sg = run("sigmoid", [x]).toFlat();
    assert.ok(sg.every(Number.isFinite));
    assert.equal(sg[0], 0);
    assert.equal(sg[3], 1);
    assert.ok(Math.abs(sg[1] - Math.exp(-40)) < 1e-30);
  });
});

describe("Elemwise: dtypes (NEP 50)", () => {
  const f32 = tensor("a", { shape: [2], dtype: "float32" });
  const i32 = tensor("i", { shape: [2], dtype: "int32" });
  const i64 = tensor("j", { shape: [2], dtype: "int64" });
  const b = tensor("b", { shape: [2], dtype: "bool" });

  it("keeps weak numbers from raising precision", () => {
    assert.equal(mul(f32, 2.5).type.dtype, "float32");
    assert.equal(add(i32, 2).type.dtype, "int32");
    assert.equal(add(i32, 2.5).type.dtype, "float64");
    assert.equal(add(b, 1).type.dtype, "int64");
    assert.equal(add(b, b).type.dtype, "bool");
    assert.equal(add(i32, f32).type.dtype, "float64");
    assert.equal(add(i32, i64).type.dtype, "int64");
  });

  it("gives float64 for true division and float functions of ints, bool for comparisons", () => {
    assert.equal(div(i64, i64).type.dtype, "float64");
    assert.equal(div(f32, 2).type.dtype, "float32");
    assert.equal(exp(i32).type.dtype, "float64");
    assert.equal(lt(f32, 1).type.dtype, "bool");
    assert.equal(where(b, i32, 1.5).type.dtype, "float64");
    assert.equal(where(b, f32, 1.5).type.dtype, "float32");
    assert.equal(second(f32, i32).type.dtype, "int32");
    assert.equal(cast(f32, "int64").type.dtype, "int64");
  });

  it("compares an int with a float number in float, not after truncating the number", () => {
    const v = run("lt", [arr([2, 3], "int32"), f64(2.5)]);
    assert.deepEqual(v.toNested(), [true, false]);
    const c = lt(i32, 2.5);
    assert.equal(c.owner!.inputs[1].type.dtype, "float64");
    assert.deepEqual(evalOne(c, [[i32, arr([2, 3], "int32")]]).toNested(), [true, false]);
  });

  it("refuses numpy's bool-only subtraction and negation, and numbers the dtype cannot hold", () => {
    assert.throws(() => sub(b, b), OpInputError);
    assert.throws(() => neg(b), /neg on bool/);
    assert.throws(() => add(i32, 2 ** 40), /does not fit the operation's dtype int32/);
  });

  it("wraps int32 arithmetic like numpy, including products beyond 2^53", () => {
    const got = run("mul", [arr([65536, 2 ** 31 - 1, -7], "int32"), arr([65536, 2 ** 31 - 1, 3], "int32")]);
    const want = [65536n * 65536n, (2n ** 31n - 1n) ** 2n, -21n].map((v) => Number(BigInt.asIntN(32, v)));
    assert.deepEqual(got.toFlat(), want);
    assert.deepEqual(run("add", [arr([2 ** 31 - 1], "int32"), arr([1], "int32")]).toFlat(), [-(2 ** 31)]);
  });

  it("rounds float32 results and truncates int64 results", () => {
    const got = run("add", [arr([0.1], "float32"), arr([0.2], "float32")]);
    assert.equal(got.toFlat()[0], Math.fround(Math.fround(0.1) + Math.fround(0.2)));
    assert.deepEqual(run("pow", [arr([2, 2], "int64"), arr([-1, 3], "int64")]).toFlat(), [0, 8]);
    assert.ok(!Object.is(run("neg", [arr([0], "int64")]).toFlat()[0], -0), "int64 has no negative zero");
  });

  it("casts with numpy's rules: NaN is true as a bool, floats truncate toward zero", () => {
    assert.deepEqual(run("cast", [f64([NaN, 0, -0.5])], { dtype: "bool" }).toNested(), [true, false, true]);
    assert.deepEqual(run("cast", [f64([2.9, -2.9])], { dtype: "int64" }).toFlat(), [2, -2]);
    assert.equal(run("cast", [f64([0.1])], { dtype: "float32" }).toFlat()[0], Math.fround(0.1));
  });

  it("builds zerosLike / onesLike / fullLike with x's shape and dtype", () => {
    const x = tensor("x", { shape: [2, null], dtype: "int32" });
    const z = zerosLike(x);
    assert.equal(z.type.toString(), "Tensor(int32, shape=(2, ?))");
    const xv = arr([[1, 2, 3], [4, 5, 6]], "int32");
    assert.deepEqual(evalOne(z, [[x, xv]]).toNested(), [[0, 0, 0], [0, 0, 0]]);
    assert.deepEqual(evalOne(onesLike(x), [[x, xv]]).toNested(), [[1, 1, 1], [1, 1, 1]]);
    assert.deepEqual(evalOne(fullLike(x, 2.5, "float32"), [[x, xv]]).toFlat(), [2.5, 2.5, 2.5, 2.5, 2.5, 2.5]);
  });
});

describe("Elemwise: broadcasting", () => {
  it("infers static output shapes and names the op and shapes on a static mismatch", () => {
    const x = tensor("x", { shape: [2, 1, null] });
    const y = tensor("y", { shape: [3, 4] });
    assert.equal(add(x, y).type.toString(), "Tensor(float64, shape=(2, 3, 4))");
    assert.equal(add(x, tensor("z", { shape: [null] })).type.toString(), "Tensor(float64, shape=(2, 1, ?))");
    assert.throws(() => add(y, tensor("w", { shape: [5] })), (e: Error) => e instanceof OpInputError && /Elemwise\{add\}.*\(3, 4\).*\(5,\).*axis 1 has lengths 4 and 5/.test(e.message));
  });

  it("checks unknown lengths at run time: a mismatch is a DataError naming the op and shapes", () => {
    const x = tensor("x", { shape: [null] });
    const y = tensor("y", { shape: [null] });
    const z = add(x, y);
    assert.throws(
      () => evalOne(z, [[x, f64([1, 2, 3])], [y, f64([1, 2])]]),
      (e: Error) => e instanceof DataError && /Elemwise\{add\}.*\(3,\), \(2,\)/.test(e.message),
    );
  });

  it("broadcasts only statically length-1 axes (PyTensor's rule), so the pullback's sum is exact", () => {
    const x = tensor("x", { shape: [null] });
    const y = tensor("y", { shape: [3] });
    assert.throws(() => evalOne(add(x, y), [[x, f64([1])], [y, f64([1, 2, 3])]]), /only statically length-1 axes broadcast/);
    const x1 = tensor("x1", { shape: [1] });
    assert.deepEqual(evalOne(add(x1, y), [[x1, f64([1])], [y, f64([1, 2, 3])]]).toFlat(), [2, 3, 4]);
  });

  it("handles empty arrays and 0-d arrays", () => {
    assert.deepEqual(run("add", [NDArray.zeros([0, 3]), f64([1, 2, 3])]).shape, [0, 3]);
    assert.equal(run("exp", [f64(0)]).toNested(), 1);
  });
});

// ---- property tests: kernels vs naive loops over random shapes, layouts and dtypes ----

/** An output shape and, per input, a broadcastable shape (some axes 1, some leading axes dropped). */
function shapesArb(arity: number): fc.Arbitrary<{ out: number[]; ins: number[][] }> {
  return fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 4 }).chain((out) =>
    fc
      .array(
        fc.record({ drop: fc.integer({ min: 0, max: out.length }), ones: fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }) }),
        { minLength: arity, maxLength: arity },
      )
      .map((specs) => ({ out, ins: specs.map(({ drop, ones }) => out.slice(drop).map((s, i) => (ones[i + drop] ? 1 : s))) })),
  );
}

/** Static types for runtime shapes: unknown where the length equals the output's, else 1. */
function staticShapes(ins: readonly (readonly number[])[], nullMask: readonly boolean[]): Shape[] {
  const out = broadcastShapes(ins);
  let k = 0;
  return ins.map((s) => s.map((len, i) => (len === out[i + out.length - s.length] && nullMask[k++ % nullMask.length] ? null : len)));
}

function valuesFor(dtype: DType, shape: readonly number[], seed: number): NDArray {
  let a = seed;
  const next = (): number => {
    a = (a * 1103515245 + 12345) % 2147483648;
    return a / 2147483648;
  };
  const n = shape.reduce((p, q) => p * q, 1);
  const flat = Array.from({ length: n }, () => {
    const u = next();
    if (dtype === "bool") return u < 0.5 ? 0 : 1;
    if (dtype === "int32" || dtype === "int64") return Math.floor(u * 11) - 5;
    return u * 6 - 3;
  });
  return NDArray.fromFlat(flat, shape, dtype);
}

const DTYPES: DType[] = ["float64", "float32", "int32", "int64", "bool"];

/** The naive value of `name` with dtype handling done independently (BigInt for int32 products). */
function naiveFor(name: ScalarName, values: readonly NDArray[], outDtype: DType): NDArray {
  if (name === "mul" && outDtype === "int32") {
    return naiveElemwise((a, b) => Number(BigInt.asIntN(32, BigInt(a) * BigInt(b))), values, outDtype);
  }
  return naiveElemwise(REF[name], values, outDtype);
}

describe("Elemwise: kernels vs naive loops (fast-check)", () => {
  const elementwiseNames = NAMES.filter((n) => n !== "cast");

  it("every op, random broadcast shapes, dtypes and strided layouts", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...elementwiseNames),
        fc.integer({ min: 1, max: 1 << 30 }),
        fc.array(fc.constantFrom(...DTYPES), { minLength: 3, maxLength: 3 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 6 }),
        (name, seed, dts, nullMask) => {
          const arity = spec(name).arity;
          return fc.assert(
            fc.property(shapesArb(arity), fc.array(layoutArb(4), { minLength: 3, maxLength: 3 }), ({ ins }, layouts) => {
              const dtypes = dts.slice(0, arity);
              if (spec(name).noBool && dtypes.every((d) => d === "bool")) return;
              const values = ins.map((s, i) => {
                const v = valuesFor(dtypes[i], s, seed + i);
                const l = layouts[i];
                const perm = l.perm.filter((p) => p < s.length);
                return stridedCopy(v, { perm, steps: l.steps.slice(0, s.length) });
              });
              const got = run(name, values, { shapes: staticShapes(ins, nullMask) });
              const want = naiveFor(name, values, got.dtype);
              // Transcendentals of float32 inputs agree to the last bit too: both sides compute in
              // float64 and round once.
              assert.equal(mismatch(got, want, 1e-12), null, `${name} ${dtypes} ${JSON.stringify(ins)}`);
            }),
            { seed, numRuns: 3 },
          );
        },
      ),
      { seed: 42, numRuns: 150 },
    );
  });

  it("casts between every pair of dtypes like coerce (strided inputs)", () => {
    fc.assert(
      fc.property(fc.constantFrom(...DTYPES), fc.constantFrom(...DTYPES), shapesArb(1), layoutArb(4), fc.integer({ min: 1, max: 1000 }), (from, to, { ins }, l, seed) => {
        const v = stridedCopy(valuesFor(from, ins[0], seed), { perm: l.perm.filter((p) => p < ins[0].length), steps: l.steps.slice(0, ins[0].length) });
        const got = run("cast", [v], { dtype: to });
        const want = naiveElemwise((a) => (to === "bool" ? Number(a !== 0) : a), [v], to);
        assert.equal(mismatch(got, want), null);
      }),
      { seed: 7, numRuns: 200 },
    );
  });

  it("in place: writes into the destroyed input's own (strided) buffer and matches the naive loop", () => {
    const names: ScalarName[] = ["add", "mul", "sub", "maximum", "where", "exp", "neg", "second"];
    fc.assert(
      fc.property(fc.constantFrom(...names), fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 3 }), layoutArb(3), fc.integer({ min: 1, max: 1000 }), (name, shape, l, seed) => {
        const arity = spec(name).arity;
        const target = arity === 3 ? 1 : 0;
        const layout = { perm: l.perm.filter((p) => p < shape.length), steps: l.steps.slice(0, shape.length) };
        const values = Array.from({ length: arity }, (_, i) => (name === "where" && i === 0 ? valuesFor("bool", shape, seed) : valuesFor("float64", i === target ? shape : shape.slice(1), seed + i)));
        values[target] = stridedCopy(values[target], layout);
        const before = values[target].copy();
        const want = naiveFor(name, values.map((v, i) => (i === target ? before : v)), "float64");
        const vars = values.map((v, i) => tensor(`x${i}`, { shape: v.shape, dtype: v.dtype }));
        const op = new Elemwise(name, { inplace: target });
        assert.deepEqual(op.destroyMap, { 0: [target] });
        const node = op.makeNode(...vars);
        const [out] = op.perform(node, values);
        assert.equal(out.data, values[target].data, "output must live in the destroyed input's buffer");
        assert.equal(mismatch(values[target], want, 1e-14), null, "the input itself now holds the result");
      }),
      { seed: 3, numRuns: 150 },
    );
  });

  it("in place with another input aliasing the destroyed buffer through a different layout", () => {
    const base = f64([[1, 2], [3, 4]]);
    const x = tensor("x", { shape: [2, 2] });
    const y = tensor("y", { shape: [2, 2] });
    const op = new Elemwise("add", { inplace: 0 });
    const [out] = op.perform(op.makeNode(x, y), [base, base.transpose([1, 0])]);
    assert.equal(out.data, base.data);
    assert.deepEqual(base.toNested(), [[2, 5], [5, 8]]);
    // Same layout aliasing needs no copy: x + x in place doubles x.
    const b2 = f64([1, 2, 3]);
    const v = tensor("v", { shape: [3] });
    const [o2] = op.perform(op.makeNode(v, v), [b2, b2]);
    assert.equal(o2.data, b2.data);
    assert.deepEqual(b2.toFlat(), [2, 4, 6]);
  });

  it("refuses in-place writes into a broadcast input, another dtype, or a broadcast view", () => {
    const x = tensor("x", { shape: [1, 3] });
    const y = tensor("y", { shape: [2, 3] });
    assert.throws(() => new Elemwise("add", { inplace: 0 }).makeNode(x, y), /cannot write in place into input 0 with shape \(1, 3\)/);
    const i = tensor("i", { shape: [2, 3], dtype: "int32" });
    assert.throws(() => new Elemwise("add", { inplace: 0 }).makeNode(i, y), /input 0 of dtype int32: the output dtype is float64/);
    assert.throws(() => new Elemwise("add", { inplace: 2 }).makeNode(y, y), /out of range/);
    const op = new Elemwise("exp", { inplace: 0 });
    assert.throws(() => op.perform(op.makeNode(y), [f64([1, 2, 3]).broadcastTo([2, 3])]), /broadcast view/);
  });
});

// ---- pullbacks ----

/** Input shape sets per arity: same shape, and broadcasting in every direction. */
const GRAD_SHAPES: Record<1 | 2 | 3, number[][][]> = {
  1: [[[2, 3]], [[]]],
  2: [[[2, 3], [2, 3]], [[2, 3], [1, 3]], [[2, 3], [3]], [[2, 1], [1, 3]], [[], [2, 2]]],
  3: [[[2, 3], [2, 3], [2, 3]], [[2, 3], [1, 3], [2, 1]], [[3], [2, 3], []]],
};

describe("Elemwise: pullbacks", () => {
  const differentiable = NAMES.filter((n) => spec(n).domain.differentiable && n !== "cast");

  for (const name of differentiable) {
    it(`${name}: matches central finite differences on its domain, summed over broadcast axes`, () => {
      const s = spec(name);
      GRAD_SHAPES[s.arity].forEach((shapes, k) => {
        const values = sampleInputs(s.domain.inputs, s.domain.relations, shapes, 100 + k);
        // second's first input only gives the shape: it is disconnected (tested below).
        const wrt = name === "second" ? [1] : undefined;
        checkPullback((vars) => new Elemwise(name).makeNode(...vars).out, values, { tol: 1e-6, seed: k + 1, wrt });
        if (shapes.every((sh) => sh.join() === shapes[0].join())) {
          checkPullback((vars) => new Elemwise(name).makeNode(...vars).out, values, { tol: 1e-6, dynamic: true, wrt });
        }
      });
    });
  }

  it("cast: the cotangent is cast back to the input's float dtype; int targets are disconnected", () => {
    const x = tensor("x", { shape: [2], dtype: "float32" });
    const y = cast(x, "float64");
    const g = tensor("g", { shape: [2] });
    const [t] = y.owner!.op.pullback!([x], [y], [g]);
    assert.ok(t instanceof Variable && t.type.dtype === "float32");
    assert.deepEqual(evalOne(t, [[g, f64([0.1, 2])]]).toFlat(), [Math.fround(0.1), 2]);
    const yi = cast(x, "int32");
    assert.deepEqual(yi.owner!.op.pullback!([x], [yi], [tensor("gi", { shape: [2], dtype: "int32" })]), [DISCONNECTED]);
  });

  it("abs'(0) = 0", () => {
    const x = tensor("x", { shape: [3] });
    const y = abs(x);
    const g = tensor("g", { shape: [3] });
    const [t] = y.owner!.op.pullback!([x], [y], [g]);
    assert.deepEqual(evalOne(t as Variable, [[x, f64([-2, 0, 2])], [g, f64([1, 1, 1])]]).toFlat(), [-1, 0, 1]);
  });

  it("maximum and minimum give the cotangent to the first argument at a tie", () => {
    for (const f of [maximum, minimum]) {
      const x = tensor("x", { shape: [3] });
      const y = tensor("y", { shape: [3] });
      const z = f(x, y);
      const g = tensor("g", { shape: [3] });
      const [gx, gy] = z.owner!.op.pullback!([x, y], [z], [g]) as Variable[];
      const [vx, vy] = evalGraph([gx, gy], [[x, f64([1, 2, 3])], [y, f64([1, 0, 5])], [g, f64([10, 20, 30])]]);
      const firstWins = f === maximum ? [[10, 20, 0], [0, 0, 30]] : [[10, 0, 30], [0, 20, 0]];
      assert.deepEqual([vx.toFlat(), vy.toFlat()], firstWins);
    }
  });

  it("where: the condition is disconnected (connection pattern and pullback)", () => {
    const c = tensor("c", { shape: [2], dtype: "bool" });
    const x = tensor("x", { shape: [2] });
    const w = where(c, x, 0);
    assert.deepEqual(w.owner!.op.connectionPattern!(w.owner!), [[false], [true], [true]]);
    const g = tensor("g", { shape: [2] });
    const terms = w.owner!.op.pullback!(w.owner!.inputs, [w], [g]);
    assert.ok(isDisconnected(terms[0]));
    assert.deepEqual(evalOne(terms[1] as Variable, [[c, arr([true, false], "bool")], [g, f64([5, 6])]]).toFlat(), [5, 0]);
  });

  it("second: only the value input is connected", () => {
    const x = tensor("x", { shape: [2, 2] });
    const y = tensor("y", { shape: [2] });
    const s = second(x, y);
    assert.deepEqual(s.owner!.op.connectionPattern!(s.owner!), [[false], [true]]);
    const g = tensor("g", { shape: [2, 2] });
    const [tx, ty] = s.owner!.op.pullback!([x, y], [s], [g]);
    assert.ok(isDisconnected(tx));
    assert.deepEqual(evalOne(ty as Variable, [[g, f64([[1, 2], [3, 4]])]]).toFlat(), [4, 6]);
  });

  it("int and bool inputs, and every input of a comparison, are disconnected", () => {
    const x = tensor("x", { shape: [2] });
    const i = tensor("i", { shape: [2], dtype: "int32" });
    const z = mul(x, i);
    const g = tensor("g", { shape: [2] });
    const terms = z.owner!.op.pullback!([x, i], [z], [g]);
    assert.ok(terms[0] instanceof Variable);
    assert.ok(isDisconnected(terms[1]));
    const c = gt(x, x);
    assert.deepEqual(c.owner!.op.connectionPattern!(c.owner!), [[true], [true]]);
    assert.ok(c.owner!.op.pullback!([x, x], [c], [tensor("gb", { shape: [2], dtype: "bool" })]).every(isDisconnected));
  });

  it("gradient terms have each input's own dtype and shape", () => {
    const x = tensor("x", { shape: [1, 3], dtype: "float32" });
    const y = tensor("y", { shape: [2, 1] });
    const z = mul(x, y);
    assert.equal(z.type.toString(), "Tensor(float64, shape=(2, 3))");
    const g = tensor("g", { shape: [2, 3] });
    const [gx, gy] = z.owner!.op.pullback!([x, y], [z], [g]) as Variable[];
    assert.equal(gx.type.toString(), "Tensor(float32, shape=(1, 3))");
    assert.equal(gy.type.toString(), "Tensor(float64, shape=(2, 1))");
  });
});

// ---- Composite ----

describe("Composite", () => {
  it("fuses a DAG into one op whose values equal the unfused graph bit for bit (float32 rounding included)", () => {
    const x = tensor("x", { shape: [2, 3], dtype: "float32" });
    const y = tensor("y", { shape: [3], dtype: "float32" });
    const i = tensor("i", { shape: [1, 1], dtype: "int32" });
    const e = exp(x);
    const z = add(mul(e, y), div(e, add(i, 2)));
    const w = where(gt(z, 1), sigmoid(z), sub(z, 0.1));
    const comp = compositeFromGraph([x, y, i], [w, z]);
    const node = comp.makeNode(x, y, i);
    assert.deepEqual(node.outputs.map((o) => o.type.toString()), [w.type.toString(), z.type.toString()]);
    const givens: [Variable, NDArray][] = [
      [x, arr([[0.1, -0.7, 1.3], [0.3, 0.9, -1.1]], "float32")],
      [y, stridedCopy(arr([1.5, -0.25, 2], "float32"), { perm: [0], steps: [-2] })],
      [i, arr([[3]], "int32")],
    ];
    const [fw, fz] = evalGraph(node.outputs, givens);
    const [uw, uz] = evalGraph([w, z], givens);
    assert.equal(mismatch(fw, uw), null);
    assert.equal(mismatch(fz, uz), null);
    assert.match(comp.toString(), /^Composite\{where\(gt\(add\(mul\(exp\(i0\), i1\)/);
  });

  it("has structural equality over its expression", () => {
    const x = tensor("x", { shape: [2] });
    const a = compositeFromGraph([x], [exp(add(x, 1))]);
    const b = compositeFromGraph([x], [exp(add(x, 1))]);
    assert.ok(a.equals(b));
    assert.ok(!a.equals(compositeFromGraph([x], [exp(add(x, 2))])));
    assert.ok(!a.equals(a.withInplace(0)));
  });

  it("validates its expression and refuses outputs that do not have the full broadcast shape", () => {
    assert.throws(() => new Composite({ nin: 1, nodes: [{ op: "add", args: [0, 1] }], outputs: [1] }), /node 0 \(add\) refers to 1/);
    assert.throws(() => new Composite({ nin: 1, nodes: [{ op: "exp", args: [0, 0] }], outputs: [1] }), /2 arguments, expected 1/);
    assert.throws(() => new Composite({ nin: 1, nodes: [{ op: "cast", args: [0] }], outputs: [1] }), /dtype is required for cast/);
    const x = tensor("x", { shape: [2, 1] });
    const y = tensor("y", { shape: [3] });
    assert.throws(() => compositeFromGraph([x, y], [exp(x), add(x, y)]), /output 0 has shape \(2, 1\)/);
    assert.throws(() => compositeFromGraph([x], [add(x, y)]), /neither a listed input/);
  });

  it("runs in place into its destroyed input", () => {
    const x = tensor("x", { shape: [2, 2] });
    const comp = compositeFromGraph([x], [mul(exp(x), 2)]).withInplace(0);
    assert.deepEqual(comp.destroyMap, { 0: [0] });
    const xv = stridedCopy(f64([[0, 1], [2, 3]]), { perm: [1, 0], steps: [1, -1] });
    const [out] = comp.perform(comp.makeNode(x), [xv]);
    assert.equal(out.data, xv.data);
    assert.deepEqual(xv.toFlat(), [0, 1, 2, 3].map((v) => 2 * Math.exp(v)));
  });

  it("connection pattern follows connected edges only (a where condition is not one)", () => {
    const c = tensor("c", { shape: [2] });
    const x = tensor("x", { shape: [2] });
    const y = tensor("y", { shape: [2] });
    const comp = compositeFromGraph([c, x, y], [where(gt(c, 0), x, 1), add(x, y)]);
    assert.deepEqual(comp.connectionPattern(comp.makeNode(c, x, y)), [[false, false], [true, true], [false, true]]);
  });

  it("pullback matches finite differences, with broadcasting, shared subexpressions and two outputs", () => {
    const build = ([x, y]: Variable[]): Variable => {
      const e = exp(x);
      return compositeFromGraph([x, y], [add(mul(e, y), e)]).makeNode(x, y).out;
    };
    checkPullback(build, [f64([[0.1, 0.2, -0.3], [0.5, -1, 2]]), f64([[0.5, 1.5, -2]])]);
    // Two outputs: check the pullback against the sum of the unfused pullbacks.
    const x = tensor("x", { shape: [3] });
    const y = tensor("y", { shape: [1] });
    const o1 = sigmoid(mul(x, y));
    const o2 = sub(x, log(add(y, 2)));
    const comp = compositeFromGraph([x, y], [o1, o2]);
    const node = comp.makeNode(x, y);
    const g1 = tensor("g1", { shape: [3] });
    const g2 = tensor("g2", { shape: [3] });
    const [tx, ty] = comp.pullback([x, y], node.outputs, [g1, g2]) as Variable[];
    const xv = f64([0.3, -0.2, 1.1]);
    const yv = f64([0.7]);
    const g1v = f64([1, 2, 3]);
    const g2v = f64([-1, 0.5, 2]);
    // d/dx: g1 σ'(xy) y + g2 ; d/dy: Σ g1 σ'(xy) x - Σ g2 / (y + 2)
    const s = (v: number): number => 1 / (1 + Math.exp(-v));
    const ds = (v: number): number => s(v) * (1 - s(v));
    const xs = xv.toFlat();
    const wantX = xs.map((v, k) => g1v.toFlat()[k] * ds(v * 0.7) * 0.7 + g2v.toFlat()[k]);
    const wantY = xs.reduce((acc, v, k) => acc + g1v.toFlat()[k] * ds(v * 0.7) * v - g2v.toFlat()[k] / 2.7, 0);
    const [vx, vy] = evalGraph([tx, ty], [[x, xv], [y, yv], [g1, g1v], [g2, g2v]]);
    assert.equal(mismatch(vx, f64(wantX), 1e-12), null);
    assert.equal(mismatch(vy, f64([wantY]), 1e-12), null);
  });

  it("a hand-built Composite broadcasts a narrower output to the full shape, and its pullback sums it back", () => {
    const comp = new Composite({ nin: 2, nodes: [{ op: "exp", args: [0] }], outputs: [2, 0] });
    const x = tensor("x", { shape: [2, 1] });
    const y = tensor("y", { shape: [3] });
    const node = comp.makeNode(x, y);
    assert.deepEqual(node.outputs.map((o) => o.type.toString()), ["Tensor(float64, shape=(2, 3))", "Tensor(float64, shape=(2, 3))"]);
    const [e, xx] = evalGraph(node.outputs, [[x, f64([[0], [1]])], [y, f64([5, 6, 7])]]);
    assert.deepEqual(e.toNested(), [[1, 1, 1], [E, E, E]]);
    assert.deepEqual(xx.toNested(), [[0, 0, 0], [1, 1, 1]]);
    checkPullback(([a, b]) => new Composite({ nin: 2, nodes: [{ op: "exp", args: [0] }], outputs: [2] }).makeNode(a, b).out, [f64([[0.5], [-1]]), f64([1, 2, 3])], {
      wrt: [0],
    });
    const [tx, ty] = comp.pullback([x, y], node.outputs, [tensor("g1", { shape: [2, 3] }), tensor("g2", { shape: [2, 3] })]);
    assert.equal((tx as Variable).type.toString(), "Tensor(float64, shape=(2, 1))");
    assert.ok(isDisconnected(ty));
  });

  it("an int input of a Composite is disconnected", () => {
    const x = tensor("x", { shape: [2] });
    const i = tensor("i", { shape: [2], dtype: "int64" });
    const comp = compositeFromGraph([x, i], [mul(x, i)]);
    const node = comp.makeNode(x, i);
    const terms = comp.pullback([x, i], node.outputs, [tensor("g", { shape: [2] })]);
    assert.ok(terms[0] instanceof Variable);
    assert.ok(isDisconnected(terms[1]));
  });
});

describe("elemwise builder", () => {
  it("applies any scalar op by name and refuses wrong arity or unknown names", () => {
    const x = tensor("x", { shape: [2] });
    assert.deepEqual(evalOne(elemwise("add", x, 1), [[x, f64([1, 2])]]).toFlat(), [2, 3]);
    assert.throws(() => elemwise("add", x), /add: expected 2 arguments, got 1/);
    assert.throws(() => elemwise("nope" as ScalarName, x), /unknown scalar op/);
    assert.throws(() => new Elemwise("exp").makeNode(x, x), /Elemwise\{exp\}: expected 1 inputs, got 2/);
    assert.deepEqual(evalOne(add(x, constant([[1], [2]])), [[x, f64([1, 2])]]).toNested(), [[2, 3], [3, 4]]);
  });

  it("a where condition given as a number becomes a bool constant", () => {
    const x = tensor("x", { shape: [2] });
    const w = where(1, x, 0);
    assert.equal(w.owner!.inputs[0].type.dtype, "bool");
    assert.deepEqual(evalOne(w, [[x, f64([3, 4])]]).toFlat(), [3, 4]);
  });

  it("eq of a value with itself is true except for NaN", () => {
    const x = tensor("x", { shape: [2] });
    assert.deepEqual(evalOne(eq(x, x), [[x, f64([1, NaN])]]).toNested(), [true, false]);
  });
});

// A guard that the table of hand values covers every index path of the nd iterator.
describe("nd iteration", () => {
  it("visits every element of a 4-d transposed, reversed view exactly once", () => {
    const shape = [2, 3, 2, 2];
    const src = NDArray.fromFlat(Array.from({ length: 24 }, (_, k) => k), shape);
    const v = stridedCopy(src, { perm: [2, 0, 3, 1], steps: [-1, 2, 1, -2] });
    const got = run("identity", [v]);
    assert.deepEqual(got.toFlat(), src.toFlat());
    for (const idx of indices(shape)) assert.equal(readBroadcast(got, idx), src.get(...idx));
  });
});
