/**
 * The fault zoo stays armed: every fault's edits still apply, exactly once, to the current
 * `src/` and change it (so a refactor cannot silently disarm the zoo), and the runner finds one
 * cheap fault end to end in a temporary copy of the tree.
 */
import { strict as assert } from "node:assert";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FAULTS } from "../../bench/faults/zoo.js";
import { FaultAnchorError, applyEditsToTexts } from "../../bench/faults/patch.js";
import { DEFAULTS, parseArgs, runFaultBench } from "../../bench/faults/run.js";
import { parseCase } from "../../src/case/parse.js";

const read = (f: string): string => readFileSync(join(process.cwd(), f), "utf8");

describe("bench/faults: the fault zoo", () => {
  it("has the 16 faults of issue 8 (and more), with unique ids and slugs", () => {
    assert.ok(FAULTS.length >= 16);
    assert.equal(new Set(FAULTS.map((f) => f.id)).size, FAULTS.length);
    assert.equal(new Set(FAULTS.map((f) => f.slug)).size, FAULTS.length);
    FAULTS.forEach((f, i) => assert.equal(f.id, i + 1, "ids are 1..n in order"));
  });

  for (const fault of FAULTS) {
    it(`#${fault.id} ${fault.slug}: applies exactly once to the current src/ and changes it`, () => {
      const texts = applyEditsToTexts(fault.slug, fault.edits, read);
      assert.ok(texts.size > 0);
      for (const [file, text] of texts) {
        assert.ok(file.startsWith("src/"), `${file}: faults patch src/ only`);
        assert.notEqual(text, read(file), `${file} is unchanged`);
      }
      if (fault.trigger !== null) {
        parseCase(fault.trigger); // a valid case
        assert.equal(fault.trigger.nodes.length, fault.minNodes, "minNodes is the trigger's node count");
      } else {
        assert.ok(fault.probe !== undefined, "a fault no case reaches has a probe");
      }
    });
  }

  it("fails loudly on a missing or ambiguous anchor", () => {
    const src = { "src/a.ts": "x = 1;\nx = 1;\n" } as Record<string, string>;
    assert.throws(() => applyEditsToTexts("t", [{ file: "src/a.ts", find: "y = 2;", replace: "" }], (f) => src[f]), FaultAnchorError);
    assert.throws(() => applyEditsToTexts("t", [{ file: "src/a.ts", find: "x = 1;", replace: "x = 2;" }], (f) => src[f]), /occurs 2 times/);
  });

  it("the runner detects fault 8 (cumsum pullback not reversed) end to end in a patched copy", async function () {
    this.timeout(120_000);
    const r = await runFaultBench({
      ...DEFAULTS, only: [8], budgetS: 25, seeds: [1], workers: 1, ops: "cumsum", properties: "direct-vs-finiteDiff",
      baseline: false, shrink: false, verify: false, out: null, log: () => {},
    });
    const [f] = r.faults;
    assert.equal(f.id, 8);
    const [h] = f.hunts;
    assert.ok(h.detected, `not detected in ${h.casesRun} cases${h.error ? `: ${h.error}` : ""}`);
    assert.match(h.signature ?? "", /^direct-vs-finiteDiff\/mismatch\//);
    assert.ok(h.cases !== null && h.cases >= 1 && h.timeS !== null);
    assert.deepEqual(h.falseAlarms, []);
  });

  it("--verify-only writes faults-verify.*, never the hunt's faults.json and faults.md", async function () {
    this.timeout(120_000);
    const out = mkdtempSync(join(tmpdir(), "xgrad-faults-verify-"));
    try {
      const o = { ...parseArgs(["--verify-only", "--only", "8", "--out", out]), log: () => {} };
      assert.equal(o.verifyOnly, true);
      const r = await runFaultBench(o);
      assert.equal(r.faults.length, 1);
      assert.ok(existsSync(join(out, "faults-verify.json")) && existsSync(join(out, "faults-verify.md")));
      assert.ok(!existsSync(join(out, "faults.json")) && !existsSync(join(out, "faults.md")), "the hunt's record was written");
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
