/**
 * ClusterFile -> Cluster: applies every default and computes derived values (pure).
 * Assumes the file passed schema validation; semantic problems are left to rules.ts,
 * which runs on the result, so normalize never throws for a structurally valid file.
 */
import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import type { ClusterFile, SshFile } from "./file.ts";
import type { Cluster, Endpoint, Host, Kubernetes, Ssh } from "./model.ts";
import { nthAddress, parseCidr } from "../util/net.ts";

export const DEFAULT_KUBERNETES_VERSION = "1.34.2";
export const SUPPORTED_MINORS = { min: 29, max: 36 } as const;
export const UPSTREAM_PACKAGES = "https://pkgs.k8s.io/core:/stable:";
export const DEFAULT_KUBE_VIP_IMAGE = "ghcr.io/kube-vip/kube-vip:v0.8.9";

export interface NormalizeOptions {
  /** Path of the cluster file: relative paths in it (keys, bundle, state dir) resolve against its folder. */
  sourcePath?: string;
  /** Home directory for `~` (tests pin it). */
  home?: string;
}

function expandPath(p: string, base: string, home: string): string {
  if (p === "~") return home;
  if (p.startsWith("~/")) return join(home, p.slice(2));
  return isAbsolute(p) ? p : resolve(base, p);
}

/** Parses `1.33.4` / `v1.33.4`; undefined when malformed. */
export function parseVersion(v: string): { version: string; minor: number } | undefined {
  const m = /^v?1\.(\d+)\.(\d+)$/.exec(v.trim());
  if (!m) return undefined;
  return { version: `1.${m[1]}.${m[2]}`, minor: Number(m[1]) };
}

function normalizeSsh(own: SshFile | undefined, shared: SshFile | undefined, base: string, home: string): Ssh {
  const user = own?.user ?? shared?.user ?? "root";
  const keyPath = expandPath(own?.keyPath ?? shared?.keyPath ?? "~/.ssh/id_ed25519", base, home);
  const b = own?.bastion ?? shared?.bastion;
  return {
    user,
    port: own?.port ?? shared?.port ?? 22,
    keyPath,
    knownHostsPath: expandPath(own?.knownHostsPath ?? shared?.knownHostsPath ?? "~/.ssh/known_hosts", base, home),
    ...(b
      ? {
          bastion: {
            address: b.address,
            user: b.user ?? user,
            port: b.port ?? 22,
            keyPath: b.keyPath ? expandPath(b.keyPath, base, home) : keyPath,
          },
        }
      : {}),
  };
}

