/**
 * `kubeha node remove` (pure): whether removing hosts would break the cluster (the quorum guard),
 * and the ordered actions that take them out. The effects live in src/ops/node-remove.ts.
 *
 * The order keeps the endpoint serving throughout: workloads leave first (drain), a removed LB
 * host hands the VIP over while everything still runs (its keepalived priority drops below the
 * others', the next host takes the VIP by preemption: for a moment both hold it, never neither),
 * and only once another host holds it stops keepalived and HAProxy, while its peers still know it;
 * then the remaining LB hosts converge without it (the same
 * lb/haproxy + lb/keepalived steps apply runs: backends and unicast peers), and only then is the
 * host's API server torn down; its etcd member is removed before it stops (etcd's own advice).
 */
import type { Cluster, Host } from "../spec/model.ts";
import { controlPlanes, etcdMembers, isKubernetesNode, keepalivedHosts, lbHosts, managesLb, runsExternalEtcd, runsHaproxy, runsKeepalived, usesKeepalived } from "../spec/topology.ts";

/** Members needed for quorum in an etcd cluster of `n`. */
export const quorumOf = (n: number): number => Math.floor(n / 2) + 1;

/** Why removing `names` from `before` would break the cluster; empty when it is safe. Each names the numbers. */
export function removalRefusals(before: Cluster, names: readonly string[]): string[] {
  const gone = new Set(names);
  const out: string[] = [];
  const left = (hs: Host[]) => hs.filter((h) => !gone.has(h.name));
  const removed = (hs: Host[]) => hs.filter((h) => gone.has(h.name)).map((h) => h.name);

  const members = etcdMembers(before);
  const lostMembers = removed(members);
  if (lostMembers.length) {
    const n = members.length;
    const m = n - lostMembers.length;
    const need = quorumOf(n);
    if (m < need)
      out.push(
        `etcd quorum: removing ${lostMembers.length} of ${n} etcd members (${lostMembers.join(", ")}) leaves ${m}, and ${n} members need ${need} for quorum while they are removed`,
      );
  }
  const cps = controlPlanes(before);
  if (removed(cps).length && left(cps).length === 0) out.push(`control plane: removing ${removed(cps).join(", ")} leaves 0 of ${cps.length} control planes`);
  if (managesLb(before)) {
    const lbs = lbHosts(before);
    const what = usesKeepalived(before) ? "LB hosts (HAProxy + keepalived VIP candidates)" : "HAProxy hosts";
    if (removed(lbs).length && left(lbs).length === 0) out.push(`load balancer: removing ${removed(lbs).join(", ")} leaves 0 of ${lbs.length} ${what}; nothing would serve ${before.endpoint.address}:${before.endpoint.port}`);
  }
  return out;
}

export type RemovalAction =
  /** Cordon and evict through a remaining control plane, bounded. */
  | { kind: "drain"; host: Host; via: Host; timeoutSeconds: number }
  /**
   * On a removed keepalived host, everything still running: its priority lowered (the track file
   * a dying HAProxy sets), so the highest remaining host takes the VIP by preemption; then a
   * bounded wait until one of `to` holds it and the removed host no longer does.
   */
  | { kind: "hand-over-vip"; host: Host; to: Host[] }
  /** On the removed LB host: keepalived then HAProxy stopped and disabled. */
  | { kind: "stop-lb"; host: Host; units: string[] }
  /** The remaining LB hosts converge without the removed hosts (backends, unicast peers), then the VIP is verified. */
  | { kind: "converge-lb"; hosts: Host[] }
  /** `etcdctl member remove` through the members that stay. */
  | { kind: "etcd-remove"; host: Host; via: Host[] }
  /** `kubeadm reset -f` on the removed host. */
  | { kind: "reset"; host: Host }
  /**
   * The removed external etcd member: unit stopped and disabled, its data directory emptied (it
   * could never rejoin with that data). The directory itself stays, owned by etcd as Debian's
   * package made it: etcd runs as user etcd and cannot create it under /var/lib when the host is
   * added again.
   */
  | { kind: "stop-etcd"; host: Host }
  /** The Node object deleted through a remaining control plane. */
  | { kind: "delete-node"; host: Host; via: Host }
  /** The hosts that stay (those kubeha applied before): kubeha's /etc/hosts block without the removed hosts. */
  | { kind: "hosts-file" }
  /** kubeha's state for the host: its certificates in the state directory, its managed-hosts entry. */
  | { kind: "forget"; host: Host };

