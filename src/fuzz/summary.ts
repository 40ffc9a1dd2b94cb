/**
 * The run summary (`summary.json`, format `xgrad-run/1`): everything the report renderers show,
 * computed from the run directory alone, folding the journal in case-index order, so that two
 * runs of the same seed and case count give the same summary apart from the timing fields
 * (`durationS`, `casesPerSecond`, `throughput`, `startedAt`).
 *
 * Stable fields (other tools read them): format, seed, cases, findings, durationS,
 * casesPerSecond, signatures[{signature, count, status, reproCase, reproSnippet}], inconclusive,
 * backend, coverage{code, features}. Everything else is additive.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PROPERTY_NAMES } from "../../properties/types.js";
import type { CheckStatus, FailureClass, PropertyName } from "../../properties/types.js";
import { CASE_OPS } from "../case/format.js";
import { decodeChecks, loadRun, readState, RUN_FILES } from "./journal.js";
import type { Budget, RunData, Shard } from "./journal.js";
import { representatives } from "./fuzz.js";
import type { ReproMeta } from "./fuzz.js";
import { isKnown } from "./corpus.js";
import type { Corpus } from "./corpus.js";
import { signatureFileStem } from "./triage.js";

/** Which oracle judges each property (for inconclusive rates per oracle). */
export const ORACLE_OF: Record<PropertyName, string> = {
  "direct-vs-lowered": "lowerThenGrad",
  "perNode-vs-lowered": "lowerThenGrad",
  "direct-vs-finiteDiff": "finiteDiff",
  "second-order": "finiteDiff",
  "direct-vs-tfjs": "tfjs",
  "forward-vs-tfjs": "tfjs",
  "rewrite-soundness": "rewrites",
  "pushforward-duality": "duality",
  "grad-composition": "composition",
  "kink-conventions": "spec rule",
  "shape-erasure": "static shapes",
  "checked-sensitivity": "checked mode",
  "rewriter-contract": "the engine's contract",
  "positional-forms": "rewrites and the static case",
};

/** One signature of the run. */
export interface SignatureSummary {
  readonly signature: string;
  readonly count: number;
  readonly status: "new" | "known";
  /** Repro case file, relative to the run directory. */
  readonly reproCase: string | null;
  /** Repro TypeScript snippet file, relative to the run directory. */
  readonly reproSnippet: string | null;
  readonly property: string;
  readonly failureClass: FailureClass;
  readonly failingOp: string;
  readonly errorClass: string;
  /** The representative finding: first case index, its seed and fast-check path, its reason. */
  readonly index: number;
  readonly seed: number;
  readonly path: string;
  readonly reason: string;
  readonly shrunk: boolean;
  readonly note?: string;
}

/** Code coverage totals (from c8's json-summary). */
export interface CodeCoverage {
  readonly lines: CoverageTotal;
  readonly statements: CoverageTotal;
  readonly functions: CoverageTotal;
  readonly branches: CoverageTotal;
  /** Per file, sorted by path: lines pct. */
  readonly files: readonly { readonly file: string; readonly lines: number; readonly linesCovered: number; readonly pct: number }[];
  /** Relative to the run directory. */
  readonly lcov: string;
}

export interface CoverageTotal {
  readonly total: number;
  readonly covered: number;
  readonly pct: number;
}

/** One feature category: counts of every key seen, and the keys of its universe never seen. */
export interface FeatureCategory {
  readonly counts: Record<string, number>;
  readonly never: readonly string[];
}

/** `summary.json`. */
export interface RunSummary {
  readonly format: "xgrad-run/1";
  readonly seed: number;
  readonly cases: number;
  readonly findings: number;
  readonly durationS: number;
  readonly casesPerSecond: number;
  readonly signatures: readonly SignatureSummary[];
  /** Inconclusive rate per oracle (inconclusive checks / checks run). */
  readonly inconclusive: Record<string, number>;
  readonly backend: string;
  readonly coverage: { readonly code: CodeCoverage | null; readonly features: Record<string, FeatureCategory> };
  // additive fields
  readonly status: "running" | "complete" | "interrupted" | "unknown";
  readonly newSignatures: number;
  readonly newFindings: number;
  readonly budget: Budget;
  readonly shard: Shard | null;
  readonly properties: readonly string[];
  readonly ops: readonly string[] | null;
  readonly caseTimeoutS: number;
  readonly maxMemoryMb: number;
  readonly startedAt: string;
  readonly mergedFrom?: readonly string[];
  /** Cases by outcome. */
  readonly outcomes: Record<string, number>;
  /** Per property: check status counts. */
  readonly checks: Record<string, Record<CheckStatus, number>>;
  readonly inconclusiveByProperty: Record<string, number>;
  /** op × property: cases containing the op where the property ran (conclusive, inconclusive). */
  readonly heatmap: { readonly ops: readonly string[]; readonly properties: readonly string[]; readonly ran: number[][]; readonly inconclusive: number[][] };
  /** Cases per second in consecutive windows of active time. A timing. */
  readonly throughput: readonly { readonly tS: number; readonly casesPerSecond: number }[];
  /** Cases rebuilt from findings after a kill (their checks are not counted). */
  readonly recovered: number;
}

