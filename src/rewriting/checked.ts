/**
 * Checked mode: verify the graph after every replacement and every transform, and fail at the
 * first inconsistency, naming the rewrite that caused it (JAX `check_jaxpr`, PyTensor
 * `check_integrity`, §12.2 of the reference notes).
 *
 * The checks run from `onValidate`, which `replaceAllValidate` calls after each rewrite's
 * replacements (so merges and every engine rewrite are covered), and from `afterTransform`,
 * which the engine calls after each `transform` (so a transform that rewired nodes behind the
 * graph's back, e.g. a nested in-place rewrite, is named). Attaching the feature also guards the
 * graph's nodes against rewiring by any other FunctionGraph.
 */
import type { Apply, Variable } from "../graph/basic.js";
import type { Type } from "../graph/type.js";
import { type FunctionGraph, isOutputNode } from "../graph/fgraph.js";
import type { Feature } from "../graph/features.js";
import { InvariantError } from "../errors.js";
import type { TransformChecker } from "./engine.js";
import { DestroyHandler } from "./destroyhandler.js";

/**
 * True when two types describe possibly the same values: same family, dtype, rank and every
 * other attribute, and no static length known differently. A rewrite may refine a length
 * (null → 3) but never contradict one (3 → 4).
 */
export function typesCompatible(recorded: Type, inferred: Type): boolean {
  if (recorded.kind !== inferred.kind || recorded.dtype !== inferred.dtype || recorded.ndim !== inferred.ndim) return false;
  const meet = recorded.shape.map((s, i) => {
    const t = inferred.shape[i];
    return s === null ? t : s;
  });
  for (let i = 0; i < meet.length; i++) {
    const s = recorded.shape[i];
    const t = inferred.shape[i];
    if (s !== null && t !== null && s !== t) return false;
  }
  // Compare everything but the shape (e.g. xtensor dims) by giving both the same shape.
  return recorded.withShape(meet).equals(inferred.withShape(meet));
}

/** Verifies structure, DestroyHandler state and node types after every replacement. */
export class CheckedFeature implements Feature, TransformChecker {
  private readonly touched = new Set<Apply>();
  private lastReason = "(graph construction)";

  private current: { rewrite: string; node: Apply } | null = null;

  onAttach(fg: FunctionGraph): void {
    fg.guardNodes();
  }

  onDetach(fg: FunctionGraph): void {
    fg.unguardNodes();
  }

  beforeReplace(rewrite: string, node: Apply): void {
    this.current = { rewrite, node };
  }

  onImport(_fg: FunctionGraph, node: Apply, reason: string): void {
    // Nodes of the initial graph were built by their makeNode; only rewrites are under test.
    if (reason === "init") return;
    this.touched.add(node);
    this.lastReason = reason;
  }

  onChangeInput(_fg: FunctionGraph, node: Apply, _i: number, _o: Variable, _n: Variable, reason: string): void {
    if (!isOutputNode(node)) this.touched.add(node);
    this.lastReason = reason;
  }

  onPrune(_fg: FunctionGraph, node: Apply): void {
    this.touched.delete(node);
  }

  onValidate(fg: FunctionGraph): void {
    const cur = this.current;
    this.current = null;
    this.verify(fg, this.lastReason, cur !== null && cur.rewrite === this.lastReason ? cur.node : null);
  }

  afterTransform(fg: FunctionGraph, rewrite: string, node: Apply): void {
    this.verify(fg, rewrite, node, "during transform (before any replacement)");
  }

  clone(): CheckedFeature {
    return new CheckedFeature();
  }

  /**
   * Run every check now.
   *
   * @throws InvariantError naming `rewrite`, the node and the broken invariant.
   */
  verify(fg: FunctionGraph, rewrite: string, node: Apply | null, when = "after its replacement"): void {
    const wrap = (what: string, e: unknown): never => {
      const msg = e instanceof Error ? e.message : String(e);
      throw new InvariantError(`checked mode: rewrite "${rewrite}"${node === null ? "" : ` on ${node.toString()}`} broke ${what} ${when}: ${msg}`, { cause: e });
    };
    try {
      fg.checkIntegrity();
    } catch (e) {
      wrap("the FunctionGraph structure", e);
    }
    const dh = fg.getFeature(DestroyHandler);
    if (dh !== undefined) {
      try {
        dh.checkConsistency();
      } catch (e) {
        wrap("the DestroyHandler bookkeeping", e);
      }
    }
    for (const n of this.touched) {
      if (!fg.applyNodes.has(n)) continue;
      let re: Apply | undefined;
      try {
        re = n.op.makeNode(...n.inputs);
      } catch (e) {
        wrap(`the types of ${n.toString()} (makeNode now rejects its inputs)`, e);
      }
      if (re === undefined) continue;
      if (re.outputs.length !== n.outputs.length) wrap(`the types of ${n.toString()}`, `makeNode gives ${re.outputs.length} outputs, the node has ${n.outputs.length}`);
      n.outputs.forEach((o, k) => {
        const t = (re as Apply).outputs[k].type;
        if (!typesCompatible(o.type, t)) wrap(`the types of ${n.toString()}`, `output ${k} is recorded as ${o.type.toString()} but its inputs now give ${t.toString()}`);
      });
    }
    this.touched.clear();
  }
}
