/**
 * Every remote path kubeha writes or reads on a host, in one place. Renderers, install.sh,
 * the phases and the probes import these constants instead of spelling paths themselves.
 */

export const PATHS = {
  /** Where `kubeha apply` keeps its own copy of install.sh on each host. */
  installScript: "/root/kubeha/install.sh",
  /**
   * The folder install.sh copies files from (DIR/<host>/ of `kubeha render`): an Ignition config
   * writes the plan's files under it, and install.sh places them at boot.
   */
  installRoot: "/root/kubeha",
  /** Ignition: the oneshot unit that runs install.sh at boot until it succeeds once. */
  installUnit: "/etc/systemd/system/kubeha-install.service",
  /** Written when install.sh succeeded from the install unit; the unit does not start again. */
  installedMarker: "/var/lib/kubeha/installed",
  /**
   * The Debian packages kubeha installed on this host, one name per line (apply and install.sh
   * append what they install): `kubeha reset --purge-packages` purges only these, never a package
   * that was there before.
   */
  installedPackages: "/var/lib/kubeha/installed-packages",
  /** Ignition: the host's static address (systemd-networkd), as in seed 004. */
  networkdWired: "/etc/systemd/network/20-wired.network",
  etcHostname: "/etc/hostname",

  haproxyCfg: "/etc/haproxy/haproxy.cfg",
  /** systemd drop-in that flips the keepalived track file when haproxy starts and stops. */
  haproxyDropIn: "/etc/systemd/system/haproxy.service.d/10-kubeha.conf",
  haproxyStatsSocket: "/run/haproxy/admin.sock",

  keepalivedConf: "/etc/keepalived/keepalived.conf",
  keepalivedCheckScript: "/etc/keepalived/kubeha-check-haproxy.sh",
  keepalivedNotifyScript: "/etc/keepalived/kubeha-notify.sh",
  keepalivedDropIn: "/etc/systemd/system/keepalived.service.d/10-kubeha.conf",
  /** iproute2's `ip` (/sbin: also there on merged-/usr systems, where /sbin links to /usr/sbin). */
  ipCommand: "/sbin/ip",
  /** Runtime state shared by the haproxy drop-in, the notify script and keepalived (tmpfs: reset at boot). */
  runDir: "/run/kubeha",
  /** `1` while haproxy is not running (written by systemd), else `0`. */
  haproxyDownFile: "/run/kubeha/haproxy-down",
  /** `1` while this host is the VRRP master (written by the notify script), else `0`. */
  vipHolderFile: "/run/kubeha/vip-holder",

  sysctlK8s: "/etc/sysctl.d/90-kubeha-kubernetes.conf",
  sysctlLb: "/etc/sysctl.d/90-kubeha-lb.conf",
  modulesLoad: "/etc/modules-load.d/kubeha.conf",

  aptKeyringDir: "/etc/apt/keyrings",
  kubernetesKeyring: "/etc/apt/keyrings/kubernetes-apt-keyring.gpg",
  kubernetesAptSource: "/etc/apt/sources.list.d/kubernetes.list",
  kubernetesAptPin: "/etc/apt/preferences.d/kubeha-kubernetes",
  crioKeyring: "/etc/apt/keyrings/cri-o-apt-keyring.gpg",
  crioAptSource: "/etc/apt/sources.list.d/cri-o.list",
  aptProxy: "/etc/apt/apt.conf.d/90kubeha-proxy",

  containerdConfig: "/etc/containerd/config.toml",
  crioDropIn: "/etc/crio/crio.conf.d/10-kubeha.conf",
  /** Ignition with a data disk: CRI-O's storage root and driver (after crioDropIn, so it wins). */
  crioStorageDropIn: "/etc/crio/crio.conf.d/20-kubeha-storage.conf",
  /** Ignition with a data disk: containers/storage's own configuration (podman, and CRI-O's defaults), as seed 004 writes it. */
  containersStorageConf: "/etc/containers/storage.conf",
  /** containers/storage's graph root (images, layers) and run root: the defaults, stated where kubeha writes them. */
  containersGraphRoot: "/var/lib/containers/storage",
  containersRunRoot: "/run/containers/storage",
  /**
   * Ignition with a data disk: the name of the systemd drop-in on the runtime's unit
   * (`<unit>.d/<name>`, placed by Ignition) that keeps the runtime from starting before its
   * storage is mounted.
   */
  dataDiskDropInName: "10-kubeha-data-disk.conf",
  /** Ignition: the sudoers drop-in of the SSH user is `<sudoersDir>/<user>` (0440), as seed 004's /etc/sudoers.d/altcos. */
  sudoersDir: "/etc/sudoers.d",
  crictlConfig: "/etc/crictl.yaml",

  /** Lines kubeha keeps in a marked block of /etc/hosts (install.sh merges them). */
  hostsFragment: "/etc/kubeha/hosts",
  etcHosts: "/etc/hosts",

  kubeadmInit: "/etc/kubeha/kubeadm/init.yaml",
  kubeadmJoin: "/etc/kubeha/kubeadm/join.yaml",
  kubernetesDir: "/etc/kubernetes",
  /** kubeconfigs kubeha places before `kubeadm init`/join (kubeadm reuses them; names as kubeadm's). */
  adminConf: "/etc/kubernetes/admin.conf",
  superAdminConf: "/etc/kubernetes/super-admin.conf",
  controllerManagerConf: "/etc/kubernetes/controller-manager.conf",
  schedulerConf: "/etc/kubernetes/scheduler.conf",
  /** Written by kubeadm (init or join) only: its existence means kubeadm ran on the host. */
  kubeletConf: "/etc/kubernetes/kubelet.conf",
  /** The kubelet's rotated client certificate + key that kubelet.conf references after TLS bootstrap. */
  kubeletClientCurrent: "/var/lib/kubelet/pki/kubelet-client-current.pem",
  manifestsDir: "/etc/kubernetes/manifests",
  /** Where a static pod's manifest waits while the kubelet stops the pod (`kubeha certs renew`, the drill): outside manifestsDir, because the kubelet reads every non-hidden file there. */
  parkedManifestsDir: "/etc/kubeha/parked-manifests",
  kubeVipManifest: "/etc/kubernetes/manifests/kube-vip.yaml",
  /** The kube-vip manifest that mounts super-admin.conf, in place only while `kubeadm init` runs (1.29+). */
  kubeVipDuringInit: "/etc/kubeha/kube-vip.init.yaml",
  /** Where the init step keeps the steady kube-vip manifest while the during-init one is in place. */
  kubeVipSteady: "/etc/kubeha/kube-vip.steady.yaml",

  /** Client certificate the API servers use for an external etcd (kubeadm's names). */
  apiserverEtcdCa: "/etc/kubernetes/pki/etcd/ca.crt",
  apiserverEtcdCert: "/etc/kubernetes/pki/apiserver-etcd-client.crt",
  apiserverEtcdKey: "/etc/kubernetes/pki/apiserver-etcd-client.key",
  /** The kube-apiserver serving certificate (kubeha issues it; status reads it back). */
  apiserverCert: "/etc/kubernetes/pki/apiserver.crt",
  /** Stacked etcd: kubeadm issues the members' certificates here from kubeha's etcd CA. */
  stackedEtcdPkiDir: "/etc/kubernetes/pki/etcd",

  /**
   * `bootstrap: binary`: where the bundle installs the Kubernetes binaries (kube-apiserver,
   * kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl); every unit's ExecStart
   * is `<kubeBinDir>/<component>`.
   */
  kubeBinDir: "/usr/bin",
  /** `bootstrap: binary`: kubeha's own unit per component, `<systemdUnitDir>/<component>.service`. */
  systemdUnitDir: "/etc/systemd/system",
  /** The cluster CA as every component reads it (kubeadm's name; key beside it on control planes). */
  kubernetesCa: "/etc/kubernetes/pki/ca.crt",
  kubernetesCaKey: "/etc/kubernetes/pki/ca.key",
  frontProxyCa: "/etc/kubernetes/pki/front-proxy-ca.crt",
  frontProxyClientCert: "/etc/kubernetes/pki/front-proxy-client.crt",
  frontProxyClientKey: "/etc/kubernetes/pki/front-proxy-client.key",
  apiserverKey: "/etc/kubernetes/pki/apiserver.key",
  apiserverKubeletClientCert: "/etc/kubernetes/pki/apiserver-kubelet-client.crt",
  apiserverKubeletClientKey: "/etc/kubernetes/pki/apiserver-kubelet-client.key",
  saKey: "/etc/kubernetes/pki/sa.key",
  saPub: "/etc/kubernetes/pki/sa.pub",
  /** kubelet TLS bootstrap: the bootstrap-token kubeconfig (kubeadm's name), read until kubelet.conf exists. */
  bootstrapKubeletConf: "/etc/kubernetes/bootstrap-kubelet.conf",
  kubeProxyConf: "/etc/kubernetes/kube-proxy.conf",
  /** KubeletConfiguration (kubeadm's path). */
  kubeletConfig: "/var/lib/kubelet/config.yaml",
  /** Where the kubelet keeps its bootstrapped, rotated certificates (its default --cert-dir). */
  kubeletPkiDir: "/var/lib/kubelet/pki",
  kubeProxyConfig: "/var/lib/kube-proxy/config.yaml",
  schedulerConfig: "/etc/kubernetes/kube-scheduler.yaml",
  auditPolicy: "/etc/kubernetes/audit-policy.yaml",
  auditLog: "/var/log/kubernetes/audit/audit.log",
  /** EncryptionConfiguration for Secrets at rest: holds the key, 0600. */
  encryptionConfig: "/etc/kubernetes/encryption-config.yaml",
  /** The TLS bootstrap objects (bootstrap token Secret, RBAC bindings), applied from the first control plane. */
  tlsBootstrapManifest: "/etc/kubeha/binary/tls-bootstrap.yaml",
  /** CoreDNS (kubeadm's addon objects), applied from the first control plane in binary mode. */
  corednsManifest: "/etc/kubeha/binary/coredns.yaml",

  etcdDefaults: "/etc/default/etcd",
  etcdDropIn: "/etc/systemd/system/etcd.service.d/10-kubeha.conf",
  etcdPkiDir: "/etc/etcd/pki",
  etcdCa: "/etc/etcd/pki/ca.crt",
  etcdServerCert: "/etc/etcd/pki/server.crt",
  etcdServerKey: "/etc/etcd/pki/server.key",
  etcdPeerCert: "/etc/etcd/pki/peer.crt",
  etcdPeerKey: "/etc/etcd/pki/peer.key",

  cniDir: "/etc/kubeha/cni",
  /** flannel's whole manifest (namespace first), applied on the first control plane. */
  flannelManifest: "/etc/kubeha/cni/kube-flannel.yaml",
  /** The tigera-operator (namespace, its CRDs, RBAC, Deployment). */
  calicoOperator: "/etc/kubeha/cni/tigera-operator.yaml",
  /** calico's Installation + APIServer, applied once the operator's CRDs are established. */
  calicoInstallation: "/etc/kubeha/cni/calico-installation.yaml",
  /** Where a CNI plugin's install-cni step writes the network configuration the kubelet waits for. */
  cniNetDir: "/etc/cni/net.d",
  /**
   * Where CNI plugins installed by the pod network's DaemonSet land (flannel's install-cni-plugin,
   * calico's install-cni): writable on image-based systems, where /usr is read-only.
   */
  cniBinDir: "/opt/cni/bin",
  /** Where distributions package the standard CNI plugins (bridge, portmap, host-local...) on read-only /usr: ALT, Fedora CoreOS. */
  cniLibexecDir: "/usr/libexec/cni",

  /** The kubelet's state directory (kubeadm writes its configuration there; `kubeadm reset` empties it). */
  kubeletDir: "/var/lib/kubelet",
  /** containerd's state (images, snapshots): `kubeha reset --purge-packages` removes it with the package. */
  containerdRoot: "/var/lib/containerd",
  /** Where containerd keeps its plugins' binaries and libraries (it creates the folder at start). */
  containerdOpt: "/opt/containerd",
  /** CRI-O's (containers/storage) state, likewise. */
  crioRoot: "/var/lib/containers",
} as const;

