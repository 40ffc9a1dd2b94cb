/**
 * The `argument-contract` claim of grad-composition: what `grad`, `pullback`, `pushforward`
 * and `hessianVectorProduct` tell a caller, as their documentation promises it, on this case's
 * own variables.
 *
 * A user meets the differentiator first through its refusals and its names. A refusal must be a
 * GradError that names the argument, its position and its type (the project's standard: errors
 * that name things), and a gradient must carry the name `(d<cost>/d<var>)` when both names are
 * known (`addNames`, default true), which is what a graph dump of a gradient reads by. Every other
 * property either passes valid arguments or matches a refusal loosely, so a message that lost
 * its argument, its index or its type, or a gradient left unnamed, had no judge.
 *
 * | call | must give |
 * |---|---|
 * | `grad(42, wrt)`; `grad(y, wrt)` for a node y that is not 0-d; `grad(k, wrt)` for a 0-d integer k | `grad: the cost must be a Variable, got 42`; `grad: the cost must be a 0-d float variable, got <y> of type <type>` |
 * | `grad(cost, wrt, {ruleFor})` under the lazy strategy, the hook giving a rule for the cost's own (named) node; then a hook that gives none | `grad: options.ruleFor gives a rule for <op> (node <cost>), which lies in the region the lazy strategy differentiates: …` word for word (the documentation of `ruleFor`: it raises, naming the node); the second accepted |
 * | `grad(cost, {})`; `grad(cost, [...wrt, "xgrad"])`; `pullback([cost], [w, 7], [1])` | `<fn>: wrt must be a Variable or a list of Variables`; `<fn>: wrt[<k>] is not a Variable: <value>` |
 * | `pullback([cost, y], wrt, [1])`; `pullback([], wrt, [])` | `pullback: 2 outputs but 1 cotangents`; `pullback: no outputs (and no cotangents): nothing to differentiate` |
 * | `pullback([y], wrt, [c])`, c of y's type but one static length off, of an integer dtype, of the other family, or (y named) with one dim renamed | `pullback: cotangent 0 (for output <y>): ` then the shape, dtype, family or dims it expected and what it got |
 * | `grad(cost, wrt, {knownGrads: {w: 3}})` | `grad: knownGrads entry for <w>: expected a Variable, got 3` |
 * | `grad(cost, [...wrt, f])` for a fresh variable f the cost cannot read; the same for an unnamed cost (`cost · 1`) and through `pullback` | `grad: the cost <cost> does not depend on <f> (wrt[<k>], <type>); pass disconnectedInputs: "ignore" or "warn" to allow this` (`the cost does` unnamed, `the outputs do` for pullback), word for word |
 * | `grad(cost, [...wrt, f], {disconnectedInputs: "warn"})` without `onWarning` | the refusal's message above, printed once on `console.warn` (the documented default) |
 * | `grad(cost, [...wrt, f], {disconnectedInputs: "ignore"})`, then with `addNames: false`, and with `gradStrategy: "perNode"` | every gradient of a float wrt of its own dtype named `(d<cost>/d…)` (the name of the wrt, or of a named node whose gradient it also is), f's zeros named `(d<cost>/d<f>)` exactly, the same names under both strategies; with `addNames: false`, no `(d<cost>/…)` name at all, and f's zeros no name |
 * | `grad(cost, [w], {knownGrads: {w: u}})`, u a fresh unnamed variable of w's type | u itself, still unnamed: the driver never renames a caller's variable |
 * | `pushforward([cost], [w, w], [w])`, `hessianVectorProduct(cost, [w, w], [w])`, a tangent or vector one length off, `method: "sideways"` | `pushforward: 2 wrt but 1 tangents`, `hessianVectorProduct: 2 wrt but 1 vectors`, `pushforward: tangent 0 (for <w>): expected a cotangent of shape …`, `hessianVectorProduct: v[0] (for <w>): …`, `hessianVectorProduct: method must be "reverse" or "forward", got sideways` |
 * | `PullbackOp` (the lazy region API) misused, or built twice over regions that differ in one part | its refusals word for word, and op equality exactly when the regions are copies (properties/regionContract.ts) |
 *
 * The expected messages are written here from the documentation and the case's own variables,
 * not read from the driver. Only building: nothing is compiled, so the claim costs a few
 * gradient builds.
 */
