import type { Fault } from "./types.js";

export default {
  id: 5,
  slug: "merge-guard",
  breaks: "MergeOptimizer's guard against merging two directly destroyed variables is off by default, so every such pair costs a merge that validation rejects and reverts.",
  origin: "PyTensor PR #2355 (the guard was dead code since the Python 3 port: flatten(dict_values); repeated failing merge + validate + revert cycles, quadratic on gradients of gathered sums)",
  edits: [
    {
      file: "src/rewriting/merge.ts",
      find: "    this.guardDestroyed = opts.guardDestroyed ?? true;",
      replace: "    this.guardDestroyed = opts.guardDestroyed ?? false; // FAULT 5: the PR #2355 guard is off",
    },
  ],
  trigger: null,
  minNodes: null,
  minimal: "No case reaches it: a graph with two equal nodes each destroyed in place, merged with a DestroyHandler attached (probe: 2 equal nodes + 2 in-place destroyers, merged with default options → 1 failed merge instead of 1 skip).",
  expectedBy: [],
  probe: `
import { FunctionGraph } from "./src/graph/fgraph.js";
import { MergeOptimizer } from "./src/rewriting/merge.js";
import { DestroyHandler } from "./src/rewriting/destroyhandler.js";
import { RewriteContext } from "./src/rewriting/engine.js";
import { tensor } from "./src/tensor/basic.js";
import { Elemwise, exp } from "./src/tensor/elemwise.js";
const x = tensor("x", { shape: [3] });
const a = exp(x), b = exp(x);
const inplaceNeg = new Elemwise("neg", { inplace: 0 });
const outs = [inplaceNeg.makeNode(a).outputs[0], inplaceNeg.makeNode(b).outputs[0]];
const fg = new FunctionGraph([x], outs, { features: [new DestroyHandler()] });
const m = new MergeOptimizer("merge");
m.addRequirements(fg);
m.apply(fg, new RewriteContext());
console.log(JSON.stringify(m.lastStats));
process.exit(m.lastStats.failed > 0 ? 1 : 0);
`,
  note: "A pure cost fault: the rejected merge is reverted, so values never change. In xgrad's pipeline it cannot even fire: in-place destroyers only appear at position 50.5 (inplace), after the last merge (49.9). No value-based property can see it; a compile-cost property (count of failed merges per compile) would.",
} satisfies Fault;
