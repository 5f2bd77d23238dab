/**
 * The figures a drill scenario is judged by, computed from what the probes recorded
 * (src/drill/probes.ts) and the VIP/mark events the orchestration recorded. Pure: no clock, no
 * I/O. The TSDoc on each function is the definition the report promises, so change both together.
 *
 * All times are milliseconds on the scenario's one clock (see src/drill/types.ts).
 */
import { LATE, type ApiSample, type EtcdWrite, type Mark, type ScenarioFigures, type VipEvent } from "./types.ts";

/** What the read-back of the numbered etcd keys found, compared with what the writer sent. */
export interface ZeroLossResult {
  /**
   * Sequence numbers of writes etcd acknowledged whose key is missing from the read-back or holds
   * a value other than `String(seq)`; ascending. Must be empty.
   */
  lost: number[];
  /** Writes etcd acknowledged. */
  acked: number;
  /** Writes not acknowledged (error or timeout). Their keys may or may not exist: neither is loss. */
  failed: number;
}

/**
 * Checks that every acknowledged write survived: an acknowledged write is lost when its key
 * (`seq`) is absent from `read` (seq → value read back) or its value is not `String(seq)`.
 * Writes that were not acknowledged are never loss, whether or not etcd applied them (a timed-out
 * write may well have been committed). Keys in `read` that no write sent are ignored.
 */
export function checkZeroLoss(writes: EtcdWrite[], read: Map<number, string>): ZeroLossResult {
  const lost: number[] = [];
  let acked = 0;
  let failed = 0;
  for (const w of writes) {
    if (!w.acked) {
      failed++;
      continue;
    }
    acked++;
    if (read.get(w.seq) !== String(w.seq)) lost.push(w.seq);
  }
  lost.sort((a, b) => a - b);
  return { lost, acked, failed };
}

/** The longest API outage seen by the probe. */
export interface Blackout {
  /** Its length in ms; 0 when no probe failed. */
  ms: number;
  /** Send time of its first failed probe; null when no probe failed. */
  from: number | null;
}

/**
 * Why a probe failed, as the report counts it: the error, and for a timeout where the exchange was
 * ("timeout at connect": no host answered the SYN; "at handshake" or "at answer": a connection
 * that went quiet, e.g. stranded on a host that gave up the VIP). Undefined for a probe that passed.
 */
export function probeReason(s: ApiSample): string | undefined {
  if (s.ok) return undefined;
  return s.error === "timeout" && s.phase ? `timeout at ${s.phase}` : s.error;
}

/**
 * API blackout: the longest run of consecutive failed probes, in send order (by `t`). A run
 * lasts from its first failure's send time to the send time of the success that ends it. A run
 * that lasts until the last probe ends at that last failure's send time plus its duration (`t + ms`),
 * i.e. when the probe gave up or got its error. On equal lengths the earlier run is reported.
 * Skipped probe slots ("skipped: too many in flight") are failures like any other.
 */
export function blackout(samples: ApiSample[]): Blackout {
  // Stable sort: samples sent in the same millisecond keep their recorded order.
  const s = samples.map((x, i) => ({ x, i })).sort((a, b) => a.x.t - b.x.t || a.i - b.i).map((e) => e.x);
  let best: Blackout = { ms: 0, from: null };
  let i = 0;
  while (i < s.length) {
    if (s[i]!.ok) {
      i++;
      continue;
    }
    let j = i;
    while (j + 1 < s.length && !s[j + 1]!.ok) j++;
    const first = s[i]!;
    const next = s[j + 1];
    const end = next ? next.t : s[j]!.t + s[j]!.ms;
    const ms = end - first.t;
    if (best.from === null || ms > best.ms) best = { ms, from: first.t };
    i = j + 1;
  }
  return best;
}

/** Holder events in time order (stable for equal times). */
function byTime(events: VipEvent[]): VipEvent[] {
  return events.map((e, i) => ({ e, i })).sort((a, b) => a.e.t - b.e.t || a.i - b.i).map((x) => x.e);
}

