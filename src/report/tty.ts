/**
 * Live view for a terminal: one line per phase, one line per host under the running (or failed)
 * phase, redrawn in place on every event. The state update and the frame are pure (`TtyView`);
 * `attachTty` only moves the cursor. Deterministic: durations come from events, no clock here.
 */
import type { ErrorInfo, Reporter, RunEvent } from "./events.ts";
import { duration, errorDetail, plural } from "./format.ts";
import { plainLines } from "./plain.ts";

type Status = "pending" | "running" | "done" | "skipped" | "failed";

interface HostRow {
  status: Status;
  /** Last change or note, or the skip reason / error message. */
  text?: string;
  durationMs?: number;
  error?: ErrorInfo;
}

interface PhaseRow {
  id: string;
  title: string;
  depth: number;
  status: Status;
  reason?: string;
  durationMs?: number;
  hosts: Map<string, HostRow>;
}

const MARK: Record<Status, string> = { pending: "·", running: "▸", done: "✔", skipped: "-", failed: "✖" };

/** The view's state, fed one event at a time. */
export class TtyView {
  phases: PhaseRow[] = [];
  hostOrder: string[] = [];
  dryRun = false;
  finished?: Extract<RunEvent, { type: "run-done" }>;

  #row(id: string, title = id): PhaseRow {
    let p = this.phases.find((x) => x.id === id);
    if (!p) {
      // A phase the run-start list did not announce: show it anyway, at the end.
      p = { id, title, depth: id.split("/").length - 1, status: "pending", hosts: new Map() };
      this.phases.push(p);
    }
    return p;
  }

  #host(p: PhaseRow, host: string): HostRow {
    let h = p.hosts.get(host);
    if (!h) {
      h = { status: "pending" };
      p.hosts.set(host, h);
    }
    return h;
  }

  apply(e: RunEvent): void {
    switch (e.type) {
      case "run-start":
        this.dryRun = e.dryRun;
        this.hostOrder = [...e.hosts];
        this.phases = e.phases.map((p) => ({ ...p, status: "pending", hosts: new Map() }));
        break;
      case "phase-start": {
        const p = this.#row(e.phase, e.title);
        if (e.host) this.#host(p, e.host).status = "running";
        else p.status = "running";
        break;
      }
      case "phase-skip": {
        const p = this.#row(e.phase, e.title);
        if (e.host) Object.assign(this.#host(p, e.host), { status: "skipped", text: e.reason });
        else Object.assign(p, { status: "skipped", reason: e.reason });
        break;
      }
      case "phase-done": {
        const p = this.#row(e.phase, e.title);
        if (e.host) Object.assign(this.#host(p, e.host), { status: "done", durationMs: e.durationMs });
        else Object.assign(p, { status: "done", durationMs: e.durationMs });
        break;
      }
      case "phase-fail": {
        const p = this.#row(e.phase, e.title);
        if (e.host) Object.assign(this.#host(p, e.host), { status: "failed", text: e.error.message, error: e.error });
        else Object.assign(p, { status: "failed", durationMs: e.durationMs, reason: e.error.message });
        break;
      }
      case "change":
        this.#host(this.#row(e.phase), e.host).text = `${e.dryRun ? "would " : ""}${e.message}`;
        break;
      case "note":
        if (e.phase && e.host) this.#host(this.#row(e.phase), e.host).text = e.message;
        break;
      case "cleanup":
        break;
      case "run-done":
        this.finished = e;
        break;
    }
  }

  #hostNames(p: PhaseRow): string[] {
    const order = new Map(this.hostOrder.map((h, i) => [h, i]));
    return [...p.hosts.keys()].sort((a, b) => (order.get(a) ?? 1e9) - (order.get(b) ?? 1e9) || a.localeCompare(b));
  }

  /** The lines of the live area, each cut to `width` columns, at most `rows` lines. */
  frame(width = 100, rows = 40): string[] {
    const lines: string[] = [];
    let focus = -1;
    const nameW = Math.max(0, ...this.hostOrder.map((h) => h.length));
    for (const p of this.phases) {
      const pad = "  ".repeat(p.depth);
      const hosts = this.#hostNames(p);
      let tail = "";
      if (p.status === "done") {
        const done = hosts.filter((h) => p.hosts.get(h)?.status === "done").length;
        tail = `${hosts.length ? ` ${done}/${plural(hosts.length, "host")}` : ""} ${duration(p.durationMs ?? 0)}`;
      } else if (p.status === "skipped") tail = `: skipped (${p.reason ?? ""})`;
      else if (p.status === "failed") tail = ": failed";
      if (p.status === "running" && focus < 0) focus = lines.length;
      lines.push(`${pad}${MARK[p.status]} ${p.title} [${p.id}]${tail}`);
      if (p.status === "running" || p.status === "failed") {
        for (const h of hosts) {
          const r = p.hosts.get(h)!;
          const extra = r.status === "done" ? ` ${duration(r.durationMs ?? 0)}` : "";
          lines.push(`${pad}    ${h.padEnd(nameW)}  ${MARK[r.status]}${extra}${r.text && r.status !== "done" ? ` ${r.text}` : ""}`);
        }
      }
    }
    const cut = lines.map((l) => ([...l].length > width ? [...l].slice(0, Math.max(1, width - 1)).join("") + "…" : l));
    if (cut.length <= rows) return cut;
    const start = Math.max(0, Math.min((focus < 0 ? cut.length : focus) - 1, cut.length - rows));
    return cut.slice(start, start + rows);
  }

  /** What stays on screen after the run: failure details and the final line. */
  epilogue(): string[] {
    const out: string[] = [];
    for (const p of this.phases) {
      for (const h of this.#hostNames(p)) {
        const r = p.hosts.get(h)!;
        if (r.error) out.push(`${h}: ${p.id}: ${r.error.message}`, ...errorDetail(r.error, "    "));
      }
    }
    if (this.finished) out.push(...plainLines(this.finished));
    return out;
  }
}

export interface TtyStream {
  write(s: string): unknown;
  columns?: number;
  rows?: number;
}

/** Subscribes a live renderer writing to `out` (a TTY). Returns the unsubscribe function. */
export function attachTty(r: Reporter, out: TtyStream): () => void {
  const view = new TtyView();
  let drawn = 0;
  return r.on((e) => {
    view.apply(e);
    const lines = view.frame((out.columns ?? 100) - 1, Math.max(3, (out.rows ?? 40) - 2));
    if (e.type === "run-done") lines.push(...view.epilogue());
    // Cursor to the first line of the previous frame, clear to the end, draw.
    const up = drawn > 0 ? `\x1b[${drawn}F` : "";
    out.write(`${up}\x1b[J${lines.join("\n")}\n`);
    drawn = e.type === "run-done" ? 0 : lines.length;
  });
}
