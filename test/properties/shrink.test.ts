/** The graph reducer: valid, strictly smaller steps, 1-minimal results, same signature. */
import { strict as assert } from "node:assert";
import type { Case, CaseInput } from "../../src/case/format.js";
import { parseTypedCase } from "../../src/case/parse.js";
import { writeCase } from "../../src/case/write.js";
import { buildCase, evaluateCaseEngine } from "../../src/case/build.js";
import { type PullbackRule, withPullbackOverride } from "../../src/grad/registry.js";
import { mul, sub } from "../../src/tensor/elemwise.js";
import { transpose as ptTranspose } from "../../src/tensor/shape.js";
import { Rename, asXTensor, values } from "../../src/xtensor/basic.js";
import { isXTensorVariable } from "../../src/xtensor/type.js";
import { runProperties } from "../../properties/properties.js";
import {
  caseSize, checkSignature, numComplexity, oneStepReductions, parseSignature, renameInputs, shrinkCase, shrinkFailure,
} from "../../properties/shrink.js";
import { SPEC_EXAMPLE, clone } from "../case/fixtures.js";
import { fault1Repro } from "./fault1-repro.js";

const isScalar = (s: string) => (op: { name: string; props: object }): boolean => op.name === "Elemwise" && (op.props as { scalar?: string }).scalar === s;
const wrongTanh = <T>(fn: () => T): T => withPullbackOverride(isScalar("tanh"), (_i, [y], [g]) => [mul(g, sub(1, y))], fn);
/** d exp = exp, broken to 2·exp. */
const wrongExp = <T>(fn: () => T): T => withPullbackOverride(isScalar("exp"), (_i, [y], [g]) => [mul(mul(g, y), 2)], fn);

/**
 * Fault #1 of the zoo (bench/faults/01-rename-mapping.ts) as an override: when the cotangent
 * arrives in the output's dims order and its names permute x's, Rename's pullback moves the
 * values by name (a transpose) instead of relabelling them by position.
 */
const renameByName: PullbackRule = (inputs, outputs, cotangents, node) => {
  const xDims = (inputs[0].type as unknown as { dims: readonly string[] }).dims;
  const outDims = (outputs[0].type as unknown as { dims: readonly string[] }).dims;
  const g = cotangents[0];
  if (isXTensorVariable(g) && g.type.dims.every((d, i) => d === outDims[i])) {
    const perm = xDims.map((d) => g.type.dims.indexOf(d));
    if (perm.every((p) => p >= 0)) return [asXTensor(ptTranspose(values(g), perm), xDims)];
  }
  return (node.op as Rename).pullback(inputs, outputs, cotangents);
};
const faultOne = <T>(fn: () => T): T => withPullbackOverride(Rename, renameByName, fn);

const xin = (name: string, dims: string[], shape: number[], value: CaseInput["value"]): CaseInput => ({ name, kind: "xtensor", dims, shape, dtype: "float64", value });

/** A bigger case around one tanh: dead code, a second branch, a rename, a 3×4 input. */
function noisy(): Case {
  const c = clone(SPEC_EXAMPLE) as Case;
  c.inputs.push(xin("z", ["c"], [2], [0.3, 0.7]));
  c.nodes = [
    { id: "e", op: "exp", args: ["x"] },
    { id: "t", op: "tanh", args: ["e"] },
    { id: "dead", op: "sin", args: ["x"] },
    { id: "Wx", op: "as_xtensor", args: ["W"], dims: ["a", "c"] },
    { id: "d", op: "dot", args: ["t", "Wx"], dims: ["a"] },
    { id: "dz", op: "add", args: ["d", "z"] },
    { id: "r", op: "rename", args: ["dz"], map: { c: "q" } },
    { id: "s", op: "mul", args: ["r", 1.37] },
    { id: "cost", op: "sum", args: ["s"], dims: ["b", "q"] },
  ];
  return c;
}

/** Asserts every candidate handed to the predicate is valid and strictly smaller than the last kept case. */
function guarded(pred: (c: Case) => boolean | Promise<boolean>): { fn: (c: Case) => Promise<boolean>; seen: Case[] } {
  const seen: Case[] = [];
  return {
    seen,
    fn: async (c) => {
      parseTypedCase(c);
      seen.push(c);
      return pred(c);
    },
  };
}

