/**
 * The kink-conventions property (properties/kinks.ts): it passes on the real engine over
 * generated cases, and it catches each convention broken the way real differentiators break it
 * (a tie split evenly, a tie given to the second argument, abs'(0) = 1), which every other
 * check misses because they keep values away from kinks.
 */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import type { Variable } from "../../src/graph/basic.js";
import type { Op } from "../../src/graph/op.js";
import type { Case } from "../../src/case/format.js";
import { caseTypes } from "../../src/case/parse.js";
import { type PullbackRule, withPullbackOverride } from "../../src/grad/registry.js";
import { Elemwise, cast, div, mul, sign, eq, add } from "../../src/tensor/elemwise.js";
import { Reduce } from "../../src/tensor/reduce.js";
import { dimshuffle } from "../../src/tensor/shape.js";
import { caseArbitrary } from "../../properties/generators.js";
import { KINK_OPS, kinkConventionCheck, kinkProbes } from "../../properties/kinks.js";
import { caseSeed, runProperties } from "../../properties/properties.js";

const xin = (name: string, dims: string[], shape: number[], value: unknown, dtype = "float64"): Case["inputs"][number] =>
  ({ name, kind: "xtensor", dims, shape, dtype, value }) as Case["inputs"][number];

const kinkCase = (node: Case["nodes"][number], inputs: Case["inputs"]): Case => ({
  format: "xgrad-case/1",
  inputs,
  nodes: [node, { id: "cost", op: "sum", args: [node.id], dims: null } as Case["nodes"][number]],
  cost: "cost",
});

const check = (c: Case, seed = caseSeed(c)) => kinkConventionCheck(c, caseTypes(c), seed);

/** The reduce's axes put back as length-1 axes, so the reduced output broadcasts against x. */
function keepdims(x: Variable, axes: readonly number[]): (number | "x")[] {
  const order: (number | "x")[] = [];
  let k = 0;
  for (let i = 0; i < x.type.ndim; i++) order.push(axes.includes(i) ? "x" : k++);
  return order;
}

const isReduce = (kind: string) => (op: Op): boolean => op instanceof Reduce && op.props.kind === kind;
const isScalar = (name: string) => (op: Op): boolean => op instanceof Elemwise && op.props.scalar === name;

/** numpy-autograd's and JAX's choice: split the cotangent evenly among tied positions. */
const splitTies: PullbackRule = ([x], [out], [g], node) => {
  const axes = (node.op as Reduce).props.axes;
  const order = keepdims(x, axes);
  const tied = eq(x, dimshuffle(out, order));
  const count = cast(dimshuffle(new Reduce("sum", axes).makeNode(tied).out, order), x.type.dtype);
  return [div(mul(tied, dimshuffle(g, order)), count)];
};

