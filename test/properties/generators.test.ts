/**
 * Contract tests of the case generator (fast-check's ArbitraryAssertions, applied to recipes):
 * the same seed gives the same case, every generated case is valid, shrinks stay valid and get
 * smaller, every op is generated, and the values keep every op inside its domain — the last
 * judged on the actual values computed by the independent reference interpreter, not on the
 * generator's own value sets.
 */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import { CASE_OPS, isFloatDtype, type Case, type CaseNode } from "../../src/case/format.js";
import { parseTypedCase } from "../../src/case/parse.js";
import { writeCase } from "../../src/case/write.js";
import { SCALAR_OPS, type InputDomain, type ScalarName } from "../../src/tensor/elemwise.js";
import { REDUCE_DOMAINS } from "../../src/tensor/reduce.js";
import { CUM_DOMAINS } from "../../src/tensor/cumulative.js";
import { caseArbitrary, recipeArbitrary, buildFromRecipe, type GeneratedCase, type Recipe } from "../../properties/generators.js";
import { caseFeatures, costTail, featureCounts, formatFeatureCounts } from "../../properties/stats.js";
import { CAP, INT_CAST_MARGIN } from "../../properties/domains.js";
import { evaluateCase, type RefValue } from "../xtensor/reference.js";
import { runProperties } from "../../properties/properties.js";

const sample = (n: number, seed: number, opts = {}): GeneratedCase[] => fc.sample(caseArbitrary(opts), { numRuns: n, seed });

/** Parse a case exactly as a file would be read (JSON round trip, so no shared references). */
const reparse = (c: Case) => parseTypedCase(JSON.parse(JSON.stringify(c)));

