/**
 * Checked mode skips the full checks when the graph's record is unchanged since the last state
 * that passed (GraphRecord). The skip must never hide a failure: on randomly corrupted states,
 * the record path and the full-rebuild path (`useRecord = false`) must agree, message included.
 * The same states check DestroyHandler.checkConsistency's counting fast path against its full
 * rebuild (`full: true`).
 */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import { Apply, type Variable } from "../../src/graph/basic.js";
import { FunctionGraph, type Client } from "../../src/graph/fgraph.js";
import { CheckedFeature } from "../../src/rewriting/checked.js";
import { DestroyHandler } from "../../src/rewriting/destroyhandler.js";
import { ap, destroyOp, MyOp, op1, toyConst, toyVar, twoOut, viewOp } from "../graph/utils.js";

const op2 = new MyOp("op2");

/** A random graph over x, y: unary, binary, view, two-output and (at most one) destroyer steps. */
function buildGraph(steps: readonly number[]): { inputs: Variable[]; outputs: Variable[] } {
  const x = toyVar("x");
  const y = toyVar("y");
  const pool: Variable[] = [x, y, toyConst([1, 2])];
  let destroyed = false;
  for (const [k, s] of steps.entries()) {
    const a = pool[(s >> 3) % pool.length];
    const b = pool[(s >> 6) % pool.length];
    switch (s % 6) {
      case 0:
        pool.push(ap(op1, a));
        break;
      case 1:
        pool.push(ap(op2, a, b));
        break;
      case 2:
        pool.push(ap(viewOp, a));
        break;
      case 3:
        pool.push(...twoOut.makeNode(a).outputs);
        break;
      case 4:
        // Destroy a fresh, private intermediate so that the initial graph is valid.
        if (!destroyed) {
          pool.push(ap(destroyOp, ap(op1, a)));
          destroyed = true;
        }
        break;
      default:
        pool.push(ap(op2, a, a));
    }
    if (k === steps.length - 1) break;
  }
  const outs = pool.filter((v) => v.owner !== null);
  return { inputs: [x, y], outputs: outs.length > 0 ? outs.slice(-2) : [ap(op1, x)] };
}

type Corruption = (fg: FunctionGraph, dh: DestroyHandler, pick: (n: number) => number) => void;

const nodes = (fg: FunctionGraph): Apply[] => [...fg.applyNodes];
const vars = (fg: FunctionGraph): Variable[] => [...fg.variables];
const dhState = (dh: DestroyHandler): { clients: Map<Variable, Map<Apply, number>>; viewI: Map<Variable, Variable>; allApps: Set<Apply>; destroyers: Set<Apply> } =>
  dh as unknown as { clients: Map<Variable, Map<Apply, number>>; viewI: Map<Variable, Variable>; allApps: Set<Apply>; destroyers: Set<Apply> };

