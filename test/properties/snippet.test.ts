/**
 * Repro snippets: the program `caseToSnippet` writes is run, as a user would run it, and must
 * print exactly the gradients the harness computes for the case.
 *
 * The snippets import "xgrad" by name; they are written to a temporary directory *inside* the
 * repository so that the import resolves through package.json's self-reference (`exports`).
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import fc from "fast-check";
import type { Case } from "../../src/case/format.js";
import { buildCase, caseGradients, evaluateCaseEngine } from "../../src/case/build.js";
import { caseArbitrary } from "../../properties/generators.js";
import { caseToSnippet } from "../../properties/snippet.js";
import { SPEC_EXAMPLE, clone } from "../case/fixtures.js";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Names that collide with the program's own identifiers and reserved words, positional ops, bools, index arrays. */
function awkward(): Case {
  return {
    format: "xgrad-case/1",
    name: "awkward names",
    inputs: [
      { name: "values", kind: "xtensor", dims: ["a", "b"], shape: [2, 2], dtype: "float64", value: [[0.5, -1.25], [2, 0.75]] },
      { name: "grad", kind: "tensor", shape: [2], dtype: "float64", value: [0.3, -0.4] },
      { name: "idx", kind: "xtensor", dims: ["k"], shape: [3], dtype: "int64", value: [1, 0, 1] },
    ],
    nodes: [
      { id: "new", op: "rename", args: ["values"], map: { a: "b", b: "a" } },
      { id: "v_new", op: "isel", args: ["new", "idx"], indexers: { b: { arg: 1 }, a: { slice: [null, null, -1] } } },
      { id: "let", op: "values", args: ["v_new"] },
      { id: "px", op: "mul", args: ["let", "grad"] },
      { id: "pos", op: "sum", args: ["px"], axes: [0] },
      { id: "back", op: "as_xtensor", args: ["pos"], dims: ["a"] },
      { id: "gt", op: "gt", args: ["back", 0] },
      { id: "w", op: "where", args: ["gt", "back", 0.5] },
      { id: "up", op: "inc", args: ["values", "w", "idx"], indexers: { b: { arg: 2 } } },
      { id: "cost", op: "var", args: ["up"], dims: null, ddof: 1 },
    ],
    cost: "cost",
    wrt: ["values", "grad"],
  };
}

/** The shape ops: stack, unstack, concat, expand_dims, squeeze, transpose with "...", cumprod, std, dot over all, cast. */
function shapes(): Case {
  return {
    format: "xgrad-case/1",
    inputs: [
      { name: "x", kind: "xtensor", dims: ["a", "b"], shape: [2, 3], dtype: "float64", value: [[0.5, 0.6, 0.7], [0.8, 0.9, 1.1]] },
      { name: "y", kind: "xtensor", dims: ["a", "c"], shape: [2, 1], dtype: "float32", value: [[1.5], [0.25]] },
    ],
    nodes: [
      { id: "st", op: "stack", args: ["x"], dim: "s", from: ["b", "a"] },
      { id: "un", op: "unstack", args: ["st"], dim: "s", to: [["p", 3], ["q", 2]] },
      { id: "tr", op: "transpose", args: ["un"], dims: ["q", "..."] },
      { id: "cp", op: "cumprod", args: ["tr"], dim: "p" },
      { id: "sq", op: "squeeze", args: ["y"], dims: ["c"] },
      { id: "yy", op: "cast", args: ["sq"], dtype: "float64" },
      { id: "ex", op: "expand_dims", args: ["yy"], dim: "b", size: 3 },
      { id: "cc", op: "concat", args: ["x", "ex"], dim: "b" },
      { id: "sd", op: "std", args: ["cc"], dims: ["b"], ddof: 1 },
      { id: "dt", op: "dot", args: ["cp", "sd"], dims: "..." },
      { id: "cost", op: "mul", args: ["dt", 0.5] },
    ],
    cost: "cost",
  };
}

