/**
 * Who holds the VIP, as events: each LB host streams `ip monitor address` over its own SSH
 * connection and every VIP add/delete is stamped on kubeha's clock when it arrives. Polling would
 * miss a 300 ms handover between two polls.
 *
 * Arrival is late by the SSH path and by whatever else the drill's one event loop is doing (50 TLS
 * handshakes a second, the etcd writer, the persistent clients), so each line also carries the
 * host's own time (`ip -ts`), and each host's clock offset is measured when its stream starts
 * (hostClockOffset: `date` round trips, bounded by their round-trip times). Where the offset is
 * known to within HOST_CLOCK_MAX_ERROR_MS the event also gets `hostT`: the change on the drill's
 * clock as the host saw it. The order of events stays the order of arrival.
 *
 * A host that is powered off cannot report that it lost the VIP; the drill tells the watcher
 * (`gone`), and the watcher reconnects by itself when the host answers again.
 */
import type { Cluster, Host } from "../spec/model.ts";
import { ConnectionPool } from "../exec/pool.ts";
import { shq, type Transport } from "../exec/transport.ts";
import type { VipEvent } from "./types.ts";

export interface VipWatcher {
  /** Every change since the start (the first event is the initial state once all hosts reported). */
  readonly events: VipEvent[];
  /** Holders right now. */
  holders(): string[];
  /** Resolves when every host has reported its initial state (or `timeoutMs` passed). */
  ready(timeoutMs: number): Promise<boolean>;
  /** The host is off: it holds nothing from now on (until it reports again). */
  gone(host: string): void;
  stop(): Promise<void>;
}

/** Whether one `ip -o monitor address` / `ip -o addr show` line adds or deletes `vip`; undefined if unrelated. */
export function parseAddrLine(line: string, vip: string): "add" | "del" | undefined {
  if (!line.includes(` inet ${vip}/`)) return undefined;
  return line.startsWith("Deleted") ? "del" : "add";
}

/**
 * One `ip -ts -o monitor address` line (TZ=UTC0): whether it adds or deletes `vip`, and the
 * host's time (epoch ms, µs kept) when `ip` read the change; undefined if unrelated.
 */
export function parseMonitorLine(line: string, vip: string): { op: "add" | "del"; hostWallMs: number | null } | undefined {
  const m = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{6})\] (.*)$/.exec(line);
  const op = parseAddrLine(m ? m[3]! : line, vip);
  if (!op) return undefined;
  return { op, hostWallMs: m ? Date.parse(`${m[1]}Z`) + Number(m[2]) / 1000 : null };
}

/**
 * The shell command a watcher runs: the current addresses, then every change, one line each, with
 * the host's UTC time where its `ip` knows `-ts` (iproute2 4.x and later; older ones get no host time).
 */
export function watchCommand(h: Host): string {
  const dev = shq(h.interface);
  const monitor = `ip -o -4 monitor address dev ${dev}`;
  return `ip -o -4 addr show dev ${dev}; echo @@ready; if ip -ts -V >/dev/null 2>&1; then TZ=UTC0 exec ${monitor.replace("ip ", "ip -ts ")}; else exec ${monitor}; fi`;
}

/** A host's clock minus this machine's (ms), and how far off that estimate can be at most. */
export interface ClockOffset {
  offsetMs: number;
  errorMs: number;
}

/** hostT only where the host's clock offset is known to within this (ms). */
export const HOST_CLOCK_MAX_ERROR_MS = 5;


/**
 * The offset from `samples` round trips: each reading `host` (ms) was taken between `sent` and
 * `received` (this machine's wall ms), so offset lies in [host - received, host - sent]; the
 * intersection over all samples bounds it. null when the intervals disagree (a clock stepped).
 */
export function offsetFrom(samples: ReadonlyArray<{ sent: number; host: number; received: number }>): ClockOffset | null {
  if (!samples.length) return null;
  const lo = Math.max(...samples.map((x) => x.host - x.received));
  const hi = Math.min(...samples.map((x) => x.host - x.sent));
  if (lo > hi) return null;
  return { offsetMs: (lo + hi) / 2, errorMs: (hi - lo) / 2 };
}

/** Measures `t`'s host clock against this machine's with `n` `date` round trips; null if it cannot. */
export async function hostClockOffset(t: Pick<Transport, "run">, n = 5, signal?: AbortSignal): Promise<ClockOffset | null> {
  const samples: { sent: number; host: number; received: number }[] = [];
  for (let i = 0; i < n && !signal?.aborted; i++) {
    // The wall clock (Date.now(), not performance.now(): NTP slews it, not the monotonic clock),
    // whole ms, so `received` is rounded up to keep the interval honest.
    const sent = Date.now();
    const r = await t.run("date +%s.%N", { timeoutMs: 2000, ...(signal ? { signal } : {}) }).catch(() => null);
    const received = Date.now() + 1;
    const m = r && r.code === 0 ? /^(\d+)\.(\d{9})$/.exec(r.stdout.trim()) : null;
    if (m) samples.push({ sent, received, host: Number(m[1]) * 1000 + Number(m[2]) / 1e6 });
  }
  return offsetFrom(samples);
}

