/**
 * Harness throughput benchmark (not a test): `node --import tsx bench/harness.ts [--cases N]
 * [--seed S] [--rounds R] [--out FILE]`, also run by `npm run bench`.
 *
 * Cases per second for each property alone and for the full suite (`runProperties` with every
 * property), on `caseArbitrary` cases (recipes of 3–8 ops) drawn with a fixed seed, in this one
 * process, after a warm-up on other cases of the same stream. Each configuration runs `rounds`
 * times over the same cases and reports:
 *
 * - `wall`: cases per second from the per-case minimum wall time over the rounds. The minimum
 *   drops time lost to other processes, which on a shared box is most of the variance.
 * - `cpu`: cases per CPU second of this process (all its threads, GC helpers included): the
 *   "per core" figure of issue 6's goal (50 cases/s), which other processes barely disturb.
 *
 * A property "alone" still pays for what it needs (e.g. direct-vs-lowered computes the direct
 * and the lowerThenGrad gradients), so the per-property times add up to more than the suite.
 * Writes `reports/bench/harness.json` (git-ignored: machine-dependent numbers).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname } from "node:path";
import fc from "fast-check";
import { caseArbitrary } from "../properties/generators.js";
import { runProperties } from "../properties/properties.js";
import { PROPERTY_NAMES, type PropertyName } from "../properties/types.js";
import type { Case } from "../src/case/format.js";

interface Options {
  cases: number;
  seed: number;
  rounds: number;
  out: string;
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { cases: 100, seed: 7, rounds: 3, out: "reports/bench/harness.json" };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`bench/harness: ${a} needs a value`);
      return v;
    };
    if (a === "--cases") o.cases = Number(next());
    else if (a === "--seed") o.seed = Number(next());
    else if (a === "--rounds") o.rounds = Number(next());
    else if (a === "--out") o.out = next();
    else throw new Error(`bench/harness: unknown argument ${a} (expected --cases N, --seed S, --rounds R, --out FILE)`);
  }
  for (const k of ["cases", "seed", "rounds"] as const) {
    if (!Number.isInteger(o[k]) || o[k] < (k === "seed" ? 0 : 1)) throw new Error(`bench/harness: --${k} must be a ${k === "seed" ? "non-negative" : "positive"} integer`);
  }
  return o;
}

/** CPU seconds of this process (every thread: the main thread, GC helpers, tfjs). */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** One measured configuration. */
interface Row {
  readonly config: string;
  /** Cases per second from the per-case minimum wall time. */
  readonly wallCasesPerSec: number;
  readonly wallMsPerCase: number;
  /** Cases per CPU second of this process: the "per core" figure, which other processes barely disturb. */
  readonly cpuCasesPerSec: number;
  /** Checks that ended in fail or error (should be 0 on the generator's own cases). */
  readonly failedChecks: number;
}

async function measure(config: string, cases: readonly Case[], rounds: number, properties: readonly PropertyName[] | undefined): Promise<Row> {
  const best = new Array<number>(cases.length).fill(Infinity);
  let failed = 0;
  const c0 = cpuSeconds();
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < cases.length; i++) {
      const t0 = performance.now();
      const run = await runProperties(cases[i], properties === undefined ? {} : { properties });
      best[i] = Math.min(best[i], performance.now() - t0);
      if (r === 0) failed += run.verdict.checks.filter((k) => k.status === "fail" || k.status === "error").length;
    }
  }
  const c1 = cpuSeconds();
  const ms = best.reduce((a, b) => a + b, 0) / cases.length;
  return {
    config,
    wallCasesPerSec: 1000 / ms,
    wallMsPerCase: ms,
    cpuCasesPerSec: (cases.length * rounds) / (c1 - c0),
    failedChecks: failed,
  };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const warmup = 10;
  const drawn = fc.sample(caseArbitrary({}), { seed: o.seed, numRuns: o.cases + warmup }).map((g) => g.case);
  const warm = drawn.slice(0, warmup);
  const cases = drawn.slice(warmup);
  const nodes = cases.reduce((a, c) => a + c.nodes.length, 0) / cases.length;
  const load0 = loadavg();
  console.log(`== harness throughput: ${cases.length} caseArbitrary cases (seed ${o.seed}, ${nodes.toFixed(1)} case nodes on average), ${o.rounds} rounds, warm-up ${warmup} cases ==`);
  console.log(`node ${process.version}, ${cpus()[0]?.model ?? "unknown cpu"}, load average ${load0.map((l) => l.toFixed(2)).join(" ")}`);
  for (const c of warm) await runProperties(c);

  const rows: Row[] = [];
  const header = `${"configuration".padEnd(22)} ${"cases/s (wall)".padStart(14)} ${"ms/case".padStart(8)} ${"cases/s (cpu)".padStart(13)} ${"failed".padStart(6)}`;
  console.log(header);
  const print = (r: Row): void =>
    console.log(
      `${r.config.padEnd(22)} ${r.wallCasesPerSec.toFixed(1).padStart(14)} ${r.wallMsPerCase.toFixed(2).padStart(8)} ${r.cpuCasesPerSec.toFixed(1).padStart(13)} ${String(r.failedChecks).padStart(6)}`,
    );
  for (const p of PROPERTY_NAMES) {
    const r = await measure(p, cases, o.rounds, [p]);
    rows.push(r);
    print(r);
  }
  const full = await measure("full suite", cases, o.rounds, undefined);
  rows.push(full);
  print(full);
  const load1 = loadavg();
  console.log(`load average after: ${load1.map((l) => l.toFixed(2)).join(" ")} (wall: per-case minima; cpu: cases per CPU second of this process, all threads)`);

  const report = {
    format: "xgrad-bench-harness/1",
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model ?? null,
    cores: cpus().length,
    loadavg: { before: load0, after: load1 },
    seed: o.seed,
    cases: cases.length,
    rounds: o.rounds,
    warmupCases: warmup,
    meanCaseNodes: nodes,
    goalCasesPerSec: 50,
    rows,
  };
  mkdirSync(dirname(o.out), { recursive: true });
  writeFileSync(o.out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${o.out}`);
}

await main();
