import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cli, readJson, tmp } from "../cli/helpers.js";
import { shardSize, shardStream } from "../../src/fuzz/fuzz.js";

const caseIndices = (dir: string): number[] =>
  readFileSync(join(dir, "cases.jsonl"), "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { i: number }).i).sort((a, b) => a - b);

describe("fuzz: --shard i/n and merge-reports", function () {
  this.timeout(60_000);
  const root = tmp();
  const reg = join(root, "regressions");
  const run = (out: string, ...extra: string[]) => cli(["fuzz", "--cases", "26", "--seed", "9", "--workers", "1", "--out", join(root, out), "--regressions", reg, ...extra]);

  it("shardStream partitions the index stream", () => {
    const parts = [1, 2, 3].map((i) => [...shardStream({ index: i, count: 3 }, 26)]);
    assert.deepEqual(parts.flat().sort((a, b) => a - b), [...Array(26).keys()]);
    assert.deepEqual(parts.map((p) => p.length), [1, 2, 3].map((i) => shardSize({ index: i, count: 3 }, 26)));
  });

  it("two shards run disjoint halves of the stream, and their merge equals the unsharded run", async () => {
    await run("all");
    await run("s1", "--shard", "1/2");
    await run("s2", "--shard", "2/2");
    assert.deepEqual(caseIndices(join(root, "s1")), [...Array(13).keys()].map((k) => 2 * k));
    assert.deepEqual(caseIndices(join(root, "s2")), [...Array(13).keys()].map((k) => 2 * k + 1));
    const m = await cli(["merge-reports", join(root, "s1"), join(root, "s2"), "--out", join(root, "merged"), "--regressions", reg]);
    assert.equal(m.code, 1, m.err);
    type S = { cases: number; findings: number; signatures: { reproCase: string }[]; inconclusive: unknown; checks: unknown; heatmap: unknown; coverage: unknown };
    const a = readJson<S>(join(root, "all", "summary.json"));
    const b = readJson<S>(join(root, "merged", "summary.json"));
    assert.equal(b.cases, 26);
    assert.equal(b.findings, a.findings);
    assert.deepEqual(b.signatures, a.signatures);
    for (const g of a.signatures) assert.equal(readFileSync(join(root, "merged", g.reproCase), "utf8"), readFileSync(join(root, "all", g.reproCase), "utf8"));
    assert.deepEqual([b.inconclusive, b.checks, b.heatmap, b.coverage], [a.inconclusive, a.checks, a.heatmap, a.coverage]);
    assert.equal(readFileSync(join(root, "merged", "findings.jsonl"), "utf8"), readFileSync(join(root, "all", "findings.jsonl"), "utf8").trim().split("\n").sort((x, y) => {
      const fx = JSON.parse(x) as { index: number; property: string };
      const fy = JSON.parse(y) as { index: number; property: string };
      return fx.index - fy.index || (fx.property < fy.property ? -1 : 1);
    }).join("\n") + "\n");
  });

  it("merge-reports refuses runs of different seeds or the same shard twice (exit 2, one line)", async () => {
    await cli(["fuzz", "--cases", "4", "--seed", "10", "--workers", "1", "--shard", "2/2", "--out", join(root, "other"), "--regressions", reg]);
    const r = await cli(["merge-reports", join(root, "s1"), join(root, "other")]);
    assert.equal(r.code, 2);
    assert.match(r.err, /seed 10 differs/);
    const r2 = await cli(["merge-reports", join(root, "s1"), join(root, "s1")]);
    assert.equal(r2.code, 2);
    assert.match(r2.err, /shard 1 appears twice/);
  });
});