/**
 * Starts one watcher per host in `hosts`. `now()` gives the drill's time (ms since the scenario's t0).
 * Bounded: every stream ends at `stop()` or after `maxMs`.
 */
export function watchVip(c: Cluster, hosts: readonly Host[], now: () => number, opts: { maxMs: number }): VipWatcher {
  const holding = new Map<string, boolean>();
  const reported = new Set<string>();
  const events: VipEvent[] = [];
  const ac = new AbortController();
  const hostAborts = new Map<string, AbortController>();
  let readyResolve: (() => void) | undefined;
  const readyP = new Promise<void>((r) => (readyResolve = r));
  const deadline = setTimeout(() => ac.abort(), opts.maxMs);
  deadline.unref?.();

  const current = () => [...holding.entries()].filter(([, v]) => v).map(([k]) => k).sort();
  const emit = (hostT?: number) => {
    if (reported.size < hosts.length) return;
    const holders = current();
    const last = events[events.length - 1];
    if (last && last.holders.join() === holders.join()) return;
    events.push({ t: Math.round(now()), holders, ...(hostT !== undefined ? { hostT: Math.round(hostT) } : {}) });
  };

  const one = async (h: Host) => {
    while (!ac.signal.aborted) {
      const mine = new AbortController();
      hostAborts.set(h.name, mine);
      const onAbort = () => mine.abort();
      ac.signal.addEventListener("abort", onAbort, { once: true });
      const pool = new ConnectionPool({ connectAttempts: 1, connectTimeoutMs: 1500, keepaliveIntervalMs: 1000 });
      let buf = "";
      // Lines before @@ready are this connection's snapshot: they replace whatever was known.
      let snapshot: boolean | undefined = false;
      try {
        const t = await pool.get(h);
        const clock = await hostClockOffset(t, 5, mine.signal);
        const usable = clock && clock.errorMs <= HOST_CLOCK_MAX_ERROR_MS ? clock : null;
        // The host's time of a change, on the drill's clock: now() less how long ago that was.
        const toDrill = (hostWallMs: number) => now() - (Date.now() - (hostWallMs - usable!.offsetMs));
        await t.run(watchCommand(h), {
          timeoutMs: opts.maxMs,
          signal: mine.signal,
          onStdout: (chunk) => {
            buf += chunk;
            let i: number;
            while ((i = buf.indexOf("\n")) >= 0) {
              const line = buf.slice(0, i);
              buf = buf.slice(i + 1);
              if (line === "@@ready") {
                holding.set(h.name, snapshot === true);
                snapshot = undefined;
                reported.add(h.name);
                if (reported.size === hosts.length) readyResolve?.();
                emit();
                continue;
              }
              if (snapshot !== undefined) {
                const a = parseAddrLine(line, c.endpoint.address);
                if (a) snapshot = a === "add";
                continue;
              }
              const m = parseMonitorLine(line, c.endpoint.address);
              if (!m) continue;
              holding.set(h.name, m.op === "add");
              emit(usable && m.hostWallMs !== null ? toDrill(m.hostWallMs) : undefined);
            }
          },
        });
      } catch {
        // Unreachable (powered off, partitioned from us): try again shortly.
      } finally {
        ac.signal.removeEventListener("abort", onAbort);
        await pool.closeAll().catch(() => {});
      }
      if (!ac.signal.aborted) await new Promise((r) => setTimeout(r, 300));
    }
  };
  const runs = hosts.map((h) => one(h));

  return {
    events,
    holders: current,
    async ready(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const ok = await Promise.race([readyP.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs)))]);
      clearTimeout(timer);
      return ok;
    },
    gone(host) {
      holding.set(host, false);
      emit();
      // Its stream is stuck on a dead TCP connection: drop it so the loop reconnects when it is back.
      hostAborts.get(host)?.abort();
    },
    async stop() {
      clearTimeout(deadline);
      ac.abort();
      await Promise.allSettled(runs);
    },
  };
}

/**
 * The VIP's single holder once it has sat still for `quietMs` (no event for that long), or null
 * when it has not by `timeoutMs`. Polls the watcher every 50 ms; bounded by `timeoutMs`.
 */
export async function vipSettled(
  w: Pick<VipWatcher, "events" | "holders">,
  now: () => number,
  o: { quietMs: number; timeoutMs: number },
): Promise<string | null> {
  const deadline = now() + o.timeoutMs;
  for (;;) {
    const holders = w.holders();
    const last = w.events[w.events.length - 1];
    if (last && holders.length === 1 && now() - last.t >= o.quietMs) return holders[0]!;
    if (now() >= deadline) return null;
    await new Promise((r) => setTimeout(r, 50));
  }
}
