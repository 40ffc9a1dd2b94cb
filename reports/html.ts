/**
 * `report.html`: one self-contained file (inline CSS and SVG, no script, no network), readable
 * offline. Every piece of user data (case names and values, reasons, signatures, snippets) goes
 * through `escapeXml`. Timing-dependent parts sit between `<!--timing-->` and `<!--/timing-->`
 * so that two equal runs' reports can be compared with timings set aside.
 */
import type { RunSummary } from "../src/fuzz/summary.js";
import { escapeXml as e } from "./escape.js";
import { replayCommand } from "../src/fuzz/triage.js";
import type { ReproText } from "./markdown.js";

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

function throughputSvg(s: RunSummary): string {
  const pts = s.throughput;
  const W = 640;
  const H = 180;
  const P = 36;
  if (pts.length === 0) return `<p>No cases.</p>`;
  const maxY = Math.max(1e-9, ...pts.map((p) => p.casesPerSecond));
  const maxX = Math.max(1e-9, pts[pts.length - 1].tS);
  const sx = (t: number): number => P + ((W - 2 * P) * t) / maxX;
  const sy = (y: number): number => H - P + (-(H - 2 * P) * y) / maxY;
  const line = pts.map((p) => `${sx(p.tS).toFixed(1)},${sy(p.casesPerSecond).toFixed(1)}`).join(" ");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="cases per second over time">
<line x1="${P}" y1="${H - P}" x2="${W - P}" y2="${H - P}" stroke="#888"/><line x1="${P}" y1="${P}" x2="${P}" y2="${H - P}" stroke="#888"/>
<text x="${P}" y="${P - 8}" font-size="11">${e(maxY.toFixed(1))} cases/s</text><text x="${W - P}" y="${H - P + 16}" font-size="11" text-anchor="end">${e(maxX.toFixed(0))} s</text>
<polyline fill="none" stroke="#2563eb" stroke-width="2" points="${line}"/>
</svg>`;
}

function heatmap(s: RunSummary): string {
  const { ops, properties, ran, inconclusive } = s.heatmap;
  const cols = properties.map((p, j) => ({ p, j })).filter(({ p }) => s.properties.includes(p));
  const max = Math.max(1, ...ran.flat());
  const head = `<tr><th>op</th>${cols.map(({ p }) => `<th class="rot"><span>${e(p)}</span></th>`).join("")}</tr>`;
  const rows = ops.map((op, i) => {
    const cells = cols.map(({ j }) => {
      const n = ran[i][j];
      const k = inconclusive[i][j];
      const a = n === 0 ? 0 : 0.15 + (0.85 * Math.log1p(n)) / Math.log1p(max);
      const bg = n === 0 ? "#fde2e2" : `rgba(37,99,235,${a.toFixed(2)})`;
      return `<td style="background:${bg}" title="${e(`${op} × ${properties[j]}: ran ${n}, inconclusive ${k}`)}">${n === 0 ? "0" : n}</td>`;
    });
    return `<tr><th>${e(op)}</th>${cells.join("")}</tr>`;
  });
  return `<table class="heat">${head}${rows.join("")}</table><p class="muted">Cases containing the op in which the property ran; red cells: never exercised.</p>`;
}

/** Render report.html. */
export function renderHtml(s: RunSummary, repro: ReproText): string {
  const newSigs = s.signatures.filter((x) => x.status === "new");
  const title = `xgrad fuzz: seed ${s.seed}${s.shard ? ` shard ${s.shard.index}/${s.shard.count}` : ""}`;
  const sigRows = s.signatures.map((g) => {
    const c = repro(g.reproCase);
    const t = repro(g.reproSnippet);
    return `<tr class="${g.status}"><td><span class="badge ${g.status}">${g.status}</span></td><td><code>${e(g.signature)}</code></td><td>${g.count}</td><td>${g.index}</td><td>${e(g.seed)}</td><td><code>${e(g.path || "-")}</code></td>
<td><details><summary>${e(g.reason)}</summary>${g.note ? `<p class="muted">${e(g.note)}</p>` : ""}
<p>Case ${g.shrunk ? "(shrunk)" : "(as found)"}: <code>${e(g.reproCase ?? "-")}</code></p><pre>${e(c ?? "(no repro)")}</pre>
<p>TypeScript: <code>${e(g.reproSnippet ?? "-")}</code></p><pre>${e(t ?? "(no snippet)")}</pre>
<p>Replay: <code>${e(replayCommand(g.reproCase ?? "CASE.json", g.signature))}</code></p></details></td></tr>`;
  });
  const features = Object.entries(s.coverage.features).map(([cat, f]) => {
    const entries = Object.entries(f.counts).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    return `<h3>${e(cat)}</h3><p>${entries.length} exercised${f.never.length ? `; <strong>never exercised</strong>: ${f.never.map((k) => `<code class="never">${e(k)}</code>`).join(" ")}` : ""}</p>
<details><summary>counts</summary><table>${entries.map(([k, n]) => `<tr><td><code>${e(k)}</code></td><td>${n}</td></tr>`).join("")}</table></details>`;
  });
  const cc = s.coverage.code;
  const code = cc === null
    ? `<p>Not collected (run with <code>--coverage</code>).</p>`
    : `<p>Lines ${cc.lines.pct}% (${cc.lines.covered}/${cc.lines.total}), statements ${cc.statements.pct}%, branches ${cc.branches.pct}%, functions ${cc.functions.pct}%. lcov: <code>${e(cc.lcov)}</code></p>
<details><summary>per file</summary><table><tr><th>file</th><th>lines</th><th>%</th></tr>${cc.files.map((f) => `<tr><td><code>${e(f.file)}</code></td><td>${f.linesCovered}/${f.lines}</td><td><span class="bar" style="width:${Math.round(f.pct)}px"></span> ${f.pct}%</td></tr>`).join("")}</table></details>`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${e(title)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#111}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
pre{background:#f6f8fa;padding:.6em;overflow:auto;max-height:30em}code{font-size:12px}
.badge{padding:1px 6px;border-radius:8px;font-size:12px}.badge.new{background:#fee2e2;color:#991b1b}.badge.known{background:#e5e7eb}
.heat td{text-align:right;min-width:2.2em;font-size:11px}.rot{height:9em;white-space:nowrap;vertical-align:bottom}.rot span{writing-mode:vertical-rl;transform:rotate(180deg)}
.muted{color:#666}.never{background:#fde2e2}.bar{display:inline-block;height:8px;background:#2563eb}
</style></head><body>
<h1>${e(title)}</h1>
<p><strong>${newSigs.length === 0 ? "No new finding." : `${newSigs.length} new signature(s), ${s.newFindings} findings.`}</strong>
${s.cases} cases, ${s.findings} findings, ${s.signatures.length} signatures. Budget ${e("cases" in s.budget ? `${s.budget.cases} cases` : `${s.budget.timeS} s`)}, status ${e(s.status)}, tfjs backend <code>${e(s.backend)}</code>.
Properties: ${s.properties.map((p) => `<code>${e(p)}</code>`).join(" ")}. Ops: ${s.ops === null ? "all" : s.ops.map((o) => `<code>${e(o)}</code>`).join(" ")}.</p>
<!--timing--><p>${s.durationS} s, ${s.casesPerSecond} cases/s.</p>
<h2>Throughput</h2>${throughputSvg(s)}<!--/timing-->
<h2>Signatures</h2>
<table><tr><th>status</th><th>signature</th><th>count</th><th>first case</th><th>seed</th><th>path</th><th>reason and minimal repro</th></tr>${sigRows.join("\n") || `<tr><td colspan="7">No findings.</td></tr>`}</table>
<h2>Inconclusive rates</h2>
<table><tr><th>oracle</th><th>rate</th></tr>${Object.entries(s.inconclusive).map(([k, v]) => `<tr><td>${e(k)}</td><td>${pct(v)}</td></tr>`).join("")}</table>
<table><tr><th>property</th><th>pass</th><th>fail</th><th>inconclusive</th><th>error</th><th>inconclusive rate</th></tr>${Object.entries(s.checks).map(([p, c]) => `<tr><td>${e(p)}</td><td>${c.pass}</td><td>${c.fail}</td><td>${c.inconclusive}</td><td>${c.error}</td><td>${pct(s.inconclusiveByProperty[p] ?? 0)}</td></tr>`).join("")}</table>
<h2>Op × property coverage</h2>${heatmap(s)}
<h2>Feature coverage</h2>${features.join("\n")}
<h2>Code coverage</h2>${code}
</body></html>
`;
}
