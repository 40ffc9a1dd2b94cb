/**
 * `buildCase`, `evaluateCaseEngine` and `caseGradients`: the spec's example builds and
 * evaluates, its gradients agree across the three strategies, with the closed form and with
 * central finite differences of the evaluated cost; errors name the node; regressions for engine
 * bugs the builder found.
 */
import assert from "node:assert/strict";
import { CaseBuildError, type VerdictArray, buildCase, caseEvaluator, caseGradients, evaluateCaseEngine } from "../../src/case/build.js";
import type { Case, CaseTypes, VarType } from "../../src/case/format.js";
import { CaseError, parseTypedCase } from "../../src/case/parse.js";
import { OpInputError, XgradError } from "../../src/errors.js";
import { NDArray } from "../../src/ndarray/ndarray.js";
import type { Mode } from "../../src/rewriting/db.js";
import { SPEC_EXAMPLE, clone } from "./fixtures.js";

const STRATEGIES = ["lazy", "perNode", "lowered"] as const;
/** The example's input values x (a=3, b=4) and W (3 × 2). */
const X0 = SPEC_EXAMPLE.inputs[0].value as number[][];
const W0 = SPEC_EXAMPLE.inputs[1].value as number[][];

function parsed(json: unknown): { c: Case; types: CaseTypes } {
  const { case: c, types } = parseTypedCase(json);
  return { c, types };
}

/** max |a − b| / max(1, |b|) over two verdict arrays of the same layout. */
function maxRelErr(a: VerdictArray, b: VerdictArray): number {
  assert.deepEqual(a.shape, b.shape);
  return Math.max(0, ...a.data.map((v, i) => Math.abs(v - b.data[i]) / Math.max(1, Math.abs(b.data[i]))));
}

/**
 * Central finite differences of the cost, as `evaluateCaseEngine` computes it, with respect to
 * every element of input `name` (float64, step h relative to the element's size). Returns flat
 * data in the input's own layout.
 */
function finiteDiff(built: ReturnType<typeof buildCase>, name: string, h = 1e-5): number[] {
  const base = built.values.get(name) as NDArray;
  const flat = base.toFlat();
  const costAt = (k: number, delta: number): number => {
    const moved = flat.slice();
    moved[k] += delta;
    const values = new Map(built.values);
    values.set(name, NDArray.fromFlat(moved, base.shape, base.dtype));
    return evaluateCaseEngine({ ...built, values })[built.case.cost].data[0];
  };
  return flat.map((v, k) => {
    const step = h * Math.max(1, Math.abs(v));
    return (costAt(k, step) - costAt(k, -step)) / (2 * step);
  });
}

