/**
 * The pushforward duality, Σ_k ⟨w_k, J_k u⟩ = ⟨Jᵀ w, u⟩, for any graph: the judgement of the
 * `pushforward-duality` property (on the case's graph) and of positional-forms (on the lowered
 * graph with forms spliced in, where the positional ops the lowerings never write meet their
 * forward rules, and the double pullback runs through a positional graph rather than stopping at
 * the lazy Pullback nodes of a named one).
 */
import { type Variable, makeVariable } from "../src/graph/basic.js";
import { isFloat } from "../src/graph/type.js";
import { ancestors } from "../src/graph/traversal.js";
import { NDArray } from "../src/ndarray/ndarray.js";
import { compile } from "../src/compile/function.js";
import { pullback } from "../src/grad/driver.js";
import { pushforward } from "../src/grad/pushforward.js";
import { mulberry32 } from "../oracles/finiteDiff.js";
import { derivationMismatch, engineRtol } from "./compare.js";
import type { Check } from "./types.js";

/** A graph to judge: its inputs and their values, the wrt among them, the outputs to push forward. */
export interface DualityInput {
  readonly inputs: readonly Variable[];
  readonly values: readonly NDArray[];
  readonly wrt: readonly Variable[];
  /** Float outputs some wrt reaches (each gets its own random cotangent). */
  readonly outs: readonly Variable[];
  /** The outputs' run-time shapes, where their types leave a length unknown (else the static shapes). */
  readonly outShapes?: readonly (readonly number[])[];
  /** A float32 value on the way: every side rounds at float32 precision. */
  readonly any32: boolean;
  readonly seed: number;
}

/**
 * The ids of the nodes the duality differentiates: every float node a wrt reaches (the cost
 * among them), in the map's order. With one random cotangent w_k per output, a wrong Jacobian of
 * any node, on a side branch as much as on the path to the cost, moves Σ_k ⟨w_k, J_k u⟩.
 */
export function dualityTargets(nodes: ReadonlyMap<string, Variable>, wrt: readonly Variable[]): string[] {
  const from = new Set(wrt);
  return [...nodes].filter(([, v]) => isFloat(v.type.dtype) && ancestors([v]).some((a) => from.has(a))).map(([id]) => id);
}

/** The duality's verdict, without the property's name (the caller's). */
export type DualityVerdict = Omit<Check, "property">;

function randomArray(rand: () => number, like: Variable, shape: readonly number[]): NDArray {
  const n = shape.reduce((a, s) => a * s, 1);
  return NDArray.fromFlat(
    Array.from({ length: n }, () => 2 * rand() - 1),
    [...shape],
    like.type.dtype,
  );
}

/** Fresh root variables with the types of `vs` (tangents, cotangents, Hessian directions). */
export function freshLike(vs: readonly Variable[], tag: string): Variable[] {
  return vs.map((v, i) => makeVariable(v.type, null, 0, `${tag}${i}`));
}

/**
 * Judge the duality at the given values with random u and w (seeded): `pass`, `fail` naming the
 * side that disagrees, or `inconclusive` on non-finite inner products.
 */
