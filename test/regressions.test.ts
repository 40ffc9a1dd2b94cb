/**
 * Replays the committed regression corpus (regressions/*.json) with the real harness: every
 * case must pass, or be listed in regressions/expected-failures.json with a reason (an expected
 * failure that passes again fails this test too, so the list cannot rot). Cases run in the
 * worker pool, as `xgrad replay` runs them, so a repro that hangs is reported, not waited on.
 * An empty corpus is fine. The replay logic itself is tested with a double in test/fuzz.
 */
import { strict as assert } from "node:assert";
import { availableParallelism } from "node:os";
import { loadCorpus } from "../src/fuzz/corpus.js";
import { corpusItems, replayItems, replayOk } from "../src/fuzz/replay.js";
import { WorkerPool } from "../src/fuzz/pool.js";
import { DEFAULT_RUNNER_MODULE } from "../src/fuzz/runner.js";

const DIR = new URL("../regressions/", import.meta.url).pathname;

describe("regression corpus (regressions/)", function () {
  this.timeout(600_000);
  const corpus = loadCorpus(DIR);
  const items = corpusItems(corpus);

  it(`loads: ${items.length} case(s), ${corpus.expected.length} expected failure(s)`, () => {
    for (const x of corpus.expected) {
      const target = x.file ?? x.signature;
      assert.ok(corpus.entries.some((e) => e.file === x.file || e.signature === x.signature), `expected-failures.json lists ${target}, which is not in the corpus`);
    }
  });

  if (items.length > 0) {
    it("every case passes on the current engine or is an expected failure", async () => {
      const pool = new WorkerPool({ size: Math.min(2, availableParallelism(), items.length), runnerModule: DEFAULT_RUNNER_MODULE, caseTimeoutMs: 120_000, maxMemoryMb: 2048 });
      try {
        await pool.start();
        const results = await replayItems(items, async (caseText, properties) => (await pool.run({ kind: "check", caseText, properties })).outcome);
        const bad = results.filter((r) => !replayOk(r));
        assert.deepEqual(bad.map((r) => `${r.id}: ${r.status}: ${r.detail}`), []);
      } finally {
        await pool.close();
      }
    });
  }
});
