/**
 * The normalized cluster: every default applied, every derived value computed once.
 * Planners, renderers, the PKI and the phases read only this type, never `ClusterFile`.
 */
import type { ClusterFile, Role } from "./file.ts";

export type { Role };

export interface Ssh {
  user: string;
  port: number;
  /** Absolute path (tilde expanded). */
  keyPath: string;
  knownHostsPath: string;
  bastion?: { address: string; user: string; port: number; keyPath: string };
}

export interface Host {
  name: string;
  /** Address kubeha dials over SSH. */
  address: string;
  /** Cluster-network address: node IP, etcd and apiserver bind address. */
  internalAddress: string;
  roles: Role[];
  ssh: Ssh;
  interface: string;
  labels: Record<string, string>;
  /** `undefined` means "kubeadm's default" (control planes get the NoSchedule taint). */
  taints?: string[];
  /** Order of this host among the `lb` hosts (0 = highest VRRP priority), or -1. */
  lbIndex: number;
}

export interface HaproxySettings {
  checkIntervalMs: number;
  fall: number;
  rise: number;
  connectTimeoutMs: number;
  tunnelTimeoutSeconds: number;
  statsPage: { enabled: boolean; port: number; bind?: string };
}

export interface KeepalivedSettings {
  routerId: number;
  unicast: boolean;
  advertInterval: number;
  preempt: "never" | "delay" | "always";
  preemptDelaySeconds: number;
}

/** What every endpoint mode has. */
interface EndpointBase {
  /** What clients put in `server:` and kubeadm's controlPlaneEndpoint: `dnsName` if set, else `address`. */
  host: string;
  port: number;
  /** The address clients connect to: the VIP, the proxy's client address, or the external LB. */
  address: string;
  dnsName?: string;
}

/** HAProxy on the `lb` hosts behind a keepalived VIP. */
export interface HaproxyKeepalivedEndpoint extends EndpointBase {
  mode: "haproxy-keepalived";
  vipPrefix: number;
  haproxy: HaproxySettings;
  keepalived: KeepalivedSettings;
  /** True when HAProxy shares hosts with an API server (the port must then differ from the apiserver's). */
  colocated: boolean;
}

/** One HAProxy host, no VIP. */
export interface HaproxyEndpoint extends EndpointBase {
  mode: "haproxy";
  /** The proxy host's internal address (the cluster side); `address` may be another of its addresses. */
  proxyAddress: string;
  haproxy: HaproxySettings;
  colocated: boolean;
}

/** kube-vip static pods on the control planes holding the VIP (as a /32). */
export interface KubeVipEndpoint extends EndpointBase {
  mode: "kube-vip";
  image: string;
}

/** A load balancer kubeha does not manage. */
export interface ExternalEndpoint extends EndpointBase {
  mode: "external";
  hairpin: boolean;
}

export type Endpoint = HaproxyKeepalivedEndpoint | HaproxyEndpoint | KubeVipEndpoint | ExternalEndpoint;
export type EndpointMode = Endpoint["mode"];

export interface Kubernetes {
  /** `1.33.4` (no leading v). */
  version: string;
  minor: number;
  podSubnet: string;
  serviceSubnet: string;
  dnsDomain: string;
  imageRepository: string;
  apiServerPort: number;
  containerRuntime: "containerd" | "cri-o";
  cni: { plugin: "flannel" | "calico"; interface?: string; imageRepository?: string };
  certSANs: string[];
  /** spec.kubernetes.extraArgs, each list sorted by flag name (renders are deterministic). */
  extraArgs: { apiServer: Array<[string, string]>; scheduler: Array<[string, string]> };
  /** `kubeadm.k8s.io/v1beta4` from 1.31, `v1beta3` below. */
  kubeadmApiVersion: "kubeadm.k8s.io/v1beta3" | "kubeadm.k8s.io/v1beta4";
  /** First address of the service subnet (the `kubernetes` service). */
  serviceIp: string;
  /** The CRI socket URL for the chosen runtime. */
  criSocket: string;
}

