/**
 * `kink-conventions`: the gradient conventions at non-smooth points that
 * `shared/spec/semantics.md` fixes ("Non-smooth points follow PyTensor's conventions"):
 *
 * - `max` and `min` reductions give the cotangent to **every** tied position;
 * - `maximum(a, b)` / `minimum(a, b)` at a tie give the cotangent to the first argument;
 * - `abs'(0) = 0`.
 *
 * Every other check keeps generated values away from these points, because finite differences
 * see a kink there and tfjs's conventions are not the contract. So without this property a rule
 * that splits a tied cotangent (numpy-autograd's and JAX's choice), or hands a tie to the second
 * argument, would pass everything. This is the one check that judges *at* the kinks, and it
 * judges only against the spec's stated rule, computed here by an independent reference.
 *
 * How: for a few kink nodes of the case (seeded choice), a **probe case** copies the node onto
 * fresh inputs of the same types and a weight `w` of the node's type:
 * `cost = sum(w * op(a, b))`. The operands get planted values on a small integer grid, so ties
 * are exact in every dtype (float32 included) and at least one tie is forced where the shape
 * allows one. The reference gradient is computed in plain JS from the planted values, the node's
 * dims and the rule above; it shares no code with the engine. Every engine gradient path
 * (direct, per-node, lowered) must match it. A literal operand is planted against exactly, in
 * the output dtype (a weak float literal takes a float32 operand's dtype, NEP 50).
 *
 * The probe is a function of the node alone, so a failing case shrinks to the kink node and its
 * input, and localization names the kink op.
 */
import type { Case, CaseArg, CaseInput, CaseNode, CaseTypes, VarType } from "../src/case/format.js";
import { isFloatDtype, nestValue } from "../src/case/format.js";
import { caseTypes } from "../src/case/parse.js";
import { type BuiltCase, type CaseGradStrategy, type VerdictArray, buildCase, caseGradients } from "../src/case/build.js";
import { mulberry32 } from "../oracles/finiteDiff.js";
import { compareArrays, engineRtol } from "./compare.js";
import type { ArrayValue, Check } from "./types.js";

/** The case ops with a convention at a non-smooth point. */
export const KINK_OPS = ["max", "min", "maximum", "minimum", "abs"] as const;
/** One of {@link KINK_OPS}. */
export type KinkOp = (typeof KINK_OPS)[number];

/** How many kink nodes of one case are probed (each probe is three NONE compiles of ~3 nodes). */
export const PROBES_PER_CASE = 2;

/** The engine paths every probe is judged on. */
export const KINK_PATHS: readonly CaseGradStrategy[] = ["lazy", "perNode", "lowered"];

/** One probe: a generated kink node copied onto planted operands. */
export interface KinkProbe {
  /** The id of the generated node the probe copies. */
  readonly nodeId: string;
  readonly op: KinkOp;
  /** `cost = sum(w * op(...))` on fresh inputs `k0`, `k1` and the weight `w`. */
  readonly case: Case;
  /** The spec's gradient for every float operand input of the probe. */
  readonly expected: Readonly<Record<string, ArrayValue>>;
  /** Where the planted ties (or zeros) are, for the failure message. */
  readonly planted: string;
}

/** The gradient computation judged; a seam so tests can plant a wrong convention. */
export interface KinkEngine {
  gradients(built: BuiltCase, path: CaseGradStrategy): Record<string, VerdictArray>;
}

/** The real engine. */
export const ENGINE: KinkEngine = { gradients: (b, path) => caseGradients(b, path) };

// ---------------------------------------------------------------------------------------------
// the check

/**
 * Judge the conventions on up to {@link PROBES_PER_CASE} kink nodes of `c`: `pass` when every
 * probe matches the spec on every path, `fail` naming the node, the path, the planted ties and
 * the first wrong element, `inconclusive` when the case has no kink node with a float operand.
 */
export function kinkConventionCheck(c: Case, types: CaseTypes, seed: number, engine: KinkEngine = ENGINE): Check {
  const property = "kink-conventions";
  const probes = kinkProbes(c, types, seed);
  if (probes.length === 0) return { property, status: "inconclusive", reason: "no max/min/maximum/minimum/abs node with a float operand" };
  let maxAbs = 0;
  let maxRel = 0;
  for (const p of probes) {
    const built = buildCase(p.case);
    for (const path of KINK_PATHS) {
      const got = engine.gradients(built, path);
      for (const [name, want] of Object.entries(p.expected)) {
        const g = got[name];
        const what = `${pathName(path)} gradient of ${p.op} (node "${p.nodeId}") w.r.t. its ${name === "k0" ? "first" : "second"} operand, ${p.planted},`;
        if (g === undefined) return { property, status: "fail", reason: `${what} is missing`, failingOp: p.op };
        const r = compareArrays(g, want, what, engineRtol(want.dtype));
        if (!r.ok) return { property, status: "fail", reason: `${r.reason ?? "mismatch"}; the spec: ${RULE[p.op]}`, failingOp: p.op, maxAbsErr: r.maxAbsErr, maxRelErr: r.maxRelErr };
        maxAbs = Math.max(maxAbs, r.maxAbsErr);
        maxRel = Math.max(maxRel, r.maxRelErr);
      }
    }
  }
  return { property, status: "pass", reason: `probed ${probes.map((p) => `${p.op} "${p.nodeId}"`).join(", ")}`, maxAbsErr: maxAbs, maxRelErr: maxRel };
}

