/**
 * The fuzz loop: run the cases of a seed stream through the worker pool, journal every result
 * as it arrives, and resume exactly where a killed run stopped.
 *
 * Resume protocol. Case i is a pure function of (seed, i) (see CaseRunner.generate), so a run is
 * fully described by run.json plus the *set* of indices already done, which is read back from
 * the journals (journal.ts). A resumed run dispatches, in index order, every index of its
 * (shard's) stream that is not in that set: the gaps left by cases in flight at the kill first,
 * then the rest. A case whose result reached the journal is never run again; a case that was in
 * flight is run again (it never finished). A finding whose journal line a kill cut off counts
 * as done (its case line is rebuilt from the finding), so no finding is ever lost or doubled.
 * The time budget counts active time summed over sessions.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { XgradError } from "../errors.js";
import { WorkerPool } from "./pool.js";
import type { TaskResult, WorkerInfo } from "./pool.js";
import { checkSaved, findingsOf, replayCommand, signatureFileStem } from "./triage.js";
import type { CaseOutcome } from "./triage.js";
import {
  JournalWriter, RUN_FILES, encodeChecks, loadRun, readState, writeConfig, writeFileAtomic, writeState,
} from "./journal.js";
import type { CaseRecord, RunConfig, Shard } from "./journal.js";
import type { Finding } from "../../properties/types.js";
import { corpusFor, expectedFailureFor, isKnown } from "./corpus.js";
import { readCase } from "../case/parse.js";
import type { Corpus } from "./corpus.js";

/** How the loop reports progress (for the progress bar). */
export interface Progress {
  /** Cases of this run (shard) done, previous sessions included. */
  readonly done: number;
  /** Cases of this run (shard) in total, for a case budget. */
  readonly total: number | null;
  readonly findings: number;
  /** Active time, previous sessions included, ms. */
  readonly elapsedMs: number;
  /** The time budget, ms, for a time budget. */
  readonly budgetMs: number | null;
  /** This session's throughput. */
  readonly casesPerSecond: number;
}

/** Options of {@link runFuzz}. */
export interface FuzzOptions {
  readonly dir: string;
  /** For a new run: its configuration. For a resumed run: read from dir (budget may be overridden). */
  readonly config: RunConfig;
  readonly resume: boolean;
  readonly workers: number;
  readonly runnerModule: string;
  /** Extra worker environment (coverage). */
  readonly env?: Readonly<Record<string, string>>;
  readonly onProgress?: (p: Progress) => void;
  /** Abort: stop dispatching, kill workers; the journal keeps what finished. */
  readonly signal?: AbortSignal;
  /** Per-signature shrink time limit, ms (default 60 s). */
  readonly shrinkTimeoutMs?: number;
  /** The regression corpus: known signatures are not shrunk. */
  readonly corpus: Corpus;
}

/** What a session did. */
export interface FuzzResult {
  readonly status: "complete" | "interrupted";
  readonly casesThisSession: number;
  readonly info: WorkerInfo;
}

/** The global case indices of a shard's stream, in order. */
export function* shardStream(shard: Shard | null, limit: number | null): Generator<number> {
  const first = shard === null ? 0 : shard.index - 1;
  const step = shard === null ? 1 : shard.count;
  for (let i = first; limit === null || i < limit; i += step) yield i;
}

/** How many indices below `limit` a shard owns. */
export function shardSize(shard: Shard | null, limit: number): number {
  if (shard === null) return limit;
  return Math.max(0, Math.ceil((limit - (shard.index - 1)) / shard.count));
}

function outcomeKind(o: CaseOutcome): CaseRecord["o"] {
  return o.kind === "checked" ? (o.ok ? "ok" : "fail") : o.kind;
}