export interface RemovalPlan {
  actions: RemovalAction[];
  /** Things the user should know (an unreachable host whose on-host steps are skipped). */
  notes: string[];
}

/**
 * The actions that take `names` out of `before`, in order; `after` is the cluster without them.
 * `reachable` says which removed hosts answered: the others get no on-host step (they may be gone).
 */
export function planRemoval(before: Cluster, after: Cluster, names: readonly string[], reachable: ReadonlySet<string>, opts: { drainTimeoutSeconds: number }): RemovalPlan {
  const hosts = names.map((n) => before.hosts.find((h) => h.name === n)).filter((h): h is Host => h !== undefined);
  const via = controlPlanes(after)[0];
  const etcdVia = etcdMembers(after);
  const actions: RemovalAction[] = [];
  const notes: string[] = [];
  const on = (h: Host) => reachable.has(h.name);
  for (const h of hosts) if (!on(h)) notes.push(`${h.name} (${h.address}) does not answer over SSH: nothing is run on it (drain, reset and stops are skipped); it is taken out of the cluster from the hosts that stay`);

  if (via) for (const h of hosts.filter(isKubernetesNode)) actions.push({ kind: "drain", host: h, via, timeoutSeconds: opts.drainTimeoutSeconds });
  const vipTo = usesKeepalived(after) ? keepalivedHosts(after) : [];
  for (const h of hosts.filter((x) => on(x) && runsHaproxy(before, x))) {
    if (runsKeepalived(before, h) && vipTo.length) actions.push({ kind: "hand-over-vip", host: h, to: vipTo });
    actions.push({ kind: "stop-lb", host: h, units: [...(runsKeepalived(before, h) ? ["keepalived"] : []), "haproxy"] });
  }
  if (hosts.some((h) => runsHaproxy(before, h) || runsKeepalived(before, h) || h.roles.includes("control-plane")) && managesLb(after)) {
    const lbs = [...new Map([...lbHosts(after), ...keepalivedHosts(after)].map((h) => [h.name, h])).values()];
    if (lbs.length) actions.push({ kind: "converge-lb", hosts: lbs });
  }
  for (const h of hosts.filter((x) => etcdMembers(before).some((m) => m.name === x.name))) actions.push({ kind: "etcd-remove", host: h, via: etcdVia });
  for (const h of hosts.filter((x) => on(x) && isKubernetesNode(x))) actions.push({ kind: "reset", host: h });
  for (const h of hosts.filter((x) => on(x) && runsExternalEtcd(before, x))) actions.push({ kind: "stop-etcd", host: h });
  if (via) for (const h of hosts.filter(isKubernetesNode)) actions.push({ kind: "delete-node", host: h, via });
  actions.push({ kind: "hosts-file" });
  for (const h of hosts) actions.push({ kind: "forget", host: h });
  return { actions, notes };
}

/** One line per action, for `--dry-run` and the JSON report. */
export function describeAction(a: RemovalAction): string {
  switch (a.kind) {
    case "drain":
      return `${a.host.name}: cordon and drain through ${a.via.name} (kubectl drain, at most ${a.timeoutSeconds}s)`;
    case "hand-over-vip":
      return `${a.host.name}: hand the VIP over first (keepalived priority lowered, the next LB host takes it by preemption), then wait until ${a.to.map((h) => h.name).join(" or ")} holds it`;
    case "stop-lb":
      return `${a.host.name}: stop and disable ${a.units.join(", ")}`;
    case "converge-lb":
      return `${a.hosts.map((h) => h.name).join(", ")}: HAProxy backends and keepalived peers without the removed hosts (reload), then verify the VIP`;
    case "etcd-remove":
      return `${a.host.name}: etcdctl member remove, through ${a.via.map((h) => h.name).join(", ")}`;
    case "reset":
      return `${a.host.name}: kubeadm reset -f`;
    case "stop-etcd":
      return `${a.host.name}: stop and disable etcd, empty its data directory`;
    case "delete-node":
      return `${a.host.name}: delete the Node object through ${a.via.name}`;
    case "hosts-file":
      return "the hosts that stay: kubeha's /etc/hosts block without the removed hosts";
    case "forget":
      return `${a.host.name}: forget it in kubeha's state directory (its certificates, the managed-hosts entry) and its host key in ${a.host.ssh.knownHostsPath}`;
  }
}
