/**
 * The cluster file as a user writes it (raw input). Every field is optional unless the
 * cluster cannot be described without it; `normalize()` turns this into a fully
 * defaulted `Cluster` (see model.ts). The TSDoc here is the user documentation: it is
 * compiled into `cluster.schema.json` (descriptions, defaults) by `npm run schema`.
 */

/** A kubeha cluster file. */
export interface ClusterFile {
  /** Version of this file format. Must be `kubeha.dev/v1alpha1`. */
  apiVersion: "kubeha.dev/v1alpha1";
  /** Must be `Cluster`. */
  kind: "Cluster";
  metadata: Metadata;
  spec: ClusterSpec;
}

export interface Metadata {
  /**
   * Cluster name: lower-case letters, digits and `-`, at most 40 characters. Used as the
   * kubeadm `clusterName`, in kubeconfig context names and for the state directory.
   * @pattern ^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$
   */
  name: string;
}

export interface ClusterSpec {
  /**
   * The machines. Each host has one or more roles; a minimal HA cluster is three hosts with
   * roles `[control-plane, lb]` (or three control planes plus LB hosts) and a VIP.
   * @minItems 1
   */
  hosts: HostFile[];
  /** SSH settings applied to every host that does not set its own. */
  ssh?: SshFile;
  /** Kubernetes version, networks, images, runtime and CNI. */
  kubernetes?: KubernetesFile;
  /** How clients reach the API servers: VIP + HAProxy, a single proxy, kube-vip or a cloud LB. */
  controlPlaneEndpoint: EndpointFile;
  /** Where etcd runs. Default: `stacked` (managed by kubeadm on the control planes). */
  etcd?: EtcdFile;
  /** Where packages come from. Default: the distribution's repositories plus pkgs.k8s.io. */
  packages?: PackagesFile;
  /**
   * How the control plane is brought up. `kubeadm`: kubeadm init/join, the control plane as
   * static pods. `binary` (the "hard way"): no kubeadm; kubeha writes a systemd unit and a flag
   * or config file for kube-apiserver, kube-controller-manager and kube-scheduler on the control
   * planes and kubelet and kube-proxy on every node, every kubeconfig from its own PKI, and
   * bootstraps kubelets with TLS bootstrap tokens. `binary` needs `etcd.mode: external` (an etcd
   * systemd service; the etcd role may sit on the control planes) and `packages.source: bundle`
   * with the control-plane binaries (pkgs.k8s.io ships no kube-apiserver package). Default `kubeadm`.
   */
  bootstrap?: "kubeadm" | "binary";
  /** The cluster's certificate authorities and keys, owned by kubeha. */
  pki?: PkiFile;
  /**
   * What a host needs at first boot when it configures itself from an Ignition config
   * (`kubeha render FILE --format ignition`): static address, login keys, a data disk.
   * Not used by `kubeha apply`.
   */
  provisioning?: ProvisioningFile;
}

/** A role a host plays. A host may have several. */
export type Role = "control-plane" | "worker" | "etcd" | "lb";

export interface HostFile {
  /**
   * Host name; becomes the node name and the machine's hostname. Lower-case RFC 1123 label.
   * @pattern ^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$
   */
  name: string;
  /** IPv4 address kubeha connects to over SSH (and the node address when `internalAddress` is unset). */
  address: string;
  /** IPv4 address on the cluster network, when it differs from `address` (the node IP, etcd and apiserver bind here). */
  internalAddress?: string;
  /**
   * Roles of this host.
   * @minItems 1
   * @uniqueItems true
   */
  roles: Role[];
  /** SSH settings for this host; fields left out come from `spec.ssh`. */
  ssh?: SshFile;
  /**
   * Network interface that carries the VIP and VRRP traffic on `lb` hosts (and kube-vip):
   * a Linux interface name (1-15 letters, digits, `-`, `_`, `.`). Default: `eth0`.
   */
  interface?: string;
  /**
   * Node labels applied at registration (kubelet `--node-labels`). Keys are `[prefix/]name`,
   * values at most 63 characters. kubelet refuses keys under `kubernetes.io` / `k8s.io` outside
   * its allowed set (`node.kubernetes.io/`, `kubelet.kubernetes.io/`, `topology.kubernetes.io/zone`...):
   * `node-role.kubernetes.io/worker` has to be set with `kubectl label` after the join.
   */
  labels?: Record<string, string>;
  /**
   * Node taints applied at registration, as `key[=value]:Effect` with Effect `NoSchedule`,
   * `PreferNoSchedule` or `NoExecute`. Control planes get
   * `node-role.kubernetes.io/control-plane:NoSchedule` when this is left out; `[]` removes it.
   */
  taints?: string[];
}

