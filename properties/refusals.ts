/**
 * Refusals judged word for word: the argument contracts of the public API (grad-composition's
 * `jacobian` and `argument-contract` claims, rewriter-contract's pass database) each call the API
 * with one misused argument and require one error class with one exact message, the message a
 * user reads and pastes into a bug report.
 */

/** One misuse: what it is (for the verdict), the call, and the exact message it must raise. */
export interface Refusal {
  readonly what: string;
  readonly run: () => unknown;
  readonly says: string;
}

/**
 * Why `r` was not refused as promised (an error of class `cls` whose message is exactly
 * `r.says`), or null when it was. `accepted` describes a call that did not throw.
 */
export function refusalProblem(r: Refusal, cls: abstract new (...args: never[]) => Error, accepted = "it was accepted"): string | null {
  let error: unknown = null;
  try {
    r.run();
  } catch (e) {
    error = e;
  }
  if (error instanceof cls && error.message === r.says) return null;
  const got = error === null ? accepted : `it threw ${error instanceof Error ? `${error.name}: ${error.message.split("\n")[0]}` : String(error)}`;
  return `${r.what} must raise ${/^[AEIOU]/.test(cls.name) ? "an" : "a"} ${cls.name} saying "${r.says}"; ${got}`;
}

/** What `fn` printed through console.warn, which is put back however fn ends. */
export function consoleWarnings(fn: () => unknown): string[] {
  const printed: string[] = [];
  const saved = console.warn;
  console.warn = (...args: unknown[]): void => {
    printed.push(args.map(String).join(" "));
  };
  try {
    fn();
  } finally {
    console.warn = saved;
  }
  return printed;
}
