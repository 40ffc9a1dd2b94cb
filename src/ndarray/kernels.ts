/**
 * Loop kernels shared by the elementwise family (Elemwise, Composite).
 *
 * A kernel is generated once per (scalar expression, inner-loop stride pattern) with
 * `new Function`, so that every generated loop has its own call-site feedback: the scalar
 * function it calls is monomorphic and TurboFan inlines it. A single hand-written loop that
 * called `f(a[i], b[i])` for every op would go megamorphic after a few ops and pay a real call
 * per element. The scalar math itself is never generated: the generated code only calls the
 * functions of the scalar table, so there is one source of truth for every op's value.
 *
 * Before a kernel runs, `planLoop` drops length-1 axes and merges axes that are contiguous in
 * every operand, so a same-shape C-contiguous operation becomes one flat loop and a scalar
 * broadcast becomes a flat loop with a hoisted value. Whatever is left runs as an odometer over
 * the outer axes with a specialised inner loop over the last one.
 */
import type { DType } from "../graph/type.js";
import type { TypedBuffer } from "./ndarray.js";

/** A loop operand: a buffer, its offset, and strides aligned to the loop shape (0 = broadcast). */
export interface LoopOperand {
  readonly data: TypedBuffer;
  readonly offset: number;
  readonly strides: readonly number[];
}

/** A coalesced loop: its shape and, per operand, the strides over that shape. */
export interface LoopPlan {
  readonly shape: number[];
  readonly strides: number[][];
  readonly size: number;
}

/**
 * Drop length-1 axes and merge adjacent axes that are contiguous with each other in every
 * operand. The result always has at least one axis (a 0-d loop becomes shape `[1]`).
 */
export function planLoop(shape: readonly number[], strides: readonly (readonly number[])[]): LoopPlan {
  const nops = strides.length;
  let size = 1;
  for (const s of shape) size *= s;
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const len = shape[d];
    if (len === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0) {
      // Axes (last, d) merge when stepping off the end of d lands where one step of last goes.
      let merge = true;
      for (let k = 0; k < nops; k++) {
        if (outStrides[k][last] !== strides[k][d] * len) {
          merge = false;
          break;
        }
      }
      if (merge) {
        outShape[last] *= len;
        for (let k = 0; k < nops; k++) outStrides[k][last] = strides[k][d];
        continue;
      }
    }
    outShape.push(len);
    for (let k = 0; k < nops; k++) outStrides[k].push(strides[k][d]);
  }
  if (outShape.length === 0) {
    outShape.push(1);
    for (let k = 0; k < nops; k++) outStrides[k].push(0);
  }
  return { shape: outShape, strides: outStrides, size };
}

/**
 * Scalar code for one loop body. `reads[k]` is the JS expression reading input k at the current
 * element; the returned `stmts` run first, then output j is assigned `outs[j]`. Function
 * references are passed as `fns[i]` and are visible in the generated code as `f0`, `f1`, ...
 */
export interface KernelBody {
  readonly fns: readonly ((...args: number[]) => number)[];
  emit(reads: readonly string[]): { stmts: string; outs: string[] };
}

/** A generated loop: outputs first, then inputs, all with strides over `plan.shape`. */
export type Kernel = (shape: readonly number[], bufs: readonly TypedBuffer[], offs: readonly number[], strides: readonly (readonly number[])[]) => void;

/** Inner-stride class of an operand: 0 contiguous (stride 1), 1 broadcast (stride 0), 2 strided. */
function strideClass(s: number): number {
  return s === 1 ? 0 : s === 0 ? 1 : 2;
}

/** The pattern code of a plan: one base-3 digit per operand (its inner-stride class). */
export function patternOf(plan: LoopPlan): number {
  const nd = plan.shape.length;
  let code = 0;
  for (let k = plan.strides.length - 1; k >= 0; k--) code = code * 3 + strideClass(plan.strides[k][nd - 1]);
  return code;
}

/**
 * Generate the loop for `nOut` outputs and `nIn` inputs with the given inner-stride pattern.
 * The pattern only changes how the innermost axis reads and writes; the odometer over outer
 * axes is the same for every pattern.
 */
