// StrykerJS configuration: mutation testing of the differentiator (src/grad/), the rewriter
// (src/rewriting/) and the pullback rules, judged by the harness's property suite only
// (test/mutation/*.test.ts: runProperties on a fixed list of generated cases).
//
//   npm run mutate                                   # everything (nightly; hours on 2 cores)
//   npm run mutate -- --mutate src/grad/driver.ts    # one whole file (Stryker's own override)
//   XGRAD_MUTATE=shape.ts npm run mutate             # a shard of the default list below, ranges kept
//   XGRAD_MUTATE=grad/driver,rewriting/merge npm run mutate   # comma-separated substrings
//
// The derivative rules live beside the forward code of each op (src/tensor/*.ts,
// src/xtensor/basic.ts), so only their line ranges are mutated: every `pullback(...)` and
// `pushforward(...)` method, every `pullback:` and `pushforward:` entry of the scalar table in
// elemwise.ts, and the helpers only the rules use (sumToShapeOf, sumToInput, castLike,
// onlyFloat, keepdimsOrder, permutationTo, alignedValues, floatTangents, broadcastTangent).
// The ranges are computed from the sources when Stryker loads this file, so they follow edits
// to those files.
import { readdirSync, readFileSync } from "node:fs";

const PULLBACK_FILES = [
  "src/tensor/contraction.ts",
  "src/tensor/cumulative.ts",
  "src/tensor/elemwise.ts",
  "src/tensor/indexing.ts",
  "src/tensor/reduce.ts",
  "src/tensor/shape.ts",
  "src/xtensor/basic.ts",
];
const PULLBACK_HELPERS = ["sumToShapeOf", "sumToInput", "castLike", "onlyFloat", "keepdimsOrder", "permutationTo", "alignedValues", "floatTangents", "broadcastTangent"];

/** `file:line[:col]-line[:col]` ranges of the pullback code of one file (1-based lines, 0-based columns). */
function pullbackRanges(file) {
  const lines = readFileSync(new URL(file, import.meta.url), "utf8").split("\n");
  const out = [];
  const blockEnd = (i, indent) => {
    let j = i;
    while (j < lines.length && !lines[j].startsWith(`${indent}}`)) j++;
    return j;
  };
  const helper = new RegExp(`^(export )?function (${PULLBACK_HELPERS.join("|")})\\b`);
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    let m;
    if ((m = /^(\s*)(override )?(pullback|pushforward)\(/.exec(l)) !== null || (m = helper.exec(l)) !== null) {
      const indent = m[0].startsWith(" ") ? /^\s*/.exec(l)[0] : "";
      out.push(`${file}:${i + 1}-${blockEnd(i, indent) + 1}`);
    } else if (/^\s+(pullback|pushforward): /.test(l)) {
      // A multi-line scalar-table entry: its pullback and its pushforward are one line each.
      out.push(`${file}:${i + 1}-${i + 1}`);
    } else if ((m = /^\s+\w+: \{.*\bpullback: /.exec(l)) !== null) {
      // A one-line table entry: only the rules' columns (pullback and pushforward, up to `, domain:`).
      const start = l.indexOf("pullback: ");
      const end = l.indexOf(", domain:", start);
      out.push(`${file}:${i + 1}:${start}-${i + 1}:${end < 0 ? l.length : end}`);
    }
  }
  return out;
}

/** Every .ts file of a source directory, one entry each, so that a shard can name one file. */
const wholeFiles = (dir) => readdirSync(new URL(dir, import.meta.url)).filter((f) => f.endsWith(".ts")).sort().map((f) => `${dir}/${f}`);

// Exported for test/mutation/ledger.ts, which judges whether a measurement covered a file whole.
export const DEFAULT_MUTATE = [...wholeFiles("src/grad"), ...wholeFiles("src/rewriting"), ...PULLBACK_FILES.flatMap(pullbackRanges)];
const shard = (process.env.XGRAD_MUTATE ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
const mutate = shard.length === 0 ? DEFAULT_MUTATE : DEFAULT_MUTATE.filter((m) => shard.some((s) => m.includes(s)));
// A shard writes its own report directory, so shards can run one after another (or on
// different machines) and be read side by side.
const reportDir = shard.length === 0 ? "reports/mutation" : `reports/mutation/${shard.join("+").replace(/[^\w.+-]+/g, "_")}`;
if (mutate.length === 0) throw new Error(`XGRAD_MUTATE=${process.env.XGRAD_MUTATE} matches none of: ${DEFAULT_MUTATE.join(" ")}`);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  $schema: "./node_modules/@stryker-mutator/core/schema/stryker-schema.json",
  packageManager: "npm",
  testRunner: "mocha",
  testRunnerNodeArgs: ["--import", "tsx"],
  mochaOptions: {
    // The property suite only: the setup file first (fast-check's global seed), then the cases.
    spec: ["test/mutation/setup.ts", "test/mutation/*.test.ts"],
  },
  // Mutants that do not type-check are CompileErrors, not survivors (strict TS, tsconfig.json).
  checkers: ["typescript"],
  tsconfigFile: "tsconfig.json",
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  mutate,
  coverageAnalysis: "perTest",
  concurrency: 2,
  // A property run is ~0.2 s per case; a mutant can make graphs much bigger (or loop).
  timeoutMS: 20000,
  timeoutFactor: 2.5,
  dryRunTimeoutMinutes: 15,
  reporters: ["clear-text", "progress", "html", "json"],
  htmlReporter: { fileName: `${reportDir}/mutation.html` },
  jsonReporter: { fileName: `${reportDir}/mutation.json` },
  clearTextReporter: { allowColor: false, logTests: false, maxTestsToLog: 0, reportScoreTable: true, reportMutants: true },
  thresholds: { high: 90, low: 80, break: null },
  tempDirName: ".stryker-tmp",
  cleanTempDir: true,
  // Sandboxes copy the project: leave out everything the property suite never reads.
  ignorePatterns: [
    "reports/runs/",
    "reports/mutation/",
    "reports/bench/",
    "coverage/",
    ".nyc_output/",
    "bench/",
    ".venv-fixtures/",
    ".ci/",
    "regressions/",
    "test/**/fixtures/",
    "node_modules/.cache/",
    "*.log",
  ],
};