/** Run (or resume) the case loop, then shrink one representative per new signature. */
export async function runFuzz(opts: FuzzOptions): Promise<FuzzResult> {
  const { dir } = opts;
  let config = opts.config;
  mkdirSync(dir, { recursive: true });
  let prior: CaseRecord[] = [];
  let priorFindings: Finding[] = [];
  if (opts.resume) {
    const data = loadRun(dir);
    config = { ...data.config, budget: opts.config.budget };
    prior = data.cases;
    priorFindings = data.findings;
  } else {
    if (existsSync(join(dir, RUN_FILES.config))) throw new XgradError(`${dir} already holds a run; use --resume ${dir} to continue it, or another --out`);
  }
  writeConfig(dir, config);

  const done = new Set(prior.map((r) => r.i));
  const writer = new JournalWriter(dir);
  // Findings whose case line a kill cut off: the case is done; rebuild its line from them.
  const offsetMs = prior.reduce((m, r) => Math.max(m, r.t), 0);
  const orphans = new Map<number, Finding[]>();
  for (const f of priorFindings) if (!done.has(f.index)) orphans.set(f.index, [...(orphans.get(f.index) ?? []), f]);
  for (const [i, fs] of [...orphans].sort((a, b) => a[0] - b[0])) {
    const o: CaseRecord["o"] = fs[0].failureClass === "timeout" || fs[0].failureClass === "oom" ? fs[0].failureClass : fs[0].property === "harness" ? "crash" : "fail";
    writer.append({ i, t: offsetMs, ms: 0, o, n: fs.length, c: encodeChecks([]), ops: [], f: {}, r: 1 }, []);
    done.add(i);
  }

  const caseLimit = "cases" in config.budget ? config.budget.cases : null;
  const budgetMs = "timeS" in config.budget ? config.budget.timeS * 1000 : null;
  const total = caseLimit === null ? null : shardSize(config.shard, caseLimit);
  let doneCount = caseLimit === null ? done.size : [...done].filter((i) => i < caseLimit).length;
  let findings = priorFindings.length;
  let sessionCases = 0;

  const pool = new WorkerPool({
    size: opts.workers,
    runnerModule: opts.runnerModule,
    caseTimeoutMs: config.caseTimeoutS * 1000,
    maxMemoryMb: config.maxMemoryMb,
    env: opts.env,
    stderrLog: join(dir, RUN_FILES.stderr),
  });
  const prevState = readState(dir);
  let info: WorkerInfo;
  try {
    info = await pool.start();
  } catch (e) {
    writer.close();
    pool.terminate();
    throw e;
  }
  const state = { backend: info.backend, workers: opts.workers, universe: info.universe, sessions: (prevState?.sessions ?? 0) + 1 };
  writeState(dir, { status: "running", ...state, workerRespawns: prevState?.workerRespawns ?? 0 });

  const start = performance.now();
  const active = (): number => offsetMs + (performance.now() - start);
  const stream = shardStream(config.shard, caseLimit);
  const next = (): number | null => {
    for (;;) {
      const r = stream.next();
      if (r.done) return null;
      if (!done.has(r.value)) return r.value;
    }
  };
  let aborted = opts.signal?.aborted ?? false;
  const onAbort = (): void => {
    aborted = true;
    pool.terminate();
  };
  opts.signal?.addEventListener("abort", onAbort);
  const report = (): void =>
    opts.onProgress?.({
      done: doneCount, total, findings, elapsedMs: active(), budgetMs,
      casesPerSecond: sessionCases / Math.max(1e-3, (performance.now() - start) / 1000),
    });
  const tick = setInterval(report, 250);

  const record = (i: number, r: TaskResult): void => {
    const cores = findingsOf(r.outcome);
    const fs: Finding[] = cores.map((c) => ({
      index: i, seed: config.seed, path: r.generated?.path ?? "", property: c.property, failureClass: c.failureClass,
      failingOp: c.failingOp, errorClass: c.errorClass, signature: c.signature, reason: c.reason, case: r.generated?.caseText ?? "",
    }));
    const checks = r.outcome.kind === "checked" ? r.outcome.checks : [];
    writer.append({
      i, t: Math.round(active()), ms: Math.round(r.ms * 10) / 10, o: outcomeKind(r.outcome), n: fs.length,
      c: encodeChecks(checks), ops: r.generated?.ops ?? [], f: r.features,
    }, fs);
    done.add(i);
    doneCount++;
    sessionCases++;
    findings += fs.length;
  };

  const lane = async (): Promise<void> => {
    while (!aborted) {
      if (budgetMs !== null && active() >= budgetMs) return;
      const i = next();
      if (i === null) return;
      const r = await pool.run({ kind: "fuzz", seed: config.seed, index: i, ops: config.ops, properties: config.properties });
      if (aborted) return; // killed by the abort, not by the case: it never finished
      record(i, r);
    }
  };
  try {
    await Promise.all(Array.from({ length: opts.workers }, lane));
    report();
    if (!aborted) await shrinkSignatures(dir, pool, opts.corpus, opts.shrinkTimeoutMs ?? 60_000, () => aborted);
  } finally {
    clearInterval(tick);
    opts.signal?.removeEventListener("abort", onAbort);
    writer.close();
    if (aborted) pool.terminate();
    else await pool.close();
  }
  const status = aborted ? "interrupted" : "complete";
  writeState(dir, { status, ...state, workerRespawns: (prevState?.workerRespawns ?? 0) + pool.spawned - opts.workers });
  return { status, casesThisSession: sessionCases, info };
}

/** Metadata of a repro (`repros/<stem>.meta.json`). */
export interface ReproMeta {
  readonly signature: string;
  /** The case index the repro was made from (the signature's first finding). */
  readonly index: number;
  readonly shrunk: boolean;
  /** Why it was not shrunk, when it was not. */
  readonly note?: string;
  /**
   * The corpus file saved for this signature that no longer fails with it: the bug it records is
   * fixed, so this finding is new (the bug is back, or another bug shares its signature).
   */
  readonly fixedRegression?: string;
}

