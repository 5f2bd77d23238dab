/**
 * Topology (pure): which components run on which host and which ports each host listens on,
 * answered once from the normalized `Cluster`. Rules, preflight, renderers, phases, status and
 * the drill ask here instead of testing roles and `endpoint.mode` themselves.
 */
import type {
  Cluster,
  ExternalEndpoint,
  HaproxyEndpoint,
  HaproxyKeepalivedEndpoint,
  Host,
  KubeVipEndpoint,
} from "./model.ts";

export type Component = "haproxy" | "keepalived" | "etcd" | "stacked-etcd" | "kube-vip" | "kubelet" | "apiserver";

/** A cluster whose endpoint is HAProxy on kubeha-managed `lb` hosts (with or without keepalived). */
export type ManagedLbCluster = Cluster & { endpoint: HaproxyKeepalivedEndpoint | HaproxyEndpoint };
/** A cluster whose endpoint is a VIP kubeha manages (keepalived or kube-vip). */
export type VipCluster = Cluster & { endpoint: HaproxyKeepalivedEndpoint | KubeVipEndpoint };
export type KeepalivedCluster = Cluster & { endpoint: HaproxyKeepalivedEndpoint };
export type KubeVipCluster = Cluster & { endpoint: KubeVipEndpoint };
export type ExternalLbCluster = Cluster & { endpoint: ExternalEndpoint };

// ------------------------------------------------------------------ cluster-wide

/** kubeha installs and configures HAProxy on the `lb` hosts. */
export function managesLb(c: Cluster): c is ManagedLbCluster {
  return c.endpoint.mode === "haproxy-keepalived" || c.endpoint.mode === "haproxy";
}

/** The endpoint is a virtual IP kubeha moves between hosts (keepalived or kube-vip). */
export function hasVip(c: Cluster): c is VipCluster {
  return c.endpoint.mode === "haproxy-keepalived" || c.endpoint.mode === "kube-vip";
}

export function usesKeepalived(c: Cluster): c is KeepalivedCluster {
  return c.endpoint.mode === "haproxy-keepalived";
}

export function usesKubeVip(c: Cluster): c is KubeVipCluster {
  return c.endpoint.mode === "kube-vip";
}

export function usesExternalLb(c: Cluster): c is ExternalLbCluster {
  return c.endpoint.mode === "external";
}

/** An external LB whose own backends cannot reach it: control planes resolve the endpoint name to themselves. */
export function noHairpin(c: Cluster): c is ExternalLbCluster {
  return c.endpoint.mode === "external" && !c.endpoint.hairpin;
}

export function externalEtcd(c: Cluster): boolean {
  return c.etcd.mode === "external";
}

/** `bootstrap: binary`: the control plane as kubeha's systemd units, no kubeadm. */
export function binaryBootstrap(c: Cluster): boolean {
  return c.bootstrap === "binary";
}

// ------------------------------------------------------------------ per host

export function isControlPlane(h: Host): boolean {
  return h.roles.includes("control-plane");
}

export function isWorker(h: Host): boolean {
  return h.roles.includes("worker") && !h.roles.includes("control-plane");
}

/** True when this host runs kubeadm and a kubelet (control planes and workers). */
export function isKubernetesNode(h: Host): boolean {
  return h.roles.includes("control-plane") || h.roles.includes("worker");
}

/** True when this host runs HAProxy for the control-plane endpoint. */
export function runsHaproxy(c: Cluster, h: Host): boolean {
  return managesLb(c) && h.roles.includes("lb");
}

/** True when this host runs keepalived for the VIP. */
export function runsKeepalived(c: Cluster, h: Host): boolean {
  return usesKeepalived(c) && h.roles.includes("lb");
}

/** True when this host runs the kube-vip static pod. */
export function runsKubeVip(c: Cluster, h: Host): boolean {
  return usesKubeVip(c) && isControlPlane(h);
}

/** Hosts that may hold the VIP: LB hosts with keepalived, control planes with kube-vip. */
export function holdsVip(c: Cluster, h: Host): boolean {
  return runsKeepalived(c, h) || runsKubeVip(c, h);
}

/** True when this host runs an external etcd member managed by kubeha (systemd unit). */
export function runsExternalEtcd(c: Cluster, h: Host): boolean {
  return externalEtcd(c) && h.roles.includes("etcd");
}

/** True when kubeadm runs a stacked etcd member on this host (a static pod on a control plane). */
export function runsStackedEtcd(c: Cluster, h: Host): boolean {
  return !externalEtcd(c) && isControlPlane(h);
}

/** True when this host runs an etcd member of either kind. */
export function runsEtcd(c: Cluster, h: Host): boolean {
  return runsExternalEtcd(c, h) || runsStackedEtcd(c, h);
}

