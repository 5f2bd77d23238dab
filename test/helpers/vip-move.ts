/**
 * Which failed probes a VIP move explains (test/e2e/nodes.test.ts, test/e2e/stacked-etcd.test.ts).
 * A connection open through the old holder when the VIP moves cannot follow an L2 move; such a probe
 * fails in one of two ways. Reset: the client's next packet reached the new holder, whose kernel
 * knows no such connection. Timeout with the connection up (TLS handshake or answer under way): the
 * old holder can no longer send from the VIP it gave up, and a client waiting for an answer sends
 * nothing that would draw the new holder's reset. A probe that started after the move must succeed,
 * and a timeout before a connection (a SYN nobody answered) would be a gap: nobody holding the VIP.
 */
import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { sentFailures, type LoadFigures } from "../../src/drill/load.ts";
import { watchVip } from "../../src/drill/watch.ts";
import type { Cluster, Host } from "../../src/spec/model.ts";

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

/** What `whileVipWatched` saw, beside the value its body returned. */
export interface VipWatched<T> {
  value: T;
  /** The one holder when watching began, as a list. */
  holders: string[];
  /** Who held the VIP at each change (the first entry is the state when watching began). */
  vipEvents: string[][];
  /** When each change was seen, `performance.now()` (the clock of a load's `t0`). */
  vipTimes: number[];
}

/**
 * Runs `body` with the VIP watched on `lbs` (src/drill/watch.ts): every LB host must report its
 * addresses within 15 s and exactly one must hold the VIP before `body` starts (`what` names the
 * operation in that assertion). The watcher is stopped however `body` ends.
 */
export async function whileVipWatched<T>(c: Cluster, lbs: readonly Host[], what: string, body: (holders: string[]) => Promise<T>): Promise<VipWatched<T>> {
  const t0 = performance.now();
  const watcher = watchVip(c, lbs, () => performance.now() - t0, { maxMs: 15 * 60_000 });
  try {
    assert.ok(await watcher.ready(15_000), "every LB host reported its addresses");
    const holders = watcher.holders();
    assert.equal(holders.length, 1, `one VIP holder before ${what}: ${holders.join(", ")}`);
    const value = await body(holders);
    return { value, holders, vipEvents: watcher.events.map((e) => e.holders), vipTimes: watcher.events.map((e) => t0 + e.t) };
  } finally {
    await watcher.stop();
  }
}
