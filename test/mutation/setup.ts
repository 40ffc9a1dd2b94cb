/**
 * Setup of the mutation-testing run (Stryker's mocha runner loads it first, see
 * stryker.config.mjs): fix fast-check's global seed, so that anything in the harness that draws
 * from fast-check without an explicit seed (fc.assert/fc.check/fc.sample defaults) sees the
 * same stream under every mutant, and the mutation score does not drift from run to run.
 *
 * Stryker switches mutants inside one process, so anything the engine caches at module level
 * is built under whichever mutant (or none) was active first. The pass database caches each
 * query's pipeline; without a rebuild before every case, a mutant in tag matching, query
 * building or a group's equilibrium setup never runs again after the dry run, and survives
 * unjudged. So every case starts from a fresh query.
 */
import fc from "fast-check";
import { optdb } from "../../src/rewriting/db.js";

export const MUTATION_SEED = 0x5eed;

fc.configureGlobal({ seed: MUTATION_SEED });

beforeEach(() => optdb.clearCache());
