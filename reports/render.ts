/**
 * Write every report of a run directory: summary.json, report.md, junit.xml, report.html.
 * Pure re-rendering: it reads the journals, repros and coverage already in the directory and
 * never re-runs a case (`xgrad report` is this function).
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve, sep } from "node:path";
import { summarize } from "../src/fuzz/summary.js";
import type { RunSummary } from "../src/fuzz/summary.js";
import type { Corpus } from "../src/fuzz/corpus.js";
import { writeFileAtomic } from "../src/fuzz/journal.js";
import { renderMarkdown } from "./markdown.js";
import { renderJunit } from "./junit.js";
import { renderHtml } from "./html.js";

export const REPORT_FILES = ["summary.json", "report.md", "junit.xml", "report.html"] as const;

/** Summarise and render a run directory; returns the summary. */
export function renderRun(dir: string, corpus: Corpus): RunSummary {
  const s = summarize(dir, corpus);
  const root = resolve(dir);
  const repro = (rel: string | null): string | null => {
    if (rel === null) return null;
    const p = resolve(root, rel);
    if (!p.startsWith(root + sep) || !existsSync(p)) return null;
    return readFileSync(p, "utf8");
  };
  writeFileAtomic(join(dir, "summary.json"), `${JSON.stringify(s, null, 2)}\n`);
  writeFileAtomic(join(dir, "report.md"), renderMarkdown(s, repro));
  writeFileAtomic(join(dir, "junit.xml"), renderJunit(s));
  writeFileAtomic(join(dir, "report.html"), renderHtml(s, repro));
  return s;
}
