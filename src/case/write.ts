/**
 * Writer for `xgrad-case/1`.
 *
 * The output is canonical: a fixed key order, one input or node per line, arrays written inline.
 * Canonical text makes saved repros diff cleanly and makes the round trip stable:
 * `parseCase(JSON.parse(writeCase(c)))` deep-equals `c`, and writing that again gives the same
 * text. The case is validated first, so a file this writes is always one `parseCase` accepts.
 */
import { parseCase, CaseError } from "./parse.js";
import type { Case } from "./format.js";

const TOP_ORDER = ["format", "name", "inputs", "nodes", "cost", "wrt"];
const INPUT_ORDER = ["name", "kind", "dims", "shape", "dtype", "value"];
/** Node fields: identity first, then op fields in one fixed order (each op uses a subset). */
const NODE_ORDER = ["id", "op", "args", "dtype", "dims", "axes", "dim", "ddof", "map", "from", "to", "size", "indexers"];

/**
 * Serialise a case to canonical JSON text (trailing newline included).
 *
 * @throws CaseError when `c` is not a valid case (it is validated with `parseCase` first).
 */
export function writeCase(c: Case): string {
  const v = parseCase(c);
  const lines: string[] = ["{"];
  const top: string[] = [];
  const rec = v as unknown as Record<string, unknown>;
  for (const k of TOP_ORDER) {
    if (!(k in rec)) continue;
    if (k === "inputs" || k === "nodes") {
      const items = (rec[k] as Record<string, unknown>[]).map((it) => `    ${inline(it, k === "inputs" ? INPUT_ORDER : NODE_ORDER)}`);
      top.push(items.length === 0 ? `  "${k}": []` : `  "${k}": [\n${items.join(",\n")}\n  ]`);
    } else {
      top.push(`  "${k}": ${inline(rec[k], [])}`);
    }
  }
  lines.push(top.join(",\n"), "}");
  return `${lines.join("\n")}\n`;
}

/** Compact JSON: `[1, 2]`, `{"a": 1}`; keys in `order` first, then in insertion order. */
function inline(v: unknown, order: readonly string[]): string {
  if (v === null) return "null";
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new CaseError("$", `cannot write the non-finite number ${v}`);
    // JSON.stringify(-0) is "0"; "-0" parses back to -0, which keeps the round trip exact.
    return Object.is(v, -0) ? "-0" : JSON.stringify(v);
  }
  if (typeof v === "string" || typeof v === "boolean") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map((e) => inline(e, [])).join(", ")}]`;
  const o = v as Record<string, unknown>;
  const keys = [...order.filter((k) => k in o), ...Object.keys(o).filter((k) => !order.includes(k))];
  return `{${keys.map((k) => `${JSON.stringify(k)}: ${inline(o[k], [])}`).join(", ")}}`;
}
