import { strict as assert } from "node:assert";
import { CaseError, caseTypes, parseCase, parseTypedCase, readCase, resolveWrt, normalizeSlice } from "../../src/case/parse.js";
import { XgradError } from "../../src/errors.js";
import type { Case, VarType } from "../../src/case/format.js";
import { SPEC_EXAMPLE, clone, ramp } from "./fixtures.js";

type Json = Record<string, unknown> & { inputs: Record<string, unknown>[]; nodes: Record<string, unknown>[] };

/** The spec example, mutated by `f`. */
function broken(f: (c: Json) => void): Json {
  const c = clone(SPEC_EXAMPLE) as unknown as Json;
  f(c);
  return c;
}

/** A case with x(a=2, b=3, c=4) float, plus extra inputs/nodes; cost is a sum of the last node. */
function withNodes(nodes: Record<string, unknown>[], extraInputs: Record<string, unknown>[] = []): Json {
  return {
    format: "xgrad-case/1",
    inputs: [{ name: "x", kind: "xtensor", dims: ["a", "b", "c"], shape: [2, 3, 4], dtype: "float64", value: ramp([2, 3, 4]) }, ...extraInputs],
    nodes: [...nodes, { id: "cost", op: "sum", args: [nodes.length > 0 ? nodes[nodes.length - 1].id : "x"] }],
    cost: "cost",
  } as Json;
}

function typeOf(c: Json, id: string): VarType {
  const t = parseTypedCase(c).types.get(id);
  assert.ok(t, `no type for ${id}`);
  return t;
}

function rejects(c: unknown, path: string, detail: RegExp | string): void {
  let err: unknown;
  try {
    parseCase(c);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof CaseError, `expected a CaseError at ${path}, got ${String(err)}`);
  assert.ok(err instanceof XgradError);
  assert.equal(err.path, path, err.message);
  assert.ok(err.message.startsWith(`${path}: `), err.message);
  if (typeof detail === "string") assert.ok(err.message.includes(detail), `${err.message} should include ${detail}`);
  else assert.match(err.message, detail);
}

const I = (name: string, dims: string[], shape: number[], dtype: string, value: unknown) => ({ name, kind: "xtensor", dims, shape, dtype, value });

