/**
 * The mutation ledger (reports/bench/mutation-ledger.json, committed): the latest complete
 * measurement of each file of the mutate list, so that the score is a measurement assembled
 * shard by shard instead of an estimate carried from session to session.
 *
 *   node --import tsx test/mutation/ledger.ts record reports/mutation/<shard>/mutation.json [--commit SHA]
 *   node --import tsx test/mutation/ledger.ts status [--triage test/mutation/triage.json]
 *
 * Why a ledger: a full `npm run mutate` takes about 6 hours on the 2-core machine, longer than
 * one working session, and Stryker writes its report only at the end. Shard reports live in the
 * git-ignored reports/mutation/ and were lost with machines before. The ledger keeps, per file,
 * the counts and the undetected mutants of one complete measurement of that file (every mutant
 * of its entries in the mutate list), with the commit it ran at and the SHA-256 of the source it
 * mutated. `status` compares each entry with the file as it is now:
 * - `current`: same source, and the measurement covered exactly the file's mutate entries;
 * - `stale`: the file changed since (its mutants are different mutants now);
 * - `missing`: never measured.
 * A group (rewriter, differentiator) whose files are all current has a measured score: the sum
 * of its files' counts. Measurements of different files may come from different commits, so the
 * judge (the property suite) may differ between them; each entry names its commit.
 *
 * `record` refuses a file whose source differs from the working tree's (run it from the clean
 * worktree the shard ran in, or at the same commit) and a file measured over only part of its
 * mutate entries: a partial shard must never replace a complete measurement.
 */
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type Mutant, type Report, TRIAGE_CLASSES, type TriageClass, adjustedScore, matchTriage, parseTriage } from "./summarize.js";

/** Stryker's counts that the ledger keeps (Ignored mutants are outside the measurement). */
export const COUNTED = ["Killed", "Timeout", "Survived", "NoCoverage", "CompileError", "RuntimeError"] as const;
export type Counted = (typeof COUNTED)[number];
export type LedgerCounts = Record<Counted, number>;

/** An undetected mutant, enough to pair it with triage.json against the unchanged source. */
export interface LedgerMutant {
  readonly status: "Survived" | "NoCoverage";
  readonly mutator: string;
  readonly replacement: string;
  /** `line:column-line:column`, 1-based, end exclusive, as Stryker writes locations. */
  readonly at: string;
}

export interface LedgerEntry {
  readonly commit: string;
  readonly date: string;
  /** SHA-256 (hex) of the source the mutants were made from. */
  readonly sha256: string;
  /** The mutate-list entries this measurement covered for the file, as Stryker's config held them. */
  readonly mutate: readonly string[];
  readonly counts: LedgerCounts;
  readonly undetected: readonly LedgerMutant[];
}

export interface Ledger {
  readonly files: Record<string, LedgerEntry>;
}

/** A Stryker JSON report with the config it ran with (mutation-testing-report-schema). */
export interface ReportWithConfig extends Report {
  readonly config?: { readonly mutate?: readonly string[] };
}

export const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

/** The file a mutate-list entry names: `src/x.ts` or `src/x.ts:12-40` (`:12:3-12:40` too). */
export const entryFile = (entry: string): string => entry.replace(/:\d+(:\d+)?-\d+(:\d+)?$/, "");

/** Mutate-list entries grouped by file, in list order. */
export function mutateByFile(mutate: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of mutate) out.set(entryFile(m), [...(out.get(entryFile(m)) ?? []), m]);
  return out;
}

const sameList = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * The ledger entries of one report. A file is taken only when its source is the working tree's
 * (`current`) and its measured entries are exactly the file's entries in `expected` (the default
 * mutate list); anything else is refused with the reason, so a partial or out-of-date shard
 * never replaces a complete measurement.
 */