/** The representative (first by index) finding of each signature, in signature order. */
export function representatives(findings: readonly Finding[]): Map<string, Finding> {
  const reps = new Map<string, Finding>();
  for (const f of findings) {
    const r = reps.get(f.signature);
    if (r === undefined || f.index < r.index) reps.set(f.signature, f);
  }
  return new Map([...reps].sort((a, b) => (a[0] < b[0] ? -1 : 1)));
}

/**
 * The corpus file that records `signature` as a fixed bug, or null: a file saved for it, not
 * listed as an expected failure, that no longer fails with it when replayed in a worker. A
 * signature is coarse (property, failure class, first failing op, error class), so a finding
 * with the signature of a fixed regression is the same bug back or another bug, new either way:
 * seed 1818 case 246, a pushforward bug, was reported known after a fixed `values` regression of
 * the same signature, and left unshrunk. A saved repro that still fails (a bug not yet fixed,
 * `--save-regressions`) and an expected failure keep the signature known; so does a file that
 * is not a valid case (replay reports it).
 */
async function fixedRegression(corpus: Corpus, signature: string, pool: WorkerPool, timeoutMs: number): Promise<string | null> {
  const saved = corpusFor(corpus, signature);
  if (saved.expected) return null;
  const files = saved.files.filter((e) => expectedFailureFor(corpus, e) === undefined);
  if (files.length === 0) return null;
  for (const e of files) {
    try {
      readCase(e.text, e.file);
    } catch {
      return null;
    }
    const outcome = await checkSaved(e.text, signature, async (caseText, properties) => (await pool.run({ kind: "check", caseText, properties }, { timeoutMs })).outcome);
    if (outcome.kind !== "checked" || findingsOf(outcome).some((x) => x.signature === signature)) return null;
  }
  return files[0].file;
}

/**
 * Write `repros/<stem>.{json,ts,meta.json}` for every signature that has none yet: shrunk for
 * new signatures the in-process shrinker can judge; the representative case as found for known
 * ones and for timeouts, out-of-memory and harness crashes (a shrinker cannot re-judge those
 * inside one process). A shrink that crashes or overruns its limit keeps the original case.
 */
export async function shrinkSignatures(dir: string, pool: WorkerPool, corpus: Corpus, timeoutMs: number, stop: () => boolean): Promise<void> {
  const { findings, config } = loadRun(dir);
  const reproDir = join(dir, RUN_FILES.repros);
  mkdirSync(reproDir, { recursive: true });
  const jobs = [...representatives(findings)].map(async ([signature, f]) => {
    const stem = signatureFileStem(signature);
    const metaPath = join(reproDir, `${stem}.meta.json`);
    if (existsSync(metaPath)) {
      const meta = JSON.parse(readFileSync(metaPath, "utf8")) as ReproMeta;
      if (meta.index === f.index) return; // done by an earlier session
    }
    if (stop()) return;
    const fixed = f.case !== "" && isKnown(corpus, signature) ? await fixedRegression(corpus, signature, pool, timeoutMs) : null;
    if (stop()) return;
    let note: string | undefined;
    if (f.case === "") note = "the case could not be generated";
    else if (isKnown(corpus, signature) && fixed === null) note = "known signature: not shrunk";
    else if (f.failureClass === "timeout" || f.failureClass === "oom" || f.property === "harness") note = `a ${f.property === "harness" ? "harness crash" : f.failureClass} cannot be re-judged by the in-process shrinker`;
    let caseText = f.case;
    let snippet = "";
    let shrunk = false;
    if (f.case !== "") {
      const origin = f.path.includes(":") ? { origin: { path: f.path, ops: config.ops } } : {};
      const r = await pool.run({ kind: "shrink", caseText: f.case, signature, minimise: note === undefined, ...origin }, { timeoutMs });
      if (stop()) return;
      if (r.shrunk !== undefined) {
        caseText = r.shrunk.caseText;
        snippet = r.shrunk.snippet;
        shrunk = note === undefined;
      } else if (note === undefined) {
        const o = r.outcome;
        note = `shrinking failed: ${o.kind === "crash" ? `${o.errorClass}: ${o.message}` : o.kind === "timeout" ? `no result within ${o.limitMs / 1000} s` : o.kind}`;
      }
    }
    if (snippet === "") snippet = `// ${signature}\n// ${note ?? ""}\n// Replay: ${replayCommand(`${stem}.json`, signature)}\n`;
    writeFileSync(join(reproDir, `${stem}.json`), caseText);
    writeFileSync(join(reproDir, `${stem}.ts`), snippet);
    const meta: ReproMeta = { signature, index: f.index, shrunk, ...(note !== undefined ? { note } : {}), ...(fixed !== null ? { fixedRegression: fixed } : {}) };
    writeFileAtomic(metaPath, `${JSON.stringify(meta, null, 2)}\n`);
  });
  await Promise.all(jobs);
}
