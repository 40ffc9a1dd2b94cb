/**
 * Contraction: einsum over single-letter subscripts, the positional target of named `dot`.
 *
 * `einsum("abcd,bcde->ace", x, y)` multiplies x and y elementwise over a shared index space and
 * sums every letter absent from the output. This expresses what tensordot cannot: partial
 * contractions (b, d summed while c is kept), outer products, full contractions to 0-d, and
 * letters present in only one operand (summed out, xarray's rule for `dot`).
 *
 * The kernel walks the index space with one odometer, carrying an offset per operand and for
 * the output; summed letters are innermost, so the inner loop is a strided dot product into a
 * register. Nothing is allocated per element.
 */
import { Apply, Variable } from "../graph/basic.js";
import { DISCONNECTED, type Disconnected, type GradTerm, Op } from "../graph/op.js";
import { TensorType, isFloat, shapeToString } from "../graph/type.js";
import { NDArray, fmtShape } from "../ndarray/ndarray.js";
import { DataError, OpInputError } from "../errors.js";
import { type TensorLike, asTensor, resultDtype, upcast } from "./basic.js";
import { add, cast } from "./elemwise.js";
import { alloc, dimshuffle, shapeOf } from "./shape.js";

const LETTER = /^[A-Za-z]$/;

/** Validate subscripts: letters only, none repeated within one operand. */
function checkSubscripts(what: string, subs: string): void {
  const seen = new Set<string>();
  for (const ch of subs) {
    if (!LETTER.test(ch)) throw new OpInputError(`Contraction: ${what} subscripts "${subs}" contain "${ch}"; only letters are allowed`);
    if (seen.has(ch)) throw new OpInputError(`Contraction: ${what} subscripts "${subs}" repeat letter "${ch}" (diagonals are not supported)`);
    seen.add(ch);
  }
}

/** Multiply operands over a shared index space and sum the letters absent from `output`. */
export class Contraction extends Op {
  readonly name = "Contraction";
  readonly props: { readonly inputs: readonly string[]; readonly output: string };
  /** Output letters first, then summed letters: the odometer's order. */
  private readonly letters: readonly string[];

  constructor(inputs: readonly string[], output: string) {
    super();
    if (inputs.length === 0) throw new OpInputError("Contraction: needs at least one operand");
    inputs.forEach((s, k) => checkSubscripts(`operand ${k}`, s));
    checkSubscripts("output", output);
    const all = new Set(inputs.join(""));
    for (const ch of output) {
      if (!all.has(ch)) throw new OpInputError(`Contraction: output letter "${ch}" appears in no operand of "${inputs.join(",")}->${output}"`);
    }
    const summed = [...all].filter((ch) => !output.includes(ch));
    this.letters = [...output, ...summed];
    this.props = { inputs: Object.freeze([...inputs]), output };
  }

  makeNode(...xs: Variable[]): Apply {
    const subs = this.props.inputs;
    if (xs.length !== subs.length) throw new OpInputError(`Contraction: spec "${this.spec()}" has ${subs.length} operands, got ${xs.length}`);
    const len = new Map<string, { n: number; k: number }>();
    const types = xs.map((x, k) => {
      if (!(x.type instanceof TensorType)) throw new OpInputError(`Contraction: operand ${k} must be a positional tensor, got ${x.type.toString()}`);
      const t = x.type;
      if (t.ndim !== subs[k].length) {
        throw new OpInputError(`Contraction: operand ${k} has shape ${shapeToString(t.shape)} but subscripts "${subs[k]}" name ${subs[k].length} axes`);
      }
      [...subs[k]].forEach((ch, a) => {
        const n = t.shape[a];
        if (n === null) return;
        const prev = len.get(ch);
        if (prev && prev.n !== n) {
          throw new OpInputError(`Contraction: letter "${ch}" has length ${prev.n} in operand ${prev.k} but ${n} in operand ${k} (spec "${this.spec()}")`);
        }
        if (!prev) len.set(ch, { n, k });
      });
      return t;
    });
    const shape = [...this.props.output].map((ch) => len.get(ch)?.n ?? null);
    return new Apply(this, xs, [new TensorType(upcast(...types.map((t) => t.dtype)), shape)]);
  }

