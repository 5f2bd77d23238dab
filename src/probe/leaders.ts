/**
 * Who leads kube-controller-manager and kube-scheduler, for `kubeha status` (pure). Both components
 * elect a leader through a coordination.k8s.io/v1 Lease of their own name in kube-system (client-go's
 * leader election; what seeds 001 and 002 check with `kubectl get endpoints|leases`). Each control
 * plane reads the Lease list with kubectl and its own clock in the same round trip as the rest of
 * the status script; the first control plane that could read it is the one reported.
 *
 * A Lease nobody renewed for its `leaseDurationSeconds` has no leader: every instance is stopped or
 * cut off from the API, nothing reconciles (controller-manager) or schedules (scheduler). That is a
 * problem (a warning for the few seconds of a normal handover, HANDOVER_GRACE_S); so is no Lease at
 * all (the component never ran leader election).
 */
import { PATHS } from "../render/paths.ts";
import { table } from "../report/format.ts";

/** The components whose leader `status` shows, in report order; each one's Lease has its name. */
export const LEADER_COMPONENTS = ["kube-controller-manager", "kube-scheduler"] as const;
export type LeaderComponent = (typeof LEADER_COMPONENTS)[number];
export const LEASE_NAMESPACE = "kube-system";

/**
 * client-go's leader-election defaults in seconds (LeaderElectionConfiguration: leaseDuration 15 s,
 * renewDeadline 10 s, retryPeriod 2 s), which kubeadm's controller-manager and scheduler manifests
 * leave in place; `jitter` is client-go's JitterFactor: a follower retries after
 * retryPeriod x (1 + rand x 1.2).
 */
export const LEADER_ELECTION = { lease: 15, renew: 10, retry: 2, jitter: 1.2 } as const;

/**
 * How long after a Lease's expiry (renewTime + leaseDuration) a follower may still take it, in
 * seconds: client-go's follower counts the duration from when IT saw the last renewal, which its
 * retry loop (retryPeriod x (1 + rand x jitter), up to 4.4 s apart) notices up to one retry late,
 * and it tries again up to one retry after its own expiry: 2 x 4.4 = 8.8 s.
 */
export const FOLLOWER_LAG_S = 2 * LEADER_ELECTION.retry * (1 + LEADER_ELECTION.jitter);

/**
 * A Lease that expired this recently is being handed over, not abandoned: FOLLOWER_LAG_S, rounded
 * up, plus a second for the reading. Inside that window `status` warns instead of failing, so a
 * status taken right when a leader stopped is not a false alarm; past it, nobody is renewing. (It
 * was one retry, 6 s: a status right after a normal handover then reported "no leader", which
 * failed the drill e2e once.)
 */
export const HANDOVER_GRACE_S = Math.ceil(FOLLOWER_LAG_S) + 1;

/** One component's leader as `status` reports it; `status.schema.json` describes it. */
export interface LeaderStatus {
  component: LeaderComponent;
  /** `kube-system/<component>`. */
  lease: string;
  /** The Lease's holderIdentity (`<hostname>_<uuid>` for these components); absent when nobody holds it. */
  holder?: string;
  /** The host part of `holder`. */
  host?: string;
  /** Seconds since the holder acquired the Lease (its `acquireTime`). */
  heldForSeconds?: number;
  /** Seconds since the last renewal (`renewTime`). */
  renewedAgoSeconds?: number;
  leaseDurationSeconds?: number;
  /** How many times the Lease changed hands (`leaseTransitions`). */
  transitions?: number;
  /** True when nobody leads: no Lease, no holder, or not renewed within its duration. */
  leaderless: boolean;
  /** The control plane whose kubectl read the Lease. */
  readFrom: string;
}

/** One Lease as read from the API. */
export interface LeaseRecord {
  name: string;
  holder: string;
  acquireTime?: string;
  renewTime?: string;
  leaseDurationSeconds?: number;
  transitions?: number;
}

/** What one control plane read: its clock (seconds since the epoch) and the Leases, or why not. */
export type LeaseReading = { now: number; leases: LeaseRecord[] } | { error: string };

/** The Lease list's API path; a Lease's is this plus `/<name>`. */
export const LEASES_PATH = `/apis/coordination.k8s.io/v1/namespaces/${LEASE_NAMESPACE}/leases`;

/** One Lease object (as the API serves it) -> the fields kubeha reads; the one parser of a Lease's spec. */
export function leaseRecord(obj: unknown): LeaseRecord | undefined {
  const it = obj as { metadata?: { name?: string }; spec?: Record<string, unknown> } | null;
  if (!it || typeof it !== "object" || !it.spec) return undefined;
  const s = it.spec;
  const r: LeaseRecord = { name: String(it.metadata?.name ?? ""), holder: typeof s.holderIdentity === "string" ? s.holderIdentity : "" };
  if (typeof s.acquireTime === "string") r.acquireTime = s.acquireTime;
  if (typeof s.renewTime === "string") r.renewTime = s.renewTime;
  if (typeof s.leaseDurationSeconds === "number") r.leaseDurationSeconds = s.leaseDurationSeconds;
  if (typeof s.leaseTransitions === "number") r.transitions = s.leaseTransitions;
  return r;
}

/**
 * The status script's part on a control plane: the host's clock, then the Lease list as JSON.
 * `get --raw` is answered the same by every kubectl; `timeout` bounds it when the API hangs.
 */