import type { ModuleOutcome } from "./gradComposition.js";
import { type Apply, Variable } from "../src/graph/basic.js";
import { type Disconnected, isDisconnected } from "../src/graph/op.js";
import { isFloat, shapeToString } from "../src/graph/type.js";
import type { GradOptions, PullbackOptions } from "../src/grad/driver.js";
import type { PullbackRule } from "../src/grad/registry.js";
import type { HessianVectorOptions, PushforwardOptions } from "../src/grad/pushforward.js";
import { GradError } from "../src/errors.js";
import { tensor } from "../src/tensor/basic.js";
import { mul as pmul } from "../src/tensor/elemwise.js";
import * as X from "../src/xtensor/index.js";
import type { BuiltCase } from "../src/case/build.js";
import { type Refusal, consoleWarnings, refusalProblem } from "./refusals.js";
import { type RegionApi, regionContractProblem } from "./regionContract.js";
import { regionNodes } from "./gradPaths.js";

/** What the claim needs: the case, a seeded draw, and the engine's entry points under test (tests inject faulty ones). */
export interface ArgumentContractInput {
  readonly built: BuiltCase;
  readonly rand: () => number;
  readonly gradWith: (cost: Variable, wrt: readonly Variable[], options: GradOptions) => (Variable | Disconnected | null)[];
  readonly pullback: (outputs: readonly Variable[], wrt: readonly Variable[], cotangents: readonly Variable[], options: PullbackOptions) => unknown;
  readonly pushforward: (outputs: readonly Variable[], wrt: readonly Variable[], tangents: readonly Variable[], options: PushforwardOptions) => unknown;
  readonly hessianVectorProduct: (cost: Variable, wrt: readonly Variable[], v: readonly Variable[], options: HessianVectorOptions) => unknown;
  /** The lazy region API (properties/regionContract.ts); the real one when absent. */
  readonly regionApi?: RegionApi;
}

/** A fresh root of v's type family, dtype and (named) dims, with the given static shape. */
function freshLike(v: Variable, name: string | null, shape: readonly (number | null)[], dtype = v.type.dtype): Variable {
  return X.isXTensorVariable(v) ? X.xtensor(name, { dims: [...v.type.dims], shape: [...shape], dtype }) : tensor(name, { shape: [...shape], dtype });
}

const quiet = (): void => undefined;