const RULE: Record<KinkOp, string> = {
  max: "max gives the cotangent to every tied position",
  min: "min gives the cotangent to every tied position",
  maximum: "maximum at a tie gives the cotangent to the first argument",
  minimum: "minimum at a tie gives the cotangent to the first argument",
  abs: "abs'(0) = 0",
};

function pathName(path: CaseGradStrategy): string {
  return path === "lazy" ? "direct" : path;
}

// ---------------------------------------------------------------------------------------------
// probes

/**
 * The probes of a case: its kink nodes with at least one float operand (an int or bool operand
 * has no gradient, a literal none either), at most `limit`, chosen by `seed` and preferring
 * distinct ops. Deterministic in (case, seed).
 */
export function kinkProbes(c: Case, types: CaseTypes, seed: number, limit = PROBES_PER_CASE): KinkProbe[] {
  const rand = mulberry32(seed ^ 0x6b1e_c0de);
  const candidates = c.nodes.filter((n) => isKinkOp(n.op) && n.args.some((a) => typeof a === "string" && isFloatDtype(typeOf(types, a).dtype)));
  // Shuffle (seeded), nodes that can tie first (a reduction over no dim, or over length-1 dims
  // only, is an identity), then distinct ops first: two max nodes say less than a max and a minimum.
  const order = candidates.map((n) => ({ n, r: rand() + (canTie(n, types) ? 0 : 1) })).sort((x, y) => x.r - y.r).map((x) => x.n);
  const picked: CaseNode[] = [];
  for (const n of order) if (picked.length < limit && !picked.some((p) => p.op === n.op)) picked.push(n);
  for (const n of order) if (picked.length < limit && !picked.includes(n)) picked.push(n);
  return picked.map((n) => probeOf(n, types, rand));
}

/** False for a max/min whose reduced groups have one element each: no tie can be planted. */
function canTie(n: CaseNode, types: CaseTypes): boolean {
  if (n.op !== "max" && n.op !== "min") return true;
  const x = typeOf(types, n.args[0] as string);
  const dims = (n as { dims?: string[] | null }).dims ?? x.dims ?? [];
  return dims.reduce((len, d) => len * (x.shape[(x.dims ?? []).indexOf(d)] ?? 1), 1) >= 2;
}

function isKinkOp(op: string): op is KinkOp {
  return (KINK_OPS as readonly string[]).includes(op);
}

function typeOf(types: CaseTypes, name: string): VarType {
  const t = types.get(name);
  if (t === undefined) throw new Error(`kink-conventions: no static type for "${name}"`);
  return t;
}

/** An operand of a kink node: a fresh input of the argument's type, or the literal itself. */
type Operand = { readonly kind: "input"; readonly name: string; readonly type: VarType; data: number[] } | { readonly kind: "literal"; readonly value: number };

function probeOf(n: CaseNode, types: CaseTypes, rand: () => number): KinkProbe {
  const op = n.op as KinkOp;
  const out = typeOf(types, n.id);
  const operands: Operand[] = n.args.map((a, i) => (typeof a === "number" ? { kind: "literal", value: a } : { kind: "input", name: `k${i}`, type: typeOf(types, a), data: [] }));
  const planted = plant(op, operands, out, rand);
  const w = Array.from({ length: size(out.shape) }, () => WEIGHTS[Math.floor(rand() * WEIGHTS.length)]);
  const inputs: CaseInput[] = operands.flatMap((o) => (o.kind === "input" ? [caseInput(o.name, o.type, o.data)] : []));
  inputs.push(caseInput("w", out, w));
  const args: CaseArg[] = operands.map((o) => (o.kind === "input" ? o.name : o.value));
  const kink: CaseNode = { ...n, id: "y", args } as CaseNode;
  const probe: Case = {
    format: "xgrad-case/1",
    name: `kink-conventions probe of ${op} "${n.id}"`,
    inputs,
    nodes: [kink, { id: "wy", op: "mul", args: ["y", "w"] }, ...(out.shape.length === 0 ? [] : [{ id: "cost", op: "sum", args: ["wy"] } as CaseNode])],
    cost: out.shape.length === 0 ? "wy" : "cost",
    wrt: operands.flatMap((o) => (o.kind === "input" && isFloatDtype(o.type.dtype) ? [o.name] : [])),
  };
  // The probe must be a valid case; a bug here is the harness's, so let it throw loudly.
  caseTypes(probe);
  const expected: Record<string, ArrayValue> = {};
  const grads = reference(op, operands, out, w);
  operands.forEach((o, i) => {
    if (o.kind === "input" && isFloatDtype(o.type.dtype)) expected[o.name] = { ...(o.type.dims !== undefined ? { dims: [...o.type.dims] } : {}), shape: [...o.type.shape], dtype: o.type.dtype, data: grads[i] };
  });
  return { nodeId: n.id, op, case: probe, expected, planted };
}