describe("properties/shrink", () => {
  describe("sizes", () => {
    it("numComplexity orders simple numbers first", () => {
      assert.equal(numComplexity(0), 0);
      assert.ok(numComplexity(1) < numComplexity(0.5));
      assert.ok(numComplexity(0.5) < numComplexity(0.37));
      assert.ok(numComplexity(1.5) < numComplexity(1.37));
      assert.ok(numComplexity(2) < numComplexity(-2));
    });

    it("parseSignature splits the four parts (an op may contain a slash)", () => {
      assert.deepEqual(parseSignature("direct-vs-lowered/mismatch/rename/-"), { property: "direct-vs-lowered", failureClass: "mismatch", failingOp: "rename", errorClass: "-" });
      assert.equal(parseSignature("rewrite-soundness/invariant/a/b/InvariantError").failingOp, "a/b");
      assert.throws(() => parseSignature("nope"));
    });
  });

  describe("shrinkCase (with pure predicates)", () => {
    it("reduces to a 1-minimal case: no single reduction keeps the predicate", async () => {
      const pred = (c: Case): boolean => c.nodes.some((n) => n.op === "tanh");
      const g = guarded(pred);
      const r = await shrinkCase(noisy(), g.fn);
      assert.equal(r.minimal, true);
      assert.deepEqual(r.case.nodes.map((n) => n.op), ["tanh"]);
      assert.deepEqual(r.case.inputs.map((i) => [i.shape, i.value]), [[[], 0]]);
      for (const cand of oneStepReductions(r.case, { autoDce: r.autoDce })) assert.equal(pred(cand.case), false, `${cand.pass}: ${cand.detail} still holds`);
    });

    it("keeps only valid, strictly smaller cases, and is deterministic", async () => {
      const pred = (c: Case): boolean => c.nodes.some((n) => n.op === "dot") && c.inputs.some((i) => i.shape.length === 2);
      const a = await shrinkCase(noisy(), guarded(pred).fn);
      const b = await shrinkCase(noisy(), pred);
      assert.equal(writeCase(a.case), writeCase(b.case));
      assert.deepEqual(a.steps, b.steps);
      assert.equal(a.evaluations, b.evaluations);
      let prev = caseSize(noisy());
      for (const s of a.steps) {
        assert.ok(s.size.join() < prev.join() || s.size.some((v, i) => v !== prev[i]), "steps change the size");
        const k = s.size.findIndex((v, i) => v !== prev[i]);
        assert.ok(s.size[k] < prev[k], `${s.pass}: ${s.detail} does not shrink (${prev} → ${s.size})`);
        prev = [...s.size];
      }
      assert.equal(a.minimal, true);
    });

    it("respects the evaluation budget and says the result may not be minimal", async () => {
      const r = await shrinkCase(noisy(), () => true, { maxEvaluations: 3 });
      assert.equal(r.evaluations, 3);
      assert.equal(r.minimal, false);
    });

    it("a fresh input holds the replaced node's forward value", async () => {
      const c = noisy();
      const before = evaluateCaseEngine(buildCase(c));
      // Keep tanh applied to something equal to exp(x)[0, 0], and the number it computes.
      const t00 = before.t.data[0];
      const pred = (x: Case): boolean => {
        if (!x.nodes.some((n) => n.op === "tanh")) return false;
        const v = evaluateCaseEngine(buildCase(x));
        return v.t !== undefined && Math.abs(v.t.data[0] - t00) < 1e-15;
      };
      const r = await shrinkCase(c, pred);
      const e = r.case.inputs.find((i) => i.name === "e");
      assert.ok(e !== undefined, writeCase(r.case));
      assert.equal(e.shape.length, 0);
      assert.equal(e.value, before.e.data[0]);
    });

    it("float constants stay non-integral, integral ones stay integral", async () => {
      const c: Case = {
        format: "xgrad-case/1",
        inputs: [xin("x", [], [], 0.7)],
        nodes: [
          { id: "m", op: "mul", args: ["x", 1.37] },
          { id: "k", op: "add", args: ["m", 17] },
          { id: "cost", op: "sum", args: ["k"], dims: null },
        ],
        cost: "cost",
      };
      const pred = (x: Case): boolean => x.nodes.some((n) => n.op === "mul" && typeof n.args[1] === "number") && x.nodes.some((n) => n.op === "add" && typeof n.args[1] === "number");
      const r = await shrinkCase(c, pred);
      const m = r.case.nodes.find((n) => n.op === "mul");
      const k = r.case.nodes.find((n) => n.op === "add");
      assert.equal(m?.args[1], 0.5);
      assert.equal(k?.args[1], 0);
    });

    it("drops and shortens dims everywhere they are consistent", async () => {
      // Keep a dot that contracts a shared dim of length ≥ 2.
      const c = clone(SPEC_EXAMPLE) as Case;
      const pred = (x: Case): boolean => {
        const d = x.nodes.find((n) => n.op === "dot");
        if (d === undefined) return false;
        const t = parseTypedCase(x).types.get(d.args[0] as string);
        return t !== undefined && (t.dims ?? []).includes("a") && t.shape[(t.dims ?? []).indexOf("a")] >= 2;
      };
      const r = await shrinkCase(c, pred);
      const x = r.case.inputs.find((i) => i.kind === "xtensor" && i.dims.includes("a"));
      assert.ok(x !== undefined && x.kind === "xtensor");
      assert.deepEqual(x.dims, ["a"]);
      assert.deepEqual(x.shape, [2]);
      assert.equal(r.minimal, true);
    });

    it("simplifies parameters: ddof, dims lists, slices, indexers", async () => {
      const c: Case = {
        format: "xgrad-case/1",
        inputs: [xin("x", ["a", "b"], [3, 3], [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.8, 0.95]])],
        nodes: [
          { id: "s", op: "isel", args: ["x"], indexers: { a: { slice: [1, null, 2] }, b: 2 } },
          { id: "v", op: "var", args: ["s"], dims: ["a"], ddof: 1 },
          { id: "cost", op: "sum", args: ["v"], dims: null },
        ],
        cost: "cost",
      };
      const pred = (x: Case): boolean => x.nodes.some((n) => n.op === "var") && x.nodes.some((n) => n.op === "isel");
      const r = await shrinkCase(c, pred);
      const v = r.case.nodes.find((n) => n.op === "var");
      const s = r.case.nodes.find((n) => n.op === "isel");
      assert.ok(v !== undefined && v.op === "var" && s !== undefined && s.op === "isel", writeCase(r.case));
      assert.equal(v.ddof, undefined, writeCase(r.case));
      assert.ok(v.dims === null || v.dims === undefined || v.dims.length === 0, writeCase(r.case));
      assert.ok(Object.values(s.indexers).every((ix) => ix === 0 || (typeof ix === "object" && "slice" in ix && ix.slice.every((e) => e === null))), writeCase(r.case));
    });
  });

  describe("rerolls: renamed inputs, a fresh draw for a predicate keyed by names", () => {
    /**
     * A failure seen only under one draw in three, keyed by the graph's structure and input
     * names (not by values), as positional-forms' forms races are: deleting a node redraws.
     */
    const keyed = (c: Case): boolean => {
      if (!c.nodes.some((n) => n.op === "tanh")) return false;
      const text = JSON.stringify([c.inputs.map((i) => [i.name, i.kind === "xtensor" ? i.dims : null, i.dtype]), c.nodes, c.cost]);
      let h = 0x811c9dc5;
      for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
      return (h >>> 0) % 3 === 0;
    };
    /** noisy() under the first renaming that makes the draw hold. */
    const start = (): Case => {
      for (let t = 1; ; t++) {
        const r = renameInputs(noisy(), t);
        if (r !== null && keyed(r.case)) return r.case;
      }
    };

    it("renameInputs renames every input and every reference, and changes no value", () => {
      const c = noisy();
      c.wrt = ["x", "W"];
      const r = renameInputs(c, 3);
      assert.ok(r !== null);
      assert.deepEqual(r.case.inputs.map((i) => i.name), ["x_r3", "W_r3", "ik_r3", "z_r3"]);
      assert.deepEqual(r.case.wrt, ["x_r3", "W_r3"]);
      assert.deepEqual(r.case.nodes.find((n) => n.id === "Wx")?.args, ["W_r3"]);
      assert.equal(r.shown, "x → x_r3, W → W_r3, ik → ik_r3, z → z_r3");
      const [a, b] = [evaluateCaseEngine(buildCase(c)), evaluateCaseEngine(buildCase(r.case))];
      for (const n of c.nodes) assert.deepEqual(b[n.id].data, a[n.id].data, n.id);
      // A second renaming replaces the first's suffix; the same one changes nothing.
      assert.deepEqual(renameInputs(r.case, 4)?.case.inputs.map((i) => i.name), ["x_r4", "W_r4", "ik_r4", "z_r4"]);
      assert.equal(renameInputs(r.case, 3), null);
    });

    it("without rerolls the reduction stops where every reduction redraws; with them it reaches the failure's minimum", async () => {
      const plain = await shrinkCase(start(), keyed);
      const rerolled = await shrinkCase(start(), guarded(keyed).fn, { rerolls: 8 });
      assert.ok(plain.case.nodes.length > 1, `the plain reduction already reaches ${writeCase(plain.case)}: the test shows nothing`);
      assert.deepEqual(rerolled.case.nodes.map((n) => n.op), ["tanh"], writeCase(rerolled.case));
      assert.equal(rerolled.minimal, true);
      assert.ok(rerolled.steps.some((s) => s.detail.includes("inputs renamed")));
      // Deterministic, as every reduction.
      const again = await shrinkCase(start(), keyed, { rerolls: 8 });
      assert.equal(writeCase(again.case), writeCase(rerolled.case));
    });
  });

  describe("shrinkFailure (engine faults)", () => {
    it("a wrong tanh rule shrinks to one tanh node on a 0-d input", async () => {
      await wrongTanh(async () => {
        const c = noisy();
        const check = (await runProperties(c, { properties: ["direct-vs-finiteDiff"] })).verdict.checks[0];
        const { signature } = await checkSignature(c, check);
        assert.equal(signature, "direct-vs-finiteDiff/mismatch/tanh/-");
        const r = await shrinkFailure(c, signature);
        assert.equal(r.signature, signature);
        assert.deepEqual(r.case.nodes.map((n) => n.op), ["tanh"]);
        assert.equal(r.minimal, true);
      });
    });

    it("keeps the signature: with two broken rules it does not drift from the first to the second", async () => {
      await wrongExp(() =>
        wrongTanh(async () => {
          // t = tanh(x) comes first, so the signature names tanh; deleting t would leave the exp bug.
          const c: Case = {
            format: "xgrad-case/1",
            inputs: [xin("x", ["a"], [2], [0.3, 0.6]), xin("w", ["a"], [2], [1.1, 0.7])],
            nodes: [
              { id: "t", op: "tanh", args: ["x"] },
              { id: "e", op: "exp", args: ["t"] },
              { id: "m", op: "mul", args: ["e", "w"] },
              { id: "cost", op: "sum", args: ["m"], dims: null },
            ],
            cost: "cost",
            wrt: ["x"],
          };
          const check = (await runProperties(c, { properties: ["direct-vs-finiteDiff"] })).verdict.checks[0];
          const { signature } = await checkSignature(c, check);
          assert.equal(signature, "direct-vs-finiteDiff/mismatch/tanh/-");
          const r = await shrinkFailure(c, signature);
          assert.ok(r.case.nodes.some((n) => n.op === "tanh"), writeCase(r.case));
          assert.ok(r.case.nodes.length <= 1, writeCase(r.case));
        }),
      );
    });

    it("a signature without an op is completed by localizing the original case", async () => {
      await wrongTanh(async () => {
        const r = await shrinkFailure(noisy(), "direct-vs-finiteDiff/mismatch/-/-", { maxEvaluations: 200 });
        assert.equal(r.signature, "direct-vs-finiteDiff/mismatch/tanh/-");
      });
    });

    it("fault #1's zoo repro: the relabel pass bypasses values → as_xtensor and re-types the weight (5 → 3 nodes)", async () => {
      await faultOne(async () => {
        const c = fault1Repro();
        const check = (await runProperties(c, { properties: ["perNode-vs-lowered"] })).verdict.checks[0];
        const { signature } = await checkSignature(c, check);
        assert.equal(signature, "perNode-vs-lowered/mismatch/rename/-");
        const r = await shrinkFailure(c, signature);
        assert.ok(r.case.nodes.length <= 3, writeCase(r.case));
        assert.deepEqual(r.case.nodes.map((n) => n.op), ["rename", "mul", "sum"]);
        assert.ok(r.steps.some((s) => s.pass === "relabel"), r.steps.map((s) => s.pass).join());
        // The weight now varies along the renamed value's third dim, which keeps the failure.
        const w = r.case.inputs.find((i) => i.name === "w2");
        const rn = r.case.nodes[0];
        assert.ok(w?.kind === "xtensor" && rn.op === "rename" && w.dims[0] === "c", writeCase(r.case));
        assert.equal(r.minimal, true);
      });
      // Unpatched, the same 3-node case passes: the repro is about the fault, not the reducer.
      const fixed = await shrinkFailure(fault1Repro(), "perNode-vs-lowered/mismatch/rename/-").catch((e: Error) => e);
      assert.ok(fixed instanceof Error && /does not fail/.test(fixed.message));
    });

    it("refuses a case that does not fail with the signature", async () => {
      await assert.rejects(() => shrinkFailure(noisy(), "direct-vs-lowered/mismatch/tanh/-"), /does not fail/);
    });
  });
});
