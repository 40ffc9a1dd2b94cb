/**
 * Replay: re-run saved cases (the regression corpus, or a run's repros) and say, for each,
 * whether it still fails. A corpus case must pass, or be listed in expected-failures.json; an
 * expected failure that now passes is reported too (like a strict xfail), so the list cannot
 * rot. The cases run through the worker pool, so a repro that hangs or exhausts memory is
 * reported as such instead of stopping the replay.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { readCase } from "../case/parse.js";
import { findingsOf } from "./triage.js";
import type { CaseOutcome } from "./triage.js";
import { expectedFailureFor } from "./corpus.js";
import type { Corpus, ExpectedFailure } from "./corpus.js";
import { loadRun, RUN_FILES } from "./journal.js";
import { representatives } from "./fuzz.js";
import { type CheckCase, checkSaved, signatureFileStem } from "./triage.js";

/** One case to replay. */
export interface ReplayItem {
  /** File name (corpus) or signature (run). */
  readonly id: string;
  readonly caseText: string;
  /** The signature it was saved for, if known. */
  readonly signature: string | null;
  readonly expected?: ExpectedFailure;
}

/** How a replayed case ended. */
export type ReplayStatus =
  | "pass"              // no failing check
  | "still-fails"       // fails with the signature it was saved for
  | "fails-differently" // fails, with other signatures
  | "expected-failure"  // fails, and is listed in expected-failures.json
  | "unexpected-pass"   // listed in expected-failures.json but passes: remove the entry
  | "invalid";          // not a valid case

export interface ReplayResult {
  readonly id: string;
  readonly status: ReplayStatus;
  readonly signatures: readonly string[];
  readonly detail: string;
}

/** Statuses that are fine for a regression corpus. */
export function replayOk(r: ReplayResult): boolean {
  return r.status === "pass" || r.status === "expected-failure";
}

/** Judge one replayed case. */
export function judgeReplay(item: ReplayItem, outcome: CaseOutcome): ReplayResult {
  const fs = findingsOf(outcome);
  const signatures = [...new Set(fs.map((f) => f.signature))].sort();
  const base = { id: item.id, signatures };
  if (fs.length === 0) {
    return item.expected
      ? { ...base, status: "unexpected-pass", detail: `passes now, but expected-failures.json lists it (${item.expected.reason}): remove the entry` }
      : { ...base, status: "pass", detail: "passes" };
  }
  if (item.expected) return { ...base, status: "expected-failure", detail: `fails as expected (${item.expected.reason})` };
  const reason = fs[0].reason;
  if (item.signature !== null && signatures.includes(item.signature)) return { ...base, status: "still-fails", detail: reason };
  return { ...base, status: "fails-differently", detail: `${signatures.join(", ")}: ${reason}` };
}

/** Replay items with `run` (the pool, or an in-process check); invalid cases never reach it. */
export async function replayItems(items: readonly ReplayItem[], run: CheckCase): Promise<ReplayResult[]> {
  return Promise.all(items.map(async (item) => {
    try {
      readCase(item.caseText, item.id);
    } catch (e) {
      return { id: item.id, status: "invalid" as const, signatures: [], detail: (e as Error).message };
    }
    return judgeReplay(item, await checkSaved(item.caseText, item.signature, run));
  }));
}

/** The items of a regression corpus. */
export function corpusItems(corpus: Corpus): ReplayItem[] {
  return corpus.entries.map((e) => {
    const expected = expectedFailureFor(corpus, e);
    return { id: e.file, caseText: e.text, signature: e.signature, ...(expected ? { expected } : {}) };
  });
}

/** The items of a run directory: one repro (or representative case) per signature. */
export function runItems(dir: string): ReplayItem[] {
  const { findings } = loadRun(dir);
  return [...representatives(findings)].flatMap(([signature, f]) => {
    const repro = join(dir, RUN_FILES.repros, `${signatureFileStem(signature)}.json`);
    const caseText = existsSync(repro) ? readFileSync(repro, "utf8") : f.case;
    return caseText === "" ? [] : [{ id: signature, caseText, signature }];
  });
}
