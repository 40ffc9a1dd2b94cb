/** Helpers for the CLI tests: run `main` in-process with the fake runner, capture output. */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { main } from "../../src/cli/main.js";

export const FAKE_RUNNER = new URL("../fuzz/fake-runner.ts", import.meta.url).pathname;
export const BIN = new URL("../../bin/xgrad.js", import.meta.url).pathname;

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** Run the CLI in this process with the fake runner; `plan` is the fake's FAKE_PLAN. */
export async function cli(args: string[], plan: object = {}): Promise<CliRun> {
  let out = "";
  let err = "";
  const prev = process.env.FAKE_PLAN;
  process.env.FAKE_PLAN = JSON.stringify(plan);
  try {
    const code = await main(args, {
      stdout: { write: (s: string) => (out += s), isTTY: false },
      stderr: { write: (s: string) => (err += s) },
      env: { ...process.env, XGRAD_RUNNER: FAKE_RUNNER },
    });
    return { code, out, err };
  } finally {
    if (prev === undefined) delete process.env.FAKE_PLAN;
    else process.env.FAKE_PLAN = prev;
  }
}

/** Run the real bin in a child process (exit codes, stack traces, signals). */
export function bin(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): CliRun {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd, encoding: "utf8", env: { ...process.env, XGRAD_RUNNER: FAKE_RUNNER, ...opts.env }, timeout: 60_000,
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

export function tmp(prefix = "xgrad-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function readJson<T = Record<string, unknown>>(p: string): T {
  return JSON.parse(readFileSync(p, "utf8")) as T;
}

/** Report contents with the timing parts set aside (see the renderers' comments). */
export function withoutTimings(file: string, text: string): string {
  if (file === "summary.json") {
    const s = JSON.parse(text) as Record<string, unknown>;
    for (const k of ["durationS", "casesPerSecond", "throughput", "startedAt"]) delete s[k];
    return JSON.stringify(s);
  }
  if (file === "report.md") return text.split("\n").filter((l) => !l.includes("<!-- timing -->")).join("\n");
  if (file === "report.html") return text.replace(/<!--timing-->[\s\S]*?<!--\/timing-->/g, "");
  if (file === "junit.xml") return text.replace(/ time="[^"]*"/g, "");
  return text;
}
