/** Escaping for the report renderers: every piece of user data goes through one of these. */

/** Text or attribute content for HTML and XML (`& < > " '`). */
export function escapeXml(s: string | number): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!)
    // Characters XML 1.0 forbids (a case name is arbitrary JSON text).
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, "\ufffd");
}

/** Inline Markdown text: neutralise table pipes, backticks and raw HTML. */
export function escapeMd(s: string | number): string {
  return String(s).replace(/[\\`*_{}[\]<>|#]/g, (c) => `\\${c}`).replace(/\r?\n/g, " ");
}

/** A fenced Markdown code block that its content cannot close. */
export function mdFence(lang: string, body: string): string {
  const longest = Math.max(2, ...[...body.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(longest + 1);
  return `${fence}${lang}\n${body.replace(/\n$/, "")}\n${fence}`;
}
