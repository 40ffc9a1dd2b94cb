/**
 * fast-check arbitraries for `xgrad-case/1` cases.
 *
 * Only the recipe is random (`recipe.ts`); the case is `buildFromRecipe(recipe)`, a pure
 * function, so fast-check shrinks the recipe (deleting steps, lowering choices towards 0,
 * shrinking dim lengths towards 1) and every shrink is again a valid case. The generated value
 * carries both, so a failure can be reported as a case file and replayed from the recipe.
 */
import fc from "fast-check";
import { CASE_OPS, type Case, type CaseOp } from "../src/case/format.js";
import { buildFromRecipe, type BuildOptions, type Recipe, type RecipeStep } from "./recipe.js";

export { buildFromRecipe, DIM_ALPHABET } from "./recipe.js";
export type { Recipe, RecipeStep, BuildOptions } from "./recipe.js";

/** A recipe and the case built from it. */
export interface GeneratedCase {
  recipe: Recipe;
  case: Case;
}

/** Options of {@link recipeArbitrary} and {@link caseArbitrary}. */
export interface GeneratorOptions extends BuildOptions {
  /** Ops the steps may use (default: every op of the case-format table). Helper nodes
   * (adapters, conditions, the cost) may still use other ops. */
  ops?: readonly CaseOp[];
  /** Fewest steps (default 3). */
  minSteps?: number;
  /** Most steps (default 8). */
  maxSteps?: number;
}

/** Number of abstract choices per step. */
export const CHOICES_PER_STEP = 8;

/** Validate an ops filter: known names, at least one. */
function checkOps(ops: readonly string[]): CaseOp[] {
  const bad = ops.filter((o) => !(CASE_OPS as readonly string[]).includes(o));
  if (bad.length > 0) throw new Error(`generators: unknown op${bad.length > 1 ? "s" : ""} ${bad.map((b) => JSON.stringify(b)).join(", ")} (known: ${CASE_OPS.join(", ")})`);
  if (ops.length === 0) throw new Error("generators: the ops filter is empty");
  return [...new Set(ops)] as CaseOp[];
}

/** One step: an op and CHOICES_PER_STEP choices in 0..255 (shrinking towards 0 = simplest). */
export function stepArbitrary(ops: readonly CaseOp[] = CASE_OPS): fc.Arbitrary<RecipeStep> {
  return fc.record({
    op: fc.constantFrom(...checkOps(ops)),
    p: fc.array(fc.nat(255), { minLength: CHOICES_PER_STEP, maxLength: CHOICES_PER_STEP }),
  }, { noNullPrototype: true });
}

/**
 * Recipes. Dim lengths are 1..4 and all equal half of the time (square shapes expose silent
 * transposes); the seed only feeds input values.
 */
export function recipeArbitrary(opts: GeneratorOptions = {}): fc.Arbitrary<Recipe> {
  const minSteps = opts.minSteps ?? 3;
  const maxSteps = opts.maxSteps ?? 8;
  if (!Number.isInteger(minSteps) || !Number.isInteger(maxSteps) || minSteps < 0 || maxSteps < minSteps) {
    throw new Error(`generators: need 0 <= minSteps <= maxSteps, got ${minSteps} and ${maxSteps}`);
  }
  const len = fc.integer({ min: 1, max: 4 });
  // Both variants shrink without context (fc.assert replays hand values back to be shrunk).
  const lens = fc.oneof(
    fc.array(len, { minLength: 4, maxLength: 4 }),
    len.map((n) => [n, n, n, n], (v) => {
      if (Array.isArray(v) && v.length === 4 && v.every((x) => x === v[0]) && typeof v[0] === "number") return v[0];
      throw new Error("not a square lens");
    }),
  );
  // Steps first: fast-check shrinks record fields in order, and deleting steps is the shrink
  // that pays most.
  return fc.record({
    steps: fc.array(stepArbitrary(opts.ops ?? CASE_OPS), { minLength: minSteps, maxLength: maxSteps }),
    lens,
    root: fc.nat(255),
    seed: fc.nat(0xffff),
  }, { noNullPrototype: true });
}

const isGenerated = (v: unknown): v is GeneratedCase =>
  typeof v === "object" && v !== null && "recipe" in v && "case" in v;

/**
 * The recipe arbitrary with each value built into a case. Shrinks are the recipe's shrinks,
 * kept only when the rebuilt case has no more nodes than the current one: deleting a step can
 * occasionally grow a case (a repair adapter, or a node that stops being consumed becomes one
 * more weighted sink), and a shrinker must never walk uphill.
 */
class CaseArbitrary extends fc.Arbitrary<GeneratedCase> {
  constructor(private readonly inner: fc.Arbitrary<Recipe>, private readonly build: BuildOptions) {
    super();
  }

  private wrap(recipe: Recipe): GeneratedCase {
    return { recipe, case: buildFromRecipe(recipe, this.build) };
  }

  generate(mrng: fc.Random, biasFactor: number | undefined): fc.Value<GeneratedCase> {
    const v = this.inner.generate(mrng, biasFactor);
    return new fc.Value(this.wrap(v.value_), v.context);
  }

  canShrinkWithoutContext(value: unknown): value is GeneratedCase {
    return isGenerated(value) && this.inner.canShrinkWithoutContext(value.recipe);
  }

  shrink(value: GeneratedCase, context: unknown): fc.Stream<fc.Value<GeneratedCase>> {
    const n = value.case.nodes.length;
    return this.inner.shrink(value.recipe, context)
      .map((v) => new fc.Value(this.wrap(v.value_), v.context))
      .filter((v) => v.value_.case.nodes.length <= n);
  }
}

/** Cases built from {@link recipeArbitrary}; see the module comment. */
export function caseArbitrary(opts: GeneratorOptions = {}): fc.Arbitrary<GeneratedCase> {
  return new CaseArbitrary(recipeArbitrary(opts), { maxElems: opts.maxElems, float32: opts.float32, name: opts.name });
}
