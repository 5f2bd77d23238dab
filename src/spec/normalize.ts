/**
 * ClusterFile -> Cluster: applies every default and computes derived values (pure).
 * Assumes the file passed schema validation; semantic problems are left to rules.ts,
 * which runs on the result, so normalize never throws for a structurally valid file.
 */
import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import type { ClusterFile, HaproxyFile, KeepalivedFile, SshFile } from "./file.ts";
import type { Cluster, Endpoint, HaproxySettings, Host, KeepalivedSettings, Kubernetes, Ssh } from "./model.ts";
import { nthAddress, parseCidr } from "../util/net.ts";
import { DEFAULTS as D, defaultStateDir } from "./defaults.ts";

export const SUPPORTED_MINORS = { min: 29, max: 36 } as const;
export const UPSTREAM_PACKAGES = "https://pkgs.k8s.io/core:/stable:";

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

function sortedArgs(args: Record<string, string> | undefined): Array<[string, string]> {
  return Object.entries(args ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * kube-apiserver's `--shutdown-delay-duration` behind HAProxy: on SIGTERM the API server fails
 * `/readyz` with `[-]shutdown` at once and keeps serving for this long, then closes its listener.
 * HAProxy drains it at the first such check (src/render/haproxy.ts READYZ_EXPECT), which comes
 * within one `checkIntervalMs` and may take another (`timeout check` is the interval): two
 * intervals, rounded up to seconds, plus one second for a late check. Without the delay a
 * connection HAProxy sent just before the listener closed is reset (the drill's apiserver-down
 * scenario saw one per run). Each planned restart of an API server takes this much longer.
 */
export const SHUTDOWN_DELAY_FLAG = "shutdown-delay-duration";

export function apiServerShutdownDelay(hp: HaproxySettings): string {
  return `${Math.ceil((2 * hp.checkIntervalMs) / 1000) + 1}s`;
}

function normalizeSsh(own: SshFile | undefined, shared: SshFile | undefined, base: string, home: string): Ssh {
  const user = own?.user ?? shared?.user ?? D.ssh.user;
  const keyPath = expandPath(own?.keyPath ?? shared?.keyPath ?? D.ssh.keyPath, base, home);
  const b = own?.bastion ?? shared?.bastion;
  return {
    user,
    port: own?.port ?? shared?.port ?? D.ssh.port,
    keyPath,
    knownHostsPath: expandPath(own?.knownHostsPath ?? shared?.knownHostsPath ?? D.ssh.knownHostsPath, base, home),
    ...(b
      ? {
          bastion: {
            address: b.address,
            user: b.user ?? user,
            port: b.port ?? D.bastion.port,
            keyPath: b.keyPath ? expandPath(b.keyPath, base, home) : keyPath,
          },
        }
      : {}),
  };
}

function haproxySettings(hp: HaproxyFile): HaproxySettings {
  return {
    checkIntervalMs: hp.checkIntervalMs ?? D.haproxy.checkIntervalMs,
    fall: hp.fall ?? D.haproxy.fall,
    rise: hp.rise ?? D.haproxy.rise,
    connectTimeoutMs: hp.connectTimeoutMs ?? D.haproxy.connectTimeoutMs,
    tunnelTimeoutSeconds: hp.tunnelTimeoutSeconds ?? D.haproxy.tunnelTimeoutSeconds,
    statsPage: {
      enabled: hp.statsPage?.enabled ?? D.statsPage.enabled,
      port: hp.statsPage?.port ?? D.statsPage.port,
      ...(hp.statsPage?.bind ? { bind: hp.statsPage.bind } : {}),
    },
  };
}

function keepalivedSettings(ka: KeepalivedFile): KeepalivedSettings {
  return {
    routerId: ka.routerId ?? D.keepalived.routerId,
    unicast: ka.unicast ?? D.keepalived.unicast,
    advertInterval: ka.advertInterval ?? D.keepalived.advertInterval,
    preempt: ka.preempt ?? D.keepalived.preempt,
    preemptDelaySeconds: ka.preemptDelaySeconds ?? D.keepalived.preemptDelaySeconds,
  };
}

function normalizeEndpoint(file: ClusterFile, hosts: Host[], apiServerPort: number): Endpoint {
  const e = file.spec.controlPlaneEndpoint;
  const lbHosts = hosts.filter((h) => h.lbIndex >= 0);
  const colocated = lbHosts.some((h) => h.roles.includes("control-plane"));
  // Without hairpin the endpoint must be a name: control planes resolve it to themselves.
  const dnsName = e.dnsName ?? (e.mode === "external" && !e.hairpin ? `k8s-api.${file.metadata.name}.internal` : undefined);
  const common = (address: string) => ({ host: dnsName ?? address, address, ...(dnsName ? { dnsName } : {}) });
  switch (e.mode) {
    case "haproxy-keepalived":
      return {
        mode: e.mode,
        ...common(e.vip),
        port: e.port ?? (colocated ? D.endpoint.colocatedPort : apiServerPort),
        vipPrefix: e.vipPrefix ?? D.haproxyKeepalived.vipPrefix,
        haproxy: haproxySettings(e.haproxy ?? {}),
        keepalived: keepalivedSettings(e.keepalived ?? {}),
        colocated,
      };
    case "haproxy": {
      const proxyAddress = lbHosts[0]?.internalAddress ?? "";
      return {
        mode: e.mode,
        ...common(e.address ?? proxyAddress),
        port: e.port ?? (colocated ? D.endpoint.colocatedPort : apiServerPort),
        proxyAddress,
        haproxy: haproxySettings(e.haproxy ?? {}),
        colocated,
      };
    }
    case "kube-vip":
      return { mode: e.mode, ...common(e.vip), port: e.port ?? apiServerPort, image: e.image ?? D.kubeVip.image };
    case "external":
      return { mode: e.mode, ...common(e.address), port: e.port ?? apiServerPort, hairpin: e.hairpin };
  }
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
    interface: h.interface ?? D.host.interface,
    labels: { ...(h.labels ?? {}) },
    ...(h.taints ? { taints: [...h.taints] } : {}),
    lbIndex: lbNames.indexOf(h.name),
  }));

  const k = spec.kubernetes ?? {};
  const parsed = parseVersion(k.version ?? D.kubernetes.version) ?? { version: k.version ?? "", minor: 0 };
  const serviceSubnet = k.serviceSubnet ?? D.kubernetes.serviceSubnet;
  const svc = parseCidr(serviceSubnet);
  const runtime = k.containerRuntime ?? D.kubernetes.containerRuntime;
  const kubernetes: Kubernetes = {
    version: parsed.version,
    minor: parsed.minor,
    podSubnet: k.podSubnet ?? D.kubernetes.podSubnet,
    serviceSubnet,
    dnsDomain: k.dnsDomain ?? D.kubernetes.dnsDomain,
    imageRepository: k.imageRepository ?? D.kubernetes.imageRepository,
    apiServerPort: k.apiServerPort ?? D.kubernetes.apiServerPort,
    containerRuntime: runtime,
    cni: {
      plugin: k.cni?.plugin ?? D.cni.plugin,
      ...(k.cni?.interface ? { interface: k.cni.interface } : {}),
      ...(k.cni?.imageRepository ? { imageRepository: k.cni.imageRepository.replace(/\/+$/, "") } : {}),
    },
    certSANs: [...(k.certSANs ?? [])],
    extraArgs: { apiServer: sortedArgs(k.extraArgs?.apiServer), scheduler: sortedArgs(k.extraArgs?.scheduler) },
    kubeadmApiVersion: parsed.minor >= 31 ? "kubeadm.k8s.io/v1beta4" : "kubeadm.k8s.io/v1beta3",
    serviceIp: svc ? nthAddress(svc, 1) : "",
    criSocket: runtime === "cri-o" ? "unix:///var/run/crio/crio.sock" : "unix:///run/containerd/containerd.sock",
  };

  const endpoint = normalizeEndpoint(file, hosts, kubernetes.apiServerPort);
  const delay = "haproxy" in endpoint ? apiServerShutdownDelay(endpoint.haproxy) : undefined;
  if (delay && !kubernetes.extraArgs.apiServer.some(([name]) => name === SHUTDOWN_DELAY_FLAG)) {
    kubernetes.extraArgs.apiServer = sortedArgs({ ...Object.fromEntries(kubernetes.extraArgs.apiServer), [SHUTDOWN_DELAY_FLAG]: delay });
  }

  const et = spec.etcd ?? {};
  const etcdMode = et.mode ?? D.etcd.mode;
  const etcd = {
    mode: etcdMode,
    dataDir: et.dataDir ?? D.etcd.dataDir,
    clientPort: et.clientPort ?? D.etcd.clientPort,
    peerPort: et.peerPort ?? D.etcd.peerPort,
    members: hosts.filter((h) => h.roles.includes(etcdMode === "external" ? "etcd" : "control-plane")).map((h) => h.name),
  };

  const p = spec.packages ?? {};
  const source = p.source ?? D.packages.source;
  const repoRoot = source === "mirror" ? (p.mirror ?? "").replace(/\/+$/, "") : UPSTREAM_PACKAGES;
  const packages = {
    source,
    repositoryBase: `${repoRoot}/v1.${kubernetes.minor}/deb/`,
    ...(p.bundle ? { bundle: expandPath(p.bundle, base, home) } : {}),
    ...(p.proxy ? { proxy: p.proxy } : {}),
  };

  const pk = spec.pki ?? {};
  const pki = {
    keyAlgorithm: pk.keyAlgorithm ?? D.pki.keyAlgorithm,
    caValidityDays: pk.caValidityDays ?? D.pki.caValidityDays,
    leafValidityDays: pk.leafValidityDays ?? D.pki.leafValidityDays,
    tokenTtlHours: pk.tokenTtlHours ?? D.pki.tokenTtlHours,
    stateDir: expandPath(pk.stateDir ?? defaultStateDir(file.metadata.name), base, home),
  };

  const pv = spec.provisioning ?? {};
  const disk = pv.dataDisk;
  const provisioning = {
    network: {
      prefixLength: pv.network?.prefixLength ?? D.provisioningNetwork.prefixLength,
      ...(pv.network?.gateway ? { gateway: pv.network.gateway } : {}),
      dns: [...(pv.network?.dns ?? [])],
    },
    sshAuthorizedKeys: [...(pv.sshAuthorizedKeys ?? [])],
    user: {
      groups: [...(pv.user?.groups ?? [])],
      ...(pv.user?.passwordHash !== undefined ? { passwordHash: pv.user.passwordHash } : {}),
      passwordlessSudo: pv.user?.passwordlessSudo ?? D.provisioningUser.passwordlessSudo,
    },
    ...(disk
      ? { dataDisk: { device: disk.device, format: disk.format ?? D.dataDisk.format, label: disk.label ?? D.dataDisk.label, path: disk.path ?? D.dataDisk.path } }
      : {}),
  };

  return {
    name: file.metadata.name,
    hosts,
    kubernetes,
    endpoint,
    etcd,
    packages,
    bootstrap: spec.bootstrap ?? D.spec.bootstrap,
    pki,
    provisioning,
    ...(opts.sourcePath ? { sourcePath: resolve(opts.sourcePath) } : {}),
  };
}
