/**
 * A pool of worker *processes* (child_process.fork), one case at a time each.
 *
 * Why processes rather than worker_threads: a case can hang in a synchronous loop, exhaust the
 * heap, blow the stack of a native addon (tfjs-node) or allocate gigabytes of typed arrays,
 * which live outside the V8 heap that `resourceLimits` caps. A process gives all of these one
 * cure, SIGKILL, and one clean restart, and its death cannot corrupt the parent's state. The
 * price is a ~0.3 s respawn after each crash/timeout/oom and an IPC round trip per case
 * (measured in test/fuzz/pool.test.ts), which is small next to a case's check.
 *
 * Limits per case: a wall-clock time limit (SIGKILL, `timeout`), a V8 heap cap
 * (`--max-old-space-size`; V8 aborts with "heap out of memory", seen on stderr → `oom`), and a
 * resident-set watchdog at twice the heap cap plus 256 MB (for off-heap typed arrays, which the heap cap
 * does not see; Linux /proc only → `oom`).
 */
import { fork } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { appendFileSync, readFileSync } from "node:fs";
import { XgradError } from "../errors.js";
import type { FromWorker, Task, ToWorker } from "./protocol.js";
import type { CaseOutcome } from "./triage.js";
import type { FeatureCounts } from "./runner.js";
import type { PropertyName } from "../../properties/types.js";

/** Pool settings. */
export interface PoolOptions {
  /** Number of worker processes. */
  readonly size: number;
  /** Absolute path of the runner module each worker loads. */
  readonly runnerModule: string;
  /** Per-task wall-clock limit. */
  readonly caseTimeoutMs: number;
  /** V8 heap cap per worker, MB; the resident-set limit is {@link rssLimitMb} of it. */
  readonly maxMemoryMb: number;
  /** Extra environment for workers (e.g. NODE_V8_COVERAGE). */
  readonly env?: Readonly<Record<string, string>>;
  /** Append the stderr of workers that died abnormally to this file. */
  readonly stderrLog?: string;
  /** How long a worker may take to load the runner (default 120 s). */
  readonly startupTimeoutMs?: number;
}

/** What a task produced. */
export interface TaskResult {
  readonly outcome: CaseOutcome;
  /** For `fuzz` tasks: the case, once generated (also present after a hang in the check). */
  readonly generated?: { readonly caseText: string; readonly path: string; readonly ops: readonly string[] };
  /** For `shrink` tasks that succeeded. */
  readonly shrunk?: { readonly caseText: string; readonly snippet: string };
  readonly features: FeatureCounts;
  /** Wall-clock time of the task in the worker, ms. */
  readonly ms: number;
}

/** What a worker said when it came up. */
export interface WorkerInfo {
  readonly backend: string;
  readonly universe: Record<string, readonly string[]>;
}

const WORKER_SCRIPT = new URL("./worker.ts", import.meta.url).pathname;
const TSX_LOADER = import.meta.resolve("tsx");
const OOM_RE = /heap out of memory|Reached heap limit|Allocation failed|invalid array length|Array buffer allocation failed/i;
const PAGE = 4096;

interface Pending {
  readonly id: number;
  readonly task: Task;
  generated?: TaskResult["generated"];
  stage?: PropertyName;
  readonly start: number;
  limitMs?: number;
  readonly resolve: (r: TaskResult) => void;
  timer?: NodeJS.Timeout;
  watch?: NodeJS.Timeout;
}

class Slot {
  child: ChildProcess | null = null;
  ready: Promise<WorkerInfo> | null = null;
  pending: Pending | null = null;
  stderrTail = "";
  /** Why we killed the current child (so its exit is not mistaken for a crash). */
  killedFor: "timeout" | "rss" | null = null;

  constructor(private readonly pool: WorkerPool, private readonly opts: PoolOptions) {}