describe("properties/kinks: the spec's conventions at non-smooth points", function () {
  this.timeout(120_000);

  it("passes on the real engine, and probes a tie, over a fixed sample of generated cases", () => {
    const cases = fc.sample(caseArbitrary({}), { seed: 0x6b1e, numRuns: 120 });
    let probed = 0;
    const tied = new Set<string>();
    for (const g of cases) {
      const k = check(g.case);
      assert.ok(k.status === "pass" || k.status === "inconclusive", `${k.status}: ${k.reason ?? ""}\n${JSON.stringify(g.case)}`);
      if (k.status === "pass") probed++;
      for (const p of kinkProbes(g.case, caseTypes(g.case), caseSeed(g.case))) if (/tied in [1-9]|tied at|zeros planted/.test(p.planted)) tied.add(p.op);
    }
    assert.ok(probed >= 30, `only ${probed} of 120 generated cases had a kink node to probe`);
    assert.deepEqual([...tied].sort(), [...KINK_OPS].sort(), `ties were planted for ${[...tied].join(", ")} only`);
  });

  it("plants an exact tie and judges max, min and their positional lowering on every path", () => {
    const c = kinkCase({ id: "m", op: "max", args: ["x"], dims: ["b"] } as Case["nodes"][number], [xin("x", ["a", "b"], [2, 3], [[1, 2, 3], [4, 5, 6]])]);
    const [p] = kinkProbes(c, caseTypes(c), 7);
    assert.match(p.planted, /max tied in [12] of 2 reduced group/, p.planted);
    // Every tied maximum of a group received that group's weight, and nothing else did.
    const x = (p.case.inputs[0].value as number[][]).flat();
    const w = p.case.inputs[1].value as number[];
    const want = x.map((v, i) => (v === Math.max(...x.slice(3 * Math.floor(i / 3), 3 * Math.floor(i / 3) + 3)) ? w[Math.floor(i / 3)] : 0));
    assert.deepEqual(p.expected.k0.data, want, "the reference gives every tied position the cotangent");
    assert.equal(check(c).status, "pass", "the engine follows the spec");
  });

  it("catches a max rule that splits the cotangent among tied positions (fault zoo #7)", () => {
    const c = kinkCase({ id: "m", op: "max", args: ["x"], dims: null } as Case["nodes"][number], [xin("x", ["a"], [3], [0.5, 0.1, 0.3])]);
    const k = withPullbackOverride(isReduce("max"), splitTies, () => check(c));
    assert.equal(k.status, "fail", `expected a failure, got ${k.status}: ${k.reason ?? ""}`);
    assert.match(k.reason ?? "", /every tied position/, "the reason quotes the spec's rule");
    assert.equal(k.failingOp, "max");
  });

  it("catches the same split rule on min, through the whole property run, on float32", async () => {
    const c = kinkCase({ id: "m", op: "min", args: ["x"], dims: ["a"] } as Case["nodes"][number], [xin("x", ["a", "b"], [4, 2], [[1, 2], [3, 4], [5, 6], [7, 8]], "float32")]);
    const run = await withPullbackOverride(isReduce("min"), splitTies, () => runProperties(c, { properties: ["kink-conventions"] }));
    const k = run.verdict.checks[0];
    assert.equal(k.status, "fail", `expected a failure, got ${k.status}: ${k.reason ?? ""}`);
    assert.equal(run.verdict.ok, false, "a failing convention makes the verdict not ok");
  });

  it("catches maximum/minimum handing a tie to the second argument, with a broadcast and a literal", () => {
    // The op's own rule applied to the swapped arguments: the tie now goes to the second one.
    const second: PullbackRule = ([x, y], o, g, node) => {
      const [gy, gx] = (node.op as Elemwise).pullback([y, x], o, g);
      return [gx, gy];
    };
    const bcast = kinkCase({ id: "m", op: "maximum", args: ["x", "y"] } as Case["nodes"][number], [xin("x", ["a", "b"], [2, 3], [[1, 2, 3], [4, 5, 6]]), xin("y", ["b"], [3], [1, 1, 1])]);
    assert.equal(check(bcast).status, "pass", "the real rule passes the broadcast case");
    const k1 = withPullbackOverride(isScalar("maximum"), second, () => check(bcast));
    assert.equal(k1.status, "fail", `maximum: ${k1.reason ?? ""}`);
    const lit = kinkCase({ id: "m", op: "minimum", args: [0.1, "x"] } as Case["nodes"][number], [xin("x", ["a"], [3], [0.5, 0.1, 0.3], "float32")]);
    assert.equal(check(lit).status, "pass", `the real rule passes a float32 tie with a weak literal: ${check(lit).reason ?? ""}`);
    const k2 = withPullbackOverride(isScalar("minimum"), second, () => check(lit));
    assert.equal(k2.status, "fail", `minimum with a literal first: ${k2.reason ?? ""}`);
  });

  it("catches abs'(0) = 1", () => {
    const c = kinkCase({ id: "m", op: "abs", args: ["x"] } as Case["nodes"][number], [xin("x", ["a"], [4], [0.5, -0.1, 0.3, 0.2])]);
    assert.equal(check(c).status, "pass");
    const k = withPullbackOverride(isScalar("abs"), ([x], _o, [g]) => [mul(g, add(sign(x), eq(x, 0) as Variable))], () => check(c));
    assert.equal(k.status, "fail", `abs: ${k.reason ?? ""}`);
    assert.match(k.reason ?? "", /abs'\(0\) = 0/, "the reason quotes the spec's rule");
  });

  it("is inconclusive, with a reason, on a case without a kink node", () => {
    const c = kinkCase({ id: "m", op: "exp", args: ["x"] } as Case["nodes"][number], [xin("x", ["a"], [2], [0.5, 0.1])]);
    const k = check(c);
    assert.equal(k.status, "inconclusive");
    assert.match(k.reason ?? "", /no max\/min/, k.reason);
  });

  it("is deterministic in the case", () => {
    const [g] = fc.sample(caseArbitrary({ ops: ["max", "maximum", "abs", "mul", "exp"] }), { seed: 11, numRuns: 1 });
    const a = kinkProbes(g.case, caseTypes(g.case), 5).map((p) => JSON.stringify(p.case));
    const b = kinkProbes(g.case, caseTypes(g.case), 5).map((p) => JSON.stringify(p.case));
    assert.deepEqual(a, b, "the same case and seed give the same probes");
  });
});
