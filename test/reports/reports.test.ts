import { strict as assert } from "node:assert";
import { mkdirSync, writeFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { renderHtml } from "../../reports/html.js";
import { renderJunit } from "../../reports/junit.js";
import { renderMarkdown } from "../../reports/markdown.js";
import { escapeXml, mdFence } from "../../reports/escape.js";
import { summarize } from "../../src/fuzz/summary.js";
import { loadCorpus } from "../../src/fuzz/corpus.js";
import { writeConfig, writeState } from "../../src/fuzz/journal.js";
import { fakeCase } from "../fuzz/fake-runner.js";
import { writeCase } from "../../src/case/write.js";
import { tmp } from "../cli/helpers.js";

const EVIL = `<script>alert("x")</script>&</pre>`;

/** A run directory with hostile user data in every field that reaches a report. */
function evilRun(): string {
  const d = tmp();
  writeConfig(d, { format: "xgrad-runconfig/1", seed: 1, budget: { cases: 2 }, properties: null, ops: null, shard: null, caseTimeoutS: 60, maxMemoryMb: 512, coverage: false, startedAt: "2025-01-01T00:00:00Z" });
  writeState(d, { status: "complete", sessions: 1, backend: `cpu${EVIL}`, workers: 1, universe: { rewrites: [`never${EVIL}`] }, workerRespawns: 0 });
  const caseText = writeCase(fakeCase(1, "sin", EVIL));
  const sig = `direct-vs-finiteDiff/mismatch/${EVIL}/-`;
  writeFileSync(join(d, "cases.jsonl"), [
    { i: 0, t: 10, ms: 1, o: "ok", n: 0, c: "pppppppp", ops: ["exp", "sum"], f: { rewrites: { [`r${EVIL}`]: 2 } } },
    { i: 1, t: 20, ms: 1, o: "fail", n: 1, c: "ppfppppp", ops: ["sin", "sum"], f: {} },
  ].map((r) => `${JSON.stringify(r)}\n`).join(""));
  writeFileSync(join(d, "findings.jsonl"), `${JSON.stringify({ index: 1, seed: 1, path: EVIL, property: "direct-vs-finiteDiff", failureClass: "mismatch", failingOp: EVIL, errorClass: "-", signature: sig, reason: `reason ${EVIL}`, case: caseText })}\n`);
  mkdirSync(join(d, "repros"));
  const stem = "evil";
  writeFileSync(join(d, "repros", `${stem}.json`), caseText);
  writeFileSync(join(d, "repros", `${stem}.ts`), `// ${EVIL}\n\`\`\`\n`);
  return d;
}

describe("reports: escaping of user data", () => {
  const d = evilRun();
  const s = summarize(d, loadCorpus(join(d, "none")));
  const repro = (p: string | null) => (p === null ? null : readFileSync(join(d, "repros", p.endsWith(".ts") ? "evil.ts" : "evil.json"), "utf8"));
  const sig = { ...s.signatures[0], reproCase: "repros/evil.json", reproSnippet: "repros/evil.ts" };
  const s2 = { ...s, signatures: [sig] };

  it("report.html: a case named <script> never becomes markup; the page has no script and no network", () => {
    const html = renderHtml(s2, repro);
    assert.ok(!html.includes("<script"), "raw <script> in the HTML");
    assert.ok(html.includes("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&lt;/pre&gt;"));
    assert.doesNotMatch(html, /(src|href)=["']?(https?:)?\/\//i);
    assert.doesNotMatch(html, /<link|@import|url\(/i);
    assert.match(html, /<svg[\s\S]*<polyline/);
    assert.match(html, /class="heat"/);
  });

  it("junit.xml escapes attributes and text and stays well-formed", () => {
    const x = renderJunit(s2);
    assert.ok(!x.includes("<script"));
    const opens = (x.match(/<testcase\b/g) ?? []).length;
    const closes = (x.match(/<\/testcase>|<testcase\b[^>]*\/>/g) ?? []).length;
    assert.equal(opens, closes);
    assert.equal(escapeXml("a\u0001b"), "a\ufffdb");
  });

  it("report.md: code fences cannot be closed by the snippet, raw HTML is neutralised", () => {
    const md = renderMarkdown(s2, repro);
    // Inside fences and code spans Markdown shows text literally; everywhere else it must be escaped.
    const prose = md.replace(/^(`{3,})[^\n]*\n[\s\S]*?^\1$/gm, "").replace(/`[^`\n]*`/g, "");
    assert.ok(!prose.includes("<script>alert"), "raw HTML in markdown text");
    assert.ok(md.includes("````ts"), "the snippet holds ``` so its fence is longer");
    assert.equal(mdFence("ts", "a\n```\nb"), "````ts\na\n```\nb\n````");
  });

  it("summary.json carries the stable fields", () => {
    for (const k of ["format", "seed", "cases", "findings", "durationS", "casesPerSecond", "signatures", "inconclusive", "backend", "coverage"]) assert.ok(k in s, k);
    assert.deepEqual(Object.keys(s.signatures[0]).slice(0, 5), ["signature", "count", "status", "reproCase", "reproSnippet"]);
    assert.deepEqual(s.coverage.features.rewrites.never, [`never${EVIL}`]);
    assert.equal(s.inconclusive.finiteDiff, 0);
  });
});
