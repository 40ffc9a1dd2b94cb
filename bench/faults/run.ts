/**
 * The fault-zoo benchmark (`npm run bench:faults`): how good is `xgrad fuzz` at finding real bug
 * classes? Magma-style: each fault of `zoo.ts` is applied to a temporary copy of the tree (never
 * to the working tree), `xgrad fuzz` runs there with a fixed seed list and a time budget, and we
 * record whether, how fast and after how many cases it found the fault, and how small the
 * shrunk repro is compared with the known-minimal trigger. The unpatched tree runs with the same
 * seeds and budget alongside, for false alarms.
 *
 * Per fault:
 *   1. verify: the hand-written minimal trigger fails on the patched tree and passes on the
 *      unpatched one (`xgrad check`), or the fault's probe exits 1 / 0; a fault whose trigger does
 *      not change behaviour is reported as such, not measured as a miss;
 *   2. hunt, once per seed: `xgrad fuzz --time B --seed S --workers W`. Every finding with a new
 *      signature (not in the regression corpus) is re-checked on the unpatched tree: one that
 *      fails there too is a false alarm of the harness, not a detection; the first that passes
 *      there is the detection, and the run is stopped (SIGINT) right away;
 *   3. shrink the first detection (`xgrad shrink --signature`) and re-check the repro on the
 *      unpatched tree.
 *
 * Usage: node --import tsx bench/faults/run.ts [--only 3,7] [--budget 60s] [--seeds 1,2,3]
 *   [--workers 2] [--shrink-time 60s] [--ops a,b] [--properties a,b] [--no-baseline]
 *   [--no-shrink] [--no-verify] [--verify-only] [--render-only] [--out reports/bench] [--keep]
 *
 * --render-only re-renders an existing faults.json (after a correction of a fault's known
 * minimum, say) without measuring anything again. --verify-only writes faults-verify.json and
 * faults-verify.md (git-ignored), never the hunt's faults.json and faults.md.
 */
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { execFileSync } from "node:child_process";
import { FAULTS } from "./zoo.js";
import { applyFault } from "./patch.js";
import type { Fault } from "./types.js";
import { isKnown, loadCorpus } from "../../src/fuzz/corpus.js";
import type { Corpus } from "../../src/fuzz/corpus.js";
import type { CaseRecord } from "../../src/fuzz/journal.js";
import type { Finding, Verdict } from "../../properties/types.js";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

// ---------------------------------------------------------------------------------------------
// options

export interface BenchOptions {
  readonly only: readonly number[] | null;
  /** Time budget per (fault, seed) hunt, seconds. */
  readonly budgetS: number;
  readonly seeds: readonly number[];
  readonly workers: number;
  readonly shrinkTimeS: number;
  readonly ops: string | null;
  readonly properties: string | null;
  readonly baseline: boolean;
  readonly shrink: boolean;
  readonly verify: boolean;
  /** Where faults.json and faults.md go (null: write nothing). */
  readonly out: string | null;
  readonly keep: boolean;
  /** Re-render `out`/faults.json: refresh each fault's known minimum from the zoo, recompute the summary, rewrite both files. */
  readonly renderOnly?: boolean;
  /**
   * Only check that each patch changes the trigger's verdict (no hunt): the result goes to
   * faults-verify.json and faults-verify.md, so the hunt's record in faults.json is kept.
   */
  readonly verifyOnly?: boolean;
  readonly log: (s: string) => void;
}

export const DEFAULTS: BenchOptions = {
  only: null, budgetS: 60, seeds: [1, 2, 3], workers: 2, shrinkTimeS: 60, ops: null, properties: null,
  baseline: true, shrink: true, verify: true, out: join(REPO, "reports", "bench"), keep: false,
  log: (s) => void process.stdout.write(`${s}\n`),
};

function parseDurationS(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v.trim());
  if (m === null) throw new Error(`expected a duration like 30s or 2m, got ${JSON.stringify(v)}`);
  return Number(m[1]) * (m[2] === "m" ? 60 : m[2] === "ms" ? 0.001 : 1);
}

