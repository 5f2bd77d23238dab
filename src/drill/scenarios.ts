/**
 * What each drill scenario does, as data: the fault, how to undo it, how long to hold it and what
 * the figures must show. Pure: it reads the cluster and a snapshot of who holds what right now
 * (VIP holder, etcd leader) and returns actions; `src/drill/run.ts` carries them out.
 *
 * Faults are what an operator would do by hand on a real cluster (the seeds' own checks: kill
 * haproxy, stop keepalived, power a machine off, take the apiserver's static pod away), never
 * anything that only works in kubeha's lab.
 */
import type { Cluster, Host } from "../spec/model.ts";
import { hostByName, hostsWithRole } from "../spec/model.ts";
import { KUBE_VIP_TIMING } from "../render/kubevip.ts";
import { vipCandidate } from "../probe/status.ts";
import { UsageError } from "../errors.ts";
import { shq } from "../exec/transport.ts";
import { PATHS } from "../render/paths.ts";
import { SCENARIOS, type ProfileName, type ScenarioFigures, type ScenarioName } from "./types.ts";
import { runsExternalEtcd, usesKeepalived } from "../spec/topology.ts";
import { FOLLOWER_LAG_S, LEADER_ELECTION, type LeaderComponent } from "../probe/leaders.ts";

/** One step of a fault or its undo. */
export type Action =
  | { kind: "run"; host: string; command: string; what: string }
  | { kind: "power-off"; host: string }
  | { kind: "power-on"; host: string };

/**
 * How long the fault stays injected before the undo:
 * - "recovered": until the API probes have succeeded for `settleMs` in a row and one machine holds
 *   the VIP (the cluster routed around the fault), at least `minMs`, at most the drill's max hold;
 * - "fixed": exactly `minMs`;
 * - "split": until two machines hold the VIP, then `settleMs` more (at most the max hold).
 * - "single-holder": until one machine has held the VIP alone for `settleMs` (at most the max hold).
 * - "leader-moved": until another host holds the plan's `lease`, then `settleMs` more (at most the max hold).
 */
export interface Hold {
  until: "recovered" | "fixed" | "split" | "single-holder" | "leader-moved";
  minMs: number;
  settleMs: number;
  /** The longest hold this scenario needs to see its target met, when more than the drill's max hold. */
  atLeastMs?: number;
}

/** The judgement a figure gets, for kubeha's own configuration (seed profiles are measured, not judged). */
export interface Target {
  name: string;
  check(f: ScenarioFigures, ctx: { splitDetectedByStatus: boolean; singleHolderBeforeRestore: boolean; takeoverGapMs: number | null }): { ok: boolean; detail: string };
}

export interface ScenarioPlan {
  scenario: ScenarioName;
  targets: string[];
  fault: string;
  expectation: string;
  /** Set-up that is not the fault itself (runs before the fault mark, e.g. a daemon-reload). */
  prepare?: Action[];
  inject: Action[];
  restore: Action[];
  hold: Hold;
  /** Targets judged for profile "kubeha"; every profile is judged on lost etcd writes. */
  targetsFor(profile: ProfileName): Target[];
  /** Needs machine power control (`--lab` or power commands). */
  needsPower: boolean;
  /** `kubeha status` must say degraded while the fault is held (false for faults that heal themselves). */
  statusDegraded: boolean;
  /** Leader scenarios: whose Lease to watch, who held it before the fault, and the control plane that reads it. */
  lease?: { component: LeaderComponent; before: string; via: string };
}

/** Who holds what right now, read from `kubeha status` before the scenario. */
export interface Snapshot {
  vipHolders: string[];
  etcdLeader?: string;
  /** The host holding each component's Lease (from status's leaders). */
  leaders?: Partial<Record<LeaderComponent, string>>;
}

const DRILL_DROPIN_DIR = "/run/systemd/system/haproxy.service.d";
// Sorts after kubeha's own 10-kubeha.conf, so its Restart=no wins while the fault lasts.
const DRILL_DROPIN = `${DRILL_DROPIN_DIR}/99-kubeha-drill.conf`;
const MANIFESTS = PATHS.manifestsDir;

/**
 * Commands that park a static pod's manifest outside the manifests directory (the kubelet stops
 * the pod when its file disappears; it reads every non-hidden file in that directory whatever
 * its name, so a renamed file beside the others would still be a pod) and put it back.
 */