export interface SshFile {
  /** Login user. Default `root`; any other user needs passwordless sudo. */
  user?: string;
  /**
   * SSH port. Default 22.
   * @minimum 1
   * @maximum 65535
   */
  port?: number;
  /** Private key file. `~` expands to the operator's home. Default `~/.ssh/id_ed25519`. */
  keyPath?: string;
  /** known_hosts file used to verify host keys. Default `~/.ssh/known_hosts`. */
  knownHostsPath?: string;
  /** A jump host to reach this host through. */
  bastion?: BastionFile;
}

export interface BastionFile {
  /** Address (IP or DNS name) of the jump host. */
  address: string;
  /** Login user on the jump host. Default: the host's SSH user. */
  user?: string;
  /**
   * SSH port of the jump host. Default 22.
   * @minimum 1
   * @maximum 65535
   */
  port?: number;
  /** Private key for the jump host. Default: the host's key. */
  keyPath?: string;
}

export interface KubernetesFile {
  /**
   * Kubernetes version, `1.MINOR.PATCH` (a leading `v` is accepted). kubeha supports 1.29 to 1.36.
   * Default `1.34.2`.
   */
  version?: string;
  /** Pod network CIDR, wired into kubeadm and the CNI. Default `10.244.0.0/16`. */
  podSubnet?: string;
  /** Service CIDR. Its first address is the `kubernetes` service IP. Default `10.96.0.0/12`. */
  serviceSubnet?: string;
  /** Cluster DNS domain. Default `cluster.local`. */
  dnsDomain?: string;
  /**
   * Registry for control-plane images, e.g. `registry.aliyuncs.com/google_containers`.
   * Also used for the runtime's pause (sandbox) image. Default `registry.k8s.io`.
   */
  imageRepository?: string;
  /**
   * Bind port of every kube-apiserver. Default 6443.
   * @minimum 1
   * @maximum 65535
   */
  apiServerPort?: number;
  /** Container runtime. Default `containerd`. */
  containerRuntime?: "containerd" | "cri-o";
  /** Pod network plugin. */
  cni?: CniFile;
  /** Extra names and IPs for the API server certificate (the VIP and endpoint name are always added). */
  certSANs?: string[];
  /**
   * Extra command-line flags for control-plane components. kubeha checks every name against the
   * flags the component has in the chosen minor (recorded from the upstream reference, see
   * docs/binary.md): a flag it does not have, or one removed or deprecated upstream, is refused
   * with what to use instead, before anything is rendered. Default: none.
   */
  extraArgs?: ExtraArgsFile;
}

/**
 * Flags by name without the leading dashes, values as strings (quote numbers and booleans),
 * e.g. `audit-log-maxage: "30"`. Flags kubeha sets from this file itself (ports, networks,
 * etcd, leader election) are refused: set the cluster-file field instead.
 */
export interface ExtraArgsFile {
  /**
   * kube-apiserver flags. When kubeha runs HAProxy in front of the API servers it sets
   * `shutdown-delay-duration` (two HAProxy `checkIntervalMs`, rounded up to seconds, plus 1 s: 3s
   * by default) unless you do: a stopping API server fails `/readyz` while it still serves, HAProxy
   * drains it, and no connection is reset by its closing listener.
   */
  apiServer?: Record<string, string>;
  /** kube-scheduler flags. */
  scheduler?: Record<string, string>;
}

