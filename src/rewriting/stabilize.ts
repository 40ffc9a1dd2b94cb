/**
 * Stabilization rules (PyTensor `tensor/rewriting/math.py`, `nnet`-era `sigm.py`): replace an
 * expression that loses precision or overflows by an equal one computed accurately.
 *
 * Unlike canonicalizations these change values on purpose: `log(1 + 1e-20)` is 0 while
 * `log1p(1e-20)` is 1e-20, and `log(sigmoid(-800))` is -inf while `-softplus(800)` is -800. They
 * agree with the original wherever the original is accurate, so the FAST_RUN vs NONE oracle
 * compares them with a tolerance, never bit for bit.
 */
import type { Apply, Variable } from "../graph/basic.js";
import { cast, expm1, log1p, neg, softplus } from "../tensor/elemwise.js";
import { Elemwise } from "../tensor/elemwise.js";
import { nodeRewriter, type NodeRewriter } from "./engine.js";
import { registerStabilize } from "./db.js";
import { appliesScalar, conformTo, elemwiseOwner, inputFromScalar, isConstantFill, isOne } from "./canonicalize.js";

function stab(rw: NodeRewriter): NodeRewriter {
  registerStabilize(rw);
  return rw;
}

/** A pre-filter: the node applies `scalar` to an input computed by `inner`. */
function scalarOfScalar(scalar: string, inner: string): (node: Apply) => boolean {
  const outer = appliesScalar(scalar);
  const input = inputFromScalar(0, inner);
  return (node) => outer(node) && input(node);
}

/** x computed in `dtype` first (the outer op computed in it), so the rewritten op rounds alike. */
function inDtype(x: Variable, dtype: Variable["type"]["dtype"]): Variable {
  return x.type.dtype === dtype ? x : cast(x, dtype);
}

/** The non-constant operand of `add(1, x)` / `add(x, 1)` (or of `sub(1, x)` when `sub`), else null. */
function onePlus(v: Variable, scalar: "add" | "sub"): { x: Variable; node: Apply } | null {
  const n = elemwiseOwner(v, scalar);
  if (n === null) return null;
  const [a, b] = n.inputs;
  if (isConstantFill(a, isOne)) return { x: b, node: n };
  if (scalar === "add" && isConstantFill(b, isOne)) return { x: a, node: n };
  return null;
}

/** Finish a rewrite of `node`: give `r` (computed from a sub-expression) node's exact output type. */
function finish(r: Variable, node: Apply, inner: Apply): Variable[] | null {
  // The constant may have broadcast the inner expression; conformTo restores that shape.
  const out = conformTo(r, node.outputs[0], inner);
  return out === null ? null : [out];
}

/** `log(1 + x)` → `log1p(x)`: accurate for |x| ≪ 1, where 1 + x rounds x away. */
export const logOnePlus = stab(
  nodeRewriter("local_log1p", [Elemwise], (_fg, node) => {
    if (elemwiseOwner(node.outputs[0], "log") === null) return null;
    const m = onePlus(node.inputs[0], "add");
    // An int addition can wrap around (int32 max + 1); log1p of the float would not.
    if (m === null || m.node.outputs[0].type.dtype !== node.outputs[0].type.dtype) return null;
    return finish(log1p(inDtype(m.x, node.outputs[0].type.dtype)), node, m.node);
  }, scalarOfScalar("log", "add")),
);

/**
 * `log(sigmoid(x))` → `-softplus(-x)`: log σ(x) = -log(1 + e^-x). For x ≪ 0, σ(x) underflows to 0
 * and the log to -inf, while softplus stays finite.
 */
export const logSigmoid = stab(
  nodeRewriter("local_log_sigmoid", [Elemwise], (_fg, node) => {
    if (elemwiseOwner(node.outputs[0], "log") === null) return null;
    const s = elemwiseOwner(node.inputs[0], "sigmoid");
    if (s === null) return null;
    // neg is undefined on bool (numpy), so compute in the (float) output dtype first.
    return finish(neg(softplus(neg(inDtype(s.inputs[0], node.outputs[0].type.dtype)))), node, s);
  }, scalarOfScalar("log", "sigmoid")),
);

/**
 * `log(1 - sigmoid(x))` → `-softplus(x)`: 1 - σ(x) = σ(-x), so this is log σ(-x) = -softplus(x).
 * For x ≫ 0, 1 - σ(x) rounds to 0 and the log to -inf.
 */
export const logOneMinusSigmoid = stab(
  nodeRewriter("local_log1msigm", [Elemwise], (_fg, node) => {
    if (elemwiseOwner(node.outputs[0], "log") === null) return null;
    const m = onePlus(node.inputs[0], "sub");
    if (m === null) return null;
    const s = elemwiseOwner(m.x, "sigmoid");
    if (s === null) return null;
    return finish(neg(softplus(inDtype(s.inputs[0], node.outputs[0].type.dtype))), node, m.node);
  }, scalarOfScalar("log", "sub")),
);

/** `exp(x) - 1` → `expm1(x)`: accurate for |x| ≪ 1, where e^x - 1 cancels. */
export const expMinusOne = stab(
  nodeRewriter("local_expm1", [Elemwise], (_fg, node) => {
    const sub = elemwiseOwner(node.outputs[0], "sub");
    if (sub === null || !isConstantFill(node.inputs[1], isOne)) return null;
    const e = elemwiseOwner(node.inputs[0], "exp");
    if (e === null) return null;
    return finish(expm1(inDtype(e.inputs[0], node.outputs[0].type.dtype)), node, node);
  }, scalarOfScalar("sub", "exp")),
);

/** Every stabilization defined here. */
export const STABILIZE_RULES: readonly NodeRewriter[] = [logOnePlus, logSigmoid, logOneMinusSigmoid, expMinusOne];
