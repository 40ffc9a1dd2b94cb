import { strict as assert } from "node:assert";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, bin, readJson, tmp, withoutTimings } from "./helpers.js";
import { REPORT_FILES } from "../../reports/render.js";
import { fakeCase } from "../fuzz/fake-runner.js";
import { writeCase } from "../../src/case/write.js";

describe("cli: xgrad fuzz end to end (fake runner)", function () {
  this.timeout(60_000);
  const root = tmp();
  const reg = join(root, "regressions");

  it("a small fixed-seed run writes every report file and exits 1 on new findings", async () => {
    const out = join(root, "run-a");
    const r = await cli(["fuzz", "--cases", "24", "--seed", "3", "--workers", "2", "--out", out, "--regressions", reg]);
    assert.equal(r.code, 1, r.err);
    for (const f of [...REPORT_FILES, "findings.jsonl", "cases.jsonl", "run.json", "state.json"]) assert.ok(existsSync(join(out, f)), f);
    const s = readJson<{ format: string; seed: number; cases: number; findings: number; signatures: { signature: string; count: number; status: string; reproCase: string; reproSnippet: string }[]; inconclusive: Record<string, number>; backend: string; coverage: { code: unknown; features: Record<string, { never: string[] }> } }>(join(out, "summary.json"));
    assert.equal(s.format, "xgrad-run/1");
    assert.equal(s.seed, 3);
    assert.equal(s.cases, 24);
    // seed 3: op = OPS[(i + 3) % 8]; sin at i ≡ 6, tanh at i ≡ 0 (mod 8): 3 + 3 findings
    assert.deepEqual(s.signatures.map((g) => [g.signature, g.count, g.status]), [
      ["direct-vs-finiteDiff/mismatch/sin/-", 3, "new"],
      ["rewrite-soundness/invariant/tanh/InvariantError", 3, "new"],
    ]);
    assert.equal(s.findings, 6);
    for (const g of s.signatures) {
      assert.ok(existsSync(join(out, g.reproCase)) && existsSync(join(out, g.reproSnippet)));
    }
    assert.equal(s.backend, "fake-cpu");
    assert.ok(s.inconclusive.tfjs > 0);
    assert.equal(s.coverage.code, null);
    assert.deepEqual(s.coverage.features.rewrites.never, ["fake_rewrite_never"]);
    assert.ok(s.coverage.features.ops.never.includes("dot"));
    assert.ok(s.coverage.features.strategies.never.includes("perNode"));
    const findings = readFileSync(join(out, "findings.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { index: number });
    assert.deepEqual(findings.map((f) => f.index).sort((a, b) => a - b), [0, 6, 8, 14, 16, 22]);
    assert.match(r.out, /NEW +direct-vs-finiteDiff\/mismatch\/sin\/- +x3/);
  });

  it("is deterministic: same seed and case count, identical findings and reports apart from timings", async () => {
    const a = join(root, "det-a");
    const b = join(root, "det-b");
    await cli(["fuzz", "--cases", "30", "--seed", "11", "--workers", "2", "--out", a, "--regressions", reg]);
    await cli(["fuzz", "--cases", "30", "--seed", "11", "--workers", "1", "--out", b, "--regressions", reg]);
    const sortLines = (t: string) => t.trim().split("\n").sort().join("\n");
    assert.equal(sortLines(readFileSync(join(a, "findings.jsonl"), "utf8")), sortLines(readFileSync(join(b, "findings.jsonl"), "utf8")));
    for (const f of REPORT_FILES) {
      const ta = withoutTimings(f, readFileSync(join(a, f), "utf8")).replaceAll(a, "DIR");
      const tb = withoutTimings(f, readFileSync(join(b, f), "utf8")).replaceAll(b, "DIR");
      assert.equal(ta, tb, `${f} differs`);
    }
    for (const f of readdirSync(join(a, "repros"))) assert.equal(readFileSync(join(a, "repros", f), "utf8"), readFileSync(join(b, "repros", f), "utf8"), f);
  });

  it("a finding with the signature of a fixed regression (a corpus file that no longer fails with it) is new, and shrunk", async () => {
    // A coarse signature is shared by different bugs (seed 1818 case 246): only a saved repro that
    // still fails, or an expected failure, makes a finding known.
    const fixedReg = join(root, "fixed-regressions");
    mkdirSync(fixedReg);
    writeFileSync(join(fixedReg, "direct-vs-finiteDiff__mismatch__sin__-.json"), writeCase(fakeCase(9, "exp", "direct-vs-finiteDiff/mismatch/sin/-")));
    writeFileSync(join(fixedReg, "rewrite-soundness__invariant__tanh__InvariantError.json"), writeCase(fakeCase(10, "tanh", "rewrite-soundness/invariant/tanh/InvariantError")));
    const out = join(root, "run-fixed");
    const r = await cli(["fuzz", "--cases", "24", "--seed", "3", "--workers", "2", "--out", out, "--regressions", fixedReg]);
    assert.equal(r.code, 1, r.out);
    const s = readJson<{ signatures: { signature: string; status: string; shrunk: boolean; note?: string }[] }>(join(out, "summary.json"));
    assert.deepEqual(s.signatures.map((g) => [g.signature, g.status]), [
      ["direct-vs-finiteDiff/mismatch/sin/-", "new"],
      ["rewrite-soundness/invariant/tanh/InvariantError", "known"],
    ]);
    assert.match(s.signatures[0].note ?? "", /^the signature of direct-vs-finiteDiff__mismatch__sin__-\.json in the regression corpus, which no longer fails with it: that bug is back, or another bug shares its signature$/);
    assert.equal(readJson<{ fixedRegression?: string }>(join(out, "repros", "direct-vs-finiteDiff__mismatch__sin__-.meta.json")).fixedRegression, "direct-vs-finiteDiff__mismatch__sin__-.json");
    assert.equal(readJson<{ note?: string }>(join(out, "repros", "rewrite-soundness__invariant__tanh__InvariantError.meta.json")).note, "known signature: not shrunk");
    assert.match(r.out, /NEW +direct-vs-finiteDiff\/mismatch\/sin\/- +x3/);
    // Saved beside the fixed bug's file, never over it; the next run knows the signature.
    const before = readFileSync(join(fixedReg, "direct-vs-finiteDiff__mismatch__sin__-.json"), "utf8");
    const r2 = await cli(["fuzz", "--cases", "24", "--seed", "3", "--workers", "2", "--out", join(root, "run-fixed-2"), "--regressions", fixedReg, "--save-regressions"]);
    assert.match(r2.out, /saved .*direct-vs-finiteDiff__mismatch__sin__--2\.json/);
    assert.equal(readFileSync(join(fixedReg, "direct-vs-finiteDiff__mismatch__sin__-.json"), "utf8"), before);
    const r3 = await cli(["fuzz", "--cases", "24", "--seed", "3", "--workers", "2", "--out", join(root, "run-fixed-3"), "--regressions", fixedReg]);
    assert.equal(r3.code, 0, r3.out);
  });

  it("--save-regressions adds the repros to the corpus; the next run reports them known and exits 0", async () => {
    const r1 = await cli(["fuzz", "--cases", "16", "--seed", "1", "--workers", "2", "--out", join(root, "save-1"), "--regressions", reg, "--save-regressions"]);
    assert.equal(r1.code, 1);
    assert.deepEqual(readdirSync(reg).sort(), ["direct-vs-finiteDiff__mismatch__sin__-.json", "rewrite-soundness__invariant__tanh__InvariantError.json"]);
    assert.equal(readJson(join(reg, "direct-vs-finiteDiff__mismatch__sin__-.json")).name, "direct-vs-finiteDiff/mismatch/sin/-");
    const r2 = await cli(["fuzz", "--cases", "16", "--seed", "1", "--workers", "2", "--out", join(root, "save-2"), "--regressions", reg]);
    assert.equal(r2.code, 0, r2.out);
    const s = readJson<{ signatures: { status: string }[] }>(join(root, "save-2", "summary.json"));
    assert.deepEqual(s.signatures.map((g) => g.status), ["known", "known"]);
    // replay: both still fail (the fake's bugs are not fixed) → exit 1, each named
    const rp = await cli(["replay", reg, "--workers", "1"]);
    assert.equal(rp.code, 1);
    assert.match(rp.out, /FAIL still-fails +direct-vs-finiteDiff__mismatch__sin__-\.json/);
    // listing them as expected failures makes the corpus pass
    writeFileSync(join(reg, "expected-failures.json"), JSON.stringify({ format: "xgrad-expected-failures/1", failures: [
      { signature: "direct-vs-finiteDiff/mismatch/sin/-", reason: "fake bug" },
      { file: "rewrite-soundness__invariant__tanh__InvariantError.json", reason: "fake bug" },
    ] }));
    const rp2 = await cli(["replay", reg, "--workers", "1"]);
    assert.equal(rp2.code, 0, rp2.out);
    assert.match(rp2.out, /2 ok, 0 still failing/);
  });

  it("replay of a run directory replays one repro per signature", async () => {
    const r = await cli(["replay", join(root, "run-a"), "--workers", "1"]);
    assert.equal(r.code, 1);
    assert.equal(r.out.split("\n").filter((l) => l.startsWith("FAIL still-fails")).length, 2);
  });

  it("report re-renders a run directory identically", async () => {
    const dir = join(root, "run-a");
    const before = withoutTimings("report.md", readFileSync(join(dir, "report.md"), "utf8"));
    const r = await cli(["report", dir, "--regressions", join(root, "empty-corpus")]);
    assert.equal(r.code, 0, r.err);
    assert.equal(withoutTimings("report.md", readFileSync(join(dir, "report.md"), "utf8")), before);
  });

  it("check: exit 0 for a passing case, 1 for a failing one, --json prints the xgrad-verdict/1 object", async () => {
    const d = join(root, "cases");
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, "ok.json"), writeCase(fakeCase(0, "exp")));
    writeFileSync(join(d, "bad.json"), writeCase(fakeCase(1, "sin")));
    const ok = await cli(["check", join(d, "ok.json")]);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /\nok\n$/);
    const bad = await cli(["check", "--json", join(d, "bad.json")]);
    assert.equal(bad.code, 1);
    const v = JSON.parse(bad.out) as { format: string; ok: boolean; checks: { status: string }[] };
    assert.equal(v.format, "xgrad-verdict/1");
    assert.equal(v.ok, false);
  });

  it("shrink writes <case>.min.json and <case>.min.ts; a passing case has nothing to shrink (exit 1)", async () => {
    const d = join(root, "cases");
    const r = await cli(["shrink", join(d, "bad.json")]);
    assert.equal(r.code, 0, r.err);
    assert.ok(existsSync(join(d, "bad.min.json")) && existsSync(join(d, "bad.min.ts")));
    const p = await cli(["shrink", join(d, "ok.json")]);
    assert.equal(p.code, 1);
    assert.match(p.err, /nothing to shrink/);
  });
});

