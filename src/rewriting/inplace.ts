/**
 * The inplace pass (PyTensor `inplace_elemwise` and the `*_inplace` subtensor rewrites, position
 * 50.5): let an op write its output into the buffer of an input that nobody needs afterwards.
 *
 * The DestroyHandler decides. Its `inplaceCandidates` proposes the input slots whose buffer tree
 * has no other reader and holds no constant, graph input or graph output; every replacement
 * then goes through `fg.replaceAllValidate`, so the handler re-checks the whole graph (one
 * destroyer per tree, no aliased inputs, an acyclic schedule) and a rejected attempt is reverted
 * before the next candidate is tried. The pass never decides on its own that a write is safe.
 */
import type { Apply, Variable } from "../graph/basic.js";
import type { FunctionGraph } from "../graph/fgraph.js";
import { Composite, Elemwise } from "../tensor/elemwise.js";
import { AdvancedIncSubtensor, IncSubtensor } from "../tensor/indexing.js";
import { InconsistencyError, OpInputError } from "../errors.js";
import type { GraphRewriter, RewriteContext } from "./engine.js";
import { DestroyHandler } from "./destroyhandler.js";
import { register } from "./db.js";

/** Counters of the last inplace pass. */
export interface InplaceStats {
  /** Elemwise/Composite nodes made in place. */
  elemwise: number;
  /** IncSubtensor/AdvancedIncSubtensor nodes made in place. */
  incSubtensor: number;
  /** Attempts the DestroyHandler rejected (and that were reverted). */
  rejected: number;
}

/**
 * The in-place variants of `node` to try, in order, as [destroyed slot, new node]. Elemwise and
 * Composite may destroy any input that has the output's dtype and is not broadcast (their
 * `makeNode` refuses the others, so a refusal just removes the candidate); the update ops only
 * ever destroy x (slot 0).
 */
function variants(node: Apply, slots: readonly number[]): Apply[] {
  const op = node.op;
  const out: Apply[] = [];
  const tryMake = (make: () => Apply): void => {
    try {
      out.push(make());
    } catch (e) {
      if (!(e instanceof OpInputError)) throw e;
    }
  };
  if ((op instanceof Elemwise || op instanceof Composite) && op.props.inplace === null) {
    for (const j of slots) tryMake(() => op.withInplace(j).makeNode(...node.inputs));
  } else if ((op instanceof IncSubtensor || op instanceof AdvancedIncSubtensor) && !op.props.inplace && slots.includes(0)) {
    tryMake(() => op.withInplace().makeNode(...node.inputs));
  }
  return out;
}

/** The inplace pass. Requires (and attaches, if missing) a DestroyHandler. */
export class InplacePass implements GraphRewriter {
  readonly name = "inplace";
  lastStats: InplaceStats = { elemwise: 0, incSubtensor: 0, rejected: 0 };

  addRequirements(fg: FunctionGraph): void {
    if (fg.getFeature(DestroyHandler) === undefined) fg.attachFeature(new DestroyHandler());
  }

  apply(fg: FunctionGraph, ctx: RewriteContext): void {
    this.addRequirements(fg);
    const dh = fg.getFeature(DestroyHandler) as DestroyHandler;
    const stats: InplaceStats = { elemwise: 0, incSubtensor: 0, rejected: 0 };
    this.lastStats = stats;
    // One sweep, inputs first (as PyTensor): a node's candidates depend on which of its
    // producers already destroy their inputs, so those are decided before it.
    for (const node of fg.toposort()) {
      if (!fg.applyNodes.has(node)) continue;
      const slots = dh.inplaceCandidates(node);
      if (slots.length === 0) continue;
      let cands: Apply[];
      try {
        cands = variants(node, slots);
      } catch (e) {
        ctx.fail(this.name, node, e);
        continue;
      }
      for (const cand of cands) {
        const pairs = node.outputs.map((o, k): [Variable, Variable] => [o, cand.outputs[k]]);
        try {
          fg.replaceAllValidate(pairs, this.name);
        } catch (e) {
          // A veto is the handler doing its job (PyTensor's `warn_inplace` ignores it too).
          if (e instanceof InconsistencyError) {
            stats.rejected++;
            continue;
          }
          ctx.fail(this.name, node, e);
          break;
        }
        if (cand.op instanceof Elemwise || cand.op instanceof Composite) stats.elemwise++;
        else stats.incSubtensor++;
        ctx.recordFired(cand.op instanceof Elemwise || cand.op instanceof Composite ? "inplace_elemwise" : "inplace_incsubtensor");
        break;
      }
    }
  }
}

/** The pass instance registered in `optdb` at position 50.5. */
export const inplacePass = new InplacePass();
register("inplace", 50.5, ["fast_run", "inplace"], inplacePass);
