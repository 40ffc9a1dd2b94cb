/**
 * A fast, deterministic CaseRunner for the shell's tests (a test double of the harness).
 *
 * Case i is a two-node graph whose unary op is OPS[i % 8], with i itself stored as the second
 * input value, so that `check` (which only sees the case) knows which case it is. Behaviour:
 * - a case containing `sin` fails direct-vs-finiteDiff (mismatch, failingOp "sin");
 * - a case containing `tanh` errors in rewrite-soundness with an InvariantError;
 * - a case containing `cos` is inconclusive for the tfjs properties;
 * - `$FAKE_PLAN` (JSON `{hang, throw, oom, exit, slowMs, log}`) adds per-index behaviour:
 *   hang forever, throw from check, exhaust the heap, or exit the process; `slowMs` delays
 *   every check; `log` names a file each check appends its index to (to count executions).
 */
import { appendFileSync } from "node:fs";
import type { Case } from "../../src/case/format.js";
import type { CaseRunner, CheckOptions, GenerateOptions } from "../../src/fuzz/runner.js";
import { PROPERTY_NAMES } from "../../properties/types.js";
import type { Check, PropertyName, Verdict } from "../../properties/types.js";

export const FAKE_OPS = ["exp", "sin", "exp", "tanh", "square", "exp", "cos", "exp"] as const;

interface Plan {
  hang?: number[];
  throw?: number[];
  oom?: number[];
  exit?: number[];
  slowMs?: number;
  log?: string;
}

function plan(): Plan {
  return process.env.FAKE_PLAN ? (JSON.parse(process.env.FAKE_PLAN) as Plan) : {};
}

/** The fake's case number i. */
export function fakeCase(index: number, op: string, name = `fake-${index}`): Case {
  return {
    format: "xgrad-case/1",
    name,
    inputs: [{ name: "x", kind: "xtensor", dims: ["a"], shape: [2], dtype: "float64", value: [0.5, index] }],
    nodes: [
      { id: "e", op: op as "exp", args: ["x"] },
      { id: "cost", op: "sum", args: ["e"], dims: null },
    ],
    cost: "cost",
  } as Case;
}

function indexOf(c: Case): number {
  const v = c.inputs[0]?.value;
  return Array.isArray(v) && typeof v[1] === "number" ? v[1] : -1;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The fake runner. */
export function createRunner(): CaseRunner {
  const p = plan();
  return {
    generate(seed: number, index: number, opts: GenerateOptions) {
      const allowed = FAKE_OPS.filter((o) => opts.ops === null || opts.ops.includes(o));
      const op = allowed.length > 0 ? allowed[(index + seed) % allowed.length] : "exp";
      opts.features?.add("dimsPatterns", index % 2 === 0 ? "a" : "a,b");
      return { case: fakeCase(index, op), path: `${index}` };
    },
    async check(c: Case, opts: CheckOptions): Promise<Verdict> {
      const i = indexOf(c);
      if (p.log) appendFileSync(p.log, `${i}\n`);
      if (p.slowMs) await sleep(p.slowMs);
      if (p.hang?.includes(i)) {
        opts.onStage?.("direct-vs-tfjs");
        for (;;) {
          /* a synchronous hang: only SIGKILL ends it */
        }
      }
      if (p.throw?.includes(i)) throw new TypeError(`fake runner blew up on case ${i}`);
      if (p.exit?.includes(i)) process.exit(7);
      if (p.oom?.includes(i)) {
        const hog: number[][] = [];
        for (;;) hog.push(new Array(1 << 20).fill(i));
      }
      const ops = c.nodes.map((n) => n.op);
      for (const op of ops) opts.features?.add("rewrites", `fake_rewrite_${op}`);
      opts.features?.add("strategies", "lazy");
      const props: readonly PropertyName[] = opts.properties ?? PROPERTY_NAMES;
      const checks: Check[] = props.map((property): Check => {
        if (property === "direct-vs-finiteDiff" && ops.includes("sin"))
          return { property, status: "fail", reason: "gradient differs", maxAbsErr: 0.25, maxRelErr: 0.5, failingOp: "sin" };
        if (property === "rewrite-soundness" && ops.includes("tanh"))
          return { property, status: "error", reason: "FunctionGraph integrity: <broken> & \"quoted\"", errorClass: "InvariantError", failingOp: "tanh" };
        if ((property === "direct-vs-tfjs" || property === "forward-vs-tfjs") && ops.includes("cos"))
          return { property, status: "inconclusive", reason: "float32 noise" };
        return { property, status: "pass", maxAbsErr: 0, maxRelErr: 0 };
      });
      return { format: "xgrad-verdict/1", case: c.name ?? "case", values: {}, grads: {}, checks, ok: checks.every((k) => k.status !== "fail" && k.status !== "error") };
    },
    async shrink(c: Case, signature: string) {
      const small = fakeCase(indexOf(c), c.nodes[0].op, c.name);
      return { case: small, snippet: `// repro for ${signature}\nimport * as xg from "xgrad";\n` };
    },
    snippet(c: Case) {
      return `// unshrunk ${c.name ?? ""}\n`;
    },
    backend: () => "fake-cpu",
    featureUniverse: () => ({
      rewrites: ["fake_rewrite_exp", "fake_rewrite_sum", "fake_rewrite_never"],
      strategies: ["lazy", "perNode"],
    }),
  };
}
