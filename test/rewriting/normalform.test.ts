import { strict as assert } from "node:assert";
import type { Variable } from "../../src/graph/basic.js";
import { InvariantError } from "../../src/errors.js";
import { constant, tensor } from "../../src/tensor/basic.js";
import * as E from "../../src/tensor/elemwise.js";
import { sum } from "../../src/tensor/reduce.js";
import { alloc, dimshuffle, reshape, shape, shapeI, transpose } from "../../src/tensor/shape.js";
import { subtensor } from "../../src/tensor/indexing.js";
import { MergeOptimizer } from "../../src/rewriting/merge.js";
import { NodeRewriterGroup, type Query, SequenceDB, optdb, rewriteGraph } from "../../src/rewriting/db.js";
import type { NodeRewriter } from "../../src/rewriting/engine.js";
import { CANONICALIZE_RULES } from "../../src/rewriting/canonicalize.js";
import { STABILIZE_RULES } from "../../src/rewriting/stabilize.js";
import { SPECIALIZE_RULES } from "../../src/rewriting/specialize.js";
import { NORMAL_FORMS, normalFormsOf } from "../../src/rewriting/normalform.js";
import "../../src/rewriting/passes.js";

type DT = "float64" | "float32" | "int64" | "int32" | "bool";
const T = (name: string, shp: (number | null)[], dtype: DT = "float64"): Variable => tensor(name, { shape: shp, dtype });

/** FAST_RUN's rules without the merge, fusion and inplace passes, whose promises are checked elsewhere. */
const FAST_RUN: Query = { include: ["fast_run"], exclude: ["merge", "inplace", "fusion"] };
const FAST_COMPILE: Query = { include: ["fast_compile"], exclude: ["merge"] };

/**
 * A database holding the three groups with every rule registered as in the engine, except that
 * `drop` is left out and the rules in `untag` lose their fast_compile tag. The tags come from the
 * engine's real registration (the promise table is what is under test, so it must not supply them).
 */
function dbWithout(drop: string | null, untag: readonly string[] = []): SequenceDB {
  const db = new SequenceDB();
  const fastCompile = new Set(optdb.group("canonicalize").query({ include: ["fast_compile"] }).ruleNames ?? []);
  const group = (name: string, rules: readonly NodeRewriter[]): NodeRewriterGroup => {
    const g = new NodeRewriterGroup(name);
    for (const rw of rules) if (rw.name !== drop) g.add(rw, fastCompile.has(rw.name) && !untag.includes(rw.name) ? ["fast_compile"] : []);
    return g;
  };
  const canon = group("canonicalize", CANONICALIZE_RULES);
  canon.addCleanup(new MergeOptimizer("canonicalize_merge"));
  db.register("canonicalize", 1, ["fast_run", "fast_compile"], canon);
  db.register("stabilize", 1.5, ["fast_run"], group("stabilize", STABILIZE_RULES));
  db.register("specialize", 2, ["fast_run"], group("specialize", SPECIALIZE_RULES));
  return db;
}

/** One graph per rule in which the rule has work. */
function fixture(rule: string): Variable[] {
  const x = T("x", [2, 3]);
  const v = T("v", [3]);
  switch (rule) {
    case "constant_folding":
      return [E.mul(v, E.add(constant([1, 2, 3]), constant([3, 4, 5])))];
    case "useless_dimshuffle":
      return [E.exp(dimshuffle(x, [0, 1]))];
    case "useless_reshape":
      return [E.exp(reshape(x, [2, 3]))];
    case "useless_cast_identity":
      return [E.exp(E.cast(x, "float64"))];
    case "local_dimshuffle_merge":
      return [E.exp(dimshuffle(dimshuffle(x, [1, 0]), [1, 0, "x"]))];
    case "local_dimshuffle_lift":
      return [E.log(transpose(E.exp(x)))];
    case "local_neutral_element":
      return [E.exp(E.mul(x, constant(1)))];
    case "local_mul_zero": {
      const i = T("i", [3], "int64");
      return [E.add(E.mul(i, constant(0, "int64")), i)];
    }
    case "local_reduce_of_reduce":
      return [E.exp(sum(sum(x, [0]), [0]))];
    case "local_shape_i_constant":
      return [E.add(x, shapeI(x, 0))];
    case "local_shape_constant":
      return [E.add(T("w", [1]), shape(v))];
    case "local_subtensor_of_alloc":
      return [E.exp(subtensor(alloc(v, [4, 3]), [1]))];
    case "local_log1p":
      return [E.log(E.add(constant(1), x))];
    case "local_log_sigmoid":
      return [E.log(E.sigmoid(x))];
    case "local_log1msigm":
      return [E.log(E.sub(constant(1), E.sigmoid(x)))];
    case "local_expm1":
      return [E.sub(E.exp(x), constant(1))];
    case "local_pow_2_to_square":
      return [E.pow(x, constant(2))];
    case "local_pow_half_to_sqrt":
      return [E.pow(E.exp(x), constant(0.5))];
    case "local_mul_self_to_square":
      return [E.mul(x, x)];
    case "local_second_to_alloc":
      return [E.mul(E.zerosLike(x), v)];
    default:
      throw new Error(`no fixture for ${rule}`);
  }
}