export function generateKernel(nOut: number, nIn: number, pattern: number, body: KernelBody): Kernel {
  const nops = nOut + nIn;
  const cls: number[] = [];
  for (let k = 0, p = pattern; k < nops; k++, p = Math.floor(p / 3)) cls.push(p % 3);
  const reads: string[] = [];
  for (let k = nOut; k < nops; k++) reads.push(cls[k] === 1 ? `v${k}` : cls[k] === 0 ? `b${k}[q${k} + i]` : `b${k}[q${k} + i * s${k}]`);
  // Emit first: a body may register the functions it calls while emitting.
  const { stmts, outs } = body.emit(reads);
  const lines: string[] = [];
  body.fns.forEach((_, i) => lines.push(`const f${i} = fns[${i}];`));
  lines.push("return function kernel(shape, bufs, offs, strides) {");
  lines.push("const nd = shape.length; const n = shape[nd - 1];");
  lines.push("let outer = 1; for (let d = 0; d < nd - 1; d++) outer *= shape[d];");
  lines.push("if (outer === 0 || n === 0) return;");
  for (let k = 0; k < nops; k++) {
    lines.push(`const b${k} = bufs[${k}]; const st${k} = strides[${k}]; const s${k} = st${k}[nd - 1]; let q${k} = offs[${k}];`);
  }
  // The odometer counters; a plain array is cheaper to allocate than a typed one for a few axes.
  lines.push("const idx = nd > 1 ? new Array(nd - 1).fill(0) : null;");
  lines.push("for (let o = 0; o < outer; o++) {");
  for (let k = nOut; k < nops; k++) if (cls[k] === 1) lines.push(`const v${k} = b${k}[q${k}];`);
  lines.push("for (let i = 0; i < n; i++) {");
  lines.push(stmts);
  for (let j = 0; j < nOut; j++) lines.push(cls[j] === 0 ? `b${j}[q${j} + i] = ${outs[j]};` : `b${j}[q${j} + i * s${j}] = ${outs[j]};`);
  lines.push("}");
  // Odometer over the outer axes: advance the last outer axis, carrying into earlier ones.
  lines.push("for (let d = nd - 2; d >= 0; d--) {");
  lines.push(Array.from({ length: nops }, (_, k) => `q${k} += st${k}[d];`).join(" "));
  lines.push("if (++idx[d] < shape[d]) break;");
  lines.push(Array.from({ length: nops }, (_, k) => `q${k} -= st${k}[d] * shape[d];`).join(" "));
  lines.push("idx[d] = 0;");
  lines.push("}");
  lines.push("}");
  lines.push("};");
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- see the module comment.
  const factory = new Function("fns", lines.join("\n")) as (fns: KernelBody["fns"]) => Kernel;
  return factory(body.fns);
}

/** Run a kernel over a plan. */
export function runKernel(kernel: Kernel, plan: LoopPlan, bufs: readonly TypedBuffer[], offs: readonly number[]): void {
  if (plan.size === 0) return;
  kernel(plan.shape, bufs, offs, plan.strides);
}

/** int64 values live in float64 buffers: numpy's float→int64 conversion truncates toward zero. */
export function toInt64(v: number): number {
  return Number.isFinite(v) ? Math.trunc(v) + 0 : 0;
}

/** Rounds to float32 precision (a named reference so generated code can call it). */
export const toFloat32: (v: number) => number = Math.fround;

/** int32 wraps modulo 2^32 (numpy's C cast); NaN and infinities become 0. */
export function toInt32(v: number): number {
  return v | 0;
}

/** numpy's bool conversion: nonzero is true, and NaN is nonzero. */
export function toBool(v: number): number {
  return v !== 0 ? 1 : 0;
}

/**
 * The JS expression converting `expr` to a stored value of `dtype`, or `expr` unchanged for
 * float64. `fnIndex` resolves a conversion function to the `f<i>` name it has in the kernel.
 * Stores into Float32Array and Int32Array already round and wrap, but Composite intermediates
 * are plain JS numbers, so they need the explicit conversion to match unfused Elemwise nodes.
 */
export function coerceExpr(dtype: DType, expr: string, fnIndex: (f: (v: number) => number) => string): string {
  switch (dtype) {
    case "float64":
      return expr;
    case "float32":
      return `${fnIndex(toFloat32)}(${expr})`;
    case "int32":
      return `((${expr}) | 0)`;
    case "int64":
      return `${fnIndex(toInt64)}(${expr})`;
    case "bool":
      return `((${expr}) !== 0 ? 1 : 0)`;
  }
}