export interface CniFile {
  /** CNI plugin. Default `flannel`. */
  plugin?: "flannel" | "calico";
  /** Interface flannel/calico uses for node-to-node traffic. Default: the interface of the node IP. */
  interface?: string;
  /**
   * Registry (and path) the CNI images are pulled from instead of the upstream ones
   * (`docker.io/flannel`, `quay.io/tigera` and calico's own), e.g. a mirror such as
   * `registry.example.com/cni`; the image names and pinned tags stay as upstream. Default: the
   * upstream registries.
   */
  imageRepository?: string;
}

/**
 * The control-plane endpoint: one of four modes, chosen by `mode`.
 * @discriminator mode
 */
export type EndpointFile = HaproxyKeepalivedFile | HaproxyOnlyFile | KubeVipFile | ExternalLbFile;

interface EndpointCommon {
  /**
   * DNS name for the endpoint, added to the API server certificate. When set, kubeconfigs and
   * joins use it instead of the IP (kubeha writes it into /etc/hosts on every node).
   */
  dnsName?: string;
  /**
   * Port clients connect to. Default: the API servers' port (`apiServerPort`) when the load
   * balancer does not share hosts with an API server, 8443 when HAProxy runs on the control
   * planes (the apiserver holds its own port there).
   * @minimum 1
   * @maximum 65535
   */
  port?: number;
}

/** HAProxy (TCP) on the `lb` hosts, with a keepalived VRRP virtual IP floating between them. */
export interface HaproxyKeepalivedFile extends EndpointCommon {
  mode: "haproxy-keepalived";
  /** The virtual IP. Must be unused and in the subnet of the `lb` hosts' interface. */
  vip: string;
  /**
   * Prefix length of the VIP, which is also the subnet the `lb` hosts share on `interface`
   * (the VIP must lie in it). Default 24.
   * @minimum 1
   * @maximum 32
   */
  vipPrefix?: number;
  haproxy?: HaproxyFile;
  keepalived?: KeepalivedFile;
}

/** One HAProxy host, no VIP (the proxy itself is a single point of failure). */
export interface HaproxyOnlyFile extends EndpointCommon {
  mode: "haproxy";
  /**
   * Address clients (kubeconfigs, kubeadm's controlPlaneEndpoint, joins) use to reach the proxy,
   * when it is not the proxy host's `internalAddress`, e.g. a second interface facing the users.
   * Goes into the API server certificate. Default: the `lb` host's `internalAddress`.
   */
  address?: string;
  haproxy?: HaproxyFile;
}

/** kube-vip as a static pod on the control planes, holding the VIP by ARP. */
export interface KubeVipFile extends EndpointCommon {
  mode: "kube-vip";
  /** The virtual IP. */
  vip: string;
  /** kube-vip image. Default `ghcr.io/kube-vip/kube-vip:v0.8.9`. */
  image?: string;
}

/** A load balancer kubeha does not manage, e.g. a cloud L4 LB (Alibaba SLB, AWS NLB). */
export interface ExternalLbFile extends EndpointCommon {
  mode: "external";
  /** Address of the load balancer (IP or DNS name). */
  address: string;
  /**
   * Whether the LB's own backends can reach it. Most cloud L4 LBs (Alibaba SLB/CLB) cannot:
   * set `false`, and kubeha resolves `dnsName` to 127.0.0.1 on control planes and to the LB
   * elsewhere (with `dnsName` defaulting to `k8s-api.<cluster name>.internal`). Required:
   * kubeha will not guess.
   */
  hairpin: boolean;
}

