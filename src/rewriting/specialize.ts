/**
 * Specialization rules (PyTensor `local_pow_specialize`, `local_mul_specialize`): replace a
 * general op by a cheaper special case with the same values.
 *
 * Each rule states where the two sides agree under IEEE 754 and numpy's integer semantics, and
 * fires only there.
 */
import type { Apply, Variable } from "../graph/basic.js";
import type { DType } from "../graph/type.js";
import { Elemwise, cast, sqrt, square } from "../tensor/elemwise.js";
import { nodeRewriter, type NodeRewriter } from "./engine.js";
import { registerSpecialize } from "./db.js";
import { appliesScalar, conformTo, elemwiseOwner, isConstantFill, outputLengths } from "./canonicalize.js";
import { alloc } from "../tensor/shape.js";

function spec(rw: NodeRewriter): NodeRewriter {
  registerSpecialize(rw);
  return rw;
}

/**
 * int32 is excluded from `pow(x, 2)` → `square(x)`: `square` and `mul` on int32 multiply with
 * `Math.imul` (exact wrap-around, as numpy), but `pow` computes `a ** 2` in doubles, which
 * rounds once the product passes 2^53 (|a| > 94906265) before the int32 store wraps it, so the
 * rewrite would change the low bits of an overflowing pow.
 */
function squareable(dtype: DType): boolean {
  return dtype !== "int32";
}

/**
 * `pow(x, 2)` → `square(x)`. Computed in pow's output dtype (x is cast first when the exponent
 * raised the dtype, e.g. int x with 2.0).
 */
export const powTwo = spec(
  nodeRewriter("local_pow_2_to_square", [Elemwise], (_fg, node) => {
    if (elemwiseOwner(node.outputs[0], "pow") === null || !isConstantFill(node.inputs[1], (v) => v === 2)) return null;
    const out = node.outputs[0];
    if (!squareable(out.type.dtype)) return null;
    const x = node.inputs[0];
    const r = conformTo(square(x.type.dtype === out.type.dtype ? x : cast(x, out.type.dtype)), out, node);
    return r === null ? null : [r];
  }, appliesScalar("pow")),
);

/**
 * Producers whose outputs are never -0.0 nor -inf (possibly NaN): exp, sigmoid and softplus are
 * positive or +0; square and abs map -0 to +0 and -inf to +inf.
 */
const NO_NEG_ZERO_OR_NEG_INF = ["exp", "sigmoid", "softplus", "square", "abs"];

/**
 * `pow(x, 0.5)` → `sqrt(x)`, only when x is known to be neither -0.0 nor -inf. The two differ
 * exactly there (numpy agrees): `pow(-0, 0.5)` is +0 but `sqrt(-0)` is -0, and
 * `pow(-inf, 0.5)` is +inf but `sqrt(-inf)` is NaN. Elsewhere both are NaN for x < 0 and equal
 * (up to pow's rounding; sqrt is correctly rounded) for x >= 0. PyTensor rewrites
 * unconditionally and so diverges at those two points; we rewrite when x's producer rules them
 * out (see `NO_NEG_ZERO_OR_NEG_INF`).
 */
export const powHalf = spec(
  nodeRewriter("local_pow_half_to_sqrt", [Elemwise], (_fg, node) => {
    if (elemwiseOwner(node.outputs[0], "pow") === null || !isConstantFill(node.inputs[1], (v) => v === 0.5)) return null;
    const x = node.inputs[0];
    if (elemwiseOwner(x, ...NO_NEG_ZERO_OR_NEG_INF) === null) return null;
    const out = node.outputs[0];
    const r = conformTo(sqrt(x.type.dtype === out.type.dtype ? x : cast(x, out.type.dtype)), out, node);
    return r === null ? null : [r];
  }, appliesScalar("pow")),
);

const isMul = appliesScalar("mul");

/** A pre-filter: a mul whose two operands are the same variable. */
function mulOfSelf(node: Apply): boolean {
  return node.inputs[0] === node.inputs[1] && isMul(node);
}

/** `x * x` → `square(x)` (the same variable in both slots; exact for every dtype, int32 included). */
export const mulSelf = spec(
  nodeRewriter("local_mul_self_to_square", [Elemwise], (_fg, node) => {
    if (elemwiseOwner(node.outputs[0], "mul") === null) return null;
    const [a, b] = node.inputs;
    if (a !== b) return null;
    const r: Variable = square(a);
    return node.outputs[0].type.isSuper(r.type) ? [r] : null;
  }, mulOfSelf),
);

/**
 * `second(a, b)` → `b` broadcast to the output with an Alloc (cast first if the output's dtype
 * differs), PyTensor's `local_second_to_alloc`. The values are b's either way; the Alloc no
 * longer reads a, only a's lengths where they are not static, so a need not be computed, and
 * every `zeros_like(x)` of a gradient becomes `alloc(0, ...)`: equal for every x of one static
 * shape (merging makes them one buffer), and an owned buffer that an update op may fill in place
 * (the inplace pass copies a shared zero Alloc for that). Declines where a's run-time length
 * check would be lost (see `conformTo`). Where the result would be b itself with b a constant or
 * an input (the seed `second(cost, 1)` of every gradient), it is an Alloc of b instead: a bare
 * root would hand no fresh buffer to its readers, and keeping `second` kept the whole forward
 * cost computed in a function that returns only gradients (found by the canonicalize triage).
 */
export const secondToAlloc = spec(
  nodeRewriter("local_second_to_alloc", [Elemwise], (_fg, node) => {
    if (elemwiseOwner(node.outputs[0], "second") === null) return null;
    const r = conformTo(node.inputs[1], node.outputs[0], node);
    if (r === null) return null;
    if (r.owner !== null) return [r];
    // b itself, a constant or an input (a gradient's seed `second(cost, 1)`): an Alloc of it, so
    // readers still get a buffer of their own and a no longer needs computing at all.
    const lens = outputLengths(node.outputs[0], node);
    return lens === null ? null : [alloc(r, lens)];
  }, appliesScalar("second")),
);

/** Every specialization defined here. */
export const SPECIALIZE_RULES: readonly NodeRewriter[] = [powTwo, powHalf, mulSelf, secondToAlloc];
