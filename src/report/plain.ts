/** One line per event, for logs and terminals that are not a TTY. Deterministic: no timestamps. */
import type { Reporter, RunEvent } from "./events.ts";
import { duration, errorDetail, plural } from "./format.ts";

/** The lines one event prints (pure; the renderer writes them). */
export function plainLines(e: RunEvent): string[] {
  const who = (host?: string) => (host ? `    [${host}] ` : "    ");
  switch (e.type) {
    case "run-start":
      return [`kubeha: ${plural(e.phases.length, "phase")} on ${plural(e.hosts.length, "host")}${e.dryRun ? " (dry run: nothing will be changed)" : ""}`];
    case "phase-start":
      return e.host ? [`${who(e.host)}start`] : [`==> ${e.title} [${e.phase}]`];
    case "phase-skip":
      return e.host ? [`${who(e.host)}skipped: ${e.reason}`] : [`--> ${e.title} [${e.phase}]: skipped (${e.reason})`];
    case "phase-done":
      return e.host ? [`${who(e.host)}done (${duration(e.durationMs)})`] : [`    ${e.phase}: done (${duration(e.durationMs)})`];
    case "phase-fail":
      if (e.host) return [`${who(e.host)}FAILED: ${e.error.message}`, ...errorDetail(e.error, "        ")];
      return [`    ${e.phase}: FAILED (${duration(e.durationMs)})`];
    case "change":
      return [`${who(e.host)}${e.dryRun ? "would " : ""}${e.message}`];
    case "note":
      return [`${who(e.host)}${e.message}`];
    case "cleanup":
      return e.error ? [`    cleanup of ${e.phase} failed: ${e.error.message}`] : [`    cleaned up after ${e.phase}`];
    case "run-done": {
      if (!e.ok) return [`kubeha: failed after ${duration(e.durationMs)}${e.error ? `: ${e.error.message}` : ""}`];
      if (e.dryRun) return [`kubeha: dry run done: ${e.changes === 0 ? "no changes" : `${plural(e.changes, "change")} would be made`}`];
      return [`kubeha: done in ${duration(e.durationMs)}, ${plural(e.changes, "change")}`];
    }
  }
}

/** Subscribes a plain renderer; returns the unsubscribe function. */
export function attachPlain(r: Reporter, write: (s: string) => void): () => void {
  return r.on((e) => {
    for (const l of plainLines(e)) write(l + "\n");
  });
}
