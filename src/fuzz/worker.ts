/**
 * Worker process entry (forked by the pool with `--import tsx` and a heap cap). Loads the runner
 * module named by argv[2] once, then serves tasks one at a time. It never catches a hang or an
 * out-of-memory itself: the parent kills it and respawns a fresh one, which is the point of
 * running cases in a separate process.
 */
import { loadRunner, featureSink, oneLine } from "./runner.js";
import type { CaseRunner, FeatureCounts } from "./runner.js";
import type { FromWorker, Task, ToWorker } from "./protocol.js";
import { fallbackSnippet } from "./triage.js";
import { readCase } from "../case/parse.js";
import { writeCase } from "../case/write.js";
import type { Case } from "../case/format.js";

function send(m: FromWorker): Promise<void> {
  return new Promise((res) => {
    if (process.send === undefined) return res();
    process.send(m, undefined, {}, () => res());
  });
}

/** Distinct ops, and producer→consumer op pairs, read off the case itself. */
function caseOps(c: Case): { ops: string[]; pairs: Record<string, number> } {
  const opOf = new Map<string, string>();
  const ops = new Set<string>();
  const pairs: Record<string, number> = Object.create(null) as Record<string, number>;
  for (const n of c.nodes) {
    opOf.set(n.id, n.op);
    ops.add(n.op);
    for (const a of n.args) {
      const producer = typeof a === "string" ? opOf.get(a) : undefined;
      if (producer !== undefined) pairs[`${producer}>${n.op}`] = (pairs[`${producer}>${n.op}`] ?? 0) + 1;
    }
  }
  return { ops: [...ops].sort(), pairs };
}

/** Canonical case text; an unwritable (invalid) generated case is itself a harness bug. */
function caseText(c: Case): string {
  return writeCase(c);
}

async function runTask(runner: CaseRunner, id: number, task: Task): Promise<void> {
  if (task.kind === "shrink") {
    const c = readCase(task.caseText).case;
    if (task.minimise && runner.shrink !== undefined) {
      const r = await runner.shrink(c, task.signature, task.origin);
      await send({ t: "shrunk", id, caseText: caseText(r.case), snippet: r.snippet });
    } else {
      await send({ t: "shrunk", id, caseText: caseText(c), snippet: runner.snippet?.(c) ?? fallbackSnippet(task.signature) });
    }
    return;
  }
  const features: FeatureCounts = Object.create(null) as FeatureCounts;
  const sink = featureSink(features);
  let c: Case;
  if (task.kind === "fuzz") {
    const g = await runner.generate(task.seed, task.index, { ops: task.ops, features: sink });
    c = g.case;
    await send({ t: "generated", id, caseText: caseText(c), path: g.path, ops: caseOps(c).ops });
  } else {
    c = readCase(task.caseText).case;
  }
  const v = await runner.check(c, {
    properties: task.properties,
    features: sink,
    onStage: (property) => void send({ t: "stage", id, property }),
  });
  // Op pairs from the case itself, unless the runner counts them (it may skip helper nodes).
  features.opPairs ??= caseOps(c).pairs;
  await send({ t: "checked", id, checks: v.checks, ok: v.ok, features });
}

async function main(): Promise<void> {
  const modulePath = process.argv[2];
  let runner: CaseRunner;
  try {
    runner = await loadRunner(modulePath);
  } catch (e) {
    await send({ t: "fatal", message: e instanceof Error ? e.message : String(e) });
    process.exit(3);
  }
  let backend = "unknown";
  let universe: Record<string, readonly string[]> = {};
  try {
    if (runner.backend !== undefined) backend = await runner.backend();
    universe = runner.featureUniverse?.() ?? {};
  } catch (e) {
    await send({ t: "fatal", message: `the case runner failed to start: ${oneLine(e)}` });
    process.exit(3);
  }
  // Tasks arrive one at a time (the pool never sends a second before the first answers), but
  // queue anyway so that a misbehaving parent cannot interleave two cases' feature counters.
  let chain = Promise.resolve();
  process.on("message", (m: ToWorker) => {
    if (m.t === "exit") {
      // process.exit flushes V8 coverage (NODE_V8_COVERAGE); a disconnect alone may not.
      chain = chain.then(() => process.exit(0));
      return;
    }
    chain = chain.then(async () => {
      try {
        await runTask(runner, m.id, m.task);
      } catch (e) {
        const errorClass = e instanceof Error ? e.name : typeof e;
        const message = (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, " ");
        await send({ t: "error", id: m.id, errorClass, message });
      }
    });
  });
  process.on("disconnect", () => process.exit(0));
  await send({ t: "ready", backend, universe });
}

void main();