/** In `kubeha render`'s output directory (local): the note saying the folder holds keys. */
export const RENDER_NOTE = "README-SECRETS.txt";

/**
 * Day-2 etcd snapshot and restore (src/ops/etcd-snapshot.ts, src/ops/etcd-restore.ts), on the
 * etcd members and control planes.
 */
export const ETCD_BACKUP_PATHS = {
  /** Root-only scratch directory: a snapshot being saved, a snapshot uploaded for a restore. */
  scratchDir: "/var/lib/kubeha/etcd-backup",
  /** The snapshot a restore uploads to every member (removed when the restore is done). */
  restoreSnapshot: "/var/lib/kubeha/etcd-backup/restore.db",
  /** Where a restore parks the static pod manifests it takes away (see PATHS.parkedManifestsDir). */
  parkedManifestsDir: PATHS.parkedManifestsDir,
  apiserverManifest: `${PATHS.manifestsDir}/kube-apiserver.yaml`,
  /** Stacked etcd: kubeadm's static pod manifest. */
  etcdManifest: `${PATHS.manifestsDir}/etcd.yaml`,
  /** `--schedule`: the script the timer runs, its service and timer, and where it keeps snapshots. */
  scheduleScript: "/usr/local/sbin/kubeha-etcd-snapshot",
  scheduleService: "/etc/systemd/system/kubeha-etcd-snapshot.service",
  scheduleTimer: "/etc/systemd/system/kubeha-etcd-snapshot.timer",
  scheduledSnapshotsDir: "/var/backups/kubeha-etcd",
} as const;

/** In the state directory (local): where `kubeha etcd snapshot` keeps snapshots by default. */
export const STATE_BACKUPS_DIR = "backups";
