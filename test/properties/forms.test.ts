import { strict as assert } from "node:assert";
import fc from "fast-check";
import type { Case } from "../../src/case/format.js";
import { caseTypes } from "../../src/case/parse.js";
import { type Apply, Constant, Variable } from "../../src/graph/basic.js";
import { DISCONNECTED, type Disconnected, type GradTerm, type Op } from "../../src/graph/op.js";
import { TensorType } from "../../src/graph/type.js";
import { withPullbackOverride, withPushforwardOverride } from "../../src/grad/registry.js";
import { Composite, Elemwise, mul, sqrt, square } from "../../src/tensor/elemwise.js";
import { compile } from "../../src/compile/function.js";
import { Alloc, Reshape, ShapeI, SpecifyShape, alloc } from "../../src/tensor/shape.js";
import { sum } from "../../src/tensor/reduce.js";
import { IncSubtensor, Subtensor, subtensor } from "../../src/tensor/indexing.js";
import { conformTo, neutralElement, subtensorOfAlloc, uselessReshape } from "../../src/rewriting/canonicalize.js";
import { powHalf, powTwo, secondToAlloc } from "../../src/rewriting/specialize.js";
import { NORMAL_FORMS, type NormalForm } from "../../src/rewriting/normalform.js";
import { FunctionGraph, isOutputNode } from "../../src/graph/fgraph.js";
import { caseArbitrary } from "../../properties/generators.js";
import { FORMS, formsGraph, formsSource } from "../../properties/forms.js";
import { caseSeed, runProperties } from "../../properties/properties.js";
import { checkSignature, shrinkFailure } from "../../properties/shrink.js";
import type { Check } from "../../properties/types.js";

/** A seeded sample of generated cases (the same every run). */
const SAMPLE: Case[] = fc.sample(caseArbitrary({}), { seed: 0x0f0a5, numRuns: 60 }).map((g) => g.case);

/**
 * The first sample case whose forms include `form` (at a place whose description matches `at`);
 * with `allKeepValues`, one whose every form keeps the values, so the static case judges it too.
 */
function caseWith(form: string, at = /./, allKeepValues = false): Case {
  const c = SAMPLE.find((x) => {
    const splices = formsGraph(x, caseTypes(x), caseSeed(x))?.graph.splices ?? [];
    return splices.some((s) => s.form === form && at.test(s.at)) && (!allKeepValues || splices.every((s) => s.keepsValues));
  });
  assert.ok(c !== undefined, `no sample case takes ${form} at ${String(at)}`);
  return c;
}

/** Every sample case whose forms include `form` (and, with `allKeepValues`, all keep the values); at least two. */
function casesWith(form: string, allKeepValues: boolean): Case[] {
  const cases = SAMPLE.filter((x) => {
    const splices = formsGraph(x, caseTypes(x), caseSeed(x))?.graph.splices ?? [];
    return splices.some((sp) => sp.form === form) && (!allKeepValues || splices.every((sp) => sp.keepsValues));
  });
  assert.ok(cases.length >= 2, `${cases.length} sample cases take ${form}`);
  return cases;
}

/** The first `n` generated cases (seed 777) with a splice that `want` accepts: variants too rare for the sample. */
function formsCases(n: number, want: (sp: { form: string; at: string }) => boolean): Case[] {
  const cases: Case[] = [];
  for (const g of fc.sample(caseArbitrary({}), { seed: 777, numRuns: 3000 })) {
    if ((formsGraph(g.case, caseTypes(g.case), caseSeed(g.case))?.graph.splices ?? []).some(want)) cases.push(g.case);
    if (cases.length === n) break;
  }
  assert.ok(cases.length === n, `${cases.length} of ${n} cases take the variant`);
  return cases;
}

/**
 * Judge every case with `judge`: at least one fails, and every verdict that is neither a pass nor
 * inconclusive is a failure (or, where a fault may also break a later op, one of `statuses`) that
 * says `says`.
 */
async function assertSomeFail(cases: readonly Case[], says: RegExp, judge: (c: Case) => Promise<{ status: string; reason: string }> = formsVerdict, statuses: readonly string[] = ["fail"]): Promise<void> {
  let failed = 0;
  for (const c of cases) {
    const k = await judge(c);
    if (k.status === "pass" || k.status === "inconclusive") continue;
    assert.ok(statuses.includes(k.status), `${k.status}: ${k.reason}`);
    assert.match(k.reason, says);
    failed++;
  }
  assert.ok(failed >= 1, `none of the ${cases.length} cases failed`);
}