  /** The einsum string, e.g. "ab,bc->ac". */
  spec(): string {
    return `${this.props.inputs.join(",")}->${this.props.output}`;
  }

  override perform(node: Apply, xs: readonly NDArray[]): NDArray[] {
    const subs = this.props.inputs;
    const letters = this.letters;
    const nL = letters.length;
    const nK = xs.length;
    const lens = new Array<number>(nL).fill(-1);
    const owner = new Array<number>(nL).fill(-1);
    // strides[k * nL + j]: operand k's stride along letter j (0 when k lacks the letter).
    const strides = new Int32Array(nK * nL);
    for (let k = 0; k < nK; k++) {
      const x = xs[k];
      if (x.ndim !== subs[k].length) throw new DataError(`Contraction: operand ${k} has shape ${fmtShape(x.shape)}, expected ${subs[k].length} axes ("${subs[k]}")`);
      for (let a = 0; a < x.ndim; a++) {
        const j = letters.indexOf(subs[k][a]);
        if (lens[j] >= 0 && lens[j] !== x.shape[a]) {
          throw new DataError(`Contraction: letter "${letters[j]}" has length ${lens[j]} in operand ${owner[j]} but ${x.shape[a]} in operand ${k} (spec "${this.spec()}")`);
        }
        lens[j] = x.shape[a];
        owner[j] = k;
        strides[k * nL + j] = x.strides[a];
      }
    }
    const nO = this.props.output.length;
    const outShape = lens.slice(0, nO);
    const dtype = node.outputs[0].type.dtype;
    const out = NDArray.zeros(outShape, dtype);
    if (lens.some((n) => n === 0)) return [out];
    // Output strides per letter (C order over the output letters; summed letters stride 0).
    const ostr = new Int32Array(nL);
    for (let j = nO - 1, s = 1; j >= 0; j--) {
      ostr[j] = s;
      s *= lens[j];
    }
    const od = out.data;
    const datas = xs.map((x) => x.data);
    const offs = new Int32Array(nK);
    for (let k = 0; k < nK; k++) offs[k] = xs[k].offset;
    if (nL === 0) {
      let p = 1;
      for (let k = 0; k < nK; k++) p *= datas[k][offs[k]];
      od[0] = p;
      return [out];
    }
    const last = nL - 1;
    const L = lens[last];
    const ctr = new Int32Array(nL);
    let o = 0;
    if (nK === 2) {
      // The common case, unrolled: a strided dot product (or axpy when nothing is summed).
      const a = datas[0];
      const b = datas[1];
      const sa = strides[last];
      const sb = strides[nL + last];
      const so = ostr[last];
      for (;;) {
        let ia = offs[0];
        let ib = offs[1];
        if (so === 0) {
          let acc = 0;
          for (let i = 0; i < L; i++, ia += sa, ib += sb) acc += a[ia] * b[ib];
          od[o] += acc;
        } else {
          for (let i = 0, io = o; i < L; i++, ia += sa, ib += sb, io += so) od[io] += a[ia] * b[ib];
        }
        if (!advance(ctr, lens, last, strides, nL, offs)) break;
        o = outerOffset(ctr, last, ostr);
      }
    } else {
      const so = ostr[last];
      for (;;) {
        for (let i = 0; i < L; i++) {
          let p = 1;
          for (let k = 0; k < nK; k++) p *= datas[k][offs[k] + i * strides[k * nL + last]];
          od[o + i * so] += p;
        }
        if (!advance(ctr, lens, last, strides, nL, offs)) break;
        o = outerOffset(ctr, last, ostr);
      }
    }
    // numpy's bool einsum is or-of-ands: counts collapse to true.
    if (dtype === "bool") for (let i = 0; i < od.length; i++) od[i] = od[i] !== 0 ? 1 : 0;
    return [out];
  }