/** `label d(cost)/d(name) dims=(...) = json` lines → {label: {name: nested}}. */
function parseOutput(out: string): Record<string, Record<string, unknown>> {
  const res: Record<string, Record<string, unknown>> = {};
  for (const line of out.split("\n")) {
    const m = /^(\S+ \S+) d\([^)]*\)\/d\(([^)]+)\)(?: dims=\([^)]*\))? = (.*)$/.exec(line);
    if (m === null) continue;
    (res[m[1]] ??= {})[m[2]] = m[3] === "0 (disconnected)" ? null : JSON.parse(m[3]);
  }
  return res;
}

const flat = (v: unknown): number[] => (Array.isArray(v) ? v.flatMap(flat) : [v as number]);

describe("properties/snippet", function () {
  this.timeout(120_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(ROOT, ".snippet-test-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const generated = fc.sample(caseArbitrary({ minSteps: 4, maxSteps: 8 }), { seed: 7, numRuns: 4 }).map((g) => g.case);
  const cases: [string, Case][] = [
    ["the spec example", clone(SPEC_EXAMPLE) as Case],
    ["awkward names, positional ops, index arrays, inc, where", awkward()],
    ["shape ops, float32, a cost that is not a reduction", shapes()],
    ...generated.map((c, i): [string, Case] => [`generated case ${i} (${[...new Set(c.nodes.map((n) => n.op))].join(" ")})`, c]),
  ];

  it("uses only the public barrel", () => {
    const s = caseToSnippet(clone(SPEC_EXAMPLE) as Case, { signature: "direct-vs-lowered/mismatch/dot/-", seed: 42, path: "3:1" });
    const imports = s.split("\n").filter((l) => l.startsWith("import"));
    assert.deepEqual(imports, [`import { compile, grad, lowerThenGrad, px, pt, tensor, xtensor, NDArray } from "xgrad";`]);
    assert.match(s, /\/\/ signature: direct-vs-lowered\/mismatch\/dot\/-/);
    assert.match(s, /\/\/ fast-check seed 42, path "3:1"/);
    assert.match(s, /const d = px\.dot\(e, Wx, \["a"\]\);/);
  });

  // All programs run concurrently (each is a node process); the assertions then read the outputs.
  const outputs = new Map<string, Promise<string>>();
  const start = (label: string, c: Case): Promise<string> => {
    let p = outputs.get(label);
    if (p === undefined) {
      const file = join(dir, `repro${outputs.size}.ts`);
      p = Promise.resolve()
        .then(() => writeFileSync(file, caseToSnippet(c)))
        .then(() => run(process.execPath, ["--import", "tsx", file], { cwd: dir, maxBuffer: 1 << 24 }))
        .then((r) => r.stdout);
      outputs.set(label, p);
    }
    return p;
  };

  for (const [label, c] of cases) {
    it(`runs and prints the harness's gradients: ${label}`, async () => {
      for (const [l, k] of cases) void start(l, k).catch(() => undefined);
      const out = parseOutput(await start(label, c));
      const b = buildCase(c);
      const cost = evaluateCaseEngine(b)[c.cost].data[0];
      const printedCost = /^cost = (.*)$/m.exec(await start(label, c));
      assert.ok(printedCost !== null);
      assert.equal(flat(JSON.parse(printedCost[1]))[0], cost);
      for (const [path, strategy] of [["direct NONE", "lazy"], ["lowerThenGrad NONE", "lowered"], ["direct FAST_RUN", "lazy"]] as const) {
        const want = caseGradients(b, strategy);
        assert.deepEqual(Object.keys(out[path] ?? {}).sort(), Object.keys(want).sort(), `${path}: wrt names`);
        for (const [name, g] of Object.entries(want)) {
          const printed = out[path][name];
          const got = printed === null ? g.data.map(() => 0) : flat(printed);
          assert.equal(got.length, g.data.length, `${path} ${name}: size`);
          // NONE builds and compiles the same graph as the harness: bit-identical. FAST_RUN
          // rewrites (fusion, summation order), so it only agrees to rounding.
          if (path !== "direct FAST_RUN") assert.deepEqual(got, g.data, `${path} ${name}`);
          else got.forEach((x, i) => assert.ok(Math.abs(x - g.data[i]) <= 1e-9 * (1 + Math.abs(g.data[i])), `${path} ${name}[${i}]: ${x} vs ${g.data[i]}`));
        }
      }
    });
  }
});