export function parkManifest(pod: string): { stop: string; start: string } {
  const m = `${MANIFESTS}/${pod}.yaml`;
  const parked = `${PATHS.parkedManifestsDir}/${pod}.yaml`;
  return { stop: `mkdir -p ${PATHS.parkedManifestsDir} && mv ${m} ${parked}`, start: `test -e ${m} || mv ${parked} ${m}` };
}

const noLoss: Target = {
  name: "no acknowledged etcd write lost",
  check: (f) => ({ ok: f.etcdLost === 0, detail: `${f.etcdLost} of ${f.etcdAcked} acknowledged writes missing after the scenario` }),
};

const blackoutAtMost = (ms: number): Target => ({
  name: `API blackout ≤ ${ms} ms`,
  check: (f) => ({ ok: f.blackoutMs <= ms, detail: `longest run of failed probes ${f.blackoutMs} ms (${f.failedProbes}/${f.totalProbes} failed)` }),
});

const vipMoved: Target = {
  name: "the VIP moved to another machine",
  check: (f) => ({ ok: f.vipMovedMs !== null, detail: f.vipMovedMs === null ? "the VIP did not move" : `moved after ${f.vipMovedMs} ms` }),
};

const healthyAgain: Target = {
  name: "healthy again after the restore",
  check: (f) => ({ ok: f.healthyAfterMs !== null, detail: f.healthyAfterMs === null ? "status never reported healthy" : `healthy ${f.healthyAfterMs} ms after the restore` }),
};

function theHolder(c: Cluster, s: Snapshot, scenario: ScenarioName): Host {
  if (s.vipHolders.length !== 1) {
    throw new UsageError(
      `${scenario} needs exactly one VIP holder before the fault, found ${s.vipHolders.length ? s.vipHolders.join(", ") : "none"}`,
      "run `kubeha status FILE` and fix the VIP first (the drill only starts from a healthy cluster)",
    );
  }
  return hostByName(c, s.vipHolders[0]!);
}

/** The endpoint modes each scenario's fault exists in (the others fit every cluster). */
const MODES: Partial<Record<ScenarioName, readonly Cluster["endpoint"]["mode"][]>> = {
  "lb-haproxy-dies": ["haproxy-keepalived"],
  "lb-keepalived-crash": ["haproxy-keepalived"],
  "lb-machine-down": ["haproxy-keepalived", "kube-vip"],
  "kube-vip-crash": ["kube-vip"],
  "lb-partition": ["haproxy-keepalived"],
};

/** The scenarios that fit the cluster's endpoint mode, in drill order (the default of `--scenario`). */
export function scenariosFor(c: Cluster): ScenarioName[] {
  return SCENARIOS.filter((s) => MODES[s]?.includes(c.endpoint.mode) ?? true);
}

function needsVip(c: Cluster, scenario: ScenarioName): void {
  if (!(MODES[scenario]?.includes(c.endpoint.mode) ?? true)) {
    throw new UsageError(
      `${scenario} tests ${MODES[scenario]!.join(" or ")} endpoints, but cluster ${c.name} uses endpoint mode ${c.endpoint.mode}`,
      `choose scenarios that fit the topology: ${scenariosFor(c).join(", ")}`,
    );
  }
}

/**
 * Longest API blackout when kube-vip moves the VIP off a dead holder: a follower sees the last
 * renewal up to one retry late, the Lease runs out, the next retry takes it (lease + 2 retries);
 * +1 s for the probe in flight (its timeout); +2 s for etcd to elect a new leader when the holder
 * ran it too (the new holder writes the Lease through etcd).
 */
const KUBE_VIP_TAKEOVER_MS = (KUBE_VIP_TIMING.lease + 2 * KUBE_VIP_TIMING.retry + 3) * 1000;

/**
 * Longest time from stopping the controller-manager leader to another one holding its Lease. The
 * leader renews every retry period and does not release the Lease when stopped (client-go's
 * ReleaseOnCancel is off), so the last renewal is at most one retry before the stop. A follower
 * notices that renewal up to one jittered retry (retry x 2.2) late and counts the lease duration
 * from then; it takes the Lease at its next jittered retry: lease + 2 x retry x 2.2. +2 s for the
 * acquisition's own API round trip and the stopped pod's grace.
 */
export const LEADER_TAKEOVER_MS = Math.round((LEADER_ELECTION.lease + FOLLOWER_LAG_S + 2) * 1000);

