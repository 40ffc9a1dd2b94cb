/**
 * The `xgrad` command line: fuzz, check, shrink, replay, report, merge-reports.
 *
 * Exit codes: 0 success (fuzz: no new finding; check: ok), 1 a finding or a failing check
 * (fuzz: new findings; check: a check failed or errored; replay: a case still fails), 2 bad
 * usage or bad input (one line, never a stack trace), 130 interrupted. Any `XgradError` is
 * printed as one line; anything else is an internal error, printed as one line too, with the
 * stack only under XGRAD_DEBUG=1.
 */
import { Command, CommanderError, Option } from "commander";
import { availableParallelism } from "node:os";
import { randomInt } from "node:crypto";
import { existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { XgradError } from "../errors.js";
import { readCase } from "../case/parse.js";
import { loadRunner, oneLine, runnerModulePath } from "../fuzz/runner.js";
import { runFuzz } from "../fuzz/fuzz.js";
import { readConfig, RUN_FILES } from "../fuzz/journal.js";
import type { Budget, RunConfig } from "../fuzz/journal.js";
import { loadCorpus, saveRegression } from "../fuzz/corpus.js";
import { coverageEnv, coverageTmpDir, reportCoverage } from "../fuzz/coverage.js";
import { WorkerPool } from "../fuzz/pool.js";
import { findingsOf } from "../fuzz/triage.js";
import { corpusItems, replayItems, replayOk, runItems } from "../fuzz/replay.js";
import { mergeRuns } from "../fuzz/merge.js";
import { renderRun } from "../../reports/render.js";
import type { RunSummary } from "../fuzz/summary.js";
import type { Verdict } from "../../properties/types.js";
import { UsageError, parseDuration, parseInteger, parseOps, parseProperties, parseShard } from "./args.js";
import { progressBar } from "./progress.js";

/** Where the CLI writes and what it reads from its environment (tests pass their own). */
export interface CliIO {
  readonly stdout: { write(s: string): unknown; isTTY?: boolean };
  readonly stderr: { write(s: string): unknown };
  readonly env: NodeJS.ProcessEnv;
}

const PROCESS_IO: CliIO = { stdout: process.stdout, stderr: process.stderr, env: process.env };

const VERSION = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

function runStamp(d = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

function budgetText(b: Budget): string {
  return "cases" in b ? `${b.cases} cases` : `${b.timeS} s`;
}

function readText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read ${file}: ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : (e as Error).message}`);
  }
}

function printSignatures(io: CliIO, s: RunSummary, dir: string): void {
  for (const g of s.signatures.slice(0, 20)) {
    io.stdout.write(`  ${g.status === "new" ? "NEW  " : "known"}  ${g.signature}  x${g.count}  ${g.reproCase ? join(dir, g.reproCase) : ""}\n`);
  }
  if (s.signatures.length > 20) io.stdout.write(`  ... and ${s.signatures.length - 20} more (see the report)\n`);
}

interface FuzzFlags {
  time?: string; cases?: string; seed?: string; properties?: string; ops?: string; workers?: string; out?: string;
  resume?: string; saveRegressions?: boolean; shard?: string; caseTimeout?: string; maxMemory?: string;
  coverage?: boolean; regressions: string; shrinkTime: string;
}

async function fuzzCommand(o: FuzzFlags, io: CliIO): Promise<number> {
  if (o.time !== undefined && o.cases !== undefined) throw new UsageError("--time and --cases are exclusive: give one budget");
  const budget: Budget | null = o.cases !== undefined ? { cases: parseInteger("--cases", o.cases, 1) } : o.time !== undefined ? { timeS: parseDuration("--time", o.time) } : null;
  const workers = o.workers !== undefined ? parseInteger("--workers", o.workers, 1, 1024) : availableParallelism();
  const properties = o.properties !== undefined ? parseProperties(o.properties) : null;
  const ops = o.ops !== undefined ? parseOps(o.ops) : null;
  const shard = o.shard !== undefined ? parseShard(o.shard) : null;
  const seedFlag = o.seed !== undefined ? parseInteger("--seed", o.seed, 0, 2 ** 32 - 1) : null;
  const shrinkTimeoutMs = parseDuration("--shrink-time", o.shrinkTime) * 1000;
  let dir: string;
  let config: RunConfig;
  if (o.resume !== undefined) {
    if (o.out !== undefined) throw new UsageError("--resume DIR continues the run in DIR: --out cannot be given with it");
    dir = o.resume;
    const prev = readConfig(dir);
    const clash = (flag: string, given: unknown, stored: unknown): void => {
      if (given !== null && JSON.stringify(given) !== JSON.stringify(stored)) throw new UsageError(`${flag} ${JSON.stringify(given)} differs from the resumed run's ${JSON.stringify(stored)}: a resumed run keeps its settings`);
    };
    clash("--seed", seedFlag, prev.seed);
    clash("--properties", properties, prev.properties);
    clash("--ops", ops, prev.ops);
    clash("--shard", shard, prev.shard);
    config = { ...prev, budget: budget ?? prev.budget };
  } else {
    const caseTimeoutS = parseDuration("--case-timeout", o.caseTimeout ?? "60s");
    const maxMemoryMb = parseInteger("--max-memory", o.maxMemory ?? "2048", 32);
    const seed = seedFlag ?? randomInt(2 ** 31);
    config = {
      format: "xgrad-runconfig/1", seed, budget: budget ?? { timeS: 600 }, properties, ops, shard, caseTimeoutS, maxMemoryMb,
      coverage: o.coverage === true, startedAt: new Date().toISOString(),
    };
    dir = o.out ?? join("reports", "runs", `${runStamp()}-${seed}${shard ? `-shard${shard.index}of${shard.count}` : ""}`);
  }
  const corpus = loadCorpus(o.regressions);
  io.stdout.write(`xgrad fuzz: seed ${config.seed}${config.shard ? `, shard ${config.shard.index}/${config.shard.count}` : ""}, ${budgetText(config.budget)}, ${workers} workers${o.resume ? " (resumed)" : ""} -> ${dir}\n`);

  const ac = new AbortController();
  let interrupts = 0;
  const onSignal = (): void => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    ac.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const bar = progressBar(io.stdout as NodeJS.WriteStream);
  let status: "complete" | "interrupted";
  try {
    const r = await runFuzz({
      dir, config, resume: o.resume !== undefined, workers, runnerModule: runnerModulePath(io.env),
      env: config.coverage ? coverageEnv(dir) : {}, onProgress: (p) => bar.update(p), signal: ac.signal, shrinkTimeoutMs, corpus,
    });
    status = r.status;
  } finally {
    bar.stop();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  if (config.coverage) {
    try {
      reportCoverage(dir);
    } catch (e) {
      io.stderr.write(`xgrad fuzz: warning: code coverage not reported: ${oneLine(e)}\n`);
    }
  }
  const s = renderRun(dir, corpus);
  io.stdout.write(`${status}: ${s.cases} cases in ${s.durationS} s (${s.casesPerSecond} cases/s), ${s.findings} findings, ${s.signatures.length} signatures (${s.newSignatures} new)\n`);
  printSignatures(io, s, dir);
  if (o.saveRegressions) {
    for (const g of s.signatures) {
      if (g.status !== "new" || g.reproCase === null) continue;
      const file = saveRegression(o.regressions, g.signature, readFileSync(join(dir, g.reproCase), "utf8"));
      io.stdout.write(`saved ${join(o.regressions, file)}\n`);
    }
  }
  io.stdout.write(`report: ${join(dir, "report.html")} (also report.md, summary.json, junit.xml)\n`);
  if (status === "interrupted") {
    io.stdout.write(`interrupted: continue with  xgrad fuzz --resume ${dir}\n`);
    return 130;
  }
  return s.newSignatures > 0 ? 1 : 0;
}

