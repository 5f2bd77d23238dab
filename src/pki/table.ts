/**
 * The cluster's certificates as data, in kubeadm's certlist style: one value per certificate,
 * and issuance (state.ts) stays generic over this table. Also the one table that knows where
 * each certificate and key lands on a host (`PLACEMENTS`).
 */
import type { Cluster, Host } from "../spec/model.ts";
import { hostsWithRole, hostByName } from "../spec/model.ts";
import { isIPv4 } from "../util/net.ts";
import type { CertProfile, ExtUsage } from "./x509.ts";
import { binaryBootstrap, endpointNames, externalEtcd } from "../spec/topology.ts";
import { PATHS } from "../render/paths.ts";

/** Which hosts get their own instance of a certificate. */
export type Scope = "cluster" | "control-plane" | "etcd-member";

export interface CertSpec {
  /** Stable name, used in output and as the file name (`<name>.crt` / `.key` / `.pub`). */
  name: string;
  kind: "ca" | "leaf" | "key-pair";
  /** Name of the CA that signs it (leaves only). */
  ca?: string;
  /** "cluster": one instance; otherwise one per host of that kind, stored under `hosts/<host>/`. */
  scope: Scope;
  /** What it is for (listing and docs). */
  purpose: string;
  /** Whether this cluster needs it. */
  needed(c: Cluster): boolean;
  /** Subject, usages and SANs; `host` is set for per-host scopes. Absent for key pairs. */
  profile?(c: Cluster, host?: Host): CertProfile;
}

const always = () => true;
/** kubeadm ≥ 1.29 splits admin (RBAC group) from super-admin (system:masters). */
const splitAdmin = (c: Cluster) => c.kubernetes.minor >= 29;

function caProfile(cn: string): CertProfile {
  // kubeadm puts a CA's CN into its DNS SANs; we do the same so certs look familiar.
  return { cn, o: [], isCA: true, extUsages: [], dns: [cn], ips: [] };
}

function client(cn: string, o: string[] = []): CertProfile {
  return { cn, o, isCA: false, extUsages: ["clientAuth"], dns: [], ips: [] };
}

function uniq(xs: string[]): string[] {
  return [...new Set(xs.filter((x) => x !== ""))];
}

/** The apiserver serving cert's names: what kubeadm puts there, plus the endpoint's VIP and DNS name. */
export function apiserverSans(c: Cluster, h: Host): { dns: string[]; ips: string[] } {
  const dns = [
    h.name,
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    `kubernetes.default.svc.${c.kubernetes.dnsDomain}`,
    // An external LB may be given by name only.
    ...endpointNames(c).filter((s) => !isIPv4(s)),
    ...c.kubernetes.certSANs.filter((s) => !isIPv4(s)),
  ];
  const ips = [
    c.kubernetes.serviceIp,
    h.internalAddress,
    ...endpointNames(c).filter((s) => isIPv4(s)),
    ...c.kubernetes.certSANs.filter((s) => isIPv4(s)),
  ];
  return { dns: uniq(dns), ips: uniq(ips) };
}

/** etcd member certs: both usages (etcd dials its peers with the same cert), member IP + loopback. */
function etcdMember(h: Host | undefined): CertProfile {
  if (!h) throw new Error("etcd member certificate needs a host");
  return {
    cn: h.name,
    o: [],
    isCA: false,
    extUsages: ["serverAuth", "clientAuth"],
    dns: uniq([h.name, "localhost"]),
    ips: uniq([h.internalAddress, "127.0.0.1"]),
  };
}

