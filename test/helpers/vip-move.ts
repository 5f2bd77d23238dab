/**
 * Which failed probes a VIP move explains (test/e2e/nodes.test.ts, test/e2e/stacked-etcd.test.ts).
 * A connection open through the old holder when the VIP moves cannot follow an L2 move; such a probe
 * fails in one of two ways. Reset: the client's next packet reached the new holder, whose kernel
 * knows no such connection. Timeout with the connection up (TLS handshake or answer under way): the
 * old holder can no longer send from the VIP it gave up, and a client waiting for an answer sends
 * nothing that would draw the new holder's reset. A probe that started after the move must succeed,
 * and a timeout before a connection (a SYN nobody answered) would be a gap: nobody holding the VIP.
 */
import { sentFailures, type LoadFigures } from "../../src/drill/load.ts";

/** A probe that was sent and failed, on the caller's clock (`performance.now()`). */
export interface FailedProbe {
  start: number;
  end: number;
  error?: string;
  phase?: string;
}

/** The load's sent-and-failed probes (src/drill/load.ts sentFailures) on the caller's clock. */
export function failedProbes(f: LoadFigures): FailedProbe[] {
  return sentFailures(f).map((x) => ({ start: f.t0 + x.t, end: f.t0 + x.t + x.ms, error: x.error, phase: x.phase }));
}

/** Whether `x` is a probe a VIP move at `moved` strands: started before it, then reset, or timed out once connected. */
export function strandedBy(x: FailedProbe, moved: number): boolean {
  return x.start < moved && (x.error === "ECONNRESET" || (x.error === "timeout" && x.phase !== "connect"));
}

/** One line per failed probe, its start and end relative to the move, for assertion messages. */
export function moveTimeline(failed: readonly FailedProbe[], moved: number): string {
  return failed.map((x) => `started ${Math.round(x.start - moved)} ms, ended ${Math.round(x.end - moved)} ms from the move: ${x.error} at ${x.phase ?? "?"}`).join("\n");
}

/**
 * The first time the VIP was seen on a host other than `from` (events and times as
 * src/drill/watch.ts records them, times on the caller's clock); undefined if it never left.
 */
export function movedAt(vipEvents: readonly string[][], vipTimes: readonly number[], from: string): number | undefined {
  const i = vipEvents.findIndex((hs) => hs.some((h) => h !== from));
  return i < 0 ? undefined : vipTimes[i];
}