export function argumentContractClaim(c: ArgumentContractInput): ModuleOutcome {
  const b = c.built;
  const cost = b.cost;
  const costName = cost.name;
  if (b.wrt.length === 0 || costName === null) return { status: "skip", reason: "no float input to differentiate, or an unnamed cost" };
  const w0 = b.wrt[Math.floor(c.rand() * b.wrt.length)];
  // y: a node with at least one axis and a static shape (the cotangent misuses need its lengths).
  const ys = [...b.nodes.values()].filter((v) => v.type.ndim > 0 && isFloat(v.type.dtype) && v.type.shape.every((n) => n !== null));
  const y = ys.length === 0 ? null : ys[Math.floor(c.rand() * ys.length)];
  const fresh = freshLike(w0, "xgrad_free", w0.type.shape);
  // The case's own wrt the cost reads (a case may hold one it does not), then the fresh one: the
  // first disconnected wrt a refusal names is then the fresh one, at a known index.
  const terms = c.gradWith(cost, b.wrt, { disconnectedInputs: "ignore", returnDisconnected: "disconnected", onWarning: quiet });
  const list = [...b.wrt.filter((_, i) => !isDisconnected(terms[i])), fresh];
  const k = list.length - 1;
  // The cost's cotangent: a fresh root of its own type (nothing is compiled, so it needs no value).
  const one = freshLike(cost, null, []);

  // The same cost without a name (the refusal then has no name to give it).
  const unnamedCost = X.isXTensorVariable(cost) ? X.mul(cost, 1) : pmul(cost, 1);
  const misuses: Refusal[] = [
    { what: "a cost that is not a Variable", run: () => c.gradWith(42 as unknown as Variable, b.wrt, {}), says: "grad: the cost must be a Variable, got 42" },
    { what: "a 0-d integer cost", run: () => c.gradWith(tensor("xgrad_k", { shape: [], dtype: "int64" }), b.wrt, {}), says: `grad: the cost must be a 0-d float variable, got xgrad_k of type ${tensor(null, { shape: [], dtype: "int64" }).type.toString()}` },
    { what: "wrt that is not a list", run: () => c.gradWith(cost, {} as unknown as Variable[], {}), says: "grad: wrt must be a Variable or a list of Variables" },
    { what: "a wrt entry that is not a Variable", run: () => c.gradWith(cost, [...b.wrt, "xgrad" as unknown as Variable], {}), says: `grad: wrt[${b.wrt.length}] is not a Variable: xgrad` },
    { what: "a pullback wrt entry that is not a Variable", run: () => c.pullback([cost], [w0, 7 as unknown as Variable], [one], {}), says: "pullback: wrt[1] is not a Variable: 7" },
    { what: "a pullback of no outputs", run: () => c.pullback([], b.wrt, [], {}), says: "pullback: no outputs (and no cotangents): nothing to differentiate" },
    { what: "a knownGrads value that is not a Variable", run: () => c.gradWith(cost, b.wrt, { knownGrads: new Map([[w0, 3 as unknown as Variable]]) }), says: `grad: knownGrads entry for ${w0.toString()}: expected a Variable, got 3` },
    {
      what: "a wrt the cost cannot read",
      run: () => c.gradWith(cost, list, {}),
      says: `grad: the cost ${costName} does not depend on ${fresh.toString()} (wrt[${k}], ${fresh.type.toString()}); pass disconnectedInputs: "ignore" or "warn" to allow this`,
    },
    {
      what: "a wrt an unnamed cost cannot read",
      run: () => c.gradWith(unnamedCost, list, {}),
      says: `grad: the cost does not depend on ${fresh.toString()} (wrt[${k}], ${fresh.type.toString()}); pass disconnectedInputs: "ignore" or "warn" to allow this`,
    },
    {
      what: "a pullback wrt the outputs cannot read",
      run: () => c.pullback([cost], list, [one], { disconnectedInputs: "raise" }),
      says: `grad: the outputs do not depend on ${fresh.toString()} (wrt[${k}], ${fresh.type.toString()}); pass disconnectedInputs: "ignore" or "warn" to allow this`,
    },
  ];
  // The forward API's own arguments: counts, a tangent (or vector) of another length, a method.
  const tangentOff = freshLike(w0, null, w0.type.shape.map((n, d) => (d === 0 && n !== null ? n + 1 : n)));
  const offWhere = (lead: string): string =>
    `${lead}: expected a cotangent of shape ${shapeToString(w0.type.shape)}, got ${shapeToString(tangentOff.type.shape)} (${tangentOff.type.toString()})`;
  misuses.push(
    { what: "two wrt and one tangent", run: () => c.pushforward([cost], [w0, w0], [w0], {}), says: "pushforward: 2 wrt but 1 tangents" },
    { what: "two wrt and one vector", run: () => c.hessianVectorProduct(cost, [w0, w0], [w0], {}), says: "hessianVectorProduct: 2 wrt but 1 vectors" },
    { what: "an unknown Hessian-vector method", run: () => c.hessianVectorProduct(cost, [w0], [w0], { method: "sideways" as "forward" }), says: 'hessianVectorProduct: method must be "reverse" or "forward", got sideways' },
  );
  if (w0.type.ndim > 0 && w0.type.shape[0] !== null) {
    misuses.push(
      { what: "a tangent one length off", run: () => c.pushforward([cost], [w0], [tangentOff], {}), says: offWhere(`pushforward: tangent 0 (for ${w0.toString()})`) },
      { what: "a vector one length off", run: () => c.hessianVectorProduct(cost, [w0], [tangentOff], { disconnectedInputs: "ignore" }), says: offWhere(`hessianVectorProduct: v[0] (for ${w0.toString()})`) },
    );
  }
  if (y !== null) {
    const where = `pullback: cotangent 0 (for output ${y.toString()})`;
    const shape = y.type.shape as number[];
    const off = shape.map((n, d) => (d === 0 ? n + 1 : n));
    const longer = freshLike(y, null, off);
    const int = freshLike(y, null, shape, "int32");
    misuses.push(
      { what: "two outputs and one cotangent", run: () => c.pullback([cost, y], b.wrt, [one], {}), says: "pullback: 2 outputs but 1 cotangents" },
      { what: "a cotangent one length off", run: () => c.pullback([y], b.wrt, [longer], {}), says: `${where}: expected a cotangent of shape ${shapeToString(shape)}, got ${shapeToString(off)} (${longer.type.toString()})` },
      { what: "an integer cotangent", run: () => c.pullback([y], b.wrt, [int], {}), says: `${where}: cotangents must be float, got ${int.type.toString()}` },
    );
    if (X.isXTensorVariable(y)) {
      const dims = [...y.type.dims];
      const renamed = [...dims.slice(0, -1), "xgrad_dim"];
      const other = X.xtensor(null, { dims: renamed, shape: [...shape], dtype: y.type.dtype });
      const positional = tensor(null, { shape: [...shape], dtype: y.type.dtype });
      misuses.push(
        { what: "a cotangent with a dim renamed", run: () => c.pullback([y], b.wrt, [other], {}), says: `${where}: expected a cotangent with dims {${dims.join(", ")}}, got dims (${renamed.join(", ")})` },
        { what: "a positional cotangent for a named output", run: () => c.pullback([y], b.wrt, [positional], {}), says: `${where}: expected a xtensor cotangent for ${y.type.toString()}, got ${positional.type.toString()}` },
      );
    }
  }
  // A per-call rule under the lazy strategy: the region is expanded after lowering, where the
  // caller's node no longer exists, so `grad` must refuse it naming the node (the documentation
  // of `ruleFor`), not drop it.
  const connected = list.slice(0, k);
  const inRegion = regionNodes(cost, connected);
  if (inRegion.length > 0) {
    const node = inRegion[Math.floor(c.rand() * inRegion.length)];
    const ruleFor = (n: Apply): PullbackRule | null => (n === node ? () => [] : null);
    misuses.push({
      what: `a per-call ruleFor for the region's node ${node.toString()} under the lazy strategy`,
      run: () => c.gradWith(cost, connected, { ruleFor }),
      says:
        `grad: options.ruleFor gives a rule for ${node.op.toString()} (node ${node.toString()}), which lies in the region the lazy strategy ` +
        `differentiates: the compiler expands that region after lowering it, where a per-call rule cannot apply. ` +
        `Use gradStrategy "perNode", or registerPullbackRule for a rule that outlives the call`,
    });
  }
  for (const m of misuses) {
    const problem = refusalProblem(m, GradError);
    if (problem !== null) return { status: "fail", reason: problem };
  }
  // disconnectedInputs "warn" without onWarning: the documented default prints the refusal's
  // message on console.warn, once, and the call goes on.
  const warned = `grad: the cost ${costName} does not depend on ${fresh.toString()} (wrt[${k}], ${fresh.type.toString()}); pass disconnectedInputs: "ignore" or "warn" to allow this`;
  const printed = consoleWarnings(() => c.gradWith(cost, list, { disconnectedInputs: "warn" }));
  if (printed.length !== 1 || printed[0] !== warned) {
    return { status: "fail", reason: `grad(${costName}, wrt, {disconnectedInputs: "warn"}) without onWarning must print "${warned}" on console.warn once (the documented default); it printed ${printed.length === 0 ? "nothing" : printed.map((m) => `"${m}"`).join(", ")}` };
  }
  // A ruleFor that gives no rule anywhere asks for nothing the region cannot honour.
  if (connected.length > 0) {
    try {
      c.gradWith(cost, connected, { ruleFor: () => null });
    } catch (e) {
      return { status: "fail", reason: `grad(${costName}, wrt, {ruleFor: () => null}) must be accepted (the hook gives no rule); it threw ${e instanceof Error ? `${e.name}: ${e.message.split("\n")[0]}` : String(e)}` };
    }
  }

  // Names. The unnamed call first: a later call must build its own gradients, but a cache that
  // handed back the named call's variables would be its own finding.
  const named = (v: unknown): boolean => v instanceof Variable && v.name !== null && v.name.startsWith(`(d${costName}/d`);
  const plain = c.gradWith(cost, list, { disconnectedInputs: "ignore", addNames: false, onWarning: quiet });
  const bad = plain.findIndex(named);
  if (bad >= 0) return { status: "fail", reason: `grad(${costName}, wrt, {addNames: false}) named the gradient of ${list[bad].toString()} ${(plain[bad] as Variable).name}` };
  // The zeros of the disconnected wrt are the driver's own variable: with addNames false, no name at all.
  const zeros = plain[k];
  if (zeros instanceof Variable && zeros.name !== null) return { status: "fail", reason: `grad(${costName}, wrt, {addNames: false, disconnectedInputs: "ignore"}) named the zeros of the disconnected ${fresh.toString()} ${zeros.name}` };
  const gs = c.gradWith(cost, list, { disconnectedInputs: "ignore", onWarning: quiet });
  for (const [i, w] of list.entries()) {
    const g = gs[i];
    if (!(g instanceof Variable) || !isFloat(w.type.dtype) || g.type.dtype !== w.type.dtype) continue;
    if (i === k) {
      const want = `(d${costName}/d${fresh.name})`;
      if (g.name !== want) return { status: "fail", reason: `grad(${costName}, wrt, {disconnectedInputs: "ignore"}) must name the zeros of the disconnected ${fresh.toString()} ${want}; they are named ${String(g.name)}` };
    } else if (w.name !== null && !named(g)) {
      return { status: "fail", reason: `grad(${costName}, wrt) must name the gradient of ${w.toString()} (d${costName}/d…) (addNames defaults to true); it is named ${String(g.name)}` };
    }
  }

  // The same names under the other strategy: the per-node walk names downstream first.
  const perNode = c.gradWith(cost, list, { disconnectedInputs: "ignore", onWarning: quiet, gradStrategy: "perNode" });
  const nameOf = (g: unknown): string | null => (g instanceof Variable ? g.name : null);
  const differs = list.findIndex((_, i) => nameOf(perNode[i]) !== nameOf(gs[i]));
  if (differs >= 0) return { status: "fail", reason: `grad(${costName}, wrt) names the gradient of ${list[differs].toString()} ${String(nameOf(gs[differs]))}, and with gradStrategy "perNode" ${String(nameOf(perNode[differs]))}` };

  // A caller's own variable, passed straight through as the whole gradient of its key.
  const u = freshLike(w0, null, w0.type.shape);
  const [gu] = c.gradWith(cost, [w0], { knownGrads: new Map([[w0, u]]), disconnectedInputs: "ignore", onWarning: quiet });
  if (gu !== u) return { status: "fail", reason: `grad(${costName}, [${w0.toString()}], {knownGrads: {${w0.toString()}: u}}) must return u itself (u has ${w0.toString()}'s type); it returned ${isDisconnected(gu) ? "DISCONNECTED" : String(gu)}` };
  if (u.name !== null) return { status: "fail", reason: `grad renamed the caller's knownGrads value to ${u.name}` };
  // The lazy region API on the case's own graph (the wrt the cost reads, without the fresh one).
  const region = regionContractProblem(b, list.slice(0, k), c.rand, c.regionApi);
  if (region !== null) return { status: "fail", reason: region };
  return { status: "pass", detail: `argument-contract: ${misuses.length} misuses refused by name, gradients named (d${costName}/d…), a caller's value left unnamed, the region API's refusals and identity kept`, maxAbsErr: 0, maxRelErr: 0 };
}