/** Weights: exact in float32, nonzero, unequal, so a misplaced or merged cotangent shows. */
const WEIGHTS = [1, 2, 3, -1, -2, 5];
/** Operand values: small integers, exact in every dtype, so ties are exact ties everywhere. */
const GRID = [-1, 0, 1, 2];

function caseInput(name: string, t: VarType, data: readonly number[]): CaseInput {
  const value = nestValue(t.dtype === "bool" ? data.map((v) => v !== 0) : data, t.shape);
  return t.kind === "xtensor" ? { name, kind: "xtensor", dims: [...(t.dims ?? [])], shape: [...t.shape], dtype: t.dtype, value } : { name, kind: "tensor", shape: [...t.shape], dtype: t.dtype, value };
}

/**
 * Fill the operands' `data` with grid values and force the kink where the shape allows it.
 * Returns a description of what was planted.
 */
function plant(op: KinkOp, operands: Operand[], out: VarType, rand: () => number): string {
  const draw = (t: VarType): number => (t.dtype === "bool" ? Math.floor(rand() * 2) : GRID[Math.floor(rand() * GRID.length)]);
  for (const o of operands) if (o.kind === "input") o.data = Array.from({ length: size(o.type.shape) }, () => draw(o.type));
  if (op === "abs") {
    const x = operands[0] as Operand & { kind: "input" };
    const k = Math.floor(rand() * x.data.length);
    if (x.data.length > 0) x.data[k] = 0;
    const zeros = x.data.flatMap((v, i) => (v === 0 ? [i] : []));
    return zeros.length === 0 ? "no element (empty operand)" : `zeros planted at flat [${zeros.join(", ")}] (x = [${x.data.join(", ")}])`;
  }
  if (op === "max" || op === "min") {
    const x = operands[0] as Operand & { kind: "input" };
    const groups = reduceGroups(x.type, out);
    const big = groups.filter((g) => g.length >= 2);
    if (big.length === 0) return "no tie possible (every reduced group has one element)";
    // Force a tie at the extremum in one group: two positions at a value beyond the grid.
    const g = big[Math.floor(rand() * big.length)];
    const i = Math.floor(rand() * g.length);
    let j = Math.floor(rand() * (g.length - 1));
    if (j >= i) j++;
    const extreme = op === "max" ? 3 : -2;
    x.data[g[i]] = extreme;
    x.data[g[j]] = extreme;
    const ties = groups.filter((gr) => { const ext = extremum(op, gr.map((k) => x.data[k])); return gr.filter((k) => x.data[k] === ext).length >= 2; }).length;
    return `${op} tied in ${ties} of ${groups.length} reduced group(s) (x = [${x.data.join(", ")}])`;
  }
  // maximum / minimum: make one output element a tie between the two operands.
  const [a, b] = operands;
  const maps = operands.map((o) => indexMapper(o, out));
  const cell = Math.floor(rand() * size(out.shape));
  const coords = unravel(cell, out.shape);
  const ia = maps[0](coords);
  const ib = maps[1](coords);
  if (a.kind === "input" && b.kind === "input") {
    // A bool operand's 0/1 already ties with the grid's 0 and 1 often enough; copy only numbers.
    if (a.type.dtype !== "bool" && b.type.dtype !== "bool") b.data[ib] = a.data[ia];
  } else {
    const lit = (a.kind === "literal" ? a : b) as Operand & { kind: "literal" };
    const x = (a.kind === "input" ? a : b) as Operand & { kind: "input" };
    // The literal itself, rounded as the operand stores it, where the operand's dtype can hold
    // it exactly (a weak float literal against an int operand cannot tie).
    const v = x.type.dtype === "float32" ? Math.fround(lit.value) : lit.value;
    if (isFloatDtype(x.type.dtype) || (x.type.dtype !== "bool" && Number.isInteger(v))) x.data[x === a ? ia : ib] = v;
  }
  const av = (k: number): number => operandValue(a, maps[0], unravel(k, out.shape), out.dtype);
  const bv = (k: number): number => operandValue(b, maps[1], unravel(k, out.shape), out.dtype);
  const tied = Array.from({ length: size(out.shape) }, (_, k) => k).filter((k) => av(k) === bv(k));
  const show = (o: Operand): string => (o.kind === "literal" ? String(o.value) : `[${o.data.join(", ")}]`);
  const vals = `(a = ${show(a)}, b = ${show(b)})`;
  return tied.length === 0 ? `no tie possible in these dtypes ${vals}` : `tied at output flat [${tied.join(", ")}] ${vals}`;
}