export interface Etcd {
  mode: "stacked" | "external";
  dataDir: string;
  clientPort: number;
  peerPort: number;
  /** Names of the etcd members: the `etcd` hosts (external) or the control planes (stacked). */
  members: string[];
}

export interface Packages {
  source: "upstream" | "mirror" | "bundle";
  /** Base URL of the per-minor repositories (`.../v1.33/deb/`), for upstream and mirror. */
  repositoryBase: string;
  /** Absolute bundle path, for `bundle`. */
  bundle?: string;
  proxy?: string;
}

export interface Pki {
  keyAlgorithm: "ecdsa-p256" | "rsa-2048";
  caValidityDays: number;
  leafValidityDays: number;
  tokenTtlHours: number;
  /** Absolute path. */
  stateDir: string;
}

/** First-boot settings for Ignition configs (spec.provisioning). */
export interface Provisioning {
  network: { prefixLength: number; gateway?: string; dns: string[] };
  sshAuthorizedKeys: string[];
  user: { groups: string[]; passwordHash?: string; passwordlessSudo: boolean };
  dataDisk?: { device: string; format: "btrfs" | "ext4" | "xfs"; label: string; path: string };
}

/**
 * How a control plane is brought up (spec.bootstrap): one list for the model's type, the bundle's
 * file filter and the lab's --bootstrap. The file format's union (file.ts) is checked against it below.
 */
export const BOOTSTRAPS = ["kubeadm", "binary"] as const;
export type Bootstrap = (typeof BOOTSTRAPS)[number];
// file.ts spells the union out for the schema generator; this line stops compiling when the two differ.
const sameBootstraps: [Bootstrap] extends [NonNullable<ClusterFile["spec"]["bootstrap"]>] ? ([NonNullable<ClusterFile["spec"]["bootstrap"]>] extends [Bootstrap] ? true : false) : false = true;
void sameBootstraps;

export interface Cluster {
  name: string;
  hosts: Host[];
  kubernetes: Kubernetes;
  endpoint: Endpoint;
  etcd: Etcd;
  packages: Packages;
  /** kubeadm, or systemd units rendered by kubeha (spec.bootstrap). */
  bootstrap: Bootstrap;
  pki: Pki;
  provisioning: Provisioning;
  /** Absolute path of the cluster file this came from, when read from disk. */
  sourcePath?: string;
  /**
   * The control plane the cluster-wide kubeadm work runs on (tokens, certificate upload, the pod
   * network), when it is not the first one in the file: apply sets it from facts once the first
   * one was replaced by a fresh machine (src/plan/init.ts). Never read from the cluster file.
   */
  initControlPlane?: string;
}

/** Hosts having a role, in file order. */
export function hostsWithRole(c: Cluster, role: Role): Host[] {
  return c.hosts.filter((h) => h.roles.includes(role));
}

/**
 * The control plane that runs `kubeadm init` and the cluster-wide kubeadm work: the first
 * control-plane host in file order, or `initControlPlane` when apply set it.
 */
export function firstControlPlane(c: Cluster): Host {
  const h = c.hosts.find((x) => x.roles.includes("control-plane") && (c.initControlPlane === undefined || x.name === c.initControlPlane));
  if (!h) throw new Error("cluster has no control-plane host (validate should have caught this)");
  return h;
}

/** Index of each host name in a host list: renders look hosts up by name once per file per host. */
const hostIndex = new WeakMap<Host[], Map<string, number>>();

export function hostByName(c: Cluster, name: string): Host {
  let index = hostIndex.get(c.hosts);
  let i = index?.get(name);
  // The list may have changed since it was indexed: an entry counts only while it still names the host.
  if (i === undefined || c.hosts[i]?.name !== name) {
    index = new Map();
    c.hosts.forEach((x, j) => index!.has(x.name) || index!.set(x.name, j));
    hostIndex.set(c.hosts, index);
    i = index.get(name);
  }
  const h = i === undefined ? undefined : c.hosts[i];
  if (!h) throw new Error(`no host named ${name} in cluster ${c.name}`);
  return h;
}

/** `host:port` of the control-plane endpoint. */
export function endpointHostPort(c: Cluster): string {
  return `${c.endpoint.host}:${c.endpoint.port}`;
}