/** The components on a host, in a stable order. */
export function components(c: Cluster, h: Host): Component[] {
  const out: Component[] = [];
  if (runsHaproxy(c, h)) out.push("haproxy");
  if (runsKeepalived(c, h)) out.push("keepalived");
  if (runsExternalEtcd(c, h)) out.push("etcd");
  if (runsStackedEtcd(c, h)) out.push("stacked-etcd");
  if (runsKubeVip(c, h)) out.push("kube-vip");
  if (isKubernetesNode(h)) out.push("kubelet");
  if (isControlPlane(h)) out.push("apiserver");
  return out;
}

// ------------------------------------------------------------------ host lists (file order)

export const controlPlanes = (c: Cluster): Host[] => c.hosts.filter(isControlPlane);
export const workers = (c: Cluster): Host[] => c.hosts.filter(isWorker);
export const kubeNodes = (c: Cluster): Host[] => c.hosts.filter(isKubernetesNode);
/** Hosts running HAProxy. */
export const lbHosts = (c: Cluster): Host[] => c.hosts.filter((h) => runsHaproxy(c, h));
export const keepalivedHosts = (c: Cluster): Host[] => c.hosts.filter((h) => runsKeepalived(c, h));
export const vipHolders = (c: Cluster): Host[] => c.hosts.filter((h) => holdsVip(c, h));
/** Hosts running an etcd member (external etcd hosts or, stacked, the control planes). */
export const etcdMembers = (c: Cluster): Host[] => c.hosts.filter((h) => runsEtcd(c, h));
export const externalEtcdHosts = (c: Cluster): Host[] => c.hosts.filter((h) => runsExternalEtcd(c, h));

// ------------------------------------------------------------------ ports

export interface ListenPort {
  port: number;
  /** Human name, e.g. "HAProxy frontend". */
  what: string;
  component: Component | "controller-manager" | "scheduler";
  /** Process names that may hold it when it is ours (prefixes of the `ss` process name). */
  ours: string[];
  /** YAML path of the setting that chooses the port, for rule messages. */
  path: string;
}

/** Every TCP port this host will listen on, by component. */
export function listenPorts(c: Cluster, h: Host): ListenPort[] {
  const out: ListenPort[] = [];
  if (isControlPlane(h)) {
    out.push({ port: c.kubernetes.apiServerPort, what: "kube-apiserver", component: "apiserver", ours: ["kube-apiserver"], path: "spec.kubernetes.apiServerPort" });
    out.push({ port: 10257, what: "kube-controller-manager", component: "controller-manager", ours: ["kube-controller"], path: "spec.kubernetes" });
    out.push({ port: 10259, what: "kube-scheduler", component: "scheduler", ours: ["kube-scheduler"], path: "spec.kubernetes" });
  }
  if (isKubernetesNode(h)) out.push({ port: 10250, what: "kubelet", component: "kubelet", ours: ["kubelet"], path: "spec.kubernetes" });
  if (runsEtcd(c, h)) {
    const component = runsExternalEtcd(c, h) ? "etcd" : "stacked-etcd";
    out.push({ port: c.etcd.clientPort, what: "etcd client", component, ours: ["etcd"], path: "spec.etcd.clientPort" });
    out.push({ port: c.etcd.peerPort, what: "etcd peer", component, ours: ["etcd"], path: "spec.etcd.peerPort" });
  }
  if (runsHaproxy(c, h) && managesLb(c)) {
    out.push({ port: c.endpoint.port, what: "HAProxy frontend", component: "haproxy", ours: ["haproxy"], path: "spec.controlPlaneEndpoint.port" });
    const stats = c.endpoint.haproxy.statsPage;
    if (stats.enabled) out.push({ port: stats.port, what: "HAProxy stats page", component: "haproxy", ours: ["haproxy"], path: "spec.controlPlaneEndpoint.haproxy.statsPage.port" });
  }
  return out;
}

/** The prefix length the VIP is added with: `vipPrefix` for keepalived, 32 for kube-vip (ARP for one address). */
export function vipPrefix(c: VipCluster): number {
  return c.endpoint.mode === "haproxy-keepalived" ? c.endpoint.vipPrefix : 32;
}

/**
 * Every address and name clients may use to reach the endpoint, for the API server certificate:
 * the client address, the proxy's cluster-side address in `haproxy` mode when it differs, the DNS name.
 */
export function endpointNames(c: Cluster): string[] {
  const e = c.endpoint;
  const all = [e.address, ...(e.mode === "haproxy" ? [e.proxyAddress] : []), ...(e.dnsName ? [e.dnsName] : [])];
  return [...new Set(all.filter((s) => s !== ""))];
}
