/**
 * A ready-to-paste TypeScript program that rebuilds a case with xgrad's public API and prints
 * its gradients, for bug reports (like the background PR's Python reproducer).
 *
 * The program imports only from "xgrad" (the package's own name: inside the repository it
 * resolves through package.json's self-reference, so `node --import tsx repro.ts` works from
 * any directory under it; outside, after `npm install xgrad`). Each case op becomes the public
 * builder `buildCase` itself calls (`px.*` for named ops, `pt.*` for positional ones), one
 * `const` per node, so the program reads like the case and builds the same graph.
 *
 * It prints, for every wrt input, the direct gradient (the lazy Pullback path), the
 * `lowerThenGrad` reference, and the direct gradient compiled in checked FAST_RUN, one line each:
 * `<path> <mode> d(<cost>)/d(<input>) dims=(...) = <nested array>`. Values are exact: numbers
 * are written with JavaScript's shortest round-trip representation.
 */
import type { Case, CaseArg, CaseNode, Indexer } from "../src/case/format.js";
import { parseTypedCase, resolveWrt } from "../src/case/parse.js";

/** Options of {@link caseToSnippet}: what to record in the header comment. */
export interface SnippetOptions {
  /** The failure signature the case reproduces. */
  readonly signature?: string;
  /** The fast-check seed and counterexample path that generated the original case. */
  readonly seed?: number;
  readonly path?: string;
  /** The reason line of the failing check. */
  readonly reason?: string;
}

/** Names the program itself uses, plus JavaScript's reserved words. */
const TAKEN = new Set([
  "compile", "grad", "lowerThenGrad", "px", "pt", "tensor", "xtensor", "NDArray", "inputs", "values", "wrt", "wrtNames", "show",
  "break", "case", "catch", "class", "const", "continue", "debugger", "default", "delete", "do", "else", "enum", "export",
  "extends", "false", "finally", "for", "function", "if", "import", "in", "instanceof", "new", "null", "return", "super",
  "switch", "this", "throw", "true", "try", "typeof", "var", "void", "while", "with", "yield", "let", "static", "implements",
  "interface", "package", "private", "protected", "public", "await", "async", "of", "arguments", "eval", "undefined", "NaN",
  "Infinity", "console", "process", "JSON", "Math", "Object", "Array", "Number", "String",
]);

/**
 * The TypeScript program that builds `c` with the public API and prints its gradients.
 *
 * @throws CaseError when `c` is not a valid case.
 */
export function caseToSnippet(c: Case, opts: SnippetOptions = {}): string {
  const { case: v, types } = parseTypedCase(c);
  const ident = new Map<string, string>();
  const used = new Set<string>();
  const id = (name: string): string => {
    let s = ident.get(name);
    if (s === undefined) {
      s = TAKEN.has(name) || used.has(name) ? `v_${name}` : name;
      while (used.has(s) || TAKEN.has(s)) s = `v_${s}`;
      ident.set(name, s);
      used.add(s);
    }
    return s;
  };
  const lit = (x: unknown): string => JSON.stringify(x);
  const num = (x: number): string => (Object.is(x, -0) ? "-0" : String(x));
  const arg = (a: CaseArg): string => (typeof a === "number" ? num(a) : id(a));

  const lines: string[] = [];
  lines.push(`// xgrad repro${v.name !== undefined ? `: ${v.name.replace(/\n/g, " ")}` : ""}`);
  if (opts.signature !== undefined) lines.push(`// signature: ${opts.signature}`);
  if (opts.reason !== undefined) lines.push(`// failure: ${opts.reason.replace(/\n/g, " ")}`);
  if (opts.seed !== undefined) lines.push(`// fast-check seed ${opts.seed}${opts.path !== undefined ? `, path "${opts.path}"` : ""}`);
  lines.push("// Run: node --import tsx repro.ts");
  lines.push(`import { compile, grad, lowerThenGrad, px, pt, tensor, xtensor, NDArray } from "xgrad";`);
  lines.push("");
  lines.push("// inputs");
  for (const i of v.inputs) {
    const opts2 = i.kind === "xtensor" ? `{ dims: ${lit(i.dims)}, shape: ${lit(i.shape)}, dtype: ${lit(i.dtype)} }` : `{ shape: ${lit(i.shape)}, dtype: ${lit(i.dtype)} }`;
    lines.push(`const ${id(i.name)} = ${i.kind === "xtensor" ? "xtensor" : "tensor"}(${lit(i.name)}, ${opts2});`);
  }
  lines.push("");
  lines.push("// graph");
  for (const n of v.nodes) {
    const named = types.get(n.id)?.kind === "xtensor";
    lines.push(`const ${id(n.id)} = ${expr(n, named, arg)};`);
  }
  const wrt = resolveWrt(v);
  lines.push("");
  lines.push("// values");
  lines.push(`const inputs = [${v.inputs.map((i) => id(i.name)).join(", ")}];`);
  lines.push("const values = [");
  for (const i of v.inputs) {
    const flat = (Array.isArray(i.value) ? (i.value as unknown[]).flat(Infinity) : [i.value]) as (number | boolean)[];
    lines.push(`  NDArray.fromFlat([${flat.map((x) => (typeof x === "boolean" ? (x ? "1" : "0") : num(x))).join(", ")}], ${lit(i.shape)}, ${lit(i.dtype)}),`);
  }
  lines.push("];");
  lines.push(`const wrt = [${wrt.map(id).join(", ")}];`);
  lines.push(`const wrtNames = ${lit(wrt)};`);
  lines.push("");
  lines.push("// gradients: direct (lazy Pullback) vs the lowerThenGrad reference, then direct in checked FAST_RUN");
  lines.push("function show(path: string, mode: \"NONE\" | \"FAST_RUN\", gs: readonly (ReturnType<typeof lowerThenGrad>[number])[]): void {");
  lines.push("  const live = gs.filter((g) => g !== null);");
  lines.push("  const out = compile(inputs, live, { mode, checked: mode === \"FAST_RUN\" })(...values);");
  lines.push("  let k = 0;");
  lines.push("  gs.forEach((g, i) => {");
  lines.push("    const dims = g !== null && \"dims\" in g.type ? ` dims=(${(g.type.dims as string[]).join(\", \")})` : \"\";");
  lines.push(`    const value = g === null ? "0 (disconnected)" : JSON.stringify(out[k++].toNested());`);
  lines.push(`    console.log(\`\${path} \${mode} d(${v.cost})/d(\${wrtNames[i]})\${dims} = \${value}\`);`);
  lines.push("  });");
  lines.push("}");
  lines.push(`console.log("cost =", JSON.stringify(compile(inputs, [${id(v.cost)}], { mode: "NONE" })(...values)[0].toNested()));`);
  lines.push(`show("direct", "NONE", grad(${id(v.cost)}, wrt, { disconnectedInputs: "ignore" }));`);
  lines.push(`show("lowerThenGrad", "NONE", lowerThenGrad(${id(v.cost)}, wrt, { disconnectedInputs: "ignore" }));`);
  lines.push(`show("direct", "FAST_RUN", grad(${id(v.cost)}, wrt, { disconnectedInputs: "ignore" }));`);
  return `${lines.join("\n")}\n`;
}

