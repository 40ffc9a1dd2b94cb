/**
 * Re-judge a seeded sample of an old mutation report's undetected mutants against the current
 * source, when a full StrykerJS shard would take too long (a `checked.ts` shard needs ~2 h on a
 * 2-core machine: every FAST_RUN compile covers it, so each survivor runs all 320 cases).
 *
 *   node --import tsx test/mutation/sample.ts <mutation.json> <src file> [count=30] [seed=7]
 *
 * Only single-line mutants whose source line still exists, once, in the current file are
 * eligible (the line number may have moved). Each sampled mutant is applied to the file, the
 * property suite runs in full (`XGRAD_MUTATION_FULL=1`, `--bail`: the first failing case kills
 * it), and the file is restored afterwards, also on interruption of the loop. It rewrites the
 * file in place, so run it in a clean worktree, one at a time per tree.
 */
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { execSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mulberry32 } from "../../oracles/finiteDiff.js";
import type { Mutant, Report } from "./summarize.js";

const [reportPath, file, countArg = "30", seedArg = "7"] = process.argv.slice(2);
if (reportPath === undefined || file === undefined) {
  console.error("usage: node --import tsx test/mutation/sample.ts <mutation.json> <src file> [count] [seed]");
  process.exit(2);
}
const report = JSON.parse(readFileSync(reportPath, "utf8")) as Report;
const entry = report.files[file];
if (entry === undefined) {
  console.error(`sample: ${reportPath} has no file ${file} (it has ${Object.keys(report.files).join(", ")})`);
  process.exit(2);
}
const oldLines = entry.source.split("\n");
const current = readFileSync(file, "utf8");
const lines = current.split("\n");

/** Undetected single-line mutants whose line is still in the file exactly once, with that line's index now. */
const eligible = entry.mutants.flatMap((m: Mutant) => {
  if ((m.status !== "Survived" && m.status !== "NoCoverage") || m.location.start.line !== m.location.end.line) return [];
  const text = oldLines[m.location.start.line - 1];
  const at = lines.flatMap((l, i) => (l === text ? [i] : []));
  return at.length === 1 ? [{ m, at: at[0] }] : [];
});
const rand = mulberry32(Number(seedArg));
const sample = eligible
  .map((e) => ({ e, k: rand() }))
  .sort((a, b) => a.k - b.k)
  .slice(0, Number(countArg))
  .map((p) => p.e);
console.log(`${eligible.length} of the report's undetected mutants are eligible; judging ${sample.length}`);

const backup = join(mkdtempSync(join(tmpdir(), "xgrad-sample-")), "orig");
copyFileSync(file, backup);
let killed = 0;
try {
  for (const { m, at } of sample) {
    const line = lines[at];
    const [s, e] = [m.location.start.column - 1, m.location.end.column - 1];
    writeFileSync(file, [...lines.slice(0, at), line.slice(0, s) + (m.replacement ?? "") + line.slice(e), ...lines.slice(at + 1)].join("\n"));
    let survived = true;
    try {
      execSync(
        "npx mocha --no-config --node-option import=tsx --node-option no-experimental-require-module --extension ts --timeout 300000 --bail test/mutation/setup.ts test/mutation/properties.test.ts",
        { stdio: "pipe", env: { ...process.env, XGRAD_MUTATION_FULL: "1" } },
      );
    } catch {
      survived = false;
    }
    if (!survived) killed++;
    console.log(`${survived ? "survived" : "killed  "} (was ${m.status}) line ${at + 1} ${m.mutatorName}: ${line.slice(s, e).slice(0, 50)} => ${(m.replacement ?? "").slice(0, 40)}`);
  }
} finally {
  copyFileSync(backup, file);
}
console.log(`killed ${killed} of ${sample.length}`);
