/**
 * The rollout of renewed certificates (pure): for each host, which files changed, what must be
 * restarted so the new certificates are actually loaded, and in which order. Hosts go one at a
 * time, so at most one API server and one etcd member are restarting at any moment.
 *
 * What loads what:
 * - etcd (external: etcd.service; stacked: its static pod) reads its server and peer certificates
 *   at start: restarted, one member at a time, leadership handed to another member first, waiting
 *   until every member is healthy again. Stacked: kubeadm points the host's API server at its local
 *   member only, so that API server is drained in HAProxy while its etcd restarts.
 * - kube-apiserver reads its serving certificate, its etcd client certificate and the CAs at
 *   start: its static pod is restarted (manifest moved away and back), after HAProxy stopped
 *   sending it new connections on every LB host, and put back once its /readyz answers 200.
 * - controller-manager and scheduler read their kubeconfig at start: static pods restarted.
 * - admin.conf and super-admin.conf are read by each client on each use: nothing to restart.
 * - kubelet.conf: the kubelet rotates its own client certificate (rotateCertificates, kubeadm's
 *   default) and kubeha does not issue it; `status` reports its expiry.
 */
import type { Cluster, Host } from "../spec/model.ts";
import { PATHS } from "../render/paths.ts";
import { KUBECONFIG_PLACEMENTS } from "../pki/kubeconfig.ts";
import { PLACEMENTS } from "../pki/table.ts";
import { isControlPlane, runsExternalEtcd, runsStackedEtcd } from "../spec/topology.ts";

/** A static pod kubeha restarts by moving its manifest away and back (kubeadm's documented way). */
export type StaticPod = "kube-apiserver" | "kube-controller-manager" | "kube-scheduler" | "etcd";

export type Reload =
  /** External etcd member: `systemctl restart etcd`, then wait until the member is healthy. */
  | { kind: "etcd-unit" }
  /**
   * A static pod; `drain`: take this host's API server out of HAProxy on every LB host around it
   * (its own restart, or stacked etcd's: kubeadm points each API server at its local member only).
   */
  | { kind: "static-pod"; pod: StaticPod; drain: boolean };

export interface HostRenewal {
  host: string;
  /** `kubeadm certs renew NAME`, in this order, before anything restarts. */
  kubeadmRenew: string[];
  /** What is restarted, in order: etcd first (the API server depends on it), then the API server, then its clients. */
  reloads: Reload[];
}

/** The manifest of a static pod, kubeadm's file names. */
export function manifestPath(pod: StaticPod): string {
  return `${PATHS.manifestsDir}/${pod}.yaml`;
}

/**
 * Certificates kubeadm issues on the host, by the component that must restart to load them
 * (etcd-healthcheck-client is only used by etcdctl: nothing loads it).
 */
const KUBEADM_LOADED_BY: Partial<Record<string, StaticPod>> = {
  "apiserver-kubelet-client": "kube-apiserver",
  "front-proxy-client": "kube-apiserver",
  "apiserver-etcd-client": "kube-apiserver",
  "etcd-server": "etcd",
  "etcd-peer": "etcd",
};

/** Paths whose change means a restart of `what` on the host holding them (from the placement tables). */
function loaderOf(c: Cluster, path: string): StaticPod | "etcd-unit" | undefined {
  for (const p of PLACEMENTS) {
    if (!p.when(c) || ![p.crt, p.key, p.pub].includes(path)) continue;
    if (p.restarts?.includes("etcd")) return "etcd-unit";
    if (p.to === "control-planes") return "kube-apiserver";
  }
  const k = KUBECONFIG_PLACEMENTS.find((x) => x.path === path);
  if (k?.kind === "controller-manager") return "kube-controller-manager";
  if (k?.kind === "scheduler") return "kube-scheduler";
  return undefined;
}

/**
 * What host `h` must do once `changedPaths` (files kubeha rewrote there) are in place and
 * `kubeadmNames` were chosen for renewal on the control planes (pure).
 */
export function hostRenewal(c: Cluster, h: Host, changedPaths: readonly string[], kubeadmNames: readonly string[]): HostRenewal {
  // kubeadm-owned certificates exist on control planes only (stacked etcd's too: it runs there).
  const kubeadmRenew = isControlPlane(h) ? [...kubeadmNames] : [];
  const need = new Set<StaticPod | "etcd-unit">();
  for (const p of changedPaths) {
    const l = loaderOf(c, p);
    if (l === "etcd-unit" && !runsExternalEtcd(c, h)) continue;
    if (l && l !== "etcd-unit" && l !== "etcd" && !isControlPlane(h)) continue;
    if (l) need.add(l);
  }
  for (const n of kubeadmRenew) {
    const l = KUBEADM_LOADED_BY[n];
    if (l === "etcd" && !runsStackedEtcd(c, h)) continue;
    if (l) need.add(l);
  }
  const reloads: Reload[] = [];
  if (need.has("etcd-unit")) reloads.push({ kind: "etcd-unit" });
  if (need.has("etcd") && runsStackedEtcd(c, h)) reloads.push({ kind: "static-pod", pod: "etcd", drain: isControlPlane(h) });
  for (const pod of ["kube-apiserver", "kube-controller-manager", "kube-scheduler"] as const)
    if (need.has(pod)) reloads.push({ kind: "static-pod", pod, drain: pod === "kube-apiserver" });
  return { host: h.name, kubeadmRenew, reloads };
}

/**
 * The order hosts are rolled through: file order, except that hosts restarting nothing come
 * first (they only receive files) and the hosts whose etcd restarts keep their relative order.
 */
export function renewalOrder(plans: readonly HostRenewal[]): HostRenewal[] {
  return [...plans.filter((p) => p.reloads.length === 0), ...plans.filter((p) => p.reloads.length > 0)];
}

/** One line per host for `--dry-run` and progress (pure). */
export function describeReload(r: Reload): string {
  if (r.kind === "etcd-unit") return "restart etcd.service and wait until the member is healthy";
  if (r.pod === "etcd") {
    const drain = r.drain ? "; this host's API server drained in HAProxy around it" : "";
    return `restart the etcd static pod (manifest moved away and back; leadership moved away first, then every member healthy${drain})`;
  }
  const drain = r.drain ? " (drained in HAProxy first, put back after /readyz is 200)" : "";
  return `restart the ${r.pod} static pod (manifest moved away and back)${drain}`;
}