  /**
   * out = sum over summed letters of prod_k x_k, so d out / d x_k is the product of the other
   * operands: dx_k = einsum(g, others -> letters of k). A letter of k in no other operand and
   * not in the output was summed from x_k alone, so dx_k is constant along it: compute without
   * it, then broadcast back to x_k's shape.
   */
  override pullback(xs: readonly Variable[], _outputs: readonly Variable[], [g]: readonly Variable[]): GradTerm[] {
    const subs = this.props.inputs;
    const out = this.props.output;
    return xs.map((x, k): GradTerm => {
      const others = subs.filter((_, j) => j !== k);
      const present = new Set([...out, ...others.join("")]);
      const kept = [...subs[k]].filter((ch) => present.has(ch)).join("");
      let dx = new Contraction([out, ...others], kept).makeNode(g, ...xs.filter((_, j) => j !== k)).out;
      if (kept.length !== subs[k].length) {
        const order = [...subs[k]].map((ch) => (present.has(ch) ? kept.indexOf(ch) : ("x" as const)));
        dx = alloc(dimshuffle(dx, order), shapeOf(x));
      }
      if (dx.type.dtype !== x.type.dtype && isFloat(x.type.dtype) && isFloat(dx.type.dtype)) dx = cast(dx, x.type.dtype);
      return dx;
    });
  }

  /** Multilinear (the product rule): Σ_k the same contraction with operand k replaced by its tangent. */
  override pushforward(xs: readonly Variable[], [out]: readonly Variable[], tangents: readonly (Variable | Disconnected)[]): (Variable | Disconnected)[] {
    if (!isFloat(out.type.dtype)) return [DISCONNECTED];
    let total: Variable | null = null;
    tangents.forEach((t, k) => {
      if (!(t instanceof Variable)) return;
      const term = this.makeNode(...xs.map((x, j) => (j === k ? t : x))).out;
      total = total === null ? term : add(total, term);
    });
    return [total ?? DISCONNECTED];
  }
}

/**
 * Parse an einsum spec: `"ab,bc->ac"`, or numpy's implicit form `"ab,bc"` whose output is the
 * letters appearing exactly once, in alphabetical order.
 */
export function parseEinsum(spec: string, nOperands: number): { inputs: string[]; output: string } {
  const s = spec.replace(/\s+/g, "");
  const arrow = s.indexOf("->");
  const lhs = arrow >= 0 ? s.slice(0, arrow) : s;
  const inputs = lhs.split(",");
  if (inputs.length !== nOperands) throw new OpInputError(`einsum: spec "${spec}" names ${inputs.length} operands, got ${nOperands}`);
  let output: string;
  if (arrow >= 0) output = s.slice(arrow + 2);
  else {
    const count = new Map<string, number>();
    for (const ch of inputs.join("")) count.set(ch, (count.get(ch) ?? 0) + 1);
    output = [...count].filter(([, c]) => c === 1).map(([ch]) => ch).sort().join("");
  }
  return { inputs, output };
}

/**
 * Einstein summation over single-letter subscripts, e.g. `einsum("abcd,bcde->ace", x, y)`.
 * Letters missing from the output are summed, including letters of a single operand. Shared
 * letters must have equal lengths; the dtype is the operands' upcast.
 */
export function einsum(spec: string, ...xs: TensorLike[]): Variable {
  const dt = resultDtype(xs);
  const ts = xs.map((x) => asTensor(x, dt, "einsum"));
  const { inputs, output } = parseEinsum(spec, ts.length);
  return new Contraction(inputs, output).makeNode(...ts).out;
}

/**
 * Step the odometer over every letter but the innermost, keeping each operand's offset in sync.
 * Returns false when the index space is exhausted.
 */
function advance(ctr: Int32Array, lens: readonly number[], last: number, strides: Int32Array, nL: number, offs: Int32Array): boolean {
  const nK = offs.length;
  let d = last - 1;
  while (d >= 0) {
    ctr[d]++;
    for (let k = 0; k < nK; k++) offs[k] += strides[k * nL + d];
    if (ctr[d] < lens[d]) return true;
    for (let k = 0; k < nK; k++) offs[k] -= strides[k * nL + d] * lens[d];
    ctr[d] = 0;
    d--;
  }
  return false;
}

/** The output offset of the odometer's current outer position. */
function outerOffset(ctr: Int32Array, last: number, ostr: Int32Array): number {
  let o = 0;
  for (let j = 0; j < last; j++) o += ctr[j] * ostr[j];
  return o;
}