export function leasesScript(): string[] {
  return [`echo "@@leases"; date +%s.%N; timeout 6 kubectl --kubeconfig=${PATHS.adminConf} get --raw ${LEASES_PATH} 2>&1; echo`];
}

/** Parses the `@@leases` section. */
export function parseLeases(lines: readonly string[]): LeaseReading {
  const clock = (lines[0] ?? "").trim();
  const now = Number(clock);
  const text = lines.slice(1).join("\n").trim();
  if (!/^\d+(\.\d+)?$/.test(clock)) return { error: `no clock reading (${clock || "empty"})` };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    const tail = text.split("\n").filter(Boolean).slice(-2).join(" ").slice(0, 300);
    return { error: `kubectl could not list the Leases: ${tail || "no output"}` };
  }
  const items = (doc as { items?: unknown }).items;
  if (!Array.isArray(items)) return { error: "kubectl answered something that is not a Lease list" };
  const leases: LeaseRecord[] = [];
  for (const it of items as Array<{ metadata?: { name?: string }; spec?: Record<string, unknown> }>) leases.push(leaseRecord({ ...it, spec: it?.spec ?? {} })!);
  return { now, leases };
}

/** client-go's identity for these components is `<hostname>_<uuid>` (a hostname has no `_`). */
export const holderHost = (identity: string): string => identity.split("_")[0]!;

const secondsSince = (now: number, time: string | undefined): number | undefined => {
  const t = time ? Date.parse(time) : NaN;
  return Number.isFinite(t) ? Math.max(0, Math.round((now - t / 1000) * 10) / 10) : undefined;
};

/** The leaders from the control planes' readings, in cluster-file order (pure). */
export function evaluateLeaders(readings: ReadonlyArray<{ host: string; reading: LeaseReading }>, problems: string[], warnings: string[]): LeaderStatus[] {
  if (!readings.length) return [];
  const ok = readings.find((r) => !("error" in r.reading));
  if (!ok || "error" in ok.reading) {
    const why = [...new Set(readings.map((r) => ("error" in r.reading ? `${r.host}: ${r.reading.error}` : "")))].join("; ");
    warnings.push(`controller-manager and scheduler leaders unknown: ${why}`);
    return [];
  }
  const { now, leases } = ok.reading;
  return LEADER_COMPONENTS.map((component) => {
    const lease = `${LEASE_NAMESPACE}/${component}`;
    const l = leases.find((x) => x.name === component);
    const base = { component, lease, readFrom: ok.host };
    if (!l) {
      problems.push(`no ${component} leader: there is no Lease ${lease} (no ${component} ever ran leader election; is it running on the control planes?)`);
      return { ...base, leaderless: true };
    }
    const renewedAgo = secondsSince(now, l.renewTime);
    const out: LeaderStatus = { ...base, leaderless: false };
    if (l.holder) Object.assign(out, { holder: l.holder, host: holderHost(l.holder) });
    const held = secondsSince(now, l.acquireTime);
    if (held !== undefined) out.heldForSeconds = held;
    if (renewedAgo !== undefined) out.renewedAgoSeconds = renewedAgo;
    if (l.leaseDurationSeconds !== undefined) out.leaseDurationSeconds = l.leaseDurationSeconds;
    if (l.transitions !== undefined) out.transitions = l.transitions;
    const expired = renewedAgo === undefined || l.leaseDurationSeconds === undefined || renewedAgo > l.leaseDurationSeconds;
    if (!l.holder || expired) {
      out.leaderless = true;
      const last = l.holder ? ` (last held by ${holderHost(l.holder)})` : "";
      const ago = renewedAgo !== undefined && l.leaseDurationSeconds !== undefined ? ` ${Math.round(renewedAgo - l.leaseDurationSeconds)} s ago` : "";
      const over = renewedAgo !== undefined && l.leaseDurationSeconds !== undefined ? renewedAgo - l.leaseDurationSeconds : Infinity;
      if (l.holder && over <= HANDOVER_GRACE_S)
        warnings.push(`${component} leader changing hands: its Lease ${lease} expired${ago}${last}; a follower takes it at its next retry (within ${HANDOVER_GRACE_S} s of expiry)`);
      else problems.push(`no ${component} leader: its Lease ${lease} expired${ago}${last}: no ${component} instance renews it`);
    }
    return out;
  });
}

/** `75` -> `1m15s`. */
export function shortDuration(s: number | undefined): string {
  if (s === undefined) return "-";
  const n = Math.floor(s);
  if (n < 60) return `${n}s`;
  if (n < 3600) return `${Math.floor(n / 60)}m${String(n % 60).padStart(2, "0")}s`;
  return `${Math.floor(n / 3600)}h${String(Math.floor(n / 60) % 60).padStart(2, "0")}m`;
}

/** The leaders' table for the text report. */
export function renderLeaders(leaders: readonly LeaderStatus[]): string {
  return table([
    ["COMPONENT", "LEADER", "HELD FOR", "RENEWED", "LEASE", "TRANSITIONS"],
    ...leaders.map((l) => [
      l.component,
      l.leaderless ? (l.host ? `NONE (expired; was ${l.host})` : "NONE") : l.host ?? "-",
      shortDuration(l.heldForSeconds),
      l.renewedAgoSeconds === undefined ? "-" : `${shortDuration(l.renewedAgoSeconds)} ago`,
      l.leaseDurationSeconds === undefined ? "-" : `${l.leaseDurationSeconds}s`,
      l.transitions === undefined ? "-" : String(l.transitions),
    ]),
  ]);
}