export function dualityJudgement(d: DualityInput): DualityVerdict {
  const { outs } = d;
  const us = freshLike(d.wrt, "u");
  const ws = freshLike(outs, "w");
  // Two pushforwards: the ops' own forward rules, written independently of their pullbacks, and
  // the double pullback, which derives J u from the pullback rules themselves. Only the first
  // can catch a pullback rule that is linear but wrong (the double pullback transposes the same
  // wrong map back); the second checks the double-pullback machinery. The cost may still depend
  // on no wrt (one built from weights only): J = 0 on every side.
  const fwd = { returnDisconnected: "zero", disconnectedOutputs: "ignore" } as const;
  const derivations: (string | null)[] = [null, null];
  const jvpRules = pushforward(outs, d.wrt, us, { ...fwd, useOpPushforward: "require", onDerivation: (x) => (derivations[0] = x) }) as Variable[];
  const jvpDouble = pushforward(outs, d.wrt, us, { ...fwd, onDerivation: (x) => (derivations[1] = x) }) as Variable[];
  const wrong = derivationMismatch(derivations, ["sweep", "double-pullback"]);
  if (wrong !== null) return { status: "fail", reason: `pushforward: ${wrong}, so the duality would compare one derivation with itself`, maxAbsErr: Infinity, maxRelErr: Infinity };
  const vjp = pullback(outs, d.wrt, ws, { disconnectedInputs: "ignore" });
  const f = compile([...d.inputs, ...us, ...ws], [...jvpRules, ...jvpDouble, ...vjp], { mode: "NONE" });
  const rand = mulberry32(d.seed ^ 0x9e3779b9);
  // Of the run-time shapes: a wrt's value's, an output's as given.
  const uVals = us.map((u, i) => randomArray(rand, u, d.values[d.inputs.indexOf(d.wrt[i])].shape));
  const wVals = outs.map((o, k) => randomArray(rand, o, d.outShapes?.[k] ?? o.type.shape.map((s) => s ?? 1)));
  const res = f(...d.values, ...uVals, ...wVals);
  const n = outs.length;
  const jvR = res.slice(0, n);
  const jvD = res.slice(n, 2 * n);
  const vj = res.slice(2 * n);
  // Every side is an exact linear map of the same J; they differ only by rounding of the sums.
  const dot = (a: NDArray, c: NDArray): [number, number] => {
    const x = a.toFlat();
    const y = c.toFlat();
    let s = 0;
    let m = 0;
    for (let i = 0; i < x.length; i++) {
      s += x[i] * y[i];
      m += Math.abs(x[i] * y[i]);
    }
    return [s, m];
  };
  let rhs = 0;
  let rm = 0;
  vj.forEach((g, i) => {
    const [s, m] = dot(g, uVals[i]);
    rhs += s;
    rm += m;
  });
  // The floor ‖w‖₁·‖u‖₁ covers cancellation: through a float32 cast the map x ↦ f32(x) − x is zero
  // in exact arithmetic, yet both sides carry rounding of the size of the vectors themselves
  // (seed 2026 case 7295), which Σ|products| after the cancellation no longer shows.
  const l1 = (a: NDArray): number => a.toFlat().reduce((t, v) => t + Math.abs(v), 0);
  const norms = wVals.reduce((t, w) => t + l1(w), 0) * uVals.reduce((t, u) => t + l1(u), 0);
  const sides = [
    { jv: jvR, what: "the ops' pushforward rules", blame: "a pushforward rule or a pullback rule on the path is wrong (direct-vs-finiteDiff tells which)" },
    { jv: jvD, what: "the double pullback", blame: "the double-pullback pushforward is broken, or a pullback on the path is not linear in its cotangent" },
  ].map((side) => {
    let lhs = 0;
    let lm = 0;
    side.jv.forEach((jv, k) => {
      const [sk, mk] = dot(wVals[k], jv);
      lhs += sk;
      lm += mk;
    });
    const err = Math.abs(lhs - rhs);
    const tol = engineRtol(d.any32 ? "float32" : "float64") * (lm + rm + norms) + 1e-300;
    return { ...side, lhs, err, tol, rel: err / Math.max(Math.abs(lhs) + Math.abs(rhs), Number.MIN_VALUE) };
  });
  const nonFinite = sides.find((x) => !Number.isFinite(x.lhs));
  if (nonFinite !== undefined || !Number.isFinite(rhs)) {
    return { status: "inconclusive", reason: `non-finite inner products: ⟨w, J u⟩ = ${sides.map((x) => `${x.lhs} (${x.what})`).join(", ")}; ⟨Jᵀ w, u⟩ = ${rhs}` };
  }
  const maxAbsErr = Math.max(...sides.map((x) => x.err));
  const maxRelErr = Math.max(...sides.map((x) => x.rel));
  const bad = sides.find((x) => x.err > x.tol);
  if (bad === undefined) return { status: "pass", maxAbsErr, maxRelErr };
  const named = outs.length <= 6 ? outs.map((o) => o.toString()).join(", ") : `${outs.slice(0, 6).map((o) => o.toString()).join(", ")} and ${outs.length - 6} more`;
  const reason = `Σ ⟨w, J u⟩ = ${bad.lhs} from ${bad.what} but ⟨Jᵀ w, u⟩ = ${rhs} from the pullback, over outputs ${named}: ${bad.blame}`;
  return { status: "fail", reason, maxAbsErr, maxRelErr };
}
