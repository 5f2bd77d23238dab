/**
 * Progress events of a run and the emitter renderers subscribe to (listr2-style): the phase runner
 * only emits, renderers only listen, so terminal output is swappable and testable from a recorded
 * event stream. Every string in an event is already redacted.
 */
import { KubehaError, StepError } from "../errors.ts";
import { HostsError } from "../exec/pool.ts";
import { redact } from "../util/redact.ts";

/** An error as events carry it: what the user needs to act, secrets masked. */
export interface ErrorInfo {
  message: string;
  hint?: string;
  host?: string;
  phase?: string;
  command?: string;
  exitCode?: number;
  stderrTail?: string;
}

export interface PhaseInfo {
  id: string;
  title: string;
  /** 0 for top-level phases. */
  depth: number;
}

export type RunEvent =
  | { type: "run-start"; dryRun: boolean; phases: PhaseInfo[]; hosts: string[] }
  | { type: "phase-start"; phase: string; title: string; host?: string }
  | { type: "phase-skip"; phase: string; title: string; host?: string; reason: string }
  | { type: "phase-done"; phase: string; title: string; host?: string; durationMs: number }
  | { type: "phase-fail"; phase: string; title: string; host?: string; durationMs: number; error: ErrorInfo }
  /** A state-changing action: done now (`dryRun` false) or what a real run would do. */
  | { type: "change"; phase: string; host: string; message: string; dryRun: boolean }
  /** Progress text that changes nothing ("waiting for the API server"). */
  | { type: "note"; phase?: string; host?: string; message: string }
  | { type: "cleanup"; phase: string; error?: ErrorInfo }
  | { type: "run-done"; ok: boolean; dryRun: boolean; durationMs: number; changes: number; error?: ErrorInfo };

export type Listener = (e: RunEvent) => void;

/** The event bus of one run. Listeners are called synchronously in subscription order. */
export class Reporter {
  #listeners: Listener[] = [];

  /** Subscribes; returns the unsubscribe function. */
  on(fn: Listener): () => void {
    this.#listeners.push(fn);
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== fn);
    };
  }

  emit(e: RunEvent): void {
    for (const l of this.#listeners) l(e);
  }
}

/** Records every event (tests, and `--output json` replays). */
export function record(r: Reporter): RunEvent[] {
  const events: RunEvent[] = [];
  r.on((e) => events.push(e));
  return events;
}

/** The user-facing parts of any error, redacted. */
export function errorInfo(err: unknown): ErrorInfo {
  if (err instanceof HostsError) {
    return { message: redact(err.message), ...(err.hint ? { hint: redact(err.hint) } : {}) };
  }
  if (err instanceof KubehaError) {
    const info: ErrorInfo = { message: redact(err.message) };
    if (err.hint) info.hint = redact(err.hint);
    if (err instanceof StepError) {
      const d = err.detail;
      if (d.host) info.host = d.host;
      if (d.phase) info.phase = d.phase;
      if (d.command) info.command = redact(d.command);
      if (d.exitCode !== undefined) info.exitCode = d.exitCode;
      if (d.stderrTail) info.stderrTail = redact(d.stderrTail);
    }
    return info;
  }
  return { message: redact(err instanceof Error ? err.message : String(err)) };
}
