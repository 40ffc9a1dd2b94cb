// The triage matching and the adjusted score of test/mutation/summarize.ts, on a tiny
// hand-written report (the real reports are large, git-ignored and change with every run).
import assert from "node:assert/strict";
import { type Report, type TriageEntry, adjustedScore, latestReport, lineMap, matchTriage, parseTriage, triageCounts } from "./summarize.js";

const at = (line: number, column: number, endColumn: number) => ({ start: { line, column }, end: { line, column: endColumn } });

// Line 2 has three `=> true` mutants of `a && b && c` (only the span tells them apart); line 3 is
// one no-coverage mutant; one mutant is killed. The report's source is the mutated (old) source,
// so an entry is keyed by its line text, not its number.
const SRC = ["function f(a: boolean, b: boolean, c: boolean): number {", "  if (a && b && c) return 1;", "  return 0;", "}"].join("\n");
const report: Report = {
  files: {
    "src/x.ts": {
      source: SRC,
      mutants: [
        { id: "1", mutatorName: "ConditionalExpression", replacement: "true", status: "Survived", location: at(2, 7, 18) },
        { id: "2", mutatorName: "ConditionalExpression", replacement: "true", status: "Survived", location: at(2, 7, 13) },
        { id: "3", mutatorName: "ConditionalExpression", replacement: "true", status: "Survived", location: at(2, 7, 8) },
        { id: "4", mutatorName: "BooleanLiteral", replacement: "1", status: "NoCoverage", location: at(3, 10, 11) },
        { id: "5", mutatorName: "ConditionalExpression", replacement: "false", status: "Killed", location: at(2, 7, 18) },
      ],
    },
  },
};
const entry = (o: Partial<TriageEntry>): TriageEntry => ({
  file: "src/x.ts",
  line: "if (a && b && c) return 1;",
  mutator: "ConditionalExpression",
  replacement: "true",
  class: "gap",
  reason: "r",
  ...o,
});

describe("mutation summarize --triage", () => {
  it("pairs each undetected mutant with one entry, using `original` to tell same-line mutants apart", () => {
    const entries = [
      entry({ original: "a", class: "equivalent" }),
      entry({ original: "a && b && c", class: "gap" }),
      entry({ original: "a && b", class: "defensive" }),
    ];
    const { undetected, unused } = matchTriage(report, entries);
    assert.equal(undetected.length, 4, "survived and no-coverage mutants are listed, killed ones are not");
    const byId = new Map(undetected.map((u) => [u.mutant.id, u.entry?.class ?? null]));
    // "a && b && c".startsWith("a") holds too: the first mutant in source order must not steal
    // the loose entry from its own precise one, and each entry is used once.
    assert.equal(byId.get("1"), "gap", "the whole condition matched its own entry");
    assert.equal(byId.get("2"), "defensive", "`a && b` matched its own entry");
    assert.equal(byId.get("3"), "equivalent", "`a` matched its own entry");
    assert.equal(byId.get("4"), null, "the no-coverage mutant has no entry");
    assert.equal(unused.length, 0, "every entry was used");
  });

  it("uses an entry once, matches by line text, and reports stale entries", () => {
    const entries = [entry({}), entry({}), entry({ line: "if (a || b) return 1;" })];
    const { undetected, unused } = matchTriage(report, entries);
    const classified = undetected.filter((u) => u.entry !== null).map((u) => u.mutant.id);
    // Same-position mutants keep the report's order (a stable sort), so the first two take them.
    assert.deepEqual(classified, ["1", "2"], "two identical entries classify two of the three identical mutants, not all three");
    assert.deepEqual(unused.map((e) => e.line), ["if (a || b) return 1;"], "the entry for a line that is not in the source is stale");
  });

  it("counts classes per file and leaves equivalent mutants out of the adjusted denominator", () => {
    const entries = [entry({ original: "a && b && c", class: "equivalent" }), entry({ original: "a", class: "equivalent" }), entry({ original: "a && b", class: "gap" })];
    const { undetected } = matchTriage(report, entries);
    const t = triageCounts(report, undetected).get("src/x.ts");
    assert.notEqual(t, undefined, "the file has counts");
    assert.deepEqual(t?.counts, { Killed: 1, Timeout: 0, Survived: 3, NoCoverage: 1 }, "Stryker's counts");
    assert.deepEqual(t?.classes, { gap: 1, defensive: 0, reporting: 0, equivalent: 2 }, "class counts");
    assert.equal(t?.unclassified, 1, "the no-coverage mutant is unclassified");
    const s = adjustedScore(t?.counts ?? { Killed: 0, Timeout: 0, Survived: 0, NoCoverage: 0 }, 2);
    assert.equal(s.raw, 20, "raw = 1 detected / 5 valid");
    assert.ok(Math.abs(s.adjusted - 100 / 3) < 1e-12, `adjusted = 1 / (5 - 2), got ${s.adjusted}`);
  });

  it("rejects a malformed triage file instead of silently matching nothing", () => {
    assert.throws(() => parseTriage([{ ...entry({}), class: "maybe" }]), /unknown class/, "an unknown class is an error");
    assert.throws(() => parseTriage([{ file: "src/x.ts" }]), /no string field/, "a missing field is an error");
    assert.equal(parseTriage([entry({})]).length, 1, "a well-formed entry parses");
  });
});

describe("mutation summarize --latest", () => {
  // The current source gained a line at the top and re-indented `return 0;`; the old `if` line changed text.
  const NOW = ["// added", "function f(a: boolean, b: boolean, c: boolean): number {", "  if (a || b) return 1;", "    return 0;", "}"].join("\n");
  const older: Report = {
    files: {
      "src/x.ts": {
        source: SRC,
        mutants: [
          { id: "o1", mutatorName: "ConditionalExpression", replacement: "true", status: "Survived", location: at(2, 7, 18) },
          { id: "o2", mutatorName: "BooleanLiteral", replacement: "1", status: "Survived", location: at(3, 10, 11) },
          { id: "o3", mutatorName: "BlockStatement", replacement: "{}", status: "Killed", location: at(1, 57, 58) },
        ],
      },
    },
  };
  // A later shard of the current source over the `function` line only.
  const later: Report = { files: { "src/x.ts": { source: NOW, mutants: [{ id: "n1", mutatorName: "BlockStatement", replacement: "{}", status: "Survived", location: at(2, 57, 58) }] } } };

  it("maps old lines onto the current source by their text", () => {
    const map = lineMap(SRC.split("\n"), NOW.split("\n"));
    assert.deepEqual([...map], [[1, 2], [3, 4], [4, 5]], "the function line moved down one, the if line is gone, return 0 and the brace moved");
  });

  it("takes each line from its latest report, moves columns with the indentation and drops changed lines", () => {
    const { report, provenance, dropped } = latestReport([{ label: "old", report: older }, { label: "new", report: later }], (f) => (f === "src/x.ts" ? NOW : null));
    const ms = report.files["src/x.ts"].mutants;
    assert.deepEqual(ms.map((m) => m.id), ["n1", "o2"], "the function line from the later report, return 0 from the older one");
    assert.deepEqual(ms[1].location, at(4, 12, 13), "return 0's mutant moved to line 4 and two columns right");
    assert.equal(dropped.get("src/x.ts"), 1, "the if line's mutant was measured on code that no longer exists");
    assert.deepEqual([...(provenance.get("src/x.ts") ?? [])], [["new", 1], ["old", 1]], "one mutant from each report");
    assert.equal(report.files["src/x.ts"].source, NOW, "matched against the current source");
  });
});