// ---------------------------------------------------------------------------------------------
// the reference: the spec's rule in plain JS, on flat C-order arrays

/**
 * The spec's gradient of `sum(w * op(operands))` with respect to each operand (an empty array
 * for a literal). Values are compared in the output dtype, as the engine computes them.
 */
function reference(op: KinkOp, operands: readonly Operand[], out: VarType, w: readonly number[]): number[][] {
  const grads = operands.map((o) => (o.kind === "input" ? new Array<number>(o.data.length).fill(0) : []));
  if (op === "abs") {
    const x = operands[0] as Operand & { kind: "input" };
    x.data.forEach((v, i) => { grads[0][i] = w[i] * Math.sign(v); });
    return grads;
  }
  if (op === "max" || op === "min") {
    const x = operands[0] as Operand & { kind: "input" };
    reduceGroups(x.type, out).forEach((g, cell) => {
      const ext = extremum(op, g.map((k) => x.data[k]));
      for (const k of g) if (x.data[k] === ext) grads[0][k] += w[cell];
    });
    return grads;
  }
  const maps = operands.map((o) => indexMapper(o, out));
  for (let cell = 0; cell < size(out.shape); cell++) {
    const coords = unravel(cell, out.shape);
    const a = operandValue(operands[0], maps[0], coords, out.dtype);
    const b = operandValue(operands[1], maps[1], coords, out.dtype);
    // At a tie the first argument takes the cotangent, for both maximum and minimum.
    const first = op === "maximum" ? a >= b : a <= b;
    const to = first ? 0 : 1;
    if (operands[to].kind === "input") grads[to][maps[to](coords)] += w[cell];
  }
  return grads;
}

function extremum(op: "max" | "min", vals: readonly number[]): number {
  return op === "max" ? Math.max(...vals) : Math.min(...vals);
}

/**
 * For a reduction from `x` to `out`: the flat indices of `x` that reduce into each output
 * element, grouped by output flat index. Output dims are matched to `x`'s by name, so the
 * grouping does not assume the engine's dims order.
 */
function reduceGroups(x: VarType, out: VarType): number[][] {
  const groups: number[][] = Array.from({ length: size(out.shape) }, () => []);
  const xd = x.dims ?? [];
  const od = out.dims ?? [];
  const ostr = strides(out.shape);
  for (let i = 0; i < size(x.shape); i++) {
    const coords = unravel(i, x.shape);
    let cell = 0;
    od.forEach((d, j) => { cell += coords[xd.indexOf(d)] * ostr[j]; });
    groups[cell].push(i);
  }
  return groups;
}

/**
 * Output coordinates → an operand's flat index: by dim name for xtensors (xarray broadcasting),
 * right-aligned for positional tensors (numpy), a length-1 axis broadcasting in either case.
 */
function indexMapper(o: Operand, out: VarType): (coords: readonly number[]) => number {
  if (o.kind === "literal") return () => 0;
  const t = o.type;
  const str = strides(t.shape);
  const at: number[] = t.kind === "xtensor" ? (t.dims ?? []).map((d) => (out.dims ?? []).indexOf(d)) : t.shape.map((_, j) => out.shape.length - t.shape.length + j);
  return (coords) => at.reduce((s, p, j) => s + (t.shape[j] === 1 ? 0 : coords[p]) * str[j], 0);
}

function operandValue(o: Operand, map: (c: readonly number[]) => number, coords: readonly number[], dtype: string): number {
  const v = o.kind === "literal" ? o.value : o.data[map(coords)];
  return dtype === "float32" ? Math.fround(v) : v;
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

function unravel(flat: number, shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length).fill(0);
  for (let i = shape.length - 1; i >= 0; i--) {
    out[i] = flat % shape[i];
    flat = Math.floor(flat / shape[i]);
  }
  return out;
}
