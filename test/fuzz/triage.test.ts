import { strict as assert } from "node:assert";
import { mkdirSync, writeFileSync, appendFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { checkSaved, findingsOf, replayCommand, signatureFileStem } from "../../src/fuzz/triage.js";
import { JournalWriter, decodeChecks, encodeChecks, readJsonl } from "../../src/fuzz/journal.js";
import { isKnown, loadCorpus, loadExpectedFailures } from "../../src/fuzz/corpus.js";
import { judgeReplay, replayItems, replayOk, corpusItems } from "../../src/fuzz/replay.js";
import type { CaseOutcome } from "../../src/fuzz/triage.js";
import { tmp } from "../cli/helpers.js";
import { fakeCase } from "./fake-runner.js";
import { writeCase } from "../../src/case/write.js";

describe("fuzz/triage: signatures and failure classes", () => {
  it("one finding per failing or erroring check, classed mismatch / invariant / crash", () => {
    const f = findingsOf({ kind: "checked", ok: false, checks: [
      { property: "direct-vs-lowered", status: "pass" },
      { property: "direct-vs-tfjs", status: "inconclusive", reason: "noise" },
      { property: "direct-vs-finiteDiff", status: "fail", reason: "differs", failingOp: "rename", maxAbsErr: 1 },
      { property: "rewrite-soundness", status: "error", reason: "broken", errorClass: "InconsistencyError", failingOp: "Elemwise{mul}" },
      { property: "second-order", status: "error", reason: "boom", errorClass: "TypeError" },
    ] });
    assert.deepEqual(f.map((x) => x.signature), [
      "direct-vs-finiteDiff/mismatch/rename/-",
      "rewrite-soundness/invariant/Elemwise{mul}/InconsistencyError",
      "second-order/crash/-/TypeError",
    ]);
  });

  it("dead workers are harness findings unless a stage was announced", () => {
    assert.equal(findingsOf({ kind: "timeout", limitMs: 2000 })[0].signature, "harness/timeout/-/-");
    assert.equal(findingsOf({ kind: "oom", message: "x", stage: "second-order" })[0].signature, "second-order/oom/-/-");
  });

  it("signature file stems are readable and file-system safe", () => {
    assert.equal(signatureFileStem("rewrite-soundness/invariant/Elemwise{mul}/InvariantError"), "rewrite-soundness__invariant__Elemwise_mul___InvariantError");
    assert.equal(signatureFileStem("a/b/../c"), "a__b__..__c");
  });
});

describe("fuzz/journal", () => {
  it("check statuses round-trip through the one-letter encoding", () => {
    const c = encodeChecks([{ property: "direct-vs-tfjs", status: "inconclusive" }, { property: "direct-vs-lowered", status: "fail" }]);
    assert.equal(c, "f--i----------");
    assert.deepEqual(decodeChecks(c), { "direct-vs-lowered": "fail", "direct-vs-tfjs": "inconclusive" });
    // The ninth property (grad-composition) was appended: journals written with eight letters still decode.
    assert.deepEqual(decodeChecks("f--i----"), { "direct-vs-lowered": "fail", "direct-vs-tfjs": "inconclusive" });
    assert.deepEqual(decodeChecks("--------p"), { "grad-composition": "pass" });
    // So was the tenth (kink-conventions): nine-letter journals still decode.
    assert.deepEqual(decodeChecks("f--i-----"), { "direct-vs-lowered": "fail", "direct-vs-tfjs": "inconclusive" });
    assert.deepEqual(decodeChecks("---------p"), { "kink-conventions": "pass" });
    // And the eleventh (shape-erasure): ten-letter journals still decode.
    assert.deepEqual(decodeChecks("f--i------"), { "direct-vs-lowered": "fail", "direct-vs-tfjs": "inconclusive" });
    assert.deepEqual(decodeChecks("----------p"), { "shape-erasure": "pass" });
    // And the twelfth (checked-sensitivity): eleven-letter journals still decode.
    assert.deepEqual(decodeChecks("f--i-------"), { "direct-vs-lowered": "fail", "direct-vs-tfjs": "inconclusive" });
    assert.deepEqual(decodeChecks("-----------p"), { "checked-sensitivity": "pass" });
    // And the thirteenth (rewriter-contract): twelve-letter journals still decode.
    assert.deepEqual(decodeChecks("f--i--------"), { "direct-vs-lowered": "fail", "direct-vs-tfjs": "inconclusive" });
    assert.deepEqual(decodeChecks("------------p"), { "rewriter-contract": "pass" });
    // And the fourteenth (positional-forms): thirteen-letter journals still decode.
    assert.deepEqual(decodeChecks("f--i---------"), { "direct-vs-lowered": "fail", "direct-vs-tfjs": "inconclusive" });
    assert.deepEqual(decodeChecks("-------------p"), { "positional-forms": "pass" });
  });

  it("a torn last line (a kill mid-write) is ignored when read and cut before the next append", () => {
    const d = tmp();
    writeFileSync(join(d, "run.json"), "{}");
    appendFileSync(join(d, "cases.jsonl"), `${JSON.stringify({ i: 0 })}\n{"i": 1, "t"`);
    assert.deepEqual(readJsonl(join(d, "cases.jsonl")).rows, [{ i: 0 }]);
    const w = new JournalWriter(d);
    w.append({ i: 2, t: 0, ms: 0, o: "ok", n: 0, c: "--------", ops: [], f: {} }, []);
    w.close();
    assert.deepEqual(readJsonl<{ i: number }>(join(d, "cases.jsonl")).rows.map((r) => r.i), [0, 2]);
    assert.ok(readFileSync(join(d, "cases.jsonl"), "utf8").endsWith("\n"));
  });
});

describe("fuzz/corpus and replay (test double)", () => {
  const d = tmp();
  mkdirSync(join(d, "reg"));
  const reg = join(d, "reg");
  const sinSig = "direct-vs-finiteDiff/mismatch/sin/-";
  const c1 = fakeCase(1, "sin", sinSig);
  writeFileSync(join(reg, `${signatureFileStem(sinSig)}.json`), writeCase(c1));
  writeFileSync(join(reg, "fixed.json"), writeCase(fakeCase(2, "exp", "second-order/mismatch/exp/-")));
  writeFileSync(join(reg, "xfail.json"), writeCase(fakeCase(3, "tanh", "old")));
  writeFileSync(join(reg, "broken.json"), "{");
  writeFileSync(join(reg, "expected-failures.json"), JSON.stringify({ format: "xgrad-expected-failures/1", failures: [{ file: "xfail.json", reason: "tracked in issue 9" }, { signature: "second-order/mismatch/exp/-", reason: "was flaky" }] }));

  it("known = a corpus file (by name or case name) or an expected failure", () => {
    const corpus = loadCorpus(reg);
    assert.ok(isKnown(corpus, sinSig));
    assert.ok(isKnown(corpus, "second-order/mismatch/exp/-"));
    assert.ok(!isKnown(corpus, "direct-vs-tfjs/mismatch/exp/-"));
    assert.deepEqual(loadCorpus(join(d, "none")).entries, []);
  });

  it("expected-failures.json is validated, naming the JSON path", () => {
    const e = join(d, "e");
    mkdirSync(e);
    writeFileSync(join(e, "expected-failures.json"), JSON.stringify({ format: "xgrad-expected-failures/1", failures: [{ file: "a.json" }] }));
    assert.throws(() => loadExpectedFailures(e), /failures\[0\]\.reason: expected a non-empty string/);
  });

  it("replay judges pass / still-fails / fails-differently / expected / unexpected-pass / invalid", async () => {
    const corpus = loadCorpus(reg);
    // the double: a case "fails" with the signature its op implies
    const run = async (text: string): Promise<CaseOutcome> => {
      const op = (JSON.parse(text) as { nodes: { op: string }[] }).nodes[0].op;
      if (op === "sin") return { kind: "checked", ok: false, checks: [{ property: "direct-vs-finiteDiff", status: "fail", failingOp: "sin", reason: "x" }] };
      if (op === "tanh") return { kind: "checked", ok: false, checks: [{ property: "direct-vs-tfjs", status: "fail", failingOp: "tanh", reason: "y" }] };
      return { kind: "checked", ok: true, checks: [{ property: "second-order", status: "pass" }] };
    };
    const res = await replayItems(corpusItems(corpus), run);
    const by = Object.fromEntries(res.map((r) => [r.id, r.status]));
    assert.deepEqual(by, {
      "broken.json": "invalid",
      [`${signatureFileStem(sinSig)}.json`]: "still-fails",
      "fixed.json": "unexpected-pass",
      "xfail.json": "expected-failure",
    });
    assert.deepEqual(res.filter(replayOk).map((r) => r.id), ["xfail.json"]);
    const diff = judgeReplay({ id: "x", caseText: "", signature: "other/sig/-/-" }, await run(writeCase(c1)));
    assert.equal(diff.status, "fails-differently");
  });

  it("replays a saved case with its signature's property alone when the suite skipped it (a seeded share)", async () => {
    // The double: in the suite rewriter-contract is scheduled out (no check at all); alone it fails.
    const calls: (readonly string[] | null)[] = [];
    const run = async (_text: string, properties: readonly string[] | null): Promise<CaseOutcome> => {
      calls.push(properties);
      return properties === null
        ? { kind: "checked", ok: true, checks: [{ property: "direct-vs-lowered", status: "pass" }] }
        : { kind: "checked", ok: false, checks: [{ property: "rewriter-contract", status: "fail", failingOp: "mul", reason: "broke its contract" }] };
    };
    const sig = "rewriter-contract/mismatch/mul/-";
    const merged = await checkSaved("{}", sig, run);
    assert.deepEqual(calls, [null, ["rewriter-contract"]]);
    assert.deepEqual(findingsOf(merged).map((f) => f.signature), [sig]);
    assert.ok(merged.kind === "checked" && merged.checks.some((k) => k.property === "direct-vs-lowered"), "the suite's checks are kept");
    // Found by the suite itself, or no signature (xgrad check of a bare file), or a harness one: the suite alone.
    for (const s of [null, "harness/crash/-/TypeError"]) {
      calls.length = 0;
      await checkSaved("{}", s, run);
      assert.deepEqual(calls, [null], String(s));
    }
    assert.equal(replayCommand("repros/x.json", sig), "npx xgrad check repros/x.json --properties rewriter-contract");
    assert.equal(replayCommand("repros/x.json", "harness/timeout/-/-"), "npx xgrad check repros/x.json");
  });
});