describe("case/build", () => {
  describe("the spec's example", () => {
    const { c, types } = parsed(SPEC_EXAMPLE);

    it("builds: inputs and nodes are named variables of the parser's types", () => {
      const b = buildCase(c, types);
      assert.deepEqual([...b.inputs.keys()], ["x", "W", "ik"]);
      assert.deepEqual([...b.nodes.keys()], ["e", "Wx", "d", "s", "cost"]);
      for (const [name, v] of [...b.inputs, ...b.nodes]) {
        assert.equal(v.name, name);
        const t = types.get(name) as VarType;
        assert.equal(v.type.dtype, t.dtype, name);
        assert.deepEqual((v.type as { dims?: readonly string[] }).dims, t.dims, name);
      }
      assert.equal(b.cost, b.nodes.get("cost"));
      assert.deepEqual(b.wrtNames, ["x", "W"]);
      assert.deepEqual(b.wrt, [b.inputs.get("x"), b.inputs.get("W")]);
      assert.equal(b.values.get("W")?.dtype, "float64");
      assert.equal(b.values.get("ik")?.dtype, "int64");
      assert.deepEqual(b.values.get("ik")?.toFlat(), [2, 0]);
    });

    it("validates the case itself when no types are given", () => {
      const b = buildCase(c);
      assert.deepEqual([...b.nodes.keys()], ["e", "Wx", "d", "s", "cost"]);
    });

    it("evaluates every node, in the verdict's format, identically in NONE and checked FAST_RUN", () => {
      const b = buildCase(c, types);
      const v = evaluateCaseEngine(b);
      assert.deepEqual(Object.keys(v), ["e", "Wx", "d", "s", "cost"]);
      assert.deepEqual(v.Wx, { dims: ["a", "c"], shape: [3, 2], dtype: "float64", data: [1, 2, 3, 4, 5, 6] });
      assert.deepEqual(v.d.dims, ["b", "c"]);
      assert.deepEqual(v.cost.dims, []);
      // cost = 1.5 Σ_{a,b,c} exp(x[a,b]) W[a,c]
      const [x, W] = [X0, W0];
      let want = 0;
      for (let a = 0; a < 3; a++) for (let bb = 0; bb < 4; bb++) for (let k = 0; k < 2; k++) want += 1.5 * Math.exp(x[a][bb]) * W[a][k];
      assert.ok(Math.abs(v.cost.data[0] - want) <= 1e-12 * want, `${v.cost.data[0]} vs ${want}`);
      const fast = evaluateCaseEngine(b, { mode: "FAST_RUN", checked: true });
      for (const id of Object.keys(v)) assert.ok(maxRelErr(fast[id], v[id]) <= 1e-12, id);
    });

    it("caseEvaluator re-runs one compiled function on other input values", () => {
      const b = buildCase(c, types);
      const run = caseEvaluator(b);
      const W2 = NDArray.fromFlat([0, 0, 0, 0, 0, 0], [3, 2], "float64");
      assert.equal(run(new Map([["W", W2]])).cost.data[0], 0);
      assert.deepEqual(run(), evaluateCaseEngine(b));
    });

    for (const mode of ["NONE", "FAST_RUN"] as const satisfies readonly Mode[]) {
      it(`gradients (${mode}): the three strategies agree with each other, the closed form and finite differences`, () => {
        const b = buildCase(c, types);
        const grads = STRATEGIES.map((s) => caseGradients(b, s, { mode, checked: true }));
        for (const g of grads) {
          assert.deepEqual(Object.keys(g), ["x", "W"]);
          assert.deepEqual(g.x.dims, ["a", "b"]);
          assert.deepEqual(g.x.shape, [3, 4]);
          assert.equal(g.W.dims, undefined);
          assert.deepEqual(g.W.shape, [3, 2]);
          assert.equal(g.x.dtype, "float64");
        }
        for (const g of grads.slice(1)) for (const w of ["x", "W"]) assert.ok(maxRelErr(g[w], grads[0][w]) <= 1e-12, w);

        // d cost/dx[a,b] = 1.5 exp(x[a,b]) Σ_c W[a,c];  d cost/dW[a,c] = 1.5 Σ_b exp(x[a,b])
        const [x, W] = [X0, W0];
        const dx = x.flatMap((row, a) => row.map((xv) => 1.5 * Math.exp(xv) * (W[a][0] + W[a][1])));
        const dW = W.flatMap((row, a) => row.map(() => 1.5 * x[a].reduce((s, xv) => s + Math.exp(xv), 0)));
        assert.ok(maxRelErr(grads[0].x, { ...grads[0].x, data: dx }) <= 1e-12);
        assert.ok(maxRelErr(grads[0].W, { ...grads[0].W, data: dW }) <= 1e-12);

        for (const w of ["x", "W"]) {
          const fd = finiteDiff(b, w);
          const err = Math.max(...fd.map((f, k) => Math.abs(f - grads[0][w].data[k]) / Math.max(1, Math.abs(f))));
          assert.ok(err <= 1e-7, `${w}: finite differences differ by ${err}`);
        }
      });
    }
  });

  describe("gradient paths", () => {
    // cost = Σ_a x·(x > 0) + y·0: x also reaches the cost through a bool, y not at all.
    const discrete = {
      format: "xgrad-case/1",
      inputs: [
        { name: "x", kind: "xtensor", dims: ["a"], shape: [3], dtype: "float64", value: [0.5, -1, 2] },
        { name: "y", kind: "xtensor", dims: ["b", "a"], shape: [2, 3], dtype: "float64", value: [[1, 2, 3], [4, 5, 6]] },
      ],
      nodes: [
        { id: "pos", op: "gt", args: ["x", 0] },
        { id: "f", op: "cast", args: ["pos"], dtype: "float64" },
        { id: "m", op: "mul", args: ["f", "x"] },
        { id: "cost", op: "sum", args: ["m"], dims: null },
      ],
      cost: "cost",
    };

    for (const s of STRATEGIES) {
      const title = `${s}: a float input reaching the cost also through a comparison and a cast (regression: driver refused DISCONNECTED for discrete inputs)`;
      it(title, () => {
        const { c, types } = parsed(discrete);
        const g = caseGradients(buildCase(c, types), s, { checked: true });
        assert.deepEqual(g.x, { dims: ["a"], shape: [3], dtype: "float64", data: [1, 0, 1] });
      });
    }

    for (const s of STRATEGIES) {
      it(`${s}: an input the cost does not depend on gets zeros of its own dims`, () => {
        const { c, types } = parsed({ ...SPEC_EXAMPLE, inputs: [...SPEC_EXAMPLE.inputs, { name: "z", kind: "xtensor", dims: ["q", "r"], shape: [2, 1], dtype: "float32", value: [[1], [2]] }], wrt: ["W", "z"] });
        const g = caseGradients(buildCase(c, types), s);
        assert.deepEqual(g.z, { dims: ["q", "r"], shape: [2, 1], dtype: "float32", data: [0, 0] });
        assert.equal(g.W.data.length, 6);
      });
    }

    it("an empty wrt gives no gradients and compiles nothing", () => {
      const { c, types } = parsed({ ...SPEC_EXAMPLE, wrt: [] });
      assert.deepEqual(caseGradients(buildCase(c, types), "lazy"), {});
    });
  });

  describe("builder details", () => {
    it("a cast to the same dtype is the argument itself, which keeps its name", () => {
      const { c, types } = parsed({ ...SPEC_EXAMPLE, nodes: [...SPEC_EXAMPLE.nodes.slice(0, 4), { id: "same", op: "cast", args: ["s"], dtype: "float64" }, { id: "cost", op: "sum", args: ["same"], dims: null }] });
      const b = buildCase(c, types);
      assert.equal(b.nodes.get("same"), b.nodes.get("s"));
      assert.equal(b.nodes.get("s")?.name, "s");
      const v = evaluateCaseEngine(b);
      assert.deepEqual(v.same, v.s);
    });

    it("positional tensors: numpy broadcasting, sum with axes, values/as_xtensor", () => {
      const { c, types } = parsed({
        format: "xgrad-case/1",
        inputs: [
          { name: "t", kind: "tensor", shape: [2, 3], dtype: "float32", value: [[1, 2, 3], [4, 5, 6]] },
          { name: "u", kind: "tensor", shape: [3], dtype: "float32", value: [10, 20, 30] },
        ],
        nodes: [
          { id: "p", op: "add", args: ["t", "u"] },
          { id: "q", op: "mul", args: ["p", 0.5] },
          { id: "r", op: "sum", args: ["q"], axes: [-2] },
          { id: "rx", op: "as_xtensor", args: ["r"], dims: ["k"] },
          { id: "rv", op: "values", args: ["rx"] },
          { id: "cost", op: "sum", args: ["rv"] },
        ],
        cost: "cost",
      });
      const v = evaluateCaseEngine(buildCase(c, types), { mode: "FAST_RUN", checked: true });
      assert.deepEqual(v.p, { shape: [2, 3], dtype: "float32", data: [11, 22, 33, 14, 25, 36] });
      assert.deepEqual(v.r, { shape: [3], dtype: "float32", data: [12.5, 23.5, 34.5] });
      assert.deepEqual(v.rx.dims, ["k"]);
      assert.deepEqual(v.cost, { shape: [], dtype: "float32", data: [70.5] });
    });

    it("isel/set/inc with {arg: k} index arrays and a weak number update", () => {
      const { c, types } = parsed({
        format: "xgrad-case/1",
        inputs: [
          { name: "x", kind: "xtensor", dims: ["a", "b"], shape: [3, 2], dtype: "float64", value: [[1, 2], [3, 4], [5, 6]] },
          { name: "i", kind: "xtensor", dims: ["k"], shape: [2], dtype: "int32", value: [2, 2] },
        ],
        nodes: [
          { id: "g", op: "isel", args: ["x", "i"], indexers: { a: { arg: 1 }, b: 0 } },
          { id: "s", op: "inc", args: ["x", 10, "i"], indexers: { a: { arg: 2 }, b: { slice: [null, null, -1] } } },
          { id: "cost", op: "sum", args: ["s"], dims: null },
        ],
        cost: "cost",
      });
      const v = evaluateCaseEngine(buildCase(c, types));
      assert.deepEqual(v.g, { dims: ["k"], shape: [2], dtype: "float64", data: [5, 5] });
      // inc accumulates over the repeated index 2.
      assert.deepEqual(v.s.data, [1, 2, 3, 4, 25, 26]);
    });
  });

  describe("errors", () => {
    it("a malformed case without types is the parser's CaseError", () => {
      const bad = clone(SPEC_EXAMPLE) as unknown as Case;
      (bad.nodes[2] as { dims: string[] }).dims = ["q"];
      assert.throws(() => buildCase(bad), CaseError);
    });

    it("the engine refusing a node (types trusted) is a CaseBuildError naming node, op and the engine's message", () => {
      const { c, types } = parsed(SPEC_EXAMPLE);
      const bad = clone(c);
      bad.nodes.splice(4, 0, { id: "t", op: "transpose", args: ["s"], dims: ["c", "zz"] });
      assert.throws(
        () => buildCase(bad, new Map([...types, ["t", { kind: "xtensor", dims: ["c", "b"], shape: [2, 4], dtype: "float64" }]])),
        (e: unknown) => {
          assert.ok(e instanceof CaseBuildError && e instanceof XgradError, String(e));
          assert.equal(e.nodeId, "t");
          assert.equal(e.op, "transpose");
          assert.ok(e.cause instanceof OpInputError);
          assert.match(e.message, /^node "t" \(transpose\): the engine rejected a node the case parser accepted: OpInputError: transpose: .*"zz"/);
          return true;
        },
      );
    });

    it("an engine type that disagrees with the parser's is a CaseBuildError naming what differs", () => {
      const { c, types } = parsed(SPEC_EXAMPLE);
      const wrong = new Map(types);
      wrong.set("d", { ...(types.get("d") as VarType), dims: ["c", "b"], shape: [2, 4] });
      assert.throws(() => buildCase(c, wrong), (e: unknown) => e instanceof CaseBuildError && e.nodeId === "d" && /dot\): the engine infers .* but the case parser infers xtensor float64 \(c=2, b=4\) \(dims\)/.test(e.message));
      wrong.set("d", { ...(types.get("d") as VarType), dtype: "float32" });
      assert.throws(() => buildCase(c, wrong), (e: unknown) => e instanceof CaseBuildError && /\(dtype\)$/.test(e.message));
    });
  });
});