  start(): Promise<WorkerInfo> {
    if (this.ready !== null) return this.ready;
    this.killedFor = null;
    this.stderrTail = "";
    const child = fork(WORKER_SCRIPT, [this.opts.runnerModule], {
      execArgv: ["--import", TSX_LOADER, `--max-old-space-size=${this.opts.maxMemoryMb}`, "--no-experimental-require-module", "--stack-size=2000"],
      stdio: ["ignore", "ignore", "pipe", "ipc"],
      env: { ...process.env, ...this.opts.env },
      serialization: "json",
    });
    this.child = child;
    this.pool.spawned++;
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (d: string) => {
      this.stderrTail = (this.stderrTail + d).slice(-8192);
    });
    this.ready = new Promise<WorkerInfo>((resolve, reject) => {
      const limit = this.opts.startupTimeoutMs ?? 120_000;
      const t = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new XgradError(`a worker did not start within ${limit / 1000} s`));
      }, limit);
      child.on("message", (m: FromWorker) => {
        if (m.t === "ready") {
          clearTimeout(t);
          resolve({ backend: m.backend, universe: m.universe });
        } else if (m.t === "fatal") {
          clearTimeout(t);
          reject(new XgradError(m.message));
        } else this.onMessage(m);
      });
      child.on("exit", (code, signal) => {
        clearTimeout(t);
        reject(new XgradError(`a worker exited while starting (${describeExit(code, signal)})${lastLine(this.stderrTail)}`));
        this.onExit(child, code, signal);
      });
      child.on("error", () => undefined);
    });
    // A start failure is reported to the caller of run(); keep Node from flagging it as unhandled.
    this.ready.catch(() => undefined);
    return this.ready;
  }

  run(id: number, task: Task, timeoutMs: number): Promise<TaskResult> {
    return new Promise<TaskResult>((resolve) => {
      const p: Pending = { id, task, start: performance.now(), resolve };
      this.pending = p;
      const child = this.child!;
      p.timer = setTimeout(() => this.kill("timeout"), timeoutMs);
      p.limitMs = timeoutMs;
      const rssLimit = rssLimitMb(this.opts.maxMemoryMb) * 1024 * 1024;
      if (process.platform === "linux" && child.pid !== undefined) {
        const statm = `/proc/${child.pid}/statm`;
        p.watch = setInterval(() => {
          try {
            const rss = Number(readFileSync(statm, "utf8").split(" ")[1]) * PAGE;
            if (rss > rssLimit) this.kill("rss");
          } catch {
            /* the process is gone; its exit handler reports it */
          }
        }, 200);
      }
      const msg: ToWorker = { t: "task", id, task };
      child.send(msg);
    });
  }

  private kill(why: "timeout" | "rss"): void {
    if (this.child === null || this.pending === null) return;
    this.killedFor = why;
    this.child.kill("SIGKILL");
  }

  private finish(outcome: CaseOutcome, extra: Partial<TaskResult> = {}): void {
    const p = this.pending;
    if (p === null) return;
    this.pending = null;
    clearTimeout(p.timer);
    clearInterval(p.watch);
    p.resolve({ outcome, generated: p.generated, features: {}, ms: performance.now() - p.start, ...extra });
  }

  private onMessage(m: FromWorker): void {
    const p = this.pending;
    if (p === null || !("id" in m) || m.id !== p.id) return;
    switch (m.t) {
      case "generated":
        p.generated = { caseText: m.caseText, path: m.path, ops: m.ops };
        break;
      case "stage":
        p.stage = m.property;
        break;
      case "checked":
        this.finish({ kind: "checked", checks: m.checks, ok: m.ok }, { features: m.features });
        break;
      case "shrunk":
        this.finish({ kind: "checked", checks: [], ok: true }, { shrunk: { caseText: m.caseText, snippet: m.snippet } });
        break;
      case "error":
        this.finish({ kind: "crash", errorClass: m.errorClass, message: m.message, ...(p.stage ? { stage: p.stage } : {}) });
        break;
    }
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child) return;
    this.child = null;
    this.ready = null;
    const p = this.pending;
    if (p === null) return;
    const stage = p.stage ? { stage: p.stage } : {};
    if (this.killedFor === "timeout") {
      this.finish({ kind: "timeout", limitMs: p.limitMs ?? this.opts.caseTimeoutMs, ...stage });
    } else if (this.killedFor === "rss") {
      this.finish({ kind: "oom", message: `worker resident memory exceeded ${rssLimitMb(this.opts.maxMemoryMb)} MB`, ...stage });
    } else if (OOM_RE.test(this.stderrTail)) {
      this.finish({ kind: "oom", message: `worker ran out of memory (V8 heap cap ${this.opts.maxMemoryMb} MB)`, ...stage });
    } else {
      this.finish({ kind: "crash", errorClass: "WorkerExit", message: `the worker process died (${describeExit(code, signal)})`, ...stage });
    }
    if (this.opts.stderrLog !== undefined && this.killedFor === null && this.stderrTail !== "") {
      try {
        appendFileSync(this.opts.stderrLog, `--- worker died (${describeExit(code, signal)}) during task ${JSON.stringify(p.task.kind === "fuzz" ? { index: p.task.index } : p.task.kind)}\n${this.stderrTail}\n`);
      } catch {
        /* best effort */
      }
    }
  }

  async close(): Promise<void> {
    const child = this.child;
    if (child === null) return;
    await new Promise<void>((res) => {
      const t = setTimeout(() => {
        child.kill("SIGKILL");
      }, 5000);
      child.once("exit", () => {
        clearTimeout(t);
        res();
      });
      if (child.connected) child.send({ t: "exit" } satisfies ToWorker);
      else child.kill("SIGKILL");
    });
  }
}

