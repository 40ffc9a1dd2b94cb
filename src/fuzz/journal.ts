/**
 * The run directory: everything a run knows, on disk, in a form that survives SIGKILL at any
 * instant.
 *
 * - `run.json`: the run's configuration (seed, budget, properties, ops, shard, limits), written
 *   once, atomically (temp file, fsync, rename).
 * - `findings.jsonl`: one {@link Finding} per line. All findings of a case are written with one
 *   `write(2)` and fsync'd before the case is journaled.
 * - `cases.jsonl`: the journal, one {@link CaseRecord} per *completed* case, in completion order.
 *   It is the single source of truth for progress: the cases done are exactly its indices (plus
 *   the indices of findings whose case line a kill cut off). Lines are written with one
 *   synchronous `write(2)` each, so they survive a SIGKILL of the process the moment they are
 *   written; fsync is batched (at most once a second) and only matters for power loss.
 * - `state.json`: status (`running`, `complete`, `interrupted`) and session count; informative.
 * - `repros/`: one minimal repro per signature (`<stem>.json`, `<stem>.ts`, `<stem>.meta.json`).
 *
 * Reading tolerates one torn (partial) last line per file, the only damage a kill can do; the
 * writer truncates it before appending again.
 */
import {
  closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync,
  writeSync, fstatSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { XgradError } from "../errors.js";
import { PROPERTY_NAMES } from "../../properties/types.js";
import type { CheckStatus, Finding, PropertyName } from "../../properties/types.js";
import type { FeatureCounts } from "./runner.js";

/** The case budget of a run: a number of cases, or a wall-clock time. */
export type Budget = { readonly cases: number } | { readonly timeS: number };

/** A shard: this process runs the global case indices i with i mod count == index - 1. */
export interface Shard {
  /** 1-based. */
  readonly index: number;
  readonly count: number;
}

/** `run.json`. */
export interface RunConfig {
  readonly format: "xgrad-runconfig/1";
  readonly seed: number;
  readonly budget: Budget;
  readonly properties: readonly PropertyName[] | null;
  readonly ops: readonly string[] | null;
  readonly shard: Shard | null;
  readonly caseTimeoutS: number;
  readonly maxMemoryMb: number;
  readonly coverage: boolean;
  /** ISO time the run was first started. */
  readonly startedAt: string;
  /** For merged runs: the shard run directories it was made from. */
  readonly mergedFrom?: readonly string[];
}

/** One line of `cases.jsonl`: one completed case. Field names are short: there is one per case. */
export interface CaseRecord {
  /** Global case index. */
  readonly i: number;
  /** Active run time at completion, ms (summed over resumed sessions). A timing. */
  readonly t: number;
  /** Time the case took in its worker, ms. A timing. */
  readonly ms: number;
  /** How it ended. */
  readonly o: "ok" | "fail" | "crash" | "timeout" | "oom";
  /** Number of findings it produced. */
  readonly n: number;
  /** Check statuses, one letter per PROPERTY_NAMES entry: p f i e, or - (not run). */
  readonly c: string;
  /** Distinct case ops. */
  readonly ops: readonly string[];
  /** Feature counters. */
  readonly f: FeatureCounts;
  /** 1 when rebuilt on resume from findings.jsonl (its checks were lost with the kill). */
  readonly r?: 1;
}

const STATUS_LETTER: Record<CheckStatus, string> = { pass: "p", fail: "f", inconclusive: "i", error: "e" };
const LETTER_STATUS: Record<string, CheckStatus> = { p: "pass", f: "fail", i: "inconclusive", e: "error" };

/** Encode check statuses as a CaseRecord `c` string. */
export function encodeChecks(checks: readonly { property: PropertyName; status: CheckStatus }[]): string {
  const out = PROPERTY_NAMES.map(() => "-");
  for (const k of checks) {
    const j = PROPERTY_NAMES.indexOf(k.property);
    if (j >= 0) out[j] = STATUS_LETTER[k.status];
  }
  return out.join("");
}

/** Decode a CaseRecord `c` string. */
export function decodeChecks(c: string): Partial<Record<PropertyName, CheckStatus>> {
  const out: Partial<Record<PropertyName, CheckStatus>> = {};
  for (let j = 0; j < PROPERTY_NAMES.length && j < c.length; j++) {
    const s = LETTER_STATUS[c[j]];
    if (s !== undefined) out[PROPERTY_NAMES[j]] = s;
  }
  return out;
}

export const RUN_FILES = {
  config: "run.json",
  cases: "cases.jsonl",
  findings: "findings.jsonl",
  state: "state.json",
  repros: "repros",
  stderr: "worker-stderr.log",
} as const;

/** Write a file atomically: temp file, fsync, rename (a reader sees the old or the new file). */
export function writeFileAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w");
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** Lines of a JSONL file; a torn last line (no trailing newline) is dropped. */
export function readJsonl<T>(path: string): { rows: T[]; goodBytes: number } {
  if (!existsSync(path)) return { rows: [], goodBytes: 0 };
  const buf = readFileSync(path);
  const end = buf.lastIndexOf(0x0a) + 1;
  const text = buf.subarray(0, end).toString("utf8");
  const rows: T[] = [];
  let lineNo = 0;
  for (const line of text.split("\n")) {
    lineNo++;
    if (line.trim() === "") continue;
    try {
      rows.push(JSON.parse(line) as T);
    } catch {
      throw new XgradError(`${path}:${lineNo}: not a JSON line (the file is damaged)`);
    }
  }
  return { rows, goodBytes: end };
}

/** Read `run.json`. */
export function readConfig(dir: string): RunConfig {
  const p = join(dir, RUN_FILES.config);
  if (!existsSync(p)) throw new XgradError(`${dir} is not an xgrad run directory (no ${RUN_FILES.config})`);
  let cfg: RunConfig;
  try {
    cfg = JSON.parse(readFileSync(p, "utf8")) as RunConfig;
  } catch (e) {
    throw new XgradError(`${p}: not valid JSON (${(e as Error).message})`);
  }
  if (cfg.format !== "xgrad-runconfig/1") throw new XgradError(`${p}: format: expected "xgrad-runconfig/1", got ${JSON.stringify(cfg.format)}`);
  return cfg;
}

/** Everything journaled in a run directory. */
export interface RunData {
  readonly dir: string;
  readonly config: RunConfig;
  /** Sorted by index; one per index. */
  readonly cases: CaseRecord[];
  /** Sorted by (index, property); one per (index, property). */
  readonly findings: Finding[];
}

function findingKey(f: Finding): string {
  return `${f.index}\u0000${f.property}\u0000${f.signature}`;
}

/** Load a run directory. Duplicates (a case re-run after a kill) count once. */
export function loadRun(dir: string): RunData {
  const config = readConfig(dir);
  const byIndex = new Map<number, CaseRecord>();
  for (const r of readJsonl<CaseRecord>(join(dir, RUN_FILES.cases)).rows) if (!byIndex.has(r.i)) byIndex.set(r.i, r);
  const seen = new Set<string>();
  const findings: Finding[] = [];
  for (const f of readJsonl<Finding>(join(dir, RUN_FILES.findings)).rows) {
    const k = findingKey(f);
    if (seen.has(k)) continue;
    seen.add(k);
    findings.push(f);
  }
  findings.sort((a, b) => a.index - b.index || cmp(a.property, b.property) || cmp(a.signature, b.signature));
  const cases = [...byIndex.values()].sort((a, b) => a.i - b.i);
  return { dir, config, cases, findings };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Appends to a run directory's journals. */
export class JournalWriter {
  private readonly casesFd: number;
  private readonly findingsFd: number;
  private dirty = false;
  private lastSync = 0;

  constructor(readonly dir: string) {
    this.casesFd = openTruncatingTornTail(join(dir, RUN_FILES.cases));
    this.findingsFd = openTruncatingTornTail(join(dir, RUN_FILES.findings));
  }

  /** Record a completed case: its findings first (fsync'd), then its journal line. */
  append(rec: CaseRecord, findings: readonly Finding[]): void {
    if (findings.length > 0) {
      writeSync(this.findingsFd, findings.map((f) => `${JSON.stringify(f)}\n`).join(""));
      fsyncSync(this.findingsFd);
    }
    writeSync(this.casesFd, `${JSON.stringify(rec)}\n`);
    this.dirty = true;
    const now = Date.now();
    if (now - this.lastSync > 1000) this.sync(now);
  }

  private sync(now = Date.now()): void {
    if (!this.dirty) return;
    fsyncSync(this.casesFd);
    this.dirty = false;
    this.lastSync = now;
  }

  close(): void {
    this.sync();
    closeSync(this.casesFd);
    closeSync(this.findingsFd);
  }
}

/** Open for append, first cutting a torn last line (a kill mid-write) so the next line starts clean. */
function openTruncatingTornTail(path: string): number {
  const fd = openSync(path, "a+");
  const size = fstatSync(fd).size;
  if (size > 0) {
    const { goodBytes } = readJsonl<unknown>(path);
    if (goodBytes < size) ftruncateSync(fd, goodBytes);
  }
  return fd;
}

/** `state.json`. */
export interface RunState {
  readonly status: "running" | "complete" | "interrupted";
  readonly sessions: number;
  readonly backend: string;
  readonly workers: number;
  readonly universe: Record<string, readonly string[]>;
  readonly workerRespawns: number;
}

export function readState(dir: string): RunState | null {
  const p = join(dir, RUN_FILES.state);
  if (!existsSync(p)) return null;
  try {
    return JSON.parse(readFileSync(p, "utf8")) as RunState;
  } catch {
    return null;
  }
}

export function writeState(dir: string, s: RunState): void {
  writeFileAtomic(join(dir, RUN_FILES.state), `${JSON.stringify(s, null, 2)}\n`);
}

export function writeConfig(dir: string, c: RunConfig): void {
  writeFileAtomic(join(dir, RUN_FILES.config), `${JSON.stringify(c, null, 2)}\n`);
}

