/**
 * Who holds the VIP, as events: each LB host streams `ip monitor address` over its own SSH
 * connection and every VIP add/delete is stamped on kubeha's clock when it arrives (one clock for
 * all hosts, no remote time skew). Polling would miss a 300 ms handover between two polls.
 *
 * A host that is powered off cannot report that it lost the VIP; the drill tells the watcher
 * (`gone`), and the watcher reconnects by itself when the host answers again.
 */
import type { Cluster, Host } from "../spec/model.ts";
import { ConnectionPool } from "../exec/pool.ts";
import { shq } from "../exec/transport.ts";
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

/** The shell command a watcher runs: the current addresses, then every change, one line each. */
export function watchCommand(h: Host): string {
  const dev = shq(h.interface);
  return `ip -o -4 addr show dev ${dev}; echo @@ready; exec ip -o -4 monitor address dev ${dev}`;
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
  const emit = () => {
    if (reported.size < hosts.length) return;
    const holders = current();
    const last = events[events.length - 1];
    if (last && last.holders.join() === holders.join()) return;
    events.push({ t: Math.round(now()), holders });
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
              const a = parseAddrLine(line, c.endpoint.address);
              if (!a) continue;
              if (snapshot !== undefined) snapshot = a === "add";
              else {
                holding.set(h.name, a === "add");
                emit();
              }
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