const leaderMovedWithin = (ms: number): Target => ({
  name: `another control plane holds the Lease within ${ms} ms`,
  check: (f) => ({
    ok: f.leaderMovedMs !== undefined && f.leaderMovedMs !== null && f.leaderMovedMs <= ms,
    detail: f.leaderMovedMs === undefined || f.leaderMovedMs === null ? "the Lease did not move" : `moved after ${f.leaderMovedMs} ms`,
  }),
});

const tookOverOnlyAfterExpiry: Target = {
  name: `the new leader waited for the old Lease to expire (≥ ${LEADER_ELECTION.lease} s after its last renewal: never two leaders)`,
  check: (_f, x) => ({
    ok: x.takeoverGapMs !== null && x.takeoverGapMs >= LEADER_ELECTION.lease * 1000,
    detail: x.takeoverGapMs === null ? "unknown (no renewal and acquisition seen)" : `acquired ${x.takeoverGapMs} ms after the old leader's last renewal seen`,
  }),
};

/** Members whose etcd kubeha can stop: systemd units (external) or static pods (stacked). */
function etcdStop(c: Cluster, h: Host): { stop: string; start: string; what: string } {
  if (runsExternalEtcd(c, h)) return { stop: "systemctl stop etcd.service", start: "systemctl start etcd.service", what: "etcd.service" };
  return { ...parkManifest("etcd"), what: "the etcd static pod" };
}

/** The etcd members in the order the drill stops them: the leader first. */
function etcdVictims(c: Cluster, s: Snapshot): Host[] {
  const names = [...c.etcd.members].sort((a, b) => Number(b === s.etcdLeader) - Number(a === s.etcdLeader));
  return names.map((n) => hostByName(c, n));
}

