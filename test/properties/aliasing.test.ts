import { strict as assert } from "node:assert";
import { NDArray } from "../../src/ndarray/ndarray.js";
import type { Case } from "../../src/case/format.js";
import { aliasingProblem, runProperties } from "../../properties/properties.js";

describe("properties: result aliasing (rewrite-soundness)", () => {
  const x = NDArray.fromFlat([1, 2, 3], [3], "float64");
  const inputs = new Map([["x", x]]);
  const fresh = (): NDArray => NDArray.fromFlat([1, 2, 3], [3], "float64");

  it("flags a FAST_RUN result in an input's buffer, or in the same buffer on two calls, where NONE gives fresh ones", () => {
    assert.match(aliasingProblem(["n"], inputs, [[fresh()], [fresh()]], [[x], [fresh()]]) ?? "", /node "n" in the buffer of input x/);
    const c = fresh();
    assert.match(aliasingProblem(["n"], inputs, [[fresh()], [fresh()]], [[c], [c]]) ?? "", /node "n" in the same buffer on every call/);
  });

  it("accepts what NONE does too (a view of an input stays a view), and fresh results", () => {
    const view = x.reshape([1, 3]);
    assert.ok(view.sharesBuffer(x));
    assert.equal(aliasingProblem(["n"], inputs, [[view], [view]], [[x], [x]]), null);
    assert.equal(aliasingProblem(["n"], inputs, [[fresh()], [fresh()]], [[fresh()], [fresh()]]), null);
  });

  it("holds on cases that invite it: a same-dtype cast, x * 1, an identity transpose of an input, all graph outputs", async () => {
    const c: Case = {
      format: "xgrad-case/1",
      inputs: [
        { name: "x", kind: "xtensor", dims: ["a"], shape: [3], dtype: "float64", value: [0.5, 1.5, 2.5] },
        { name: "W", kind: "tensor", shape: [3], dtype: "float64", value: [1, 2, 3] },
      ] as Case["inputs"],
      nodes: [
        { id: "c", op: "cast", args: ["x"], dtype: "float64" },
        { id: "m", op: "mul", args: ["x", 1] },
        { id: "t", op: "transpose", args: ["x"], dims: ["a"] },
        { id: "w", op: "mul", args: ["W", 1] },
        { id: "v", op: "as_xtensor", args: ["w"], dims: ["a"] },
        { id: "s", op: "add", args: ["v", "t"] },
        { id: "cost", op: "sum", args: ["s"], dims: null },
      ] as Case["nodes"],
      cost: "cost",
      wrt: ["x", "W"],
    };
    const [k] = (await runProperties(c, { properties: ["rewrite-soundness"] })).verdict.checks;
    assert.equal(k.status, "pass", k.reason);
  });
});
