/**
 * The lazy region API's contract, part of grad-composition's `argument-contract` claim: what
 * `PullbackOp` (exported by src/index.ts) promises a caller who wraps a region of the case's own
 * graph, with no compile.
 *
 * A Pullback node stands for a whole region's gradient until `expand_pullback` replaces it, and
 * MergeOptimizer merges two such nodes when their ops are equal. So the op's equality is the
 * region's identity: equal for a copy of the same region, different for any region that computes
 * something else. A signature that forgot a part would merge two different regions and hand one
 * region's gradient to the other; nothing else checks it directly, since the generated cases
 * rarely hold two regions that differ only there.
 *
 * | built | must give |
 * |---|---|
 * | `new PullbackOp([k, ...inputs], [cost], 1)`, k an integer root | `Pullback: differentiated input 0 has dtype <k's dtype>; only float inputs have gradients` (GradError) |
 * | `op.makeNode(...inputs)`, no cotangent | `Pullback: expected <n> region inputs and 1 cotangents, got <n> inputs` (OpInputError) |
 * | `op.makeNode(...)` with region input j of the other float dtype (float64 for an integer input), or an integer cotangent | `Pullback: region input <j> must be of type <T>, got <U>`; `Pullback: cotangent 0 must be of type <T>, got <U>` |
 * | a region whose inputs leave out a wrt the cost reads | `Pullback: the wrapped region reads <w>, which is not one of its inputs` (GradError) |
 * | `expandPullbackNode` of the cost's own node | `expand_pullback: <op> is not a Pullback node` (GradError) |
 * | the region copied onto fresh inputs | an equal op |
 * | the region with its two outputs in the other order; with an unread extra input of length 2 and of length 3; `exp(cost)` and `neg(cost)` as its output; another count of differentiated inputs | ops that differ |
 *
 * The expected messages are written here from the op's documentation and the case's variables.
 */
import { Variable } from "../src/graph/basic.js";
import { clone } from "../src/graph/traversal.js";
import { type DType, isFloat } from "../src/graph/type.js";
import { GradError, OpInputError } from "../src/errors.js";
import { PullbackOp, expandPullbackNode } from "../src/grad/lazy.js";
import { tensor } from "../src/tensor/basic.js";
import * as T from "../src/tensor/elemwise.js";
import * as X from "../src/xtensor/index.js";
import type { BuiltCase } from "../src/case/build.js";
import { type Refusal, refusalProblem } from "./refusals.js";

/** The region API under test (tests pass faulty ones). */
export interface RegionApi {
  readonly PullbackOp: new (innerInputs: readonly Variable[], innerOutputs: readonly Variable[], nWrt: number) => PullbackOp;
  readonly expandPullbackNode: typeof expandPullbackNode;
}

export const REAL_REGION_API: RegionApi = { PullbackOp, expandPullbackNode };

/** A fresh root like `v` (its family, dims and shape), of `dtype`. */
function rootLike(v: Variable, dtype: DType, shape: readonly (number | null)[] = v.type.shape): Variable {
  return X.isXTensorVariable(v) ? X.xtensor(null, { dims: [...v.type.dims], shape: [...shape], dtype }) : tensor(null, { shape: [...shape], dtype });
}

const otherFloat = (dtype: DType): DType => (dtype === "float64" ? "float32" : "float64");

/**
 * The claim on one case: null when every promise holds, else what broke. `connected` are the
 * case's wrt the cost reads (the caller knows them from its own gradient); `rand` draws the
 * region input that gets the wrong type.
 */
