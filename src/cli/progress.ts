/**
 * The fuzz progress bar (cli-progress): cases/s, findings, elapsed, remaining. Only on a TTY:
 * when stdout is a file or a pipe (CI logs, nightly cron) nothing is drawn.
 */
import cliProgress from "cli-progress";
import type { Progress } from "../fuzz/fuzz.js";

/** A started bar. */
export interface Bar {
  update(p: Progress): void;
  stop(): void;
}

/** `1h02m`, `3m05s`, `42s`. */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const t = Math.max(0, Math.round(s));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, "0")}m`;
  if (m > 0) return `${m}m${String(sec).padStart(2, "0")}s`;
  return `${sec}s`;
}

/** The bar, or a no-op when `stream` is not a TTY. */
export function progressBar(stream: NodeJS.WriteStream): Bar {
  if (!stream.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar({
    stream,
    format: " {bar} {percentage}% | {cases} | {rate} cases/s | {findings} findings | {elapsed} elapsed | {remaining} left",
    barsize: 24,
    hideCursor: true,
    clearOnComplete: false,
    etaBuffer: 50,
  }, cliProgress.Presets.shades_classic);
  bar.start(1000, 0, { cases: "0 cases", rate: "0.0", findings: 0, elapsed: "0s", remaining: "?" });
  return {
    update(p) {
      const frac = p.total !== null ? p.done / Math.max(1, p.total) : p.elapsedMs / Math.max(1, p.budgetMs ?? 1);
      const remainingS = p.total !== null ? (p.total - p.done) / Math.max(1e-9, p.casesPerSecond) : ((p.budgetMs ?? 0) - p.elapsedMs) / 1000;
      bar.update(Math.min(1000, Math.round(frac * 1000)), {
        cases: p.total !== null ? `${p.done}/${p.total} cases` : `${p.done} cases`,
        rate: p.casesPerSecond.toFixed(1),
        findings: p.findings,
        elapsed: formatSeconds(p.elapsedMs / 1000),
        remaining: p.casesPerSecond > 0 || p.total === null ? formatSeconds(remainingS) : "?",
      });
    },
    stop() {
      bar.stop();
    },
  };
}
