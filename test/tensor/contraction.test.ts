import { strict as assert } from "node:assert";
import fc from "fast-check";
import { NDArray } from "../../src/ndarray/ndarray.js";
import { DataError, OpInputError } from "../../src/errors.js";
import { constant, tensor } from "../../src/tensor/basic.js";
import { Contraction, einsum, parseEinsum } from "../../src/tensor/contraction.js";
import { transpose } from "../../src/tensor/shape.js";
import { checkPullback, evalOne, maxAbsDiff, randArray } from "./eval.js";

/** Naive einsum: loop over every assignment of every letter, accumulate into the output. */
function refEinsum(inputs: string[], output: string, xs: NDArray[]): NDArray {
  const len = new Map<string, number>();
  inputs.forEach((s, k) => [...s].forEach((ch, a) => len.set(ch, xs[k].shape[a])));
  const letters = [...len.keys()];
  const out = NDArray.zeros([...output].map((ch) => len.get(ch) as number));
  const total = letters.reduce((p, ch) => p * (len.get(ch) as number), 1);
  for (let f = 0; f < total; f++) {
    const val = new Map<string, number>();
    let r = f;
    for (let j = letters.length - 1; j >= 0; j--) {
      const n = len.get(letters[j]) as number;
      val.set(letters[j], r % n);
      r = Math.floor(r / n);
    }
    let p = 1;
    inputs.forEach((s, k) => (p *= xs[k].get(...[...s].map((ch) => val.get(ch) as number))));
    const oi = [...output].map((ch) => val.get(ch) as number);
    out.set(oi, out.get(...oi) + p);
  }
  return out;
}