function describeVerdict(v: Verdict): string {
  const w = Math.max(...v.checks.map((c) => c.property.length), 8);
  const lines = [`case: ${v.case}`];
  for (const c of v.checks) {
    const errs = c.maxAbsErr !== undefined ? ` (max abs err ${c.maxAbsErr}, max rel err ${c.maxRelErr ?? "?"})` : "";
    const why = c.reason !== undefined ? `  ${c.errorClass ? `${c.errorClass}: ` : ""}${c.reason}` : "";
    lines.push(`  ${c.status.padEnd(12)} ${c.property.padEnd(w)}${errs}${why}`);
  }
  lines.push(v.ok ? "ok" : "FAILED");
  return `${lines.join("\n")}\n`;
}

async function checkCommand(file: string, o: { json?: boolean; properties?: string }, io: CliIO): Promise<number> {
  const properties = o.properties !== undefined ? parseProperties(o.properties) : null;
  const { case: c } = readCase(readText(file), file);
  const runner = await loadRunner(runnerModulePath(io.env));
  let v: Verdict;
  try {
    v = await runner.check(c, { properties });
  } catch (e) {
    io.stderr.write(`xgrad check: the check itself failed: ${oneLine(e)}\n`);
    return 1;
  }
  if (c.name === undefined) v = { ...v, case: basename(file) };
  io.stdout.write(o.json ? `${JSON.stringify(v, null, 2)}\n` : describeVerdict(v));
  return v.ok ? 0 : 1;
}