/** `fg` as the normal forms see it, but with no graph output reading `node`'s outputs. */
function hideOutputs(fg: FunctionGraph, node: Apply): FunctionGraph {
  const clients = new Map(fg.clients);
  for (const o of node.outputs) clients.set(o, (fg.clients.get(o) ?? []).filter(([c]) => !isOutputNode(c)));
  return new Proxy(fg, { get: (t, k) => (k === "clients" ? clients : Reflect.get(t, k)) });
}

async function formsVerdict(c: Case): Promise<{ status: string; reason: string }> {
  const v = await runProperties(c, { properties: ["positional-forms"] });
  const k = v.verdict.checks.find((x) => x.property === "positional-forms");
  assert.ok(k !== undefined);
  return { status: k.status, reason: k.reason ?? "" };
}

describe("properties/forms (positional-forms)", () => {
  it("splices every form somewhere in the sample, and is deterministic per case", () => {
    const seen = new Set<string>();
    for (const c of SAMPLE) {
      const a = formsGraph(c, caseTypes(c), caseSeed(c));
      const b = formsGraph(c, caseTypes(c), caseSeed(c));
      assert.deepEqual(a?.graph.splices, b?.graph.splices);
      for (const s of a?.graph.splices ?? []) seen.add(s.form);
    }
    assert.deepEqual([...seen].sort(), [...FORMS].sort());
  });

  it("passes on the sample: no fail and no error on a correct engine", async function () {
    this.timeout(120_000);
    let passed = 0;
    for (const c of SAMPLE.slice(0, 30)) {
      const k = await formsVerdict(c);
      assert.ok(k.status === "pass" || k.status === "inconclusive", `${c.name ?? "case"}: ${k.status}: ${k.reason}`);
      if (k.status === "pass") passed++;
    }
    assert.ok(passed >= 25, `only ${passed} of 30 passed`);
  });

  it("fails on a SpecifyShape pullback that doubles the cotangent (a form's own pullback, judged against the static case)", async () => {
    // Every sample case whose forms all keep values and include specify-shape: the form lands
    // off the cost's graph in some, so at least one must fail, and each failure must name it.
    const cases = casesWith("specify-shape", true);
    const isSpecify = (op: Op): boolean => op instanceof SpecifyShape;
    await assertSomeFail(cases, /specify-shape at .* the NONE direct gradient/, (c) => withPullbackOverride(isSpecify, (_ins, _outs, [g]) => [mul(g, 2)], () => formsVerdict(c)));
  });

  it("fails on an update op's pullback that doubles y's cotangent (zero-update's own pullback, judged against the static case)", async () => {
    // Every sample case whose forms all keep values and include zero-update: the form lands off
    // the cost's graph in some, so at least one must fail, and each failure must name it.
    const cases = casesWith("zero-update", true);
    const isUpdate = (op: Op): boolean => op instanceof IncSubtensor;
    const doubled = (ins: readonly Variable[], outs: readonly Variable[], gs: readonly Variable[], node: Apply): GradTerm[] => {
      const terms = (node.op.pullback as NonNullable<Op["pullback"]>).call(node.op, ins, outs, gs);
      return [terms[0], mul(terms[1] as Variable, 2)];
    };
    await assertSomeFail(cases, /zero-update at .* the NONE direct gradient/, (c) => withPullbackOverride(isUpdate, doubled, () => formsVerdict(c)));
  });

  it("fails on a neutral-element rule that drops a constant only partly 1 (x * [1, 2] → x)", async () => {
    // A B of 2s and 0.5s: with B = 1 / A the faulty rule drops both factors (B has its 1s where A has), and v is right by accident.
    const c = caseWith("scale-split", /A of shape \((\d+, )*[2-9]\d*(, \d+)*\), B of 2s/);
    const right = neutralElement.transform;
    neutralElement.transform = (fg, node) => {
      const [a, b] = node.inputs;
      const partlyOne = b instanceof Constant && b.type instanceof TensorType && b.type.ndim > 0 && b.value.toFlat().some((x) => x === 1);
      if (node.op instanceof Elemwise && node.op.props.scalar === "mul" && partlyOne) {
        const r = conformTo(a, node.outputs[0], node);
        if (r !== null) return [r];
      }
      return right(fg, node);
    };
    try {
      const k = await formsVerdict(c);
      assert.equal(k.status, "fail", k.reason);
      assert.match(k.reason, /scale-split at .* the checked FAST_RUN/);
    } finally {
      neutralElement.transform = right;
    }
  });

  it("fails on a second(a, b) → b rule that drops a's run-time length check (an input NONE refuses gets values)", async () => {
    // The rule before the fix: b stands for the output whenever its static type covers it, so a's
    // unknown length, which the node checked against b's, is no longer checked.
    const c = caseWith("fill", /\(second\(u, v\), u a fresh input/);
    const right = secondToAlloc.transform;
    secondToAlloc.transform = (fg, node) => {
      const [, b] = node.inputs;
      const out = node.outputs[0];
      if (node.op instanceof Elemwise && node.op.props.scalar === "second" && b.type.equals(out.type)) return [b];
      return right(fg, node);
    };
    try {
      const k = await formsVerdict(c);
      assert.equal(k.status, "fail", k.reason);
      assert.match(k.reason, /fill at .* with the fill form's u one longer on axis \d+ .* an input NONE refuses .* a rewrite dropped a run-time length check/);
    } finally {
      secondToAlloc.transform = right;
    }
  });

  it("fails on a second(a, b) → alloc(b) rule that broadcasts b to a length of 1 where a's is unknown (the mean over u's leading axis halves)", async () => {
    // The fill form's broadcast variant: second(u, v) with u of one more, leading, axis of unknown
    // length. The faulty rule gives the Alloc a static 1 there instead of u's run-time length;
    // its type refines the output's, so only the values tell.
    const cases = SAMPLE.filter((x) => (formsGraph(x, caseTypes(x), caseSeed(x))?.graph.splices ?? []).some((s) => s.form === "fill" && /the mean of second\(u, v\)/.test(s.at)));
    assert.ok(cases.length >= 2, `${cases.length} sample cases take the fill form's broadcast variant`);
    const right = secondToAlloc.transform;
    secondToAlloc.transform = (fg, node) => {
      const [, b] = node.inputs;
      const out = node.outputs[0];
      const lead = out.type.ndim - b.type.ndim;
      if (node.op instanceof Elemwise && node.op.props.scalar === "second" && lead > 0 && b.type.shape.every((l) => l !== null)) {
        return [alloc(b, [...out.type.shape.slice(0, lead).map((l) => l ?? 1), ...(b.type.shape as number[])])];
      }
      return right(fg, node);
    };
    try {
      // An error too where an alloc-view form reads the wrong length downstream (a slice of it
      // comes out empty, and an update into it refuses y).
      await assertSomeFail(cases, /fill at .*the mean of second\(u, v\).* (the checked FAST_RUN|IncSubtensor)/, formsVerdict, ["fail", "error"]);
    } finally {
      secondToAlloc.transform = right;
    }
  });

  it("fails on a pow(x, 2) → square(x) rule that also squares pow(x, 3) (the exponent unread)", async () => {
    // Where v is computed from constants only, canonicalize folds the pow before specialize sees it.
    const cs = SAMPLE.filter((x) => (formsGraph(x, caseTypes(x), caseSeed(x))?.graph.splices ?? []).some((s) => s.form === "power" && /pow\(v, 3\)/.test(s.at)));
    assert.ok(cs.length >= 2, `${cs.length} sample cases take pow(v, 3)`);
    const right = powTwo.transform;
    powTwo.transform = (fg, node) => {
      const [x, e] = node.inputs;
      if (node.op instanceof Elemwise && node.op.props.scalar === "pow" && e instanceof Constant && x.type.equals(node.outputs[0].type)) return [square(x)];
      return right(fg, node);
    };
    try {
      await assertSomeFail(cs, /power at .*pow\(v, 3\).* the checked FAST_RUN/);
    } finally {
      powTwo.transform = right;
    }
  });

  it("shrinks a finding a form made down to the form's carrier (the forms are drawn per node, not from the whole case)", async function () {
    // The update op's pullback doubling y's cotangent again: only zero-update reaches it. Drawn
    // from the case seed, every deletion redrew the forms and the zoo's fault 5 stopped at 11
    // nodes; drawn per node, the form stays on its value while the rest goes.
    this.timeout(240_000);
    const isUpdate = (op: Op): boolean => op instanceof IncSubtensor;
    const doubled = (ins: readonly Variable[], outs: readonly Variable[], gs: readonly Variable[], node: Apply): GradTerm[] => {
      const terms = (node.op.pullback as NonNullable<Op["pullback"]>).call(node.op, ins, outs, gs);
      return [terms[0], mul(terms[1] as Variable, 2)];
    };
    await withPullbackOverride(isUpdate, doubled, async () => {
      const big = SAMPLE.filter((x) => x.nodes.length >= 6);
      let found: { c: Case; check: Check } | undefined;
      for (const c of big) {
        const v = await runProperties(c, { properties: ["positional-forms"] });
        const k = v.verdict.checks.find((x) => x.property === "positional-forms");
        if (k?.status === "fail" && /zero-update/.test(k.reason ?? "")) {
          found = { c, check: k };
          break;
        }
      }
      assert.ok(found !== undefined, "no sample case of six nodes or more fails");
      const { signature } = await checkSignature(found.c, found.check);
      const r = await shrinkFailure(found.c, signature, { timeLimitMs: 180_000 });
      assert.ok(r.case.nodes.length <= 2, `${found.c.nodes.length} nodes shrank only to ${r.case.nodes.length}: ${r.case.nodes.map((n) => n.op).join(", ")}`);
    });
  });

  it("fails on a useless-reshape rule that takes a Reshape to its input's own ShapeI lengths in another order for useless", async () => {
    // The shape-read form's swapped reshape over erased lengths, read between by a running sum:
    // only that reading tells reshape(v, [shape_i(v, 1), shape_i(v, 0)]) from v.
    const cases: Case[] = [];
    for (const g of fc.sample(caseArbitrary({}), { seed: 777, numRuns: 3000 })) {
      const splices = formsGraph(g.case, caseTypes(g.case), caseSeed(g.case))?.graph.splices ?? [];
      if (splices.some((sp) => /summed down axis 0/.test(sp.at))) cases.push(g.case);
      if (cases.length === 6) break;
    }
    assert.ok(cases.length === 6, `${cases.length} cases take the summed swapped reshape`);
    const right = uselessReshape.transform;
    uselessReshape.transform = (fg, node) => {
      const [x, ...lens] = node.inputs;
      const own = lens.length === x.type.ndim && lens.every((l) => l.owner !== null && l.owner.op instanceof ShapeI && l.owner.inputs[0] === x);
      return node.op instanceof Reshape && own ? [x] : right(fg, node);
    };
    try {
      await assertSomeFail(cases, /shape-read at .*summed down axis 0.* the checked FAST_RUN/);
    } finally {
      uselessReshape.transform = right;
    }
  });

  it("fails on an Alloc pullback that sums the cotangent only down to the target's static lengths (the stretch form's unknown 1)", async () => {
    // The fault: sumToShapeOf without its split and sum for a target length unknown statically,
    // so a cotangent of length 2 is handed to an input whose length is 1 at run time.
    const cases = casesWith("stretch", true).slice(0, 6);
    const isAlloc = (op: Op): boolean => op instanceof Alloc;
    const staticOnly = ([v, ...lens]: readonly Variable[], _outs: readonly Variable[], [g]: readonly Variable[]): GradTerm[] => {
      const lead = g.type.ndim - v.type.ndim;
      let out = lead > 0 ? sum(g, Array.from({ length: lead }, (_, i) => i)) : g;
      const keep = v.type.shape.flatMap((s, i) => (s === 1 && out.type.shape[i] !== 1 ? [i] : []));
      if (keep.length > 0) out = sum(out, keep, true);
      return [out, ...lens.map((): GradTerm => DISCONNECTED)];
    };
    let caught = 0;
    for (const c of cases) {
      const k = await withPullbackOverride(isAlloc, staticOnly, () => formsVerdict(c));
      if (k.status === "pass" || k.status === "inconclusive") continue;
      assert.match(k.reason, /stretch at .*stretched to 2 by an Alloc/, k.reason);
      caught++;
    }
    assert.ok(caught >= 1, `none of the ${cases.length} cases caught it`);
  });

  it("fails on a SpecifyShape forward rule that doubles the tangent (the forms' forward rules, judged by the duality on the rebuilt graph)", async () => {
    // Only a form writes SpecifyShape, so only the duality on the rebuilt graph meets its rule.
    const cases = casesWith("specify-shape", false).slice(0, 8);
    const isSpecify = (op: Op): boolean => op instanceof SpecifyShape;
    const doubled = (_ins: readonly Variable[], _outs: readonly Variable[], [t]: readonly (Variable | Disconnected)[]): (Variable | Disconnected)[] => [t instanceof Variable ? mul(t, 2) : DISCONNECTED];
    await assertSomeFail(cases, /specify-shape at .* the pushforward duality: .* from the ops' pushforward rules/, (c) => withPushforwardOverride(isSpecify, doubled, () => formsVerdict(c)));
  });

  it("errors on an update op's pullback that hands a float32 y a float64 cotangent (zero-update's f32(v))", async () => {
    // y's cotangent summed to y's shape but not cast back: the driver refuses a float64 term
    // for a float32 input, naming it, wherever the form wrote f32(v) on the cost's graph.
    const cases = SAMPLE.filter((x) => (formsGraph(x, caseTypes(x), caseSeed(x))?.graph.splices ?? []).some((sp) => sp.form === "zero-update" && /f32\(v\)/.test(sp.at)));
    assert.ok(cases.length >= 2, `${cases.length} sample cases write f32(v)`);
    const isUpdate = (op: Op): boolean => op instanceof IncSubtensor;
    const uncast = (ins: readonly Variable[], outs: readonly Variable[], gs: readonly Variable[], node: Apply): GradTerm[] => {
      const [dx] = (node.op.pullback as NonNullable<Op["pullback"]>).call(node.op, ins, outs, gs);
      const dy = sum(subtensor(gs[0], (node.op as IncSubtensor).props.idx), []);
      return [dx, dy];
    };
    let caught = 0;
    for (const c of cases) {
      const k = await withPullbackOverride(isUpdate, uncast, () => formsVerdict(c));
      if (k.status === "pass" || k.status === "inconclusive") continue;
      assert.match(k.reason, /zero-update at .*f32\(v\).*float32/, k.reason);
      caught++;
    }
    assert.ok(caught >= 1, `none of the ${cases.length} cases caught it`);
  });

  it("errors when checked mode promises a rewrite at the graph's boundary that the rules rightly decline (a copy of an input handed back, a shape read or a fold read by an output)", async () => {
    // The normal forms with the boundary exemption forgotten (a node read by a graph output is
    // promised like any other): only the boundary outputs have such nodes, and every case has them.
    const c = SAMPLE[0];
    for (const [rule, says] of [
      ["useless_cast_identity", /Elemwise\{(identity|cast, float64)\}\(xgrad_boundary\) is left/],
      ["local_neutral_element", /Elemwise\{(mul|add)\}\(xgrad_boundary, .*\) is left/],
      ["local_shape_constant", /Shape\(xgrad_boundary\) is left/],
      ["constant_folding", /Elemwise\{neg\}\(.*\) is left/],
    ] as const) {
      const form = NORMAL_FORMS.find((f) => f.rule === rule);
      assert.ok(form !== undefined);
      const real = form.leftover;
      // The same predicate on a graph that hides the node's output reader: a bare FunctionGraph view
      // whose clients list no Output node for the node's outputs.
      (form as { leftover: NormalForm["leftover"] }).leftover = (fg, node) => real(hideOutputs(fg, node), node);
      try {
        const k = await formsVerdict(c);
        assert.equal(k.status, "error", `${rule}: ${k.status}: ${k.reason}`);
        assert.match(k.reason, new RegExp(`and the boundary outputs .*broke its promise ${rule}: ${says.source}`), rule);
      } finally {
        (form as { leftover: NormalForm["leftover"] }).leftover = real;
      }
    }
  });

  it("fails on a subtensor_of_alloc rule that takes a narrowed or reversed slice for a full one (alloc-view's views of an axis v spans)", async () => {
    // The fault: every slice of the view counts as full, so the Alloc keeps the axis's whole
    // length (or v's, when it is unknown) where the view narrowed it.
    const cases = formsCases(6, (sp) => sp.form === "alloc-view" && /, (1:|:-1|::-1)\]/.test(sp.at));
    const right = subtensorOfAlloc.transform;
    subtensorOfAlloc.transform = (fg, node) => {
      const idx = (node.op as Subtensor).props.idx;
      const whole = idx.map((e) => (typeof e === "number" ? e : { start: null, stop: null, step: null }));
      return right(fg, new Subtensor(whole).makeNode(node.inputs[0]));
    };
    try {
      // A wrong static length is the replacement type check's to refuse (an error); a wrong unknown one, the values'.
      await assertSomeFail(cases, /alloc-view at .*(the checked FAST_RUN|cannot replace Subtensor)/, formsVerdict, ["fail", "error"]);
    } finally {
      subtensorOfAlloc.transform = right;
    }
  });

  it("errors when checked mode promises subtensor_of_alloc on an int that picks a row of an axis v spans (alloc-view's [k, 0])", async () => {
    // The normal form without its broadcast test: a view that indexes v's own axis by an int is
    // called a leftover, which the rule rightly declines.
    const cases = formsCases(3, (sp) => sp.form === "alloc-view" && /\[\d, 0\]/.test(sp.at));
    const form = NORMAL_FORMS.find((f) => f.rule === "local_subtensor_of_alloc") as NormalForm;
    const real = form.leftover;
    (form as { leftover: NormalForm["leftover"] }).leftover = (fg, node) =>
      real(fg, node) ??
      (node.op instanceof Subtensor && node.inputs[0].owner?.op instanceof Alloc && node.op.props.idx.some((e) => typeof e === "number") ? "a Subtensor of an Alloc" : null);
    try {
      await assertSomeFail(cases, /alloc-view at .*broke its promise local_subtensor_of_alloc: Subtensor/, formsVerdict, ["error"]);
    } finally {
      (form as { leftover: NormalForm["leftover"] }).leftover = real;
    }
  });

  it("errors when checked mode promises to fold a constant-only Alloc over the fold limit (constant-block's 64 × 65 block)", async () => {
    const cases = formsCases(2, (sp) => sp.form === "constant-block" && /over the fold limit/.test(sp.at));
    const form = NORMAL_FORMS.find((f) => f.rule === "constant_folding") as NormalForm;
    const real = form.leftover;
    // The fault: the normal form without its size limit.
    (form as { leftover: NormalForm["leftover"] }).leftover = (fg, node) =>
      real(fg, node) ?? (node.op instanceof Alloc && node.inputs.every((v) => v instanceof Constant) ? "all its inputs are constants" : null);
    try {
      await assertSomeFail(cases, /constant-block at .*broke its promise constant_folding: Alloc/, formsVerdict, ["error"]);
    } finally {
      (form as { leftover: NormalForm["leftover"] }).leftover = real;
    }
  });

  it("leaves an elementwise producer of another shape than its only reader after fusion (broadcast-producer: the pair the fusion promise must excuse)", () => {
    // No fault to inject: the promise's exemption lives inside checked mode. What the form must
    // build is the pattern itself, after the whole FAST_RUN pipeline.
    const cases = formsCases(3, (sp) => sp.form === "broadcast-producer");
    let found = 0;
    for (const c of cases) {
      const src = formsSource(c, caseTypes(c), caseSeed(c));
      assert.ok(src !== null);
      const fg = compile(src.inputs, src.outputs, { mode: "FAST_RUN", checked: true, onOptError: "raise" }).fgraph;
      const elementwise = (n: Apply | null): boolean => n !== null && (n.op instanceof Elemwise || n.op instanceof Composite);
      const pair = [...fg.applyNodes].some((p) => {
        if (!elementwise(p)) return false;
        const readers = fg.clients.get(p.outputs[0]) ?? [];
        return readers.length === 1 && elementwise(readers[0][0]) && readers[0][0].outputs[0].type.shape.join() !== p.outputs[0].type.shape.join();
      });
      if (pair) found++;
    }
    assert.ok(found >= 1, `none of the ${cases.length} cases keeps such a pair`);
  });

  it("leaves out of place, with no fresh copy, an update op on a shared fill that is partly zero or empty, and an elementwise op reading a shared zero fill first (shared-fill)", () => {
    // No fault to inject: what checked mode's inplace promise must not ask for a fresh copy of
    // lives inside it. What the form must build is each pattern, after the whole FAST_RUN pipeline.
    const fillOf = (v: Variable): number[] | null => {
      const o = v.owner;
      return o !== null && o.op instanceof Alloc && o.inputs[0] instanceof Constant ? (o.inputs[0].value.toFlat() as number[]) : null;
    };
    const variants: [RegExp, (fg: FunctionGraph, n: Apply) => boolean][] = [
      [/F = alloc\(\[0, 1\]/, (_fg, n) => n.op instanceof IncSubtensor && fillOf(n.inputs[0])?.join() === "0,1"],
      [/E = alloc\(\[\]/, (_fg, n) => n.op instanceof IncSubtensor && fillOf(n.inputs[0])?.length === 0],
      [/Z = alloc\(0/, (_fg, n) => (n.op instanceof Elemwise || n.op instanceof Composite) && fillOf(n.inputs[0])?.join() === "0"],
    ];
    for (const [at, pattern] of variants) {
      let found = 0;
      for (const c of formsCases(2, (sp) => sp.form === "shared-fill" && at.test(sp.at))) {
        const src = formsSource(c, caseTypes(c), caseSeed(c));
        assert.ok(src !== null);
        const fg = compile(src.inputs, src.outputs, { mode: "FAST_RUN", checked: true, onOptError: "raise" }).fgraph;
        const left = [...fg.applyNodes].filter((n) => pattern(fg, n) && Object.keys(n.op.destroyMap).length === 0 && (fg.clients.get(n.inputs[0])?.length ?? 0) >= 2);
        if (left.length > 0) found++;
      }
      assert.ok(found >= 1, `${at}: no case keeps the pattern out of place beside another reader of the fill`);
    }
  });

  it("fails on a useless-reshape rule that takes a Reshape to another variable's ShapeI lengths for useless (reshape-lengths' vᵀ)", async () => {
    // The fault: any ShapeI at position i counts as x's own length i, whoever's it reads.
    const cases = formsCases(3, (sp) => sp.form === "reshape-lengths" && /shape_i\(vᵀ, 0\)/.test(sp.at));
    const right = uselessReshape.transform;
    uselessReshape.transform = (fg, node) => {
      const [x, ...lens] = node.inputs;
      const anyShapeI = lens.length === x.type.ndim && lens.every((l, i) => l.owner !== null && l.owner.op instanceof ShapeI && l.owner.op.props.i === i);
      return node.op instanceof Reshape && anyShapeI ? [x] : right(fg, node);
    };
    try {
      await assertSomeFail(cases, /reshape-lengths at .*shape_i\(vᵀ, 0\).* the checked FAST_RUN/);
    } finally {
      uselessReshape.transform = right;
    }
  });

  it("gives the merge two equal nodes whose recorded types differ, and the merge keeps the refined one (stale-twin)", () => {
    // A spy on the graph's replacements, restored after: a merge whose pair differs in type, and
    // which variable it keeps. (A merge that kept the vaguer one would be refused by the type check.)
    const cases = formsCases(3, (sp) => sp.form === "stale-twin");
    const proto = FunctionGraph.prototype as { replaceAllValidate: FunctionGraph["replaceAllValidate"] };
    const real = proto.replaceAllValidate;
    const seen: { refinedKept: boolean }[] = [];
    proto.replaceAllValidate = function (this: FunctionGraph, pairs, reason, remove) {
      if (/merge/.test(reason)) for (const [o, n] of pairs) if (!o.type.equals(n.type)) seen.push({ refinedKept: o.type.isSuper(n.type) });
      return real.call(this, pairs, reason, remove);
    };
    try {
      for (const c of cases) {
        const src = formsSource(c, caseTypes(c), caseSeed(c));
        assert.ok(src !== null);
        compile(src.inputs, src.outputs, { mode: "FAST_RUN", checked: true, onOptError: "raise" });
      }
    } finally {
      proto.replaceAllValidate = real;
    }
    assert.ok(seen.length >= 1, "no merge of two types met");
    assert.ok(seen.every((s) => s.refinedKept));
  });

  it("fails on a pow(x, 0.5) → sqrt(x) rule that forgets a base may be -0 (signed-zero)", async () => {
    const cases = formsCases(3, (sp) => sp.form === "signed-zero");
    const right = powHalf.transform;
    powHalf.transform = (fg, node) => {
      const [x, e] = node.inputs;
      const half = e instanceof Constant && e.type.ndim === 0 && e.value.toFlat()[0] === 0.5;
      return node.op instanceof Elemwise && node.op.props.scalar === "pow" && half && x.type.equals(node.outputs[0].type) ? [sqrt(x)] : right(fg, node);
    };
    try {
      await assertSomeFail(cases, /signed-zero at .* the checked FAST_RUN/);
    } finally {
      powHalf.transform = right;
    }
  });
});
