/**
 * `compile(inputs, outputs, options)`: rewrite a copy of the graph with the selected mode's
 * passes, then plan it for the VM.
 *
 * The caller's graph is never mutated: the FunctionGraph clones it. In FAST_RUN the
 * DestroyHandler is attached before the first pass (as PyTensor's query attaches it through the
 * inplace pass's requirements), so it watches merge, lowering and canonicalisation too; that is
 * where the background PR's bookkeeping bug surfaced.
 */
import { Constant, type Variable } from "../graph/basic.js";
import { FunctionGraph } from "../graph/fgraph.js";
import type { Feature } from "../graph/features.js";
import { GraphError } from "../errors.js";
import type { NDArray } from "../ndarray/ndarray.js";
import { MODE_TAGS, type Mode, optdb } from "../rewriting/db.js";
import { RewriteContext, type OnOptError } from "../rewriting/engine.js";
import { DestroyHandler } from "../rewriting/destroyhandler.js";
import { CheckedFeature, pipelineMark, verifyModePasses, verifyPostconditions } from "../rewriting/checked.js";
// Registers every pass (canonicalize, fusion, inplace, lowering, ...) in optdb.
import "../rewriting/passes.js";
import { type InputValue, toInputArray } from "./input.js";
import { type Program, buildProgram, runProgram } from "./vm.js";

/** Options of {@link compile}. */
export interface CompileOptions {
  /** Which passes run (default "FAST_RUN"). NONE still expands pullbacks and lowers named ops. */
  readonly mode?: Mode;
  /** Verify FunctionGraph integrity, DestroyHandler consistency and types after every replacement. */
  readonly checked?: boolean;
  /** What a failing rewrite does (default "raise"). */
  readonly onOptError?: OnOptError;
  /** Pass names or tags to leave out. */
  readonly exclude?: readonly string[];
  /** A rewrite context to use (its counters then report which rewrites fired). */
  readonly ctx?: RewriteContext;
  /**
   * Inputs whose buffers the function may overwrite (PyTensor's `In(x, mutable=True)`): in
   * FAST_RUN an op may then write its result in place into the array passed for one of them,
   * saving an allocation, and that array holds garbage after the call. Every other input is
   * protected. Each must be one of `inputs`.
   */
  readonly mutableInputs?: readonly Variable[];
}

/** A compiled function: call it with one value per input; it returns one NDArray per output. */
export interface CompiledFunction {
  (...args: InputValue[]): NDArray[];
  /** The rewritten graph the VM runs. */
  readonly fgraph: FunctionGraph;
  /** Counters of fired rewrites and failures reverted under onOptError "warn". */
  readonly ctx: RewriteContext;
  /** The evaluation plan. */
  readonly program: Program;
}

/** Compile `outputs` as a function of `inputs`. Every non-constant root of `outputs` must be an input. */
export function compile(inputs: readonly Variable[], outputs: readonly Variable[], opts: CompileOptions = {}): CompiledFunction {
  const mode = opts.mode ?? "FAST_RUN";
  if (!(mode in MODE_TAGS)) throw new GraphError(`compile: unknown mode "${String(mode)}" (expected NONE, FAST_COMPILE or FAST_RUN)`);
  const ctx = opts.ctx ?? new RewriteContext({ onOptError: opts.onOptError ?? "raise", checked: opts.checked ?? false });
  const mutableInputs = opts.mutableInputs ?? [];
  for (const [k, v] of mutableInputs.entries()) {
    if (!inputs.includes(v)) throw new GraphError(`compile: mutableInputs[${k}] (${v.toString()}) is not one of the function's inputs (${inputs.map((i) => i.toString()).join(", ")})`);
  }
  const features: Feature[] = [];
  if (mode === "FAST_RUN") features.push(new DestroyHandler({ mutableInputs }));
  if (ctx.checked) features.push(new CheckedFeature());
  const fg = new FunctionGraph(inputs, outputs, { clone: true, features });
  const query = { include: MODE_TAGS[mode], exclude: opts.exclude };
  const pass = optdb.query(query);
  pass.addRequirements?.(fg);
  const mark = pipelineMark(ctx);
  pass.apply(fg, ctx);
  if (ctx.checked) {
    verifyModePasses(mode, opts.exclude ?? [], ctx, mark);
    verifyPostconditions(fg, query, { mutableInputs });
  }
  const order = fg.toposort();
  const program = buildProgram(fg.inputs, fg.outputs, order);
  const run = (...args: InputValue[]): NDArray[] => {
    if (args.length !== fg.inputs.length) {
      throw new GraphError(`compiled function takes ${fg.inputs.length} inputs (${fg.inputs.map((v) => v.toString()).join(", ")}), got ${args.length}`);
    }
    return runProgram(
      program,
      fg.inputs.map((v, i) => toInputArray(v, args[i])),
    );
  };
  return Object.assign(run, { fgraph: fg, ctx, program });
}

/** Evaluate `outputs` once, with values given by input variable. A convenience for tests and docs. */
export function evaluate(outputs: readonly Variable[], values: ReadonlyMap<Variable, InputValue> | readonly (readonly [Variable, InputValue])[], opts: CompileOptions = {}): NDArray[] {
  const map = values instanceof Map ? values : new Map(values as readonly (readonly [Variable, InputValue])[]);
  const inputs = [...map.keys()].filter((v) => !(v instanceof Constant));
  const f = compile(inputs, outputs, opts);
  return f(...inputs.map((v) => map.get(v)!));
}
