/**
 * The inplace pass (PyTensor `inplace_elemwise` and the `*_inplace` subtensor rewrites, position
 * 50.5): let an op write its output into the buffer of an input that nobody needs afterwards.
 *
 * An update op whose x is a zero-filled Alloc that it may not destroy (another node reads or
 * destroys that buffer) gets a fresh copy of the Alloc and writes into it, as PyTensor's
 * `local_inplace_AdvancedIncSubtensor` does: filling a new buffer with zeros is cheaper than
 * copying the shared one, and gradients are full of this pattern (every gather's pullback
 * scatters into `zeros_like(x)`, and merging makes all those zero buffers one). The copies are
 * equal nodes, each destroyed, which is exactly what merge3's guard (PR #2355) must skip.
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
import { Alloc } from "../tensor/shape.js";
import { isConstantFill, isZero } from "./canonicalize.js";
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
  /** Of those, the ones given a fresh copy of a shared zero Alloc to write into. */
  freshZeros: number;
  /** Attempts the DestroyHandler rejected (and that were reverted). */
  rejected: number;
}

/**
 * The in-place version of `node` destroying input `slot`, or null when the op has none for that
 * slot. Elemwise and Composite may destroy any input that has the output's dtype and is not
 * broadcast (their `makeNode` refuses the others); the update ops only ever destroy x (slot 0).
 */
function inplaceVersion(node: Apply, slot: number): Apply | null {
  const op = node.op;
  try {
    if ((op instanceof Elemwise || op instanceof Composite) && op.props.inplace === null) return op.withInplace(slot).makeNode(...node.inputs);
    if ((op instanceof IncSubtensor || op instanceof AdvancedIncSubtensor) && !op.props.inplace && slot === 0) return op.withInplace().makeNode(...node.inputs);
  } catch (e) {
    if (!(e instanceof OpInputError)) throw e;
  }
  return null;
}

/** True for `alloc(0, ...lens)`: an Alloc whose fill value is a constant of zeros. */
function isZeroAlloc(v: Variable): boolean {
  const n = v.owner;
  return n !== null && n.op instanceof Alloc && isConstantFill(n.inputs[0], isZero);
}

/**
 * The in-place version of update node `node` writing into a fresh copy of its zero-Alloc x, or
 * null when x is not a zero Alloc. The copy is a new Apply of the same Alloc on the same inputs.
 */
function inplaceOnFreshZeros(node: Apply): Apply | null {
  const op = node.op;
  if (!(op instanceof IncSubtensor || op instanceof AdvancedIncSubtensor) || op.props.inplace) return null;
  const [x, ...rest] = node.inputs;
  if (!isZeroAlloc(x)) return null;
  const owner = x.owner as Apply;
  const copy = owner.op.makeNode(...owner.inputs).outputs[0];
  try {
    return op.withInplace().makeNode(copy, ...rest);
  } catch (e) {
    if (!(e instanceof OpInputError)) throw e;
    return null; // as inplaceVersion: no in-place kernel for these inputs
  }
}

/**
 * One proposed in-place rewrite: `node` becomes `first`; `slots` are the other candidate slots,
 * built only if `first` is vetoed (a Composite's in-place copy costs O(expression size), so
 * building every slot's version up front was quadratic for big fused nodes).
 */
interface Proposal {
  readonly node: Apply;
  readonly first: Apply;
  readonly slots: readonly number[];
  /** `first` writes into a fresh copy of the node's zero Alloc. */
  readonly freshZeros?: true;
}

/**
 * The inplace pass. Requires (and attaches, if missing) a DestroyHandler.
 *
 * Validation is batched. Once a graph has a destroyer, every `replaceAllValidate` runs the
 * handler's whole-graph cycle check, O(n); validating each of the O(n) in-place rewrites alone
 * made this pass quadratic (16k-node graph: 2.5 s of 6 s compile in `DestroyHandler.onValidate`).
 * So all proposals go through one `replaceAllValidate`; if the handler rejects the batch (it is
 * reverted whole), the batch is split in halves and each half retried, down to single nodes,
 * which then try their other candidate slots. Candidates never compete for one buffer (each
 * requires its tree to have no other reader), so rejections are rare and the usual cost is one
 * validation. Proposals are computed from the graph before the batch and applied outputs first:
 * a consumer's in-place node is built on its producer's old output, which the producer's own
 * replacement then rewires.
 */
