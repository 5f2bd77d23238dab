/**
 * Leader scenarios of the drill: the component's Lease read during the fault, and the figure
 * "time until another host holds it". The poller asks one control plane's kubectl for the Lease
 * every `intervalMs` (a bounded loop; each read is bounded by `timeout`); the figure is pure.
 *
 * The figure comes from the Lease itself: the new holder's `acquireTime` (its clock) minus this
 * machine's clock at the fault, so it does not include how late the poller saw the change (a
 * kubectl start on a loaded machine takes a second or more). Clock skew between the new leader and
 * this machine enters the figure; lab machines share this machine's clock.
 */
import type { Host } from "../spec/model.ts";
import type { Transport } from "../exec/transport.ts";
import { PATHS } from "../render/paths.ts";
import { LEASES_PATH, holderHost, leaseRecord, type LeaderComponent } from "../probe/leaders.ts";
import type { LeaseSample } from "./types.ts";

/** The read-only command that prints the component's Lease as JSON (bounded). */
export function leaseCommand(component: LeaderComponent): string {
  return `timeout 5 kubectl --kubeconfig=${PATHS.adminConf} get --raw ${LEASES_PATH}/${component}`;
}

/** One Lease JSON document -> a sample (undefined when it is not one). */
export function parseLeaseSample(text: string, t: number): LeaseSample | undefined {
  let r: ReturnType<typeof leaseRecord>;
  try {
    r = leaseRecord(JSON.parse(text));
  } catch {
    return undefined;
  }
  if (!r) return undefined;
  return {
    t,
    holder: r.holder,
    host: r.holder ? holderHost(r.holder) : "",
    ...(r.acquireTime !== undefined ? { acquireTime: r.acquireTime } : {}),
    ...(r.renewTime !== undefined ? { renewTime: r.renewTime } : {}),
  };
}

/**
 * Time until the leader moved: from the fault (`faultWallMs`, this machine's wall clock; `faultT` on
 * the scenario's clock) to the first sample in which a host other than `before` holds the Lease,
 * taken from that sample's acquireTime when it has one (else from when the sample arrived). null
 * when no such sample exists.
 */
export function leaderMoved(samples: readonly LeaseSample[], before: string, faultT: number, faultWallMs: number): number | null {
  const moved = samples.find((s) => s.t >= faultT && s.host !== "" && s.host !== before);
  if (!moved) return null;
  const acquired = moved.acquireTime ? Date.parse(moved.acquireTime) : NaN;
  return Math.max(0, Math.round(Number.isFinite(acquired) ? acquired - faultWallMs : moved.t - faultT));
}

/**
 * How long after the old leader's last renewal seen (`renewTime` of the last sample `before` held)
 * the new leader acquired the Lease (its `acquireTime`), in ms; null when either is unknown.
 * client-go's followers take a Lease only once it went unrenewed for its whole duration, so this
 * is at least the lease duration unless someone released or ignored the Lease.
 */
export function takeoverGap(samples: readonly LeaseSample[], before: string): number | null {
  const i = samples.findIndex((s) => s.host !== "" && s.host !== before);
  if (i < 0) return null;
  const old = [...samples.slice(0, i)].reverse().find((s) => s.host === before && s.renewTime);
  const acquired = Date.parse(samples[i]!.acquireTime ?? "");
  const renewed = Date.parse(old?.renewTime ?? "");
  return Number.isFinite(acquired) && Number.isFinite(renewed) ? Math.round(acquired - renewed) : null;
}

export interface LeasePoller {
  readonly samples: LeaseSample[];
  /** The latest sample. */
  current(): LeaseSample | undefined;
  stop(): Promise<void>;
}

/** Reads the Lease on `via` every `intervalMs` until `stop()` or `maxMs`. Failed reads are skipped. */
export function pollLease(get: (h: Host) => Promise<Transport>, via: Host, component: LeaderComponent, now: () => number, opts: { intervalMs: number; maxMs: number }): LeasePoller {
  const samples: LeaseSample[] = [];
  let stopped = false;
  const started = now();
  const loop = (async () => {
    while (!stopped && now() - started < opts.maxMs) {
      const at = now();
      try {
        const t = await get(via);
        const r = await t.run(leaseCommand(component), { sudo: true, timeoutMs: 10_000 });
        const s = r.code === 0 ? parseLeaseSample(r.stdout, Math.round(now())) : undefined;
        if (s) samples.push(s);
      } catch {
        // This read failed (connection trouble); the next one may not.
      }
      const wait = opts.intervalMs - (now() - at);
      if (wait > 0 && !stopped) await new Promise((r) => setTimeout(r, wait));
    }
  })();
  return {
    samples,
    current: () => samples[samples.length - 1],
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