export function regionContractProblem(b: BuiltCase, connected: readonly Variable[], rand: () => number, api: RegionApi = REAL_REGION_API): string | null {
  const cost = b.cost;
  const others = [...b.inputs.values()].filter((v) => !b.wrt.includes(v));
  const ins = [...b.wrt, ...others];
  const n = ins.length;
  const op = new api.PullbackOp(ins, [cost], b.wrt.length);
  const j = Math.floor(rand() * n);
  const wrongInput = rootLike(ins[j], isFloat(ins[j].type.dtype) ? otherFloat(ins[j].type.dtype) : "float64");
  const intCot = rootLike(cost, "int32");
  const k = rootLike(cost, "int64", []);
  const w = connected.length > 0 ? connected[Math.floor(rand() * connected.length)] : null;
  const misuses: (Refusal & { readonly cls: typeof GradError | typeof OpInputError })[] = [
    { what: "a PullbackOp differentiating an integer input", run: () => new api.PullbackOp([k, ...ins], [cost], 1), says: "Pullback: differentiated input 0 has dtype int64; only float inputs have gradients", cls: GradError },
    { what: "a Pullback node without its cotangent", run: () => op.makeNode(...ins), says: `Pullback: expected ${n} region inputs and 1 cotangents, got ${n} inputs`, cls: OpInputError },
    {
      what: `a Pullback node whose region input ${j} has another dtype`,
      run: () => op.makeNode(...ins.map((v, i) => (i === j ? wrongInput : v)), rootLike(cost, cost.type.dtype)),
      says: `Pullback: region input ${j} must be of type ${ins[j].type.toString()}, got ${wrongInput.type.toString()}`,
      cls: OpInputError,
    },
    { what: "a Pullback node with an integer cotangent", run: () => op.makeNode(...ins, intCot), says: `Pullback: cotangent 0 must be of type ${cost.type.toString()}, got ${intCot.type.toString()}`, cls: OpInputError },
  ];
  if (w !== null) {
    const without = ins.filter((v) => v !== w);
    misuses.push({ what: `a region whose inputs leave out ${w.toString()}`, run: () => new api.PullbackOp(without, [cost], b.wrt.length - 1), says: `Pullback: the wrapped region reads ${w.toString()}, which is not one of its inputs`, cls: GradError });
  }
  const own = cost.owner;
  if (own !== null) {
    misuses.push({ what: "expandPullbackNode of a node that is not a Pullback", run: () => api.expandPullbackNode(own, () => []), says: `expand_pullback: ${own.op.toString()} is not a Pullback node`, cls: GradError });
  }
  for (const m of misuses) {
    const problem = refusalProblem(m, m.cls);
    if (problem !== null) return problem;
  }

  // Equality is the region's identity (MergeOptimizer merges equal Pullback ops).
  const fresh = ins.map((v) => v.cloneRoot());
  const copied = clone([cost], { replace: new Map(ins.map((v, i) => [v, fresh[i]])) }).outputs;
  if (!new api.PullbackOp(fresh, copied, b.wrt.length).equals(op)) return "the region copied onto fresh inputs gave a PullbackOp that is not equal to the original's: MergeOptimizer would not merge two copies of one region";
  // y: a float node the cost reads (a strict ancestor can never have the cost's own structure,
  // so [cost, y] and [y, cost] are two regions, not one region listed twice).
  const y = strictAncestors(cost).find((v) => v.owner !== null && isFloat(v.type.dtype));
  const unary = (f: "exp" | "neg"): Variable => (X.isXTensorVariable(cost) ? X[f](cost) : T[f](cost as never));
  const pairs: [string, () => PullbackOp, () => PullbackOp][] = [
    ["an unread extra input of length 2, and of length 3", () => new api.PullbackOp([...ins, tensor(null, { shape: [2], dtype: "float64" })], [cost], b.wrt.length), () => new api.PullbackOp([...ins, tensor(null, { shape: [3], dtype: "float64" })], [cost], b.wrt.length)],
    ["exp(cost) and neg(cost) as the output", () => new api.PullbackOp(ins, [unary("exp")], b.wrt.length), () => new api.PullbackOp(ins, [unary("neg")], b.wrt.length)],
    [`${b.wrt.length} differentiated inputs, and none`, () => op, () => new api.PullbackOp(ins, [cost], 0)],
  ];
  if (y !== undefined) pairs.push([`the outputs [cost, ${y.toString()}], and in the other order`, () => new api.PullbackOp(ins, [cost, y], b.wrt.length), () => new api.PullbackOp(ins, [y, cost], b.wrt.length)]);
  for (const [what, p, q] of pairs) {
    if (p().equals(q())) return `two regions that differ only in ${what} gave equal PullbackOps: MergeOptimizer would merge them and hand one region's gradient to the other`;
  }
  return null;
}

/** The variables `v` is computed from (not `v` itself), nearest first. */
function strictAncestors(v: Variable): Variable[] {
  const seen = new Set<Variable>([v]);
  const out: Variable[] = [];
  const queue = [...(v.owner?.inputs ?? [])];
  while (queue.length > 0) {
    const w = queue.shift() as Variable;
    if (seen.has(w)) continue;
    seen.add(w);
    out.push(w);
    queue.push(...(w.owner?.inputs ?? []));
  }
  return out;
}
