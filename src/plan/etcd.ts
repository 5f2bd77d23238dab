/**
 * External etcd membership (pure): from the gathered facts, bootstrap a new cluster or grow an
 * existing one with `etcdctl member add`, one member at a time. Which members exist comes from
 * the hosts (data directories, running units, `member list`), never from a local log, so a
 * re-run after any failure picks up where the cluster is and never adds a member twice.
 */
import { KubehaError } from "../errors.ts";
import type { Facts } from "../probe/facts.ts";
import { etcdctlCommand, parseBigJson } from "../probe/status.ts";
import { initialCluster } from "../render/etcd.ts";
import type { Cluster, Host } from "../spec/model.ts";
import { externalEtcdHosts } from "../spec/topology.ts";

/** What a member's first start needs (`ETCD_INITIAL_CLUSTER_STATE` / `ETCD_INITIAL_CLUSTER`). */
export interface InitialCluster {
  state: "new" | "existing";
  /** `name=peerURL,...`. */
  cluster: string;
}

/** One entry of `etcdctl member list -w json`. An unstarted member has no name yet. */
export interface EtcdMember {
  /** Decimal uint64, as etcdctl prints it in JSON. */
  id: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
}

export const peerUrl = (c: Cluster, h: Host): string => `https://${h.internalAddress}:${c.etcd.peerPort}`;

/** The hex form `etcdctl member remove` wants. */
export const hexId = (id: string): string => BigInt(id).toString(16);

/** Parses `etcdctl member list -w json` (member ids are uint64: kept as strings). */
export function parseMemberList(stdout: string): EtcdMember[] {
  const doc = parseBigJson(stdout.trim()) as { members?: Array<{ ID: string | number; name?: string; peerURLs?: string[]; clientURLs?: string[] }> };
  if (!doc || typeof doc !== "object") throw new Error("etcdctl member list printed no JSON object");
  return (doc.members ?? []).map((m) => ({ id: String(m.ID), name: m.name ?? "", peerURLs: m.peerURLs ?? [], clientURLs: m.clientURLs ?? [] }));
}

/** The `ETCD_INITIAL_CLUSTER` that `etcdctl member add` prints for the new member. */
export function parseMemberAdd(stdout: string): string {
  const m = /^ETCD_INITIAL_CLUSTER="?([^"\n]*)"?\s*$/m.exec(stdout);
  if (!m || !m[1]) throw new Error(`etcdctl member add printed no ETCD_INITIAL_CLUSTER:\n${stdout.trim()}`);
  return m[1];
}

/**
 * An etcd cluster exists when some member host has data in the configured data directory. A
 * running unit alone does not count: Debian's package starts a single-node etcd of its own.
 */
export function etcdClusterExists(c: Cluster, facts: ReadonlyMap<string, Facts>): boolean {
  return etcdHosts(c).some((h) => facts.get(h.name)?.has.etcdData === true);
}

export interface EtcdHostsPlan {
  /** No member has data or runs: every member starts together with `new`. */
  bootstrap: boolean;
  /** Converged now, in parallel: every member when bootstrapping, else the members with data. */
  now: Array<{ host: Host; initial: InitialCluster }>;
  /** Members without data in an existing cluster: checked against `member list`, joined one at a time. */
  join: Host[];
}

function etcdHosts(c: Cluster): Host[] {
  return externalEtcdHosts(c);
}

/** What the etcd phase does with each member host, from facts alone. */
export function planEtcdHosts(c: Cluster, facts: ReadonlyMap<string, Facts>): EtcdHostsPlan {
  const fresh: InitialCluster = { state: "new", cluster: initialCluster(c) };
  const hosts = etcdHosts(c);
  if (!etcdClusterExists(c, facts)) return { bootstrap: true, now: hosts.map((host) => ({ host, initial: fresh })), join: [] };
  const now: EtcdHostsPlan["now"] = [];
  const join: Host[] = [];
  for (const host of hosts) {
    const f = facts.get(host.name);
    if (f?.has.etcdData) {
      // etcd reads these only on a first start: keep what the member was started with, so the
      // file does not flip between `new` and `existing` from one run to the next.
      const { state, cluster } = f.etcdInitial;
      now.push({ host, initial: (state === "new" || state === "existing") && cluster ? { state, cluster } : fresh });
    } else join.push(host);
  }
  return { bootstrap: false, now, join };
}

