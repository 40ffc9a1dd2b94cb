/**
 * The regression corpus (`regressions/`): committed minimal cases, one file per signature
 * (`<signatureFileStem>.json`, the case's `name` holding the exact signature), plus
 * `expected-failures.json`, the cases or signatures allowed to fail, each with a reason:
 *
 * ```json
 * {"format": "xgrad-expected-failures/1",
 *  "failures": [{"signature": "direct-vs-tfjs/mismatch/cumprod/-", "reason": "tfjs cumprod grad is float32-only"},
 *               {"file": "second-order__mismatch__pow__-.json", "reason": "issue 12"}]}
 * ```
 *
 * A signature is `known` when it has a corpus file or an expected-failure entry (`isKnown`);
 * the fuzz triage then replays a corpus file that is not an expected failure, and a file that
 * no longer fails with its signature records a fixed bug, so a finding with that signature is
 * reported new (`fixedRegression` in fuzz.ts).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { XgradError } from "../errors.js";
import { readCase } from "../case/parse.js";
import { writeCase } from "../case/write.js";
import { signatureFileStem } from "./triage.js";

export const EXPECTED_FAILURES_FILE = "expected-failures.json";

/** One corpus file. */
export interface CorpusEntry {
  /** File name inside the corpus directory. */
  readonly file: string;
  /** The signature it reproduces: the case's `name`, else derived from the file name. */
  readonly signature: string;
  /** Raw file text (validated only when replayed, so one bad file cannot hide the others). */
  readonly text: string;
}

/** One entry of expected-failures.json. */
export interface ExpectedFailure {
  readonly signature?: string;
  readonly file?: string;
  readonly reason: string;
}

/** A loaded corpus. */
export interface Corpus {
  readonly dir: string;
  readonly entries: readonly CorpusEntry[];
  readonly expected: readonly ExpectedFailure[];
}

/** Load a corpus directory; a missing directory is an empty corpus. */
export function loadCorpus(dir: string): Corpus {
  if (!existsSync(dir)) return { dir, entries: [], expected: [] };
  const entries: CorpusEntry[] = [];
  for (const file of readdirSync(dir).sort()) {
    if (!file.endsWith(".json") || file === EXPECTED_FAILURES_FILE) continue;
    const text = readFileSync(join(dir, file), "utf8");
    let signature = file.slice(0, -".json".length);
    try {
      const j = JSON.parse(text) as { name?: unknown };
      if (typeof j.name === "string" && j.name !== "") signature = j.name;
    } catch {
      /* reported when replayed */
    }
    entries.push({ file, signature, text });
  }
  return { dir, entries, expected: loadExpectedFailures(dir) };
}

/** Read and validate `expected-failures.json` (absent: none). */
export function loadExpectedFailures(dir: string): ExpectedFailure[] {
  const p = join(dir, EXPECTED_FAILURES_FILE);
  if (!existsSync(p)) return [];
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(p, "utf8"));
  } catch (e) {
    throw new XgradError(`${p}: $: not valid JSON (${(e as Error).message})`);
  }
  const bad = (path: string, what: string): never => {
    throw new XgradError(`${p}: ${path}: ${what}`);
  };
  if (typeof j !== "object" || j === null || Array.isArray(j)) bad("$", "expected an object");
  const o = j as Record<string, unknown>;
  if (o.format !== "xgrad-expected-failures/1") bad("format", `expected "xgrad-expected-failures/1", got ${JSON.stringify(o.format)}`);
  if (!Array.isArray(o.failures)) bad("failures", "expected an array");
  return (o.failures as unknown[]).map((e, i): ExpectedFailure => {
    if (typeof e !== "object" || e === null || Array.isArray(e)) bad(`failures[${i}]`, "expected an object");
    const r = e as Record<string, unknown>;
    for (const k of Object.keys(r)) if (!["signature", "file", "reason"].includes(k)) bad(`failures[${i}].${k}`, "unknown field (expected signature, file, reason)");
    if (r.signature !== undefined && typeof r.signature !== "string") bad(`failures[${i}].signature`, "expected a string");
    if (r.file !== undefined && typeof r.file !== "string") bad(`failures[${i}].file`, "expected a string");
    if (r.signature === undefined && r.file === undefined) bad(`failures[${i}]`, "needs a signature or a file");
    if (typeof r.reason !== "string" || r.reason.trim() === "") bad(`failures[${i}].reason`, "expected a non-empty string: say why it is allowed to fail");
    return { ...(r.signature !== undefined ? { signature: r.signature as string } : {}), ...(r.file !== undefined ? { file: r.file as string } : {}), reason: r.reason as string };
  });
}

/** The corpus files saved for `signature` (by case name or file name), and whether an expected failure covers it. */
export function corpusFor(corpus: Corpus, signature: string): { files: CorpusEntry[]; expected: boolean } {
  const stem = `${signatureFileStem(signature)}.json`;
  return {
    files: corpus.entries.filter((e) => e.signature === signature || e.file === stem),
    expected: corpus.expected.some((x) => x.signature === signature || x.file === stem),
  };
}

/** Is this signature already known (in the corpus or expected to fail)? */
export function isKnown(corpus: Corpus, signature: string): boolean {
  const { files, expected } = corpusFor(corpus, signature);
  return expected || files.length > 0;
}

/** The expected-failure entry covering a corpus file (by file name or its signature). */
export function expectedFailureFor(corpus: Corpus, entry: { file: string; signature: string }): ExpectedFailure | undefined {
  return corpus.expected.find((x) => x.file === entry.file || x.signature === entry.signature);
}

/**
 * Add a repro to the corpus: `<stem>.json` with the case's name set to the signature, or
 * `<stem>-2.json` (and so on) when a fixed bug's file already holds that signature: the two
 * bugs share it, and both cases must keep passing.
 */
export function saveRegression(dir: string, signature: string, caseText: string): string {
  mkdirSync(dir, { recursive: true });
  const c = readCase(caseText).case;
  c.name = signature;
  const stem = signatureFileStem(signature);
  let file = `${stem}.json`;
  for (let k = 2; existsSync(join(dir, file)); k++) file = `${stem}-${k}.json`;
  writeFileSync(join(dir, file), writeCase(c));
  return file;
}
