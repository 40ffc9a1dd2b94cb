import { strict as assert } from "node:assert";
import fc from "fast-check";
import { CaseError, parseCase } from "../../src/case/parse.js";
import { writeCase } from "../../src/case/write.js";
import type { Case, CaseNode, VarType } from "../../src/case/format.js";
import { parseTypedCase } from "../../src/case/parse.js";
import { SPEC_EXAMPLE, clone } from "./fixtures.js";

const SEED = 20240611;

/**
 * A small recipe interpreter: each choice picks an op that is valid for the current state (a
 * choice that does not fit is skipped), so every generated case is valid by construction. It
 * exists to exercise the writer on many shapes of case, not to be a good graph generator.
 */
function buildCase(choices: number[], nums: number[], named: boolean): Case {
  let n = 0;
  const num = (): number => nums[n++ % nums.length];
  const dimsPool = ["a", "b", "c", "d"];
  const inputs: Case["inputs"] = [
    { name: "x", kind: "xtensor", dims: ["a", "b"], shape: [2, 3], dtype: "float64", value: [[num(), num(), num()], [num(), num(), num()]] },
    { name: "t", kind: "tensor", shape: [3], dtype: "float32", value: [num(), num(), num()] },
    { name: "i", kind: "xtensor", dims: ["k"], shape: [2], dtype: "int64", value: [1, -2] },
    { name: "z", kind: "xtensor", dims: [], shape: [], dtype: "float64", value: num() },
  ];
  const nodes: CaseNode[] = [];
  let last = "x";
  const typeOf = (id: string): VarType => {
    // Parse a prefix case whose cost is a trivial node, just to read types.
    const probe = { format: "xgrad-case/1", inputs, nodes: [...nodes, { id: "c0", op: "sum", args: ["z"] }], cost: "c0" } as unknown as Case;
    return parseTypedCase(probe).types.get(id) as VarType;
  };
  for (const ch of choices) {
    const id = `n${nodes.length}`;
    const t = typeOf(last);
    const dims = t.dims ?? [];
    const pick = <T,>(xs: readonly T[]): T => xs[ch % xs.length];
    let node: CaseNode | null = null;
    switch (ch % 9) {
      case 0: node = { id, op: pick(["exp", "sin", "tanh", "neg", "square"] as const), args: [last] }; break;
      case 1: node = { id, op: pick(["add", "mul", "sub", "maximum"] as const), args: [last, num()] }; break;
      case 2: if (t.kind === "xtensor" && dims.length > 0) node = { id, op: "sum", args: [last], dims: [pick(dims)] }; break;
      case 3: if (t.kind === "xtensor" && dims.length > 1) node = { id, op: "transpose", args: [last], dims: [...dims].reverse() }; break;
      case 4: if (t.kind === "xtensor" && dims.length > 0) {
        const free = dimsPool.filter((d) => !dims.includes(d));
        node = { id, op: "rename", args: [last], map: { [pick(dims)]: pick(free) } };
      } break;
      case 5: if (t.kind === "xtensor" && !dims.includes("e")) node = { id, op: "expand_dims", args: [last], dim: "e", size: 1 + (ch % 3) }; break;
      case 6: if (t.kind === "xtensor" && dims.length > 0) {
        const d = pick(dims);
        const len = t.shape[dims.indexOf(d)];
        node = { id, op: "isel", args: [last], indexers: { [d]: { slice: [ch % 2 === 0 ? null : -1, null, ch % 2 === 0 ? 1 : -1] } } };
        if (len === 0) node = null;
      } break;
      case 7: if (t.kind === "xtensor") node = { id, op: "values", args: [last] }; else node = { id, op: "as_xtensor", args: [last], dims: t.shape.map((_, j) => `p${j}`) }; break;
      case 8: if (t.kind === "xtensor" && dims.includes("b") && t.shape[dims.indexOf("b")] === 3) {
        node = { id, op: "isel", args: [last, "i"], indexers: { b: { arg: 1 } } };
      } else if (t.kind === "xtensor") node = { id, op: "var", args: [last], dims: null, ddof: ch % 2 }; break;
    }
    if (node === null) continue;
    nodes.push(node);
    last = id;
  }
  const lt = typeOf(last);
  nodes.push(lt.kind === "tensor" ? { id: "cost", op: "sum", args: [last], axes: null } : { id: "cost", op: "sum", args: [last], dims: null });
  const c: Case = { format: "xgrad-case/1", inputs, nodes, cost: "cost" };
  if (named) { c.name = `gen ${choices.length}`; c.wrt = ["x"]; }
  return c;
}

const floats = fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e300, max: 1e300 });

describe("case/write", () => {
  it("writes the spec example canonically, one input or node per line", () => {
    const text = writeCase(parseCase(SPEC_EXAMPLE));
    assert.ok(text.startsWith('{\n  "format": "xgrad-case/1",\n  "name": "optional label",\n  "inputs": [\n'));
    assert.ok(text.includes('    {"id": "d", "op": "dot", "args": ["e", "Wx"], "dims": ["a"]},\n'));
    assert.ok(text.includes('"value": [[1, 2], [3, 4], [5, 6]]}'));
    assert.equal(text.split("\n").length, 19); // 15 lines of content, braces, and the trailing newline
    assert.deepEqual(parseCase(JSON.parse(text)), parseCase(SPEC_EXAMPLE));
  });

  it("keeps -0 and full float64 precision", () => {
    const c = clone(SPEC_EXAMPLE) as unknown as Case;
    (c.inputs[0].value as number[][])[0] = [-0, 0.1 + 0.2, 5e-324, 1.7976931348623157e308];
    const back = parseCase(JSON.parse(writeCase(c)));
    assert.ok(Object.is((back.inputs[0].value as number[][])[0][0], -0));
    assert.deepEqual(back, parseCase(c));
  });

  it("refuses to write an invalid case", () => {
    const c = clone(SPEC_EXAMPLE) as unknown as Case;
    c.cost = "s";
    assert.throws(() => writeCase(c), CaseError);
  });

  it("the local generator covers many ops (so the round trip below means something)", () => {
    const samples = fc.sample(fc.tuple(fc.array(fc.nat(1000), { maxLength: 14 }), fc.array(floats, { minLength: 1, maxLength: 12 })), { seed: SEED, numRuns: 100 });
    const ops = new Set<string>();
    let maxNodes = 0;
    for (const [ch, nums] of samples) {
      const c = buildCase(ch, nums, false);
      c.nodes.forEach((nd) => ops.add(nd.op));
      maxNodes = Math.max(maxNodes, c.nodes.length);
    }
    assert.ok(ops.size >= 15, `only ${ops.size} ops: ${[...ops].join(" ")}`);
    assert.ok(maxNodes >= 10);
  });

  it("is round-trip stable on generated cases (fast-check, fixed seed)", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(1000), { minLength: 0, maxLength: 14 }), fc.array(floats, { minLength: 1, maxLength: 12 }), fc.boolean(), (choices, nums, named) => {
        const c = parseCase(buildCase(choices, nums, named));
        const text = writeCase(c);
        const back = parseCase(JSON.parse(text));
        assert.deepStrictEqual(back, c);
        assert.equal(writeCase(back), text);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});