/** The resident-set limit for a heap cap: room for off-heap buffers and Node's own ~80 MB. */
export function rssLimitMb(heapMb: number): number {
  return heapMb * 2 + 256;
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal !== null ? `signal ${signal}` : `exit code ${code}`;
}

function lastLine(s: string): string {
  const l = s.trim().split("\n").pop();
  return l ? `: ${l.slice(0, 300)}` : "";
}

/** The pool. `run` may be called concurrently up to `size` times (more calls queue). */
export class WorkerPool {
  private readonly slots: Slot[];
  private readonly idle: Slot[];
  private readonly waiting: ((s: Slot) => void)[] = [];
  private nextId = 1;
  /** How many worker processes were started (respawns included). */
  spawned = 0;
  /** What the first worker reported. */
  info: WorkerInfo | null = null;

  constructor(private readonly opts: PoolOptions) {
    if (!(opts.size >= 1)) throw new XgradError(`a worker pool needs at least one worker, got ${opts.size}`);
    this.slots = Array.from({ length: opts.size }, () => new Slot(this, opts));
    this.idle = [...this.slots];
  }

  /** Start every worker now (reports a broken runner module before any case runs). */
  async start(): Promise<WorkerInfo> {
    const infos = await Promise.all(this.slots.map((s) => s.start()));
    this.info = infos[0];
    return infos[0];
  }

  /** Run one task on a free worker, (re)starting it if needed. Never rejects for a case's fault. */
  async run(task: Task, opts: { timeoutMs?: number } = {}): Promise<TaskResult> {
    const slot = this.idle.pop() ?? (await new Promise<Slot>((res) => this.waiting.push(res)));
    try {
      this.info ??= await slot.start();
      await slot.start();
      return await slot.run(this.nextId++, task, opts.timeoutMs ?? this.opts.caseTimeoutMs);
    } finally {
      const next = this.waiting.shift();
      if (next !== undefined) next(slot);
      else this.idle.push(slot);
    }
  }

  /** SIGKILL every worker now (an interrupted run); in-flight tasks end as crashes. */
  terminate(): void {
    for (const s of this.slots) s.child?.kill("SIGKILL");
  }

  /** Ask every worker to exit (flushing coverage); SIGKILL after 5 s. */
  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.close()));
  }
}
