/**
 * A tiny, independent float64 evaluator (elemwise ops aligned by name, sum, transpose) and
 * central finite differences on it: a second judge for the tfjs gradients that shares no code
 * with the oracle or the numpy fixtures.
 */
import type { Case } from "../../src/case/format.js";
import type { RefArray } from "../../oracles/tfjs.js";

/** The spec example without the index input: five ops. */
export const FIVE_OP = {
  format: "xgrad-case/1",
  inputs: [
    { name: "x", kind: "xtensor", dims: ["a", "b"], shape: [3, 4], dtype: "float64", value: [[0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8], [0.9, 1.0, 1.1, 1.2]] },
    { name: "W", kind: "tensor", shape: [3, 2], dtype: "float64", value: [[1, 2], [3, 4], [5, 6]] },
  ],
  nodes: [
    { id: "e", op: "exp", args: ["x"] },
    { id: "Wx", op: "as_xtensor", args: ["W"], dims: ["a", "c"] },
    { id: "d", op: "dot", args: ["e", "Wx"], dims: ["a"] },
    { id: "s", op: "mul", args: ["d", 1.5] },
    { id: "cost", op: "sum", args: ["s"], dims: null },
  ],
  cost: "cost",
};

// ---- a tiny float64 evaluator (elemwise by name, sum, transpose), for finite differences ----

interface Arr { dims: string[]; shape: number[]; data: number[] }

function at(x: Arr, dims: string[], shape: number[]): (k: number) => number {
  const strides = x.dims.map((_, i) => x.shape.slice(i + 1).reduce((p, s) => p * s, 1));
  return (k) => {
    let rem = k;
    let off = 0;
    for (let j = dims.length - 1; j >= 0; j--) {
      const cj = rem % shape[j];
      rem = Math.floor(rem / shape[j]);
      const i = x.dims.indexOf(dims[j]);
      if (i >= 0) off += cj * strides[i];
    }
    return x.data[off];
  };
}

function evalTiny(c: Case, inputs: Record<string, Arr>): number {
  const env: Record<string, Arr> = { ...inputs };
  const U: Record<string, (v: number) => number> = { exp: Math.exp, sin: Math.sin, tanh: Math.tanh, square: (v) => v * v, log: Math.log };
  const B: Record<string, (a: number, b: number) => number> = { add: (a, b) => a + b, sub: (a, b) => a - b, mul: (a, b) => a * b, div: (a, b) => a / b };
  for (const n of c.nodes) {
    const args = n.args.map((a) => (typeof a === "number" ? { dims: [], shape: [], data: [a] } : env[a]));
    let out: Arr;
    if (n.op in U) out = { ...args[0], data: args[0].data.map(U[n.op]) };
    else if (n.op in B) {
      const dims = [...args[0].dims, ...args[1].dims.filter((d) => !args[0].dims.includes(d))];
      const shape = dims.map((d) => (args[0].dims.includes(d) ? args[0].shape[args[0].dims.indexOf(d)] : args[1].shape[args[1].dims.indexOf(d)]));
      const fa = at(args[0], dims, shape);
      const fb = at(args[1], dims, shape);
      const size = shape.reduce((p, s) => p * s, 1);
      out = { dims, shape, data: Array.from({ length: size }, (_, k) => B[n.op](fa(k), fb(k))) };
    } else if (n.op === "sum") {
      const red = "dims" in n && n.dims != null ? n.dims : args[0].dims;
      const dims = args[0].dims.filter((d) => !red.includes(d));
      const shape = dims.map((d) => args[0].shape[args[0].dims.indexOf(d)]);
      const size = shape.reduce((p, s) => p * s, 1);
      const data = new Array<number>(size).fill(0);
      const all = at(args[0], args[0].dims, args[0].shape);
      args[0].data.forEach((_, k) => {
        // position of k in the output: drop reduced coordinates
        let rem = k;
        const coord: Record<string, number> = {};
        for (let j = args[0].dims.length - 1; j >= 0; j--) { coord[args[0].dims[j]] = rem % args[0].shape[j]; rem = Math.floor(rem / args[0].shape[j]); }
        let o = 0;
        dims.forEach((d, j) => { o = o * shape[j] + coord[d]; });
        data[o] += all(k);
      });
      out = { dims, shape, data };
    } else if (n.op === "transpose" && "dims" in n && Array.isArray(n.dims)) {
      const dims = n.dims as string[];
      const shape = dims.map((d) => args[0].shape[args[0].dims.indexOf(d)]);
      const f = at(args[0], dims, shape);
      out = { dims, shape, data: Array.from({ length: args[0].data.length }, (_, k) => f(k)) };
    } else throw new Error(`tiny evaluator: no ${n.op}`);
    env[n.id] = out;
  }
  return env[c.cost].data[0];
}