export interface HaproxyFile {
  /**
   * Health check interval in milliseconds. Default 1000.
   * @minimum 100
   * @maximum 60000
   */
  checkIntervalMs?: number;
  /**
   * Failed checks before a backend is marked down. Default 2.
   * @minimum 1
   * @maximum 10
   */
  fall?: number;
  /**
   * Passed checks before a backend is marked up. Default 2.
   * @minimum 1
   * @maximum 10
   */
  rise?: number;
  /**
   * Connect timeout to a backend, in milliseconds. Default 300 (a LAN connect takes well under 1 ms; a short timeout lets HAProxy redispatch quickly when a backend machine is gone).
   * @minimum 100
   * @maximum 60000
   */
  connectTimeoutMs?: number;
  /**
   * Client/server inactivity timeout in seconds (long watches need a large value). Default 3600.
   * @minimum 10
   */
  tunnelTimeoutSeconds?: number;
  /** Stats page (HTTP basic auth with a generated password, kept in the state directory). */
  statsPage?: StatsPageFile;
}

export interface StatsPageFile {
  /** Serve the stats page. Default false (the runtime socket is always on). */
  enabled?: boolean;
  /**
   * Port of the stats page. Default 9000.
   * @minimum 1
   * @maximum 65535
   */
  port?: number;
  /** Address to bind; default the host's internal address. */
  bind?: string;
}

export interface KeepalivedFile {
  /**
   * VRRP virtual router id, unique on the L2 segment. Default 51.
   * @minimum 1
   * @maximum 255
   */
  routerId?: number;
  /**
   * Unicast VRRP to the other `lb` hosts (works where multicast is filtered, e.g. clouds).
   * Default true.
   */
  unicast?: boolean;
  /**
   * VRRP advertisement interval in seconds. Default 0.01 (VRRPv3: a backup takes over about
   * 75 ms after the holder's last advert; below 30 ms kubeha raises keepalived's
   * `down_timer_adverts` so that a holder held off the CPU for 60 ms beyond one advert keeps the
   * VIP: 7 adverts at 0.01, 4 at 0.02); values of 1 or more use VRRPv2. docs/drill.md says what
   * the soaks measured for each interval.
   */
  advertInterval?: number;
  /**
   * Whether the VIP moves back to a higher-priority host when it recovers: `never`
   * (keepalived's `nopreempt`), `delay` (preempt after `preemptDelaySeconds`) or `always`.
   * Default `never`.
   */
  preempt?: "never" | "delay" | "always";
  /**
   * Delay before preempting back, when `preempt: delay`. Default 60.
   * @minimum 1
   * @maximum 1000
   */
  preemptDelaySeconds?: number;
}

export interface EtcdFile {
  /**
   * `stacked`: kubeadm runs etcd on each control plane. `external`: kubeha runs etcd as a
   * systemd service on the hosts with role `etcd`, with its own PKI.
   */
  mode?: "stacked" | "external";
  /** etcd data directory. Default `/var/lib/etcd`. */
  dataDir?: string;
  /**
   * Client port. Default 2379.
   * @minimum 1
   * @maximum 65535
   */
  clientPort?: number;
  /**
   * Peer port. Default 2380.
   * @minimum 1
   * @maximum 65535
   */
  peerPort?: number;
}

export interface PackagesFile {
  /**
   * Where Kubernetes packages come from: `upstream` (pkgs.k8s.io, one repository per minor),
   * `mirror` (a mirror of the pkgs.k8s.io layout, set `mirror`), or `bundle` (an offline
   * directory of binaries you ship, set `bundle`). Default `upstream`.
   */
  source?: "upstream" | "mirror" | "bundle";
  /** Base URL of a pkgs.k8s.io mirror, e.g. `https://mirrors.aliyun.com/kubernetes-new/core/stable`. */
  mirror?: string;
  /** Offline bundle directory on the operator machine (its layout: docs/bundle.md in the kubeha package). */
  bundle?: string;
  /** HTTP proxy for package downloads only, e.g. `http://198.18.0.1:3142`. */
  proxy?: string;
}