describe("properties/generators", function () {
  it("regression: an update indexing four dims by new-dim arrays runs out of names and repairs to a slice (seed 2027 case 5653)", () => {
    const recipe = {"steps":[{"op":"max","p":[3,144,63,208,41,1,219,5]},{"op":"pow","p":[1,249,249,48,6,225,20,253]},{"op":"min","p":[7,5,253,94,119,146,4,251]},{"op":"stack","p":[7,30,1,27,252,154,4,18]},{"op":"inc","p":[2,253,67,246,255,7,7,7]},{"op":"as_xtensor","p":[3,73,71,5,242,6,4,107]},{"op":"max","p":[251,231,137,254,5,23,195,175]},{"op":"unstack","p":[253,180,212,248,166,48,4,149]}],"lens":[2,1,2,1],"root":251,"seed":10} as unknown as Recipe;
    parseTypedCase(buildFromRecipe(recipe));
  });

  it("regression: a node holding all eight dim names takes no new dim, so a stack of it is skipped, not named undefined (seed 5 case 2044)", () => {
    const recipe = {"steps":[{"op":"expand_dims","p":[239,89,76,107,166,251,0,108]},{"op":"max","p":[2,45,89,6,131,209,6,254]},{"op":"inc","p":[1,2,172,251,84,168,7,60]},{"op":"square","p":[183,172,236,44,231,249,120,251]},{"op":"abs","p":[3,188,1,1,183,252,26,248]},{"op":"stack","p":[251,11,249,3,20,35,1,237]},{"op":"neg","p":[1,2,214,1,6,3,0,1]}],"lens":[1,1,1,1],"root":3,"seed":28403} as unknown as Recipe;
    const c = buildFromRecipe(recipe);
    parseTypedCase(JSON.parse(JSON.stringify(c)));
    assert.ok(c.inputs.some((i) => i.kind === "xtensor" && i.dims.length === 8), "the recipe no longer builds a node of eight dims");
  });

  this.timeout(120000);

  // One shared sample of 2,000 cases for the validity, coverage and domain tests.
  const N = 2000;
  let cases: GeneratedCase[] = [];
  before(() => {
    // XGRAD_GEN_SEED reruns the whole contract on another sample (stress runs).
    cases = sample(N, Number(process.env.XGRAD_GEN_SEED ?? 20261126));
  });

  describe("determinism", () => {
    it("the same seed gives the same recipes and cases", () => {
      const a = sample(60, 1234);
      const b = sample(60, 1234);
      assert.deepEqual(a, b);
      assert.notDeepEqual(a, sample(60, 1235));
    });

    it("buildFromRecipe is pure: rebuilding a recipe gives the same case text", () => {
      for (const g of cases.slice(0, 200)) {
        const again = buildFromRecipe(JSON.parse(JSON.stringify(g.recipe)) as Recipe);
        assert.equal(writeCase(again), writeCase(g.case));
      }
    });
  });

  describe("validity", () => {
    it(`100% of ${N} generated cases parse with parseTypedCase and round-trip through writeCase`, () => {
      let valid = 0;
      const failures: string[] = [];
      for (const g of cases) {
        try {
          const { case: parsed } = reparse(g.case);
          assert.equal(writeCase(parsed), writeCase(g.case));
          valid++;
        } catch (e) {
          if (failures.length < 3) failures.push(`${(e as Error).message}\n${JSON.stringify(g.recipe)}`);
        }
      }
      console.log(`      generators: ${valid}/${N} cases valid (${((100 * valid) / N).toFixed(2)}%)`);
      assert.equal(valid, N, failures.join("\n\n"));
    });

    it("cost is a 0-d float64 sum of weighted sinks; wrt lists float data inputs only, never the weights", () => {
      for (const g of cases.slice(0, 500)) {
        const { case: c, types } = reparse(g.case);
        const t = types.get(c.cost);
        assert.ok(t !== undefined && t.shape.length === 0 && t.dtype === "float64");
        const tail = costTail(c);
        const weights = c.inputs.filter((i) => i.name.startsWith("w"));
        assert.ok(weights.length >= 1);
        for (const w of weights) {
          assert.ok(!(c.wrt ?? []).includes(w.name), `weight ${w.name} is in wrt`);
          // Weights are drawn from [0.5, 1.5): every output element matters.
          const flat = [w.value].flat(8) as number[];
          assert.ok(flat.every((v) => v >= 0.5 && v < 1.5));
          // A weight is used once, by a mul in the cost tail.
          const users = c.nodes.filter((n) => (n.args as unknown[]).includes(w.name));
          assert.equal(users.length, 1);
          assert.ok(tail.has(users[0].id) && users[0].op === "mul");
        }
        for (const name of c.wrt ?? []) {
          const inp = c.inputs.find((i) => i.name === name);
          assert.ok(inp !== undefined && isFloatDtype(inp.dtype));
        }
      }
    });

    it("any recipe at all builds a valid case: empty, huge or negative choices, odd lengths", () => {
      const wild = fc.record({
        lens: fc.array(fc.integer({ min: -3, max: 9 }), { minLength: 0, maxLength: 6 }),
        root: fc.integer({ min: -5, max: 100000 }),
        seed: fc.integer(),
        steps: fc.array(fc.record({
          op: fc.constantFrom(...CASE_OPS),
          p: fc.array(fc.integer({ min: -1000, max: 1000000 }), { maxLength: 10 }),
        }, { noNullPrototype: true }), { maxLength: 12 }),
      }, { noNullPrototype: true });
      fc.assert(fc.property(wild, (r) => {
        reparse(buildFromRecipe(r as Recipe));
      }), { seed: 99, numRuns: 300 });
    });

    it("deleting any one step of a recipe still builds a valid case", () => {
      for (const g of cases.slice(0, 150)) {
        for (let k = 0; k < g.recipe.steps.length; k++) {
          const r = { ...g.recipe, steps: g.recipe.steps.filter((_, i) => i !== k) };
          reparse(buildFromRecipe(r));
        }
      }
    });
  });

  describe("shrinking", () => {
    it("shrinks (3 levels, 100 cases) all parse and never grow; most cases have a strictly smaller shrink", () => {
      const arb = caseArbitrary();
      let checked = 0;
      let withSmaller = 0;
      let levels = 0;
      for (const g0 of cases.slice(0, 100)) {
        let g = g0;
        for (let level = 0; level < 3; level++) {
          assert.ok(arb.canShrinkWithoutContext(g));
          const shrinks = [...arb.shrink(g, undefined).take(60)].map((v) => v.value);
          const n = g.case.nodes.length;
          let smaller: GeneratedCase | undefined;
          for (const s of shrinks) {
            reparse(s.case);
            assert.ok(s.case.nodes.length <= n, `shrink grew from ${n} to ${s.case.nodes.length} nodes`);
            // The case is a function of the recipe: a shrink is its recipe rebuilt.
            assert.equal(writeCase(buildFromRecipe(s.recipe)), writeCase(s.case));
            checked++;
            smaller ??= s.case.nodes.length < n ? s : undefined;
          }
          if (level === 0 && smaller !== undefined) withSmaller++;
          if (smaller === undefined) break;
          levels++;
          g = smaller;
        }
      }
      // A case may have no smaller shrink: at the minimum step count (3) nothing can be deleted,
      // and deleting a step that was skipped, or whose node was a sink, may not reduce nodes.
      console.log(`      generators: ${checked} shrinks checked; ${withSmaller}/100 cases have a strictly smaller shrink among their first 60; ${levels} levels walked`);
      assert.ok(withSmaller >= 80, `${withSmaller}`);
    });

    it("fc.assert shrinks a failing property to a small valid case and replays it from the path", () => {
      const prop = fc.property(caseArbitrary(), (g) => !g.case.nodes.some((n) => n.op === "dot"));
      const out = fc.check(prop, { seed: 5, numRuns: 500 });
      assert.ok(out.failed && out.counterexample !== null);
      const [g] = out.counterexample as [GeneratedCase];
      reparse(g.case);
      assert.ok(g.recipe.steps.length <= 3, `shrunk to ${g.recipe.steps.length} steps`);
      const replay = fc.check(prop, { seed: 5, numRuns: 500, path: out.counterexamplePath ?? undefined, endOnFailure: true });
      assert.deepEqual((replay.counterexample as [GeneratedCase])[0].case, g.case);
    });
  });

  describe("coverage", () => {
    it(`every op of the case-format table is generated within ${N} cases (cost tail excluded)`, () => {
      const stats = featureCounts(cases.map((g) => g.case));
      const missing = CASE_OPS.filter((op) => !stats.counts.has(`op:${op}`));
      assert.deepEqual(missing, []);
      const least = CASE_OPS.map((op) => [op, stats.counts.get(`op:${op}`) ?? 0] as const).sort((a, b) => a[1] - b[1]).slice(0, 4);
      console.log(`      generators: rarest ops (cases): ${least.map(([o, k]) => `${o} ${k}`).join(", ")}; ${[...stats.counts.keys()].filter((k) => k.startsWith("pair:")).length} op pairs`);
    });

    it("the bug-finding patterns all occur", () => {
      const stats = featureCounts(cases.map((g) => g.case));
      const want = [
        "square-shape", "repeated-input", "diamond", "rename-swap", "stack-reordered", "unstack-split", "concat-new-dim",
        "concat-missing-dim", "concat-self", "isel-vectorized", "isel-array-over-kept-dim", "isel-zipped-arrays", "isel-2d-array",
        "isel-negative-step", "isel-negative-int", "isel-negative-index", "set-repeated-indices", "inc-repeated-indices",
        "dot-shared", "dot-all", "dot-none", "dot-list", "dot-nonshared-dim", "dot-private-sum", "dot-self", "reduce-dims-null", "reduce-reordered",
        "reduce-subset", "transpose-ellipsis", "relabel-permuted", "values-roundtrip", "positional-input", "positional-broadcast",
        "where-computed-cond", "compare-with-own-transpose", "cast-float32", "float32-roundtrip", "weak-int-const", "float-const",
        "int-data-input", "multi-sink", "expand-size>1", "var-ddof", "unstack-reuses-name", "named-broadcast", "sum-axes",
        "cast-float-to-int", "int-cast-structural-to-float", "int-input-structural-to-float",
      ];
      const missing = want.filter((w) => !stats.counts.has(w));
      if (missing.length > 0) console.log(formatFeatureCounts(stats).split("\n").filter((l) => !l.startsWith("pair:")).join("\n"));
      assert.deepEqual(missing, []);
    });

    it("integer values reach float computation through structural ops in some 5% of cases each (cast from a float, int input)", () => {
      const stats = featureCounts(cases.map((g) => g.case));
      const per1000 = (t: string): number => Math.round((1000 * (stats.counts.get(t) ?? 0)) / N);
      const cast = per1000("int-cast-structural-to-float");
      const input = per1000("int-input-structural-to-float");
      console.log(`      generators: per 1,000 cases, a float cast to int on a float path ${cast}, an int input routed into float ${input}`);
      assert.ok(cast >= 30, `cast-to-int routes in ${cast} of 1,000 cases (want >= 30)`);
      assert.ok(input >= 30, `int-input routes in ${input} of 1,000 cases (want >= 30)`);
    });

    it("the ops filter restricts the steps and rejects unknown names", () => {
      for (const g of sample(100, 3, { ops: ["log", "max"] })) {
        assert.ok(g.recipe.steps.every((s) => s.op === "log" || s.op === "max"));
        reparse(g.case);
      }
      assert.throws(() => recipeArbitrary({ ops: ["logg" as never] }), /unknown op "logg"/);
      assert.throws(() => recipeArbitrary({ minSteps: 5, maxSteps: 2 }), /minSteps/);
      const lens = sample(200, 4, { minSteps: 0, maxSteps: 2 }).map((g) => g.recipe.steps.length);
      assert.ok(Math.max(...lens) <= 2 && Math.min(...lens) === 0);
    });

    it("caseFeatures names the patterns of a hand-written case", () => {
      const c: Case = {
        format: "xgrad-case/1",
        inputs: [
          { name: "x", kind: "xtensor", dims: ["a", "b"], shape: [2, 2], dtype: "float64", value: [[1, 2], [3, 4]] },
          { name: "i", kind: "xtensor", dims: ["k"], shape: [2], dtype: "int64", value: [1, -1] },
          { name: "w", kind: "xtensor", dims: ["b", "k"], shape: [2, 2], dtype: "float64", value: [[1, 1], [1, 1]] },
        ],
        nodes: [
          { id: "r", op: "rename", args: ["x"], map: { a: "b", b: "a" } },
          { id: "m", op: "mul", args: ["x", "r"] },
          { id: "s", op: "isel", args: ["m", "i"], indexers: { a: { arg: 1 } } },
          { id: "t", op: "mul", args: ["s", "w"] },
          { id: "cost", op: "sum", args: ["t"], dims: null },
        ],
        cost: "cost",
        wrt: ["x"],
      };
      const f = caseFeatures(c);
      for (const t of ["op:rename", "op:mul", "op:isel", "pair:rename>mul", "pair:mul>isel", "rename-swap", "square-shape", "diamond", "isel-vectorized", "isel-negative-index", "isel-repeated-indices"]) {
        assert.ok(f.includes(t), `missing ${t} in ${f.join(", ")}`);
      }
      assert.ok(!f.includes("op:sum"), "the cost tail is not counted");
      // The driver's intdot and intinput cases: an int reaches a float contraction through a transpose.
      const intdot: Case = {
        format: "xgrad-case/1",
        inputs: [
          { name: "x", kind: "xtensor", dims: ["a", "b"], shape: [2, 2], dtype: "float64", value: [[0.3, -0.7], [1.2, 0.5]] },
          { name: "z", kind: "xtensor", dims: ["b", "a"], shape: [2, 2], dtype: "float64", value: [[1.4, 2.3], [0.6, -2.4]] },
          { name: "i", kind: "xtensor", dims: ["b", "a"], shape: [2, 2], dtype: "int64", value: [[1, 2], [0, -2]] },
        ],
        nodes: [
          { id: "k", op: "cast", args: ["z"], dtype: "int64" },
          { id: "t", op: "transpose", args: ["k"], dims: ["a", "b"] },
          { id: "d", op: "dot", args: ["t", "x"], dims: ["b"] },
          { id: "u", op: "transpose", args: ["i"], dims: ["a", "b"] },
          { id: "m", op: "mul", args: ["u", "x"] },
          { id: "s", op: "sum", args: ["m"], dims: ["b"] },
          { id: "e", op: "add", args: ["d", "s"] },
          { id: "cost", op: "sum", args: ["e"], dims: null },
        ],
        cost: "cost",
        wrt: ["x", "z"],
      };
      const g = caseFeatures(intdot);
      for (const t of ["cast-float-to-int", "int-cast-structural-to-float", "int-input-structural-to-float"]) assert.ok(g.includes(t), `missing ${t} in ${g.join(", ")}`);
      assert.ok(!f.includes("int-input-structural-to-float"), "an index array is not an int routed into float computation");
    });
  });

  describe("domains hold at every node (judged on reference-interpreter values)", () => {
    const REAL = SCALAR_OPS.add.domain.inputs[0];
    /** A domain violation message, or null. The tables' default [-3, 3] is a draw range, not a limit. */
    const violates = (d: InputDomain, v: number): string | null => {
      if (d.bool === true) return null;
      if (d.lo > REAL.lo && v < d.lo) return `${v} < ${d.lo}`;
      if (d.hi < REAL.hi && v > d.hi) return `${v} > ${d.hi}`;
      for (const p of d.avoid) if (Math.abs(v - p) < d.margin) return `${v} within ${d.margin} of ${p}`;
      return null;
    };

    /** The elements of each arg of an elemwise node, aligned to the node's output. */
    function aligned(n: CaseNode, out: RefValue, vals: Record<string, RefValue>): number[][] {
      const size = out.shape.reduce((a, b) => a * b, 1);
      const rows: number[][] = [];
      for (let k = 0; k < size; k++) {
        const idx: number[] = [];
        let r = k;
        for (let ax = out.shape.length - 1; ax >= 0; ax--) { idx.unshift(r % out.shape[ax]); r = Math.floor(r / out.shape[ax]); }
        rows.push((n.args as (string | number)[]).map((a) => {
          if (typeof a === "number") return a;
          const v = vals[a];
          let off = 0;
          if (v.dims !== undefined && out.dims !== undefined) {
            v.dims.forEach((d, j) => { off = off * v.shape[j] + idx[(out.dims as string[]).indexOf(d)]; });
          } else {
            const lead = out.shape.length - v.shape.length;
            v.shape.forEach((len, j) => { off = off * len + (len === 1 ? 0 : idx[lead + j]); });
          }
          return v.data[off];
        }));
      }
      return rows;
    }

    /** Elements of x grouped by the coordinates of the dims a reduction keeps. */
    function groups(x: RefValue, reduced: string[]): number[][] {
      const dims = x.dims ?? [];
      const m = new Map<string, number[]>();
      const size = x.shape.reduce((a, b) => a * b, 1);
      for (let k = 0; k < size; k++) {
        const idx: number[] = [];
        let r = k;
        for (let ax = x.shape.length - 1; ax >= 0; ax--) { idx.unshift(r % x.shape[ax]); r = Math.floor(r / x.shape[ax]); }
        const key = dims.map((d, j) => (reduced.includes(d) ? "*" : idx[j])).join();
        if (!m.has(key)) m.set(key, []);
        m.get(key)?.push(x.data[k]);
      }
      return [...m.values()];
    }

    function check(c: Case): string[] {
      const vals = evaluateCase(c);
      const tail = costTail(c);
      const bad: string[] = [];
      const say = (n: CaseNode, msg: string): void => { bad.push(`${n.id} = ${n.op}(${n.args.join(", ")}): ${msg}`); };
      for (const n of c.nodes) {
        const out = vals[n.id];
        if (out.data.some((v) => !Number.isFinite(v))) say(n, "non-finite value");
        if (!tail.has(n.id) && isFloatDtype(out.dtype) && out.data.some((v) => Math.abs(v) > CAP)) say(n, `value beyond ±${CAP}`);
        const x = typeof n.args[0] === "string" ? vals[n.args[0]] : undefined;
        if (n.op in SCALAR_OPS && n.op !== "where" && n.op !== "cast") {
          const spec = SCALAR_OPS[n.op as ScalarName].domain;
          for (const row of aligned(n, out, vals)) {
            row.forEach((v, i) => { const m = violates(spec.inputs[i], v); if (m !== null) say(n, `arg ${i}: ${m}`); });
            for (const rel of spec.relations) {
              const d = Math.abs(row[rel.inputs[0]] - row[rel.inputs[1]]);
              if (d < rel.margin) say(n, `args ${row.join(", ")} closer than ${rel.margin}`);
            }
          }
        }
        if (x === undefined) continue;
        const red = (): string[] => {
          const dn = n as { dims?: string[] | null };
          return dn.dims === undefined || dn.dims === null ? [...(x.dims ?? [])] : dn.dims;
        };
        switch (n.op) {
          case "prod":
            for (const v of x.data) { const m = violates(REDUCE_DOMAINS.prod.input, v); if (m !== null) say(n, m); }
            break;
          case "cumprod":
            for (const v of x.data) { const m = violates(CUM_DOMAINS.mul, v); if (m !== null) say(n, m); }
            break;
          case "max": case "min":
            for (const g of groups(x, red())) {
              const s = [...g].sort((a, b) => a - b);
              for (let i = 1; i < s.length; i++) if (s[i] - s[i - 1] < REDUCE_DOMAINS.max.distinct) say(n, `tie-close values ${s[i - 1]}, ${s[i]}`);
            }
            break;
          case "cast":
            // A cast to an int truncates: its float input keeps INT_CAST_MARGIN from every integer.
            if (/^int/.test(out.dtype) && isFloatDtype(x.dtype)) {
              for (const v of x.data) if (Math.abs(v - Math.round(v)) < INT_CAST_MARGIN) say(n, `${v} cast to ${out.dtype} within ${INT_CAST_MARGIN} of an integer`);
            }
            break;
          case "std":
            for (const g of groups(x, red())) {
              const mean = g.reduce((a, b) => a + b, 0) / g.length;
              const v = g.reduce((a, b) => a + (b - mean) ** 2, 0) / g.length;
              const m = violates(SCALAR_OPS.sqrt.domain.inputs[0], v);
              if (m !== null) say(n, `variance ${m}`);
            }
            break;
          default:
            break;
        }
      }
      return bad;
    }

    it(`${N} cases: log/sqrt/pow arguments positive, no near-ties for max/min/maximum/comparisons, no near-zero prod/cumprod/div/abs inputs, std away from 0, int casts off the integers, values within the cap`, function () {
      const bad: string[] = [];
      let nodes = 0;
      for (const g of cases) {
        const b = check(g.case);
        nodes += g.case.nodes.length;
        if (b.length > 0 && bad.length < 5) bad.push(`${b.slice(0, 3).join("\n")}\n${JSON.stringify(g.recipe)}`);
      }
      console.log(`      generators: domains checked on ${nodes} nodes of ${N} cases`);
      assert.deepEqual(bad, []);
    });

    it("the checker catches a domain violation (log of a value below the table's bound)", () => {
      const c: Case = {
        format: "xgrad-case/1",
        inputs: [{ name: "x", kind: "xtensor", dims: ["a"], shape: [2], dtype: "float64", value: [0.05, 2] }],
        nodes: [{ id: "l", op: "log", args: ["x"] }, { id: "cost", op: "sum", args: ["l"], dims: null }],
        cost: "cost",
      };
      assert.equal(check(c).length, 1);
      const ties: Case = {
        format: "xgrad-case/1",
        inputs: [{ name: "x", kind: "xtensor", dims: ["a", "b"], shape: [2, 2], dtype: "float64", value: [[1, 1.05], [1, 2]] }],
        nodes: [{ id: "m", op: "max", args: ["x"], dims: ["b"] }, { id: "cost", op: "sum", args: ["m"], dims: null }],
        cost: "cost",
      };
      assert.equal(check(ties).length, 1);
      const nearInt: Case = {
        format: "xgrad-case/1",
        inputs: [{ name: "z", kind: "xtensor", dims: ["a"], shape: [3], dtype: "float64", value: [0.5, -1.9, 2.3] }],
        nodes: [{ id: "i", op: "cast", args: ["z"], dtype: "int64" }, { id: "f", op: "cast", args: ["i"], dtype: "float64" }, { id: "cost", op: "sum", args: ["f"], dims: null }],
        cost: "cost",
      };
      assert.deepEqual(check(nearInt), ["i = cast(z): -1.9 cast to int64 within 0.2 of an integer"]);
    });
  });

  describe("rewrite patterns (the extra patterns of recipe.ts, so rewrite-soundness judges these rules)", () => {
    /** The rules the patterns target, each with the pattern that fires it. */
    const TARGETS: Record<string, string> = {
      local_log1p: "log(add(1, x))",
      local_log1msigm: "log(sub(1, sigmoid(x)))",
      local_log_sigmoid: "log(sigmoid(x))",
      local_pow_2_to_square: "pow(x, 2)",
      local_pow_half_to_sqrt: "pow(exp(..), 0.5)",
      local_mul_zero: "int/bool x * 0",
      local_subtensor_of_alloc: "isel(expand_dims(x, size >= 2))",
      local_reduce_of_reduce: "expand_dims(expand_dims(x)) (in the gradient)",
      useless_cast_identity: "positional same-dtype cast",
    };

    const recipe = (op: string, k: number, p0 = 0, p1 = 0): Recipe => ({ lens: [2, 3, 2, 2], root: 0, seed: 1, steps: [{ op: op as never, p: [p0, p1, 0, 0, 0, 0, 0, 32 * k] }] });
    const ops = (c: Case): string[] => c.nodes.filter((n) => !costTail(c).has(n.id)).map((n) => n.op);

    it("the pattern choice is the high bits of a step's last choice: 0 (the shrink target) builds the ordinary step", () => {
      assert.deepEqual(ops(buildFromRecipe(recipe("log", 0))), ["tanh", "exp", "log"], "an ordinary log step repairs the root with exp(tanh(x))");
      assert.deepEqual(ops(buildFromRecipe(recipe("log", 1))), ["tanh", "mul", "add", "log"], "log pattern 1 is log(1 + 0.5·tanh(x))");
      assert.deepEqual(ops(buildFromRecipe(recipe("log", 2))), ["tanh", "sigmoid", "sub", "log"], "log pattern 2 is log(1 - sigmoid(tanh(x)))");
      assert.deepEqual(ops(buildFromRecipe(recipe("sigmoid", 1))), ["tanh", "sigmoid", "log"], "sigmoid pattern 1 is log(sigmoid(tanh(x)))");
      assert.deepEqual(ops(buildFromRecipe(recipe("expand_dims", 1))), ["expand_dims", "expand_dims"], "expand_dims pattern 1 expands twice");
      assert.deepEqual(ops(buildFromRecipe(recipe("isel", 1))), ["expand_dims", "isel"], "isel pattern 1 selects from a fresh expansion");
      assert.deepEqual(ops(buildFromRecipe(recipe("cast", 1))), ["values", "cast"], "cast pattern 1 casts a values node to its own dtype");
      const cast = buildFromRecipe(recipe("cast", 1)).nodes.find((n) => n.op === "cast") as { dtype: string };
      assert.equal(cast.dtype, "float64", "the same-dtype cast keeps the root's dtype");
      // Integer values on a float path: a float cast to int, or an int input, then a structural op,
      // then a float consumer.
      assert.deepEqual(ops(buildFromRecipe(recipe("cast", 3))), ["cast", "transpose", "mul"], "cast pattern 3 is mul(transpose(cast(z, int64)), x)");
      assert.deepEqual(ops(buildFromRecipe(recipe("cast", 3, 1))), ["tanh", "mul", "add", "cast", "transpose", "mul"], "cast pattern 3 on a computed value kept off the integers");
      const intArith = buildFromRecipe(recipe("mul", 3, 0, 2));
      assert.deepEqual(ops(intArith), ["transpose", "add", "mul"], "mul pattern 3 with int arithmetic: the transposed int input plus 2, times a float");
      assert.deepEqual(intArith.nodes[1], { id: "n1", op: "add", args: ["n0", 2] }, "a weak int constant, not 0");
      assert.deepEqual(ops(buildFromRecipe(recipe("dot", 2))), ["cast", "transpose", "dot"], "dot pattern 2 is the intdot case");
      assert.deepEqual(ops(buildFromRecipe(recipe("mul", 3))), ["transpose", "mul"], "mul pattern 3 multiplies a transposed int input");
      assert.deepEqual(ops(buildFromRecipe(recipe("concat", 1))), ["concat", "mul"], "concat pattern 1 concatenates an int input");
      assert.deepEqual(ops(buildFromRecipe(recipe("rename", 2))), ["cast", "rename", "dot"], "rename pattern 2 renames a value cast to int");
      const intCast = buildFromRecipe(recipe("dot", 2));
      assert.deepEqual(intCast.nodes[0], { id: "n0", op: "cast", args: ["x1"], dtype: "int64" });
      assert.ok(intCast.wrt?.includes("x1"), "the value cast to int is a wrt that reaches the cost only through the int");
      const intIn = buildFromRecipe(recipe("mul", 3));
      assert.ok(intIn.inputs.some((i) => i.dtype === "int64" && (i.value as number[][]).flat().every((v) => Math.abs(v) <= 3)), "a small int64 input");
      // A value an op has no pattern for builds the ordinary step.
      assert.deepEqual(buildFromRecipe(recipe("neg", 3)), buildFromRecipe(recipe("neg", 0)), "neg has no pattern");
      for (const op of ["log", "mul", "pow", "isel", "cast", "dot", "transpose", "rename", "expand_dims"]) {
        assert.deepEqual(buildFromRecipe(recipe(op, 0)), buildFromRecipe(recipe(op, 5)), `${op}: pattern value 5 is no pattern`);
      }
    });

    it("each targeted rewrite fires a few times in FAST_RUN over 400 generated cases (rewrite-soundness's fired record)", async () => {
      const fired: Record<string, number> = {};
      const failing: string[] = [];
      for (const g of sample(400, 2042)) {
        const r = await runProperties(g.case, { properties: ["rewrite-soundness"] });
        for (const [k, n] of Object.entries(r.fired)) fired[k] = (fired[k] ?? 0) + n;
        for (const ch of r.verdict.checks) if (ch.status === "fail" || ch.status === "error") failing.push(`${ch.status}: ${JSON.stringify(g.recipe)}`);
      }
      console.log(`      generators: targeted rewrites fired ${Object.keys(TARGETS).map((k) => `${k} ${fired[k] ?? 0}`).join(", ")}`);
      for (const [rule, pattern] of Object.entries(TARGETS)) {
        assert.ok((fired[rule] ?? 0) >= 3, `${rule} fired ${fired[rule] ?? 0} times in 400 cases (want >= 3; pattern ${pattern})`);
      }
      assert.deepEqual(failing.slice(0, 3), [], `rewrite-soundness failed on ${failing.length} of 400 cases`);
    });
  });
});
