/**
 * Summarise Stryker JSON reports (mutation-testing-report-schema) for reports/bench/mutation.md:
 * the score per file and per directory, and every surviving or uncovered mutant on one line
 * with its source line, tagged with a first-pass class (message text, defensive throw) that a
 * human then confirms or corrects.
 *
 *   node --import tsx test/mutation/summarize.ts reports/mutation/**\/mutation.json [--mutants]
 *       [--triage test/mutation/triage.json [--prune-stale]] [--latest]
 *
 * Score as Stryker computes it: (killed + timeout) / (killed + timeout + survived + no coverage);
 * compile errors (the TypeScript checker) are not valid mutants and are left out.
 *
 * `--triage` applies a reviewed per-mutant classification (test/mutation/triage.json) and adds a
 * second table: the raw score, the score with `equivalent` mutants left out of the denominator
 * (they cannot be killed by any test), the count per class and the undetected mutants nobody has
 * classified yet. Entries are matched by content, not by line number, because the reports were
 * produced at older commits and lines shift: (file, trimmed source line text taken from the
 * report's own `source`, mutatorName, replacement), plus the optional `original` (the start of
 * the mutated span) that tells apart mutants of one line with the same replacement, e.g. the
 * three `=> true` mutants of `a && b && c`.
 *
 * `--latest` reads the reports as a series of shards, oldest first (`ls -tr`), and counts each
 * line of each file once, from the latest report that mutated it, moved onto the source as it
 * is now (`latestReport`): the file-by-file figure of a project measured shard by shard, at
 * different commits. A line whose text changed since its report is dropped, and said so.
 *
 * `--prune-stale` rewrites the triage file without the entries of the reports' files that match
 * no undetected mutant: mutants a new check now kills, or lines that changed. Run it with the
 * reports of a fresh measurement only, or entries of a newer source are lost.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

export interface Mutant {
  id: string;
  mutatorName: string;
  replacement?: string;
  status: string;
  location: { start: { line: number; column: number }; end: { line: number; column: number } };
}
export interface Report {
  files: Record<string, { source: string; mutants: Mutant[] }>;
}
type Counts = Record<"Killed" | "Timeout" | "Survived" | "NoCoverage" | "CompileError" | "RuntimeError" | "Ignored", number>;

/** The triage classes, in the order they are printed. */
export const TRIAGE_CLASSES = ["gap", "defensive", "reporting", "equivalent"] as const;
export type TriageClass = (typeof TRIAGE_CLASSES)[number];

/** One reviewed undetected mutant (test/mutation/triage.json holds an array of these). */
export interface TriageEntry {
  file: string;
  /** The trimmed text of the source line the mutant starts on, as in the report's `source`. */
  line: string;
  /** Optional: the start of the mutated span (whitespace collapsed), to tell apart same-line mutants. */
  original?: string;
  mutator: string;
  replacement: string;
  class: TriageClass;
  reason: string;
}

/** An undetected (survived or no-coverage) mutant with its source text and its triage entry, if any. */
export interface Undetected {
  file: string;
  mutant: Mutant;
  line: string;
  span: string;
  entry: TriageEntry | null;
}

const zero = (): Counts => ({ Killed: 0, Timeout: 0, Survived: 0, NoCoverage: 0, CompileError: 0, RuntimeError: 0, Ignored: 0 });
const score = (c: Counts): number => {
  const detected = c.Killed + c.Timeout;
  const valid = detected + c.Survived + c.NoCoverage;
  return valid === 0 ? NaN : (100 * detected) / valid;
};

/**
 * The raw Stryker score and the score without the equivalent mutants: an equivalent mutant
 * cannot be killed by any test, so it belongs in neither the numerator nor the denominator.
 */
export function adjustedScore(c: Pick<Counts, "Killed" | "Timeout" | "Survived" | "NoCoverage">, equivalent: number): { raw: number; adjusted: number } {
  const detected = c.Killed + c.Timeout;
  const valid = detected + c.Survived + c.NoCoverage;
  return { raw: valid === 0 ? NaN : (100 * detected) / valid, adjusted: valid - equivalent <= 0 ? NaN : (100 * detected) / (valid - equivalent) };
}