/** Plans scenario `name` for the cluster as it is now. */
export function planScenario(c: Cluster, name: ScenarioName, s: Snapshot): ScenarioPlan {
  const judged = (targets: Target[]) => (p: ProfileName) => (p === "kubeha" ? [...targets, noLoss, healthyAgain] : [noLoss, healthyAgain]);
  switch (name) {
    case "lb-haproxy-dies": {
      needsVip(c, name);
      const h = theHolder(c, s, name);
      return {
        scenario: name,
        targets: [h.name],
        fault: `SIGKILL every haproxy process on ${h.name} (the VIP holder); systemd may not restart it during the fault`,
        expectation: "the VIP moves to another LB host within a second; API blackout ≤ 1.0 s",
        prepare: [
          {
            kind: "run",
            host: h.name,
            what: "keep haproxy down once killed (runtime drop-in Restart=no)",
            command: `mkdir -p ${DRILL_DROPIN_DIR} && printf '[Service]\\nRestart=no\\n' > ${DRILL_DROPIN} && systemctl daemon-reload`,
          },
        ],
        inject: [{ kind: "run", host: h.name, what: "SIGKILL haproxy", command: "systemctl kill --signal=SIGKILL haproxy.service" }],
        restore: [{ kind: "run", host: h.name, what: "start haproxy again", command: `rm -f ${DRILL_DROPIN} && systemctl daemon-reload && systemctl reset-failed haproxy.service; systemctl start haproxy.service` }],
        hold: { until: "recovered", minMs: 3000, settleMs: 2000 },
        targetsFor: judged([blackoutAtMost(1000), vipMoved]),
        needsPower: false,
        statusDegraded: true,
      };
    }
    case "lb-keepalived-crash": {
      needsVip(c, name);
      const h = theHolder(c, s, name);
      return {
        scenario: name,
        targets: [h.name],
        fault: `SIGKILL every keepalived process on ${h.name} (the VIP holder); nothing removes its VIP address but systemd`,
        expectation:
          "kubeha's drop-in removes the dead keepalived's VIP at once (ExecStopPost=), so no two machines hold it; a backup takes over, " +
          "then exactly one holder, without anyone stepping in (seed configurations leave the VIP behind until keepalived restarts)",
        inject: [{ kind: "run", host: h.name, what: "SIGKILL keepalived", command: "systemctl kill --signal=SIGKILL keepalived.service" }],
        restore: [{ kind: "run", host: h.name, what: "make sure keepalived runs", command: "systemctl reset-failed keepalived.service; systemctl start keepalived.service" }],
        hold: { until: "single-holder", minMs: 3000, settleMs: 2000 },
        targetsFor: judged([
          {
            name: "two VIP holders for at most 50 ms (systemd removes the dead keepalived's VIP)",
            check: (f) => ({ ok: f.splitBrainMs <= 50, detail: `two holders for ${f.splitBrainMs} ms` }),
          },
          {
            name: "one VIP holder again before the restore",
            check: (_f, x) => ({ ok: x.singleHolderBeforeRestore, detail: x.singleHolderBeforeRestore ? "yes, by itself" : "no: still not one holder when the drill restored" }),
          },
        ]),
        needsPower: false,
        // systemd restarts keepalived within a second: by the time status looks, it may be healthy.
        statusDegraded: false,
      };
    }
    case "lb-machine-down": {
      needsVip(c, name);
      const h = theHolder(c, s, name);
      const kubeVip = c.endpoint.mode === "kube-vip";
      const maxBlackout = kubeVip ? KUBE_VIP_TAKEOVER_MS : 2000;
      return {
        scenario: name,
        targets: [h.name],
        fault: `power off ${h.name} (the VIP holder)`,
        expectation: kubeVip
          ? `kube-vip on another control plane takes the Lease once it expires (${KUBE_VIP_TIMING.lease} s) and the VIP with it; API blackout ≤ ${maxBlackout / 1000} s`
          : "the VIP moves to another LB host; API blackout ≤ 2.0 s",
        inject: [{ kind: "power-off", host: h.name }],
        restore: [{ kind: "power-on", host: h.name }],
        hold: { until: "recovered", minMs: 3000, settleMs: 2000 },
        targetsFor: judged([blackoutAtMost(maxBlackout), vipMoved]),
        needsPower: true,
        statusDegraded: true,
      };
    }
    case "kube-vip-crash": {
      needsVip(c, name);
      const h = theHolder(c, s, name);
      return {
        scenario: name,
        targets: [h.name],
        fault: `SIGKILL kube-vip on ${h.name} (the VIP holder); its VIP address stays behind and its Lease is no longer renewed`,
        expectation:
          `another control plane takes the Lease once it expires (${KUBE_VIP_TIMING.lease} s) and the VIP with it; the stale address goes ` +
          "when the kubelet restarts kube-vip there; both holders' apiservers answer meanwhile: API blackout ≤ 1.0 s",
        inject: [{ kind: "run", host: h.name, what: "SIGKILL kube-vip", command: "pkill -KILL -x kube-vip" }],
        restore: [
          {
            kind: "run",
            host: h.name,
            what: "check the kubelet restarted kube-vip",
            command: 'for i in $(seq 1 30); do pgrep -x kube-vip >/dev/null && exit 0; sleep 1; done; echo "kube-vip is not running again after 30 s: see the kubelet\'s log" >&2; exit 1',
          },
        ],
        hold: { until: "single-holder", minMs: 3000, settleMs: 2000 },
        targetsFor: judged([
          blackoutAtMost(1000),
          vipMoved,
          {
            name: "one VIP holder again before the restore",
            check: (_f, x) => ({ ok: x.singleHolderBeforeRestore, detail: x.singleHolderBeforeRestore ? "yes, by itself" : "no: still not one holder when the drill restored" }),
          },
        ]),
        needsPower: false,
        // Two holders only between the Lease's expiry and kube-vip's restart: status may or may not see it.
        statusDegraded: false,
      };
    }
    case "apiserver-down": {
      const cps = hostsWithRole(c, "control-plane");
      const h = cps.find((x) => !s.vipHolders.includes(x.name)) ?? cps[cps.length - 1];
      if (!h || cps.length < 2) throw new UsageError(`${name} needs at least two control planes`, "add control planes or drop this scenario");
      const park = parkManifest("kube-apiserver");
      return {
        scenario: name,
        targets: [h.name],
        fault: `move the kube-apiserver static pod manifest off ${h.name} (the kubelet stops the apiserver)`,
        expectation:
          c.endpoint.mode === "kube-vip"
            ? `the VIP holder's apiserver keeps serving (${h.name} does not hold the VIP): 0 failed probes`
            : "HAProxy sends requests to the other apiservers: 0 failed probes",
        inject: [{ kind: "run", host: h.name, what: "park the kube-apiserver manifest", command: park.stop }],
        restore: [{ kind: "run", host: h.name, what: "put the kube-apiserver manifest back", command: park.start }],
        hold: { until: "fixed", minMs: 6000, settleMs: 0 },
        targetsFor: judged([
          { name: "0 failed probes", check: (f) => ({ ok: f.failedProbes === 0, detail: `${f.failedProbes}/${f.totalProbes} failed` }) },
        ]),
        needsPower: false,
        statusDegraded: true,
      };
    }
    case "controller-manager-leader-down": {
      const component = "kube-controller-manager";
      const cps = hostsWithRole(c, "control-plane");
      if (cps.length < 2) throw new UsageError(`${name} needs at least two control planes`, "add control planes or drop this scenario");
      const leader = s.leaders?.[component];
      const h = cps.find((x) => x.name === leader);
      if (!h) {
        throw new UsageError(
          `${name} needs a ${component} leader among the control planes, found ${leader ?? "none"}`,
          "run `kubeha status FILE`: its leaders table must name a control plane holding the Lease",
        );
      }
      const via = cps.find((x) => x.name !== h.name)!;
      const stop =
        c.bootstrap === "binary"
          ? { stop: `systemctl stop ${component}.service`, start: `systemctl start ${component}.service`, what: `the ${component} unit` }
          : { ...parkManifest(component), what: `the ${component} static pod` };
      return {
        scenario: name,
        targets: [h.name],
        fault: `stop ${stop.what} on ${h.name} (the ${component} leader); it does not release its Lease`,
        expectation:
          `another control plane's ${component} takes the Lease once it went unrenewed for ${LEADER_ELECTION.lease} s (leaseDuration), ` +
          `within ${LEADER_TAKEOVER_MS / 1000} s of the stop; the API is not affected`,
        inject: [{ kind: "run", host: h.name, what: `stop ${stop.what}`, command: stop.stop }],
        restore: [{ kind: "run", host: h.name, what: `start ${stop.what}`, command: stop.start }],
        hold: { until: "leader-moved", minMs: 1000, settleMs: 1000, atLeastMs: LEADER_TAKEOVER_MS + 5000 },
        targetsFor: judged([leaderMovedWithin(LEADER_TAKEOVER_MS), tookOverOnlyAfterExpiry]),
        needsPower: false,
        // Until the Lease expires it still names the stopped leader, and a new leader holds it right after:
        // `status` sees no problem unless it looks in the few seconds between.
        statusDegraded: false,
        lease: { component, before: h.name, via: via.name },
      };
    }
    case "etcd-member-down": {
      const h = etcdVictims(c, s)[0];
      if (!h || c.etcd.members.length < 3) throw new UsageError(`${name} needs at least three etcd members`, "add etcd members or drop this scenario");
      const e = etcdStop(c, h);
      return {
        scenario: name,
        targets: [h.name],
        fault: `stop ${e.what} on ${h.name}${h.name === s.etcdLeader ? " (the etcd leader)" : ""}`,
        expectation: "the other members elect a leader; writes continue; no acknowledged write is lost",
        inject: [{ kind: "run", host: h.name, what: `stop ${e.what}`, command: e.stop }],
        restore: [{ kind: "run", host: h.name, what: `start ${e.what}`, command: e.start }],
        hold: { until: "fixed", minMs: 5000, settleMs: 0 },
        targetsFor: judged([]),
        needsPower: false,
        statusDegraded: true,
      };
    }
    case "etcd-quorum-loss": {
      const n = c.etcd.members.length;
      if (n < 3) throw new UsageError(`${name} needs at least three etcd members`, "add etcd members or drop this scenario");
      const victims = etcdVictims(c, s).slice(0, Math.ceil(n / 2));
      const stops = victims.map((h) => ({ h, e: etcdStop(c, h) }));
      return {
        scenario: name,
        targets: victims.map((h) => h.name),
        fault: `stop etcd on ${victims.map((h) => h.name).join(" and ")}: ${victims.length} of ${n} members, quorum is lost`,
        expectation: "EXPECTED: writes fail while quorum is lost (the API is degraded). After the restore every acknowledged write reads back",
        inject: stops.map(({ h, e }) => ({ kind: "run" as const, host: h.name, what: `stop ${e.what}`, command: e.stop })),
        restore: stops.map(({ h, e }) => ({ kind: "run" as const, host: h.name, what: `start ${e.what}`, command: e.start })),
        hold: { until: "fixed", minMs: 5000, settleMs: 0 },
        targetsFor: (p) => [
          ...judged([])(p),
          {
            name: "writes failed while quorum was lost (the fault took effect)",
            check: (f) => ({ ok: f.etcdFailed > 0, detail: `${f.etcdFailed} writes failed, ${f.etcdAcked} acknowledged` }),
          },
        ],
        needsPower: false,
        statusDegraded: true,
      };
    }
    case "lb-partition": {
      needsVip(c, name);
      const lbs = c.hosts.filter((h) => vipCandidate(c, h));
      if (lbs.length < 2) throw new UsageError(`${name} needs at least two LB hosts`, "drop this scenario");
      return {
        scenario: name,
        targets: lbs.map((h) => h.name),
        fault: `cut the LB hosts ${lbs.map((h) => h.name).join(", ")} off from each other (both directions, VRRP included)`,
        expectation:
          "each side claims the VIP: two or more holders, which `kubeha status` must report as split brain; one holder after healing" +
          (lbs.some((h) => h.roles.includes("control-plane") || h.roles.includes("etcd"))
            ? ". These hosts also run the control plane / etcd, which the cut separates too: the API is EXPECTED to fail until healed"
            : ""),
        inject: lbs.map((h) => ({ kind: "run" as const, host: h.name, what: "blackhole the other LB hosts", command: partitionCommand(h, lbs) })),
        restore: lbs.map((h) => ({ kind: "run" as const, host: h.name, what: "remove the blackhole rules", command: healCommand(h) })),
        hold: { until: "split", minMs: 1000, settleMs: 2000 },
        targetsFor: (p) => [
          ...judged([])(p),
          {
            name: "split brain seen (two or more VIP holders)",
            check: (f) => ({ ok: f.splitBrainMs > 0, detail: `two or more holders for ${f.splitBrainMs} ms` }),
          },
          {
            name: "`kubeha status` reported it during the fault",
            check: (_f, x) => ({ ok: x.splitDetectedByStatus, detail: x.splitDetectedByStatus ? "status: split brain" : "status did not report a split brain" }),
          },
        ],
        needsPower: false,
        statusDegraded: true,
      };
    }
  }
}

