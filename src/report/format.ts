/** Small formatting helpers shared by the renderers (pure). */
import type { ErrorInfo } from "./events.ts";

/** `0.4s`, `12.0s`, `2m05s`. */
export function duration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

/** The detail lines under a failure, indented by `indent`. */
export function errorDetail(e: ErrorInfo, indent: string): string[] {
  const out: string[] = [];
  if (e.command) out.push(`${indent}command: ${e.command}`);
  if (e.exitCode !== undefined) out.push(`${indent}exit:    ${e.exitCode}`);
  if (e.stderrTail) {
    out.push(`${indent}stderr:`);
    for (const l of e.stderrTail.split("\n")) out.push(`${indent}  ${l}`);
  }
  if (e.hint) out.push(`${indent}hint:    ${e.hint}`);
  return out;
}

/** `n thing` / `n things`. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** Rows as aligned columns (two spaces apart; the last column is not padded). The first row sets the column count. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ").trimEnd()).join("\n");
}