export function entriesFromReport(
  report: ReportWithConfig,
  expected: ReadonlyMap<string, readonly string[]>,
  current: (file: string) => string | null,
  commit: string,
  date: string,
): { entries: Map<string, LedgerEntry>; refused: Map<string, string> } {
  const measured = mutateByFile(report.config?.mutate ?? []);
  const entries = new Map<string, LedgerEntry>();
  const refused = new Map<string, string>();
  for (const [file, v] of Object.entries(report.files)) {
    const want = expected.get(file);
    const got = measured.get(file) ?? [];
    if (want === undefined) {
      refused.set(file, "not in the default mutate list");
      continue;
    }
    if (current(file) !== v.source) {
      refused.set(file, "the report's source differs from the working tree's: record from the tree the shard ran on");
      continue;
    }
    if (!sameList(got, want)) {
      refused.set(file, `measured over ${got.length === 0 ? "no named entry" : got.join(" ")}, not the whole of ${want.join(" ")}`);
      continue;
    }
    const counts: LedgerCounts = { Killed: 0, Timeout: 0, Survived: 0, NoCoverage: 0, CompileError: 0, RuntimeError: 0 };
    const undetected: LedgerMutant[] = [];
    for (const m of v.mutants) {
      if (!(COUNTED as readonly string[]).includes(m.status)) continue;
      counts[m.status as Counted]++;
      if (m.status === "Survived" || m.status === "NoCoverage") {
        const { start: s, end: e } = m.location;
        undetected.push({ status: m.status, mutator: m.mutatorName, replacement: m.replacement ?? "", at: `${s.line}:${s.column}-${e.line}:${e.column}` });
      }
    }
    const key = (u: LedgerMutant): number[] => parseAt(u.at);
    undetected.sort((a, b) => key(a)[0] - key(b)[0] || key(a)[1] - key(b)[1] || a.mutator.localeCompare(b.mutator) || a.replacement.localeCompare(b.replacement));
    entries.set(file, { commit, date, sha256: sha256(v.source), mutate: got, counts, undetected });
  }
  // Stryker leaves a file with no mutant at all out of `files` (src/rewriting/passes.ts: only
  // imports). Measured whole, it has nothing to count; its hash is the tree's, which `record`
  // is run from.
  for (const [file, got] of measured) {
    const want = expected.get(file);
    const now = current(file);
    if (file in report.files || want === undefined || now === null || !sameList(got, want)) continue;
    entries.set(file, { commit, date, sha256: sha256(now), mutate: got, counts: { Killed: 0, Timeout: 0, Survived: 0, NoCoverage: 0, CompileError: 0, RuntimeError: 0 }, undetected: [] });
  }
  return { entries, refused };
}

export type FileState = "current" | "stale" | "missing";

export interface FileStatus {
  readonly file: string;
  readonly state: FileState;
  readonly entry: LedgerEntry | null;
  /** Why a file is not current, in words. */
  readonly reason: string;
}

/** Each file of the mutate list against its ledger entry, in list order. */
export function ledgerStatus(ledger: Ledger, expected: ReadonlyMap<string, readonly string[]>, current: (file: string) => string | null): FileStatus[] {
  return [...expected].map(([file, want]): FileStatus => {
    const entry = ledger.files[file] ?? null;
    if (entry === null) return { file, state: "missing", entry, reason: "never measured whole" };
    const now = current(file);
    if (now === null) return { file, state: "stale", entry, reason: "the file is gone" };
    if (sha256(now) !== entry.sha256) return { file, state: "stale", entry, reason: `changed since ${entry.commit.slice(0, 7)}` };
    // Same source, so the ranges computed from it are the same; a different list means the
    // config's rules changed (a helper added to PULLBACK_HELPERS, say).
    if (!sameList(entry.mutate, want)) return { file, state: "stale", entry, reason: `the mutate list for it changed since ${entry.commit.slice(0, 7)}` };
    return { file, state: "current", entry, reason: "" };
  });
}