/** Mutations a buggy transform could make, most of them behind the graph's back. */
const CORRUPTIONS: Record<string, Corruption> = {
  none: () => {},
  rewireInput: (fg, _dh, pick) => {
    const n = nodes(fg)[pick(fg.applyNodes.size)];
    const v = vars(fg)[pick(fg.variables.size)];
    if (n !== undefined && v !== undefined && n.inputs.length > 0) n.inputs[pick(n.inputs.length)] = v;
  },
  rewireInputSame: (fg, _dh, pick) => {
    const n = nodes(fg)[pick(fg.applyNodes.size)];
    if (n !== undefined && n.inputs.length > 0) {
      const i = pick(n.inputs.length);
      n.inputs[i] = n.inputs[i];
    }
  },
  rewireToForeign: (fg, _dh, pick) => {
    const n = nodes(fg)[pick(fg.applyNodes.size)];
    if (n !== undefined && n.inputs.length > 0) n.inputs[pick(n.inputs.length)] = toyVar("foreign");
  },
  dropInputSlot: (fg, _dh, pick) => {
    nodes(fg)[pick(fg.applyNodes.size)]?.inputs.pop();
  },
  pushClient: (fg, _dh, pick) => {
    const v = vars(fg)[pick(fg.variables.size)];
    const n = nodes(fg)[pick(fg.applyNodes.size)];
    if (n !== undefined && v !== undefined) fg.clients.get(v)?.push([n, pick(3)] as Client);
  },
  spliceClient: (fg, _dh, pick) => {
    const cl = fg.clients.get(vars(fg)[pick(fg.variables.size)] as Variable);
    if (cl !== undefined && cl.length > 0) cl.splice(pick(cl.length), 1);
  },
  swapClientSlot: (fg, _dh, pick) => {
    const cl = fg.clients.get(vars(fg)[pick(fg.variables.size)] as Variable);
    if (cl !== undefined && cl.length > 0) {
      const k = pick(cl.length);
      cl[k] = [cl[k][0], cl[k][1] + 1];
    }
  },
  replaceClientPairSameContent: (fg, _dh, pick) => {
    const cl = fg.clients.get(vars(fg)[pick(fg.variables.size)] as Variable);
    if (cl !== undefined && cl.length > 0) {
      const k = pick(cl.length);
      cl[k] = [cl[k][0], cl[k][1]];
    }
  },
  deleteVariable: (fg, _dh, pick) => {
    const v = vars(fg)[pick(fg.variables.size)];
    if (v !== undefined) fg.variables.delete(v);
  },
  addVariable: (fg) => {
    fg.variables.add(toyVar("ghost"));
  },
  deleteClientsEntry: (fg, _dh, pick) => {
    const v = vars(fg)[pick(fg.variables.size)];
    if (v !== undefined) fg.clients.delete(v);
  },
  deleteNode: (fg, _dh, pick) => {
    fg.applyNodes.delete(nodes(fg)[pick(fg.applyNodes.size)]);
  },
  addDeadNode: (fg) => {
    fg.applyNodes.add(op1.makeNode(fg.inputs[0]));
  },
  reinsertNode: (fg, _dh, pick) => {
    // Same content, different iteration order: still a valid graph.
    const n = nodes(fg)[pick(fg.applyNodes.size)];
    if (n === undefined) return;
    fg.applyNodes.delete(n);
    fg.applyNodes.add(n);
  },
  retargetOutput: (fg, _dh, pick) => {
    const v = vars(fg)[pick(fg.variables.size)];
    if (v !== undefined) fg.outputs[pick(fg.outputs.length)] = v;
  },
  retargetOutputNode: (fg, _dh, pick) => {
    const v = vars(fg)[pick(fg.variables.size)];
    if (v !== undefined) fg.outputNodes[pick(fg.outputNodes.length)].inputs[0] = v;
  },
  orphanOwner: (fg, _dh, pick) => {
    const n = nodes(fg)[pick(fg.applyNodes.size)];
    if (n !== undefined && n.outputs.length > 0) n.outputs[0].owner = null;
  },
  dhForgetClients: (_fg, dh, pick) => {
    const m = dhState(dh).clients;
    const keys = [...m.keys()];
    if (keys.length > 0) m.delete(keys[pick(keys.length)]);
  },
  dhBumpCount: (_fg, dh, pick) => {
    const m = dhState(dh).clients;
    const inner = [...m.values()].filter((x) => x.size > 0);
    if (inner.length > 0) {
      const c = inner[pick(inner.length)];
      const a = [...c.keys()][0];
      c.set(a, (c.get(a) as number) + 1);
    }
  },
  dhForgetView: (_fg, dh, pick) => {
    const m = dhState(dh).viewI;
    const keys = [...m.keys()];
    if (keys.length > 0) m.delete(keys[pick(keys.length)]);
  },
  dhForgetNode: (fg, dh, pick) => {
    const n = nodes(fg)[pick(fg.applyNodes.size)];
    if (n !== undefined) dhState(dh).allApps.delete(n);
  },
  dhMarkDestroyer: (fg, dh, pick) => {
    const n = nodes(fg)[pick(fg.applyNodes.size)];
    if (n !== undefined) dhState(dh).destroyers.add(n);
  },
  dhZeroCount: (_fg, dh, pick) => {
    const inner = [...dhState(dh).clients.values()].filter((x) => x.size > 0);
    if (inner.length > 0) {
      const c = inner[pick(inner.length)];
      c.set([...c.keys()][0], 0);
    }
  },
  dhExtraViewEdge: (fg, dh, pick) => {
    const viewO = (dh as unknown as { viewO: Map<Variable, Set<Variable>> }).viewO;
    const v = vars(fg)[pick(fg.variables.size)];
    const w = vars(fg)[pick(fg.variables.size)];
    if (v !== undefined && w !== undefined) viewO.set(v, new Set([...(viewO.get(v) ?? []), w]));
  },
  shareOutput: (fg, _dh, pick) => {
    const ns = nodes(fg);
    const a = ns[pick(ns.length)];
    const b = ns[pick(ns.length)];
    if (a !== undefined && b !== undefined && a.outputs.length > 0 && b.outputs.length > 0) a.outputs[0] = b.outputs[0];
  },
  validReplaceThroughGraph: (fg, _dh, pick) => {
    // A legal change: every feature hears it, so both paths run the full checks.
    const v = vars(fg).filter((w) => w.owner !== null);
    if (v.length > 0) {
      const w = v[pick(v.length)];
      try {
        fg.replace(w, ap(op1, fg.inputs[0]), "test");
      } catch {
        // a type mismatch: nothing changed
      }
    }
  },
};

