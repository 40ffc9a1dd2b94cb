import { strict as assert } from "node:assert";
import { WorkerPool } from "../../src/fuzz/pool.js";
import { findingsOf } from "../../src/fuzz/triage.js";
import { FAKE_RUNNER } from "../cli/helpers.js";

describe("fuzz/pool: crash-safe workers", function () {
  this.timeout(60_000);
  let pool: WorkerPool;
  const prev = process.env.FAKE_PLAN;

  before(async () => {
    process.env.FAKE_PLAN = JSON.stringify({ hang: [10], throw: [11], oom: [12], exit: [13] });
    pool = new WorkerPool({ size: 1, runnerModule: FAKE_RUNNER, caseTimeoutMs: 1500, maxMemoryMb: 64 });
    await pool.start();
  });
  after(async () => {
    await pool.close();
    if (prev === undefined) delete process.env.FAKE_PLAN;
    else process.env.FAKE_PLAN = prev;
  });

  const fuzz = (index: number) => pool.run({ kind: "fuzz", seed: 0, index, ops: null, properties: null });

  it("runs a case and returns its checks, case text and features", async () => {
    const r = await fuzz(1);
    assert.equal(r.outcome.kind, "checked");
    assert.ok(r.generated?.caseText.includes('"op": "sin"'));
    assert.deepEqual(r.generated?.ops, ["sin", "sum"]);
    assert.equal(r.features.rewrites?.fake_rewrite_sin, 1);
    assert.deepEqual(findingsOf(r.outcome).map((f) => f.signature), ["direct-vs-finiteDiff/mismatch/sin/-"]);
  });

  it("a hang becomes a timeout finding (attributed to the announced property), and the pool goes on", async () => {
    const r = await fuzz(10);
    assert.deepEqual(r.outcome, { kind: "timeout", limitMs: 1500, stage: "direct-vs-tfjs" });
    assert.ok(r.generated !== undefined, "the case is kept although the check never returned");
    assert.equal(findingsOf(r.outcome)[0].signature, "direct-vs-tfjs/timeout/-/-");
    assert.equal((await fuzz(0)).outcome.kind, "checked");
  });

  it("an exception escaping the runner becomes a crash finding", async () => {
    const r = await fuzz(11);
    assert.equal(r.outcome.kind, "crash");
    assert.equal(findingsOf(r.outcome)[0].signature, "harness/crash/-/TypeError");
    assert.match(findingsOf(r.outcome)[0].reason, /blew up on case 11/);
    assert.equal((await fuzz(0)).outcome.kind, "checked");
  });

  it("running out of heap (64 MB cap) becomes an oom finding; a fresh worker takes over", async () => {
    const before = pool.spawned;
    const r = await fuzz(12);
    assert.equal(r.outcome.kind, "oom", JSON.stringify(r.outcome));
    if (r.outcome.kind === "oom") assert.match(r.outcome.message, /V8 heap cap 64 MB/);
    assert.equal(findingsOf(r.outcome)[0].failureClass, "oom");
    assert.equal((await fuzz(0)).outcome.kind, "checked");
    assert.equal(pool.spawned, before + 1);
  });

  it("a worker that exits mid-case becomes a crash finding (WorkerExit)", async () => {
    const r = await fuzz(13);
    assert.deepEqual(findingsOf(r.outcome).map((f) => f.signature), ["harness/crash/-/WorkerExit"]);
    assert.equal((await fuzz(0)).outcome.kind, "checked");
  });

  it("overhead per case of the pool (IPC round trip, case serialisation) is small", async () => {
    const n = 200;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await fuzz(100 + 8 * i); // exp cases: the fake does ~no work
    const perCase = (performance.now() - t0) / n;
    console.log(`      pool overhead: ${(perCase * 1000).toFixed(0)} µs per case (sequential, 1 worker, fake runner)`);
    assert.ok(perCase < 50, `${perCase} ms per case`);
  });
});
