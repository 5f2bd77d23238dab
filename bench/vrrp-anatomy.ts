/**
 * For `bench/drill.ts --vrrp-anatomy`: where the time between a fault and the drill's "VIP moved"
 * goes, read from the VRRP adverts as they leave the lab's machines (tcpdump's kernel timestamps;
 * in a lab the machines and the drill share one clock):
 *   silent  = the old holder's last advert - the fault: how long the "dead" holder still spoke
 *             (the power-off's own latency; negative when its last advert came before the fault)
 *   wire    = the new holder's first advert - the fault: the takeover as the network saw it
 *   seen    = the watcher's event - the new holder's first advert: the drill's own lag in seeing
 *             the move (keepalived adding the address, `ip monitor`, SSH, the drill's event loop)
 * A backup sends no adverts (kubeha's VRRP never preempts), so the first advert from another host
 * after the fault is the new holder's.
 */
import type { ScenarioResult } from "../src/drill/types.ts";
import { distribution } from "../src/drill/stats.ts";

export interface Advert {
  wallMs: number;
  src: string;
  prio: number;
}

/**
 * One `tcpdump -i any -n -tt` line of a VRRP advert as it left its sender: the copy on the
 * sender's veth ("P", for another host, or "In"); the "Out" copy on the receiver's veth is the same
 * packet. undefined for anything else.
 */
export function parseAdvert(line: string): Advert | undefined {
  const m = /^(\d+)\.(\d{6}) \S+ +(?:In|P) +IP (\d+\.\d+\.\d+\.\d+) > \S+: VRRPv\d, Advertisement, vrid \d+, prio (\d+)/.exec(line);
  return m ? { wallMs: Number(m[1]) * 1000 + Number(m[2]) / 1000, src: m[3]!, prio: Number(m[4]) } : undefined;
}

export interface Anatomy {
  run: number;
  from: string;
  to: string;
  /** ms, see the file's comment; null when the capture has no such advert. */
  silentMs: number | null;
  wireMs: number | null;
  seenMs: number | null;
  /** The drill's own figure, for the row's total. */
  vipMovedMs: number | null;
}

/**
 * The anatomy of one scenario run; `adverts` are the lab's LB hosts' only, and `addressOf` maps a
 * host name to the address its adverts come from.
 */
export function anatomy(r: ScenarioResult, adverts: readonly Advert[], addressOf: (host: string) => string): Anatomy | null {
  const fault = r.marks.find((m) => m.kind === "fault");
  const from = r.targets[0];
  if (!fault || !from) return null;
  const t0 = Date.parse(r.startedAt);
  const faultWall = t0 + fault.t;
  const old = addressOf(from);
  // The old holder's adverts around the fault (a later power-on starts it speaking again).
  const oldAround = adverts.filter((a) => a.src === old && a.wallMs >= faultWall - 1000 && a.wallMs <= faultWall + 1000);
  const firstNew = adverts.find((a) => a.src !== old && a.wallMs >= faultWall);
  const moved = r.vip.find((e) => e.t >= fault.t && e.holders.length === 1 && e.holders[0] !== from);
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    run: r.run,
    from,
    to: moved?.holders[0] ?? "?",
    silentMs: oldAround.length ? round(oldAround[oldAround.length - 1]!.wallMs - faultWall) : null,
    wireMs: firstNew ? round(firstNew.wallMs - faultWall) : null,
    seenMs: firstNew && moved ? round(t0 + moved.t - firstNew.wallMs) : null,
    vipMovedMs: r.figures.vipMovedMs,
  };
}

/** A text table of the anatomies, one row per run, then min / p50 / max per column (nearest rank, src/drill/stats.ts). */
export function renderAnatomy(scenario: string, rows: readonly Anatomy[]): string {
  const cols = ["silentMs", "wireMs", "seenMs", "vipMovedMs"] as const;
  const fmt = (v: number | null) => (v === null ? "-" : String(v)).padStart(9);
  const L = [`${scenario}: ms from the fault (see bench/vrrp-anatomy.ts)`, `  run  from -> to          ${cols.map((c) => c.padStart(9)).join(" ")}`];
  for (const a of rows) L.push(`  ${String(a.run).padStart(3)}  ${`${a.from} -> ${a.to}`.padEnd(18)}${cols.map((c) => fmt(a[c])).join(" ")}`);
  const dists = cols.map((c) => distribution(rows.map((a) => a[c])));
  for (const k of ["min", "p50", "max"] as const) L.push(`  ${k.padEnd(23)}${dists.map((d) => fmt(d ? d[k] : null)).join(" ")}`);
  return L.join("\n");
}