const round = (x: number, d = 4): number => Math.round(x * 10 ** d) / 10 ** d;

function sortedRecord(m: Map<string, number>): Record<string, number> {
  const o: Record<string, number> = {};
  for (const k of [...m.keys()].sort()) o[k] = m.get(k)!;
  return o;
}

/** Read c8's coverage-summary.json from `<dir>/coverage`, if the run collected coverage. */
export function readCodeCoverage(dir: string): CodeCoverage | null {
  const p = join(dir, "coverage", "coverage-summary.json");
  if (!existsSync(p)) return null;
  type T = { total: number; covered: number; pct: number | string };
  type E = { lines: T; statements: T; functions: T; branches: T };
  const j = JSON.parse(readFileSync(p, "utf8")) as Record<string, E>;
  const tot = (t: T): CoverageTotal => ({ total: t.total, covered: t.covered, pct: typeof t.pct === "number" ? t.pct : 0 });
  const root = process.cwd();
  const files = Object.entries(j)
    .filter(([k]) => k !== "total")
    .map(([k, e]) => ({ file: k.startsWith(root) ? k.slice(root.length + 1) : k, lines: e.lines.total, linesCovered: e.lines.covered, pct: tot(e.lines).pct }))
    .sort((a, b) => (a.file < b.file ? -1 : 1));
  return { lines: tot(j.total.lines), statements: tot(j.total.statements), functions: tot(j.total.functions), branches: tot(j.total.branches), files, lcov: "coverage/lcov.info" };
}

