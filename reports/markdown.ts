/**
 * `report.md`: the morning read. New signatures first, each with its minimal repro inline;
 * then what the run covered and what it never exercised. Timings are confined to the lines
 * marked `<!-- timing -->` so that reports of two equal runs differ only there.
 */
import type { RunSummary } from "../src/fuzz/summary.js";
import { escapeMd, mdFence } from "./escape.js";
import { replayCommand } from "../src/fuzz/triage.js";

/** Repro files, read by the caller (so the renderer stays pure). */
export type ReproText = (relPath: string | null) => string | null;

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

function budgetText(s: RunSummary): string {
  return "cases" in s.budget ? `${s.budget.cases} cases` : `${s.budget.timeS} s`;
}

/** Render report.md. */
export function renderMarkdown(s: RunSummary, repro: ReproText): string {
  const L: string[] = [];
  const newSigs = s.signatures.filter((x) => x.status === "new");
  const known = s.signatures.filter((x) => x.status === "known");
  const verdict = newSigs.length === 0 ? "no new finding" : `${newSigs.length} new signature${newSigs.length === 1 ? "" : "s"} (${s.newFindings} findings)`;
  L.push(`# xgrad fuzz report: ${verdict}`, "");
  L.push(`- seed **${s.seed}**${s.shard ? `, shard ${s.shard.index}/${s.shard.count}` : ""}${s.mergedFrom ? `, merged from ${s.mergedFrom.length} runs` : ""}; budget ${budgetText(s)}; status ${s.status}`);
  L.push(`- ${s.cases} cases, ${s.findings} findings in ${s.signatures.length} signatures (${newSigs.length} new, ${known.length} known)`);
  L.push(`- ${s.durationS} s, ${s.casesPerSecond} cases/s <!-- timing -->`);
  L.push(`- properties: ${s.properties.map(escapeMd).join(", ")}; ops: ${s.ops === null ? "all" : s.ops.map(escapeMd).join(", ")}; tfjs backend: ${escapeMd(s.backend)}`);
  L.push(`- outcomes: ${Object.entries(s.outcomes).map(([k, v]) => `${escapeMd(k)} ${v}`).join(", ") || "none"}${s.recovered ? `; ${s.recovered} cases recovered from findings after a kill` : ""}`);
  L.push("");
  const sigSection = (title: string, list: typeof s.signatures): void => {
    L.push(`## ${title}`, "");
    if (list.length === 0) {
      L.push("None.", "");
      return;
    }
    L.push("| signature | count | first case | repro |", "|---|---|---|---|");
    for (const x of list) L.push(`| \`${x.signature.replace(/`/g, "'")}\` | ${x.count} | ${x.index} | ${x.reproCase ? `\`${x.reproCase.replace(/`/g, "'")}\`` : "—"}${x.shrunk ? " (shrunk)" : ""} |`);
    L.push("");
    for (const x of list) {
      L.push(`### \`${x.signature.replace(/`/g, "'")}\``, "");
      L.push(`${x.count} finding${x.count === 1 ? "" : "s"}; first at case ${x.index} (seed ${x.seed}, path ${escapeMd(x.path || "-")}).`, "");
      L.push(`Reason: ${escapeMd(x.reason)}`, "");
      if (x.note) L.push(`Note: ${escapeMd(x.note)}`, "");
      const c = repro(x.reproCase);
      const t = repro(x.reproSnippet);
      if (c !== null) L.push(`Case (\`${x.reproCase}\`):`, "", mdFence("json", c), "");
      if (t !== null) L.push(`Snippet (\`${x.reproSnippet}\`):`, "", mdFence("ts", t), "");
      L.push(`Replay: \`${replayCommand(x.reproCase ?? "CASE.json", x.signature)}\``, "");
    }
  };
  sigSection("New signatures", newSigs);
  sigSection("Known signatures", known);

  L.push("## Inconclusive rates", "", "| oracle | rate |", "|---|---|");
  for (const [k, v] of Object.entries(s.inconclusive)) L.push(`| ${escapeMd(k)} | ${pct(v)} |`);
  L.push("", "| property | pass | fail | inconclusive | error | inconclusive rate |", "|---|---|---|---|---|---|");
  for (const [p, c] of Object.entries(s.checks)) L.push(`| ${escapeMd(p)} | ${c.pass} | ${c.fail} | ${c.inconclusive} | ${c.error} | ${pct(s.inconclusiveByProperty[p] ?? 0)} |`);
  L.push("");

  L.push("## Feature coverage", "");
  for (const [cat, f] of Object.entries(s.coverage.features)) {
    const keys = Object.keys(f.counts);
    L.push(`- **${escapeMd(cat)}**: ${keys.length} exercised${f.never.length ? `; never exercised: ${f.never.map(escapeMd).join(", ")}` : ""}`);
  }
  L.push("");
  L.push("## Code coverage", "");
  const cc = s.coverage.code;
  if (cc === null) L.push("Not collected (run with `--coverage`).");
  else {
    L.push(`Engine (src/): lines ${cc.lines.pct}% (${cc.lines.covered}/${cc.lines.total}), branches ${cc.branches.pct}%, functions ${cc.functions.pct}%. lcov: \`${cc.lcov}\``, "");
    const low = cc.files.filter((f) => f.pct < 50);
    if (low.length > 0) L.push(`Files under 50% lines: ${low.map((f) => `${escapeMd(f.file)} (${f.pct}%)`).join(", ")}`);
  }
  L.push("");
  return `${L.join("\n")}\n`;
}
