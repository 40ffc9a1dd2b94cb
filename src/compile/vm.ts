/**
 * The VM: runs a fixed node order over a slot array and frees intermediates once dead.
 *
 * Everything that can be decided before run time is decided in `buildProgram`: slot numbers,
 * constant values, and, for every node, which slots die right after it. The run loop itself
 * only indexes arrays, so per-call overhead stays small for the fuzz loop's many tiny graphs.
 */
import { type Apply, Constant, type Variable } from "../graph/basic.js";
import { GraphError, InvariantError } from "../errors.js";
import { NDArray, fmtShape } from "../ndarray/ndarray.js";
import { shapeToString } from "../graph/type.js";

interface Step {
  node: Apply;
  inputSlots: Int32Array;
  outputSlots: Int32Array;
  /** Slots whose last reader is this node: cleared after it runs so memory can be reclaimed. */
  freeAfter: Int32Array;
}

/** A compiled evaluation plan. */
export interface Program {
  readonly nSlots: number;
  readonly inputSlots: readonly number[];
  readonly outputSlots: readonly number[];
  readonly constants: ReadonlyMap<number, NDArray>;
  readonly steps: readonly Step[];
  /**
   * Outputs returned as copies: those that are (views of) a graph input or a constant, or that
   * share a buffer with an earlier output. Handing those back directly would let the caller's
   * writes reach its own inputs, the function's constants (for every later call) or another
   * output. PyTensor inserts DeepCopyOp for the same reason.
   */
  readonly copyOutputs: readonly boolean[];
}

/**
 * Plan the evaluation of `order` (a topological order honouring every feature ordering).
 * Every node must have `perform`: a named op or lazy Pullback op left here is a GraphError.
 */
export function buildProgram(inputs: readonly Variable[], outputs: readonly Variable[], order: readonly Apply[]): Program {
  const slot = new Map<Variable, number>();
  const slotOf = (v: Variable): number => {
    let s = slot.get(v);
    if (s === undefined) {
      s = slot.size;
      slot.set(v, s);
    }
    return s;
  };
  inputs.forEach(slotOf);
  const constants = new Map<number, NDArray>();
  const lastUse = new Map<number, number>();
  const steps: Step[] = [];
  order.forEach((node, k) => {
    if (typeof node.op.perform !== "function") {
      throw new GraphError(
        `cannot run ${node.op.toString()}: it has no kernel. Named ops must be lowered and Pullback nodes expanded before evaluation (compile does both; a node left here means a lowering rule is missing)`,
      );
    }
    const inputSlots = Int32Array.from(node.inputs, (v) => {
      const s = slotOf(v);
      if (v instanceof Constant) constants.set(s, v.value);
      else if (!v.owner && !inputs.includes(v)) {
        throw new GraphError(`${node.op.toString()} reads ${v.toString()}, which is neither a graph input, a constant nor computed`);
      }
      lastUse.set(s, k);
      return s;
    });
    steps.push({ node, inputSlots, outputSlots: Int32Array.from(node.outputs, slotOf), freeAfter: new Int32Array(0) });
  });
  const outputSlots = outputs.map((v) => {
    const s = slotOf(v);
    if (v instanceof Constant) constants.set(s, v.value);
    return s;
  });
  // Follow view and destroy maps to the variable whose buffer an output may share.
  const foundation = (v: Variable): Variable => {
    let cur = v;
    for (;;) {
      const node = cur.owner;
      const src = node === null ? undefined : (node.op.viewMap[cur.index] ?? node.op.destroyMap[cur.index]);
      if (node === null || src === undefined || src.length === 0) return cur;
      cur = node.inputs[src[0]];
    }
  };
  const seenFoundations = new Set<Variable>();
  const copyOutputs = outputs.map((v) => {
    const f = foundation(v);
    const shared = f.owner === null || seenFoundations.has(f);
    seenFoundations.add(f);
    return shared;
  });
  const keep = new Set<number>([...outputSlots, ...constants.keys()]);
  const frees: number[][] = steps.map(() => []);
  for (const [s, k] of lastUse) if (!keep.has(s)) frees[k].push(s);
  steps.forEach((st, k) => (st.freeAfter = Int32Array.from(frees[k])));
  return { nSlots: slot.size, inputSlots: inputs.map((v) => slot.get(v)!), outputSlots, constants, steps, copyOutputs };
}

/** Run a program on already-validated input arrays. */
export function runProgram(p: Program, args: readonly NDArray[]): NDArray[] {
  const values: (NDArray | undefined)[] = new Array(p.nSlots);
  for (const [s, v] of p.constants) values[s] = v;
  for (let i = 0; i < p.inputSlots.length; i++) values[p.inputSlots[i]] = args[i];
  for (const step of p.steps) {
    const ins = new Array<NDArray>(step.inputSlots.length);
    for (let i = 0; i < ins.length; i++) ins[i] = values[step.inputSlots[i]]!;
    const node = step.node;
    const outs = node.op.perform!(node, ins);
    if (outs.length !== step.outputSlots.length) {
      throw new GraphError(`${node.op.toString()}.perform returned ${outs.length} outputs, expected ${step.outputSlots.length}`);
    }
    for (let i = 0; i < outs.length; i++) {
      checkOutput(node, i, outs[i]);
      values[step.outputSlots[i]] = outs[i];
    }
    for (let i = 0; i < step.freeAfter.length; i++) values[step.freeAfter[i]] = undefined;
  }
  return p.outputSlots.map((s, k) => (p.copyOutputs[k] ? values[s]!.copy() : values[s]!));
}

/** A kernel that returns the wrong dtype or a shape contradicting its static type is an engine bug. */
function checkOutput(node: Apply, i: number, out: NDArray): void {
  const t = node.outputs[i].type;
  if (out.dtype !== t.dtype || out.ndim !== t.ndim || t.shape.some((s, d) => s !== null && s !== out.shape[d])) {
    throw new InvariantError(
      `${node.op.toString()} produced ${out.dtype} ${fmtShape(out.shape)} for output ${i}, but its static type is ${t.dtype} ${shapeToString(t.shape)}`,
    );
  }
}