/** Summarise a run directory against a regression corpus. */
export function summarize(dirOrData: string | RunData, corpus: Corpus): RunSummary {
  const data = typeof dirOrData === "string" ? loadRun(dirOrData) : dirOrData;
  const { config, cases, findings, dir } = data;
  const state = readState(dir);
  const props: readonly PropertyName[] = config.properties ?? PROPERTY_NAMES;

  const outcomes = new Map<string, number>();
  const checks: Record<string, Record<CheckStatus, number>> = {};
  for (const p of PROPERTY_NAMES) checks[p] = { pass: 0, fail: 0, inconclusive: 0, error: 0 };
  const opList: readonly string[] = config.ops ?? CASE_OPS;
  const opIndex = new Map(opList.map((o, i) => [o, i]));
  const ran = opList.map(() => PROPERTY_NAMES.map(() => 0));
  const inc = opList.map(() => PROPERTY_NAMES.map(() => 0));
  const features = new Map<string, Map<string, number>>();
  let recovered = 0;
  for (const r of cases) {
    outcomes.set(r.o, (outcomes.get(r.o) ?? 0) + 1);
    if (r.r === 1) recovered++;
    const st = decodeChecks(r.c);
    for (const [p, s] of Object.entries(st) as [PropertyName, CheckStatus][]) {
      checks[p][s]++;
      const pj = PROPERTY_NAMES.indexOf(p);
      for (const op of r.ops) {
        const oi = opIndex.get(op);
        if (oi === undefined) continue;
        ran[oi][pj]++;
        if (s === "inconclusive") inc[oi][pj]++;
      }
    }
    const opsCat = features.get("ops") ?? new Map<string, number>();
    features.set("ops", opsCat);
    for (const op of r.ops) opsCat.set(op, (opsCat.get(op) ?? 0) + 1);
    for (const [cat, keys] of Object.entries(r.f)) {
      const m = features.get(cat) ?? new Map<string, number>();
      features.set(cat, m);
      for (const [k, n] of Object.entries(keys)) m.set(k, (m.get(k) ?? 0) + n);
    }
  }
  const propCat = new Map<string, number>();
  for (const p of props) propCat.set(p, Object.values(checks[p]).reduce((a, b) => a + b, 0));
  features.set("properties", propCat);

  const universe: Record<string, readonly string[]> = { ...(state?.universe ?? {}), ops: opList, properties: props };
  const featureOut: Record<string, FeatureCategory> = {};
  for (const cat of [...new Set([...features.keys(), ...Object.keys(universe)])].sort()) {
    const counts = features.get(cat) ?? new Map<string, number>();
    const never = (universe[cat] ?? []).filter((k) => !counts.get(k)).slice().sort();
    featureOut[cat] = { counts: sortedRecord(counts), never };
  }

  const inconclusiveByProperty: Record<string, number> = {};
  const perOracle = new Map<string, { inc: number; n: number }>();
  for (const p of props) {
    const c = checks[p];
    const n = c.pass + c.fail + c.inconclusive + c.error;
    inconclusiveByProperty[p] = n === 0 ? 0 : round(c.inconclusive / n);
    const o = perOracle.get(ORACLE_OF[p]) ?? { inc: 0, n: 0 };
    o.inc += c.inconclusive;
    o.n += n;
    perOracle.set(ORACLE_OF[p], o);
  }
  const inconclusive: Record<string, number> = {};
  for (const k of [...perOracle.keys()].sort()) inconclusive[k] = perOracle.get(k)!.n === 0 ? 0 : round(perOracle.get(k)!.inc / perOracle.get(k)!.n);

  const counts = new Map<string, number>();
  for (const f of findings) counts.set(f.signature, (counts.get(f.signature) ?? 0) + 1);
  const signatures: SignatureSummary[] = [...representatives(findings)].map(([signature, f]) => {
    const stem = signatureFileStem(signature);
    const metaPath = join(dir, RUN_FILES.repros, `${stem}.meta.json`);
    const meta = existsSync(metaPath) ? (JSON.parse(readFileSync(metaPath, "utf8")) as ReproMeta) : null;
    return {
      signature, count: counts.get(signature)!, status: isKnown(corpus, signature) && meta?.fixedRegression === undefined ? "known" : "new",
      reproCase: meta ? `${RUN_FILES.repros}/${stem}.json` : null,
      reproSnippet: meta ? `${RUN_FILES.repros}/${stem}.ts` : null,
      property: f.property, failureClass: f.failureClass, failingOp: f.failingOp, errorClass: f.errorClass,
      index: f.index, seed: f.seed, path: f.path, reason: f.reason, shrunk: meta?.shrunk ?? false,
      ...(meta?.note !== undefined ? { note: meta.note } : meta?.fixedRegression !== undefined ? { note: `the signature of ${meta.fixedRegression} in the regression corpus, which no longer fails with it: that bug is back, or another bug shares its signature` } : {}),
    };
  });
  // New first, then by count (descending), then by name: the morning read starts at the top.
  signatures.sort((a, b) => (a.status === b.status ? 0 : a.status === "new" ? -1 : 1) || b.count - a.count || (a.signature < b.signature ? -1 : 1));

  const durationMs = cases.reduce((m, r) => Math.max(m, r.t), 0);
  const bucketMs = Math.max(1000, Math.ceil(durationMs / 60 / 1000) * 1000);
  const buckets = new Map<number, number>();
  for (const r of cases) {
    const b = Math.floor(r.t / bucketMs);
    buckets.set(b, (buckets.get(b) ?? 0) + 1);
  }
  const nb = Math.ceil(durationMs / bucketMs);
  const throughput = Array.from({ length: nb }, (_, b) => ({ tS: round(((b + 1) * bucketMs) / 1000, 1), casesPerSecond: round((buckets.get(b) ?? 0) / (bucketMs / 1000), 2) }));

  const newSigs = signatures.filter((s) => s.status === "new");
  return {
    format: "xgrad-run/1",
    seed: config.seed,
    cases: cases.length,
    findings: findings.length,
    durationS: round(durationMs / 1000, 2),
    casesPerSecond: durationMs === 0 ? 0 : round(cases.length / (durationMs / 1000), 2),
    signatures,
    inconclusive,
    backend: state?.backend ?? "unknown",
    coverage: { code: readCodeCoverage(dir), features: featureOut },
    status: state?.status ?? "unknown",
    newSignatures: newSigs.length,
    newFindings: newSigs.reduce((a, s) => a + s.count, 0),
    budget: config.budget,
    shard: config.shard,
    properties: props,
    ops: config.ops,
    caseTimeoutS: config.caseTimeoutS,
    maxMemoryMb: config.maxMemoryMb,
    startedAt: config.startedAt,
    ...(config.mergedFrom !== undefined ? { mergedFrom: config.mergedFrom } : {}),
    outcomes: sortedRecord(outcomes),
    checks: Object.fromEntries(props.map((p) => [p, checks[p]])),
    inconclusiveByProperty,
    heatmap: { ops: opList, properties: [...PROPERTY_NAMES], ran, inconclusive: inc },
    throughput,
    recovered,
  };
}
