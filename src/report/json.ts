/** `--output json`: one JSON object per line per event, `type` first, other keys sorted. */
import type { Reporter, RunEvent } from "./events.ts";

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).sort((a, b) => (a === "type" ? -1 : b === "type" ? 1 : a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, sortKeys(o[k])]));
  }
  return v;
}

/** One event as its JSON line (without the newline). */
export function jsonLine(e: RunEvent): string {
  return JSON.stringify(sortKeys(e));
}

export function attachJson(r: Reporter, write: (s: string) => void): () => void {
  return r.on((e) => write(jsonLine(e) + "\n"));
}