/** One node as a public-API expression (the builder `buildCase` uses for it). */
function expr(n: CaseNode, named: boolean, arg: (a: CaseArg) => string): string {
  const lit = (x: unknown): string => JSON.stringify(x);
  const ns = named ? "px" : "pt";
  const a = n.args.map((x) => arg(x));
  const ix = (spec: Readonly<Record<string, Indexer>>): string =>
    `{ ${Object.entries(spec)
      .map(([d, i]) => `${lit(d)}: ${typeof i === "number" ? String(i) : "slice" in i ? lit(i.slice) : a[i.arg]}`)
      .join(", ")} }`;
  switch (n.op) {
    case "neg": case "exp": case "log": case "log1p": case "expm1": case "sqrt": case "square": case "abs":
    case "sin": case "cos": case "tanh": case "sigmoid": case "softplus":
    case "add": case "sub": case "mul": case "div": case "pow": case "maximum": case "minimum":
    case "lt": case "gt": case "le": case "ge": case "eq": case "ne": case "where":
      return `${ns}.${n.op}(${a.join(", ")})`;
    case "cast":
      return `${ns}.cast(${a[0]}, ${lit(n.dtype)})`;
    case "sum": case "prod": case "mean": case "max": case "min": case "all": case "any":
      if (!named) return `pt.sum(${a[0]}, ${lit(n.axes ?? null)})`;
      return `px.${n.op}(${a[0]}, { dims: ${lit(n.dims ?? null)} })`;
    case "var": case "std":
      return `px.${n.op === "var" ? "variance" : "std"}(${a[0]}, { dims: ${lit(n.dims ?? null)}, ddof: ${n.ddof ?? 0} })`;
    case "cumsum": case "cumprod":
      return `px.${n.op}(${a[0]}, ${lit(n.dim)})`;
    case "dot":
      return `px.dot(${a[0]}, ${a[1]}, ${lit(n.dims)})`;
    case "transpose":
      return `px.transpose(${a[0]}, ${lit(n.dims)})`;
    case "rename":
      return `px.rename(${a[0]}, ${lit(n.map)})`;
    case "stack":
      return `px.stack(${a[0]}, ${lit(n.dim)}, ${lit(n.from)})`;
    case "unstack":
      return `px.unstack(${a[0]}, ${lit(n.dim)}, ${lit(n.to)})`;
    case "concat":
      return `px.concat([${a.join(", ")}], ${lit(n.dim)})`;
    case "expand_dims":
      return `px.expandDims(${a[0]}, ${lit(n.dim)}, ${n.size ?? 1})`;
    case "squeeze":
      return `px.squeeze(${a[0]}, ${lit(n.dims)})`;
    case "isel":
      return `px.isel(${a[0]}, ${ix(n.indexers)})`;
    case "set": case "inc":
      return `px.${n.op}(px.isel(${a[0]}, ${ix(n.indexers)}), ${a[1]})`;
    case "values":
      return `px.values(${a[0]})`;
    case "as_xtensor":
      return `px.asXTensor(${a[0]}, ${lit(n.dims)})`;
  }
}