export class InplacePass implements GraphRewriter {
  readonly name = "inplace";
  readonly ruleNames = ["inplace_elemwise", "inplace_incsubtensor", "inplace_fresh_zeros"];
  lastStats: InplaceStats = { elemwise: 0, incSubtensor: 0, freshZeros: 0, rejected: 0 };

  addRequirements(fg: FunctionGraph): void {
    if (fg.getFeature(DestroyHandler) === undefined) fg.attachFeature(new DestroyHandler());
  }

  apply(fg: FunctionGraph, ctx: RewriteContext): void {
    this.addRequirements(fg);
    const dh = fg.getFeature(DestroyHandler) as DestroyHandler;
    const stats: InplaceStats = { elemwise: 0, incSubtensor: 0, freshZeros: 0, rejected: 0 };
    this.lastStats = stats;
    const proposals: Proposal[] = [];
    const order = fg.toposort();
    for (let k = order.length - 1; k >= 0; k--) {
      const node = order[k];
      const slots = dh.inplaceCandidates(node);
      try {
        let proposed = false;
        for (let i = 0; i < slots.length && !proposed; i++) {
          const first = inplaceVersion(node, slots[i]);
          if (first === null) continue;
          proposals.push({ node, first, slots: slots.slice(i + 1) });
          proposed = true;
        }
        if (!proposed) {
          const fresh = inplaceOnFreshZeros(node);
          if (fresh !== null) proposals.push({ node, first: fresh, slots: [], freshZeros: true });
        }
      } catch (e) {
        ctx.fail(this.name, node, e);
      }
    }
    const accepted = (p: Proposal, cand: Apply): void => {
      const ew = cand.op instanceof Elemwise || cand.op instanceof Composite;
      if (ew) stats.elemwise++;
      else stats.incSubtensor++;
      ctx.recordFired(ew ? "inplace_elemwise" : "inplace_incsubtensor");
      if (p.freshZeros === true) {
        stats.freshZeros++;
        ctx.recordFired("inplace_fresh_zeros");
      }
    };
    /** Try `ps` (each with its variant `v`) as one transaction; true when it was applied. */
    const attempt = (ps: readonly Proposal[], v: (p: Proposal) => Apply): boolean => {
      const live = ps.filter((p) => fg.applyNodes.has(p.node));
      if (live.length === 0) return true;
      const pairs = live.flatMap((p) => p.node.outputs.map((o, k): [Variable, Variable] => [o, v(p).outputs[k]]));
      try {
        fg.replaceAllValidate(pairs, this.name);
      } catch (e) {
        // A veto is the handler doing its job (PyTensor's `warn_inplace` ignores it too).
        if (e instanceof InconsistencyError) {
          stats.rejected++;
          return false;
        }
        ctx.fail(this.name, live[0].node, e);
        return false;
      }
      for (const p of live) accepted(p, v(p));
      return true;
    };
    const run = (ps: readonly Proposal[]): void => {
      if (ps.length === 0 || attempt(ps, (p) => p.first)) return;
      if (ps.length > 1) {
        const mid = ps.length >> 1;
        run(ps.slice(0, mid));
        run(ps.slice(mid));
        return;
      }
      // A single node whose first slot was vetoed: its other slots, one at a time.
      const p = ps[0];
      for (const slot of p.slots) {
        if (!fg.applyNodes.has(p.node)) return;
        let alt: Apply | null;
        try {
          alt = inplaceVersion(p.node, slot);
        } catch (e) {
          ctx.fail(this.name, p.node, e);
          return;
        }
        if (alt !== null && attempt(ps, () => alt as Apply)) return;
      }
      // Every slot vetoed: an update op may still write into a fresh copy of its zero Alloc, the
      // write a filter that refuses slot 0 up front leads to (without this, a veto of the slot
      // left the update out of place with a fresh copy validation would accept).
      if (p.freshZeros === true || !fg.applyNodes.has(p.node)) return;
      const fresh = inplaceOnFreshZeros(p.node);
      if (fresh !== null) attempt([{ node: p.node, first: fresh, slots: [], freshZeros: true }], (q) => q.first);
    };
    run(proposals);
  }
}

/** The pass instance registered in `optdb` at position 50.5. */
export const inplacePass = new InplacePass();
register("inplace", 50.5, ["fast_run", "inplace"], inplacePass);
