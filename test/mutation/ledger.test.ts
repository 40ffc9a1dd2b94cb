// The mutation ledger of test/mutation/ledger.ts on tiny hand-written reports: what it records,
// what it refuses (a partial shard, a report of another source), and how status judges it.
import assert from "node:assert/strict";
import { type LedgerEntry, type ReportWithConfig, entriesFromReport, entryFile, formatLedger, ledgerStatus, mutateByFile, parseAt, sha256, undetectedReport, withEntries } from "./ledger.js";
import { matchTriage } from "./summarize.js";

const at = (line: number, column: number, endColumn: number) => ({ start: { line, column }, end: { line, column: endColumn } });
const SRC_A = ["export function f(a: boolean): number {", "  if (a) return 1;", "  return 0;", "}"].join("\n");
const SRC_B = ["export const g = (x: number): number => x + 1;"].join("\n");

const expected = mutateByFile(["src/rewriting/a.ts", "src/tensor/b.ts:1-1", "src/tensor/b.ts:3-4"]);
const tree = new Map([
  ["src/rewriting/a.ts", SRC_A],
  ["src/tensor/b.ts", SRC_B],
]);
const current = (f: string): string | null => tree.get(f) ?? null;

const report = (mutate: string[], sourceA = SRC_A): ReportWithConfig => ({
  config: { mutate },
  files: {
    "src/rewriting/a.ts": {
      source: sourceA,
      mutants: [
        { id: "1", mutatorName: "ConditionalExpression", replacement: "true", status: "Survived", location: at(2, 7, 8) },
        { id: "2", mutatorName: "ConditionalExpression", replacement: "false", status: "Killed", location: at(2, 7, 8) },
        { id: "3", mutatorName: "ArithmeticOperator", replacement: "x", status: "CompileError", location: at(3, 10, 11) },
        { id: "4", mutatorName: "BlockStatement", replacement: "{}", status: "Timeout", location: at(1, 40, 1) },
        { id: "5", mutatorName: "BooleanLiteral", replacement: "1", status: "NoCoverage", location: at(3, 10, 11) },
        { id: "6", mutatorName: "BooleanLiteral", replacement: "2", status: "Ignored", location: at(3, 10, 11) },
      ],
    },
    "src/tensor/b.ts": { source: SRC_B, mutants: [{ id: "7", mutatorName: "ArithmeticOperator", replacement: "x - 1", status: "Killed", location: at(1, 41, 46) }] },
  },
});