async function shrinkCommand(file: string, o: { signature?: string; out?: string; time: string; maxMemory: string }, io: CliIO): Promise<number> {
  const timeoutMs = parseDuration("--time", o.time) * 1000;
  const maxMemoryMb = parseInteger("--max-memory", o.maxMemory, 32);
  const text = readText(file);
  readCase(text, file);
  const pool = new WorkerPool({ size: 1, runnerModule: runnerModulePath(io.env), caseTimeoutMs: timeoutMs, maxMemoryMb });
  try {
    await pool.start();
    const checked = await pool.run({ kind: "check", caseText: text, properties: null });
    const fs = findingsOf(checked.outcome);
    if (fs.length === 0) {
      io.stderr.write(`xgrad shrink: ${file} passes every check: nothing to shrink\n`);
      return 1;
    }
    const sigs = [...new Set(fs.map((f) => f.signature))];
    const signature = o.signature ?? sigs[0];
    const f = fs.find((x) => x.signature === signature);
    if (f === undefined) throw new UsageError(`--signature: ${file} does not fail with ${signature}; it fails with ${sigs.join(", ")}`);
    const minimise = !(f.failureClass === "timeout" || f.failureClass === "oom" || f.property === "harness");
    if (!minimise) io.stderr.write(`xgrad shrink: a ${f.property === "harness" ? "harness crash" : f.failureClass} cannot be re-judged in one process; writing the case as found\n`);
    const r = await pool.run({ kind: "shrink", caseText: text, signature, minimise }, { timeoutMs });
    if (r.shrunk === undefined) {
      const why = r.outcome.kind === "crash" ? `${r.outcome.errorClass}: ${r.outcome.message}` : r.outcome.kind === "timeout" ? `no result within ${timeoutMs / 1000} s (raise --time)` : r.outcome.kind;
      io.stderr.write(`xgrad shrink: shrinking failed: ${why}\n`);
      return 1;
    }
    const outDir = o.out ?? dirname(file);
    mkdirSync(outDir, { recursive: true });
    const stem = basename(file).replace(/\.json$/, "");
    const jsonPath = join(outDir, `${stem}.min.json`);
    const tsPath = join(outDir, `${stem}.min.ts`);
    writeFileSync(jsonPath, r.shrunk.caseText);
    writeFileSync(tsPath, r.shrunk.snippet);
    const before = readCase(text).case.nodes.length;
    const after = readCase(r.shrunk.caseText).case.nodes.length;
    io.stdout.write(`${signature}: ${before} -> ${after} nodes\nwrote ${jsonPath}\nwrote ${tsPath}\n`);
    return 0;
  } finally {
    await pool.close();
  }
}

