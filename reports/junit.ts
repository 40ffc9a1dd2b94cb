/**
 * `junit.xml` for CI: one testcase per property with no finding (passed), and one per signature
 * (new: failure; known: skipped, naming why). Times are the only run-dependent attributes.
 */
import type { RunSummary } from "../src/fuzz/summary.js";
import { escapeXml as x } from "./escape.js";

/** Render junit.xml. */
export function renderJunit(s: RunSummary): string {
  const cases: string[] = [];
  const failing = new Set(s.signatures.map((g) => g.property));
  for (const p of s.properties) {
    if (failing.has(p)) continue;
    cases.push(`    <testcase classname="xgrad.property" name="${x(p)}" time="0"/>`);
  }
  let failures = 0;
  let skipped = 0;
  for (const g of s.signatures) {
    const head = `    <testcase classname="xgrad.signature.${x(g.property)}" name="${x(g.signature)}" time="0">`;
    const detail = `${g.count} finding(s); first at case ${g.index} (seed ${g.seed}, path ${g.path || "-"})\n${g.reason}\nrepro: ${g.reproCase ?? "-"}\nreplay: npx xgrad check ${g.reproCase ?? "CASE.json"}`;
    if (g.status === "new") {
      failures++;
      cases.push(`${head}\n      <failure message="${x(g.reason)}" type="${x(`${g.failureClass}/${g.errorClass}`)}">${x(detail)}</failure>\n    </testcase>`);
    } else {
      skipped++;
      cases.push(`${head}\n      <skipped message="${x(`known signature (${g.count} findings)`)}"/>\n    </testcase>`);
    }
  }
  const name = `xgrad fuzz seed ${s.seed}${s.shard ? ` shard ${s.shard.index}/${s.shard.count}` : ""}`;
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="xgrad" tests="${cases.length}" failures="${failures}" errors="0" skipped="${skipped}" time="${s.durationS}">`,
    `  <testsuite name="${x(name)}" tests="${cases.length}" failures="${failures}" errors="0" skipped="${skipped}" time="${s.durationS}">`,
    `    <properties><property name="seed" value="${s.seed}"/><property name="cases" value="${s.cases}"/><property name="backend" value="${x(s.backend)}"/></properties>`,
    ...cases,
    `  </testsuite>`,
    `</testsuites>`,
    "",
  ].join("\n");
}
