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
  | { kind: "start"; host: Host; initial: InitialCluster }
  /**
   * A started member holds the host's peer URL, does not answer, and the host has no data: the
   * machine was replaced. `member remove` the dead member first (adding first would raise the
   * quorum while a member is down), then `member add` the host as under "add".
   */
  | { kind: "replace"; host: Host; remove: EtcdMember; name: string; peerURL: string; quorum: QuorumFigures };

/** Quorum arithmetic of one membership change, named in messages and plans. */
export interface QuorumFigures {
  /** Members after the change. */
  members: number;
  /** Of those, members that answered a health check. */
  healthy: number;
  /** Members a quorum of `members` needs: floor(members / 2) + 1. */
  needed: number;
}

/** Votes a cluster of `n` members needs for a quorum. */
export const quorumOf = (n: number): number => Math.floor(n / 2) + 1;

/** What removing `remove` from `members` leaves, with `healthy` the peer URLs of members that answer. */
export function quorumAfterRemove(members: readonly EtcdMember[], remove: EtcdMember, healthy: ReadonlySet<string>): QuorumFigures {
  const after = members.filter((m) => m.id !== remove.id);
  const up = after.filter((m) => m.peerURLs.some((u) => healthy.has(u))).length;
  return { members: after.length, healthy: up, needed: quorumOf(after.length) };
}

/**
 * How `host` (no data) joins the cluster whose `member list` is `members`; `healthy` holds the
 * peer URLs of the members that answered a health check just before.
 * A started member with the host's peer URL is the host's former self: when it does not answer
 * and the others keep a quorum without it, it is replaced (removed, then added afresh); when it
 * still answers, something else serves that address, and kubeha will not remove a live member.
 */
export function planJoin(c: Cluster, host: Host, members: readonly EtcdMember[], healthy: ReadonlySet<string>): JoinAction {
  const url = peerUrl(c, host);
  const same = members.filter((m) => m.peerURLs.includes(url));
  if (same.length === 0) return { kind: "add", host, name: host.name, peerURL: url };
  const started = same.find((m) => m.name !== "");
  if (started) {
    const what = `etcd member ${started.name} (${hexId(started.id)}, ${url})`;
    if (healthy.has(url)) {
      throw new KubehaError(
        `${what} answers health checks, but ${host.name} has no etcd data in ${c.etcd.dataDir}: kubeha does not remove a live member`,
        `check which machine answers at ${host.internalAddress} and where its data directory is; to drop that member on purpose: \`${etcdMemberRemoveCommand(c, [], started.id)}\` on a healthy member, then re-run apply`,
      );
    }
    const q = quorumAfterRemove(members, started, healthy);
    if (q.healthy < q.needed) {
      throw new KubehaError(
        `${what} is dead and ${host.name} has no etcd data, but removing it would leave ${q.members} member(s) of which ${q.healthy} answer: a quorum of ${q.members} needs ${q.needed}`,
        "bring the other members back first (`kubeha status` names them), or restore etcd from a snapshot",
      );
    }
    return { kind: "replace", host, remove: started, name: host.name, peerURL: url, quorum: q };
  }
  return { kind: "start", host, initial: { state: "existing", cluster: clusterList(c, members, host) } };
}

/**
 * `etcdctl member remove <hexID>` through `via` (members that answer, never the one removed: it may
 * be gone already), with the healthcheck client certificate kubeha places on every member, the same
 * for external and stacked etcd. Used by apply (a dead member replaced) and `node remove`. Without
 * `via` the endpoints are left to the operator's shell (for hints).
 */
export function etcdMemberRemoveCommand(c: Cluster, via: readonly Host[], id: string): string {
  if (!via.length) return `etcdctl member remove ${hexId(id)}`;
  return etcdctlCommand(c, via, `member remove ${hexId(id)}`, 10);
}

/** Peer URLs of the members among `hosts` that `etcdctl endpoint health -w json` reported healthy. */
export function parseHealthyPeers(c: Cluster, hosts: readonly Host[], stdout: string): Set<string> {
  const out = new Set<string>();
  let doc: unknown;
  try {
    doc = JSON.parse(stdout.trim() || "[]");
  } catch {
    return out;
  }
  if (!Array.isArray(doc)) return out;
  for (const x of doc as Array<{ endpoint?: string; health?: boolean }>) {
    if (x.health !== true) continue;
    const h = hosts.find((m) => x.endpoint === `https://${m.internalAddress}:${c.etcd.clientPort}`);
    if (h) out.add(peerUrl(c, h));
  }
  return out;
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
