/**
 * Option parsers for the CLI. Each throws a {@link UsageError} naming the flag and what was
 * expected, which the CLI prints as one line and exits 2.
 */
import { XgradError } from "../errors.js";
import { PROPERTY_NAMES } from "../../properties/types.js";
import type { PropertyName } from "../../properties/types.js";
import { CASE_OPS } from "../case/format.js";
import type { Shard } from "../fuzz/journal.js";

/** Bad command-line usage (exit 2). */
export class UsageError extends XgradError {
  override name = "UsageError";
}

const UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };

/** `90s`, `10m`, `1h30m`, `250ms`, or a bare number of seconds → seconds. */
export function parseDuration(flag: string, v: string): number {
  const s = v.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return positive(flag, Number(s), v);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * UNITS[m[2]];
    end = re.lastIndex;
  }
  if (end !== s.length || end === 0) throw new UsageError(`${flag}: expected a duration like 90s, 10m or 1h30m, got ${JSON.stringify(v)}`);
  return positive(flag, total, v);
}

function positive(flag: string, x: number, v: string): number {
  if (!(x > 0) || !Number.isFinite(x)) throw new UsageError(`${flag}: expected a positive duration, got ${JSON.stringify(v)}`);
  return x;
}

/** A non-negative (or positive) safe integer. */
export function parseInteger(flag: string, v: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(v.trim())) throw new UsageError(`${flag}: expected an integer, got ${JSON.stringify(v)}`);
  const n = Number(v);
  if (n < min || n > max) throw new UsageError(`${flag}: expected an integer from ${min} to ${max}, got ${v}`);
  return n;
}

/** `i/n` with 1 ≤ i ≤ n. */
export function parseShard(v: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(v.trim());
  if (m === null) throw new UsageError(`--shard: expected i/n (e.g. 2/4), got ${JSON.stringify(v)}`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index < 1 || index > count) throw new UsageError(`--shard: expected 1 <= i <= n, got ${v}`);
  return { index, count };
}

function parseList<T extends string>(flag: string, v: string, known: readonly T[], what: string): T[] {
  const items = v.split(",").map((x) => x.trim()).filter((x) => x !== "");
  if (items.length === 0) throw new UsageError(`${flag}: expected a comma-separated list of ${what}s, got ${JSON.stringify(v)}`);
  for (const x of items) {
    if (!(known as readonly string[]).includes(x)) throw new UsageError(`${flag}: unknown ${what} ${JSON.stringify(x)} (known: ${known.join(", ")})`);
  }
  return [...new Set(items)] as T[];
}

/** `--properties a,b`. */
export function parseProperties(v: string): PropertyName[] {
  return parseList("--properties", v, PROPERTY_NAMES, "property");
}

/** `--ops a,b`. */
export function parseOps(v: string): string[] {
  return parseList("--ops", v, CASE_OPS, "op");
}