/** Whitespace-collapsed text, so that a span that runs over several lines compares as one line. */
const norm = (s: string): string => s.replace(/\s+/g, " ").trim();

/** The source text a mutant replaces (1-based lines and columns, end exclusive, as Stryker writes them). */
export function mutatedSpan(src: readonly string[], m: Mutant): string {
  const { start: s, end: e } = m.location;
  if (s.line === e.line) return src[s.line - 1].slice(s.column - 1, e.column - 1);
  return [src[s.line - 1].slice(s.column - 1), ...src.slice(s.line, e.line - 1), src[e.line - 1].slice(0, e.column - 1)].join("\n");
}

/** Check the shape of a parsed triage file; a malformed entry would otherwise just never match. */
export function parseTriage(json: unknown): TriageEntry[] {
  if (!Array.isArray(json)) throw new Error("triage: expected a JSON array of entries");
  return json.map((e: unknown, i): TriageEntry => {
    const o = e as Record<string, unknown>;
    for (const k of ["file", "line", "mutator", "replacement", "class", "reason"]) {
      if (typeof o?.[k] !== "string") throw new Error(`triage: entry ${i} has no string field "${k}"`);
    }
    if (!(TRIAGE_CLASSES as readonly string[]).includes(o.class as string)) throw new Error(`triage: entry ${i} has unknown class ${JSON.stringify(o.class)}`);
    if (o.original !== undefined && typeof o.original !== "string") throw new Error(`triage: entry ${i}: "original" must be a string`);
    return o as unknown as TriageEntry;
  });
}

/**
 * The undetected mutants of a report, each paired with at most one triage entry, and each entry
 * used at most once (identical mutants need one entry each). Mutants are visited in source
 * order and the entry with the longest matching `original` is preferred (one without comes
 * last), so a loose entry never takes the place of a precise one.
 */
export function matchTriage(report: Report, entries: readonly TriageEntry[]): { undetected: Undetected[]; unused: TriageEntry[] } {
  const used = new Set<TriageEntry>();
  const undetected: Undetected[] = [];
  for (const [file, v] of Object.entries(report.files)) {
    const src = v.source.split("\n");
    const ms = v.mutants
      .filter((m) => m.status === "Survived" || m.status === "NoCoverage")
      .sort((a, b) => a.location.start.line - b.location.start.line || a.location.start.column - b.location.start.column);
    for (const m of ms) {
      const line = src[m.location.start.line - 1].trim();
      const span = norm(mutatedSpan(src, m));
      const cands = entries.filter(
        (e) => !used.has(e) && e.file === file && e.line === line && e.mutator === m.mutatorName && e.replacement === (m.replacement ?? "") && (e.original === undefined || span.startsWith(e.original)),
      );
      // The longest matching `original` is the most precise: "a && b" must not take the entry
      // written for "a" just because "a && b".startsWith("a").
      const entry = cands.reduce<TriageEntry | null>((best, e) => ((e.original?.length ?? -1) > (best?.original?.length ?? -1) ? e : best), cands[0] ?? null);
      if (entry !== null) used.add(entry);
      undetected.push({ file, mutant: m, line, span, entry });
    }
  }
  return { undetected, unused: entries.filter((e) => !used.has(e)) };
}

/** Per-file triage totals: the Stryker counts plus the undetected mutants per class. */
export interface TriageCounts {
  counts: Pick<Counts, "Killed" | "Timeout" | "Survived" | "NoCoverage">;
  classes: Record<TriageClass, number>;
  unclassified: number;
}

/** Stryker counts and class counts per file of a report, from `matchTriage`'s pairing. */
export function triageCounts(report: Report, undetected: readonly Undetected[]): Map<string, TriageCounts> {
  const out = new Map<string, TriageCounts>();
  for (const [file, v] of Object.entries(report.files)) {
    const t: TriageCounts = { counts: { Killed: 0, Timeout: 0, Survived: 0, NoCoverage: 0 }, classes: { gap: 0, defensive: 0, reporting: 0, equivalent: 0 }, unclassified: 0 };
    for (const m of v.mutants) if (m.status in t.counts) t.counts[m.status as keyof TriageCounts["counts"]]++;
    out.set(file, t);
  }
  for (const u of undetected) {
    const t = out.get(u.file) as TriageCounts;
    if (u.entry === null) t.unclassified++;
    else t.classes[u.entry.class]++;
  }
  return out;
}