const intList = (flag: string, v: string): number[] =>
  v.split(",").map((s) => {
    if (!/^\d+$/.test(s.trim())) throw new Error(`${flag}: expected a comma-separated list of integers, got ${JSON.stringify(v)}`);
    return Number(s);
  });

export function parseArgs(argv: readonly string[]): BenchOptions {
  let o: BenchOptions = { ...DEFAULTS };
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k];
    const val = (): string => {
      const v = argv[++k];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case "--only": o = { ...o, only: intList(a, val()) }; break;
      case "--budget": o = { ...o, budgetS: parseDurationS(val()) }; break;
      case "--seeds": o = { ...o, seeds: intList(a, val()) }; break;
      case "--workers": o = { ...o, workers: intList(a, val())[0] }; break;
      case "--shrink-time": o = { ...o, shrinkTimeS: parseDurationS(val()) }; break;
      case "--ops": o = { ...o, ops: val() }; break;
      case "--properties": o = { ...o, properties: val() }; break;
      case "--out": o = { ...o, out: resolve(val()) }; break;
      case "--no-baseline": o = { ...o, baseline: false }; break;
      case "--no-shrink": o = { ...o, shrink: false }; break;
      case "--no-verify": o = { ...o, verify: false }; break;
      case "--keep": o = { ...o, keep: true }; break;
      case "--verify-only": o = { ...o, seeds: [], baseline: false, shrink: false, verifyOnly: true }; break;
      case "--render-only": o = { ...o, renderOnly: true }; break;
      case "--help":
        process.stdout.write(`${readFileSync(fileURLToPath(import.meta.url), "utf8").split("*/")[0]}*/\n`);
        process.exit(0);
        break;
      default: throw new Error(`unknown argument ${JSON.stringify(a)} (see --help)`);
    }
  }
  if (o.only !== null) {
    const bad = o.only.filter((id) => !FAULTS.some((f) => f.id === id));
    if (bad.length > 0) throw new Error(`--only: no fault with id ${bad.join(", ")} (ids: ${FAULTS.map((f) => f.id).join(", ")})`);
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// trees and processes

/** Copy what `xgrad` needs into a fresh temp dir (node_modules symlinked), and apply `fault`. */
export function prepareTree(root: string, fault: Fault | null): string {
  const dir = mkdtempSync(join(root, fault === null ? "unpatched-" : `f${String(fault.id).padStart(2, "0")}-`));
  for (const d of ["src", "properties", "oracles", "bin"]) cpSync(join(REPO, d), join(dir, d), { recursive: true });
  // The CLI imports the report renderers; not the runs or benchmark output kept beside them.
  cpSync(join(REPO, "reports"), join(dir, "reports"), { recursive: true, filter: (s) => !/\/reports\/(runs|bench)(\/|$)/.test(s) });
  for (const f of ["package.json", "tsconfig.json"]) cpSync(join(REPO, f), join(dir, f));
  symlinkSync(join(REPO, "node_modules"), join(dir, "node_modules"), "dir");
  if (fault !== null) applyFault(dir, fault);
  return dir;
}

interface Proc {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

interface Running {
  readonly pid: number;
  readonly done: Promise<Proc>;
  interrupt(): void;
}

function start(cwd: string, args: readonly string[]): Running {
  const child = spawn(process.execPath, args, { cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Proc>((res) => child.on("close", (code) => res({ code, stdout, stderr })));
  return { pid: child.pid ?? -1, done, interrupt: () => void child.kill("SIGINT") };
}

const xgrad = (cwd: string, args: readonly string[]): Running => start(cwd, ["bin/xgrad.js", ...args]);

/** `xgrad check --json` on a case text; null verdict when the check could not run. */
async function checkCase(tree: string, caseText: string, tag: string, properties?: string): Promise<{ verdict: Verdict | null; code: number | null; stderr: string }> {
  const file = join(tree, `.check-${tag}-${process.hrtime.bigint()}.json`);
  writeFileSync(file, caseText);
  const r = await xgrad(tree, ["check", file, "--json", ...(properties ? ["--properties", properties] : [])]).done;
  rmSync(file, { force: true });
  try {
    return { verdict: JSON.parse(r.stdout) as Verdict, code: r.code, stderr: r.stderr };
  } catch {
    return { verdict: null, code: r.code, stderr: r.stderr.trim().split("\n").slice(-3).join(" | ") };
  }
}

const failing = (v: Verdict | null): string[] => (v === null ? [] : v.checks.filter((k) => k.status === "fail" || k.status === "error").map((k) => `${k.property}:${k.status}`));

function readJsonl<T>(file: string): T[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, "utf8");
  const end = text.lastIndexOf("\n") + 1;
  return text.slice(0, end).split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as T);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// results

export interface Verification {
  /** What the trigger (or probe) did on the patched tree: the failing checks, or the probe's exit code. */
  readonly patched: string[];
  readonly unpatched: string[];
  /** Checks that fail (or error) on the trigger only when patched: the harness can see the fault there. */
  readonly flaggedBy: string[];
  /** The trigger's forward values or engine gradients differ between the trees (null for probes). */
  readonly valuesDiffer: boolean | null;
  /** The patch really changes behaviour: flagged, values differ, or the probe says so. */
  readonly changesBehaviour: boolean;
  readonly detail?: string;
}

export interface HuntResult {
  readonly seed: number;
  readonly detected: boolean;
  readonly signature: string | null;
  /** Harness active time at the detecting case's completion (cases.jsonl `t`), seconds. */
  readonly timeS: number | null;
  /** Wall time from spawning `xgrad fuzz` to noticing the finding (worker start-up included), seconds. */
  readonly wallS: number | null;
  /** Cases completed up to and including the detecting one. */
  readonly cases: number | null;
  /** Cases run in all (the run is stopped at the detection). */
  readonly casesRun: number;
  readonly casesPerSecond: number | null;
  /** New signatures that fail on the unpatched tree too (harness false alarms during this hunt). */
  readonly falseAlarms: string[];
  /** The detecting case (for shrinking). */
  readonly caseText?: string;
  readonly error?: string;
}

export interface ReproResult {
  readonly seed: number;
  readonly signature: string;
  readonly nodesBefore: number | null;
  readonly nodes: number | null;
  readonly minNodes: number | null;
  readonly withinOne: boolean | null;
  /** The shrunk repro passes on the unpatched tree (it isolates the fault). */
  readonly passesUnpatched: boolean | null;
  readonly caseText?: string;
  readonly error?: string;
}

export interface FaultResult {
  readonly id: number;
  readonly slug: string;
  readonly minNodes: number | null;
  readonly verification: Verification | null;
  readonly hunts: HuntResult[];
  readonly repro: ReproResult | null;
}

export interface BaselineResult {
  readonly seed: number;
  readonly cases: number;
  readonly casesPerSecond: number | null;
  readonly newSignatures: { signature: string; count: number }[];
  readonly error?: string;
}

export interface BenchReport {
  readonly format: "xgrad-faultbench/1";
  readonly startedAt: string;
  readonly durationS: number;
  readonly commit: string;
  readonly machine: { cores: number; cpu: string; node: string };
  readonly budgetS: number;
  readonly seeds: readonly number[];
  readonly workers: number;
  readonly ops: string | null;
  readonly properties: string | null;
  readonly faults: FaultResult[];
  readonly baseline: BaselineResult[];
  readonly summary: BenchSummary;
}

export interface BenchSummary {
  readonly faults: number;
  /** Faults detected in every seed's hunt. */
  readonly detectedAllSeeds: number;
  /** Faults detected in at least one seed's hunt. */
  readonly detectedAnySeed: number;
  readonly hunts: number;
  readonly huntsDetected: number;
  /** Median over detecting hunts of the harness time to detection, seconds. */
  readonly medianTimeS: number | null;
  /** Median over faults of each fault's median time (a miss counts as the budget), seconds. */
  readonly medianFaultTimeS: number | null;
  readonly reprosWithinOne: number;
  readonly reprosMeasured: number;
  readonly falseAlarmsBaseline: number;
  readonly falseAlarmsDuringHunts: number;
}

// ---------------------------------------------------------------------------------------------
// steps

async function verify(fault: Fault, patched: string, unpatched: string): Promise<Verification> {
  if (fault.probe !== undefined) {
    const run = async (tree: string): Promise<Proc> => {
      const file = join(tree, ".fault-probe.ts");
      writeFileSync(file, fault.probe as string);
      const r = await start(tree, ["--import", "tsx", file]).done;
      rmSync(file, { force: true });
      return r;
    };
    const [p, u] = [await run(patched), await run(unpatched)];
    const say = (r: Proc): string[] => [`probe exit ${r.code}${r.stdout.trim() ? ` ${r.stdout.trim().split("\n").pop()}` : ""}${r.code !== 0 && r.code !== 1 ? ` ${r.stderr.trim().split("\n").slice(-2).join(" | ")}` : ""}`];
    const changed = p.code === 1 && u.code === 0;
    return { patched: say(p), unpatched: say(u), flaggedBy: [], valuesDiffer: null, changesBehaviour: changed };
  }
  if (fault.trigger === null) return { patched: [], unpatched: [], flaggedBy: [], valuesDiffer: null, changesBehaviour: false, detail: "no trigger and no probe" };
  const text = JSON.stringify(fault.trigger, null, 2);
  const [p, u] = [await checkCase(patched, text, "trigger"), await checkCase(unpatched, text, "trigger")];
  const pf = p.verdict === null ? [`check did not run: ${p.stderr}`] : failing(p.verdict);
  const uf = u.verdict === null ? [`check did not run: ${u.stderr}`] : failing(u.verdict);
  const flaggedBy = pf.filter((k) => !uf.includes(k));
  const engine = (v: Verdict | null): string => JSON.stringify(v === null ? null : { values: v.values, direct: v.grads.direct ?? null });
  const valuesDiffer = engine(p.verdict) !== engine(u.verdict);
  return { patched: pf, unpatched: uf, flaggedBy, valuesDiffer, changesBehaviour: flaggedBy.length > 0 || valuesDiffer };
}

function fuzzArgs(o: BenchOptions, seed: number, out: string): string[] {
  return [
    "fuzz", "--time", `${o.budgetS}s`, "--seed", String(seed), "--workers", String(o.workers), "--out", out,
    "--regressions", join(REPO, "regressions"), "--shrink-time", `${o.shrinkTimeS}s`,
    ...(o.ops !== null ? ["--ops", o.ops] : []), ...(o.properties !== null ? ["--properties", o.properties] : []),
  ];
}

/** One seed's hunt on a patched tree, stopped at the first detection. */
async function hunt(o: BenchOptions, fault: Fault, patched: string, unpatched: string, seed: number, corpus: Corpus): Promise<HuntResult> {
  const out = join(patched, "runs", `seed${seed}`);
  const t0 = performance.now();
  const run = xgrad(patched, fuzzArgs(o, seed, out));
  let exited = false;
  void run.done.then(() => (exited = true));
  const judged = new Map<string, boolean>(); // signature → fails on the unpatched tree too
  const falseAlarms: string[] = [];
  let detection: { finding: Finding; wallS: number } | null = null;
  let seen = 0;
  const pending: Promise<void>[] = [];
  while (!exited && detection === null) {
    await sleep(250);
    const fs = readJsonl<Finding>(join(out, "findings.jsonl"));
    for (const f of fs.slice(seen)) {
      if (isKnown(corpus, f.signature) || judged.has(f.signature)) continue;
      judged.set(f.signature, true); // provisional, until the unpatched check answers
      const wallS = (performance.now() - t0) / 1000;
      pending.push(
        checkCase(unpatched, f.case, "judge", f.property === "harness" ? undefined : f.property).then((r) => {
          const alsoFails = r.verdict === null || !r.verdict.ok;
          judged.set(f.signature, alsoFails);
          if (alsoFails) falseAlarms.push(f.signature);
          else if (detection === null || f.index < detection.finding.index) detection = { finding: f, wallS };
        }),
      );
    }
    seen = fs.length;
    if (detection === null && pending.length > 0) {
      // Judge what arrived before looking further; the fuzz run goes on meanwhile.
      await Promise.all(pending.splice(0));
    }
  }
  if (!exited) run.interrupt();
  const proc = await run.done;
  await Promise.all(pending);
  const cases = readJsonl<CaseRecord>(join(out, "cases.jsonl"));
  let summary: { casesPerSecond?: number } = {};
  try {
    summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as { casesPerSecond?: number };
  } catch {
    /* no summary: reported below */
  }
  const base = { seed, casesRun: cases.length, casesPerSecond: summary.casesPerSecond ?? null, falseAlarms };
  const det = detection as { finding: Finding; wallS: number } | null;
  if (det === null) {
    const bad = proc.code !== 0 && proc.code !== 1 && proc.code !== 130;
    return { ...base, detected: false, signature: null, timeS: null, wallS: null, cases: null, ...(bad ? { error: `xgrad fuzz exited ${proc.code}: ${proc.stderr.trim().split("\n").slice(-2).join(" | ")}` } : {}) };
  }
  const pos = cases.findIndex((r) => r.i === det.finding.index);
  const rec = pos >= 0 ? cases[pos] : undefined;
  return {
    ...base, detected: true, signature: det.finding.signature, timeS: rec !== undefined ? rec.t / 1000 : null, wallS: det.wallS,
    cases: pos >= 0 ? pos + 1 : null, caseText: det.finding.case,
  };
}

async function shrinkRepro(o: BenchOptions, fault: Fault, patched: string, unpatched: string, h: HuntResult): Promise<ReproResult> {
  const dir = join(patched, "repro");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "found.json");
  writeFileSync(file, h.caseText as string);
  const sig = h.signature as string;
  const r = await xgrad(patched, ["shrink", file, "--signature", sig, "--out", dir, "--time", `${o.shrinkTimeS}s`]).done;
  const m = /: (\d+) -> (\d+) nodes/.exec(r.stdout);
  const base = { seed: h.seed, signature: sig, minNodes: fault.minNodes };
  const minFile = join(dir, "found.min.json");
  if (m === null || !existsSync(minFile)) {
    return { ...base, nodesBefore: null, nodes: null, withinOne: null, passesUnpatched: null, error: `xgrad shrink exited ${r.code}: ${(r.stderr || r.stdout).trim().split("\n").slice(-2).join(" | ")}` };
  }
  const caseText = readFileSync(minFile, "utf8");
  const nodes = Number(m[2]);
  const prop = sig.split("/")[0];
  const u = await checkCase(unpatched, caseText, "repro", prop === "harness" ? undefined : prop);
  return {
    ...base, nodesBefore: Number(m[1]), nodes, withinOne: fault.minNodes === null ? null : nodes <= fault.minNodes + 1,
    passesUnpatched: u.verdict === null ? null : u.verdict.ok, caseText,
  };
}

async function baselineRun(o: BenchOptions, unpatched: string, seed: number, corpus: Corpus): Promise<BaselineResult> {
  const out = join(unpatched, "runs", `seed${seed}`);
  const r = await xgrad(unpatched, fuzzArgs(o, seed, out)).done;
  const cases = readJsonl<CaseRecord>(join(out, "cases.jsonl"));
  const fs = readJsonl<Finding>(join(out, "findings.jsonl"));
  const counts = new Map<string, number>();
  for (const f of fs) if (!isKnown(corpus, f.signature)) counts.set(f.signature, (counts.get(f.signature) ?? 0) + 1);
  let cps: number | null = null;
  try {
    cps = (JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as { casesPerSecond: number }).casesPerSecond;
  } catch {
    /* reported as null */
  }
  const bad = r.code !== 0 && r.code !== 1;
  return {
    seed, cases: cases.length, casesPerSecond: cps, newSignatures: [...counts].map(([signature, count]) => ({ signature, count })),
    ...(bad ? { error: `xgrad fuzz exited ${r.code}: ${r.stderr.trim().split("\n").slice(-2).join(" | ")}` } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// the benchmark

const median = (xs: readonly number[]): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export function summarize(o: Pick<BenchOptions, "budgetS">, faults: readonly FaultResult[], baseline: readonly BaselineResult[]): BenchSummary {
  const hunts = faults.flatMap((f) => f.hunts);
  const det = hunts.filter((h) => h.detected && h.timeS !== null);
  const perFault = faults.filter((f) => f.hunts.length > 0).map((f) => median(f.hunts.map((h) => (h.detected && h.timeS !== null ? h.timeS : o.budgetS))) as number);
  const repros = faults.map((f) => f.repro).filter((r): r is ReproResult => r !== null && r.withinOne !== null);
  return {
    faults: faults.length,
    detectedAllSeeds: faults.filter((f) => f.hunts.length > 0 && f.hunts.every((h) => h.detected)).length,
    detectedAnySeed: faults.filter((f) => f.hunts.some((h) => h.detected)).length,
    hunts: hunts.length,
    huntsDetected: det.length,
    medianTimeS: median(det.map((h) => h.timeS as number)),
    medianFaultTimeS: median(perFault),
    reprosWithinOne: repros.filter((r) => r.withinOne === true).length,
    reprosMeasured: repros.length,
    falseAlarmsBaseline: new Set(baseline.flatMap((b) => b.newSignatures.map((s) => s.signature))).size,
    falseAlarmsDuringHunts: new Set(hunts.flatMap((h) => h.falseAlarms)).size,
  };
}

function gitCommit(): string {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src", "properties", "oracles"], { cwd: REPO, encoding: "utf8" }).trim() !== "";
    return dirty ? `${head}+dirty` : head;
  } catch {
    return "unknown";
  }
}

/** Re-render a measured report with the zoo's current known minima (no measurement is redone). */
export function rerender(o: BenchOptions): BenchReport {
  if (o.out === null) throw new Error("--render-only needs --out");
  const old = JSON.parse(readFileSync(join(o.out, "faults.json"), "utf8")) as BenchReport;
  const faults = old.faults.map((f) => {
    const z = FAULTS.find((x) => x.id === f.id);
    const minNodes = z?.minNodes ?? f.minNodes;
    const repro = f.repro === null ? null : { ...f.repro, minNodes, withinOne: minNodes === null || f.repro.nodes === null ? null : f.repro.nodes <= minNodes + 1 };
    return { ...f, minNodes, repro };
  });
  const report: BenchReport = { ...old, faults, summary: summarize(old, faults, old.baseline) };
  writeFileSync(join(o.out, "faults.json"), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(o.out, "faults.md"), renderMarkdown(report));
  o.log(`re-rendered ${join(o.out, "faults.json")} and faults.md`);
  return report;
}

/** Run the benchmark. */
export async function runFaultBench(o: BenchOptions): Promise<BenchReport> {
  if (o.renderOnly === true) return rerender(o);
  const started = new Date();
  const t0 = performance.now();
  const root = mkdtempSync(join(tmpdir(), "xgrad-faults-"));
  const corpus = loadCorpus(join(REPO, "regressions"));
  const faults = FAULTS.filter((f) => o.only === null || o.only.includes(f.id));
  const results: FaultResult[] = [];
  const baseline: BaselineResult[] = [];
  o.log(`fault zoo: ${faults.length} faults x seeds ${o.seeds.join(",")} x ${o.budgetS} s, ${o.workers} workers (temp ${root})`);
  try {
    const unpatched = prepareTree(root, null);
    for (const fault of faults) {
      const patched = prepareTree(root, fault);
      const verification = o.verify ? await verify(fault, patched, unpatched) : null;
      if (verification !== null) {
        o.log(`#${fault.id} ${fault.slug}: trigger ${verification.changesBehaviour ? "changes behaviour" : "DOES NOT change behaviour"}; flagged by ${verification.flaggedBy.join(", ") || "nothing"}; values differ: ${verification.valuesDiffer} (patched: ${verification.patched.join(", ") || "pass"}; unpatched: ${verification.unpatched.join(", ") || "pass"})`);
      }
      const hunts: HuntResult[] = [];
      for (const seed of o.seeds) {
        const h = await hunt(o, fault, patched, unpatched, seed, corpus);
        hunts.push(h);
        o.log(`#${fault.id} ${fault.slug} seed ${seed}: ${h.detected ? `DETECTED ${h.signature} at ${h.timeS?.toFixed(1)} s (wall ${h.wallS?.toFixed(1)} s), case ${h.cases}` : `not detected in ${h.casesRun} cases`}${h.falseAlarms.length ? `; false alarms ${h.falseAlarms.join(", ")}` : ""}${h.error ? `; ${h.error}` : ""}`);
      }
      const first = hunts.find((h) => h.detected && h.caseText !== undefined);
      let repro: ReproResult | null = null;
      if (o.shrink && first !== undefined) {
        repro = await shrinkRepro(o, fault, patched, unpatched, first);
        o.log(`#${fault.id} repro: ${repro.nodesBefore} -> ${repro.nodes} nodes (known minimum ${fault.minNodes}), passes unpatched: ${repro.passesUnpatched}${repro.error ? `; ${repro.error}` : ""}`);
      }
      results.push({ id: fault.id, slug: fault.slug, minNodes: fault.minNodes, verification, hunts: hunts.map(({ caseText: _c, ...h }) => h), repro });
      if (!o.keep) rmSync(patched, { recursive: true, force: true });
    }
    if (o.baseline) {
      for (const seed of o.seeds) {
        const b = await baselineRun(o, unpatched, seed, corpus);
        baseline.push(b);
        o.log(`unpatched seed ${seed}: ${b.cases} cases, ${b.newSignatures.length ? `FALSE ALARMS ${b.newSignatures.map((s) => `${s.signature} x${s.count}`).join(", ")}` : "no new signature"}${b.error ? `; ${b.error}` : ""}`);
      }
    }
  } finally {
    if (!o.keep) rmSync(root, { recursive: true, force: true });
    else o.log(`kept ${root}`);
  }
  const report: BenchReport = {
    format: "xgrad-faultbench/1", startedAt: started.toISOString(), durationS: Math.round((performance.now() - t0) / 100) / 10,
    commit: gitCommit(), machine: { cores: availableParallelism(), cpu: cpus()[0]?.model ?? "unknown", node: process.version },
    budgetS: o.budgetS, seeds: o.seeds, workers: o.workers, ops: o.ops, properties: o.properties,
    faults: results, baseline, summary: summarize(o, results, baseline),
  };
  if (o.out !== null) {
    // A verify-only run measures no hunt: it must not overwrite the hunt's record.
    const base = o.verifyOnly === true ? "faults-verify" : "faults";
    mkdirSync(o.out, { recursive: true });
    writeFileSync(join(o.out, `${base}.json`), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(o.out, `${base}.md`), renderMarkdown(report));
    o.log(`wrote ${join(o.out, `${base}.json`)} and ${base}.md`);
  }
  return report;
}

// ---------------------------------------------------------------------------------------------
// markdown

const fmt = (x: number | null, d = 1): string => (x === null ? "–" : x.toFixed(d));

export function renderMarkdown(r: BenchReport): string {
  const s = r.summary;
  const L: string[] = [];
  L.push("# Fault zoo: bug-finding power of `xgrad fuzz`", "");
  L.push(`Commit ${r.commit}, ${r.startedAt}, ${r.machine.cores} cores (${r.machine.cpu}), Node ${r.machine.node}. ` +
    `Budget ${r.budgetS} s per fault and seed, seeds ${r.seeds.join(", ")}, ${r.workers} workers` +
    `${r.ops ? `, ops ${r.ops}` : ""}${r.properties ? `, properties ${r.properties}` : ""}. Whole run ${Math.round(r.durationS / 60)} min.`, "");
  L.push("Faults: see `bench/faults/README.md`. *time* is the harness's active time when the detecting case completed " +
    "(cases.jsonl `t`; worker start-up excluded), *wall* adds start-up; *cases* counts completed cases up to the detection. " +
    "A detection is a finding with a signature that is new (not in the regression corpus) and whose case passes on the unpatched tree.", "");
  L.push("## Summary", "");
  L.push(`| measure | result | target |`, `|---|---|---|`);
  L.push(`| faults detected in every seed | ${s.detectedAllSeeds} / ${s.faults} | all |`);
  L.push(`| faults detected in some seed | ${s.detectedAnySeed} / ${s.faults} | all |`);
  L.push(`| hunts detected | ${s.huntsDetected} / ${s.hunts} | all |`);
  L.push(`| median time to detection (detecting hunts) | ${fmt(s.medianTimeS)} s | ≤ 10 s |`);
  L.push(`| median over faults of the median time (a miss counts as the budget) | ${fmt(s.medianFaultTimeS)} s | ≤ 10 s |`);
  L.push(`| repros within one node of the known minimum | ${s.reprosWithinOne} / ${s.reprosMeasured} | all |`);
  L.push(`| false alarms on the unpatched tree (new signatures) | ${s.falseAlarmsBaseline} | 0 |`);
  L.push(`| false alarms met during the hunts (fail unpatched too) | ${s.falseAlarmsDuringHunts} | 0 |`, "");
  L.push("## Per fault", "");
  L.push("| # | fault | hand-written trigger | detected (seeds) | time s (per seed) | wall s | cases (per seed) | repro nodes / known min | signature |");
  L.push("|---|---|---|---|---|---|---|---|---|");
  for (const f of r.faults) {
    const hs = f.hunts;
    const v = f.verification === null ? "not checked" : !f.verification.changesBehaviour ? "**no**" :
      f.verification.flaggedBy.length > 0 ? `yes; flagged by ${f.verification.flaggedBy.map((k) => k.replace(/:fail$/, "")).join(", ")}` :
      f.verification.valuesDiffer === null ? `yes (probe)` : "yes, but **no check flags it**";
    const per = (g: (h: HuntResult) => string): string => hs.map(g).join(" / ");
    const sigs = [...new Set(hs.filter((h) => h.detected).map((h) => h.signature))].map((x) => `\`${x}\``).join("<br>") || "–";
    const rp = f.repro === null ? `– / ${f.minNodes ?? "none"}` : f.repro.nodes === null ? `shrink failed / ${f.minNodes ?? "none"}` :
      `${f.repro.nodes} / ${f.minNodes ?? "none"}${f.repro.withinOne === false ? " **(>+1)**" : ""}${f.repro.passesUnpatched === false ? " (fails unpatched!)" : ""}`;
    L.push(`| ${f.id} | ${f.slug} | ${v} | ${hs.filter((h) => h.detected).length}/${hs.length} | ${per((h) => (h.detected ? fmt(h.timeS) : "miss"))} | ${per((h) => (h.detected ? fmt(h.wallS) : "–"))} | ${per((h) => (h.detected ? String(h.cases) : `(${h.casesRun})`))} | ${rp} | ${sigs} |`);
  }
  L.push("", "A miss shows the number of cases run in the budget in parentheses.", "");
  L.push("## Unpatched tree (false alarms)", "");
  L.push("| seed | cases | cases/s | new signatures |", "|---|---|---|---|");
  for (const b of r.baseline) L.push(`| ${b.seed} | ${b.cases} | ${fmt(b.casesPerSecond)} | ${b.newSignatures.map((x) => `\`${x.signature}\` x${x.count}`).join("<br>") || "none"}${b.error ? ` (${b.error})` : ""} |`);
  const fa = r.faults.flatMap((f) => f.hunts.flatMap((h) => h.falseAlarms.map((x) => `fault ${f.id} seed ${h.seed}: \`${x}\``)));
  if (fa.length > 0) L.push("", "False alarms met during the hunts (the case fails on the unpatched tree too):", "", ...fa.map((x) => `- ${x}`));
  L.push("");
  return L.join("\n");
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let opts: BenchOptions;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`bench:faults: ${(e as Error).message}\n`);
    process.exit(2);
  }
  const r = await runFaultBench(opts);
  const s = r.summary;
  process.stdout.write(`detected ${s.detectedAllSeeds}/${s.faults} in every seed (${s.detectedAnySeed} in some), median ${fmt(s.medianTimeS)} s, repros within one node ${s.reprosWithinOne}/${s.reprosMeasured}, false alarms ${s.falseAlarmsBaseline} (+${s.falseAlarmsDuringHunts} during hunts)\n`);
}