function flatten(v: unknown): number[] {
  return Array.isArray(v) ? v.flatMap(flatten) : [v as number];
}

/** Central differences, h = 1e-6·max(1, |x|): truncation O(h²) and rounding O(ε/h), both ≈ 1e-10. */
export function finiteDiff(c: Case): Record<string, RefArray> {
  const base: Record<string, Arr> = {};
  for (const i of c.inputs) base[i.name] = { dims: i.kind === "xtensor" ? i.dims : [], shape: i.shape, data: flatten(i.value) };
  const out: Record<string, RefArray> = {};
  for (const w of c.wrt ?? []) {
    const g = base[w].data.map((v, k) => {
      const h = 1e-6 * Math.max(1, Math.abs(v));
      const at = (delta: number): number => {
        const data = [...base[w].data];
        data[k] += delta;
        return evalTiny(c, { ...base, [w]: { ...base[w], data } });
      };
      return (at(h) - at(-h)) / (2 * h);
    });
    out[w] = { dims: base[w].dims, shape: base[w].shape, data: g };
  }
  return out;
}

/** Cases the tiny evaluator can run. */
export const TINY_CASES = [
  {
    format: "xgrad-case/1", name: "tiny: alignment of (a,b) with (b,a) and a transpose",
    inputs: [
      { name: "x", kind: "xtensor", dims: ["a", "b"], shape: [3, 3], dtype: "float64", value: [[0.1, 0.7, -0.3], [0.5, -0.6, 0.2], [0.9, 1.3, -1.1]] },
      { name: "y", kind: "xtensor", dims: ["b", "a"], shape: [3, 3], dtype: "float64", value: [[1.1, 0.4, -0.8], [0.25, 0.6, 1.7], [-0.4, 0.35, 0.15]] },
    ],
    nodes: [
      { id: "m", op: "mul", args: ["x", "y"] }, { id: "s", op: "sin", args: ["m"] },
      { id: "t", op: "transpose", args: ["s"], dims: ["b", "a"] }, { id: "q", op: "mul", args: ["t", "x"] },
      { id: "r", op: "sum", args: ["q"], dims: ["a"] }, { id: "e", op: "exp", args: ["r"] },
      { id: "cost", op: "sum", args: ["e"], dims: null },
    ],
    cost: "cost", wrt: ["x", "y"],
  },
  {
    format: "xgrad-case/1", name: "tiny: repeated use accumulates (x*x*x, tanh, div)",
    inputs: [{ name: "x", kind: "xtensor", dims: ["a"], shape: [4], dtype: "float64", value: [0.3, -0.8, 1.2, 0.05] }],
    nodes: [
      { id: "x2", op: "mul", args: ["x", "x"] }, { id: "x3", op: "mul", args: ["x2", "x"] },
      { id: "th", op: "tanh", args: ["x3"] }, { id: "dv", op: "div", args: ["th", 2.5] },
      { id: "ad", op: "add", args: ["dv", "x2"] }, { id: "cost", op: "sum", args: ["ad"] },
    ],
    cost: "cost", wrt: ["x"],
  },
] satisfies Case[];