async function replayCommand(dirArg: string | undefined, o: { workers?: string; caseTimeout: string; maxMemory: string }, io: CliIO): Promise<number> {
  const dir = dirArg ?? "regressions";
  if (!existsSync(dir)) throw new UsageError(`replay: ${dir}: no such directory`);
  const isRun = existsSync(join(dir, RUN_FILES.config));
  const items = isRun ? runItems(dir) : corpusItems(loadCorpus(dir));
  if (items.length === 0) {
    io.stdout.write(`nothing to replay in ${dir}\n`);
    return 0;
  }
  const workers = Math.min(items.length, o.workers !== undefined ? parseInteger("--workers", o.workers, 1, 1024) : availableParallelism());
  const pool = new WorkerPool({
    size: workers, runnerModule: runnerModulePath(io.env),
    caseTimeoutMs: parseDuration("--case-timeout", o.caseTimeout) * 1000, maxMemoryMb: parseInteger("--max-memory", o.maxMemory, 32),
  });
  try {
    await pool.start();
    const results = await replayItems(items, async (caseText, properties) => (await pool.run({ kind: "check", caseText, properties })).outcome);
    for (const r of results) io.stdout.write(`${(replayOk(r) ? "ok  " : "FAIL")} ${r.status.padEnd(17)} ${r.id}  ${r.detail}\n`);
    const bad = results.filter((r) => !replayOk(r));
    io.stdout.write(`${results.length} replayed from ${dir}: ${results.length - bad.length} ok, ${bad.length} still failing or wrong\n`);
    return bad.length > 0 ? 1 : 0;
  } finally {
    await pool.close();
  }
}

function reportCommand(dir: string, o: { regressions: string }, io: CliIO): number {
  if (existsSync(coverageTmpDir(dir)) && !existsSync(join(dir, "coverage", "coverage-summary.json"))) reportCoverage(dir);
  const s = renderRun(dir, loadCorpus(o.regressions));
  io.stdout.write(`${s.cases} cases, ${s.findings} findings, ${s.signatures.length} signatures (${s.newSignatures} new)\n`);
  printSignatures(io, s, dir);
  io.stdout.write(`report: ${join(dir, "report.html")} (also report.md, summary.json, junit.xml)\n`);
  return 0;
}

function mergeCommand(dirs: string[], o: { out?: string; regressions: string }, io: CliIO): number {
  const out = o.out ?? join("reports", "runs", `${runStamp()}-merged`);
  mergeRuns(dirs, out);
  const s = renderRun(out, loadCorpus(o.regressions));
  io.stdout.write(`merged ${dirs.length} runs into ${out}: ${s.cases} cases, ${s.findings} findings, ${s.signatures.length} signatures (${s.newSignatures} new)\n`);
  printSignatures(io, s, out);
  io.stdout.write(`report: ${join(out, "report.html")}\n`);
  return s.newSignatures > 0 ? 1 : 0;
}