/**
 * Time until the VIP moved: from the fault (`faultT`) to the first event at or after it in which
 * exactly one machine holds the VIP and that machine is not one of `before` (the holders just
 * before the fault). null when that never happens before the events end. With `before` = []
 * (nobody held it), the first single holder counts.
 */
export function vipMoved(events: VipEvent[], faultT: number, before: string[]): number | null {
  for (const e of byTime(events)) {
    if (e.t < faultT) continue;
    if (e.holders.length === 1 && !before.includes(e.holders[0]!)) return e.t - faultT;
  }
  return null;
}

/**
 * Split brain: the longest continuous time during which two or more machines held the VIP at
 * once. Each event's holder set lasts until the next event (or `endT` for the last one);
 * consecutive events that both have two or more holders are one continuous period, even when the
 * set of holders changes between them. Times after `endT` are not counted. 0 = never.
 */
export function splitBrainMs(events: VipEvent[], endT: number): number {
  const s = byTime(events);
  let best = 0;
  let start: number | null = null;
  for (let i = 0; i < s.length; i++) {
    const e = s[i]!;
    if (e.t >= endT) break;
    if (e.holders.length >= 2) {
      start ??= e.t;
    } else if (start !== null) {
      best = Math.max(best, e.t - start);
      start = null;
    }
  }
  if (start !== null) best = Math.max(best, endT - start);
  return best;
}

/** The holders of the VIP in force at `t`: those of the last event at or before it ([] if none). */
export function holdersAt(events: VipEvent[], t: number): string[] {
  let h: string[] = [];
  for (const e of byTime(events)) {
    if (e.t > t) break;
    h = e.holders;
  }
  return h;
}

/** Everything recorded during one scenario that the figures are computed from. */
export interface FiguresInput {
  samples: ApiSample[];
  writes: EtcdWrite[];
  /** The etcd read-back after the scenario: seq → value (src/drill/probes.ts `readBack`). */
  read: Map<number, string>;
  vip: VipEvent[];
  /** The scenario's marks; the first "fault" mark is the fault time. */
  marks: Mark[];
  /** When the scenario's recording ended (bounds split-brain periods still open). */
  endT: number;
  /** Who held the VIP just before the fault; default: the holders in force at the fault's time. */
  vipBefore?: string[];
}

/**
 * The figures of one scenario (see ScenarioFigures). The fault time is the first "fault" mark;
 * without one, vipMovedMs and healthyAfterMs are null. healthyAfterMs runs from the first "restore"
 * mark that follows the fault (or from the fault when there is no restore mark) to the first
 * "healthy" mark at or after it: how long the cluster took to recover once the fault was undone
 * (the hold time is the drill's choice, not the cluster's). etcdLost counts acknowledged writes lost by
 * `checkZeroLoss`.
 */
export function computeFigures(input: FiguresInput): ScenarioFigures {
  const marks = [...input.marks].sort((a, b) => a.t - b.t);
  const fault = marks.find((m) => m.kind === "fault");
  let vipMovedMs: number | null = null;
  let healthyAfterMs: number | null = null;
  if (fault) {
    const before = input.vipBefore ?? holdersAt(input.vip, fault.t);
    vipMovedMs = vipMoved(input.vip, fault.t, before);
    const restore = marks.find((m) => m.kind === "restore" && m.t >= fault.t);
    const from = restore ? restore.t : fault.t;
    const healthy = marks.find((m) => m.kind === "healthy" && m.t >= from);
    if (healthy) healthyAfterMs = healthy.t - from;
  }
  const loss = checkZeroLoss(input.writes, input.read);
  const sent = input.samples.filter((s) => s.error !== LATE);
  return {
    blackoutMs: Math.round(blackout(sent).ms),
    failedProbes: sent.filter((s) => !s.ok).length,
    totalProbes: sent.length,
    unsentProbes: input.samples.length - sent.length,
    vipMovedMs,
    splitBrainMs: splitBrainMs(input.vip, input.endT),
    healthyAfterMs,
    etcdAcked: loss.acked,
    etcdFailed: loss.failed,
    etcdLost: loss.lost.length,
  };
}
