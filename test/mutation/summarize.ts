/**
 * Summarise Stryker JSON reports (mutation-testing-report-schema) for reports/bench/mutation.md:
 * the score per file and per directory, and every surviving or uncovered mutant on one line
 * with its source line, tagged with a first-pass class (message text, defensive throw) that a
 * human then confirms or corrects.
 *
 *   node --import tsx test/mutation/summarize.ts reports/mutation/**\/mutation.json [--mutants]
 *
 * Score as Stryker computes it: (killed + timeout) / (killed + timeout + survived + no coverage);
 * compile errors (the TypeScript checker) are not valid mutants and are left out.
 */
import { readFileSync } from "node:fs";

interface Mutant {
  id: string;
  mutatorName: string;
  replacement?: string;
  status: string;
  location: { start: { line: number; column: number } };
}
interface Report {
  files: Record<string, { source: string; mutants: Mutant[] }>;
}
type Counts = Record<"Killed" | "Timeout" | "Survived" | "NoCoverage" | "CompileError" | "RuntimeError" | "Ignored", number>;

const zero = (): Counts => ({ Killed: 0, Timeout: 0, Survived: 0, NoCoverage: 0, CompileError: 0, RuntimeError: 0, Ignored: 0 });
const score = (c: Counts): number => {
  const detected = c.Killed + c.Timeout;
  const valid = detected + c.Survived + c.NoCoverage;
  return valid === 0 ? NaN : (100 * detected) / valid;
};

/** A first-pass tag from the mutated line alone. */
function tag(line: string, m: Mutant): string {
  if (/throw new |new (GradError|OpInputError|InvariantError|UndefinedGrad|InconsistencyError)\(/.test(line) && m.mutatorName === "StringLiteral") return "message";
  if (/throw new /.test(line)) return "defensive";
  return "";
}

const args = process.argv.slice(2);
const showMutants = args.includes("--mutants");
const files = new Map<string, Counts>();
const lines: string[] = [];
for (const path of args.filter((a) => !a.startsWith("--"))) {
  const r = JSON.parse(readFileSync(path, "utf8")) as Report;
  for (const [f, v] of Object.entries(r.files)) {
    const c = files.get(f) ?? zero();
    files.set(f, c);
    const src = v.source.split("\n");
    for (const m of v.mutants) {
      c[m.status as keyof Counts] = (c[m.status as keyof Counts] ?? 0) + 1;
      if (m.status !== "Survived" && m.status !== "NoCoverage") continue;
      const l = m.location.start.line;
      const text = src[l - 1].trim();
      lines.push(`${m.status === "Survived" ? "S" : "N"} ${f}:${l}:${m.location.start.column} ${m.mutatorName} [${tag(text, m)}] ${text.slice(0, 100)} => ${(m.replacement ?? "").replace(/\s+/g, " ").slice(0, 70)}`);
    }
  }
}

const dirs = new Map<string, Counts>();
for (const [f, c] of files) {
  const d = f.slice(0, f.lastIndexOf("/"));
  const dc = dirs.get(d) ?? zero();
  for (const k of Object.keys(c) as (keyof Counts)[]) dc[k] += c[k];
  dirs.set(d, dc);
}
const total = zero();
for (const c of dirs.values()) for (const k of Object.keys(c) as (keyof Counts)[]) total[k] += c[k];

const row = (name: string, c: Counts): string =>
  `| ${name} | ${score(c).toFixed(1)} | ${c.Killed} | ${c.Timeout} | ${c.Survived} | ${c.NoCoverage} | ${c.CompileError} |`;
console.log("| file | score % | killed | timeout | survived | no coverage | compile errors |");
console.log("|---|---|---|---|---|---|---|");
for (const [d, dc] of [...dirs].sort()) {
  console.log(row(`**${d}/**`, dc));
  for (const [f, c] of [...files].filter(([f]) => f.startsWith(`${d}/`) && !f.slice(d.length + 1).includes("/")).sort()) console.log(row(f, c));
}
console.log(row("**all**", total));
if (showMutants) console.log(`\n${lines.sort().join("\n")}`);