/** `line:column-line:column` as four numbers. */
export function parseAt(at: string): [number, number, number, number] {
  const m = /^(\d+):(\d+)-(\d+):(\d+)$/.exec(at);
  if (m === null) throw new Error(`mutation ledger: bad location ${JSON.stringify(at)} (expected line:column-line:column)`);
  return [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
}

/** The ledger as committed: one line per undetected mutant, so a re-measurement diffs by mutant. */
export function formatLedger(ledger: Ledger): string {
  const files = Object.entries(ledger.files).map(([f, e]) => {
    const { undetected, ...rest } = e;
    const head = JSON.stringify(rest, null, 1).replace(/\n/g, "\n  ").slice(0, -1).trimEnd();
    const list = undetected.length === 0 ? "[]" : `[\n${undetected.map((u) => `    ${JSON.stringify(u)}`).join(",\n")}\n   ]`;
    return `  ${JSON.stringify(f)}: ${head},\n   "undetected": ${list}\n  }`;
  });
  return `{\n "files": {\n${files.join(",\n")}\n }\n}\n`;
}

/** The report the ledger entry stands for: its undetected mutants on the (unchanged) source. */
export function undetectedReport(file: string, entry: LedgerEntry, source: string): Report {
  const mutants: Mutant[] = entry.undetected.map((u, i) => {
    const [sl, sc, el, ec] = parseAt(u.at);
    return { id: String(i), mutatorName: u.mutator, replacement: u.replacement, status: u.status, location: { start: { line: sl, column: sc }, end: { line: el, column: ec } } };
  });
  return { files: { [file]: { source, mutants } } };
}

export const detected = (c: LedgerCounts): number => c.Killed + c.Timeout;
export const valid = (c: LedgerCounts): number => c.Killed + c.Timeout + c.Survived + c.NoCoverage;

/** The groups the issue's targets name, by file. */
export function groupOf(file: string): "rewriter" | "differentiator" {
  return file.startsWith("src/rewriting/") ? "rewriter" : "differentiator";
}

/** Merge entries into a ledger, files sorted so that the committed JSON diffs cleanly. */
export function withEntries(ledger: Ledger, entries: ReadonlyMap<string, LedgerEntry>): Ledger {
  const files: Record<string, LedgerEntry> = { ...ledger.files };
  for (const [f, e] of entries) files[f] = e;
  return { files: Object.fromEntries(Object.entries(files).sort(([a], [b]) => a.localeCompare(b))) };
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const LEDGER = join(ROOT, "reports", "bench", "mutation-ledger.json");

/** The default mutate list of stryker.config.mjs, whatever XGRAD_MUTATE says. */
async function defaultMutate(): Promise<string[]> {
  const mod = (await import(pathToFileURL(join(ROOT, "stryker.config.mjs")).href)) as { DEFAULT_MUTATE: string[] };
  return mod.DEFAULT_MUTATE;
}

function readLedger(): Ledger {
  if (!existsSync(LEDGER)) return { files: {} };
  const json = JSON.parse(readFileSync(LEDGER, "utf8")) as Ledger;
  if (typeof json !== "object" || json === null || typeof json.files !== "object") throw new Error(`${LEDGER}: expected {"files": {...}}`);
  return json;
}

const readNow = (file: string): string | null => (existsSync(join(ROOT, file)) ? readFileSync(join(ROOT, file), "utf8") : null);
const pct = (d: number, v: number): string => (v === 0 ? "–" : ((100 * d) / v).toFixed(1));

function record(args: readonly string[], expected: Map<string, string[]>): void {
  const ci = args.indexOf("--commit");
  const paths = args.filter((a, i) => !a.startsWith("--") && !(ci >= 0 && i === ci + 1));
  if (paths.length === 0) throw new Error("record: give one or more Stryker JSON reports");
  const commit = ci >= 0 ? args[ci + 1] : execFileSync("git", ["rev-parse", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
  if (!/^[0-9a-f]{7,40}$/.test(commit ?? "")) throw new Error(`record: --commit needs a commit hash, got ${JSON.stringify(commit)}`);
  const date = new Date().toISOString().slice(0, 10);
  let ledger = readLedger();
  for (const p of paths) {
    let report: ReportWithConfig;
    try {
      report = JSON.parse(readFileSync(p, "utf8")) as ReportWithConfig;
    } catch (e) {
      throw new Error(`record: cannot read the Stryker report ${p}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (typeof report?.files !== "object" || report.files === null) throw new Error(`record: ${p} is not a Stryker JSON report (no "files")`);
    const { entries, refused } = entriesFromReport(report, expected, readNow, commit, date);
    for (const [f, e] of entries) console.log(`recorded ${f}: ${pct(detected(e.counts), valid(e.counts))} % (${detected(e.counts)} of ${valid(e.counts)}) at ${commit.slice(0, 7)}`);
    for (const [f, why] of refused) console.log(`refused ${f}: ${why}`);
    ledger = withEntries(ledger, entries);
  }
  writeFileSync(LEDGER, formatLedger(ledger));
}

function status(args: readonly string[], expected: Map<string, string[]>): void {
  const ti = args.indexOf("--triage");
  const triagePath = ti >= 0 ? args[ti + 1] : undefined;
  if (ti >= 0 && (triagePath === undefined || triagePath.startsWith("--"))) throw new Error("status: --triage needs a path (test/mutation/triage.json)");
  const triage = triagePath === undefined ? null : parseTriage(JSON.parse(readFileSync(triagePath, "utf8")));
  const rows = ledgerStatus(readLedger(), expected, readNow);
  const head = triage === null ? "" : ` adjusted % | ${TRIAGE_CLASSES.join(" | ")} | unclassified |`;
  console.log(`| file | state | measured | score % | detected (timeouts) | valid | compile / runtime errors |${head}`);
  console.log(`|---|---|---|---|---|---|---|${triage === null ? "" : `---|${TRIAGE_CLASSES.map(() => "---|").join("")}---|`}`);
  const sums = new Map<string, { det: number; val: number; files: number; current: number; equivalent: number }>();
  let unused = triage ?? [];
  for (const r of rows) {
    const g = groupOf(r.file);
    const s = sums.get(g) ?? { det: 0, val: 0, files: 0, current: 0, equivalent: 0 };
    sums.set(g, s);
    s.files++;
    const e = r.entry;
    if (e === null) {
      console.log(`| ${r.file} | missing | – | – | – | – | – |${triage === null ? "" : ` – |${TRIAGE_CLASSES.map(() => " – |").join("")} – |`}`);
      continue;
    }
    const state = r.state === "current" ? "current" : `**${r.state}** (${r.reason})`;
    let extra = "";
    if (triage !== null) {
      const classes: Record<TriageClass, number> = { gap: 0, defensive: 0, reporting: 0, equivalent: 0 };
      let unclassified = 0;
      if (r.state === "current") {
        const m = matchTriage(undetectedReport(r.file, e, readNow(r.file) as string), unused);
        unused = m.unused;
        for (const u of m.undetected) {
          if (u.entry === null) unclassified++;
          else classes[u.entry.class]++;
        }
        s.equivalent += classes.equivalent;
      }
      const adj = adjustedScore(e.counts, classes.equivalent).adjusted;
      extra = r.state === "current" ? ` ${Number.isNaN(adj) ? "–" : adj.toFixed(1)} | ${TRIAGE_CLASSES.map((k) => classes[k]).join(" | ")} | ${unclassified} |` : ` – |${TRIAGE_CLASSES.map(() => " – |").join("")} – |`;
    }
    console.log(`| ${r.file} | ${state} | ${e.commit.slice(0, 7)} ${e.date} | ${pct(detected(e.counts), valid(e.counts))} | ${detected(e.counts)} (${e.counts.Timeout}) | ${valid(e.counts)} | ${e.counts.CompileError} / ${e.counts.RuntimeError} |${extra}`);
    if (r.state === "current") {
      s.det += detected(e.counts);
      s.val += valid(e.counts);
      s.current++;
    }
  }
  console.log("");
  for (const [g, s] of sums) {
    const eq = triage === null ? "" : `, ${pct(s.det, s.val - s.equivalent)} % without the ${s.equivalent} triaged equivalent`;
    const what = s.current === s.files ? `**measured: ${pct(s.det, s.val)} %** (${s.det} of ${s.val})${eq}` : `${s.current} of ${s.files} files measured as they are now: ${pct(s.det, s.val)} % over those (${s.det} of ${s.val})${eq}; the rest is not measured`;
    console.log(`- ${g}: ${what}`);
  }
}

async function main(args: readonly string[]): Promise<void> {
  const expected = mutateByFile(await defaultMutate());
  if (args[0] === "record") record(args.slice(1), expected);
  else if (args[0] === "status") status(args.slice(1), expected);
  else throw new Error("usage: ledger.ts record <mutation.json>... [--commit SHA] | status [--triage test/mutation/triage.json]");
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    console.error(`ledger: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 2;
  });
}
