/**
 * Grad driver mechanics, on toy ops and toy type families (test/grad/toy.ts): accumulation,
 * pruning, policies, markers, rule checks, named alignment, determinism and depth.
 */
import assert from "node:assert/strict";
import { Variable } from "../../src/graph/basic.js";
import { DISCONNECTED, type GradTerm, isDisconnected } from "../../src/graph/op.js";
import { GradError } from "../../src/errors.js";
import { type GradOptions, grad, gradTerms, pullback } from "../../src/grad/driver.js";
import { hessianVectorProduct, pushforward } from "../../src/grad/pushforward.js";
import { registerPullbackRule, withPullbackOverride } from "../../src/grad/registry.js";
import { toposort } from "../../src/graph/traversal.js";
import { evalAt } from "./eval.js";
import { tensor } from "../../src/tensor/basic.js";
import { sub } from "../../src/tensor/elemwise.js";
import * as X from "../../src/xtensor/index.js";
import {
  ToyAdd,
  ToyBroadcastLike,
  ToyCast,
  ToyCopy,
  ToyFill,
  ToyMul,
  ToyMulInplace,
  ToyNamedMul,
  ToyPick,
  ToyRound,
  ToyTwoOut,
  ToyType,
  add,
  cast,
  fill,
  mul,
  sum,
  toy,
  toyConst,
  toyx,
  transpose,
} from "./toy.js";

const at = (v: Variable, givens: [Variable, number | number[] | number[][]][]): number[] => evalAt([v], givens)[0];
const close = (a: readonly number[], b: readonly number[], tol = 1e-12): void => {
  assert.equal(a.length, b.length, `length ${a.length} vs ${b.length}`);
  a.forEach((x, k) => assert.ok(Math.abs(x - b[k]) <= tol * (1 + Math.abs(b[k])), `element ${k}: ${x} vs ${b[k]}`));
};
/** A structural fingerprint of a graph: one line per node, inputs by creation-independent index. */
function fingerprint(outputs: readonly Variable[]): string {
  const nodes = toposort(outputs);
  const ids = new Map<Variable, string>();
  let k = 0;
  const id = (v: Variable): string => {
    let s = ids.get(v);
    if (s === undefined) ids.set(v, (s = v.owner === null ? `${v.name ?? "c"}#${k++}` : `v${k++}`));
    return s;
  };
  const lines = nodes.map((n) => `${n.outputs.map(id).join(",")} = ${n.op.toString()}(${n.inputs.map(id).join(", ")})`);
  return `${lines.join("\n")}\n-> ${outputs.map(id).join(", ")}`;
}

// Compile-time checks: the result type follows returnDisconnected (tsc fails if these drift).
export const typeChecks = (c: Variable, w: Variable, o: GradOptions): unknown[] => {
  const plain: Variable = grad(c, w);
  const list: Variable[] = grad(c, [w], { disconnectedInputs: "warn", onWarning: (m) => void m.length });
  const maybe: Variable | null = grad(c, w, { returnDisconnected: "none" });
  // @ts-expect-error "none" may give null
  const notNull: Variable = grad(c, w, { returnDisconnected: "none" });
  // @ts-expect-error plain GradOptions may give null or the marker
  const wide: Variable = grad(c, w, o);
  return [plain, list, maybe, notNull, wide];
};