function outcome(fn: () => void): string {
  try {
    fn();
    return "pass";
  } catch (e) {
    return `throw ${(e as Error).constructor.name}: ${(e as Error).message}`;
  }
}

describe("rewriting/checked: the unchanged-record skip", () => {
  it("agrees with the full checks on randomly corrupted states (message included)", () => {
    const names = Object.keys(CORRUPTIONS);
    const seen = new Map<string, { pass: number; fail: number }>();
    let skipped = 0;
    fc.assert(
      fc.property(
        fc.array(fc.nat(4095), { minLength: 1, maxLength: 10 }),
        fc.array(fc.constantFrom(...names), { minLength: 1, maxLength: 3 }),
        fc.array(fc.nat(1 << 20), { minLength: 8, maxLength: 8 }),
        (steps, corruptions, picks) => {
          const { inputs, outputs } = buildGraph(steps);
          const dh = new DestroyHandler();
          const checked = new CheckedFeature();
          const fg = new FunctionGraph(inputs, outputs, { features: [dh, checked] });
          try {
            fg.validate();
          } catch {
            return; // the random graph itself is rejected by the DestroyHandler
          }
          // A passing state, recorded.
          checked.verify(fg, "warm-up", null);
          let p = 0;
          const pick = (n: number): number => (n <= 0 ? 0 : picks[p++ % picks.length] % n);
          for (const c of corruptions) CORRUPTIONS[c](fg, dh, pick);
          let fullRuns = 0;
          const realCheck = fg.checkIntegrity.bind(fg);
          fg.checkIntegrity = () => {
            fullRuns++;
            realCheck();
          };
          checked.useRecord = true;
          const viaRecord = outcome(() => checked.verify(fg, "corrupt", null));
          if (fullRuns === 0) skipped++;
          checked.useRecord = false;
          const viaFull = outcome(() => checked.verify(fg, "corrupt", null));
          assert.equal(viaRecord, viaFull, `corruptions ${corruptions.join(", ")}`);
          // DestroyHandler.checkConsistency: the counting fast path and the full rebuild agree.
          assert.equal(
            outcome(() => dh.checkConsistency()),
            outcome(() => dh.checkConsistency({ full: true })),
            `checkConsistency, corruptions ${corruptions.join(", ")}`,
          );
          const key = corruptions.join("+");
          const s = seen.get(key) ?? { pass: 0, fail: 0 };
          if (viaFull === "pass") s.pass++;
          else s.fail++;
          seen.set(key, s);
        },
      ),
      { seed: 20240611, numRuns: 1500 },
    );
    // The test has teeth: corruptions were caught, and unchanged states did take the skip.
    const fails = [...seen.values()].reduce((a, s) => a + s.fail, 0);
    assert.ok(fails > 500, `only ${fails} corrupted states failed the checks`);
    assert.ok(skipped > 50, `the record skip was taken only ${skipped} times`);
  });

  it("an unchanged graph skips the full checks; any callback forces them", () => {
    const x = toyVar("x");
    const out = ap(op2, ap(op1, x), ap(viewOp, x));
    const checked = new CheckedFeature();
    const fg = new FunctionGraph([x], [out], { features: [new DestroyHandler(), checked] });
    let runs = 0;
    const real = fg.checkIntegrity.bind(fg);
    fg.checkIntegrity = () => {
      runs++;
      real();
    };
    checked.verify(fg, "a", null);
    assert.equal(runs, 1, "first verification is full");
    checked.verify(fg, "b", null);
    assert.equal(runs, 1, "unchanged: skipped");
    const n = fg.outputs[0].owner as Apply;
    fg.changeNodeInput(n, 0, ap(op1, x), "legal");
    checked.verify(fg, "c", null);
    assert.equal(runs, 2, "a callback fired: full again");
    // Behind the graph's back, with no callback: the record differs, so the full check runs and fails.
    n.inputs[1] = x;
    assert.throws(() => checked.verify(fg, "d", null), /checkIntegrity/);
    assert.equal(runs, 3);
    // A failed state is never trusted, even when it is then left unchanged.
    assert.throws(() => checked.verify(fg, "e", null), /checkIntegrity/);
    assert.equal(runs, 4);
  });
});