describe("case/parse", () => {
  it("accepts the spec's example and infers every type", () => {
    const { case: c, types } = parseTypedCase(SPEC_EXAMPLE);
    assert.deepEqual(c, SPEC_EXAMPLE);
    assert.deepEqual(types.get("d"), { kind: "xtensor", dims: ["b", "c"], shape: [4, 2], dtype: "float64" });
    assert.deepEqual(types.get("Wx"), { kind: "xtensor", dims: ["a", "c"], shape: [3, 2], dtype: "float64" });
    assert.deepEqual(types.get("W"), { kind: "tensor", shape: [3, 2], dtype: "float64" });
    assert.deepEqual(types.get("cost"), { kind: "xtensor", dims: [], shape: [], dtype: "float64" });
    assert.deepEqual(resolveWrt(c), ["x", "W"]);
    const noWrt = clone(SPEC_EXAMPLE) as Partial<Case>;
    delete noWrt.wrt;
    assert.deepEqual(resolveWrt(parseCase(noWrt)), ["x", "W"], "default wrt is every float input");
  });

  it("returns a fresh copy, never the caller's objects", () => {
    const src = clone(SPEC_EXAMPLE);
    const c = parseCase(src);
    assert.notEqual(c.inputs[0], src.inputs[0]);
    assert.notEqual(c.inputs[0].value, src.inputs[0].value);
  });

  it("prefixes the source to messages and reports bad JSON text at $", () => {
    assert.throws(() => parseCase({ ...clone(SPEC_EXAMPLE), format: "x" }, "repro.json"), /^CaseError: repro\.json: format: /);
    assert.throws(() => readCase("{", "f.json"), (e: unknown) => e instanceof CaseError && e.path === "$" && e.message.startsWith("f.json: $: not valid JSON"));
  });

  describe("rejects malformed cases, naming the JSON path", () => {
    const table: [string, unknown, string, RegExp | string][] = [
      ["not an object", [], "$", "expected an object"],
      ["missing format", broken((c) => { delete c.format; }), "format", "missing"],
      ["wrong version", broken((c) => { c.format = "xgrad-case/2"; }), "format", 'expected "xgrad-case/1", got "xgrad-case/2"'],
      ["unknown top-level field", broken((c) => { c.extra = 1; }), "$.extra", "unknown field"],
      ["missing nodes", broken((c) => { delete (c as Partial<Json>).nodes; }), "$.nodes", "missing"],
      ["unknown input field", broken((c) => { c.inputs[0].units = "m"; }), "inputs[0].units", "unknown field"],
      ["dims on a tensor input", broken((c) => { c.inputs[1].dims = ["p", "q"]; }), "inputs[1].dims", "unknown field"],
      ["bad input kind", broken((c) => { c.inputs[0].kind = "array"; }), "inputs[0].kind", 'expected "xtensor" or "tensor"'],
      ["bad dtype", broken((c) => { c.inputs[0].dtype = "float16"; }), "inputs[0].dtype", "expected one of"],
      ["bad dims (not names)", broken((c) => { c.inputs[0].dims = ["a", 3]; }), "inputs[0].dims[1]", "expected a string"],
      ["duplicate dims", broken((c) => { c.inputs[0].dims = ["a", "a"]; }), "inputs[0].dims[1]", 'duplicate dim "a"'],
      ["dims and shape disagree", broken((c) => { c.inputs[0].dims = ["a"]; }), "inputs[0].shape", "has 2 lengths"],
      ["negative length", broken((c) => { c.inputs[0].shape = [3, -4]; }), "inputs[0].shape[1]", ">= 0"],
      ["value shape mismatch", broken((c) => { c.inputs[0].shape = [3, 5]; }), "inputs[0].value[0]", "expected 5 elements"],
      ["ragged value", broken((c) => { (c.inputs[0].value as number[][])[2] = [0.9, 1.0, 1.1]; }), "inputs[0].value[2]", "ragged"],
      ["too shallow value", broken((c) => { (c.inputs[0].value as unknown[])[1] = 0.5; }), "inputs[0].value[1]", "expected an array of 4"],
      ["string in a float value", broken((c) => { (c.inputs[0].value as unknown[][])[1][1] = "0.6"; }), "inputs[0].value[1][1]", "finite float64"],
      ["non-integer in an int value", broken((c) => { c.inputs[2].value = [2, 0.5]; }), "inputs[2].value[1]", "expected an integer"],
      ["number in a bool value", broken((c) => { c.inputs[2].dtype = "bool"; c.inputs[2].value = [1, 0]; }), "inputs[2].value[0]", "expected a bool"],
      ["duplicate input name", broken((c) => { c.inputs[1].name = "x"; }), "inputs[1].name", "duplicate input name"],
      ["bad name", broken((c) => { c.inputs[1].name = "__proto__"; }), "inputs[1].name", "not a valid input name"],
      ["node id colliding with an input", broken((c) => { c.nodes[0].id = "W"; }), "nodes[0].id", "collides with an input"],
      ["duplicate node id", broken((c) => { c.nodes[1].id = "e"; }), "nodes[1].id", "duplicate node id"],
      ["unknown op", broken((c) => { c.nodes[0].op = "erf"; }), "nodes[0].op", 'unknown op "erf"'],
      ["unknown node field", broken((c) => { c.nodes[0].axis = 1; }), "nodes[0].axis", 'unknown field for op "exp"'],
      ["missing required field", broken((c) => { delete c.nodes[1].dims; }), "nodes[1].dims", "missing"],
      ["arg referencing a later node", broken((c) => { c.nodes[0].args = ["s"]; }), "nodes[0].args[0]", '"s" is defined later (nodes[3])'],
      ["arg referencing itself", broken((c) => { c.nodes[0].args = ["e"]; }), "nodes[0].args[0]", "this node itself"],
      ["arg referencing nothing", broken((c) => { c.nodes[0].args = ["zz"]; }), "nodes[0].args[0]", "not an input or an earlier node"],
      ["wrong arity", broken((c) => { c.nodes[3].args = ["d"]; }), "nodes[3].args", "mul takes 2 args, got 1"],
      ["unknown dim in reduce", broken((c) => { c.nodes[4].dims = ["q"]; }), "nodes[4].dims[0]", '"q" is not a dim of s (b, c)'],
      ["dot dim in neither input", broken((c) => { c.nodes[2].dims = ["q"]; }), "nodes[2].dims[0]", '"q" is not a dim of e (a, b) or Wx (a, c)'],
      ["as_xtensor rank mismatch", broken((c) => { c.nodes[1].dims = ["a"]; }), "nodes[1].dims", "has 2 axes"],
      ["xtensor op on a tensor", broken((c) => { c.nodes[2].args = ["e", "W"]; }), "nodes[2].args[1]", "positional tensor"],
      ["cost not 0-d", broken((c) => { c.cost = "s"; }), "cost", "must be 0-d"],
      ["cost an input", broken((c) => { c.cost = "x"; }), "cost", "is an input"],
      ["cost not float", broken((c) => { c.nodes.push({ id: "ci", op: "cast", args: ["cost"], dtype: "int64" }); c.cost = "ci"; }), "cost", "must be a float node"],
      ["wrt naming an int input", broken((c) => { c.wrt = ["x", "ik"]; }), "wrt[1]", '"ik" is a int64 input; only float inputs have gradients'],
      ["wrt naming a node", broken((c) => { c.wrt = ["e"]; }), "wrt[0]", "it is a node"],
      ["duplicate wrt", broken((c) => { c.wrt = ["x", "x"]; }), "wrt[1]", "duplicate"],
      ["elemwise length mismatch", withNodes([{ id: "y", op: "add", args: ["x", "v"] }], [I("v", ["b"], [4], "float64", [1, 2, 3, 4])]),
        "nodes[0].args[1]", 'dim "b" has length 4 in v but 3'],
      ["bad rename making duplicates", withNodes([{ id: "r", op: "rename", args: ["x"], map: { a: "b" } }]), "nodes[0].map", 'repeats "b"'],
      ["rename of a missing dim", withNodes([{ id: "r", op: "rename", args: ["x"], map: { q: "z" } }]), "nodes[0].map.q", '"q" is not a dim of x (a, b, c)'],
      ["unstack sizes not multiplying out", withNodes([{ id: "u", op: "unstack", args: ["x"], dim: "c", to: [["p", 3], ["q", 2]] }]), "nodes[0].to", "do not multiply out to the length 4"],
      ["transpose not a permutation", withNodes([{ id: "t", op: "transpose", args: ["x"], dims: ["c", "a"] }]), "nodes[0].dims", 'missing "b"'],
      ["transpose with two ellipses", withNodes([{ id: "t", op: "transpose", args: ["x"], dims: ["...", "a", "..."] }]), "nodes[0].dims[2]", 'only one "..."'],
      ["stack onto an existing dim", withNodes([{ id: "s", op: "stack", args: ["x"], dim: "a", from: ["b", "c"] }]), "nodes[0].dim", "already a dim"],
      ["squeeze of a long dim", withNodes([{ id: "s", op: "squeeze", args: ["x"], dims: ["b"] }]), "nodes[0].dims[0]", "has length 3"],
      ["isel int out of range", withNodes([{ id: "s", op: "isel", args: ["x"], indexers: { b: 3 } }]), "nodes[0].indexers.b", "index 3 is out of range"],
      ["isel index array value out of range", withNodes([{ id: "s", op: "isel", args: ["x", "i"], indexers: { b: { arg: 1 } } }], [I("i", ["k"], [2], "int64", [0, -4])]),
        "inputs[1].value", "index -4 in i is out of range"],
      ["isel index array that is a float", withNodes([{ id: "s", op: "isel", args: ["x", "i"], indexers: { b: { arg: 1 } } }], [I("i", ["k"], [2], "float64", [0, 1])]),
        "nodes[0].args[1]", "must be an int32/int64 xtensor"],
      ["isel arg index out of args", withNodes([{ id: "s", op: "isel", args: ["x"], indexers: { b: { arg: 1 } } }]), "nodes[0].indexers.b.arg", "must name an index array"],
      ["isel unused index array", withNodes([{ id: "s", op: "isel", args: ["x", "i"], indexers: { b: 0 } }], [I("i", ["k"], [1], "int64", [0])]), "nodes[0].args[1]", "not used by any indexer"],
      ["isel zero slice step", withNodes([{ id: "s", op: "isel", args: ["x"], indexers: { b: { slice: [null, null, 0] } } }]), "nodes[0].indexers.b.slice[2]", "step must not be 0"],
      ["isel index array over a kept dim, of another length", withNodes([{ id: "s", op: "isel", args: ["x", "i"], indexers: { a: { arg: 1 } } }], [I("i", ["b"], [2], "int64", [0, 1])]),
        "nodes[0].indexers", 'dim "b" would have length 3 from kept dim b but 2'],
      ["set with a dim not in the view", withNodes([{ id: "s", op: "set", args: ["x", "y"], indexers: { b: 0 } }], [I("y", ["b"], [3], "float64", [1, 2, 3])]),
        "nodes[0].args[1]", 'dim "b" of y (b) is not a dim of the indexed view (a, c)'],
      ["inc float into int", withNodes([{ id: "xi", op: "cast", args: ["x"], dtype: "int64" }, { id: "s", op: "inc", args: ["xi", 0.5], indexers: { b: 0 } }, { id: "f", op: "cast", args: ["s"], dtype: "float64" }]),
        "nodes[1].args[1]", "cannot inc float64 values into xi"],
      ["max over a zero-length dim", withNodes([{ id: "s", op: "isel", args: ["x"], indexers: { b: { slice: [0, 0, 1] } } }, { id: "m", op: "max", args: ["s"], dims: ["b"] }]),
        "nodes[1].dims", 'max over dim "b" of s (a, b, c), which has length 0'],
      ["reduce axes on an xtensor", withNodes([{ id: "s", op: "sum", args: ["x"], axes: [0] }]), "nodes[0].axes", "use dims"],
      ["prod on a positional tensor", withNodes([{ id: "v", op: "values", args: ["x"] }, { id: "p", op: "prod", args: ["v"], dims: null }]), "nodes[1].args[0]", "needs an xtensor"],
      ["sum axes out of range", withNodes([{ id: "v", op: "values", args: ["x"] }, { id: "p", op: "sum", args: ["v"], axes: [3] }]), "nodes[1].axes[0]", "axis 3 is out of range"],
      ["where on a float condition", withNodes([{ id: "w", op: "where", args: ["x", "x", 0] }]), "nodes[0].args[0]", "bool condition"],
      ["elemwise of only numbers", withNodes([{ id: "n", op: "add", args: [1, 2] }]), "nodes[0].args", "not only numbers"],
      ["mixing xtensor and tensor", withNodes([{ id: "v", op: "values", args: ["x"] }, { id: "m", op: "mul", args: ["x", "v"] }]), "nodes[1].args", "mixes xtensor and positional"],
      ["numpy broadcast failure", withNodes([{ id: "v", op: "values", args: ["x"] }, { id: "m", op: "mul", args: ["v", "t"] }], [{ name: "t", kind: "tensor", shape: [2], dtype: "float64", value: [1, 2] }]),
        "nodes[1].args[1]", "does not broadcast"],
      ["neg of bool", withNodes([{ id: "g", op: "gt", args: ["x", 0.5] }, { id: "n", op: "neg", args: ["g"] }]), "nodes[1].args", "not defined on bool"],
      ["concat length mismatch", withNodes([{ id: "y", op: "isel", args: ["x"], indexers: { b: { slice: [0, 2, 1] } } }, { id: "cc", op: "concat", args: ["x", "y"], dim: "a" }]),
        "nodes[1].args[1]", 'dim "b" has length 2 in y but 3'],
      ["slice with 2 elements", withNodes([{ id: "s", op: "isel", args: ["x"], indexers: { b: { slice: [0, 2] } } }]), "nodes[0].indexers.b.slice", "expected [start, stop, step]"],
    ];
    for (const [what, c, path, detail] of table) it(what, () => rejects(c, path, detail));
  });

  describe("infers types with the semantics.md rules", () => {
    const xi = [I("i", ["k"], [2], "int64", [2, 0]), I("j", ["k"], [2], "int32", [1, -1]), I("m", ["k", "l"], [2, 2], "int64", [[0, 1], [1, 0]]), I("ib", ["b"], [3], "int64", [1, 0, 1])];
    const cases: [string, Record<string, unknown>[], Partial<VarType>][] = [
      ["elemwise first-appearance order", [{ id: "y", op: "add", args: ["w", "x"] }], { dims: ["c", "b", "a"], shape: [4, 3, 2] }],
      ["reduce keeps order", [{ id: "y", op: "mean", args: ["x"], dims: ["b"] }], { dims: ["a", "c"], shape: [2, 4] }],
      ["dot null contracts shared dims", [{ id: "y", op: "dot", args: ["x", "w"], dims: null }], { dims: ["a"], shape: [2] }],
      ["dot ... contracts everything", [{ id: "y", op: "dot", args: ["x", "w"], dims: "..." }], { dims: [], shape: [] }],
      ["dot sums out a dim present in one input", [{ id: "y", op: "dot", args: ["x", "w"], dims: ["a"] }], { dims: ["b", "c"], shape: [3, 4] }],
      ["transpose with ... in the middle", [{ id: "y", op: "transpose", args: ["x"], dims: ["c", "...", "a"] }], { dims: ["c", "b", "a"] }],
      ["transpose with ... first", [{ id: "y", op: "transpose", args: ["x"], dims: ["...", "a"] }], { dims: ["b", "c", "a"], shape: [3, 4, 2] }],
      ["rename swaps all at once", [{ id: "y", op: "rename", args: ["x"], map: { a: "b", b: "a" } }], { dims: ["b", "a", "c"], shape: [2, 3, 4] }],
      ["stack appends the new dim", [{ id: "y", op: "stack", args: ["x"], dim: "s", from: ["c", "a"] }], { dims: ["b", "s"], shape: [3, 8] }],
      ["unstack appends the new dims", [{ id: "y", op: "unstack", args: ["x"], dim: "a", to: [["p", 1], ["q", 2]] }], { dims: ["b", "c", "p", "q"], shape: [3, 4, 1, 2] }],
      ["concat along an existing dim, one input lacking it", [{ id: "y", op: "concat", args: ["x", "w"], dim: "a" }], { dims: ["a", "b", "c"], shape: [3, 3, 4] }],
      ["concat along a new dim goes first", [{ id: "y", op: "concat", args: ["x", "x", "x"], dim: "n" }], { dims: ["n", "a", "b", "c"], shape: [3, 2, 3, 4] }],
      ["expand_dims goes first", [{ id: "y", op: "expand_dims", args: ["x"], dim: "e", size: 5 }], { dims: ["e", "a", "b", "c"], shape: [5, 2, 3, 4] }],
      ["isel b=i(k) gives (a, k, c)", [{ id: "y", op: "isel", args: ["x", "i"], indexers: { b: { arg: 1 } } }], { dims: ["a", "k", "c"], shape: [2, 2, 4] }],
      ["isel a=i(k), c=j(k) gives (k, b)", [{ id: "y", op: "isel", args: ["x", "i", "j"], indexers: { a: { arg: 2 }, c: { arg: 1 } } }], { dims: ["k", "b"], shape: [2, 3] }],
      ["isel a=1, c=i(k) gives (b, k)", [{ id: "y", op: "isel", args: ["x", "i"], indexers: { a: 1, c: { arg: 1 } } }], { dims: ["b", "k"], shape: [3, 2] }],
      ["isel a=ib(b), b kept, zips with b (xarray: vectorized)", [{ id: "y", op: "isel", args: ["x", "ib"], indexers: { a: { arg: 1 } } }], { dims: ["b", "c"], shape: [3, 4] }],
      ["isel with a 2-d array is vectorized", [{ id: "y", op: "isel", args: ["x", "m"], indexers: { c: { arg: 1 } } }], { dims: ["a", "b", "k", "l"], shape: [2, 3, 2, 2] }],
      ["isel negative-step slice", [{ id: "y", op: "isel", args: ["x"], indexers: { c: { slice: [null, null, -2] }, a: -1 } }], { dims: ["b", "c"], shape: [3, 2] }],
      ["values drops dims", [{ id: "y", op: "values", args: ["x"] }, { id: "z", op: "sum", args: ["y"], axes: [-1, 0] }], { kind: "tensor", shape: [3] }],
      ["int / int gives float64", [{ id: "q", op: "cast", args: ["x"], dtype: "int32" }, { id: "y", op: "div", args: ["q", "q"] }], { dtype: "float64" }],
      ["weak float keeps float32", [{ id: "q", op: "cast", args: ["x"], dtype: "float32" }, { id: "y", op: "mul", args: ["q", 2.5] }], { dtype: "float32" }],
      ["sum of int32 gives int64", [{ id: "q", op: "cast", args: ["x"], dtype: "int32" }, { id: "y", op: "sum", args: ["q"], dims: ["a"] }], { dtype: "int64" }],
      ["comparison gives bool", [{ id: "y", op: "lt", args: ["x", 0.3] }], { dtype: "bool" }],
    ];
    for (const [what, nodes, want] of cases) {
      it(what, () => {
        const c = withNodes(nodes, [I("w", ["c", "b"], [4, 3], "float64", ramp([4, 3])), ...xi]);
        // some of these are not float; give the case a valid float cost
        c.nodes[c.nodes.length - 1] = { id: "cost", op: "sum", args: ["x"] };
        const t = typeOf(c, nodes[nodes.length - 1].id as string);
        for (const [k, v] of Object.entries(want)) assert.deepEqual(t[k as keyof VarType], v, `${k} of ${JSON.stringify(t)}`);
      });
    }
  });

  it("normalizeSlice follows numpy", () => {
    // slice(None, None, -2).indices(5) == (4, -1, -2) -> 3 elements; slice(-10, 10, 3).indices(4) -> (0, 4, 3) -> 2.
    assert.deepEqual(normalizeSlice([null, null, -2], 5), { start: 4, step: -2, length: 3 });
    assert.deepEqual(normalizeSlice([-10, 10, 3], 4), { start: 0, step: 3, length: 2 });
    assert.deepEqual(normalizeSlice([3, 1, 1], 4), { start: 3, step: 1, length: 0 });
    assert.deepEqual(normalizeSlice([-1, -10, -1], 4), { start: 3, step: -1, length: 4 });
  });

  it("caseTypes validates a case object built in code", () => {
    assert.equal(caseTypes(parseCase(SPEC_EXAMPLE)).get("s")?.dtype, "float64");
  });
});
