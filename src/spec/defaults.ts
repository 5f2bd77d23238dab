/**
 * Every default of the cluster file, once. `normalize` reads them from here; the TSDoc in file.ts
 * states them for users (and so the JSON schema and the README), and test/spec/defaults.test.ts
 * fails when a documented "Default `X`" differs from this object. Sections follow file.ts's types.
 */
export const DEFAULTS = {
  /** HostFile */
  host: { interface: "eth0" },
  /** SshFile */
  ssh: { user: "root", port: 22, keyPath: "~/.ssh/id_ed25519", knownHostsPath: "~/.ssh/known_hosts" },
  /** BastionFile */
  bastion: { port: 22 },
  /** KubernetesFile. 1.34.2: the newest patch release kubeha's examples and goldens pin (supported: 1.29 to 1.36). */
  kubernetes: {
    version: "1.34.2",
    podSubnet: "10.244.0.0/16",
    serviceSubnet: "10.96.0.0/12",
    dnsDomain: "cluster.local",
    imageRepository: "registry.k8s.io",
    apiServerPort: 6443,
    containerRuntime: "containerd",
  },
  /** CniFile */
  cni: { plugin: "flannel" },
  /** EndpointCommon: the port HAProxy takes when it shares hosts with an API server (not a documented literal default). */
  endpoint: { colocatedPort: 8443 },
  /** HaproxyKeepalivedFile */
  haproxyKeepalived: { vipPrefix: 24 },
  /** KubeVipFile */
  kubeVip: { image: "ghcr.io/kube-vip/kube-vip:v0.8.9" },
  /** HaproxyFile */
  haproxy: { checkIntervalMs: 1000, fall: 2, rise: 2, connectTimeoutMs: 300, tunnelTimeoutSeconds: 3600 },
  /** StatsPageFile */
  statsPage: { enabled: false, port: 9000 },
  /** KeepalivedFile */
  keepalived: { routerId: 51, unicast: true, advertInterval: 0.01, preempt: "never", preemptDelaySeconds: 60 },
  /** EtcdFile */
  etcd: { mode: "stacked", dataDir: "/var/lib/etcd", clientPort: 2379, peerPort: 2380 },
  /** PackagesFile */
  packages: { source: "upstream" },
  /** ClusterSpec */
  spec: { bootstrap: "kubeadm" },
  /** ProvisioningNetworkFile */
  provisioningNetwork: { prefixLength: 24 },
  /** ProvisioningUserFile */
  provisioningUser: { passwordlessSudo: false },
  /** DataDiskFile */
  dataDisk: { format: "btrfs", label: "data", path: "/var/mnt/data" },
  /** PkiFile. `<name>` is the cluster's metadata.name. */
  pki: { keyAlgorithm: "ecdsa-p256", caValidityDays: 3650, leafValidityDays: 365, tokenTtlHours: 24, stateDir: ".kubeha/<name>" },
} as const;

/** The state directory default for a cluster name (relative to the cluster file's folder). */
export function defaultStateDir(clusterName: string): string {
  return DEFAULTS.pki.stateDir.replace("<name>", clusterName);
}
