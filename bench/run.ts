/**
 * `npm run bench`: the compile-time benchmark, then the harness throughput benchmark, each in
 * its own process (so one's JIT and heap state does not colour the other's numbers).
 * Arguments after `--` go to the harness benchmark (e.g. `npm run bench -- --cases 50`).
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const here = (f: string): string => fileURLToPath(new URL(f, import.meta.url));
const runs: [string, string[]][] = [
  [here("./compile.ts"), []],
  [here("./harness.ts"), process.argv.slice(2)],
];
for (const [script, args] of runs) {
  const r = spawnSync(process.execPath, ["--import", "tsx", script, ...args], { stdio: "inherit" });
  if (r.status !== 0) {
    console.error(`bench: ${script} exited with ${r.status ?? r.signal}`);
    process.exit(r.status ?? 1);
  }
}
