/**
 * `merge-reports`: combine the run directories of shards (`--shard i/n`, same seed) into one run
 * directory, as if one machine had run them all. Journals are concatenated (loadRun orders by
 * case index), each signature keeps the repro of its globally first finding (made by the shard
 * that owns that case), and the raw coverage profiles are pooled and re-reported. Durations are
 * the longest shard's (the shards ran in parallel), so cases/s is the combined throughput.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { XgradError } from "../errors.js";
import { loadRun, readState, RUN_FILES, writeConfig, writeState } from "./journal.js";
import type { RunConfig, RunData } from "./journal.js";
import { representatives } from "./fuzz.js";
import type { ReproMeta } from "./fuzz.js";
import { signatureFileStem } from "./triage.js";
import { coverageTmpDir, reportCoverage } from "./coverage.js";

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Merge shard runs `dirs` into the new directory `out`. */
export function mergeRuns(dirs: readonly string[], out: string): void {
  if (dirs.length === 0) throw new XgradError("merge-reports needs at least one run directory");
  if (existsSync(join(out, RUN_FILES.config))) throw new XgradError(`${out} already holds a run; choose another --out`);
  const runs: RunData[] = dirs.map((d) => loadRun(d));
  const c0 = runs[0].config;
  const shards = new Set<number>();
  runs.forEach((r, k) => {
    const c = r.config;
    const where = `${dirs[k]}: `;
    if (c.seed !== c0.seed) throw new XgradError(`${where}seed ${c.seed} differs from ${dirs[0]}'s seed ${c0.seed}`);
    if (!same(c.properties, c0.properties)) throw new XgradError(`${where}--properties differ from ${dirs[0]}'s`);
    if (!same(c.ops, c0.ops)) throw new XgradError(`${where}--ops differ from ${dirs[0]}'s`);
    if (("cases" in c.budget) !== ("cases" in c0.budget)) throw new XgradError(`${where}budget kind differs (--cases vs --time) from ${dirs[0]}'s`);
    if ((c.shard?.count ?? 1) !== (c0.shard?.count ?? 1)) throw new XgradError(`${where}shard count ${c.shard?.count ?? 1} differs from ${dirs[0]}'s ${c0.shard?.count ?? 1}`);
    const idx = c.shard?.index ?? 1;
    if (shards.has(idx)) throw new XgradError(`${where}shard ${idx} appears twice`);
    shards.add(idx);
  });
  mkdirSync(out, { recursive: true });
  const budget = "cases" in c0.budget
    ? { cases: Math.max(...runs.map((r) => ("cases" in r.config.budget ? r.config.budget.cases : 0))) }
    : { timeS: Math.max(...runs.map((r) => ("timeS" in r.config.budget ? r.config.budget.timeS : 0))) };
  const config: RunConfig = {
    ...c0, budget, shard: null, coverage: runs.some((r) => r.config.coverage),
    startedAt: runs.map((r) => r.config.startedAt).sort()[0], mergedFrom: dirs.map((d) => basename(d)),
  };
  writeConfig(out, config);
  writeFileSync(join(out, RUN_FILES.cases), runs.flatMap((r) => r.cases).sort((a, b) => a.i - b.i).map((r) => `${JSON.stringify(r)}\n`).join(""));
  const findings = runs.flatMap((r) => r.findings).sort((a, b) => a.index - b.index || (a.property < b.property ? -1 : a.property > b.property ? 1 : 0));
  writeFileSync(join(out, RUN_FILES.findings), findings.map((f) => `${JSON.stringify(f)}\n`).join(""));

  // Each signature's repro comes from the shard that owns its first finding.
  const reproOut = join(out, RUN_FILES.repros);
  mkdirSync(reproOut, { recursive: true });
  for (const [signature, f] of representatives(findings)) {
    const stem = signatureFileStem(signature);
    for (const r of runs) {
      const meta = join(r.dir, RUN_FILES.repros, `${stem}.meta.json`);
      if (!existsSync(meta) || (JSON.parse(readFileSync(meta, "utf8")) as ReproMeta).index !== f.index) continue;
      for (const ext of [".json", ".ts", ".meta.json"]) {
        const src = join(r.dir, RUN_FILES.repros, `${stem}${ext}`);
        if (existsSync(src)) copyFileSync(src, join(reproOut, `${stem}${ext}`));
      }
      break;
    }
  }

  const states = runs.map((r) => readState(r.dir));
  const universe: Record<string, string[]> = {};
  for (const s of states) for (const [k, v] of Object.entries(s?.universe ?? {})) universe[k] = [...new Set([...(universe[k] ?? []), ...v])].sort();
  const complete = states.every((s) => s?.status === "complete") && shards.size === (c0.shard?.count ?? 1);
  writeState(out, {
    status: complete ? "complete" : "interrupted",
    sessions: states.reduce((a, s) => a + (s?.sessions ?? 0), 0),
    backend: [...new Set(states.map((s) => s?.backend ?? "unknown"))].join(", "),
    workers: states.reduce((a, s) => a + (s?.workers ?? 0), 0),
    universe,
    workerRespawns: states.reduce((a, s) => a + (s?.workerRespawns ?? 0), 0),
  });

  // Pool the raw V8 profiles (uniquely named per process) and re-report.
  const tmpOut = coverageTmpDir(out);
  let any = false;
  for (const r of runs) {
    const tmp = coverageTmpDir(r.dir);
    if (!existsSync(tmp)) continue;
    mkdirSync(tmpOut, { recursive: true });
    for (const f of readdirSync(tmp)) {
      copyFileSync(join(tmp, f), join(tmpOut, f));
      any = true;
    }
  }
  if (any) reportCoverage(out);
}