describe("cli: usage errors and bad input (one line, exit 2, no stack trace)", function () {
  this.timeout(60_000);
  const d = tmp();
  const oneLine = (r: { err: string }) => {
    assert.equal(r.err.trim().split("\n").length, 1, r.err);
    assert.doesNotMatch(r.err, /\n\s+at /);
  };

  for (const [args, re] of [
    [["fuzz", "--time", "5x"], /--time: expected a duration/],
    [["fuzz", "--time", "1m", "--cases", "3"], /exclusive/],
    [["fuzz", "--properties", "nope"], /--properties: unknown property "nope"/],
    [["fuzz", "--ops", "exp,frobnicate"], /--ops: unknown op "frobnicate"/],
    [["fuzz", "--shard", "3/2"], /--shard: expected 1 <= i <= n/],
    [["fuzz", "--workers", "0"], /--workers: expected an integer from 1/],
    [["fuzz", "--bogus"], /unknown option '--bogus'/],
    [["fuzz", "--resume", join(d, "nowhere")], /not an xgrad run directory/],
    [["frobnicate"], /unknown command 'frobnicate'/],
    [["check"], /missing required argument 'case'/],
    [["check", join(d, "missing.json")], /cannot read .*missing\.json: no such file/],
  ] as [string[], RegExp][]) {
    it(`xgrad ${args.join(" ")}`, async () => {
      const r = await cli(args);
      assert.equal(r.code, 2, r.err + r.out);
      assert.match(r.err, re);
      oneLine(r);
    });
  }

  const malformed: [string, string, RegExp][] = [
    ["not-json.json", "{ nope", /not-json\.json: \$: not valid JSON/],
    ["format.json", JSON.stringify({ format: "xgrad-case/9", inputs: [], nodes: [], cost: "c" }), /format\.json: format: /],
    ["bad-op.json", writeCase(fakeCase(0, "exp")).replace('"op": "exp"', '"op": "frob"'), /bad-op\.json: nodes\[0\]\.op: /],
    ["bad-dims.json", writeCase(fakeCase(0, "exp")).replace('"dims": null', '"dims": ["q"]'), /bad-dims\.json: nodes\[1\]\.dims\[0\]: "q" is not a dim/],
  ];
  for (const [name, text, re] of malformed) {
    it(`check rejects a malformed case (${name}) naming the JSON path`, async () => {
      writeFileSync(join(d, name), text);
      const r = await cli(["check", join(d, name)]);
      assert.equal(r.code, 2, r.err + r.out);
      assert.match(r.err, re);
      oneLine(r);
    });
  }

  it("the real bin: exit 2 and one line for a malformed case, no stack trace", () => {
    const r = bin(["check", join(d, "bad-op.json")]);
    assert.equal(r.code, 2, r.err);
    oneLine(r);
    assert.match(r.err, /nodes\[0\]\.op/);
  });

  it("--help works for every command (exit 0)", async () => {
    for (const c of ["fuzz", "check", "shrink", "replay", "report", "merge-reports"]) {
      const r = await cli([c, "--help"]);
      assert.equal(r.code, 0, c);
      assert.match(r.out, new RegExp(`Usage: xgrad ${c}`));
    }
    const top = await cli(["--help"]);
    assert.equal(top.code, 0);
    assert.match(top.out, /merge-reports/);
  });
});
