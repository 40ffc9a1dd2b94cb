import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, FAKE_RUNNER, cli, readJson, tmp } from "../cli/helpers.js";

// Complete lines only: the text after the last newline is a line still being written (the test
// polls while the run appends) or torn by the kill, which the journal's own reader also ignores.
const lines = (p: string): string[] => (existsSync(p) ? readFileSync(p, "utf8").split("\n").slice(0, -1).filter((l) => l !== "") : []);
const indices = (p: string): number[] => lines(p).map((l) => (JSON.parse(l) as { i: number }).i);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("fuzz: --resume after SIGKILL", function () {
  this.timeout(60_000);

  it("keeps every finding, and the resumed run repeats no journaled case and skips none", async () => {
    const root = tmp();
    const dir = join(root, "run");
    const reg = join(root, "regressions");
    const log1 = join(root, "exec-1.log");
    const N = 80;
    const child = spawn(process.execPath, [BIN, "fuzz", "--cases", String(N), "--seed", "5", "--workers", "2", "--out", dir, "--regressions", reg], {
      detached: true, stdio: "ignore",
      env: { ...process.env, XGRAD_RUNNER: FAKE_RUNNER, FAKE_PLAN: JSON.stringify({ slowMs: 40, log: log1 }) },
    });
    const exited = new Promise((r) => child.on("exit", r));
    const deadline = Date.now() + 30_000;
    while (indices(join(dir, "cases.jsonl")).length < 20) {
      assert.ok(Date.now() < deadline, "the run made no progress");
      await sleep(20);
    }
    process.kill(-child.pid!, "SIGKILL"); // the CLI and its workers, mid-run
    await exited;

    const journaled = indices(join(dir, "cases.jsonl"));
    const findingsBefore = lines(join(dir, "findings.jsonl"));
    assert.ok(journaled.length >= 20 && journaled.length < N, `${journaled.length} cases journaled before the kill`);
    assert.ok(findingsBefore.length > 0);

    const log2 = join(root, "exec-2.log");
    const r = await cli(["fuzz", "--resume", dir, "--workers", "2", "--regressions", reg], { log: log2 });
    assert.equal(r.code, 1, r.err + r.out);

    // Not repeated: the resumed session ran exactly the cases the journal did not hold, once each.
    // A finding written before the kill cut off its case line counts as done (fuzz.ts's resume
    // protocol rebuilds the line from it), so its case is not run again either: without this the
    // test failed whenever the kill landed between those two writes (seen once in CI, under load).
    const orphaned = new Set(findingsBefore.map((l) => (JSON.parse(l) as { index: number }).index).filter((i) => !journaled.includes(i)));
    const ran = lines(log2).map(Number);
    const expected = [...Array(N).keys()].filter((i) => !journaled.includes(i) && !orphaned.has(i));
    assert.deepEqual([...ran].sort((a, b) => a - b), expected);
    // Not skipped, not doubled: the journal holds 0..N-1 exactly once.
    const all = indices(join(dir, "cases.jsonl"));
    assert.deepEqual([...all].sort((a, b) => a - b), [...Array(N).keys()]);
    // Findings: none lost, none doubled, and exactly those of the seed stream (seed 5: i % 8 in {4, 6}).
    const after = lines(join(dir, "findings.jsonl"));
    for (const f of findingsBefore) assert.ok(after.includes(f), "a finding made before the kill was lost");
    const keys = after.map((l) => { const f = JSON.parse(l) as { index: number; property: string }; return `${f.index}/${f.property}`; });
    assert.equal(new Set(keys).size, keys.length, "a finding was written twice");
    const fIdx = after.map((l) => (JSON.parse(l) as { index: number }).index).sort((a, b) => a - b);
    assert.deepEqual(fIdx, [...Array(N).keys()].filter((i) => i % 8 === 4 || i % 8 === 6));

    // And the report equals an uninterrupted run's, timings aside.
    const fresh = join(root, "fresh");
    await cli(["fuzz", "--cases", String(N), "--seed", "5", "--workers", "2", "--out", fresh, "--regressions", reg]);
    const strip = (p: string) => {
      const s = readJson(p);
      for (const k of ["durationS", "casesPerSecond", "throughput", "startedAt"]) delete s[k];
      return s;
    };
    assert.deepEqual(strip(join(dir, "summary.json")), strip(join(fresh, "summary.json")));
  });
});