export interface PkiFile {
  /** Key algorithm for every key kubeha generates. Default `ecdsa-p256`. */
  keyAlgorithm?: "ecdsa-p256" | "rsa-2048";
  /**
   * CA validity in days. Default 3650.
   * @minimum 1
   */
  caValidityDays?: number;
  /**
   * Leaf certificate validity in days. Default 365.
   * @minimum 1
   */
  leafValidityDays?: number;
  /**
   * Bootstrap token lifetime in hours. Default 24.
   * @minimum 1
   * @maximum 8760
   */
  tokenTtlHours?: number;
  /**
   * State directory holding the PKI and secrets. Default `.kubeha/<name>` beside the
   * cluster file. Mode 0700; kubeha refuses looser permissions.
   */
  stateDir?: string;
}

export interface ProvisioningFile {
  /**
   * The static address written to /etc/systemd/network/20-wired.network: the host's `address`
   * on its `interface`, with this prefix, gateway and DNS servers.
   */
  network?: ProvisioningNetworkFile;
  /**
   * SSH public keys (`ssh-ed25519 AAAA... comment`) authorized for each host's SSH user
   * (`ssh.user`), so `kubeha status` and `kubeha drill` can reach hosts that were never
   * reached over SSH before. Default: none.
   */
  sshAuthorizedKeys?: string[];
  /**
   * The rest of what Ignition writes for each host's SSH user (`ssh.user`) beside its keys, as
   * seed 004's `users.yml` does for `altcos`: groups, a password hash, a sudoers drop-in.
   * Default: the keys only.
   */
  user?: ProvisioningUserFile;
  /**
   * A data disk formatted at first boot that holds the container runtime's storage: its
   * directory `containers` (CRI-O) or `containerd` is bind-mounted onto /var/lib/containers or
   * /var/lib/containerd before the runtime starts, and CRI-O uses the `btrfs` storage driver on
   * a btrfs disk (`overlay` otherwise), as in seed 004. Default: none.
   */
  dataDisk?: DataDiskFile;
}

export interface ProvisioningUserFile {
  /**
   * Supplementary groups of the user, e.g. `[wheel, docker]` as in seed 004. They must exist in
   * the image (Ignition adds the user to them, it does not create them). Default: none.
   */
  groups?: string[];
  /**
   * The user's password as a crypt(3) hash (`$6$...` from `openssl passwd -6` or
   * `mkpasswd -m sha-512`, `$y$...` from `mkpasswd -m yescrypt`), for console logins; never the
   * password itself. It goes into the Ignition config and the Butane file, which hold secrets
   * already (0600). Default: none (the account has no password: SSH keys only).
   */
  passwordHash?: string;
  /**
   * Write `/etc/sudoers.d/<user>` (mode 0440) with `<user> ALL=NOPASSWD: ALL`, as seed 004 does:
   * kubeha runs its commands with sudo on hosts whose SSH user is not root, and needs it without
   * a password. Not for `root`. Default false (the image may grant it, e.g. to `wheel`).
   */
  passwordlessSudo?: boolean;
}

export interface ProvisioningNetworkFile {
  /**
   * Prefix length of the hosts' subnet. Default 24.
   * @minimum 1
   * @maximum 32
   */
  prefixLength?: number;
  /** Default gateway (IPv4). Default: none (no default route). */
  gateway?: string;
  /** DNS servers (IPv4). Default: none. */
  dns?: string[];
}

export interface DataDiskFile {
  /** Whole-disk device, e.g. `/dev/sdb` or `/dev/vdb`. Its partition table is wiped. */
  device: string;
  /** Filesystem of its one partition. Default `btrfs`. */
  format?: "btrfs" | "ext4" | "xfs";
  /**
   * Partition and filesystem label. Default `data`.
   * @pattern ^[A-Za-z0-9_-]{1,16}$
   */
  label?: string;
  /** Absolute mount point; Ignition writes a mount unit for it. Default `/var/mnt/data`. */
  path?: string;
}