export type JoinAction =
  /** Not a member: `etcdctl member add`, then start with the list it prints. */
  | { kind: "add"; host: Host; name: string; peerURL: string }
  /** Already added (unstarted, e.g. a run that stopped after `member add`): start it, add nothing. */
  | { kind: "start"; host: Host; initial: InitialCluster };

/**
 * How `host` (no data) joins the cluster whose `member list` is `members`.
 * A member with the host's peer URL that already started had data somewhere else: etcd cannot
 * rejoin it with an empty directory, so that is an error the operator resolves with `member remove`.
 */
export function planJoin(c: Cluster, host: Host, members: readonly EtcdMember[]): JoinAction {
  const url = peerUrl(c, host);
  const same = members.filter((m) => m.peerURLs.includes(url));
  if (same.length === 0) return { kind: "add", host, name: host.name, peerURL: url };
  const started = same.find((m) => m.name !== "");
  if (started) {
    throw new KubehaError(
      `etcd member ${started.name} (${hexId(started.id)}, ${url}) is in the cluster, but ${host.name} has no etcd data in ${c.etcd.dataDir}: an empty member cannot rejoin under its old id`,
      `remove it first: \`etcdctl member remove ${hexId(started.id)}\` on a healthy member, then re-run apply (it is added again with \`member add\`)`,
    );
  }
  return { kind: "start", host, initial: { state: "existing", cluster: clusterList(c, members, host) } };
}

/**
 * `name=peerURL,...` for every current member (what etcd checks against the cluster when the
 * state is `existing`); unstarted members are named after the configured host with that URL.
 */
export function clusterList(c: Cluster, members: readonly EtcdMember[], joining?: Host): string {
  const byUrl = new Map(etcdHosts(c).map((h) => [peerUrl(c, h), h.name]));
  const out: string[] = [];
  for (const m of members) {
    for (const u of m.peerURLs) {
      const name = joining && u === peerUrl(c, joining) ? joining.name : m.name || byUrl.get(u) || "";
      out.push(`${name}=${u}`);
    }
  }
  return out.join(",");
}

/** What a dry run shows for an `add`: the list `member add` would print (current members plus this one). */
export function predictedAddList(c: Cluster, members: readonly EtcdMember[], a: Extract<JoinAction, { kind: "add" }>): string {
  return [clusterList(c, members), `${a.name}=${a.peerURL}`].filter(Boolean).join(",");
}

/**
 * The member of `members` that is `host`: the one with its peer URL, else the one with its name
 * (a member started elsewhere under this name). Undefined when it is no member (already removed).
 */
export function memberOf(c: Cluster, host: Host, members: readonly EtcdMember[]): EtcdMember | undefined {
  const url = peerUrl(c, host);
  return members.find((m) => m.peerURLs.includes(url)) ?? members.find((m) => m.name !== "" && m.name === host.name);
}

/**
 * `etcdctl member remove` of one member, run against `via` (the members that stay: the removed
 * one may be gone already). The same for external and stacked etcd: kubeha holds the etcd CA
 * and places the healthcheck client certificate on every member.
 */
export function etcdMemberRemoveCommand(c: Cluster, via: readonly Host[], member: EtcdMember): string {
  if (via.length === 0) throw new KubehaError(`no etcd member is left to remove ${member.name || hexId(member.id)} through`, "an etcd cluster cannot remove its last member: reset the cluster instead");
  return etcdctlCommand(c, via, `member remove ${hexId(member.id)}`, 10);
}