/** Build the commander program; actions store their exit code in `result.code`. */
export function buildProgram(io: CliIO, result: { code: number }): Command {
  const program = new Command("xgrad");
  program
    .description("Named-dimension tensor graphs with direct gradients, and the harness that checks them")
    .version(VERSION)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
      // One line: commander puts "(Did you mean ...?)" on a line of its own.
      outputError: (s, write) => write(`xgrad: ${s.trim().replace(/^error: /, "").replace(/\s*\n\s*/g, " ")}\n`),
    })
    .showHelpAfterError(false)
    .allowExcessArguments(false);
  const regressions = (): Option => new Option("--regressions <dir>", "regression corpus (known signatures)").default("regressions");

  program.command("fuzz")
    .description("run generated cases through every property, in crash-safe workers; write findings and reports")
    .option("--time <duration>", "time budget, e.g. 90s, 10m, 1h (default 10m)")
    .option("--cases <n>", "case budget (instead of --time)")
    .option("--seed <s>", "run seed, 0..2^32-1 (default: random, printed)")
    .option("--properties <list>", "comma-separated properties to run (default: all)")
    .option("--ops <list>", "comma-separated case ops to generate (default: all)")
    .option("--workers <n>", "worker processes (default: the number of cores)")
    .option("--out <dir>", "run directory (default reports/runs/<timestamp>-<seed>/)")
    .option("--resume <dir>", "continue the run in <dir> (same seed stream; no case repeated or skipped)")
    .option("--save-regressions", "copy each new signature's minimal repro into the regression corpus")
    .option("--shard <i/n>", "run only cases whose index is i-1 mod n (combine with merge-reports)")
    .option("--case-timeout <duration>", "per-case time limit (default 60s)")
    .option("--max-memory <mb>", "V8 heap cap per worker in MB (default 2048; resident limit 2x+256)")
    .option("--coverage", "collect V8 code coverage of the engine (slower: ~40%)")
    .option("--shrink-time <duration>", "time limit for shrinking each new signature", "60s")
    .addOption(regressions())
    .addHelpText("after", "\nExit codes: 0 no new finding, 1 new findings, 2 bad usage, 130 interrupted (resume with --resume DIR).")
    .action(async (o: FuzzFlags) => {
      result.code = await fuzzCommand(o, io);
    });

  program.command("check")
    .description("run every gradient path, oracle and property on one case")
    .argument("<case>", "case file (xgrad-case/1 JSON)")
    .option("--json", "print the xgrad-verdict/1 object")
    .option("--properties <list>", "comma-separated properties (default: all)")
    .addHelpText("after", "\nExit codes: 0 ok, 1 a check failed or errored, 2 bad input (the message names the JSON path).")
    .action(async (file: string, o: { json?: boolean; properties?: string }) => {
      result.code = await checkCommand(file, o, io);
    });

  program.command("shrink")
    .description("minimise a failing case, keeping its failure signature; writes <case>.min.json and <case>.min.ts")
    .argument("<case>", "case file")
    .option("--signature <sig>", "the failure to keep (default: the case's first)")
    .option("--out <dir>", "where to write the repro (default: next to the case)")
    .option("--time <duration>", "time limit", "120s")
    .option("--max-memory <mb>", "V8 heap cap of the worker in MB", "2048")
    .addHelpText("after", "\nExit codes: 0 repro written, 1 nothing to shrink or shrinking failed, 2 bad input.")
    .action(async (file: string, o: { signature?: string; out?: string; time: string; maxMemory: string }) => {
      result.code = await shrinkCommand(file, o, io);
    });

  program.command("replay")
    .description("re-run the regression corpus (default regressions/) or a run directory's repros; report which still fail")
    .argument("[dir]", "corpus or run directory", undefined)
    .option("--workers <n>", "worker processes (default: the number of cores)")
    .option("--case-timeout <duration>", "per-case time limit", "60s")
    .option("--max-memory <mb>", "V8 heap cap per worker in MB", "2048")
    .addHelpText("after", "\nExit codes: 0 every case passes (or fails as expected-failures.json says), 1 otherwise, 2 bad usage.")
    .action(async (dir: string | undefined, o: { workers?: string; caseTimeout: string; maxMemory: string }) => {
      result.code = await replayCommand(dir, o, io);
    });

  program.command("report")
    .description("re-render a run directory's reports (summary.json, report.md, junit.xml, report.html)")
    .argument("<run-dir>", "run directory")
    .addOption(regressions())
    .action((dir: string, o: { regressions: string }) => {
      result.code = reportCommand(dir, o, io);
    });

  program.command("merge-reports")
    .description("combine shard runs (--shard i/n, same seed) into one run directory and report")
    .argument("<run-dir...>", "shard run directories")
    .option("--out <dir>", "merged run directory (default reports/runs/<timestamp>-merged/)")
    .addOption(regressions())
    .addHelpText("after", "\nExit codes: 0 no new finding, 1 new findings, 2 bad usage (mismatched runs).")
    .action((dirs: string[], o: { out?: string; regressions: string }) => {
      result.code = mergeCommand(dirs, o, io);
    });
  return program;
}

/** Run the CLI on `argv` (without node and script); resolves to the exit code. */
export async function main(argv: readonly string[], io: CliIO = PROCESS_IO): Promise<number> {
  const result = { code: 0 };
  const program = buildProgram(io, result);
  try {
    if (argv.length === 0) {
      program.outputHelp();
      return 2;
    }
    await program.parseAsync([...argv], { from: "user" });
    return result.code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.help" || e.code === "commander.version") return 0;
      return 2; // commander has printed its one line
    }
    if (e instanceof XgradError) {
      io.stderr.write(`xgrad: ${e.message.replace(/\s*\n\s*/g, " ")}\n`);
      return 2;
    }
    io.stderr.write(`xgrad: internal error: ${oneLine(e)}${io.env.XGRAD_DEBUG ? `\n${(e as Error).stack ?? ""}` : " (XGRAD_DEBUG=1 prints the stack)"}\n`);
    return 1;
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