describe("grad driver (toy ops)", () => {
  describe("accumulation", () => {
    it("x*x gives 2x: one term per consumer slot, summed", () => {
      const x = toy("x");
      const g = grad(mul(x, x), x);
      assert.ok(g.owner?.op instanceof ToyAdd, "the two slot terms are added");
      close(at(g, [[x, 3]]), [6]);
    });

    it("x*x*x gives 3x²", () => {
      const x = toy("x");
      const g = grad(mul(mul(x, x), x), x);
      close(at(g, [[x, 1.5]]), [3 * 1.5 ** 2]);
    });

    it("a diamond sums both branches: y = x*x, cost = y*x + (y + y)", () => {
      const x = toy("x");
      const y = mul(x, x);
      const cost = add(mul(y, x), add(y, y));
      close(at(grad(cost, x), [[x, 2]]), [3 * 4 + 4 * 2]);
    });

    it("works on arrays and with wrt as a list (the result shape follows wrt)", () => {
      const x = toy("x", [3]);
      const w = toy("w", [3]);
      const cost = sum(mul(mul(x, w), x));
      const single = grad(cost, x);
      assert.ok(single instanceof Variable);
      const [gx, gw] = grad(cost, [x, w]);
      close(at(gx, [[x, [1, 2, 3]], [w, [4, 5, 6]]]), [8, 20, 36]);
      close(at(gw, [[x, [1, 2, 3]], [w, [4, 5, 6]]]), [1, 4, 9]);
      assert.deepEqual(gx.type.shape, [3]);
    });

    it("names gradients (d<cost>/d<var>) when both are named", () => {
      const x = toy("x");
      const cost = mul(x, x);
      cost.name = "c";
      assert.equal(grad(cost, x).name, "(dc/dx)");
      assert.equal(grad(cost, x, { addNames: false }).name, null);
    });
  });

  describe("the cost", () => {
    it("must be 0-d: the error names its type", () => {
      const x = toy("x", [2]);
      assert.throws(() => grad(mul(x, x), x), (e: unknown) => e instanceof GradError && /0-d float/.test(e.message) && /Toy\(float64, shape=\(2,\)\)/.test(e.message));
    });

    it("must be float", () => {
      const i = toy("i", [], "int64");
      assert.throws(() => grad(i, i), (e: unknown) => e instanceof GradError && /int64/.test(e.message));
    });

    it("d cost / d cost is one", () => {
      const x = toy("x");
      const c = mul(x, x);
      close(at(grad(c, c), [[x, 5]]), [1]);
    });
  });

  describe("disconnected inputs", () => {
    const setup = (): { x: Variable; y: Variable; cost: Variable } => {
      const x = toy("x");
      const y = toy("y");
      // y reaches the cost only through its shape: not a true connection.
      return { x, y, cost: mul(x, fill(y, 2)) };
    };

    it('"raise" (default) names the variable', () => {
      const { y, cost } = setup();
      assert.throws(() => grad(cost, y), (e: unknown) => e instanceof GradError && /does not depend on y \(wrt\[0\]/.test(e.message));
    });

    it('"warn" reports through onWarning and returns zeros', () => {
      const { x, y, cost } = setup();
      const warnings: string[] = [];
      const [gx, gy] = grad(cost, [x, y], { disconnectedInputs: "warn", onWarning: (m) => warnings.push(m) });
      assert.equal(warnings.length, 1);
      assert.match(warnings[0], /y/);
      close(at(gx, [[x, 3], [y, 7]]), [2]);
      close(at(gy, [[x, 3], [y, 7]]), [0]);
    });

    it('"ignore" is silent; returnDisconnected picks zero / null / the marker', () => {
      const { y, cost } = setup();
      const warnings: string[] = [];
      const onWarning = (m: string): void => void warnings.push(m);
      const z = grad(cost, y, { disconnectedInputs: "ignore", onWarning });
      assert.ok(z.owner?.op instanceof ToyFill && z.owner.op.props.value === 0);
      assert.equal(grad(cost, y, { disconnectedInputs: "ignore", returnDisconnected: "none", onWarning }), null);
      assert.equal(grad(cost, y, { disconnectedInputs: "ignore", returnDisconnected: "disconnected", onWarning }), DISCONNECTED);
      assert.equal(warnings.length, 0);
    });

    it("a variable not in the graph at all is disconnected", () => {
      const x = toy("x");
      const other = toy("other");
      assert.throws(() => grad(mul(x, x), other), GradError);
    });

    it("considerConstant stops the walk: d/dx [c(x) * x] with c = x*x constant is c", () => {
      const x = toy("x");
      const c = mul(x, x);
      const cost = mul(c, x);
      close(at(grad(cost, x, { considerConstant: [c] }), [[x, 3]]), [9]);
      close(at(grad(cost, x), [[x, 3]]), [27]);
      // Below a constant, x is cut off entirely.
      assert.throws(() => grad(mul(c, c), x, { considerConstant: [c] }), /does not depend on x/);
    });
  });

  describe("knownGrads, pullback, interior wrt", () => {
    it("knownGrads with no cost is a pullback", () => {
      const x = toy("x");
      const y = mul(x, x);
      const k = toy("k");
      const g = pullback([y], x, [k]);
      close(at(g, [[x, 3], [k, 10]]), [60]);
    });

    it("a known gradient replaces the terms its variable would get from consumers", () => {
      const x = toy("x");
      const y = mul(x, x);
      const cost = mul(y, y);
      const k = toy("k");
      // Without knownGrads d cost/dy = 2y; with it, dy is k.
      const g = grad(cost, x, { knownGrads: new Map([[y, k]]) });
      close(at(g, [[x, 3], [k, 1]]), [6]);
    });

    it("known gradients are cast to the key's dtype", () => {
      const x = toy("x");
      const k = toy("k", [], "float32");
      const g = pullback([mul(x, x)], x, [k]);
      assert.equal(g.type.dtype, "float64");
    });

    it("an output listed twice gets the sum of its cotangents", () => {
      const x = toy("x");
      const y = mul(x, x);
      const a = toy("a");
      const b = toy("b");
      close(at(pullback([y, y], x, [a, b]), [[x, 2], [a, 1], [b, 10]]), [44]);
    });

    it("interior wrt: d(y*y)/dy = 2y alongside d/dx", () => {
      const x = toy("x");
      const y = mul(x, x);
      const cost = mul(y, y);
      const [gy, gx] = grad(cost, [y, x]);
      close(at(gy, [[x, 3]]), [18]);
      close(at(gx, [[x, 3]]), [4 * 27]);
    });

    it("pullback rejects a cotangent of the wrong shape, naming it", () => {
      const x = toy("x", [2]);
      assert.throws(() => pullback([mul(x, x)], x, [toy("k", [3])]), /pullback: cotangent 0.*shape \(2,\)/);
    });
  });

  describe("undefined gradients", () => {
    it("a requested integer index is a clear error naming the op and the input", () => {
      const x = toy("x");
      const i = toy("i", [], "int64");
      const cost = mul(new ToyPick().makeNode(x, i).out, x);
      assert.throws(
        () => grad(cost, i),
        (e: unknown) => e instanceof GradError && /gradient with respect to i .* is undefined/.test(e.message) && /ToyPick has no gradient for input 1 \(i\)/.test(e.message),
      );
    });

    it("an undefined gradient on a path not requested is fine", () => {
      const x = toy("x");
      const i = toy("i", [], "int64");
      const cost = mul(new ToyPick().makeNode(x, i).out, x);
      close(at(grad(cost, x), [[x, 3], [i, 0]]), [6]);
    });

    it("undefined propagates through the producer of the index", () => {
      const x = toy("x");
      const z = toy("z");
      const i = new ToyRound().makeNode(z).out;
      const cost = new ToyPick().makeNode(x, i).out;
      assert.throws(() => grad(cost, z), /undefined.*ToyPick has no gradient for input 1/);
      assert.deepEqual(
        gradTerms(cost, [z]).map((t) => (t as GradTerm & { kind?: string }).kind),
        ["undefined"],
      );
    });
  });

  describe("discrete values", () => {
    it("a term reaching the cost only through integer outputs must be provably zero", () => {
      const x = toy("x");
      const cost = cast(new ToyRound().makeNode(x).out, "float64");
      close(at(grad(cost, x), [[x, 2.4]]), [0]);
      const bad = (): void => void grad(cost, x);
      withPullbackOverride(ToyRound, ([v]) => [add(v, v)], () => {
        assert.throws(bad, /ToyRound.pullback \(rule from a test override\), input 0 .* only through integer outputs/);
      });
    });

    it("DISCONNECTED is accepted for a term reaching the cost only through integer outputs", () => {
      const x = toy("x");
      const y = toy("y");
      const cost = add(mul(y, y), cast(new ToyRound().makeNode(x).out, "float64"));
      const warnings: string[] = [];
      withPullbackOverride(ToyRound, () => [DISCONNECTED], () => {
        const z = grad(cost, x, { disconnectedInputs: "ignore", returnDisconnected: "disconnected", onWarning: (m) => warnings.push(m) });
        assert.equal(z, DISCONNECTED);
      });
      assert.deepEqual(warnings, []);
    });

    it("a multi-output node: only the float output carries gradient", () => {
      const x = toy("x");
      const [twice, rounded] = new ToyTwoOut().makeNode(x).outputs;
      const cost = add(twice, cast(rounded, "float64"));
      close(at(grad(cost, x), [[x, 1.2]]), [2]);
    });

    it("an integer wrt gets a float gradient when connected", () => {
      const i = toy("i", [], "int64");
      const x = toy("x");
      const cost = mul(cast(i, "float64"), x);
      const g = grad(cost, i);
      assert.equal(g.type.dtype, "float64");
      close(at(g, [[i, 2], [x, 3]]), [0]);
    });
  });

  describe("checks on rule results name the op and the input", () => {
    const x = toy("x", [2]);
    const y = toy("y", [2]);
    const cost = (): Variable => sum(mul(x, y));
    const expectError = (rule: Parameters<typeof withPullbackOverride>[1], re: RegExp): void =>
      withPullbackOverride(ToyMul, rule, () => assert.throws(() => grad(cost(), [x, y]), (e: unknown) => e instanceof GradError && re.test(e.message)));

    it("arity", () => expectError((_i, _o, [g]) => [g], /ToyMul.pullback \(rule from a test override\) returned 1 terms for 2 inputs/));
    it("dtype", () => expectError((_i, _o, [g]) => [cast(g, "float32"), g], /ToyMul.*input 0 \(x: Toy\(float64, shape=\(2,\)\)\): expected a float64 cotangent.*float32/));
    it("non-float", () => expectError((_i, _o, [g]) => [g, cast(g, "int64")], /ToyMul.*input 1 \(y.*cotangents must be float/));
    it("shape", () => expectError(() => [toy("bad", [3]), toy("ok", [2])], /ToyMul.*input 0.*expected a cotangent of shape \(2,\), got \(3,\)/));
    it("type family", () => expectError((_i, _o, [g]) => [g, toyx("n", ["a"], [2])], /ToyMul.*input 1.*expected a toy cotangent/));
    it("a missing term", () => expectError((_i, _o, [g]) => [g, null as unknown as Variable], /ToyMul.*input 1.*expected a Variable, DISCONNECTED or UndefinedGrad, got null/));
    it("DISCONNECTED for an input connectionPattern connects (op without a pattern: a warning)", () => {
      const warnings: string[] = [];
      withPullbackOverride(ToyMul, (_i, _o, [g]) => [g, DISCONNECTED], () => {
        grad(cost(), x, { onWarning: (m) => warnings.push(m) });
      });
      assert.equal(warnings.length, 1);
      assert.match(warnings[0], /ToyMul.*input 1.*returned DISCONNECTED/);
    });
    it("a term for an input connectionPattern disconnects", () => {
      const s = toy("s");
      const z = toy("z", [2]);
      const cost = sum(new ToyBroadcastLike().makeNode(s, z).out);
      withPullbackOverride(ToyBroadcastLike, (_i, _o, [g]) => [sum(g), g], () => {
        assert.throws(() => grad(cost, s), /ToyBroadcastLike.*input 1 .*connectionPattern says this input reaches no output/);
      });
    });
  });

  describe("named cotangents are aligned by name", () => {
    // Square shapes: a positional mix-up of (a, b) and (b, a) would pass every shape check.
    const x = toyx("x", ["a", "b"], [2, 2]);
    const w = toyx("w", ["a", "b"], [2, 2]);
    const xv = [
      [1, 2],
      [3, 4],
    ];
    const wv = [
      [10, 20],
      [30, 40],
    ];

    it("a term whose dims are a permutation is transposed by name before summing", () => {
      const xt = transpose(x, ["b", "a"]);
      // cost = Σ x ⊙ w + Σ xᵀ ⊙ wᵀ = 2 Σ x ⊙ w, so d/dx = 2w; ToyTranspose's rule returns (a, b).
      const cost = add(sum(mul(x, w)), sum(mul(xt, transpose(w, ["b", "a"]))));
      // This rule forgets to transpose back: its term has dims (b, a).
      withPullbackOverride("ToyTranspose", (_i, _o, [g]) => [g], () => {
        const g = grad(cost, x);
        assert.deepEqual((g.type as ToyType).dims, ["a", "b"]);
        close(at(g, [[x, xv], [w, wv]]), [20, 40, 60, 80]);
      });
    });

    it("a term with another dims set is refused, naming the dims", () => {
      const cost = sum(mul(x, w));
      withPullbackOverride(ToyMul, (_i, _o, [g]) => [toyx("bad", ["a", "c"], [2, 2]), g], () => {
        assert.throws(() => grad(cost, x), /ToyMul.*input 0.*dims \{a, b\}, got dims \(a, c\)/);
      });
    });

    it("known gradients and tangents are aligned by name too", () => {
      const y = mul(x, w);
      const k = toyx("k", ["b", "a"], [2, 2]);
      const g = pullback([y], x, [k]);
      // k(b, a) given as [[1, 2], [3, 4]] means k[a=0, b=1] = 3.
      close(at(g, [[x, xv], [w, wv], [k, xv]]), [10, 60, 60, 160]);
    });
  });

  describe("ops without a pullback", () => {
    const a = toyx("a", ["i"], [2]);
    const b = toyx("b", ["i"], [2]);
    const named = (): Variable => sum(new ToyNamedMul().makeNode(a, b).out);
    const rule = ([p, q]: readonly Variable[], _o: readonly Variable[], [g]: readonly Variable[]): GradTerm[] => [mul(g, q), mul(g, p)];

    it("are a clear error naming the op", () => {
      assert.throws(() => grad(named(), a), (e: unknown) => e instanceof GradError && /ToyNamedMul has no pullback rule/.test(e.message));
    });

    it("use options.ruleFor", () => {
      const g = grad(named(), a, { ruleFor: (n) => (n.op instanceof ToyNamedMul ? rule : null) });
      close(at(g, [[a, [1, 2]], [b, [3, 4]]]), [3, 4]);
    });

    it("use a registered rule, and stop when it is removed", () => {
      const remove = registerPullbackRule(ToyNamedMul, rule);
      try {
        close(at(grad(named(), b), [[a, [1, 2]], [b, [3, 4]]]), [1, 2]);
      } finally {
        remove();
      }
      assert.throws(() => grad(named(), a), /no pullback rule/);
    });

    it("a registered rule never replaces an op's own pullback", () => {
      const x = toy("x");
      const remove = registerPullbackRule(ToyMul, () => [DISCONNECTED, DISCONNECTED]);
      try {
        close(at(grad(mul(x, x), x), [[x, 3]]), [6]);
      } finally {
        remove();
      }
    });
  });

  describe("destroyed inputs", () => {
    it("the pullback sees a copy of an input the node destroys, not the input itself", () => {
      const x = toy("x");
      const y = toy("y");
      ToyMulInplace.seen = [];
      const prod = new ToyMulInplace().makeNode(mul(x, toyConst(1)), y).out;
      const g = grad(prod, [x, y]);
      const [seenA, seenB] = ToyMulInplace.seen[0];
      assert.ok(seenA.owner?.op instanceof ToyCopy, "destroyed input 0 is copied");
      assert.equal(seenB, y, "input 1 is not destroyed and is passed as is");
      close(at(g[0], [[x, 3], [y, 5]]), [5]);
      close(at(g[1], [[x, 3], [y, 5]]), [3]);
    });
  });

  describe("scale and determinism", () => {
    it("handles a 20,000-node chain without recursion", () => {
      const x = toy("x");
      let v = x;
      const one = toyConst(1);
      for (let k = 0; k < 20000; k++) v = k % 2 === 0 ? add(v, one) : mul(v, one);
      const g = grad(v, x);
      close(at(g, [[x, 2]]), [1]);
    });

    it("builds the same gradient graph for the same input graph, every time", () => {
      const build = (): string => {
        const x = toy("x");
        const w = toy("w");
        const y = mul(x, w);
        const cost = add(mul(y, y), mul(add(x, y), mul(w, x)));
        return fingerprint(grad(cost, [x, w]));
      };
      const first = build();
      for (let k = 0; k < 3; k++) assert.equal(build(), first);
    });

    it("sums terms in PyTensor's order: consumers in the walk's depth-first pre-order", () => {
      const x = toy("x");
      const p = mul(x, toyConst(2));
      const q = mul(x, toyConst(3));
      const g = grad(add(p, q), x);
      // Terms from p (met first from the cost) come first: add(term_p, term_q).
      const [first] = g.owner?.inputs ?? [];
      assert.equal(first.owner?.inputs[1], (p.owner?.inputs ?? [])[1]);
    });
  });
});

describe("pushforward and second order (toy ops)", () => {
  it("pushforward is the directional derivative: f = x*x*y, J·(tx, ty) = 2xy tx + x² ty", () => {
    const x = toy("x");
    const y = toy("y");
    const tx = toy("tx");
    const ty = toy("ty");
    const f = mul(mul(x, x), y);
    const jv = pushforward(f, [x, y], [tx, ty]);
    close(at(jv, [[x, 2], [y, 3], [tx, 0.5], [ty, -1]]), [2 * 2 * 3 * 0.5 - 4]);
  });

  it("useOpPushforward gives the same numbers with one forward sweep", () => {
    const x = toy("x");
    const y = toy("y");
    const tx = toy("tx");
    const ty = toy("ty");
    const f = add(mul(mul(x, x), y), x);
    const direct = pushforward([f], [x, y], [tx, ty], { useOpPushforward: true })[0];
    const viaPullback = pushforward([f], [x, y], [tx, ty])[0];
    const givens: [Variable, number][] = [[x, 2], [y, 3], [tx, 0.5], [ty, -1]];
    close(at(direct, givens), at(viaPullback, givens));
    // The sweep built no pullback graph: no ToyFill (ones/zeros seeds) anywhere.
    assert.ok(!toposort([direct]).some((n) => n.op instanceof ToyFill));
  });

  it("a pullback that is not linear in its cotangent is detected", () => {
    const x = toy("x");
    const f = mul(x, x);
    withPullbackOverride(ToyMul, ([a, b], _o, [g]) => [mul(mul(g, g), b), mul(g, a)], () => {
      assert.throws(() => pushforward(f, [x], [toy("t")]), /not linear in its cotangent/);
    });
  });

  it("an output that depends on no wrt follows disconnectedOutputs", () => {
    const x = toy("x");
    const y = toy("y");
    assert.throws(() => pushforward(mul(y, y), [x], [toy("t")]), /depends on none of the wrt/);
    const z = pushforward(mul(y, y), [x], [toy("t")], { disconnectedOutputs: "ignore", returnDisconnected: "disconnected" });
    assert.ok(isDisconnected(z));
  });

  it("grad of grad is the second derivative: d²(x³)/dx² = 6x", () => {
    const x = toy("x");
    const g = grad(mul(mul(x, x), x), x);
    close(at(grad(g, x), [[x, 1.5]]), [9]);
  });

  it("hessianVectorProduct: cost = x²y → H (vx, vy) = (2y vx + 2x vy, 2x vx)", () => {
    const x = toy("x");
    const y = toy("y");
    const vx = toy("vx");
    const vy = toy("vy");
    const [hx, hy] = hessianVectorProduct(mul(mul(x, x), y), [x, y], [vx, vy]);
    const givens: [Variable, number][] = [[x, 2], [y, 3], [vx, 0.5], [vy, -1]];
    close(at(hx, givens), [2 * 3 * 0.5 + 2 * 2 * -1]);
    close(at(hy, givens), [2 * 2 * 0.5]);
  });

  it("hessianVectorProduct of a cost linear in a wrt is zero, not an error", () => {
    const x = toy("x");
    const y = toy("y");
    const [, hy] = hessianVectorProduct(add(mul(x, x), y), [x, y], [toy("vx"), toy("vy")]);
    assert.ok(hy.owner?.op instanceof ToyFill);
  });

  it("a ToyCast chain keeps dtypes: float32 wrt gets a float32 gradient", () => {
    const x = toy("x", [], "float32");
    const y = cast(x, "float64");
    const g = grad(mul(y, y), x);
    assert.equal(g.type.dtype, "float32");
    assert.ok(g.owner?.op instanceof ToyCast);
  });
});

describe("grad: gradient names", () => {
  it("names a wrt's gradient after the wrt even where an interior variable's gradient is the same variable (fuzz seed 3030 case 1667)", () => {
    // sub(x, c) hands its cotangent to x unchanged, so x's gradient is n's gradient variable: it
    // must be named (dcost/dx), as the lazy strategy names it, not (dcost/dn).
    const x = tensor("x", { shape: [], dtype: "float64" });
    const n = sub(x, tensor("c", { shape: [], dtype: "float64" }));
    n.name = "n";
    const cost = X.values(X.sum(X.asXTensor(n, [])));
    cost.name = "cost";
    for (const gradStrategy of ["perNode", "lazy"] as const) {
      const [g] = grad(cost, [x], { gradStrategy });
      assert.equal((g as Variable).name, "(dcost/dx)", gradStrategy);
    }
  });
});
