/**
 * Code coverage of the engine during a run (`--coverage`): workers run with NODE_V8_COVERAGE
 * pointing at `<run>/coverage/tmp`; V8 writes one raw profile per worker process when it exits
 * normally (a worker killed for a timeout or an out-of-memory loses its profile). Afterwards c8
 * maps the profiles back to the TypeScript sources (tsx's source maps) and writes
 * `coverage/lcov.info` and `coverage/coverage-summary.json` for the engine, `src/` minus the
 * shell (`src/cli`, `src/fuzz`). V8 block coverage slowed the real harness by ~40% (20 cases, 2 workers: 6.1 s → 8.5 s); it is off
 * by default and the nightly workflow turns it on.
 */
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { XgradError } from "../errors.js";

/** The package root (where `src/` lives): c8's include globs are relative to it. */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Raw V8 profile directory of a run. */
export function coverageTmpDir(runDir: string): string {
  return join(resolve(runDir), "coverage", "tmp");
}

/** The worker environment that turns V8 coverage on. */
export function coverageEnv(runDir: string): Record<string, string> {
  const tmp = coverageTmpDir(runDir);
  mkdirSync(tmp, { recursive: true });
  return { NODE_V8_COVERAGE: tmp };
}

/** Run `c8 report` over the run's raw profiles; returns false when there are none. */
export function reportCoverage(runDir: string): boolean {
  const tmp = coverageTmpDir(runDir);
  if (!existsSync(tmp) || readdirSync(tmp).length === 0) return false;
  let c8: string;
  try {
    c8 = join(dirname(createRequire(import.meta.url).resolve("c8/package.json")), "bin", "c8.js");
  } catch {
    throw new XgradError("--coverage needs c8 (a dev dependency): run npm install in the xgrad checkout");
  }
  const out = join(resolve(runDir), "coverage");
  const r = spawnSync(process.execPath, [
    c8, "report", "--temp-directory", tmp, "--report-dir", out,
    "--reporter", "lcov", "--reporter", "json-summary",
    "--include", "src/**", "--exclude", "src/cli/**", "--exclude", "src/fuzz/**",
    "--exclude-node-modules", "--all", "false",
  ], { cwd: PACKAGE_ROOT, encoding: "utf8" });
  if (r.status !== 0) throw new XgradError(`c8 report failed: ${(r.stderr || r.stdout || "").trim().split("\n").pop() ?? ""}`);
  return true;
}