describe("mutation ledger", () => {
  it("names the file of a mutate-list entry, with or without a line or column range", () => {
    assert.equal(entryFile("src/x.ts"), "src/x.ts");
    assert.equal(entryFile("src/x.ts:12-40"), "src/x.ts");
    assert.equal(entryFile("src/x.ts:12:3-12:40"), "src/x.ts");
    assert.deepEqual(expected.get("src/tensor/b.ts"), ["src/tensor/b.ts:1-1", "src/tensor/b.ts:3-4"], "a file's ranges stay together, in order");
  });

  it("records a whole measurement: the counts, the undetected mutants, the source's hash", () => {
    const { entries, refused } = entriesFromReport(report(["src/rewriting/a.ts", "src/tensor/b.ts:1-1", "src/tensor/b.ts:3-4"]), expected, current, "abc1234", "2026-11-29");
    assert.equal(refused.size, 0, `nothing refused: ${[...refused.values()].join("; ")}`);
    const a = entries.get("src/rewriting/a.ts") as LedgerEntry;
    assert.deepEqual(a.counts, { Killed: 1, Timeout: 1, Survived: 1, NoCoverage: 1, CompileError: 1, RuntimeError: 0 }, "Ignored mutants are outside the measurement");
    assert.equal(a.sha256, sha256(SRC_A));
    assert.deepEqual(
      a.undetected.map((u) => [u.status, u.at]),
      [
        ["Survived", "2:7-2:8"],
        ["NoCoverage", "3:10-3:11"],
      ],
      "only undetected mutants are kept, in source order",
    );
    assert.deepEqual(entries.get("src/tensor/b.ts")?.mutate, ["src/tensor/b.ts:1-1", "src/tensor/b.ts:3-4"]);
  });

  it("records a file the shard named but Stryker left out for having no mutant, with nothing to count", () => {
    const withEmpty = mutateByFile(["src/rewriting/a.ts", "src/rewriting/imports.ts"]);
    const cur = (f: string): string | null => (f === "src/rewriting/imports.ts" ? 'import "./a.js";' : current(f));
    const r = report(["src/rewriting/a.ts", "src/rewriting/imports.ts"]);
    const { entries } = entriesFromReport({ ...r, files: { "src/rewriting/a.ts": r.files["src/rewriting/a.ts"] } }, withEmpty, cur, "abc1234", "2026-11-29");
    const e = entries.get("src/rewriting/imports.ts");
    assert.deepEqual(e?.counts, { Killed: 0, Timeout: 0, Survived: 0, NoCoverage: 0, CompileError: 0, RuntimeError: 0 });
    assert.equal(e?.sha256, sha256('import "./a.js";'), "the tree's source is the one measured");
    assert.equal(ledgerStatus(withEntries({ files: {} }, entries), withEmpty, cur)[1].state, "current");
  });

  it("refuses a partial shard and a report of another source, so neither replaces a whole measurement", () => {
    const partial = entriesFromReport(report(["src/rewriting/a.ts", "src/tensor/b.ts:1-1"]), expected, current, "abc1234", "2026-11-29");
    assert.deepEqual([...partial.entries.keys()], ["src/rewriting/a.ts"], "the file measured whole is taken");
    assert.match(partial.refused.get("src/tensor/b.ts") ?? "", /not the whole of/, "the file measured over one of its two ranges is refused");
    const old = entriesFromReport(report(["src/rewriting/a.ts", "src/tensor/b.ts:1-1", "src/tensor/b.ts:3-4"], SRC_A.replace("1;", "2;")), expected, current, "abc1234", "2026-11-29");
    assert.match(old.refused.get("src/rewriting/a.ts") ?? "", /differs from the working tree/, "a report of another source is refused");
    const ranged = entriesFromReport(report(["src/rewriting/a.ts:2-3", "src/tensor/b.ts:1-1", "src/tensor/b.ts:3-4"]), expected, current, "abc1234", "2026-11-29");
    assert.match(ranged.refused.get("src/rewriting/a.ts") ?? "", /not the whole of src\/rewriting\/a\.ts/, "a line-range shard of a whole-file entry is refused");
  });

  it("judges each file current, stale or missing against the tree as it is now", () => {
    const { entries } = entriesFromReport(report(["src/rewriting/a.ts"]), expected, current, "abc1234", "2026-11-29");
    const ledger = withEntries({ files: {} }, entries);
    const now = ledgerStatus(ledger, expected, current);
    assert.deepEqual(
      now.map((s) => [s.file, s.state]),
      [
        ["src/rewriting/a.ts", "current"],
        ["src/tensor/b.ts", "missing"],
      ],
    );
    const edited = ledgerStatus(ledger, expected, (f) => (f === "src/rewriting/a.ts" ? `${SRC_A}\n// one more line` : current(f)));
    assert.equal(edited[0].state, "stale", "an edited file's measurement is stale");
    assert.match(edited[0].reason, /changed since abc1234/);
    const relisted = ledgerStatus(ledger, mutateByFile(["src/rewriting/a.ts:1-2"]), current);
    assert.equal(relisted[0].state, "stale", "a file whose mutate entries changed is stale, even with the same source");
  });

  it("writes one line per undetected mutant, and reads back what it wrote", () => {
    const { entries } = entriesFromReport(report(["src/rewriting/a.ts"]), expected, current, "abc1234", "2026-11-29");
    const ledger = withEntries({ files: {} }, entries);
    const text = formatLedger(ledger);
    assert.deepEqual(JSON.parse(text), ledger, "the text is the ledger");
    assert.ok(text.includes('\n    {"status":"Survived","mutator":"ConditionalExpression","replacement":"true","at":"2:7-2:8"},\n'), text);
    assert.throws(() => parseAt("2:7"), /bad location "2:7"/);
  });

  it("gives back the undetected mutants on the source, so triage.json pairs with them as with a report", () => {
    const { entries } = entriesFromReport(report(["src/rewriting/a.ts"]), expected, current, "abc1234", "2026-11-29");
    const r = undetectedReport("src/rewriting/a.ts", entries.get("src/rewriting/a.ts") as LedgerEntry, SRC_A);
    const { undetected } = matchTriage(r, [{ file: "src/rewriting/a.ts", line: "if (a) return 1;", mutator: "ConditionalExpression", replacement: "true", class: "equivalent", reason: "r" }]);
    assert.deepEqual(
      undetected.map((u) => [u.span, u.entry?.class ?? null]),
      [
        ["a", "equivalent"],
        ["0", null],
      ],
    );
  });
});