function brokenPromise(f: () => unknown): string | null {
  try {
    f();
    return null;
  } catch (e) {
    if (!(e instanceof InvariantError)) throw e;
    const m = /broke its promise (\w+):/.exec(e.message);
    assert.ok(m !== null, `an InvariantError that names no promise: ${e.message}`);
    return m[1];
  }
}

describe("rewriting/normalform", () => {
  it("has one promise for every registered rule of the three groups, and no promise without a rule", () => {
    for (const group of ["canonicalize", "stabilize", "specialize"] as const) {
      const registered = optdb.group(group).names().sort();
      const promised = NORMAL_FORMS.filter((f) => f.group === group).map((f) => f.rule).sort();
      assert.deepEqual(promised, registered, group);
    }
  });

  it("states the modes independently: FAST_COMPILE promises exactly the rules registered with fast_compile", () => {
    const tagged = (optdb.group("canonicalize").query({ include: ["fast_compile"] }).ruleNames ?? []).filter((n) => n !== "canonicalize_merge").sort();
    assert.deepEqual(normalFormsOf("canonicalize", { include: ["fast_compile"] }).map((f) => f.rule).sort(), tagged);
    assert.deepEqual(normalFormsOf("stabilize", { include: ["fast_compile"] }), []);
    assert.deepEqual(normalFormsOf("canonicalize", { include: ["fast_run"], exclude: ["canonicalize"] }), []);
    assert.deepEqual(normalFormsOf("canonicalize", { include: ["fast_run"], exclude: ["local_mul_zero"] }).map((f) => f.rule).includes("local_mul_zero"), false);
    assert.deepEqual(normalFormsOf("specialize", { include: ["local_mul_self_to_square"] }).map((f) => f.rule), ["local_mul_self_to_square"]);
  });

  for (const form of NORMAL_FORMS) {
    it(`${form.group} keeps ${form.rule}'s promise, and a group without the rule is caught`, () => {
      const q = form.modes.includes("fast_compile") ? FAST_COMPILE : FAST_RUN;
      const outs = fixture(form.rule);
      assert.equal(brokenPromise(() => rewriteGraph(outs, { db: dbWithout(null), include: q.include, exclude: q.exclude, checked: true })), null, "the full group breaks a promise");
      const broken = brokenPromise(() => rewriteGraph(outs, { db: dbWithout(form.rule), include: q.include, exclude: q.exclude, checked: true }));
      assert.equal(broken, form.rule, `without ${form.rule} the check names ${String(broken)}`);
      // Not checked: the same incomplete group is not judged.
      rewriteGraph(outs, { db: dbWithout(form.rule), include: q.include, exclude: q.exclude });
    });
  }

  it("catches a rule that lost its fast_compile tag, in FAST_COMPILE only", () => {
    const outs = fixture("local_neutral_element");
    assert.equal(brokenPromise(() => rewriteGraph(outs, { db: dbWithout(null, ["local_neutral_element"]), include: FAST_COMPILE.include, exclude: FAST_COMPILE.exclude, checked: true })), "local_neutral_element");
    assert.equal(brokenPromise(() => rewriteGraph(outs, { db: dbWithout(null, ["local_neutral_element"]), include: FAST_RUN.include, exclude: FAST_RUN.exclude, checked: true })), null);
  });

  it("does not flag what a rule documents it declines", () => {
    const x = T("x", [2, 3]);
    const u = T("u", [null]);
    const i = T("i", [3], "int32");
    const cases: [string, Variable[]][] = [
      ["float x * 0 (inf * 0 is NaN)", [E.exp(E.mul(x, constant(0)))]],
      ["float x + 0.0 (flips -0.0)", [E.exp(E.add(x, constant(0)))]],
      ["x * 1 of an input that is a graph output", [E.mul(x, constant(1))]],
      ["cast of an input that is a graph output", [E.cast(x, "float64")]],
      ["x * [1, 1, 1] where x's unknown length would lose its check", [E.exp(E.mul(u, constant([1, 1, 1])))]],
      ["an int 1 + x under a float log (the add may wrap)", [E.log(E.add(constant(1, "int32"), i))]],
      ["pow(x, 0.5) of a value that may be -0", [E.pow(x, constant(0.5))]],
      ["int32 pow(x, 2) (pow rounds through doubles)", [E.pow(i, constant(2, "int32"))]],
      ["a graph output of constants", [E.add(constant([1]), constant([2]))]],
      ["a DimShuffle of an Elemwise with another reader", [transpose(E.exp(x)), E.exp(x)]],
    ];
    for (const [what, outs] of cases) {
      for (const q of [FAST_RUN, FAST_COMPILE]) {
        assert.equal(brokenPromise(() => rewriteGraph(outs, { include: q.include, exclude: q.exclude, checked: true })), null, `${what} (${q.include.join(",")})`);
      }
    }
  });

  it("catches a stabilize or specialize rule that leaves a copy it made, but not a copy already there", () => {
    // The rule's result wrapped in a cast to its own dtype: the same values, one more loop read.
    const copying = (rw: NodeRewriter): (() => void) => {
      const right = rw.transform;
      (rw as { transform: NodeRewriter["transform"] }).transform = (fg, node) => {
        const r = right(fg, node);
        return Array.isArray(r) ? (r as (Variable | null)[]).map((v) => (v === null ? v : E.cast(v, v.type.dtype))) : r;
      };
      return () => ((rw as { transform: NodeRewriter["transform"] }).transform = right);
    };
    const run = (rule: string, q: Query = FAST_RUN): string | null => brokenPromise(() => rewriteGraph(fixture(rule), { include: q.include, exclude: q.exclude, checked: true }));
    for (const [rules, rule] of [[STABILIZE_RULES, "local_expm1"], [SPECIALIZE_RULES, "local_pow_2_to_square"]] as const) {
      const restore = copying(rules.find((r) => r.name === rule) as NodeRewriter);
      try {
        assert.equal(run(rule), "adds_no_copy", rule);
      } finally {
        restore();
      }
      assert.equal(run(rule), null, `${rule}, restored`);
    }
    // A cast canonicalize was told to leave is not stabilize's or specialize's.
    const x = T("x", [2, 3]);
    const outs = [E.exp(E.cast(x, "float64")), E.pow(x, constant(2))];
    assert.equal(brokenPromise(() => rewriteGraph(outs, { include: FAST_RUN.include, exclude: [...(FAST_RUN.exclude ?? []), "useless_cast_identity"], checked: true })), null);
    try {
      const restore = copying(SPECIALIZE_RULES.find((r) => r.name === "local_pow_2_to_square") as NodeRewriter);
      try {
        rewriteGraph(fixture("local_pow_2_to_square"), { include: FAST_RUN.include, exclude: FAST_RUN.exclude, checked: true });
      } finally {
        restore();
      }
      assert.fail("no error");
    } catch (e) {
      assert.ok(e instanceof InvariantError, String(e));
      assert.match(e.message, /^rewrite specialize: checked mode: specialize under \[fast_run\] minus \[merge, inplace, fusion\] broke its promise adds_no_copy: Elemwise\{cast, float64\}\(Elemwise\{square\}\.0\) is new \(cast to its input's own type; none of the group's rules writes one\)$/);
    }
  });

  it("names the group, the mode, the rule and the node", () => {
    try {
      rewriteGraph(fixture("local_expm1"), { db: dbWithout("local_expm1"), include: FAST_RUN.include, exclude: FAST_RUN.exclude, checked: true });
      assert.fail("no error");
    } catch (e) {
      assert.ok(e instanceof InvariantError, String(e));
      assert.match(e.message, /^rewrite stabilize: checked mode: stabilize under \[fast_run\] minus \[merge, inplace, fusion\] broke its promise local_expm1: Elemwise\{sub\}\(.*\) is left \(exp\(x\) - 1\); no rule named local_expm1 is registered in stabilize \(.*passes\.ts\)$/);
    }
  });
});