/**
 * Where each line of `current` was in `old`: a longest common subsequence of the trimmed lines,
 * so a line keeps its mutants through insertions and deletions elsewhere in the file, and a line
 * whose text changed loses them (they were measured on other code). 1-based; absent when the
 * old line is gone.
 */
export function lineMap(old: readonly string[], current: readonly string[]): Map<number, number> {
  const a = old.map((l) => l.trim());
  const b = current.map((l) => l.trim());
  const n = a.length;
  const m = b.length;
  // lcs[i * (m + 1) + j]: the LCS length of a[i..] and b[j..].
  const lcs = new Int32Array((n + 1) * (m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * (m + 1) + j] = a[i] === b[j] ? lcs[(i + 1) * (m + 1) + j + 1] + 1 : Math.max(lcs[(i + 1) * (m + 1) + j], lcs[i * (m + 1) + j + 1]);
    }
  }
  const out = new Map<number, number>();
  for (let i = 0, j = 0; i < n && j < m; ) {
    if (a[i] === b[j]) out.set(++i, ++j);
    else if (lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1]) i++;
    else j++;
  }
  return out;
}

/** One report of a series, named for the provenance table (its file name, usually). */
export interface LabelledReport {
  readonly label: string;
  readonly report: Report;
}

/**
 * The latest measurement of every line: shards of one file run at different commits and over
 * different line ranges, so the reports are merged line by line, later reports first. Each
 * report's mutants are moved onto `current(file)` (the source as it is now) by `lineMap`; a line
 * takes all its mutants from the latest report that mutated it. Mutants whose line no longer
 * exists are dropped and counted. `provenance` says, per file, how many mutants each report gave.
 */
export function latestReport(series: readonly LabelledReport[], current: (file: string) => string | null): { report: Report; provenance: Map<string, Map<string, number>>; dropped: Map<string, number> } {
  const byFile = new Map<string, Map<number, { label: string; mutants: Mutant[] }>>();
  const dropped = new Map<string, number>();
  for (const { label, report } of series) {
    for (const [file, v] of Object.entries(report.files)) {
      const now = current(file);
      if (now === null) {
        dropped.set(file, (dropped.get(file) ?? 0) + v.mutants.length);
        continue;
      }
      const oldLines = v.source.split("\n");
      const nowLines = now.split("\n");
      const map = v.source === now ? null : lineMap(oldLines, nowLines);
      const lines = byFile.get(file) ?? new Map<number, { label: string; mutants: Mutant[] }>();
      byFile.set(file, lines);
      const fresh = new Map<number, Mutant[]>();
      for (const m of v.mutants) {
        const s = m.location.start;
        const e = m.location.end;
        const at = map === null ? s.line : map.get(s.line);
        const endAt = map === null ? e.line : map.get(e.line) ?? at;
        if (at === undefined || endAt === undefined) {
          dropped.set(file, (dropped.get(file) ?? 0) + 1);
          continue;
        }
        // The indentation may differ where the text is the same: shift the columns with it.
        const indent = (l: string | undefined): number => (l === undefined ? 0 : l.length - l.trimStart().length);
        const ds = indent(nowLines[at - 1]) - indent(oldLines[s.line - 1]);
        const de = indent(nowLines[endAt - 1]) - indent(oldLines[e.line - 1]);
        const moved: Mutant = { ...m, location: { start: { line: at, column: s.column + ds }, end: { line: endAt, column: e.column + de } } };
        fresh.set(at, [...(fresh.get(at) ?? []), moved]);
      }
      for (const [line, mutants] of fresh) lines.set(line, { label, mutants });
    }
  }
  const report: Report = { files: {} };
  const provenance = new Map<string, Map<string, number>>();
  for (const [file, lines] of byFile) {
    const from = new Map<string, number>();
    const mutants: Mutant[] = [];
    for (const line of [...lines.keys()].sort((x, y) => x - y)) {
      const l = lines.get(line) as { label: string; mutants: Mutant[] };
      mutants.push(...l.mutants);
      from.set(l.label, (from.get(l.label) ?? 0) + l.mutants.length);
    }
    report.files[file] = { source: current(file) as string, mutants };
    provenance.set(file, from);
  }
  return { report, provenance, dropped };
}