/** Policy-rule priority of the drill's blackhole rules (`heal` deletes exactly these). */
export const PARTITION_PREF = 32099;
const RP_SAVE = "/run/kubeha/drill-rp_filter";

/**
 * Cuts host `h` off from the other hosts in `group`, both directions: blackhole rules for traffic
 * to and from each peer, and strict reverse-path filtering so VRRP multicast from a peer (which no
 * unicast route decides) is dropped too. The operator's own address is not touched, so SSH works.
 */
export function partitionCommand(h: Host, group: readonly Host[]): string {
  const rp = shq(`/proc/sys/net/ipv4/conf/${h.interface}/rp_filter`);
  const peers = [...new Set(group.filter((p) => p.name !== h.name).flatMap((p) => [p.internalAddress, p.address]))];
  const rules = peers.flatMap((a) => [`ip rule add pref ${PARTITION_PREF} to ${a}/32 blackhole`, `ip rule add pref ${PARTITION_PREF} from ${a}/32 blackhole`]);
  return [`set -e`, `mkdir -p /run/kubeha`, `[ -e ${RP_SAVE} ] || cat ${rp} > ${RP_SAVE}`, ...rules, `echo 2 > ${rp}`].join("\n");
}

/** Undoes `partitionCommand` on `h` (safe to run twice). */
export function healCommand(h: Host): string {
  const rp = shq(`/proc/sys/net/ipv4/conf/${h.interface}/rp_filter`);
  return [
    `for i in $(seq 1 200); do ip rule del pref ${PARTITION_PREF} 2>/dev/null || break; done`,
    `if [ -e ${RP_SAVE} ]; then cat ${RP_SAVE} > ${rp} && rm -f ${RP_SAVE}; fi`,
  ].join("\n");
}

/** `--scenario` values, checked: unknown names are a usage error listing the known ones. None given: `dflt` (else all known). */
export function parseScenarios(values: readonly string[], known: readonly ScenarioName[], dflt: readonly ScenarioName[] = known): ScenarioName[] {
  if (!values.length) return [...dflt];
  const out: ScenarioName[] = [];
  for (const v of values.flatMap((x) => x.split(","))) {
    const name = v.trim();
    if (!(known as readonly string[]).includes(name)) throw new UsageError(`unknown scenario "${name}"`, `choose from: ${known.join(", ")}`);
    if (!out.includes(name as ScenarioName)) out.push(name as ScenarioName);
  }
  return out;
}
