/**
 * The data a failover drill produces. One shape for everything downstream: the figures are
 * computed from it (src/drill/figures.ts), the HTML report draws it (src/drill/report-html.ts)
 * and `--report x.html` writes it next to the HTML as `x.json`.
 *
 * Times are milliseconds since the scenario's own start (`ScenarioResult.startedAt`), measured
 * on the machine that runs kubeha (one clock for every probe and event).
 */
import type { Distribution, DistributedFigure } from "./stats.ts";
import type { PersistentFigures } from "./persistent.ts";

/** The faults `kubeha drill` knows, in the order a full drill runs them. */
export const SCENARIOS = [
  "lb-haproxy-dies",
  "lb-keepalived-crash",
  "lb-machine-down",
  "kube-vip-crash",
  "apiserver-down",
  "controller-manager-leader-down",
  "etcd-member-down",
  "etcd-quorum-loss",
  "lb-partition",
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/**
 * Which load-balancer configuration is on the LB hosts during a scenario: kubeha's own render, or
 * one of the configurations the seed guides use (rendered onto the same hosts by `--compare seeds`).
 */
export const PROFILES = ["kubeha", "seed-002", "kubeadm-guide", "seed-004"] as const;
export type ProfileName = (typeof PROFILES)[number];

/** The error of an API probe slot that was not sent because too many requests were in flight. */
export const SKIPPED = "skipped: too many in flight";

/**
 * The error of an API probe slot that was not sent because the probing process itself was late:
 * its event loop ran more than LATE_MS after the slot was due (a stall of the machine running the
 * probe, not an answer from the cluster). Sending every such slot at once would be a burst of new
 * TLS connections no client makes, whose timeouts were then counted against the cluster.
 */
export const LATE = "skipped: probe client late";

/** One HTTPS request through the VIP (API_PROBE_PATH in load.ts). */
/**
 * Where an exchange was when it failed: "connect" (no TCP connection yet: nobody answered the
 * SYN), "handshake" (connected, TLS not done) or "answer" (request sent, waiting for the answer).
 * A timeout at "connect" means no host took the address; later ones, a connection stranded on
 * the host that held it.
 */
export type ExchangePhase = "connect" | "handshake" | "answer";

export interface ApiSample {
  /** When the request was sent. */
  t: number;
  /** How long until the answer or the failure (capped by the probe timeout). */
  ms: number;
  ok: boolean;
  /** Short failure reason: "timeout", "ECONNREFUSED", "ECONNRESET", "HTTP 500", ... */
  error?: string;
  /** A failed exchange's stage when it failed (unset for LATE and SKIPPED slots, never sent). */
  phase?: ExchangePhase;
}

/** One etcd write of a numbered key (`<prefix>/<seq>`, value = seq), sent sequentially. */
export interface EtcdWrite {
  seq: number;
  /** When the write was sent. */
  t: number;
  ms: number;
  /** true when etcd acknowledged it (the write must then survive: it is read back afterwards). */
  acked: boolean;
  error?: string;
}

/** The set of machines holding the VIP changed (or was first read) at `t`. */
export interface VipEvent {
  t: number;
  /** Host names holding the VIP after this event, sorted; [] = nobody. */
  holders: string[];
}

/** One reading of a leader-election Lease during a scenario (src/drill/leader.ts). */
export interface LeaseSample {
  /** When the reading arrived. */
  t: number;
  /** The Lease's holderIdentity ("" = nobody); `host` is its host part. */
  holder: string;
  host: string;
  /** The Lease's acquireTime and renewTime (RFC 3339, the holder's clock). */
  acquireTime?: string;
  renewTime?: string;
}

/** A moment in the scenario worth drawing: the fault, the restore, healthy again, notes. */
export interface Mark {
  t: number;
  kind: "fault" | "restore" | "healthy" | "note";
  label: string;
}

/** The numbers a scenario is judged by. */
export interface ScenarioFigures {
  /** Longest run of consecutive failed API probes: first failure's send time to the next success's send time. */
  blackoutMs: number;
  /** Probes sent that failed (a slot skipped at the in-flight cap counts: the cluster was slow to answer). */
  failedProbes: number;
  /** Probes sent. */
  totalProbes: number;
  /**
   * Slots never sent because the probing process itself was late (LATE in probes.ts: its event
   * loop stalled, e.g. by kubeha's own status polling): neither failures nor part of the blackout,
   * since the cluster was never asked. Absent in reports written before this figure.
   */
  unsentProbes?: number;
  /** From the fault to the VIP being held by exactly one machine other than the one holding it before; null = it never moved. */
  vipMovedMs: number | null;
  /** Longest time two or more machines held the VIP at once (0 = never). */
  splitBrainMs: number;
  /** From the restore until `status` reported healthy again; null = not healthy by the deadline. */
  healthyAfterMs: number | null;
  etcdAcked: number;
  etcdFailed: number;
  /** Acknowledged writes missing or wrong when read back after the scenario. Must be 0. */
  etcdLost: number;
  /**
   * Leader scenarios only: from the fault to another host holding the component's Lease (its
   * acquireTime, against this machine's clock at the fault); null = it never moved.
   */
  leaderMovedMs?: number | null;
}

export interface ScenarioResult {
  scenario: ScenarioName;
  profile: ProfileName;
  /** Which repetition of this scenario and profile (1..`DrillReport.runs`). */
  run: number;
  /** The machine(s) the fault was injected on. */
  targets: string[];
  /** What the fault was, in words, e.g. "SIGKILL haproxy on master1 (the VIP holder)". */
  fault: string;
  /** What is expected, e.g. "writes fail while quorum is lost; no acknowledged write is lost". */
  expectation: string;
  /** ISO time the scenario started (t = 0). */
  startedAt: string;
  durationMs: number;
  samples: ApiSample[];
  writes: EtcdWrite[];
  vip: VipEvent[];
  /** Leader scenarios only: the component's Lease as read during the fault. */
  lease?: { component: string; before: string; samples: LeaseSample[] };
  marks: Mark[];
  figures: ScenarioFigures;
  /**
   * The persistent-client lane (src/drill/persistent.ts): what K client-go-like clients with one
   * long-lived connection each saw during the scenario; null when the lane was off or could not start.
   */
  persistent: PersistentFigures | null;
  /** Targets from the issue checked against the figures ("blackout ≤ 1000 ms"), each passed or not. */
  checks: { name: string; ok: boolean; detail: string }[];
  /** Anything that went wrong in the drill itself (restore failed, probe could not start...). */
  problems: string[];
}

/** One figure of one scenario and profile over all runs (min / p50 / p95 / max, nearest rank: src/drill/stats.ts). */
export interface DistributionRow {
  scenario: ScenarioName;
  profile: ProfileName;
  figure: DistributedFigure;
  /** null when no run produced a value (e.g. the VIP never moved). */
  dist: Distribution | null;
}

/**
 * Per scenario and figure: kubeha's value, a seed profile's value and seed / kubeha. With several
 * runs the values are each side's p50 (nearest rank).
 */
export interface ComparisonRow {
  scenario: ScenarioName;
  profile: Exclude<ProfileName, "kubeha">;
  figure: "blackoutMs" | "failedProbes" | "vipMovedMs" | "splitBrainMs" | "healthyAfterMs";
  kubeha: number | null;
  seed: number | null;
  /** seed / kubeha; null when either is null or kubeha is 0 and seed is 0. Infinity is written as null with `note`. */
  ratio: number | null;
  note?: string;
}

export interface DrillReport {
  /** JSON shape version of this report. */
  version: 1;
  cluster: string;
  endpoint: string;
  startedAt: string;
  finishedAt: string;
  /** Where the probes ran from and how. */
  /** `path`: what each API probe GETs (API_PROBE_PATH in load.ts). */
  probe: { from: string; path: string; rateHz: number; timeoutMs: number; etcdIntervalMs: number };
  /** The persistent-client lane's settings; null when it was off. */
  persistentClients: { clients: number; intervalMs: number; readIdleMs: number; pingTimeoutMs: number } | null;
  /**
   * Set when the control plane's binaries are stand-ins (from the bundle's own description):
   * the report must say so on every page, these are not Kubernetes results.
   */
  standIn: string | null;
  /** How many times each scenario ran per profile (`--runs`). */
  runs: number;
  scenarios: ScenarioResult[];
  /** Every figure's distribution over the runs, per scenario and profile (also with runs = 1). */
  distributions: DistributionRow[];
  comparison: ComparisonRow[];
}