/** A first-pass tag from the mutated line alone. */
function tag(line: string, m: Mutant): string {
  if (/throw new |new (GradError|OpInputError|InvariantError|UndefinedGrad|InconsistencyError)\(/.test(line) && m.mutatorName === "StringLiteral") return "message";
  if (/throw new /.test(line)) return "defensive";
  return "";
}

function main(args: readonly string[]): void {
  const showMutants = args.includes("--mutants");
  const ti = args.indexOf("--triage");
  const triagePath = ti >= 0 ? args[ti + 1] : undefined;
  if (ti >= 0 && (triagePath === undefined || triagePath.startsWith("--"))) throw new Error("--triage needs a path (test/mutation/triage.json)");
  const entries = triagePath === undefined ? null : parseTriage(JSON.parse(readFileSync(triagePath, "utf8")));
  const paths = args.filter((a, i) => !a.startsWith("--") && !(ti >= 0 && i === ti + 1));
  // --latest: the reports are a series, oldest first; each line counts once, from its latest report.
  let reports: Report[] = paths.map((p) => JSON.parse(readFileSync(p, "utf8")) as Report);
  if (args.includes("--latest")) {
    const readNow = (f: string): string | null => (existsSync(f) ? readFileSync(f, "utf8") : null);
    const { report, provenance, dropped } = latestReport(reports.map((r, i) => ({ label: paths[i], report: r })), readNow);
    reports = [report];
    console.log("Each line from its latest report (oldest first on the command line):\n");
    for (const [f, from] of [...provenance].sort(([a], [b]) => a.localeCompare(b))) {
      const gone = dropped.get(f) ?? 0;
      console.log(`- ${f}: ${[...from].map(([l, n]) => `${n} from ${l}`).join(", ")}${gone > 0 ? `; ${gone} dropped (their line changed since)` : ""}`);
    }
    console.log("");
  }

  const files = new Map<string, Counts>();
  const lines: string[] = [];
  const triaged = new Map<string, TriageCounts>();
  const gapLines: string[] = [];
  const otherLines: string[] = [];
  let unusedEntries: TriageEntry[] = entries ?? [];
  for (const r of reports) {
    for (const [f, v] of Object.entries(r.files)) {
      const c = files.get(f) ?? zero();
      files.set(f, c);
      const src = v.source.split("\n");
      for (const m of v.mutants) {
        c[m.status as keyof Counts] = (c[m.status as keyof Counts] ?? 0) + 1;
        if (m.status !== "Survived" && m.status !== "NoCoverage") continue;
        const l = m.location.start.line;
        const text = src[l - 1].trim();
        lines.push(`${m.status === "Survived" ? "S" : "N"} ${f}:${l}:${m.location.start.column} ${m.mutatorName} [${tag(text, m)}] ${text.slice(0, 100)} => ${(m.replacement ?? "").replace(/\s+/g, " ").slice(0, 70)}`);
      }
    }
    if (entries === null) continue;
    // Each report is matched against the entries the earlier reports left, so one entry never
    // counts for two reports that share a file.
    const { undetected, unused } = matchTriage(r, unusedEntries);
    unusedEntries = unused;
    for (const [f, t] of triageCounts(r, undetected)) {
      const acc = triaged.get(f);
      if (acc === undefined) triaged.set(f, t);
      else {
        for (const k of Object.keys(t.counts) as (keyof TriageCounts["counts"])[]) acc.counts[k] += t.counts[k];
        for (const k of TRIAGE_CLASSES) acc.classes[k] += t.classes[k];
        acc.unclassified += t.unclassified;
      }
    }
    for (const u of undetected) {
      const m = u.mutant;
      const head = `${m.status === "Survived" ? "S" : "N"} ${u.file}:${m.location.start.line}:${m.location.start.column} ${m.mutatorName} ${u.line.slice(0, 100)} => ${(m.replacement ?? "").replace(/\s+/g, " ").slice(0, 70)}`;
      const cls = u.entry === null ? "UNCLASSIFIED" : u.entry.class;
      const line = `[${cls}] ${head}${u.entry === null ? "" : `\n      ${u.entry.reason}`}`;
      (u.entry?.class === "gap" ? gapLines : otherLines).push(line);
    }
  }

  const dirs = new Map<string, Counts>();
  for (const [f, c] of files) {
    const d = f.slice(0, f.lastIndexOf("/"));
    const dc = dirs.get(d) ?? zero();
    for (const k of Object.keys(c) as (keyof Counts)[]) dc[k] += c[k];
    dirs.set(d, dc);
  }
  const total = zero();
  for (const c of dirs.values()) for (const k of Object.keys(c) as (keyof Counts)[]) total[k] += c[k];

  const row = (name: string, c: Counts): string =>
    `| ${name} | ${score(c).toFixed(1)} | ${c.Killed} | ${c.Timeout} | ${c.Survived} | ${c.NoCoverage} | ${c.CompileError} |`;
  console.log("| file | score % | killed | timeout | survived | no coverage | compile errors |");
  console.log("|---|---|---|---|---|---|---|");
  for (const [d, dc] of [...dirs].sort()) {
    console.log(row(`**${d}/**`, dc));
    for (const [f, c] of [...files].filter(([f]) => f.startsWith(`${d}/`) && !f.slice(d.length + 1).includes("/")).sort()) console.log(row(f, c));
  }
  console.log(row("**all**", total));

  if (entries !== null) {
    const sum: TriageCounts = { counts: { Killed: 0, Timeout: 0, Survived: 0, NoCoverage: 0 }, classes: { gap: 0, defensive: 0, reporting: 0, equivalent: 0 }, unclassified: 0 };
    const trow = (name: string, t: TriageCounts): string => {
      const s = adjustedScore(t.counts, t.classes.equivalent);
      return `| ${name} | ${s.raw.toFixed(1)} | ${s.adjusted.toFixed(1)} | ${TRIAGE_CLASSES.map((k) => t.classes[k]).join(" | ")} | ${t.unclassified} |`;
    };
    console.log(`\nTriage (${triagePath}): adjusted score = (killed + timeout) / (valid − equivalent)\n`);
    console.log(`| file | raw % | adjusted % | ${TRIAGE_CLASSES.join(" | ")} | unclassified |`);
    console.log(`|---|---|---|${TRIAGE_CLASSES.map(() => "---|").join("")}---|`);
    for (const [f, t] of [...triaged].sort(([a], [b]) => a.localeCompare(b))) {
      console.log(trow(f, t));
      for (const k of Object.keys(t.counts) as (keyof TriageCounts["counts"])[]) sum.counts[k] += t.counts[k];
      for (const k of TRIAGE_CLASSES) sum.classes[k] += t.classes[k];
      sum.unclassified += t.unclassified;
    }
    console.log(trow("**all**", sum));
    // A stale entry (its mutant no longer in any report given) is worth knowing about: the
    // source changed, or the entry has a typo and some mutant is silently unclassified.
    // Entries for files the given reports do not cover are expected (one triage file serves
    // several shards), so only entries of covered files count as stale.
    const stale = unusedEntries.filter((e) => files.has(e.file));
    if (stale.length > 0) console.log(`\n${stale.length} triage entries for these files matched no undetected mutant (stale or mistyped)`);
    if (args.includes("--prune-stale") && stale.length > 0) {
      const drop = new Set(stale);
      const raw = JSON.parse(readFileSync(triagePath as string, "utf8")) as unknown[];
      // parseTriage keeps the file's order, one entry per element, so indices correspond.
      const kept = raw.filter((_, i) => !drop.has((entries as TriageEntry[])[i]));
      writeFileSync(triagePath as string, `${JSON.stringify(kept, null, 1)}\n`);
      console.log(`pruned ${raw.length - kept.length} stale entries from ${triagePath}`);
    }
  }
  if (showMutants) {
    if (entries === null) console.log(`\n${lines.sort().join("\n")}`);
    else console.log(`\n${[...gapLines.sort(), ...otherLines.sort()].join("\n")}`);
  }
}

// Run only as a script, so that the test can import the matching without printing anything.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv.slice(2));
