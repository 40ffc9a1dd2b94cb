/**
 * Applying a fault's edits: exact text, exactly once. A missing or ambiguous anchor fails loudly
 * (naming the fault, the file and the anchor's first line), so a refactor of `src/` can never
 * silently disarm a fault: `test/bench/faults.test.ts` applies every fault to the current tree.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Edit, Fault } from "./types.js";

/** A fault whose anchor is missing or ambiguous in the current tree. */
export class FaultAnchorError extends Error {
  override name = "FaultAnchorError";
}

function occurrences(text: string, find: string): number {
  if (find === "") return Infinity;
  let n = 0;
  for (let i = text.indexOf(find); i >= 0; i = text.indexOf(find, i + 1)) n++;
  return n;
}

const firstLine = (s: string): string => JSON.stringify(s.trim().split("\n")[0].slice(0, 100));

/** Apply `edits` to in-memory file texts (path → text); returns the new texts. Throws FaultAnchorError. */
export function applyEditsToTexts(label: string, edits: readonly Edit[], read: (file: string) => string): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of edits) {
    const before = out.get(e.file) ?? read(e.file);
    const n = occurrences(before, e.find);
    if (n !== 1) {
      throw new FaultAnchorError(`${label}: the anchor ${firstLine(e.find)} occurs ${n === Infinity ? "(empty anchor)" : `${n} times`} in ${e.file}, expected exactly once: update bench/faults to the current source`);
    }
    const after = before.replace(e.find, () => e.replace);
    if (after === before) throw new FaultAnchorError(`${label}: the edit of ${e.file} at ${firstLine(e.find)} changes nothing`);
    out.set(e.file, after);
  }
  return out;
}

/** Apply a fault to the tree rooted at `root` (a temporary copy, never the working tree). */
export function applyFault(root: string, fault: Fault): string[] {
  const texts = applyEditsToTexts(`fault ${fault.id} (${fault.slug})`, fault.edits, (f) => readFileSync(join(root, f), "utf8"));
  for (const [f, t] of texts) writeFileSync(join(root, f), t);
  return [...texts.keys()];
}