export function normalize(file: ClusterFile, opts: NormalizeOptions = {}): Cluster {
  const home = opts.home ?? homedir();
  const base = opts.sourcePath ? dirname(resolve(opts.sourcePath)) : process.cwd();
  const spec = file.spec;
  const lbNames = spec.hosts.filter((h) => h.roles.includes("lb")).map((h) => h.name);

  const hosts: Host[] = spec.hosts.map((h) => ({
    name: h.name,
    address: h.address,
    internalAddress: h.internalAddress ?? h.address,
    roles: [...h.roles],
    ssh: normalizeSsh(h.ssh, spec.ssh, base, home),
    interface: h.interface ?? "eth0",
    labels: { ...(h.labels ?? {}) },
    ...(h.taints ? { taints: [...h.taints] } : {}),
    lbIndex: lbNames.indexOf(h.name),
  }));

  const k = spec.kubernetes ?? {};
  const parsed = parseVersion(k.version ?? DEFAULT_KUBERNETES_VERSION) ?? { version: k.version ?? "", minor: 0 };
  const serviceSubnet = k.serviceSubnet ?? "10.96.0.0/12";
  const svc = parseCidr(serviceSubnet);
  const runtime = k.containerRuntime ?? "containerd";
  const kubernetes: Kubernetes = {
    version: parsed.version,
    minor: parsed.minor,
    podSubnet: k.podSubnet ?? "10.244.0.0/16",
    serviceSubnet,
    dnsDomain: k.dnsDomain ?? "cluster.local",
    imageRepository: k.imageRepository ?? "registry.k8s.io",
    apiServerPort: k.apiServerPort ?? 6443,
    containerRuntime: runtime,
    cni: { plugin: k.cni?.plugin ?? "flannel", ...(k.cni?.interface ? { interface: k.cni.interface } : {}) },
    certSANs: [...(k.certSANs ?? [])],
    kubeadmApiVersion: parsed.minor >= 31 ? "kubeadm.k8s.io/v1beta4" : "kubeadm.k8s.io/v1beta3",
    serviceIp: svc ? nthAddress(svc, 1) : "",
    criSocket: runtime === "cri-o" ? "unix:///var/run/crio/crio.sock" : "unix:///run/containerd/containerd.sock",
  };

  const e = spec.controlPlaneEndpoint;
  const lbHosts = hosts.filter((h) => h.lbIndex >= 0);
  const colocated =
    (e.mode === "haproxy-keepalived" || e.mode === "haproxy") && lbHosts.some((h) => h.roles.includes("control-plane"));
  const address =
    e.mode === "external" ? e.address : e.mode === "haproxy" ? (lbHosts[0]?.internalAddress ?? "") : e.vip;
  const hp = "haproxy" in e ? (e.haproxy ?? {}) : {};
  const ka = e.mode === "haproxy-keepalived" ? (e.keepalived ?? {}) : {};
  // Without hairpin the endpoint must be a name: control planes resolve it to themselves.
  const dnsName = e.dnsName ?? (e.mode === "external" && !e.hairpin ? `k8s-api.${file.metadata.name}.internal` : undefined);
  const endpoint: Endpoint = {
    mode: e.mode,
    host: dnsName ?? address,
    port: e.port ?? (colocated ? 8443 : kubernetes.apiServerPort),
    address,
    ...(dnsName ? { dnsName } : {}),
    vipPrefix: e.mode === "haproxy-keepalived" ? (e.vipPrefix ?? 24) : 32,
    hairpin: e.mode === "external" ? e.hairpin : true,
    haproxy: {
      checkIntervalMs: hp.checkIntervalMs ?? 1000,
      fall: hp.fall ?? 2,
      rise: hp.rise ?? 2,
      connectTimeoutMs: hp.connectTimeoutMs ?? 300,
      tunnelTimeoutSeconds: hp.tunnelTimeoutSeconds ?? 3600,
      statsPage: {
        enabled: hp.statsPage?.enabled ?? false,
        port: hp.statsPage?.port ?? 9000,
        ...(hp.statsPage?.bind ? { bind: hp.statsPage.bind } : {}),
      },
    },
    keepalived: {
      routerId: ka.routerId ?? 51,
      unicast: ka.unicast ?? true,
      advertInterval: ka.advertInterval ?? 0.1,
      preempt: ka.preempt ?? "never",
      preemptDelaySeconds: ka.preemptDelaySeconds ?? 60,
    },
    kubeVipImage: e.mode === "kube-vip" ? (e.image ?? DEFAULT_KUBE_VIP_IMAGE) : DEFAULT_KUBE_VIP_IMAGE,
    colocated,
  };

  const et = spec.etcd ?? {};
  const etcdMode = et.mode ?? "stacked";
  const etcd = {
    mode: etcdMode,
    dataDir: et.dataDir ?? "/var/lib/etcd",
    clientPort: et.clientPort ?? 2379,
    peerPort: et.peerPort ?? 2380,
    members: hosts.filter((h) => h.roles.includes(etcdMode === "external" ? "etcd" : "control-plane")).map((h) => h.name),
  };

  const p = spec.packages ?? {};
  const source = p.source ?? "upstream";
  const repoRoot = source === "mirror" ? (p.mirror ?? "").replace(/\/+$/, "") : UPSTREAM_PACKAGES;
  const packages = {
    source,
    repositoryBase: `${repoRoot}/v1.${kubernetes.minor}/deb/`,
    ...(p.bundle ? { bundle: expandPath(p.bundle, base, home) } : {}),
    ...(p.proxy ? { proxy: p.proxy } : {}),
  };

  const pk = spec.pki ?? {};
  const pki = {
    keyAlgorithm: pk.keyAlgorithm ?? "ecdsa-p256",
    caValidityDays: pk.caValidityDays ?? 3650,
    leafValidityDays: pk.leafValidityDays ?? 365,
    tokenTtlHours: pk.tokenTtlHours ?? 24,
    stateDir: expandPath(pk.stateDir ?? join(".kubeha", file.metadata.name), base, home),
  };

  const pv = spec.provisioning ?? {};
  const disk = pv.dataDisk;
  const provisioning = {
    network: {
      prefixLength: pv.network?.prefixLength ?? 24,
      ...(pv.network?.gateway ? { gateway: pv.network.gateway } : {}),
      dns: [...(pv.network?.dns ?? [])],
    },
    sshAuthorizedKeys: [...(pv.sshAuthorizedKeys ?? [])],
    ...(disk
      ? { dataDisk: { device: disk.device, format: disk.format ?? "btrfs", label: disk.label ?? "data", path: disk.path ?? "/var/mnt/data" } }
      : {}),
  };

  return {
    name: file.metadata.name,
    hosts,
    kubernetes,
    endpoint,
    etcd,
    packages,
    installMethod: "kubeadm",
    pki,
    provisioning,
    ...(opts.sourcePath ? { sourcePath: resolve(opts.sourcePath) } : {}),
  };
}