describe("tensor/contraction", () => {
  it("matrix product and the partial contraction abcd,bcde->ace", () => {
    const a = constant([[1, 2], [3, 4]]);
    const b = constant([[5, 6], [7, 8]]);
    assert.deepEqual(evalOne(einsum("ij,jk->ik", a, b)).toNested(), [[19, 22], [43, 50]]);
    const x = randArray([2, 3, 4, 2], 1);
    const y = randArray([3, 4, 2, 5], 2);
    const z = einsum("abcd,bcde->ace", constant(x), constant(y));
    assert.deepEqual(z.type.shape, [2, 4, 5]);
    assert.ok(maxAbsDiff(evalOne(z), refEinsum(["abcd", "bcde"], "ace", [x, y])) < 1e-12);
  });

  it("outer products, full contraction to 0-d, letters of one operand summed out", () => {
    const u = constant([1, 2]);
    const v = constant([3, 4, 5]);
    assert.deepEqual(evalOne(einsum("i,j->ij", u, v)).toNested(), [[3, 4, 5], [6, 8, 10]]);
    const m = constant([[1, 2], [3, 4]]);
    const full = einsum("ij,ij->", m, m);
    assert.deepEqual(full.type.shape, []);
    assert.equal(evalOne(full).toNested(), 30);
    // "k" is only in the second operand and not in the output: it is summed.
    assert.deepEqual(evalOne(einsum("i,ik->i", u, m)).toNested(), [3, 14]);
    assert.deepEqual(evalOne(einsum("ij->", m)).toNested(), 10);
    assert.deepEqual(evalOne(einsum("ij->ji", m)).toNested(), [[1, 3], [2, 4]]);
    assert.deepEqual(evalOne(einsum("i,j,k->", u, v, u)).toNested(), 3 * 12 * 3);
    // numpy's implicit output: letters seen once, sorted.
    assert.deepEqual(parseEinsum("ba,ac", 2), { inputs: ["ba", "ac"], output: "bc" });
  });

  it("dtype is the upcast; bool contraction is or-of-ands", () => {
    const i = constant(NDArray.fromFlat([1, 2], [2], "int32"));
    const f = constant(NDArray.fromFlat([0.5, 1.5], [2], "float32"));
    assert.equal(einsum("i,i->", i, f).type.dtype, "float64");
    const b = constant([[true, true], [false, true]]);
    const r = evalOne(einsum("ij,jk->ik", b, b));
    assert.equal(r.dtype, "bool");
    assert.deepEqual(r.toNested(), [[true, true], [false, true]]);
  });

  it("errors name the operands and lengths", () => {
    const x = tensor("x", { shape: [2, 3] });
    const y = tensor("y", { shape: [4, 5] });
    assert.throws(() => einsum("ab,bc->ac", x, y), (e: Error) => e instanceof OpInputError && /letter "b" has length 3 in operand 0 but 4 in operand 1/.test(e.message));
    assert.throws(() => einsum("aa->a", x), OpInputError);
    assert.throws(() => einsum("ab->c", x), OpInputError);
    assert.throws(() => einsum("abc->a", x), OpInputError);
    assert.throws(() => einsum("ab,bc->ac", x), OpInputError);
    const p = tensor("p", { shape: [null, null] });
    const q = tensor("q", { shape: [null, null] });
    const z = einsum("ab,bc->ac", p, q);
    assert.throws(() => evalOne(z, [[p, randArray([2, 3])], [q, randArray([2, 3])]]), (e: Error) => e instanceof DataError && /letter "b".*operand 0.*operand 1/.test(e.message));
    assert.ok(new Contraction(["ab", "bc"], "ac").equals(new Contraction(["ab", "bc"], "ac")));
  });

  it("matches a naive loop on random specs and non-contiguous operands (property)", () => {
    const letters = "abcde";
    const caseArb = fc
      .record({
        lens: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 5, maxLength: 5 }),
        ops: fc.array(fc.subarray([...letters]), { minLength: 1, maxLength: 3 }),
        keep: fc.subarray([...letters]),
        seed: fc.integer({ min: 0, max: 1 << 20 }),
        transposed: fc.boolean(),
      })
      .map((c) => {
        const used = new Set(c.ops.join(""));
        return { ...c, out: c.keep.filter((ch) => used.has(ch)).reverse().join("") };
      });
    fc.assert(
      fc.property(caseArb, ({ lens, ops, out, seed, transposed }) => {
        const shapeOf = (s: string[]): number[] => s.map((ch) => lens[letters.indexOf(ch)]);
        const vals = ops.map((s, k) => randArray(shapeOf(s), seed + k));
        const vars = ops.map((s, k) => tensor(`x${k}`, { shape: transposed ? shapeOf(s).reverse() : shapeOf(s) }));
        // Feed reversed-transposed buffers and transpose in-graph: the kernel sees strided views.
        const operands = vars.map((v) => (transposed ? transpose(v) : v));
        const z = einsum(`${ops.map((s) => s.join("")).join(",")}->${out}`, ...operands);
        const givens = vars.map((v, k): [typeof v, NDArray] => [v, transposed ? vals[k].transpose([...vals[k].shape.keys()].reverse()).copy() : vals[k]]);
        const got = evalOne(z, givens);
        const ref = refEinsum(ops.map((s) => s.join("")), out, vals);
        assert.deepEqual(got.shape, ref.shape);
        assert.ok(maxAbsDiff(got, ref) < 1e-12);
      }),
      { seed: 404, numRuns: 300 },
    );
  });

  it("pullback per operand, including letters summed from one operand (finite differences)", () => {
    for (const dynamic of [false, true]) {
      checkPullback(([x, y]) => einsum("abcd,bcde->ace", x, y), [randArray([2, 3, 2, 2], 1), randArray([3, 2, 2, 2], 2)], { dynamic });
      checkPullback(([x, y]) => einsum("ij,jk->ik", x, y), [randArray([2, 3], 3), randArray([3, 2], 4)], { dynamic });
      checkPullback(([x, y]) => einsum("i,j->ij", x, y), [randArray([2], 5), randArray([3], 6)], { dynamic });
      checkPullback(([x, y]) => einsum("ij,ij->", x, y), [randArray([2, 3], 7), randArray([2, 3], 8)], { dynamic });
      checkPullback(([x, y]) => einsum("iq,ik->k", x, y), [randArray([2, 3], 9), randArray([2, 2], 10)], { dynamic });
      checkPullback(([x, y, z]) => einsum("ab,bc,cd->ad", x, y, z), [randArray([2, 2], 11), randArray([2, 3], 12), randArray([3, 2], 13)], { dynamic });
      // The same variable in two slots: terms add up.
      checkPullback(([x]) => einsum("ij,jk->ik", x, x), [randArray([2, 2], 14)], { dynamic });
    }
  });
});
