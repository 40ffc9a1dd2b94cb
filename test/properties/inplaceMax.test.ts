/**
 * The rewrite-soundness stage that makes nodes in place wherever the DestroyHandler's validation
 * accepts them (properties/inplaceMax.ts). Validation and the inplace pass's candidate filter
 * overlap, so a validation hole never shows in FAST_RUN; these tests show the stage reaching
 * past the filter on a correct engine and catching a validation that forgot graph outputs.
 */
import { strict as assert } from "node:assert";
import type { FunctionGraph } from "../../src/graph/fgraph.js";
import { DestroyHandler } from "../../src/rewriting/destroyhandler.js";
import { tensor, constant } from "../../src/tensor/basic.js";
import { add, exp, mul } from "../../src/tensor/elemwise.js";
import { sum } from "../../src/tensor/reduce.js";
import { compile } from "../../src/compile/function.js";
import { NDArray } from "../../src/ndarray/ndarray.js";
import type { Case } from "../../src/case/format.js";
import { compileInplaceWhereverValid, mutableInputsValues } from "../../properties/inplaceMax.js";
import { inplaceStageScheduled, mutableStageScheduled, runProperties } from "../../properties/properties.js";
import fc from "fast-check";
import type { Variable } from "../../src/graph/basic.js";
import { buildCase } from "../../src/case/build.js";
import { grad } from "../../src/grad/driver.js";
import { caseArbitrary } from "../../properties/generators.js";

const destroyers = (fg: FunctionGraph): number => [...fg.applyNodes].filter((n) => Object.keys(n.op.destroyMap).length > 0).length;

/**
 * Run `fn` with a DestroyHandler that orders no reader before a destroyer (the background PR's
 * bug class). The inplace pass never destroys a buffer with another reader, so FAST_RUN does
 * not depend on those orderings; only a destroyer that validation admitted next to a reader does.
 */
async function withoutReaderOrderings<T>(fn: () => Promise<T>): Promise<T> {
  type Patchable = { orderings(fg: FunctionGraph): Map<unknown, unknown> };
  const proto = DestroyHandler.prototype as unknown as Patchable;
  const orig = proto.orderings;
  proto.orderings = () => new Map();
  try {
    return await fn();
  } finally {
    proto.orderings = orig;
  }
}

