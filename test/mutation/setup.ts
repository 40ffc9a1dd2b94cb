/**
 * Setup of the mutation-testing run (Stryker's mocha runner loads it first, see
 * stryker.config.mjs): fix fast-check's global seed, so that anything in the harness that draws
 * from fast-check without an explicit seed (fc.assert/fc.check/fc.sample defaults) sees the
 * same stream under every mutant, and the mutation score does not drift from run to run.
 */
import fc from "fast-check";

export const MUTATION_SEED = 0x5eed;

fc.configureGlobal({ seed: MUTATION_SEED });