/** Every certificate and key pair kubeha owns. Order matters: a CA comes before what it signs. */
export const CERTS: readonly CertSpec[] = [
  {
    name: "ca",
    kind: "ca",
    scope: "cluster",
    purpose: "cluster CA (kubeadm signs node and component certs with it)",
    needed: always,
    profile: () => caProfile("kubernetes"),
  },
  {
    name: "front-proxy-ca",
    kind: "ca",
    scope: "cluster",
    purpose: "front-proxy CA (aggregation layer)",
    needed: always,
    profile: () => caProfile("front-proxy-ca"),
  },
  {
    name: "etcd-ca",
    kind: "ca",
    scope: "cluster",
    purpose: "etcd CA (stacked: kubeadm issues etcd certs with it; external: kubeha does)",
    needed: always,
    profile: () => caProfile("etcd-ca"),
  },
  {
    name: "sa",
    kind: "key-pair",
    scope: "cluster",
    purpose: "service-account token signing key pair",
    needed: always,
  },
  {
    name: "apiserver",
    kind: "leaf",
    ca: "ca",
    scope: "control-plane",
    purpose: "kube-apiserver serving certificate",
    needed: always,
    profile: (c, h) => {
      if (!h) throw new Error("apiserver certificate needs a host");
      return { cn: "kube-apiserver", o: [], isCA: false, extUsages: ["serverAuth"], ...apiserverSans(c, h) };
    },
  },
  {
    name: "etcd-server",
    kind: "leaf",
    ca: "etcd-ca",
    scope: "etcd-member",
    purpose: "external etcd member: client-facing serving certificate",
    needed: externalEtcd,
    profile: (_c, h) => etcdMember(h),
  },
  {
    name: "etcd-peer",
    kind: "leaf",
    ca: "etcd-ca",
    scope: "etcd-member",
    purpose: "external etcd member: peer certificate",
    needed: externalEtcd,
    profile: (_c, h) => etcdMember(h),
  },
  {
    name: "etcd-healthcheck-client",
    kind: "leaf",
    ca: "etcd-ca",
    scope: "cluster",
    purpose: "etcdctl client for health checks on etcd members",
    needed: externalEtcd,
    profile: () => client("kube-etcd-healthcheck-client"),
  },
  {
    name: "apiserver-etcd-client",
    kind: "leaf",
    ca: "etcd-ca",
    scope: "cluster",
    purpose: "kube-apiserver's client certificate for external etcd",
    needed: externalEtcd,
    profile: () => client("kube-apiserver-etcd-client"),
  },
  {
    name: "admin",
    kind: "leaf",
    ca: "ca",
    scope: "cluster",
    purpose: "admin.conf client (bound to cluster-admin through RBAC)",
    needed: always,
    profile: (c) => client("kubernetes-admin", [splitAdmin(c) ? "kubeadm:cluster-admins" : "system:masters"]),
  },
  {
    name: "super-admin",
    kind: "leaf",
    ca: "ca",
    scope: "cluster",
    purpose: "super-admin.conf client (system:masters, bypasses RBAC; break-glass)",
    needed: splitAdmin,
    profile: () => client("kubernetes-super-admin", ["system:masters"]),
  },
  {
    name: "controller-manager",
    kind: "leaf",
    ca: "ca",
    scope: "cluster",
    purpose: "controller-manager.conf client",
    needed: always,
    profile: () => client("system:kube-controller-manager"),
  },
  {
    name: "scheduler",
    kind: "leaf",
    ca: "ca",
    scope: "cluster",
    purpose: "scheduler.conf client",
    needed: always,
    profile: () => client("system:kube-scheduler"),
  },
  // kubeadm issues these itself; in binary mode kubeha does (kubeadm's names, CNs and Os).
  {
    name: "apiserver-kubelet-client",
    kind: "leaf",
    ca: "ca",
    scope: "cluster",
    purpose: "kube-apiserver's client certificate for the kubelets (logs, exec, port-forward)",
    needed: binaryBootstrap,
    profile: (c) => client("kube-apiserver-kubelet-client", [splitAdmin(c) ? "kubeadm:cluster-admins" : "system:masters"]),
  },
  {
    name: "front-proxy-client",
    kind: "leaf",
    ca: "front-proxy-ca",
    scope: "cluster",
    purpose: "kube-apiserver's client certificate towards aggregated API servers",
    needed: binaryBootstrap,
    profile: () => client("front-proxy-client"),
  },
  {
    name: "kube-proxy",
    kind: "leaf",
    ca: "ca",
    scope: "cluster",
    // The default ClusterRoleBinding system:node-proxier binds this user.
    purpose: "kube-proxy.conf client",
    needed: binaryBootstrap,
    profile: () => client("system:kube-proxy"),
  },
];

export function certSpec(name: string): CertSpec {
  const s = CERTS.find((x) => x.name === name);
  if (!s) throw new Error(`no certificate named ${name} in the PKI table`);
  return s;
}

/** One certificate of this cluster: a table entry, for one host when per-host. */
export interface CertInstance {
  spec: CertSpec;
  host?: Host;
  /** `apiserver` or `apiserver/<host>`: unique, used in output. */
  id: string;
  /** Path below `<stateDir>/pki/` without extension. */
  base: string;
}

function scopeHosts(c: Cluster, scope: Scope): Host[] {
  if (scope === "control-plane") return hostsWithRole(c, "control-plane");
  if (scope === "etcd-member") return c.etcd.members.map((n) => hostByName(c, n));
  return [];
}