describe("properties/inplaceMax: in place wherever validation allows", () => {
  it("goes past the inplace pass's candidates (a buffer with another reader, ordered first) and keeps the values", () => {
    const x = tensor("x", { shape: [4] });
    // e is read by sum and by mul: the pass never proposes destroying it (another reader);
    // validation accepts mul writing into it once the sum is ordered first.
    const e = exp(x);
    const out = add(sum(e), sum(mul(e, constant(2.5))));
    const xs = [NDArray.fromFlat([0.1, 0.2, 0.3, 0.4], [4])];
    const ref = compile([x], [out], { mode: "NONE" })(...xs)[0].toFlat();
    const fast = compile([x], [out], { mode: "FAST_RUN" });
    const { run, made } = compileInplaceWhereverValid([x], [out]);
    assert.ok(made > destroyers(fast.fgraph), `made ${made} in place; FAST_RUN made ${destroyers(fast.fgraph)}`);
    assert.deepEqual(run(xs)[0].toFlat(), ref);
  });

  it("catches a handler that forgot reader orderings, which FAST_RUN alone does not", async () => {
    // e = exp(x) is read by sum (r) and by mul (m): validation admits mul writing into e once r
    // is ordered first. Without that ordering the schedule is whatever the data graph gives, so
    // one of the two argument orders runs mul first and r sums the clobbered buffer.
    const caseWith = (first: "r" | "m"): Case => {
      const r = { id: "r", op: "sum", args: ["e"], dims: null };
      const m = { id: "m", op: "mul", args: ["e", 2.5] };
      return {
        format: "xgrad-case/1",
        inputs: [{ name: "x", kind: "xtensor", dims: ["a"], shape: [3], dtype: "float64", value: [0.1, -0.4, 0.7] }],
        nodes: [{ id: "e", op: "exp", args: ["x"] }, ...(first === "r" ? [r, m] : [m, r]), { id: "t", op: "sum", args: ["m"], dims: null }, { id: "cost", op: "add", args: first === "r" ? ["r", "t"] : ["t", "r"] }],
        cost: "cost",
      } as unknown as Case;
    };
    const statuses: string[] = [];
    for (const first of ["r", "m"] as const) {
      const ok = await runProperties(caseWith(first), { properties: ["rewrite-soundness"] });
      assert.equal(ok.verdict.checks[0].status, "pass", ok.verdict.checks[0].reason);
      const k = (await withoutReaderOrderings(() => runProperties(caseWith(first), { properties: ["rewrite-soundness"] }))).verdict.checks[0];
      assert.notEqual(k.status, "error", k.reason);
      if (k.status === "fail") assert.match(k.reason ?? "", /in place wherever validation allows/);
      statuses.push(k.status);
    }
    assert.ok(statuses.includes("fail"), `no order failed: ${statuses.join(", ")}`);
  });

  it("runs on about half the cases within the full suite, decided by the case seed alone", () => {
    let on = 0;
    for (let seed = 0; seed < 2000; seed++) if (inplaceStageScheduled(seed * 7919)) on++;
    assert.ok(on > 900 && on < 1100, `${on} of 2000`);
    assert.equal(inplaceStageScheduled(12345), inplaceStageScheduled(12345));
  });

  describe("the mutable-inputs stage", () => {
    const sample = fc.sample(caseArbitrary({}), { seed: 5154, numRuns: 40 }).map((g) => g.case);

    it("overwrites some input in a fair share of cases, with NONE's values (a stage that never writes would prove nothing)", () => {
      let over = 0;
      for (const c of sample) {
        const b = buildCase(c);
        const gs = b.wrt.length > 0 ? (grad(b.cost, b.wrt, { disconnectedInputs: "ignore" }) as Variable[]) : [];
        if (mutableInputsValues(b, gs).overwritten > 0) over++;
      }
      assert.ok(over >= 8, `${over} of ${sample.length} cases overwrote an input`);
    });

    it("fails when the DestroyHandler ignores mutableInputs: checked mode sees the writes it left out (its candidate query or its in-place promise)", async () => {
      type Patchable = { protectedVars(fg: FunctionGraph): Set<Variable> };
      const proto = DestroyHandler.prototype as unknown as Patchable;
      const orig = proto.protectedVars;
      proto.protectedVars = (fg) => new Set<Variable>([...fg.inputs, ...fg.outputs]);
      const fails: string[] = [];
      try {
        for (const c of sample) {
          const k = (await runProperties(c, { properties: ["rewrite-soundness"] })).verdict.checks[0];
          if (k.status !== "pass") fails.push(`${k.status}: ${k.reason ?? ""}`);
        }
      } finally {
        proto.protectedVars = orig;
      }
      assert.ok(fails.length >= 3, `${fails.length} of ${sample.length} cases failed`);
      // The candidate query against the restated contract (which counts mutable inputs as
      // writable) usually speaks first; the in-place promise otherwise.
      for (const f of fails) assert.match(f, /every input mutable.*(broke its promise inplace|DestroyHandler\.inplaceCandidates\(.*\) proposes input\(s\) \[.*\], but the in-place contract restated from the graph allows)/);
    });

    it("runs on about a quarter of the cases within the full suite, all of them in-place-stage cases", () => {
      let on = 0;
      for (let seed = 0; seed < 4000; seed++) {
        if (!mutableStageScheduled(seed * 7919)) continue;
        on++;
        assert.ok(inplaceStageScheduled(seed * 7919));
      }
      assert.ok(on > 850 && on < 1150, `${on} of 4000`);
    });
  });
});

