/** kubeconfig files signed by the cluster CA (pure, deterministic), and where each lands on a host. */
import { toYaml } from "../util/yaml.ts";
import type { Cluster, Host } from "../spec/model.ts";
import { endpointHostPort } from "../spec/model.ts";
import { PATHS } from "../render/paths.ts";
import { KubehaError } from "../errors.ts";
import type { State } from "./state.ts";
import type { Target } from "./table.ts";
import { binaryBootstrap } from "../spec/topology.ts";
import { tokenId } from "./secrets.ts";

export type KubeconfigKind = "admin" | "super-admin" | "controller-manager" | "scheduler" | "kube-proxy" | "bootstrap-kubelet";

/**
 * User name in the kubeconfig = the client certificate's CN (kubeadm's names). The bootstrap
 * kubeconfig has no certificate: its user is the bootstrap token (`system:bootstrap:<id>`).
 */
const USERS: Record<Exclude<KubeconfigKind, "bootstrap-kubelet">, string> = {
  admin: "kubernetes-admin",
  "super-admin": "kubernetes-super-admin",
  "controller-manager": "system:kube-controller-manager",
  scheduler: "system:kube-scheduler",
  "kube-proxy": "system:kube-proxy",
};

/**
 * Where each kubeconfig goes, and which API server it names, as kubeadm ≥ 1.29 writes them
 * (kubeconfig.go getKubeConfigSpecsBase): admin and super-admin use the control-plane endpoint,
 * controller-manager and scheduler the host's own API server. super-admin.conf exists only on
 * the node that ran `kubeadm init`; joins write admin, controller-manager and scheduler.
 * kubeadm reuses an existing file with the same CA (a different server is only a warning), so
 * these files, placed before init/join, are the ones the cluster runs with.
 * Binary mode adds what kubeadm would otherwise write on every node: kube-proxy's kubeconfig
 * (kubeadm's kube-proxy DaemonSet reaches the endpoint) and the kubelet's bootstrap kubeconfig
 * (the discovery endpoint). Which unit restarts when one changes is the binary plan's to say.
 */
export const KUBECONFIG_PLACEMENTS: readonly {
  kind: KubeconfigKind;
  path: string;
  to: Target;
  server: "endpoint" | "local";
  when: (c: Cluster) => boolean;
}[] = [
  { kind: "admin", path: PATHS.adminConf, to: "control-planes", server: "endpoint", when: () => true },
  { kind: "super-admin", path: PATHS.superAdminConf, to: "first-control-plane", server: "endpoint", when: () => true },
  { kind: "controller-manager", path: PATHS.controllerManagerConf, to: "control-planes", server: "local", when: () => true },
  { kind: "scheduler", path: PATHS.schedulerConf, to: "control-planes", server: "local", when: () => true },
  { kind: "kube-proxy", path: PATHS.kubeProxyConf, to: "nodes", server: "endpoint", when: binaryBootstrap },
  { kind: "bootstrap-kubelet", path: PATHS.bootstrapKubeletConf, to: "nodes", server: "endpoint", when: binaryBootstrap },
];

function placementOf(kind: KubeconfigKind) {
  return KUBECONFIG_PLACEMENTS.find((p) => p.kind === kind)!;
}

/** The `server:` kubeadm writes into `kind`'s kubeconfig on host `h`. */
export function kubeconfigServer(c: Cluster, h: Host, kind: KubeconfigKind): string {
  if (placementOf(kind).server === "endpoint") return `https://${endpointHostPort(c)}`;
  const a = h.internalAddress.includes(":") ? `[${h.internalAddress}]` : h.internalAddress;
  return `https://${a}:${c.kubernetes.apiServerPort}`;
}

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

/**
 * A kubeconfig for `kind` pointing at `server` (`https://host:port`, or `host:port`).
 * Embeds the client key: the result is a secret (write 0600, never print).
 */
export function kubeconfig(c: Cluster, state: State, kind: KubeconfigKind, server: string): string {
  const ca = state.material("ca").cert ?? "";
  const url = /^https?:\/\//.test(server) ? server : `https://${server}`;
  if (kind === "bootstrap-kubelet") {
    // The kubelet presents the token until its CSR is signed, then writes kubelet.conf itself.
    const token = state.secrets.join.token;
    return kubeconfigYaml(c, ca, url, `kubelet-bootstrap-${tokenId(token)}`, { token });
  }
  if (!(kind in USERS)) throw new KubehaError(`unknown kubeconfig kind ${kind}`, `use one of ${Object.keys(USERS).join(", ")}`);
  const ids = state.ids();
  if (!ids.includes(kind))
    throw new KubehaError(`${placementOf(kind).path} is not part of this cluster`, kind === "super-admin" ? "super-admin.conf exists for Kubernetes 1.29 and later" : "it exists in `bootstrap: binary` clusters only");
  const client = state.material(kind);
  return kubeconfigYaml(c, ca, url, USERS[kind], { "client-certificate-data": b64(client.cert ?? ""), "client-key-data": b64(client.key) });
}

function kubeconfigYaml(c: Cluster, caPem: string, url: string, user: string, credentials: Record<string, string>): string {
  return toYaml({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: c.name, cluster: { "certificate-authority-data": b64(caPem), server: url } }],
    contexts: [{ name: `${user}@${c.name}`, context: { cluster: c.name, user } }],
    "current-context": `${user}@${c.name}`,
    preferences: {},
    users: [{ name: user, user: credentials }],
  });
}
