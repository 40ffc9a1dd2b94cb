/**
 * Where the grad driver finds the pullback of a node.
 *
 * Most ops carry their own `pullback` (rules live beside the op, as JAX keeps a primitive's JVP
 * next to its definition). Two kinds of node do not: named ops, which by design never
 * differentiate themselves, and the lazy `Pullback` op of `src/grad/lazy.ts`. For those, a rule
 * is supplied from outside, either per call (`GradOptions.ruleFor`) or module-wide
 * (`registerPullbackRule`). Keeping the lookup in one place means the driver has a single
 * resolution order that later strategies (perNode, lowerThenGrad) plug into without touching it.
 */
import type { Apply, Variable } from "../graph/basic.js";
import { type Disconnected, type GradTerm, Op, type OpClass } from "../graph/op.js";

/**
 * A vector-Jacobian product for one node: one term per input. The signature is `Op.pullback`'s
 * with the node appended, so a rule needing the op's props (or the lazy op's inner graph) can
 * read them, and a bound `op.pullback` is itself a valid rule.
 */
export type PullbackRule = (
  inputs: readonly Variable[],
  outputs: readonly Variable[],
  cotangents: readonly Variable[],
  node: Apply,
) => GradTerm[];

/** Selects ops: by class (`instanceof`), by family name (`op.name`), or by predicate. */
export type OpSelector = OpClass | string | ((op: Op) => boolean);

/** Where a resolved rule came from; the driver puts this in its error messages. */
export type RuleSource = "override" | "option" | "op" | "registry";

/** A rule and its provenance. */
export interface ResolvedRule {
  readonly rule: PullbackRule;
  readonly source: RuleSource;
}

interface Entry {
  readonly selector: OpSelector;
  readonly rule: PullbackRule;
}

/** Module-wide fallback rules for ops without a `pullback`, most recent registration first. */
const fallbacks: Entry[] = [];
/** Test-only overrides, innermost `withPullbackOverride` scope first. */
const overrides: Entry[] = [];

function isOpClass(selector: OpClass | ((op: Op) => boolean)): selector is OpClass {
  // Both are functions; only an op class has Op.prototype on its prototype chain.
  return selector === Op || (selector.prototype !== undefined && selector.prototype instanceof Op);
}

function matches(selector: OpSelector, op: Op): boolean {
  if (typeof selector === "string") return op.name === selector;
  if (isOpClass(selector)) return op instanceof selector;
  return selector(op) === true;
}

/**
 * Register a pullback rule for ops that have none (named ops, lazy ops). Ops that define
 * `pullback` keep their own rule: a registered rule is a fallback, never a replacement, so that
 * a stray registration cannot silently change the gradient of a positional op.
 *
 * @returns a function that removes the registration.
 */
export function registerPullbackRule(selector: OpSelector, rule: PullbackRule): () => void {
  const entry: Entry = { selector, rule };
  fallbacks.unshift(entry);
  return () => {
    const k = fallbacks.indexOf(entry);
    if (k >= 0) fallbacks.splice(k, 1);
  };
}

/**
 * TEST-ONLY. Run `fn` with `rule` replacing the pullback of every op matched by `selector`,
 * then restore the previous rules (also when `fn` throws or its promise rejects).
 *
 * This exists so that tests can inject a deliberately wrong rule into a real op and prove that
 * a finite-difference comparison catches it. Production code must never call it: an override
 * is global for its duration and beats every other source of rules.
 */
export function withPullbackOverride<T>(selector: OpSelector, rule: PullbackRule, fn: () => T): T {
  return scoped(overrides, { selector, rule }, fn);
}

/** A pushforward rule, with the node (see `Op.pushforward`). */
export type PushforwardRule = (
  inputs: readonly Variable[],
  outputs: readonly Variable[],
  tangents: readonly (Variable | Disconnected)[],
  node: Apply,
) => (Variable | Disconnected)[];

/** Test-only pushforward overrides, innermost `withPushforwardOverride` scope first. */
const forwardOverrides: { readonly selector: OpSelector; readonly rule: PushforwardRule }[] = [];

/**
 * TEST-ONLY, as `withPullbackOverride`: run `fn` with `rule` replacing the `pushforward` of every
 * op matched by `selector`, so that a test can prove `pushforward-duality` catches a wrong
 * forward rule.
 */
export function withPushforwardOverride<T>(selector: OpSelector, rule: PushforwardRule, fn: () => T): T {
  return scoped(forwardOverrides, { selector, rule }, fn);
}

/** The pushforward rule of `node`: an override, else the op's own; null when it has none. */
export function resolvePushforward(node: Apply): PushforwardRule | null {
  const op = node.op;
  for (const e of forwardOverrides) if (matches(e.selector, op)) return e.rule;
  if (typeof op.pushforward !== "function") return null;
  const pf = op.pushforward.bind(op);
  return (inputs, outputs, tangents) => pf(inputs, outputs, tangents);
}

/** Push `entry` on `list` for the duration of `fn` (sync or async), removing it however `fn` ends. */
function scoped<E, T>(list: E[], entry: E, fn: () => T): T {
  list.unshift(entry);
  const remove = (): void => {
    const k = list.indexOf(entry);
    if (k >= 0) list.splice(k, 1);
  };
  let result: T;
  try {
    result = fn();
  } catch (e) {
    remove();
    throw e;
  }
  if (result instanceof Promise) return result.finally(remove) as T;
  remove();
  return result;
}

/**
 * The rule for `node`, or null when there is none. Resolution order, most specific first:
 * a test override, the per-call hook, the op's own `pullback`, a registered fallback.
 */
export function resolveRule(node: Apply, ruleFor?: (node: Apply) => PullbackRule | null): ResolvedRule | null {
  const op = node.op;
  for (const e of overrides) if (matches(e.selector, op)) return { rule: e.rule, source: "override" };
  const fromOption = ruleFor?.(node) ?? null;
  if (fromOption !== null) return { rule: fromOption, source: "option" };
  if (typeof op.pullback === "function") {
    const pb = op.pullback.bind(op);
    return { rule: (inputs, outputs, cotangents) => pb(inputs, outputs, cotangents), source: "op" };
  }
  for (const e of fallbacks) if (matches(e.selector, op)) return { rule: e.rule, source: "registry" };
  return null;
}
