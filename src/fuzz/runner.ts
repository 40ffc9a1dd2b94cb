/**
 * The seam between the product shell (CLI, worker pool, findings log, reports) and the harness
 * (generators, properties, shrinker). The shell only ever talks to a {@link CaseRunner}; the real
 * one is assembled in `src/cli/wiring.ts`, tests use a deterministic fake. A runner lives in a
 * *runner module*: any ES module exporting `createRunner()`, loaded by path inside each worker
 * process, so the shell never imports the harness directly and a broken harness can only take
 * down a worker, never the run.
 */
import { pathToFileURL } from "node:url";
import type { ShrinkOrigin } from "./protocol.js";
import { resolve } from "node:path";
import { XgradError } from "../errors.js";
import type { Case } from "../case/format.js";
import type { PropertyName, Verdict } from "../../properties/types.js";

/**
 * Opaque feature counters (`category → key → count`), e.g. `rewrites → local_mul_canonizer → 3`.
 * The shell sums them over the run and names keys of the runner's universe that stayed at zero.
 */
export type FeatureCounts = Record<string, Record<string, number>>;

/** Where a runner reports features while it generates or checks a case. */
export interface FeatureSink {
  /** Add `n` (default 1) to `category/key`. */
  add(category: string, key: string, n?: number): void;
}

/** What a run asks of the generator. */
export interface GenerateOptions {
  /** Restrict generated graphs to these case ops (null: every op). */
  readonly ops: readonly string[] | null;
  /** Feature counters (generator statistics: dims patterns, strategies...). */
  readonly features?: FeatureSink;
}

/** What a run asks of the checker. */
export interface CheckOptions {
  /** Run only these properties (null: all of them). */
  readonly properties: readonly PropertyName[] | null;
  /** Feature counters (rewrites fired, DestroyHandler paths, strategies...). */
  readonly features?: FeatureSink;
  /**
   * Optional: the runner may announce the property it is about to run, so that a hang or an
   * out-of-memory is attributed to that property instead of to the harness.
   */
  readonly onStage?: (property: PropertyName) => void;
}

/** A shrunk repro: the minimal case and a ready-to-paste TypeScript snippet that builds it. */
export interface ShrinkResult {
  readonly case: Case;
  readonly snippet: string;
}

/** Everything the shell needs from the harness. */
export interface CaseRunner {
  /**
   * Case `index` of the stream of run seed `seed`. Must be a pure function of (seed, index,
   * opts.ops): this is what makes runs deterministic, shardable and resumable independently of
   * worker count and timing. `path` is what replays it (fast-check seed/path).
   */
  generate(seed: number, index: number, opts: GenerateOptions): { case: Case; path: string } | Promise<{ case: Case; path: string }>;
  /** Run the properties on one case; exceptions inside a property are `error` checks. */
  check(c: Case, opts: CheckOptions): Promise<Verdict> | Verdict;
  /** Minimise a failing case while keeping the failure's signature. */
  /**
   * Minimise a failing case keeping `signature`. `origin` (fuzz findings only) lets the runner
   * first shrink the generator's recipe from the recorded path, then the graph.
   */
  shrink?(c: Case, signature: string, origin?: ShrinkOrigin): Promise<ShrinkResult>;
  /** A TypeScript snippet building `c` with the public API (used when a case is not shrunk). */
  snippet?(c: Case): string;
  /** The tfjs backend the oracle uses ("cpu", "tensorflow", ...). */
  backend?(): string | Promise<string>;
  /** Every key each feature category could take, so the report can name the ones never hit. */
  featureUniverse?(): Record<string, readonly string[]>;
}

/** The contract of a runner module. */
export interface RunnerModule {
  createRunner(): CaseRunner | Promise<CaseRunner>;
}

/** The real runner module (the wiring of the harness). */
export const DEFAULT_RUNNER_MODULE = new URL("../cli/wiring.ts", import.meta.url).pathname;

/**
 * The runner module to use: `$XGRAD_RUNNER` when set (tests and harness development point it at
 * another module), else the real wiring. Returned as an absolute path so workers agree with it.
 */
export function runnerModulePath(env: NodeJS.ProcessEnv = process.env): string {
  const m = env.XGRAD_RUNNER;
  return m !== undefined && m !== "" ? resolve(m) : DEFAULT_RUNNER_MODULE;
}

/** Import a runner module and create its runner; any failure becomes a one-line XgradError. */
export async function loadRunner(modulePath: string): Promise<CaseRunner> {
  let mod: Partial<RunnerModule>;
  try {
    mod = (await import(pathToFileURL(modulePath).href)) as Partial<RunnerModule>;
  } catch (e) {
    throw new XgradError(`cannot load the case runner ${modulePath}: ${oneLine(e)}`);
  }
  if (typeof mod.createRunner !== "function") throw new XgradError(`${modulePath} does not export createRunner()`);
  try {
    return await mod.createRunner();
  } catch (e) {
    if (e instanceof XgradError) throw e;
    throw new XgradError(`cannot create the case runner: ${oneLine(e)}`);
  }
}

/** A thrown value as `Class: message` on one line. */
export function oneLine(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`.replace(/\s*\n\s*/g, " ");
  return String(e).replace(/\s*\n\s*/g, " ");
}

/** A FeatureSink writing into a plain counts object. */
export function featureSink(into: FeatureCounts): FeatureSink {
  return {
    add(category, key, n = 1) {
      const cat = (into[category] ??= Object.create(null) as Record<string, number>);
      cat[key] = (cat[key] ?? 0) + n;
    },
  };
}
