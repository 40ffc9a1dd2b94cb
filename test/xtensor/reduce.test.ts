import assert from "node:assert/strict";
import { XReduce, all, any, max, mean, min, prod, std, sum, variance } from "../../src/xtensor/reduce.js";
import { XCumReduce, cumprod, cumsum } from "../../src/xtensor/cumulative.js";
import { xtensor } from "../../src/xtensor/type.js";
import { close, hasType, run1, throwsOp } from "./helpers.js";

const X = [
  [1, 2, 3, 4],
  [2, 4, 6, 8],
];

describe("xtensor/reduce", () => {
  it("removes the reduced dims and keeps the order of the rest", () => {
    const x = xtensor("x", { dims: ["a", "b", "c"], shape: [2, 3, 4] });
    hasType(sum(x, { dims: ["b"] }), ["a", "c"], [2, 4]);
    hasType(x.max({ dims: ["c", "a"] }), ["b"], [3]);
    hasType(x.prod({ dims: "a" }), ["b", "c"], [3, 4]);
    hasType(x.min(), [], []);
    hasType(x.mean({ dims: null }), [], [], "float64");
    assert.equal(x.sum({ dims: [] }), x);
  });

  it("dtypes: sum/prod of int and bool are int64, mean of int is float64, float32 stays float32", () => {
    const i32 = xtensor("i", { dims: ["a"], dtype: "int32" });
    const b = xtensor("b", { dims: ["a"], dtype: "bool" });
    const f32 = xtensor("f", { dims: ["a"], shape: [3], dtype: "float32" });
    assert.equal(sum(i32).dtype, "int64");
    assert.equal(prod(b).dtype, "int64");
    assert.equal(sum(b).dtype, "int64");
    assert.equal(mean(i32).dtype, "float64");
    assert.equal(mean(f32).dtype, "float32");
    assert.equal(variance(f32).dtype, "float32");
    assert.equal(std(i32).dtype, "float64");
    assert.equal(max(i32).dtype, "int32");
    assert.equal(min(b).dtype, "bool");
    assert.equal(all(f32).dtype, "bool");
    assert.equal(any(i32).dtype, "bool");
    assert.equal(mean(xtensor("u", { dims: ["a"], dtype: "float32" })).dtype, "float32", "unknown length keeps float32");
    assert.equal(run1(sum(b), [[b, [true, true, false]]]), 2);
    assert.equal(run1(mean(i32), [[i32, [1, 2, 4]]]), 7 / 3);
  });

  it("sum, prod, max, min, all, any values", () => {
    const x = xtensor("x", { dims: ["a", "b"], shape: [2, 4] });
    const g: [typeof x, number[][]][] = [[x, X]];
    assert.deepEqual(run1(x.sum({ dims: ["b"] }), g), [10, 20]);
    assert.deepEqual(run1(x.prod({ dims: ["a"] }), g), [2, 8, 18, 32]);
    assert.deepEqual(run1(x.max({ dims: ["a"] }), g), [2, 4, 6, 8]);
    assert.equal(run1(x.min(), g), 1);
    assert.deepEqual(run1(x.sub(2).all({ dims: ["b"] }), g), [false, false]);
    assert.deepEqual(run1(x.sub(2).any({ dims: ["a"] }), g), [true, true, true, true]);
  });

  it("mean, var and std with ddof (compositions, not ops)", () => {
    const x = xtensor("x", { dims: ["a", "b"], shape: [2, 4] });
    const g: [typeof x, number[][]][] = [[x, X]];
    close(run1(x.mean({ dims: ["b"] }), g), [2.5, 5]);
    close(run1(x.var({ dims: ["b"] }), g), [1.25, 5]);
    close(run1(x.var({ dims: ["b"], ddof: 1 }), g), [5 / 3, 20 / 3]);
    close(run1(x.std({ dims: ["b"], ddof: 1 }), g), [Math.sqrt(5 / 3), Math.sqrt(20 / 3)]);
    close(run1(x.var({ dims: ["a"] }), g), [0.25, 1, 2.25, 4]);
    const all8 = X.flat();
    const m = all8.reduce((p, q) => p + q, 0) / 8;
    close(run1(x.var(), g), all8.reduce((p, q) => p + (q - m) ** 2, 0) / 8);
    // No op named mean/var/std exists: they are built from XReduce and XElemwise.
    assert.ok(!(x.mean().owner?.op instanceof XReduce));
    throwsOp(() => x.var({ ddof: -1 }), "var", "ddof");
  });

  it("mean and var with unknown static lengths divide by the run-time count", () => {
    const x = xtensor("x", { dims: ["a", "b"] });
    close(run1(x.mean({ dims: ["b"] }), [[x, X]]), [2.5, 5]);
    close(run1(x.var({ dims: ["b"], ddof: 1 }), [[x, X]]), [5 / 3, 20 / 3]);
    close(run1(x.mean(), [[x, X]]), 30 / 8);
  });

  it("errors name the op, the argument and the dims", () => {
    const x = xtensor("x", { dims: ["a", "b"] });
    throwsOp(() => x.sum({ dims: ["q"] }), "sum", 'dim "q" is not a dim of x (a, b)');
    throwsOp(() => x.mean({ dims: ["a", "a"] }), "mean", 'duplicate dim "a"');
    throwsOp(() => x.std({ dims: "z" }), "std", 'dim "z"', "(a, b)");
    throwsOp(() => new XReduce("sum", ["q"]).makeNode(x), "sum", 'dim "q"');
    throwsOp(() => new XReduce("all", ["a"]).makeNode(x), "all", "bool");
  });

  it("XReduce props are canonical: equal parameters give equal ops", () => {
    const a = new XReduce("sum", ["b", "a"]);
    const b = new XReduce("sum", ["a", "b"]);
    assert.ok(a.equals(b));
    assert.equal(a.hash(), b.hash());
    assert.ok(!a.equals(new XReduce("prod", ["a", "b"])));
  });
});

describe("xtensor/cumulative", () => {
  it("cumsum/cumprod along one dim keep dims; ints accumulate in int64", () => {
    const x = xtensor("x", { dims: ["a", "b"], shape: [2, 4] });
    hasType(cumsum(x, "b"), ["a", "b"], [2, 4], "float64");
    assert.deepEqual(run1(x.cumsum("b"), [[x, X]]), [[1, 3, 6, 10], [2, 6, 12, 20]]);
    assert.deepEqual(run1(x.cumprod("a"), [[x, X]]), [[1, 2, 3, 4], [2, 8, 18, 32]]);
    const i = xtensor("i", { dims: ["k"], dtype: "int32" });
    assert.equal(cumsum(i, "k").dtype, "int64");
    assert.equal(cumprod(xtensor("b", { dims: ["k"], dtype: "bool" }), "k").dtype, "int64");
    assert.deepEqual(run1(cumsum(i, "k"), [[i, [1, 2, 3]]]), [1, 3, 6]);
  });

  it("an unknown dim is an error naming the op", () => {
    const x = xtensor("x", { dims: ["a", "b"] });
    throwsOp(() => x.cumsum("c"), "cumsum", 'dim "c" is not a dim of x (a, b)');
    throwsOp(() => new XCumReduce("mul", "c").makeNode(x), "cumprod", 'dim "c"');
  });
});