/** Every certificate this cluster needs, in table order, hosts in file order. */
export function instances(c: Cluster): CertInstance[] {
  const out: CertInstance[] = [];
  for (const spec of CERTS) {
    if (!spec.needed(c)) continue;
    if (spec.scope === "cluster") out.push({ spec, id: spec.name, base: spec.name });
    else
      for (const host of scopeHosts(c, spec.scope))
        out.push({ spec, host, id: `${spec.name}/${host.name}`, base: `hosts/${host.name}/${spec.name}` });
  }
  return out;
}

/**
 * Which hosts get a file. `first-control-plane` is every control plane when the shared material
 * goes everywhere (Ignition, binary mode: see pkiFilesForHost); `nodes` is every Kubernetes node;
 * `other-nodes` the Kubernetes nodes that are not control planes (workers).
 */
export type Target = "first-control-plane" | "control-planes" | "etcd-members" | "nodes" | "other-nodes";

/**
 * Where a certificate's parts go on a host. Per-host certificates put each host's own
 * instance there. Certificates are 0644, keys 0600 and marked secret.
 */
export interface Placement {
  cert: string;
  to: Target;
  when: (c: Cluster) => boolean;
  crt?: string;
  key?: string;
  pub?: string;
  /** systemd units to restart when the file changes. */
  restarts?: string[];
}

const K = "/etc/kubernetes/pki";
const E = "/etc/etcd/pki";
const stackedEtcd = (c: Cluster) => !externalEtcd(c);

/** The one place that knows each PKI path on the hosts. */
export const PLACEMENTS: readonly Placement[] = [
  // Shared material kubeadm init must find so it uses our CAs (§2.5); joins get it from kubeadm-certs.
  { cert: "ca", to: "first-control-plane", when: always, crt: `${K}/ca.crt`, key: `${K}/ca.key` },
  { cert: "front-proxy-ca", to: "first-control-plane", when: always, crt: `${K}/front-proxy-ca.crt`, key: `${K}/front-proxy-ca.key` },
  { cert: "sa", to: "first-control-plane", when: always, key: `${K}/sa.key`, pub: `${K}/sa.pub` },
  { cert: "etcd-ca", to: "first-control-plane", when: stackedEtcd, crt: `${K}/etcd/ca.crt`, key: `${K}/etcd/ca.key` },
  // External etcd: every API server talks to etcd with the same client cert, and no node needs the etcd CA key.
  { cert: "etcd-ca", to: "control-planes", when: externalEtcd, crt: `${K}/etcd/ca.crt` },
  {
    cert: "apiserver-etcd-client",
    to: "control-planes",
    when: externalEtcd,
    crt: `${K}/apiserver-etcd-client.crt`,
    key: `${K}/apiserver-etcd-client.key`,
  },
  // kubeadm keeps an existing apiserver cert that is valid for its CA, so ours (with the VIP and DNS name) is used.
  { cert: "apiserver", to: "control-planes", when: always, crt: `${K}/apiserver.crt`, key: `${K}/apiserver.key` },
  { cert: "etcd-ca", to: "etcd-members", when: externalEtcd, crt: `${E}/ca.crt`, restarts: ["etcd"] },
  { cert: "etcd-server", to: "etcd-members", when: externalEtcd, crt: `${E}/server.crt`, key: `${E}/server.key`, restarts: ["etcd"] },
  { cert: "etcd-peer", to: "etcd-members", when: externalEtcd, crt: `${E}/peer.crt`, key: `${E}/peer.key`, restarts: ["etcd"] },
  // Binary mode: what kubeadm would write itself. The shared material above goes to every control plane there.
  { cert: "apiserver-kubelet-client", to: "control-planes", when: binaryBootstrap, crt: PATHS.apiserverKubeletClientCert, key: PATHS.apiserverKubeletClientKey },
  { cert: "front-proxy-client", to: "control-planes", when: binaryBootstrap, crt: PATHS.frontProxyClientCert, key: PATHS.frontProxyClientKey },
  // Workers' kubelets verify API clients (the API server) against the cluster CA.
  { cert: "ca", to: "other-nodes", when: binaryBootstrap, crt: PATHS.kubernetesCa },
  {
    cert: "etcd-healthcheck-client",
    to: "etcd-members",
    when: externalEtcd,
    crt: `${E}/healthcheck-client.crt`,
    key: `${E}/healthcheck-client.key`,
  },
];
